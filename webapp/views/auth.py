"""Real-name login with a simulated face check, 我的 and logout (R-ID-1, R-ID-2)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request, session, url_for
from sqlalchemy import select

from ..domain.identity import IdentityError, facts_from_id, normalize_id_number
from ..models import Person
from ._web import audit, current_user, db, login_required, render, safe_next, sign_in, sign_out

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """身份验证: 姓名, 证件类型, 证件号码, consent, 7天免登录; then the face check."""
    form = {"name": "", "id_type": "resident_id", "id_number": "", "remember": "",
            "agree": "", "next": safe_next(request.values.get("next")) or ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form.update({k: request.form.get(k, "").strip() for k in ("name", "id_type", "id_number",
                                                                  "remember", "agree")})
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
            session["pending_login"] = {k: form[k] for k in ("name", "id_type", "id_number",
                                                             "remember", "next")}
            return redirect(url_for("auth.face"), 303)
    expired = request.args.get("expired") == "1"
    return render("auth/login.html", form=form, errors=errors, expired=expired,
                  status=422 if errors else 200)


@bp.route("/login/face", methods=["GET", "POST"])
def face() -> Any:
    """The simulated 人脸识别: succeeds, or fails with a reason the user can act on."""
    pending = session.get("pending_login")
    if not pending:
        return redirect(url_for("auth.login"))
    failure = None
    if request.method == "POST":
        person = db().scalar(select(Person).where(Person.id_type == pending["id_type"],
                                                  Person.id_number == pending["id_number"]))
        if person is not None and person.name != pending["name"]:
            failure = "姓名与证件号码不一致，请返回核对后重试"
        elif person is not None and person.face_fail_reason:
            failure = person.face_fail_reason
        if failure:
            audit("login.face_failed", pending["id_number"][-4:], failure,
                  actor_id=person.id if person else None)
        else:
            if person is None:
                facts = facts_from_id(pending["id_type"], pending["id_number"])
                person = Person(name=pending["name"], id_type=pending["id_type"],
                                id_number=pending["id_number"], sex=facts.sex,
                                birth_date=facts.birth_date)
                db().add(person)
                db().flush()
            audit("login", str(person.id), "7天免登录" if pending.get("remember") else "",
                  actor_id=person.id)
            session.pop("pending_login", None)
            sign_in(person, remember=bool(pending.get("remember")))
            return redirect(safe_next(pending.get("next")) or url_for("hall.index"), 303)
    return render("auth/face.html", pending=pending, failure=failure,
                  status=422 if failure else 200)


@bp.get("/me")
def me() -> Any:
    """我的: who is signed in, and 设置."""
    return render("auth/me.html", user=current_user())


@bp.get("/me/settings")
@login_required
def settings() -> Any:
    """设置: large text, and 退出登录."""
    return render("auth/settings.html")


@bp.post("/logout")
def logout() -> Any:
    """退出登录 (我的 → 设置 → 退出登录)."""
    user = current_user()
    if user:
        audit("logout", str(user.id))
    sign_out()
    return redirect(url_for("hall.index"), 303)

