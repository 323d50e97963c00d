"""Real-name login with a simulated face check, 我的 and logout (R-ID-1, R-ID-2)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, request, session, url_for

from ..domain.identity import register_key
from ..services import identity
from ._attempts import Refused, pair, reserve, too_many
from ._attempts import per_address as address_key
from ._forms import LoginForm
from ._limits import per_address
from ._sessions import end_every_session_of
from ._web import (
    DISPLAY_MODE_COOKIE,
    DISPLAY_MODES,
    after_commit,
    audit,
    current_user,
    db,
    display_mode,
    fresh_session,
    login_required,
    render,
    safe_next,
    sign_in,
    sign_out,
)

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@per_address("RATELIMIT_LOGIN")
def login() -> Any:
    """身份验证: 姓名, 证件类型, 证件号码, consent, 7天免登录; then the face check."""
    form = {
        "name": "",
        "id_type": "resident_id",
        "id_number": "",
        "remember": "",
        "agree": "",
        "next": safe_next(request.values.get("next")) or "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed = LoginForm(formdata=request.form)
        if not typed.validate():
            errors = typed.first_errors()
        form.update(typed.values())
        if not errors:
            fresh_session()  # a step up in trust: a new session id and form token (D4)
            session["pending_login"] = {k: form[k] for k in ("name", "id_type", "id_number", "remember", "next")}
            return redirect(url_for("auth.face"), 303)
    else:
        # 返回修改信息 on the face page: what was typed comes back (R-UX-2), not an empty form.
        pending = session.get("pending_login")
        if isinstance(pending, dict):
            form.update({k: str(pending.get(k) or "") for k in ("name", "id_type", "id_number", "remember")})
            form["next"] = form["next"] or safe_next(pending.get("next")) or ""
            form["agree"] = "1"
    expired = request.args.get("expired") == "1"
    if request.method == "GET" and _asks_for_phone() and not isinstance(session.get("pending_login"), dict):
        return render("auth/phone.html", next=form["next"], refused=False, host=JINGTONG_HOSTS.get(str(g.channel), ""))
    return render("auth/login.html", form=form, errors=errors, expired=expired, status=422 if errors else 200)


#: 京通 runs inside these host apps; it asks for the phone number they hold before 实人认证 (seed 004 §1.2).
JINGTONG_HOSTS = {"wechat": "微信", "alipay": "支付宝", "baidu": "百度"}
PHONE_COOKIE = "jt_phone"


def _asks_for_phone() -> bool:
    """京通, on a phone that has not yet allowed it the number (seed 004: 京通获取客户端上的手机号,点击允许授权)."""
    return g.get("channel") in JINGTONG_HOSTS and request.cookies.get(PHONE_COOKIE) != "1"


@bp.route("/login/phone", methods=["GET", "POST"])
def phone() -> Any:
    """授权: 允许 lets 京通 have the host app's phone number (remembered on this phone, as the host app does) and
    goes on to 实人认证; 拒绝 says that login needs it and what can be used without logging in."""
    back = safe_next(request.values.get("next")) or ""
    if request.method == "GET":
        return render("auth/phone.html", next=back, refused=True, host=JINGTONG_HOSTS.get(str(g.channel), ""))
    response = redirect(url_for("auth.login", next=back or None), 303)
    response.set_cookie(
        PHONE_COOKIE, "1", max_age=365 * 24 * 3600, httponly=True, samesite="Lax", secure=request.is_secure
    )
    return response


@bp.route("/login/face", methods=["GET", "POST"])
@per_address("RATELIMIT_FACE")
def face() -> Any:
    """The simulated 人脸识别 against the identity authority's register (R-ID-4): it passes only for the
    document's holder; a person row is written only then. A refusal reads the same for every ID.

    Failed checks are counted per (address, document) and per address, before the check is made (D3): a
    stranger who fails five times for someone's ID locks only that pair (and, past RATELIMIT_FACE_FAILED,
    their own address); the holder, from their own phone, is never held back by them."""
    pending = session.get("pending_login")
    if not isinstance(pending, dict):
        return redirect(url_for("auth.login"))
    failure = None
    if request.method == "POST":
        budget = reserve(
            (pair("face", f"{pending['id_type']}:{pending['id_number']}"), "RATELIMIT_FACE_PER_ID"),
            (address_key("face"), "RATELIMIT_FACE_FAILED"),
        )
        if isinstance(budget, Refused):
            return too_many(budget)
        key = register_key(str(current_app.config["SECRET_KEY"]))
        check = identity.face_check(db(), pending["id_type"], pending["id_number"], pending["name"], key)
        if not check.passed:
            failure = check.reason
            # Counted in the pending login (a new 身份验证 starts again at 0): from the second failure the page
            # says where else the payer can go.
            pending = session["pending_login"] = {**pending, "failures": _failures(pending) + 1}
            audit("login.face_failed", pending["id_number"][-4:], check.cause, actor_id=None)
        else:
            after_commit(budget.release)  # only failures count (after the commit: SQLite has one writer)
            person = identity.person_after_face_check(db(), pending["id_type"], pending["id_number"], pending["name"])
            audit("login", str(person.id), "7天免登录" if pending.get("remember") else "", actor_id=person.id)
            sign_in(person, remember=bool(pending.get("remember")))
            return redirect(safe_next(pending.get("next")) or url_for("hall.index"), 303)
    return render(
        "auth/face.html",
        pending=pending,
        failure=failure,
        elsewhere=_failures(pending) >= FAILURES_BEFORE_ELSEWHERE,
        status=422 if failure else 200,
    )


FAILURES_BEFORE_ELSEWHERE = 2


def _failures(pending: dict[str, Any]) -> int:
    """How many face checks of this pending login have failed."""
    n = pending.get("failures")
    return n if isinstance(n, int) else 0


@bp.get("/me")
def me() -> Any:
    """我的: who is signed in, and 设置."""
    return render("auth/me.html", user=current_user())


@bp.get("/me/settings")
@login_required
def settings() -> Any:
    """设置: large text, and 退出登录."""
    return render("auth/settings.html")


@bp.get("/terms")
def terms() -> Any:
    """《用户服务协议》, linked from the consent on 身份验证."""
    return render("auth/terms.html")


@bp.get("/privacy")
def privacy() -> Any:
    """《隐私政策》: what this service keeps, why, for how long, and who sees it."""
    return render("auth/privacy.html")


@bp.post("/me/display-mode")
def display_mode_choice() -> Any:
    """长辈版 on or off (R-UX-1): from 我的 → 设置 or the first visit's offer; remembered on this phone for a year."""
    mode = request.form.get("mode")
    if mode not in DISPLAY_MODES:
        mode = "standard" if display_mode() == "elder" else "elder"
    response = redirect(safe_next(request.form.get("back")) or url_for("auth.settings"), 303)
    response.set_cookie(
        DISPLAY_MODE_COOKIE,
        mode,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure or bool(current_app.config["SESSION_COOKIE_SECURE"]),
    )
    return response


@bp.post("/logout")
def logout() -> Any:
    """退出登录 (我的 → 设置 → 退出登录): this session ends on the server (R-ID-5)."""
    user = current_user()
    if user:
        audit("logout", str(user.id))
    sign_out()
    return redirect(url_for("hall.index"), 303)


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere() -> Any:
    """退出所有设备 (我的 → 设置): every session of this person ends, on every phone (R-ID-5)."""
    user = current_user()
    assert user is not None
    app, person_id = current_app._get_current_object(), user.id  # type: ignore[attr-defined]  # LocalProxy's, not on Flask's type
    audit("logout.everywhere", str(person_id), actor_id=person_id)
    # After this request's commit, before its session is saved: the store's own transaction must not
    # wait on the request's (SQLite has one writer).
    after_commit(lambda: end_every_session_of(app, person_id))
    sign_out()
    return redirect(url_for("hall.index"), 303)
