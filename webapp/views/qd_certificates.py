"""税税通 · 社保费完税证明 (/qd/certificates, seed 002 §五, R-QD-7): 为自己开具 or 代他人开具 — 填写人员身份证号,
选择费款所属期, 查询, 开具 → the 完税（费）证明 page and its PDF. The issuer is the signed-in real-name user (税税通's
login); ``services.qd_certificates`` decides who may be certified, and audits each issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, request, session, url_for

from ..domain.calendar import Month
from ..domain.errors import RuleViolation
from ..domain.identity import IdentityError, mask_id_number, normalize_id_number, register_key
from ..domain.inputs import month_parts
from ..domain.money import fen_to_yuan
from ..domain.regions import QINGDAO
from ..services import certificates as certs
from ..services import qd_certificates as qdc
from ._attempts import Refused, Reservation, pair, reserve, too_many
from ._attempts import per_address as address_key
from ._limits import digest
from ._web import after_commit, audit, clock, current_user, db, found, login_required, me, render, writes

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Certificate, Person

bp = Blueprint("qd_certificates", __name__, url_prefix="/qd/certificates")
NO_STORE = {"Cache-Control": "private, no-store"}
MSG_MONTH = "费款所属期格式应为YYYY-MM，请选择月份"


def _defaults() -> dict[str, str]:
    this = Month.of(clock().today())
    return {"mode": qdc.SELF, "name": "", "id_number": "", "start": str(Month(this.year, 1)), "end": str(this)}


def _read(form: dict[str, str], errors: dict[str, str]) -> tuple[Month, Month, str]:
    """The typed form, checked: the period (both ends required), and for 代他人开具 the 身份证号 (required, valid)."""
    start = end = Month.of(clock().today())
    try:
        start, end = Month(*month_parts(form["start"])), Month(*month_parts(form["end"]))
    except ValueError:
        errors["period"] = "请选择费款所属期" if not (form["start"] and form["end"]) else MSG_MONTH
    else:
        if start > end:
            errors["period"] = "起始所属期不能晚于截止所属期"
    number = ""
    if form["mode"] == qdc.OTHER:
        if not form["id_number"]:
            errors["id_number"] = "请填写人员身份证号"
        else:
            try:
                number = normalize_id_number("resident_id", form["id_number"])
            except IdentityError as e:
                errors["id_number"] = str(e)
        if not form["name"]:
            errors["name"] = qdc.MSG_NAME
        elif len(form["name"]) > 30:
            errors["name"] = "姓名过长，请核对"
    return start, end, number


def _page(form: dict[str, str], status: int = 200, **context: Any) -> Any:
    context.setdefault("errors", {})
    context.setdefault("refusal", None)
    context.setdefault("rows", None)
    return render(
        "qd_certificates/index.html",
        form=form,
        modes=qdc.MODES,
        mine=mask_id_number(me().id_number),
        fen_to_yuan=fen_to_yuan,
        status=status,
        **context,
    )


@bp.get("")
@login_required
def index() -> Any:
    """第三步: 为自己开具 or 代他人开具, 填写人员身份证号并选择费款所属期, 查询."""
    return _page(_defaults())


@bp.post("")
def query() -> Any:
    """查询 (``action=query``) lists the posted payments of the period; 开具 (``action=issue``) issues and makes the
    certificate, then shows it. 代他人开具 is counted per client, per user and per ID before it is judged; the
    budgets count in transactions of their own, so nothing here reads the database before them (SQLite has one
    writer), and the login is checked after counting."""
    if not isinstance(session.get("person_id"), int):
        return login_required(index)()
    form = _defaults()
    form.update({k: request.form.get(k, "").strip()[:40] for k in form})
    if form["mode"] not in qdc.MODES:
        form["mode"] = qdc.SELF
    errors: dict[str, str] = {}
    start, end, number = _read(form, errors)
    budget: Reservation | None = None
    if not errors and form["mode"] == qdc.OTHER:
        reserved = reserve(
            (pair("qdcert", f"resident_id:{number}"), "RATELIMIT_FACE_PER_ID"),
            (address_key("qdcert"), "RATELIMIT_LOOKUP"),
            (f"qdcert:user:{session['person_id']}", "RATELIMIT_LOOKUP"),
            (f"qdcert:id:{digest('resident_id:' + number)}", "RATELIMIT_QD_PER_ID"),
        )
        if isinstance(reserved, Refused):
            return too_many(reserved)
        budget = reserved
    user = current_user()
    if user is None:
        if budget is not None:
            after_commit(budget.release)
        return login_required(index)()
    if errors:
        return _page(form, errors=errors, status=422)
    if number == user.id_number and budget is not None:
        after_commit(budget.release)  # one's own number: 为自己开具
        budget = None
    key = register_key(str(current_app.config["SECRET_KEY"]))
    try:
        person = qdc.subject(db(), user, form["mode"], form["name"], number, key)
    except RuleViolation as e:
        if budget is not None:
            audit("qd.certificate.lookup_refused", number[-4:], form["mode"])
        return _page(form, refusal=str(e), status=422)
    if budget is not None:
        after_commit(budget.release)
    if request.form.get("action") == "issue":
        return _issue(form, user, person, start, end)
    items, waiting = qdc.query(db(), person.id, start, end)
    refusal = None if items else qdc.MSG_NOTHING
    return _page(
        form,
        rows=qdc.lines(items),
        total_fen=sum(p.amount_fen for p in items),
        waiting=waiting,
        refusal=refusal,
        status=422 if refusal else 200,
    )


def _issue(form: dict[str, str], user: Person, person: Person, start: Month, end: Month) -> Any:
    """开具: issue and make now; 制作失败 is said on the form, what was typed kept."""
    settings = certs.MakeSettings(
        base_url=str(current_app.config["PUBLIC_BASE_URL"]), secret=str(current_app.config["SECRET_KEY"])
    )
    try:
        cert = qdc.issue(db(), user, person, start, end, clock().now(), settings)
    except RuleViolation as e:
        return _page(form, refusal=str(e), status=422)
    if cert.status != "made":
        return _page(form, refusal=cert.failure_reason or certs.MSG_FAILED, status=422)
    return redirect(url_for("qd_certificates.view", certificate_id=cert.id), 303)


def _theirs(certificate_id: int) -> Certificate:
    with found():
        return qdc.certificate_for(db(), me().id, certificate_id)


@bp.get("/<id:certificate_id>")
@login_required
def view(certificate_id: int) -> Any:
    """点击“确定”后自动跳转至所下载的完税（费）证明页面: the pages as images, 下载 (the PDF) and its password hint."""
    cert = _theirs(certificate_id)
    if cert.status != "made":
        return render("_components/error.html", title="证明尚未制作成功", message=certs.MSG_FAILED, status=409)
    return render(
        "qd_certificates/view.html",
        cert=cert,
        title=QINGDAO.certificate_title,
        for_other=cert.issuer_id is not None,
        payer_number=mask_id_number(cert.payer.id_number),
    )


@bp.get("/<id:certificate_id>/pages/<id:page_no>.png")
@login_required
def page(certificate_id: int, page_no: int) -> Any:
    """One page image (PNG)."""
    cert = _theirs(certificate_id)
    if cert.status != "made":
        return render("_components/error.html", title="证明尚未制作成功", message=certs.MSG_FAILED, status=409)
    with found():
        png = certs.page_png(db(), cert, page_no)
    return Response(png, mimetype="image/png", headers=NO_STORE)


@bp.get("/<id:certificate_id>/download")
@writes
@login_required
def download(certificate_id: int) -> Any:
    """下载: the encrypted PDF (AES-256, the payer's ID's last 6 characters), audited."""
    cert = _theirs(certificate_id)
    try:
        pdf = certs.pdf_of(db(), cert)
    except RuleViolation as e:
        return render("_components/error.html", title="证明尚未制作成功", message=str(e), status=409)
    audit("qd.certificate.downloaded", str(cert.id), f"payer {cert.payer_id}")
    name = f"{QINGDAO.certificate_title}-{cert.number}.pdf"
    disposition = f"attachment; filename=\"certificate-{cert.number}.pdf\"; filename*=UTF-8''{quote(name)}"
    return Response(pdf, mimetype="application/pdf", headers={**NO_STORE, "Content-Disposition": disposition})
