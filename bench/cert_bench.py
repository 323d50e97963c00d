"""Payment certificates: how long making the PDF and checking a certificate take (R-CE-4, R-CE-5).

Run by ``make bench-cert``. Medians over ``--runs`` (200) of:

- the encrypted PDF of a 1-page (3 items) and a 3-page (36 items) certificate, drawn and encrypted
  with AES-256 as the making job does (the page images, made once per certificate in the background,
  are timed too but have no goal);
- the 记录查验 lookup (``services.certificates.verify`` and the masked details the page shows) on a
  SQLite database holding ``--certificates`` made certificates, in a fresh session each time, and the
  whole ``POST /verify`` (captcha, lookup, page) through Flask's test client.

Baselines measured in the same run make the figures read as ratios on any machine: a bare reportlab
one-line PDF (Helvetica, no font to embed, no encryption) for the PDFs, and ``SELECT 1`` through a
fresh session for the lookup. Goals: PDF ≤ 50 ms, verify ≤ 5 ms server time. Each row has the wall time
and this process's CPU time (on a machine others share, the wall time grows with the load average, which
is printed; the CPU time is what the work costs). Exits 0: read the ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reportlab.pdfgen.canvas import Canvas  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from bench.cert_samples import sample_doc  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.documents import certificate as document  # noqa: E402
from webapp.domain.calendar import BEIJING  # noqa: E402
from webapp.domain.identity import register_key  # noqa: E402
from webapp.migrate import upgrade  # noqa: E402

PDF_GOAL_MS, VERIFY_GOAL_MS = 50.0, 5.0


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """The median wall time and the median CPU time (this process) of ``fn`` in milliseconds, after two
    warm-up calls. On a machine others share, wall time grows with the load; CPU time much less."""
    fn()
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def bare_pdf() -> bytes:
    """The baseline: reportlab's cheapest PDF, one line of Helvetica."""
    buf = io.BytesIO()
    c = Canvas(buf)
    c.drawString(72, 720, "baseline")
    c.showPage()
    c.save()
    return buf.getvalue()


def build_db(tmp: Path, count: int):  # type: ignore[no-untyped-def]
    """An app on a migrated SQLite database with ``count`` people, each with a posted payment and a made
    certificate (no PDF stored: the lookup does not read it). Returns the app and (id_number, code) pairs."""
    from webapp import demo
    from webapp.domain.certificates import certificate_number, new_check_code
    from webapp.models import Certificate, CertificateItem, Person, Receivable, SettledPayment
    from webapp.services import certificates

    url = f"sqlite:///{tmp}/bench.sqlite3"
    upgrade(url)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp),
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "APP_TODAY": "2026-11-22",
            "CAPTCHA_TEST_ANSWER": "BENCH",
            "PAYMENT_TRANSPORT": "wsgi",
            "WTF_CSRF_ENABLED": False,
        }
    )
    now = datetime(2026, 11, 22, 10, tzinfo=BEIJING)
    with app.extensions["db_sessionmaker"]() as s:
        demo.population(s, residents=count, flex_workers=0, today=date(2026, 11, 22), key=register_key("bench"))
        s.flush()
        people = {p.id: p for p in s.scalars(select(Person))}
        for r in s.scalars(select(Receivable)):
            demo.settle_past(s, people[r.insured_id], [r], date(2026, 11, 2), "wechat")
        s.flush()
        certificates.post_due(s, date(2026, 11, 22))
        pairs, rows = [], []
        for p in s.scalars(select(SettledPayment)):
            code = new_check_code()
            rows.append(
                {
                    "payer_id": p.payer_id,
                    "tax_office": p.receivable.tax_office,
                    "period_start": date(2026, 1, 1),
                    "period_end": date(2026, 12, 1),
                    "check_code": code,
                    "total_fen": p.amount_fen,
                    "status": "made",
                    "requested_at": now,
                    "made_at": now,
                    "page_count": 1,
                    "attempts": 1,
                }
            )
            pairs.append((people[p.payer_id].id_number, code, p.id))
        s.execute(insert(Certificate.__table__), rows)
        ids = dict(s.execute(select(Certificate.check_code, Certificate.id)).all())
        s.execute(
            insert(CertificateItem.__table__),
            [{"certificate_id": ids[code], "settled_payment_id": pid} for _, code, pid in pairs],
        )
        for cid in ids.values():
            s.execute(
                Certificate.__table__.update()
                .where(Certificate.id == cid)
                .values(number=certificate_number(date(2026, 11, 22), cid))
            )
        s.commit()
    return app, [(n, c) for n, c, _ in pairs]


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--certificates", type=int, default=2000, help="made certificates in the database")
    args = parser.parse_args()
    runs = args.runs

    one, three = sample_doc(3), sample_doc(36)
    pages = [len(document.page_images(document.draw(d))) for d in (one, three)]
    assert pages == [1, 3], pages
    base_pdf = median_ms(bare_pdf, runs)
    rows: list[tuple[str, tuple[float, float], tuple[float, float], float | None]] = [
        ("baseline: bare reportlab PDF, 1 line", base_pdf, base_pdf, None)
    ]
    for label, doc in (("certificate PDF, 1 page, AES-256", one), ("certificate PDF, 3 pages, AES-256", three)):
        rows.append((label, median_ms(lambda d=doc: document.make_pdf(d), runs), base_pdf, PDF_GOAL_MS))
    plain = document.draw(three)
    rows.append(
        (
            "page images, 3 pages (once per certificate, background)",
            median_ms(lambda: document.page_images(plain), max(10, runs // 10)),
            base_pdf,
            None,
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        app, pairs = build_db(Path(tmp), args.certificates)
        from webapp.services import certificates
        from webapp.views.verify import masked

        maker = app.extensions["db_sessionmaker"]

        def select_one() -> None:
            with maker() as s:
                s.execute(text("SELECT 1")).scalar()

        i = iter(range(10**9))

        def lookup() -> None:
            n, code = pairs[next(i) % len(pairs)]
            with maker() as s:
                cert = certificates.verify(s, n, code)
                assert cert is not None
                masked(cert)

        base_db = median_ms(select_one, runs)
        rows.append(("baseline: SELECT 1 in a fresh session", base_db, base_db, None))
        rows.append(
            (
                f"verify lookup + masked details ({len(pairs)} certificates)",
                median_ms(lookup, runs),
                base_db,
                VERIFY_GOAL_MS,
            )
        )

        client = app.test_client()
        times, cpus = [], []
        for k in range(runs + 2):
            n, code = pairs[k % len(pairs)]
            client.get("/verify")  # a new captcha for every check, as a person gets
            t, c = time.perf_counter(), time.process_time()
            r = client.post("/verify", data={"id_number": n, "code": code, "captcha": "BENCH"})
            elapsed, cpu = time.perf_counter() - t, time.process_time() - c
            assert r.status_code == 200 and "校验通过" in r.get_data(as_text=True), r.status_code
            if k >= 2:
                times.append(elapsed)
                cpus.append(cpu)
        rows.append(
            (
                "POST /verify, whole request (captcha, lookup, page)",
                (statistics.median(times) * 1000, statistics.median(cpus) * 1000),
                base_db,
                None,
            )
        )
        app.extensions["db_engine"].dispose()

    load = os.getloadavg()[0]
    print(f"\nmake bench-cert: medians of {runs} runs on {os.cpu_count()} cores, load average {load:.1f}\n")
    print(f"{'measurement':<58} {'wall ms':>8} {'cpu ms':>8} {'x baseline':>11}  goal")
    for label, (wall, cpu), (base_wall, _), goal in rows:
        if goal is None:
            verdict = ""
        elif wall <= goal:
            verdict = f"≤ {goal:g} ms ok"
        elif cpu <= goal:
            verdict = f"≤ {goal:g} ms ok in CPU time; wall time inflated by the load"
        else:
            verdict = f"≤ {goal:g} ms OVER"
        print(f"{label:<58} {wall:>8.2f} {cpu:>8.2f} {wall / base_wall:>10.1f}x  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
