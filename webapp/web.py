"""What every blueprint shares: the request's DB session, the signed-in user, rendering
(full page or one block of it for htmx), error pages and template helpers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from jinja2_fragments.flask import render_block
from sqlalchemy import orm
from werkzeug.exceptions import HTTPException

from .domain import identity
from .domain.calendar import Clock, Month
from .domain.channels import CHANNELS, METHOD_LABELS
from .domain.money import format_yuan
from .models import AuditEvent, Person

SESSION_HOURS = 2
BEIJING = ZoneInfo("Asia/Shanghai")
REMEMBER_DAYS = 7


def db() -> orm.Session:
    """The request's database session (one per app context, closed at teardown)."""
    if "db" not in g:
        g.db = current_app.extensions["db_sessionmaker"]()
    return g.db


def clock() -> Clock:
    """The app's clock: the real time, or APP_TODAY when set."""
    return current_app.extensions["clock"]


def current_user() -> Person | None:
    """The signed-in person, if the login is still valid."""
    if "user" in g:
        return g.user
    user = None
    pid = session.get("person_id")
    expires = session.get("login_expires")
    if pid and expires and datetime.fromisoformat(expires) > datetime.now().astimezone():
        user = db().get(Person, pid)
    g.user = user
    return user


def sign_in(person: Person, remember: bool) -> None:
    """Start a login session: 2 hours, or 7 days with 7天免登录 (R-ID-1)."""
    session.pop("person_id", None)
    session["person_id"] = person.id
    session.permanent = remember
    span = timedelta(days=REMEMBER_DAYS) if remember else timedelta(hours=SESSION_HOURS)
    session["login_expires"] = (datetime.now().astimezone() + span).isoformat()
    g.user = person


def sign_out() -> None:
    """End the login but keep the channel the user came from."""
    channel = session.get("channel")
    session.clear()
    if channel:
        session["channel"] = channel
    g.user = None


def safe_next(target: str | None) -> str | None:
    """Only a path on this site may be a redirect target (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send an anonymous (or expired) user to login, then back to where they were going."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            target = request.full_path.rstrip("?") if request.method == "GET" else (
                request.headers.get("HX-Current-URL") and urlsplit(
                    request.headers["HX-Current-URL"]).path or request.path)
            expired = "person_id" in session
            login = url_for("auth.login", next=target, expired=1 if expired else None)
            if request.headers.get("HX-Request"):
                return "", 200, {"HX-Redirect": login}
            return redirect(login)
        return view(*args, **kwargs)

    return wrapped


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Any:
    """Render a page; an htmx request that names a block gets just that block."""
    if block and request.headers.get("HX-Request") and not request.headers.get("HX-Boosted"):
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def month_arg(name: str, default: Month) -> tuple[Month, str | None]:
    """A ``YYYY-MM`` query argument (费款所属期), or the default and a Chinese message."""
    raw = request.args.get(name, "")
    if not raw:
        return default, None
    try:
        return Month.parse(raw), None
    except ValueError:
        return default, "费款所属期格式应为YYYY-MM"


def audit(kind: str, subject: str = "", detail: str = "", actor_id: int | None = None) -> None:
    """Add an audit event to the request's session (committed with the change it records)."""
    if actor_id is None:
        user = current_user()
        actor_id = user.id if user else None
    db().add(AuditEvent(kind=kind, subject=subject, detail=detail, actor_id=actor_id))


def _error_page(status: int, title: str, message: str) -> Any:
    return render_template("_components/error.html", title=title, message=message), status


def init_app(app: Flask) -> None:
    """Wire the request lifecycle, error pages and template helpers into the app."""
    app.extensions["clock"] = Clock.from_env(app.config.get("APP_TODAY"))  # type: ignore[arg-type]

    @app.teardown_appcontext
    def _close_db(_exc: BaseException | None) -> None:
        session_ = g.pop("db", None)
        if session_ is not None:
            session_.close()

    @app.after_request
    def _vary(response):  # type: ignore[no-untyped-def]
        response.vary.add("HX-Request")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError) -> Any:
        return _error_page(400, "页面已过期", "页面已过期或请求不完整，请返回上一页刷新后重试。")

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Any:
        titles = {404: "未找到", 405: "操作不支持", 400: "请求有误"}
        messages = {404: "您要找的页面或记录不存在，或不属于您。"}
        return _error_page(e.code or 500, titles.get(e.code or 0, "出错了"),
                           messages.get(e.code or 0, e.description or ""))

    @app.errorhandler(Exception)
    def _crash(e: Exception) -> Any:
        if app.testing:
            raise e  # tests see the real error, not the friendly page
        app.logger.exception("unhandled error", exc_info=e)
        return _error_page(500, "系统繁忙", "系统繁忙，请稍后重试。您的缴费不会重复扣款。")

    app.jinja_env.globals.update(
        current_user=current_user,
        mask_id=identity.mask_id_number,
        mask_name=identity.mask_name,
        id_type_label=lambda code: identity.ID_TYPES.get(code, code),
        ID_TYPES=identity.ID_TYPES,
        CHANNELS=CHANNELS,
        METHOD_LABELS=METHOD_LABELS,
        today=lambda: clock().today(),
    )
    app.jinja_env.filters["yuan"] = format_yuan
    app.jinja_env.filters["month"] = lambda d: d.strftime("%Y-%m") if d else "--"
    app.jinja_env.filters["dt"] = lambda d: d.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if d else ""
