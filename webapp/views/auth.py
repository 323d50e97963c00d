"""Real-name login with a simulated face check, 我的 and logout (R-ID-1, R-ID-2)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, session, url_for

from ..domain.identity import IdentityError, normalize_id_number
from ..services import identity
from ._limits import configured, digest, limiter, per_address
from ._sessions import end_every_session_of
from ._web import (
    DISPLAY_MODE_COOKIE,
    DISPLAY_MODES,
    after_commit,
    audit,
    current_user,
    db,
    display_mode,
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
        form.update({k: request.form.get(k, "").strip() for k in ("name", "id_type", "id_number", "remember", "agree")})
        if not form["name"]:
            errors["name"] = "请输入姓名"
        elif len(form["name"]) > 30:
            errors["name"] = "姓名过长，请核对"
        try:
            form["id_number"] = normalize_id_number(form["id_type"], form["id_number"])
        except IdentityError as e:
            errors["id_number"] = str(e)
        if not form["agree"]:
            errors["agree"] = "请阅读并同意《用户服务协议》及《隐私政策》"
        if not errors:
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
    return render("auth/login.html", form=form, errors=errors, expired=expired, status=422 if errors else 200)


def _pending_id() -> str:
    """The counter key of the document a pending login names (keyed digest, never the number)."""
    pending = session.get("pending_login")
    number = pending.get("id_number", "") if isinstance(pending, dict) else ""
    return "face-id:" + digest(str(number))


@bp.route("/login/face", methods=["GET", "POST"])
@per_address("RATELIMIT_FACE")
@limiter.limit(
    configured("RATELIMIT_FACE_PER_ID"),
    methods=["POST"],
    key_func=_pending_id,
    deduct_when=lambda response: response.status_code == 422,
)
def face() -> Any:
    """The simulated 人脸识别 against the identity authority's register (R-ID-4): it passes only for the
    document's holder; a person row is written only then. A refusal reads the same for every ID."""
    pending = session.get("pending_login")
    if not isinstance(pending, dict):
        return redirect(url_for("auth.login"))
    failure = None
    if request.method == "POST":
        check = identity.face_check(db(), pending["id_type"], pending["id_number"], pending["name"])
        if not check.passed:
            failure = check.reason
            # Counted in the pending login (a new 身份验证 starts again at 0): from the second failure the page
            # says where else the payer can go.
            pending = session["pending_login"] = {**pending, "failures": _failures(pending) + 1}
            audit("login.face_failed", pending["id_number"][-4:], "", actor_id=None)
        else:
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
        DISPLAY_MODE_COOKIE, mode, max_age=365 * 24 * 3600, httponly=True, samesite="Lax", secure=request.is_secure
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
    app, person_id = current_app._get_current_object(), user.id  # type: ignore[attr-defined]
    audit("logout.everywhere", str(person_id), actor_id=person_id)
    # After this request's commit, before its session is saved: the store's own transaction must not
    # wait on the request's (SQLite has one writer).
    after_commit(lambda: end_every_session_of(app, person_id))
    sign_out()
    return redirect(url_for("hall.index"), 303)
