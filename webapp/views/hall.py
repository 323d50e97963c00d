"""The service hall (社保费办理), the QR poster and the health check (R-CH-2)."""

from __future__ import annotations

from typing import Any

import segno
from flask import Blueprint, Response, abort, current_app, g, redirect, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from ..domain import batch_debit as batch_rules
from ..domain import reminders as reminder_rules
from ..domain.channels import CHANNELS
from ..domain.regions import EntryStyle, channels_by_region, region_of_channel
from ..domain.schemes import SCHEMES
from ..services import agreements, health, schemes
from ._web import clock, current_user, db, login_required, me, render

bp = Blueprint("hall", __name__)


@bp.app_context_processor
def _hall_helpers() -> dict[str, Any]:
    return {"hall_links": hall_links, "reminder_kinds": reminder_kinds, "reminder_label": reminder_label}


def reminder_label(kind: str) -> str:
    """How the hall's 缴费提醒 names a scheme."""
    return SCHEMES[kind].reminder_name


def due_reminder(kind: str) -> reminder_rules.Reminder | None:
    """The signed-in person's next due date of a scheme (R-UX-3), once per request; None when it does not
    apply (not signed in, not enrolled)."""
    cache = g.setdefault("due_reminders", {})
    if kind not in cache:
        user = current_user()
        cache[kind] = (
            schemes.next_due(db(), user, kind, clock().today(), str(current_app.config["REGION"])) if user else None
        )
    return cache[kind]


def reminder_kinds() -> list[str]:
    """The schemes the signed-in person pays, each with a 缴费提醒 in the hall (R-UX-3)."""
    user = current_user()
    return schemes.reminder_kinds(db(), user) if user else []


# R-CH-2: printed on posters, so these paths never change. Each scheme's entries come from its flow, between
# the hall and these.
HOME_ENTRY = ("/", "社保费办理")
ENTRY_POINTS: list[tuple[str, str]] = [
    ("/agreements", "缴费协议"),
    ("/certificates", "缴费证明"),
    ("/verify", "证明查验"),
]


def entry_points() -> list[tuple[str, str]]:
    """Every path the poster may print: the hall, each registered scheme's entries, then the shared pages."""
    scheme_entries = [(e.path, e.label) for f in schemes.flows() for e in f.entry_points]
    return [HOME_ENTRY, *scheme_entries, *ENTRY_POINTS]


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
    return [(path, label) for path, label in entry_points() if answers(path)]


def _code(url: str, title: str, label: str | None = None) -> dict[str, Any]:
    """One code of the poster: its URL drawn as an inline SVG, titled for screen readers."""
    svg = segno.make(url, error="m").svg_inline(scale=3, border=2, omitsize=True, title=title)
    return {"label": label or title, "url": url, "svg": Markup(svg)}


@bp.get("/qr")
def qr_poster() -> Any:
    """A poster of QR codes: every entry URL that answers, in every channel a code can name (R-CH-2), grouped
    by region (``domain.regions``): Beijing's entries per channel, and each Qingdao channel's own entry."""
    base = poster_base()
    entries = poster_entries()
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
                _code(f"{base}{path}?ch={channel}", f"{label}（{CHANNELS[channel]}）", label) for path, label in entries
            ]
            rows.append({"channel": CHANNELS[channel], "codes": codes})
        groups.append({"region": region.name, "rows": rows})
    return render("hall/qr.html", groups=groups, rows=[r for g in groups for r in g["rows"]], base=base)


@bp.get("/reminders/<token:kind>.ics")
@login_required
def reminder_ics(kind: str) -> Any:
    """缴费提醒 (R-UX-3): the next due date as an iCalendar file the phone adds to its calendar
    (``kind``: a registered scheme's code; anything else is 404)."""
    if kind not in schemes.FLOWS:
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
    return f"{poster_base()}{url_for(SCHEMES[kind].entry)}"


@bp.get("/healthz")
def healthz() -> Any:
    """For monitoring: 200 when the database answers."""
    health.ping(db())
    return {"status": "ok"}


def hall_links() -> list[dict[str, str]]:
    """The hall's tiles: each registered scheme's, then the pages every scheme shares."""
    tiles = [t for f in schemes.flows() for t in f.tiles] + list(SHARED_TILES)
    return [{"title": t.title, "desc": t.desc, "href": url_for(t.endpoint)} for t in tiles]


SHARED_TILES = (
    schemes.Tile("缴费协议", "新增协议 · 撤销", "agreements.index"),
    schemes.Tile("开具缴费证明", "记录打印 · 记录下载", "certificates.index"),
    schemes.Tile("记录查验", "查验缴费证明真伪", "verify.index"),
)
