"""The service hall (社保费办理), the QR poster and the health check (R-CH-2)."""

from __future__ import annotations

from typing import Any

import segno
from flask import Blueprint, Response, abort, current_app, g, redirect, request, url_for
from markupsafe import Markup
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from ..domain import batch_debit as batch_rules
from ..domain import reminders as reminder_rules
from ..domain.channels import CHANNELS
from ..domain.regions import EntryStyle, channels_by_region, region_of_channel
from ..services import agreements
from ..services import reminders as reminder_service
from ._web import clock, current_user, db, login_required, me, render

bp = Blueprint("hall", __name__)


@bp.app_context_processor
def _hall_helpers() -> dict[str, Any]:
    return {"hall_links": hall_links, "reminder_kinds": reminder_kinds, "REMINDER_LABELS": REMINDER_LABELS}


REMINDER_LABELS = {"flex": "灵活就业人员社会保险费", "rm": "城乡居民医疗保险", "rp": "城乡居民养老保险"}


def due_reminder(kind: str) -> reminder_rules.Reminder | None:
    """The signed-in person's next due date of a scheme (R-UX-3), once per request; None when it does not
    apply (not signed in, not enrolled)."""
    cache = g.setdefault("due_reminders", {})
    if kind not in cache:
        user = current_user()
        cache[kind] = (
            reminder_service.next_due(db(), user, kind, clock().today(), str(current_app.config["REGION"]))
            if user
            else None
        )
    return cache[kind]


def reminder_kinds() -> list[str]:
    """The schemes the signed-in person pays, each with a 缴费提醒 in the hall (R-UX-3)."""
    user = current_user()
    return list(reminder_service.kinds_for(db(), user)) if user else []


# R-CH-2: printed on posters, so these paths never change.
ENTRY_POINTS: list[tuple[str, str]] = [
    ("/", "社保费办理"),
    ("/rm/pay", "城乡居民医疗缴费"),
    ("/rp/pay", "城乡居民养老缴费"),
    ("/flex/base", "灵活就业基数申报"),
    ("/flex/pay", "灵活就业缴费"),
    ("/agreements", "缴费协议"),
    ("/certificates", "缴费证明"),
    ("/verify", "证明查验"),
]


@bp.get("/")
def index() -> Any:
    """The service hall, like 京通's 社保费办理 page; an agreement holder is reminded to fund the account
    before the batch day (R-BD-4)."""
    region = region_of_channel(g.get("channel"))
    if region.entry is EntryStyle.NAME_ID:  # a Qingdao code: that region's pages (issue 19 item 1)
        return redirect(url_for(region.entry_endpoint))
    user = current_user()
    today = clock().today()
    remind = (
        batch_rules.reminder(today)
        if user is not None and agreements.has_batch_agreement(db(), user.id, today)
        else None
    )
    return render("hall/index.html", reminder=remind)


def poster_base() -> str:
    """The base the poster's codes encode (R-CH-2): PUBLIC_BASE_URL when it is set, else the address the
    poster was opened at (a phone on the same network reaches the app where the poster's browser did)."""
    if current_app.config.get("PUBLIC_BASE_URL_SET"):
        return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return request.host_url.rstrip("/")


def answers(path: str) -> bool:
    """Whether a GET of the entry path reaches a route of this app (R-CH-2: only codes that answer)."""
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:
        return True
    except HTTPException:
        return False
    return True


def poster_entries() -> list[tuple[str, str]]:
    """The entry points the poster prints: those that answer."""
    return [(path, label) for path, label in ENTRY_POINTS if answers(path)]


def _code(url: str, title: str, label: str | None = None) -> dict[str, Any]:
    """One code of the poster: its URL drawn as an inline SVG, titled for screen readers."""
    svg = segno.make(url, error="m").svg_inline(scale=3, border=2, omitsize=True, title=title)
    return {"label": label or title, "url": url, "svg": Markup(svg)}


@bp.get("/qr")
def qr_poster() -> Any:
    """A poster of QR codes: every entry URL that answers, in every channel a code can name (R-CH-2), grouped
    by region (``domain.regions``): Beijing's entries per channel, and each Qingdao channel's own entry."""
    base = poster_base()
    groups = []
    for region, channels in channels_by_region():
        if region.entry is EntryStyle.NAME_ID:  # one entry per channel (Qingdao): one row of codes named by channel
            codes = [
                _code(f"{base}{region.entry_path}?ch={ch}", f"{CHANNELS[ch]} · {region.module_name(ch)}")
                for ch in channels
                if answers(region.entry_path)
            ]
            groups.append({"region": region.name, "rows": [{"channel": "各渠道入口", "codes": codes}] if codes else []})
            continue
        rows = []
        for channel in channels:
            if channel in ("window", "batch"):  # no QR code leads there: a clerk, or the bank
                continue
            codes = [
                _code(f"{base}{path}?ch={channel}", f"{label}（{CHANNELS[channel]}）", label)
                for path, label in poster_entries()
            ]
            rows.append({"channel": CHANNELS[channel], "codes": codes})
        groups.append({"region": region.name, "rows": rows})
    return render("hall/qr.html", groups=groups, rows=[r for g in groups for r in g["rows"]], base=base)


@bp.get("/reminders/<token:kind>.ics")
@login_required
def reminder_ics(kind: str) -> Any:
    """缴费提醒 (R-UX-3): the next due date as an iCalendar file the phone adds to its calendar
    (``kind``: flex, rm or rp; anything else is 404)."""
    if kind not in reminder_rules.KINDS:
        abort(404)
    reminder = due_reminder(kind)
    if reminder is None:
        return redirect(url_for("hall.index"))
    uid = f"{kind}-{reminder.due:%Y%m%d}-{me().id}@{request.host.split(':')[0] or 'shebao'}"
    body = reminder_rules.to_ics(reminder, uid=uid, now=clock().now(), url=_entry_url(kind))
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": f'attachment; filename="shebao-{kind}-{reminder.due:%Y%m%d}.ics"',
            "Cache-Control": "no-store",
        },
    )


def _entry_url(kind: str) -> str:
    path = {"flex": "/flex/pay", "rm": "/rm/pay", "rp": "/rp/pay"}[kind]
    return f"{poster_base()}{path}"


@bp.get("/healthz")
def healthz() -> Any:
    """For monitoring: 200 when the database answers."""
    db().execute(text("SELECT 1"))
    return {"status": "ok"}


def hall_links() -> list[dict[str, str]]:
    """The hall's tiles."""
    return [
        {"title": "城乡居民医疗", "desc": "本人或为家人缴费", "href": url_for("resident_medical.pay")},
        {"title": "家庭成员", "desc": "居民医疗 · 关系 · 删除", "href": url_for("resident_medical.family")},
        {"title": "已申报查询", "desc": "居民医疗 · 作废", "href": url_for("resident_medical.declared")},
        {"title": "居民医疗缴费记录", "desc": "按费款所属期查询", "href": url_for("resident_medical.records")},
        {"title": "灵活就业缴费", "desc": "正常申报 · 特殊核定", "href": url_for("flexible.pay")},
        {"title": "缴费基数申报", "desc": "灵活就业人员", "href": url_for("flexible.base")},
        {"title": "应缴费信息查询", "desc": "灵活就业 · 待申报", "href": url_for("flexible.due")},
        {"title": "灵活就业缴费记录", "desc": "按费款所属期查询", "href": url_for("flexible.records")},
        {"title": "城乡居民养老保险办理", "desc": "本人缴费 · 正常/特殊缴费", "href": url_for("resident_pension.pay")},
        {
            "title": "批量扣款缴费金额设置",
            "desc": "居民养老 · 选择缴费档次",
            "href": url_for("resident_pension.amount"),
        },
        {
            "title": "批量扣款缴费金额作废",
            "desc": "居民养老 · 停止批量扣款",
            "href": url_for("resident_pension.amount_void"),
        },
        {"title": "申报记录查询", "desc": "居民养老 · 作废 · 继续缴费", "href": url_for("resident_pension.declared")},
        {"title": "已缴费查询", "desc": "居民养老 · 按费款所属期", "href": url_for("resident_pension.records")},
        {"title": "缴费协议", "desc": "新增协议 · 撤销", "href": url_for("agreements.index")},
        {"title": "开具缴费证明", "desc": "记录打印 · 记录下载", "href": url_for("certificates.index")},
        {"title": "记录查验", "desc": "查验缴费证明真伪", "href": url_for("verify.index")},
    ]
