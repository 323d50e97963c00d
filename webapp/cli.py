"""Command-line tasks: ``flask --app webapp db upgrade | demo seed | demo people --json |
demo holder | demo population | receivables generate | generate-rm | generate-rp | import-special |
import-special-rp | import-qd | payments reconcile | payments post | batch-debit run | agreements import-changes | qr``.
Each command is one unit of work: it commits once, or not at all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

import click
import segno
from flask import Flask, current_app
from flask.cli import AppGroup

from . import demo

if TYPE_CHECKING:
    from .services.imports import ImportSpec

db_cli = AppGroup("db", help="Database schema.")
demo_cli = AppGroup("demo", help="Demo data.")
receivables_cli = AppGroup("receivables", help="Receivables from the bureaus' data.")
payments_cli = AppGroup("payments", help="Payment housekeeping.")
batch_cli = AppGroup("batch-debit", help="The bank's batch debit on the batch day (批量扣款).")
agreements_cli = AppGroup("agreements", help="缴费协议: changes the bureau and the banks report (R-AG-8).")


def _session():
    return current_app.extensions["db_sessionmaker"]()


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations."""
    from .migrate import upgrade  # alembic is only imported when migrating

    upgrade(str(current_app.config["DATABASE_URL"]))
    click.echo("database is up to date")


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the demo people (idempotent)."""
    with _session() as s:
        result = demo.seed(s, current_app.extensions["clock"].today(), str(current_app.config["REGION"]))
        s.commit()
        result["bank_agreements"] = demo.seed_bank(current_app.instance_path, s)
    click.echo(f"demo data ready: {result}")


@demo_cli.command("people")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (SPEC §13).")
def demo_people(as_json: bool) -> None:
    """List the demo personas."""
    with _session() as s:
        people = demo.people_json(s)
    if as_json:
        click.echo(json.dumps(people, ensure_ascii=False, indent=2))
        return
    for p in people:
        click.echo(f"{p['name']}\t{p['id_number']}\t{','.join(p['roles'])}")  # type: ignore[arg-type]  # roles is a list of str (demo.people_json)


@demo_cli.command("holder")
@click.argument("id_number")
@click.option("--id-type", default="resident_id", show_default=True, help="Document type code.")
def demo_holder(id_number: str, id_type: str) -> None:
    """The name the simulated identity register holds for a document: the one its face check accepts."""
    from .domain.identity import IdentityError, normalize_id_number, register_key
    from .services import identity

    try:
        number = normalize_id_number(id_type, id_number)
    except IdentityError as e:
        raise click.ClickException(str(e)) from None
    with _session() as s:
        click.echo(identity.holder(s, id_type, number, register_key(str(current_app.config["SECRET_KEY"]))).name)


@demo_cli.command("population")
@click.option("--residents", type=click.IntRange(0, 1_000_000), default=0, help="Residents owing resident medical.")
@click.option(
    "--flex",
    "flex_workers",
    type=click.IntRange(0, 1_000_000),
    default=0,
    help="Flexible workers owing the rolling window.",
)
@click.option("--agreements", is_flag=True, help="Give everyone a batch-debit agreement in effect.")
@click.option("--json", "as_json", is_flag=True, help="Print them as `demo people --json` does.")
def demo_population(residents: int, flex_workers: int, agreements: bool, as_json: bool) -> None:
    """Synthetic enrolled people with receivables and bank accounts, for load tests (idempotent for the same
    numbers)."""
    from .domain.identity import register_key

    today = current_app.extensions["clock"].today()
    with _session() as s:
        people = demo.population(
            s,
            residents=residents,
            flex_workers=flex_workers,
            today=today,
            region=str(current_app.config["REGION"]),
            key=register_key(str(current_app.config["SECRET_KEY"])),
        )
        s.commit()
        demo.population_bank(s, current_app.instance_path, people, agreements=agreements, today=today)
        s.commit()
    if as_json:
        click.echo(json.dumps(people, ensure_ascii=False))
    else:
        click.echo(f"{len(people)} people ready ({residents} residents, {flex_workers} flexible workers)")


@receivables_cli.command("generate-rm")
@click.option("--year", type=int, required=True)
def generate_rm(year: int) -> None:
    """Build a calendar year's resident medical receivables (idempotent), once its collection period has opened
    (1 September of the year before, docs/policy.md §1)."""
    from .domain.errors import RuleViolation
    from .domain.policy import NoPolicyError
    from .services import resident_medical as rm

    with _session() as s:
        try:
            n = rm.generate_year(s, year, str(current_app.config["REGION"]), current_app.extensions["clock"].today())
        except (NoPolicyError, RuleViolation) as e:
            raise click.ClickException(str(e)) from None
        s.commit()
    click.echo(f"{n} receivables created")


@receivables_cli.command("generate")
@click.option("--month", "month_text", required=True, help="Fee period, YYYY-MM.")
def generate(month_text: str) -> None:
    """Build a month's flexible-worker receivables from enrolments and bases (idempotent), plus 补差."""
    from .domain.calendar import Month
    from .domain.policy import NoPolicyError
    from .services import flexible

    try:
        month = Month.parse(month_text)
    except ValueError:
        raise click.BadParameter("应为YYYY-MM，例如 2026-10", param_hint="--month") from None
    with _session() as s:
        try:
            result = flexible.generate_month(s, month, str(current_app.config["REGION"]))
        except NoPolicyError as e:
            raise click.ClickException(str(e)) from None
        s.commit()
    click.echo(
        f"{month}: {result.created} receivables created, {result.skipped_no_base} enrolments waiting for a "
        f"base declaration, {result.topups} 补差 items, {result.repriced} provisional bills repriced"
    )


def _import_file(spec: ImportSpec[Any, Any], file: TextIO) -> None:
    """Run one bureau file through ``services.imports``; a bad row is reported by line and nothing is loaded."""
    from .services.imports import run_import

    with _session() as s:
        report = run_import(s, spec, file)
        if not report.ok:
            s.rollback()
            for message in report.messages(limit=200):
                click.echo(message, err=True)
            raise click.ClickException("文件有误，未导入任何数据")
        s.commit()
    click.echo(f"{report.created} special items imported ({report.skipped} already there)")


@receivables_cli.command("import-special")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def import_special(file) -> None:
    """Load the bureau's special items (特殊核定) from CSV; a bad row is reported and nothing is loaded."""
    from .services.flexible import SPECIAL_ITEMS

    _import_file(SPECIAL_ITEMS, file)


@receivables_cli.command("import-qd")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--year", type=click.IntRange(1990, 2100), help="the file's year (default: this year)")
def import_qd(file, year: int | None) -> None:
    """Load Qingdao's 核定 file (个人参保编号,险种类型,缴费基数,费款所属期,金额; R-QD-5): rows of earlier years are
    特殊缴费 items; a bad row is reported by line and nothing is loaded."""
    from .services import qd_import

    now = current_app.extensions["clock"].now()
    with _session() as s:
        try:
            result = qd_import.load(s, file.read(), year or current_app.extensions["clock"].today().year, now)
        except qd_import.ImportFileError as e:
            s.rollback()
            for line, message in e.errors:
                click.echo(f"第{line}行：{message}", err=True)
            raise click.ClickException("文件有误，未导入任何数据") from None
        s.commit()
    click.echo(
        f"{result.rows} rows: {result.created} bills imported, {result.unchanged} already there, "
        f"{result.bases_applied} chosen bases applied"
    )


@agreements_cli.command("import-changes")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def import_agreement_changes(file) -> None:
    """Apply the bureau's changes of name, document or 社保经办机构 and the banks' account changes from CSV: the
    agreements they touch become 失效 (R-AG-8, Q50–52); a bad row is reported by line and nothing is loaded."""
    from .services import agreements
    from .services.imports import ImportFileError

    with _session() as s:
        try:
            report = agreements.import_changes(s, file.read(), current_app.extensions["clock"].now())
        except ImportFileError as e:
            s.rollback()
            for line, message in e.errors:
                click.echo(f"第{line}行：{message}", err=True)
            raise click.ClickException("文件有误，未导入任何数据") from None
        s.commit()
    for line, message in report.warnings:
        click.echo(f"第{line}行（提示）：{message}", err=True)
    click.echo(f"{report.rows} changes applied, {report.invalidated} agreements made 失效")


@receivables_cli.command("generate-rp")
@click.option("--year", type=click.IntRange(1990, 2100), required=True)
def generate_rp(year: int) -> None:
    """Build a year's resident pension receivables at each payer's set (or carried) amount (idempotent)."""
    from .domain.policy import NoPolicyError
    from .services import resident_pension as rp

    with _session() as s:
        try:
            result = rp.generate_year(s, year, str(current_app.config["REGION"]), current_app.extensions["clock"].now())
        except NoPolicyError as e:
            raise click.ClickException(str(e)) from None
        s.commit()
    click.echo(
        f"{year}: {result.created} receivables created ({result.carried} at an earlier year's amount), "
        f"{result.waiting} payers waiting for 缴费金额设置"
    )


@receivables_cli.command("import-special-rp")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def import_special_rp(file) -> None:
    """Load the bureau's resident pension special items (人社核定) from CSV; a bad row is reported and nothing
    is loaded."""
    from .services.resident_pension import SPECIAL_ITEMS

    _import_file(SPECIAL_ITEMS, file)


@payments_cli.command("reconcile")
def reconcile() -> None:
    """Query the provider about every order left unfinished (also run every minute by huey)."""
    from .jobs import reconcile as reconcile_job

    n = reconcile_job(current_app._get_current_object())  # type: ignore[attr-defined]  # LocalProxy's, not on Flask's type
    click.echo(f"{n} unfinished orders checked")


@batch_cli.command("run")
@click.option("--date", "day_text", default=None, help="The batch day, YYYY-MM-DD (default: today).")
@click.option("--worker", default="cli", help="This worker's name in the run's claims.")
@click.option("--chunk", type=click.IntRange(1, 5000), default=500, help="Agreements claimed at a time.")
def batch_run(day_text: str | None, worker: str, chunk: int) -> None:
    """Debit every batch-debit agreement for a batch day; safe to run on many workers at once and to rerun."""
    from datetime import date

    from .domain.calendar import format_date_zh, is_batch_debit_day
    from .services import batch_debit

    clock = current_app.extensions["clock"]
    try:
        day = date.fromisoformat(day_text) if day_text else clock.today()
    except ValueError:
        raise click.BadParameter("应为YYYY-MM-DD，例如 2026-11-09", param_hint="--date") from None
    if not is_batch_debit_day(day):
        raise click.ClickException(
            f"{format_date_zh(day)}不是批量扣款日（本月批量扣款日为{format_date_zh(batch_debit.batch_day_of(day))}）"
        )
    report = batch_debit.run(
        current_app.extensions["db_sessionmaker"],
        current_app.extensions["payment_adapters"]["agreement"],
        day,
        clock.now,
        worker=worker,
        chunk=chunk,
    )
    reasons = ", ".join(f"{k} {v}" for k, v in report.reasons.items()) or "none"
    click.echo(
        f"{day}: {report.debits} debits in {report.chunks} chunks, {report.succeeded} debited, "
        f"{report.failed} failed ({reasons}), {report.seconds:.1f}s"
    )
    if report.resumed or report.taken_over:
        click.echo(
            f"resumed {report.resumed} debits planned before (sent again under their numbers: none taken twice); "
            f"{report.taken_over} workers found gone, their claims taken over"
        )
    if report.unanswered:
        # The chunk went back at once: a rerun (or another worker) resends it; nothing waits for a lease.
        raise click.ClickException("银行未应答，请稍后重新运行（已计划的扣款会按原编号重新发送，不会重复扣款）")


@payments_cli.command("post")
def post() -> None:
    """入库: post paid items whose posting day (two working days after payment) has come (also every
    minute, huey), and make any certificate request still 制作中."""
    from .jobs import make_waiting_certificates, post_payments

    flask_app = current_app._get_current_object()  # type: ignore[attr-defined]  # LocalProxy's, not on Flask's type
    n = post_payments(flask_app)
    made = make_waiting_certificates(flask_app, older_than_seconds=0)
    click.echo(f"{n} paid items posted, {made} certificate requests made")


@click.command("qr")
def qr() -> None:
    """Print the hall URL as a QR code in the terminal."""
    url = f"{current_app.config['PUBLIC_BASE_URL']}/"
    segno.make(url, error="m").terminal(compact=True)
    click.echo(f"扫码进入社保费办理: {url}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for group in (db_cli, demo_cli, receivables_cli, payments_cli, batch_cli, agreements_cli):
        app.cli.add_command(group)
    app.cli.add_command(qr)
