"""What every blueprint shares: the request's database session (committed once, at the end), the
clock, the signed-in user, rendering (a full page or one block of it for htmx), argument parsing,
error pages and template helpers. Flask lives here and in the blueprints, nowhere below.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_htmx import HTMX
from flask_htmx import make_response as htmx_response
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import BaseConverter, ValidationError

from ..domain import banks, errors, identity, levy
from ..domain import batch_debit as batch_rules
from ..domain.calendar import BEIJING, Clock, Month
from ..domain.channels import CHANNELS, METHOD_LABELS, record_channel, record_method
from ..domain.inputs import date_parts, month_parts, parse_id
from ..domain.money import format_yuan
from ..domain.schemes import SCHEMES
from ..payments.orders import Adapters
from ..services.audit import record
from ..services.identity import person as person_by_id
from ._sessions import session_now

if TYPE_CHECKING:  # annotations only: views read the database through services
    from sqlalchemy import orm

    from ..models import Person

T = TypeVar("T")
# The htmx request headers (``bool(htmx)`` is ``HX-Request: true``; ``htmx.boosted``, ``htmx.current_url``,
# ``htmx.history_restore_request``): properties over Flask's ``request``. ``create_app`` calls ``init_app``.
htmx = HTMX()
SESSION_HOURS = 2
REMEMBER_DAYS = 7


class IdConverter(BaseConverter):
    """``<id:name>``: a database id as ``domain.inputs.parse_id`` reads one (ASCII digits after full-width
    folding, 1 … 2^31 − 1); anything else is 404, never an overflow. Forms read ids with the same parser."""

    regex = r"[^/]{1,40}"

    def to_python(self, value: str) -> int:
        """The id as an int."""
        parsed = parse_id(value)
        if parsed is None:
            raise ValidationError()
        return parsed

    def to_url(self, value: Any) -> str:
        """The id in a URL."""
        return str(int(value))


class TokenConverter(BaseConverter):
    """``<token:name>``: an order number or a provider name, ``[0-9A-Za-z_-]``, at most 64; else 404."""

    regex = r"[0-9A-Za-z_-]{1,64}"


def db() -> orm.Session:
    """The request's database session; the request commits it once (``init_app``). A GET reads (on SQLite
    its transaction begins deferred and waits for no writer) unless its view is marked ``writes``."""
    if "db" not in g:
        view = current_app.view_functions.get(request.endpoint or "") if request else None
        reads = request.method in ("GET", "HEAD") and not getattr(view, "writes", False)
        g.db = current_app.extensions["db_readers" if reads else "db_sessionmaker"]()
    return g.db


def writes(view: Callable[..., T]) -> Callable[..., T]:
    """Mark a GET view that writes (settles an order it asks the provider about, records an audit row):
    its transaction takes SQLite's write lock at BEGIN, as every POST does."""
    view.writes = True  # type: ignore[attr-defined]  # a marker attribute on the view function
    return view


def clock() -> Clock:
    """The app's clock: the real time, or moved by APP_TODAY (R-PA-6)."""
    return current_app.extensions["clock"]


def adapters() -> Adapters:
    """The configured payment provider adapters."""
    return current_app.extensions["payment_adapters"]


def after_commit(fn: Callable[[], Any]) -> None:
    """Run ``fn`` once this request's transaction is committed (e.g. send a refund it recorded)."""
    g.setdefault("after_commit", []).append(fn)


def current_user() -> Person | None:
    """The signed-in person, if the login is still valid."""
    if "user" in g:
        return g.user
    user = None
    pid = session.get("person_id")
    if isinstance(pid, int) and _login_valid(session.get("login_expires")):
        user = person_by_id(db(), pid)
    g.user = user
    return user


def _login_valid(expires: object) -> bool:
    if not isinstance(expires, str):
        return False
    try:
        until = datetime.fromisoformat(expires)
    except ValueError:
        return False
    return until.tzinfo is not None and until > session_now()


def me() -> Person:
    """The signed-in person (inside ``login_required`` views)."""
    user = current_user()
    assert user is not None, "me() outside login_required"
    return user


def fresh_session() -> None:
    """Empty the session under a new token, keeping only the device's own settings (the channel the user
    came from, large text): nothing of the person before survives, not even a half-filled 他人 (R-ID-5)."""
    kept = {k: session[k] for k in ("channel",) if k in session}
    session.clear()
    regenerate = getattr(session, "regenerate", None)
    if regenerate is not None:
        regenerate()
    session.update(kept)
    g.pop("csrf_token", None)  # Flask-WTF's per-request copy of the old one
    session["csrf_token"] = secrets.token_hex(20)  # as Flask-WTF makes its own, so the next page need not save


def sign_in(person: Person, remember: bool) -> None:
    """Start a login session on a new token: 2 hours, or 7 days with 7天免登录 (R-ID-1, R-ID-5)."""
    fresh_session()
    session["person_id"] = person.id
    span = timedelta(days=REMEMBER_DAYS) if remember else timedelta(hours=SESSION_HOURS)
    session["login_expires"] = (session_now() + span).isoformat()
    g.user = person


def sign_out() -> None:
    """End the login on the server; the browser keeps a fresh session with its channel (R-ID-5)."""
    fresh_session()
    g.user = None


def safe_next(target: str | None) -> str | None:
    """Only a path on this site may be a redirect target (no open redirects)."""
    if not target or len(target) > 2000 or any(c < " " or c == "\x7f" for c in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def htmx_current_path() -> str | None:
    """The path of the page an htmx request was sent from (``HX-Current-URL``), if the header is a URL at all
    and its path one of this site's; any header a client makes up (``http://[``) is just absent here."""
    raw = htmx.current_url or ""  # any text a client sends: parsed defensively (issue 17 D6)
    try:
        path = urlsplit(raw).path
    except ValueError:
        return None
    return safe_next(path)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send an anonymous (or expired) user to login, then back to where they were going."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            reads = request.method in ("GET", "HEAD")
            target = request.full_path.rstrip("?") if reads else htmx_current_path() or request.path
            kept = [(k, v) for k in getattr(view, "kept_on_expiry", ()) for v in request.form.getlist(k)]
            if request.method == "POST" and kept:
                target = f"{target}?{urlencode(kept)}"
            expired = "person_id" in session or getattr(session, "lost", False)
            login = url_for("auth.login", next=target, expired=1 if expired else None)
            if htmx and not is_history_restore():
                return htmx_response("", redirect=login)
            # A history restore swaps whatever it gets into <body> and ignores HX-Redirect: it must get a page.
            return redirect(login)
        return view(*args, **kwargs)

    return wrapped


def keep_on_expiry(*fields: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Under ``login_required``: when the login has ended before a POST, these form fields ride along in
    ``next`` (as query arguments), so the page comes back after login with what was chosen still chosen."""

    def mark(view: Callable[..., T]) -> Callable[..., T]:
        view.kept_on_expiry = fields  # type: ignore[attr-defined]  # a marker attribute on the view function
        return view

    return mark


@contextmanager
def found() -> Iterator[None]:
    """Turn the services' ``NotFound`` (missing, or someone else's) into a 404 page."""
    try:
        yield
    except errors.NotFound:
        raise NotFound() from None


DISPLAY_MODE_COOKIE = "display_mode"
DISPLAY_MODES = ("standard", "elder")


def display_mode() -> str | None:
    """标准版 or 长辈版 as this phone chose it (R-UX-1), or None before the first choice. A cookie of the device,
    not of the login: it survives logout and needs no session for an anonymous visitor."""
    mode = request.cookies.get(DISPLAY_MODE_COOKIE)
    return mode if mode in DISPLAY_MODES else None


def is_history_restore() -> bool:
    """htmx asking for a page to put back on 返回 (a history cache miss): it wants the whole page."""
    return htmx.history_restore_request


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Any:
    """Render a page; an htmx request that names a block gets just that block (a history restore, the page)."""
    if block and htmx and not htmx.boosted and not is_history_restore():
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def _range(parse: Callable[[str], T], default_start: T, default_end: T, message: str) -> tuple[T, T, str | None]:
    try:
        start = parse(request.args["start"]) if request.args.get("start") else default_start
        end = parse(request.args["end"]) if request.args.get("end") else default_end
    except ValueError:
        return default_start, default_end, message
    return start, end, None


def month_range(default_start: Month, default_end: Month) -> tuple[Month, Month, str | None]:
    """``start``/``end`` query arguments (费款所属期, YYYY-MM), or the defaults and a Chinese message."""
    return _range(
        lambda t: Month(*month_parts(t)),
        default_start,
        default_end,
        "费款所属期格式应为YYYY-MM，请选择月份或按“2026-01”“2026年1月”填写",
    )


def date_range(default_start: date, default_end: date) -> tuple[date, date, str | None]:
    """``start``/``end`` query arguments (dates, YYYY-MM-DD), or the defaults and a Chinese message."""
    return _range(
        lambda t: date(*date_parts(t)),
        default_start,
        default_end,
        "日期格式应为YYYY-MM-DD，请选择日期或按“2026-01-05”“2026年1月5日”填写",
    )


def audit(kind: str, subject: str = "", detail: str = "", actor_id: int | None = None) -> None:
    """Record an audit event in this request's transaction (the signed-in user is the actor)."""
    if actor_id is None:
        user = current_user()
        actor_id = user.id if user else None
    record(db(), kind, subject, detail, actor_id)


# Every error a browser can meet, in the app's layout and in Chinese (never Werkzeug's English page).
ERROR_PAGES: dict[int, tuple[str, str]] = {
    400: ("请求有误", "请求不完整或包含无法识别的内容，请返回上一页重试。"),
    401: ("无权访问", "您无权访问该页面，请登录后重试。"),
    403: ("无权访问", "您无权访问该页面。"),
    404: ("未找到", "您要找的页面或记录不存在，或不属于您。"),
    405: ("操作不支持", "该页面不支持这种操作，请返回上一页。"),
    406: ("请求有误", "无法按要求的格式返回该页面。"),
    408: ("请求超时", "请求超时，请重试。"),
    409: ("请求冲突", "该操作与当前状态冲突，请刷新页面后重试。"),
    410: ("页面已失效", "该页面已不再提供。"),
    411: ("请求有误", "请求不完整，请返回上一页重试。"),
    413: ("内容过大", "提交的内容过大，请精简后重试。"),
    414: ("网址过长", "网址过长，无法处理。请返回首页重新进入。"),
    415: ("请求有误", "提交的内容格式无法识别，请返回上一页重试。"),
    416: ("请求有误", "请求的范围无效。"),
    422: ("请求有误", "提交的内容有误，请返回上一页核对。"),
    429: ("操作过于频繁", "您的操作过于频繁，请稍后再试。"),
    431: ("请求有误", "请求头过大，请清除浏览器数据后重试。"),
    501: ("操作不支持", "该操作暂不支持。"),
    503: ("系统繁忙", "系统繁忙，请稍后重试。"),
}
MSG_CRASH = ("系统繁忙", "系统繁忙，请稍后重试。您的缴费不会重复扣款。")


def error_page(status: int, title: str | None = None, message: str | None = None) -> Any:
    """The error page in the app's layout, with the Chinese title and message of its status."""
    default_title, default_message = ERROR_PAGES.get(status, ("出错了", "请求无法处理，请返回上一页重试。"))
    return render_template(
        "_components/error.html", title=title or default_title, message=message or default_message
    ), status


def content_security_policy(config: Any) -> str:
    """The CSP: scripts, styles and fetches from this site only (htmx and WeUI are self-hosted, no inline
    script or style anywhere), WeUI's icons as data: images, no framing, no plugins, no <base>, and forms
    may go to this site and, through the 303 after 确认缴费, to the providers' cashiers."""
    cashiers = sorted(
        {
            f"{u.scheme}://{u.netloc}"
            for u in (
                urlsplit(str(config.get(k) or ""))
                for k in ("WECHAT_BASE_URL", "ALIPAY_GATEWAY_URL", "UNIONPAY_BASE_URL")
            )
            if u.scheme and u.netloc
        }
    )
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action " + " ".join(["'self'", *cashiers]),
        ]
    )


def _refuse_what_no_browser_means() -> Any:
    """Before anything reads the request: a URL longer than MAX_URL_LENGTH is 414, and a NUL byte in the
    path, the query or a form field is 400 (no text with NUL may reach the database)."""
    environ = request.environ
    raw = (
        environ.get("RAW_URI")
        or environ.get("REQUEST_URI")
        or (environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", ""))
    )
    if len(raw) > int(current_app.config.get("MAX_URL_LENGTH") or 4096):
        return error_page(414)
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        return error_page(400)
    if (
        request.endpoint != "pay.notify"
        and request.method == "POST"
        and any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True))
    ):
        return error_page(400)
    return None


def init_app(app: Flask) -> None:
    """Wire the request lifecycle (one commit per request), error pages, security headers and helpers."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["token"] = TokenConverter
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_what_no_browser_means)
    csp = content_security_policy(app.config)
    hsts = int(app.config.get("HSTS_SECONDS") or 0)

    @app.after_request
    def _commit(response):
        """One commit per request, unless it failed (the 500 handler rolled back)."""
        response.vary.add("HX-Request")
        session_ = g.get("db")
        if session_ is not None and not g.get("failed"):
            session_.commit()
            for fn in g.pop("after_commit", []):
                fn()
        return response

    def security_headers(headers: Any) -> None:
        """On every answer, pages, fragments, errors and static files (``static_files``) alike."""
        headers["Content-Security-Policy"] = csp
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        if hsts:
            headers["Strict-Transport-Security"] = f"max-age={hsts}; includeSubDomains"

    @app.after_request
    def _security_headers(response):
        security_headers(response.headers)
        response.headers.pop("Server", None)
        if "Cache-Control" not in response.headers and (getattr(session, "server_side", False) or g.get("personal")):
            # A login (or one under way, or a 记录查验 result) shows personal data: no copy in any cache, the
            # phone's back-forward cache included, so nothing of it is shown again after logout (D11).
            response.headers["Cache-Control"] = "no-store"
        return response

    app.extensions["security_headers"] = security_headers  # static files get them too (``static_files``)

    @app.teardown_appcontext
    def _close_db(_exc: BaseException | None) -> None:
        session_ = g.pop("db", None)
        if session_ is not None:
            session_.close()

    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError) -> Any:
        return error_page(400, "页面已过期", "页面已过期或请求不完整，请返回上一页刷新后重试。")

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Any:
        return error_page(e.code or 500)

    @app.errorhandler(Exception)
    def _crash(e: Exception) -> Any:
        g.failed = True
        session_ = g.get("db")
        if session_ is not None:
            session_.rollback()
        if app.testing:
            raise e  # tests see the real error, not the friendly page
        app.logger.exception("unhandled error", exc_info=e)
        return error_page(500, *MSG_CRASH)

    favicon = (Path(app.static_folder or "static") / "favicon.ico").read_bytes()  # 5 KB, held in memory

    @app.get("/favicon.ico")
    def _favicon() -> Any:
        """Browsers ask for /favicon.ico whatever the page says."""
        return app.response_class(favicon, mimetype="image/x-icon", headers={"Cache-Control": "public, max-age=604800"})

    app.jinja_env.globals.update(
        current_user=current_user,
        mask_id=identity.mask_id_number,
        mask_name=identity.mask_name,
        id_type_label=lambda code: identity.ID_TYPES.get(code, code),
        ID_TYPES=identity.ID_TYPES,
        CHANNELS=CHANNELS,
        METHOD_LABELS=METHOD_LABELS,
        record_channel=record_channel,
        record_method=record_method,
        SCHEMES=SCHEMES,
        LEVY_LABELS=levy.LABELS,
        charge_type_label=levy.charge_type_label,
        BATCH_KIND_LABELS=batch_rules.KIND_LABELS,
        BANK_NAMES={code: b.name for code, b in banks.banks().items()},
        batch_advice=batch_rules.advice,
        today=lambda: clock().today(),
        display_mode=display_mode,
    )
    app.jinja_env.filters["yuan"] = format_yuan
    app.jinja_env.filters["month"] = lambda d: d.strftime("%Y-%m") if d else "--"
    app.jinja_env.filters["dt"] = lambda d: d.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if d else ""
