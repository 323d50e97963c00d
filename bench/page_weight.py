"""Page weight of the entry pages (R-CH-2): HTML plus the page's own CSS and JS, gzipped (level 6).

Run by ``make page-weight``. Builds a test-config app on a temporary SQLite database with the demo
people, fetches every entry page through Flask's test client (``/rm/pay`` and the other pages behind
login as 王建国), fetches each ``<link rel=stylesheet>`` and ``<script src>`` the page references
from the app, and prints one row per page against the budget of 60 KB gzipped. A baseline measured
in the same run (the bare WeUI CSS plus htmx, what any page of this stack costs) makes the figures
read as ratios. Exits 1 when a page is over budget or does not answer 200.
"""

from __future__ import annotations

import gzip
import re
import sys
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402

from webapp import create_app, demo  # noqa: E402
from webapp.migrate import upgrade  # noqa: E402
from webapp.views.hall import ENTRY_POINTS  # noqa: E402

BUDGET = 60 * 1024  # bytes, gzipped, per page: HTML + its own CSS + JS
TODAY = "2026-11-22T10:00:00+08:00"  # the demo data's day, as in the tests
LOGIN = ("王建国", "110105198003120032")
EXTRA_PAGES = ["/login", "/qr"]  # not on the posters, but the first pages a scan can lead to
ANONYMOUS = {"/", "/login", "/qr"}  # measured as a first visit; the rest after logging in
BASELINE = ["/static/vendor/weui.min.css", "/static/vendor/htmx.min.js"]


def gz(data: bytes) -> int:
    """Gzipped size at level 6 (mtime fixed so runs compare)."""
    return len(gzip.compress(data, compresslevel=6, mtime=0))


class Assets(HTMLParser):
    """The stylesheets and scripts a page references."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.urls.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.urls.append(a["src"])


def fetch(client: FlaskClient, url: str) -> tuple[int, bytes]:
    """GET within the app; redirects followed."""
    status, body, _ = fetch_final(client, url)
    return status, body


def fetch_final(client: FlaskClient, url: str) -> tuple[int, bytes, str]:
    """GET within the app; redirects followed; also where it ended up."""
    r = client.get(url, follow_redirects=True)
    try:
        return r.status_code, r.get_data(), r.request.path
    finally:
        r.close()


def csrf_token(html: bytes) -> str:
    m = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    return m.group(1).decode() if m else ""


def log_in(client: FlaskClient) -> None:
    """身份验证 + the simulated face check, as the browser does it."""
    _, html = fetch(client, "/login")
    r = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(html),
            "name": LOGIN[0],
            "id_type": "resident_id",
            "id_number": LOGIN[1],
            "agree": "1",
            "next": "/",
        },
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    _, html = fetch(client, "/login/face")
    r = client.post("/login/face", data={"csrf_token": csrf_token(html)})
    assert r.status_code == 303, r.get_data(as_text=True)


def entry_pages(app: Flask) -> list[str]:
    """R-CH-2's entry paths that this build serves, then the extra pages."""
    adapter = app.url_map.bind("localhost")
    pages = []
    for path, _label in ENTRY_POINTS:
        try:
            adapter.match(path, method="GET")
        except Exception:  # noqa: BLE001 - not built yet (404) or not a GET page
            continue
        pages.append(path)
    return pages + [p for p in EXTRA_PAGES if p not in pages]


@dataclass
class Row:
    page: str
    status: int
    final: str
    html: int
    assets: int
    asset_count: int

    @property
    def total(self) -> int:
        return self.html + self.assets


def measure(client: FlaskClient, page: str) -> Row:
    status, html, final = fetch_final(client, page)
    parser = Assets()
    parser.feed(html.decode("utf-8", "replace"))
    size = 0
    for url in dict.fromkeys(parser.urls):
        parts = urlsplit(url)
        if parts.netloc and parts.netloc not in ("localhost",):
            raise SystemExit(f"{page} loads {url} from another host; measure it by hand")
        s, body = fetch(client, parts.path + (f"?{parts.query}" if parts.query else ""))
        if s != 200:
            raise SystemExit(f"{page} references {url}, which answers {s}")
        size += gz(body)
    return Row(page, status, final, gz(html), size, len(dict.fromkeys(parser.urls)))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="page-weight-") as tmp:
        url = f"sqlite:///{tmp}/app.sqlite3"
        upgrade(url)
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": tmp,
                "DATABASE_URL": url,
                "SECRET_KEY": "page-weight",
                "APP_TODAY": TODAY,
                "PUBLIC_BASE_URL": "http://localhost",
                "PAYMENT_TRANSPORT": "wsgi",
            }
        )
        try:
            with app.extensions["db_sessionmaker"]() as s:
                demo.seed(s, app.extensions["clock"].today())
                s.commit()
            anonymous, member = app.test_client(), app.test_client()
            log_in(member)

            baseline = 0
            for b in BASELINE:
                status, body = fetch(anonymous, b)
                if status != 200:
                    raise SystemExit(f"baseline asset {b} answers {status}; run `make setup` first")
                baseline += gz(body)
            rows = [measure(anonymous if p in ANONYMOUS else member, p) for p in entry_pages(app)]
        finally:
            app.extensions["db_engine"].dispose()

    head = (
        f"{'page':<12} {'status':>6} {'HTML gz':>9} {'CSS+JS gz':>10} {'files':>5} {'total gz':>9} "
        f"{'/budget':>8} {'/baseline':>9}"
    )
    print(
        f"Page weight, gzip level 6; budget {BUDGET} B (60 KB) per page; "
        f"baseline = {' + '.join(Path(b).name for b in BASELINE)} = {baseline} B gz\n"
    )
    print(head)
    print("-" * len(head))
    failed = False
    for r in rows:
        over = r.total > BUDGET or r.status != 200
        failed |= over
        print(
            f"{r.page:<12} {r.status:>6} {r.html:>9} {r.assets:>10} {r.asset_count:>5} {r.total:>9} "
            f"{r.total / BUDGET:>7.0%} {r.total / baseline:>8.2f}x"
            + ("  OVER" if over else "")
            + (f"  (redirected to {r.final})" if r.final != r.page else "")
        )
    print("-" * len(head))
    print(
        f"{'baseline':<12} {'':>6} {'':>9} {baseline:>10} {len(BASELINE):>5} {baseline:>9} "
        f"{baseline / BUDGET:>7.0%} {1:>8.2f}x"
    )
    if failed:
        print("\nFAIL: a page is over the 60 KB budget or did not answer 200", file=sys.stderr)
        return 1
    print("\nOK: every page within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
