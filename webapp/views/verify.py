"""记录查验 (/verify, no login, R-CE-5): 纳税人识别号 + 16-digit 证明校验码 + a captcha → 开始校验 → the
certificate's details with names and numbers masked, or a plain 校验不通过 that never says which field was
wrong. The certificate's QR code opens this page with the check code and a key standing for the document
number (never the number itself, R-ID-3), so the reader only answers the captcha.

The captcha is an image (看不清，换一张 draws another) or, for people who cannot read it, four digits read
out in Mandarin (改用语音验证码, ``domain.captcha``). Its challenge lives in the visitor's session (the
pre-session cookie for an anonymous visitor: nothing is written on the server to show the page) and its
nonce is spent once, in the database, whatever worker answers (``services.once``).

Wrong attempts — a wrong captcha, a malformed code, 校验不通过 — are counted before they are judged
(``_attempts``), per (address, document) and per address, never per document alone, so nobody can lock a
certificate's owner out from elsewhere (issue 17, D9); the attempt past a budget is refused with 429 and a
plain message. The form is a plain (not boosted) form, so that answer shows.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, current_app, g, request, session

from ..domain import captcha
from ..domain.certificates import is_check_code, mask_number, normalize_check_code, period_text
from ..domain.identity import mask_id_number, mask_name
from ..domain.levy import levy_of
from ..domain.regions import region as region_of
from ..services import certificates as certs
from ..services import once
from ._attempts import Refused, pair, per_address, reserve
from ._limits import limiter, wait_text
from ._web import after_commit, db, render

if TYPE_CHECKING:  # annotations only: views read the database through services
    from ..models import Certificate

bp = Blueprint("verify", __name__, url_prefix="/verify")
MSG_TOO_MANY = "校验失败次数过多，请{wait}后再试。"
MSG_FAILED = "校验不通过"
CAPTCHA_MINUTES = 10


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _document() -> str:
    """The document an attempt is about, for its (address, document) budget (``pair`` digests it): the typed
    number, or the check code when the QR code stands in for the number."""
    typed = "".join((request.form.get("id_number") or "").split()).upper()
    return typed or "code:" + normalize_check_code(request.form.get("code", ""))


# ------------------------------------------------------------------------------------------ captcha


def _new_challenge(kind: str) -> dict[str, Any]:
    challenge = {"n": captcha.new_nonce(), "kind": kind if kind in captcha.KINDS else "image", "t": int(time.time())}
    session["captcha"] = challenge
    return challenge


def _challenge_view(challenge: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a challenge: its kind and the nonce its image or recording is made from."""
    return {"kind": challenge["kind"], "nonce": challenge["n"]}


def _captcha_passes(typed: str) -> bool:
    """The answer to the session's challenge, used once whatever the store (a replayed cookie, or ten
    concurrent submissions of one solved challenge, find it spent) and for CAPTCHA_MINUTES at most."""
    challenge = session.pop("captcha", None)
    if not isinstance(challenge, dict) or not isinstance(challenge.get("n"), str):
        return False
    issued = challenge.get("t")
    if not isinstance(issued, int) or time.time() - issued > CAPTCHA_MINUTES * 60:
        return False
    until = datetime.fromtimestamp(issued + CAPTCHA_MINUTES * 60, UTC)
    if not once.spend(db(), "captcha", challenge["n"], until):
        return False
    answer = captcha.expected(
        _secret(), challenge["n"], str(challenge.get("kind")), current_app.config.get("CAPTCHA_TEST_ANSWER")
    )
    return captcha.matches(typed, answer)


@bp.post("/captcha")
@limiter.limit("60/minute")
def new_captcha() -> Any:
    """看不清，换一张 (another image), 换一段 (another recording) or 改用语音验证码 / 改用图片验证码 (htmx): just the
    captcha part, anew."""
    challenge = _new_challenge(request.form.get("kind", "image"))
    return render(
        "verify/index.html",
        block="captcha",
        challenge=_challenge_view(challenge),
        errors={},
        form=_form(),
        result=None,
        failed=False,
        message=None,
        from_qr=False,
    )


@bp.get("/captcha/<nonce>.png")
@limiter.limit("60/minute")
def captcha_image(nonce: str) -> Any:
    """The image of the session's current challenge (no other nonce is drawn)."""
    challenge = session.get("captcha")
    if not challenge or challenge.get("n") != nonce or challenge.get("kind") != "image":
        abort(404)
    from captcha.image import ImageCaptcha

    text = captcha.expected(_secret(), nonce, "image", current_app.config.get("CAPTCHA_TEST_ANSWER"))
    buf = io.BytesIO()
    image = ImageCaptcha(width=200, height=72, font_sizes=(44, 50, 56))
    image.write(text, buf, format="png")  # type: ignore[arg-type]  # annotated as a path; PIL's save takes a file
    return Response(buf.getvalue(), mimetype="image/png", headers={"Cache-Control": "no-store"})


_VOICES = Path(__file__).resolve().parent / "captcha_voices"
_audio: list[Any] = []  # the AudioCaptcha, its voices read once per process


@bp.get("/captcha/<nonce>.wav")
@limiter.limit("60/minute")
def captcha_audio(nonce: str) -> Any:
    """The recording of the session's current challenge: its digits read out in Mandarin over a murmur of
    other digits (the ``captcha`` package's noise), for those who cannot read the image."""
    challenge = session.get("captcha")
    if not challenge or challenge.get("n") != nonce or challenge.get("kind") != "audio":
        abort(404)
    if not _audio:
        from captcha.audio import AudioCaptcha

        _audio.append(AudioCaptcha(voicedir=str(_VOICES)))
    digits = captcha.expected(_secret(), nonce, "audio", current_app.config.get("CAPTCHA_TEST_ANSWER"))
    digits = "".join(d for d in digits if d in captcha.AUDIO_DIGITS) or captcha.audio_digits(_secret(), nonce)
    return Response(bytes(_audio[0].generate(digits)), mimetype="audio/wav", headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------------------------------ the page


def _form() -> dict[str, str]:
    """What was typed; a link (the QR code) only ever brings the code and the key, never a number."""
    src = request.form if request.method == "POST" else request.args
    return {
        "id_number": (request.form.get("id_number") or "").strip()[:40] if request.method == "POST" else "",
        "code": normalize_check_code(src.get("code", ""))[:40],
        "k": (src.get("k") or "")[:32],
        "captcha": "",
    }


def _page(
    form: dict[str, str],
    *,
    kind: str = "image",
    errors: dict[str, str] | None = None,
    result: dict[str, Any] | None = None,
    failed: bool = False,
    message: str | None = None,
    status: int = 200,
) -> Any:
    challenge = _new_challenge(kind)
    return render(
        "verify/index.html",
        form=form,
        errors=errors or {},
        result=result,
        failed=failed,
        message=message,
        challenge=_challenge_view(challenge),
        from_qr=bool(form["k"]),
        status=status,
    )


@bp.get("")
def index() -> Any:
    """记录查验, empty or pre-filled from the certificate's QR code."""
    return _page(_form(), kind=request.args.get("captcha", "image"))


@bp.post("")
def check() -> Any:
    """开始校验: counted before it is judged (RATELIMIT_VERIFY_PER_DOC, RATELIMIT_VERIFY); a right one gives
    its count back."""
    form = _form()
    kind = request.form.get("kind", "image")
    budget = reserve(
        (pair("verify", _document()), "RATELIMIT_VERIFY_PER_DOC"), (per_address("verify"), "RATELIMIT_VERIFY")
    )
    if isinstance(budget, Refused):
        page, status = _page(
            form, kind=kind, message=MSG_TOO_MANY.format(wait=wait_text(budget.wait_seconds)), status=429
        )
        return page, status, {"Retry-After": str(budget.wait_seconds)}
    errors: dict[str, str] = {}
    if not form["id_number"] and not form["k"]:
        errors["id_number"] = "请输入纳税人识别号（证件号码）"
    if not form["code"]:
        errors["code"] = "请输入16位证明校验码"
    elif not is_check_code(form["code"]):
        errors["code"] = "证明校验码应为16位数字，请核对后重新输入"
    typed = request.form.get("captcha", "")
    if not typed.strip():
        errors["captcha"] = "请输入验证码"
    elif not _captcha_passes(typed):
        errors["captcha"] = "验证码不正确，请重新输入" if kind == "image" else "数字不正确，请重新收听后输入"
    if errors:
        return _page(form, kind=kind, errors=errors, status=422)
    if form["k"]:
        cert = certs.verify_by_key(db(), form["code"], form["k"], _secret())
    else:
        cert = certs.verify(db(), form["id_number"], form["code"])
    if cert is None:
        return _page(form, kind=kind, failed=True)
    after_commit(budget.release)  # only wrong attempts count (after the commit: SQLite has one writer)
    g.personal = True  # a certificate's details, masked as they are, are kept by no cache
    return _page(form, kind=kind, result=masked(cert))


def masked(cert: Certificate) -> dict[str, Any]:
    """What 记录查验 shows of a certificate: names and numbers masked (R-CE-5, R-ID-3)."""
    payer = cert.payer
    items = []
    for item in cert.items:
        p = item.payment
        r = p.receivable
        levy = levy_of(r.insurance, r.enrolment.category)
        items.append(
            {
                "item": levy.item,
                "subject": levy.subject,
                "period": period_text(r.fee_period_start, r.fee_period_end),
                "posted_on": p.posted_on,
                "e_ticket_no": mask_number(p.e_ticket_no),
                "amount": p.amount,
            }
        )
    return {
        "title": region_of(cert.region).certificate_title,
        "number": cert.number,
        "payer": mask_name(payer.name),
        "id_number": mask_id_number(payer.id_number),
        "tax_office": cert.tax_office,
        "issued_on": cert.requested_at,
        "total": cert.total,
        "items": items,
        "period": period_text(cert.period_start, cert.period_end),
    }


@bp.errorhandler(429)
def too_many(_e: Exception) -> Any:
    """Too many captchas drawn in a minute: say so plainly, on the page (429)."""
    return _page(_form(), message=MSG_TOO_MANY.format(wait="1分钟"), status=429)
