"""A scheme is a plugin (issue 18): each scheme's behaviour is one ``SchemeFlow``, registered beside its
``Scheme`` record (``domain.schemes``). The hall, the reminders, the checkout and the demo loop over ``flows()``
and never branch on a scheme code.

Adding a scheme is a rules module (``domain/``), a flow here (or in its own service module) passed to
``register``, a blueprint with its templates, and a migration widening the ``scheme`` CHECK constraint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import reminders as reminder_rules
from ..domain import schemes as registry
from ..domain.calendar import BEIJING, is_batch_debit_day
from ..domain.flexible import MSG_BATCH_DAY
from ..domain.schemes import SCHEMES, Scheme, SchemeCode
from ..models import Declaration, Enrolment, Person
from . import agreements, enrolments, flexible, reminders
from . import resident_medical as rm


@dataclass(frozen=True)
class Tile:
    """A tile of the service hall: its title, the line under it and the endpoint it opens."""

    title: str
    desc: str
    endpoint: str


@dataclass(frozen=True)
class EntryPoint:
    """A path printed on the QR poster (R-CH-2: printed, so it never changes) and its label."""

    path: str
    label: str


@runtime_checkable
class SchemeFlow(Protocol):
    """What the shared pages ask of a scheme."""

    @property
    def scheme(self) -> Scheme:
        """Its registry entry (labels, endpoints, who may pay)."""
        ...

    @property
    def tiles(self) -> tuple[Tile, ...]:
        """Its tiles in the service hall, in order."""
        ...

    @property
    def entry_points(self) -> tuple[EntryPoint, ...]:
        """Its paths on the QR poster (R-CH-2)."""
        ...

    def enrolment(self, session: Session, person_id: int) -> Enrolment | None:
        """The person's enrolment (参保信息) in this scheme."""
        ...

    def reminds(self, session: Session, person: Person, enrolled: set[str]) -> bool:
        """Whether the person gets this scheme's 缴费提醒 (``enrolled``: the schemes they are enrolled in)."""
        ...

    def next_due(
        self, session: Session, person: Person, enrolment: Enrolment | None, region: str, today: date
    ) -> reminder_rules.Reminder:
        """What the person owes and by when (R-UX-3)."""
        ...

    def why_not_now(self, session: Session, decl: Declaration, now: datetime) -> str | None:
        """None when the declaration may be paid here now, else why not (the self-service window, R-FP-4)."""
        ...

    def may_pay_for(self, session: Session, payer_id: int, insured_id: int) -> bool:
        """Whether the payer may pay (and see the records) of the insured person in this scheme."""
        ...


class BaseFlow:
    """The behaviour most schemes share; a flow overrides what differs."""

    scheme: Scheme
    tiles: tuple[Tile, ...] = ()
    entry_points: tuple[EntryPoint, ...] = ()

    def enrolment(self, session: Session, person_id: int) -> Enrolment | None:
        """The person's enrolment in this scheme (one shared query, read once per session)."""
        return enrolments.enrolment_of(session, person_id, self.scheme.code)

    def reminds(self, session: Session, person: Person, enrolled: set[str]) -> bool:
        """Enrolled people get the reminder."""
        return self.scheme.code in enrolled

    def next_due(
        self, session: Session, person: Person, enrolment: Enrolment | None, region: str, today: date
    ) -> reminder_rules.Reminder:
        """A yearly scheme's collection period (``domain.collection``)."""
        return reminders.resident_due(session, person, self.scheme.code, enrolment, region, today)

    def why_not_now(self, session: Session, decl: Declaration, now: datetime) -> str | None:
        """A batch-debited scheme is taken by nothing but the batch debit on the batch day from a payer whose
        agreement it uses (Q42); otherwise any time."""
        if self.scheme.batch_debited:
            today = now.astimezone(BEIJING).date()
            if is_batch_debit_day(today) and agreements.has_batch_agreement(session, decl.payer_id, today):
                return MSG_BATCH_DAY
        return None

    def may_pay_for(self, session: Session, payer_id: int, insured_id: int) -> bool:
        """Oneself only (R-FP-6, R-RP)."""
        return payer_id == insured_id


class ResidentMedicalFlow(BaseFlow):
    """城乡居民医疗: paid for oneself and for saved family members (R-RM-1, R-RM-5), yearly."""

    scheme = SCHEMES[SchemeCode.RESIDENT_MEDICAL]
    tiles = (
        Tile("城乡居民医疗", "本人或为家人缴费", "resident_medical.pay"),
        Tile("家庭成员", "居民医疗 · 关系 · 删除", "resident_medical.family"),
        Tile("已申报查询", "居民医疗 · 作废", "resident_medical.declared"),
        Tile("居民医疗缴费记录", "按费款所属期查询", "resident_medical.records"),
    )
    entry_points = (EntryPoint("/rm/pay", "城乡居民医疗缴费"),)

    def reminds(self, session: Session, person: Person, enrolled: set[str]) -> bool:
        """Enrolled, or paying for saved family members."""
        return self.scheme.code in enrolled or bool(rm.family(session, person.id))

    def next_due(
        self, session: Session, person: Person, enrolment: Enrolment | None, region: str, today: date
    ) -> reminder_rules.Reminder:
        """The years the person or a saved family member still owes, each named (R-UX-3)."""
        family = {m.person.id: f"{m.person.name}（{m.relation}）" for m in rm.members(session, person.id, today.year)}
        return reminders.resident_due(session, person, self.scheme.code, enrolment, region, today, family=family)

    def may_pay_for(self, session: Session, payer_id: int, insured_id: int) -> bool:
        """Oneself, or a saved family member (R-RM-1)."""
        return rm.may_pay_for(session, payer_id, insured_id)


class ResidentPensionFlow(BaseFlow):
    """城乡居民养老: oneself, yearly, batch-debited at the set amount (R-RP)."""

    scheme = SCHEMES[SchemeCode.RESIDENT_PENSION]
    tiles = (
        Tile("城乡居民养老保险办理", "本人缴费 · 正常/特殊缴费", "resident_pension.pay"),
        Tile("批量扣款缴费金额设置", "居民养老 · 选择缴费档次", "resident_pension.amount"),
        Tile("批量扣款缴费金额作废", "居民养老 · 停止批量扣款", "resident_pension.amount_void"),
        Tile("申报记录查询", "居民养老 · 作废 · 继续缴费", "resident_pension.declared"),
        Tile("已缴费查询", "居民养老 · 按费款所属期", "resident_pension.records"),
    )
    entry_points = (EntryPoint("/rp/pay", "城乡居民养老缴费"),)

    def next_due(
        self, session: Session, person: Person, enrolment: Enrolment | None, region: str, today: date
    ) -> reminder_rules.Reminder:
        """The year of collection is owed even before its amount is set (R-RP-1)."""
        return reminders.resident_due(session, person, self.scheme.code, enrolment, region, today, owed_before_set=True)


class FlexibleFlow(BaseFlow):
    """灵活就业: oneself, monthly, paid here only in the self-service window (R-FP-4)."""

    scheme = SCHEMES[SchemeCode.FLEXIBLE]
    tiles = (
        Tile("灵活就业缴费", "正常申报 · 特殊核定", "flexible.pay"),
        Tile("缴费基数申报", "灵活就业人员", "flexible.base"),
        Tile("应缴费信息查询", "灵活就业 · 待申报", "flexible.due"),
        Tile("灵活就业缴费记录", "按费款所属期查询", "flexible.records"),
    )
    entry_points = (EntryPoint("/flex/base", "灵活就业基数申报"), EntryPoint("/flex/pay", "灵活就业缴费"))

    def next_due(
        self, session: Session, person: Person, enrolment: Enrolment | None, region: str, today: date
    ) -> reminder_rules.Reminder:
        """This month's 25th, or the batch day (R-FP-4, R-UX-3)."""
        return reminders.flexible_due(session, person, self.scheme.code, today)

    def why_not_now(self, session: Session, decl: Declaration, now: datetime) -> str | None:
        """The 10th–25th, and not on the batch day with a batch-debit agreement (R-FP-4)."""
        window = flexible.pay_window(session, decl.insured_id, now)
        return None if window.open else window.message_zh


class QingdaoFlow(BaseFlow):
    """青岛: found by name + ID on its own channels (/qd, ``domain.regions``), so no tile or poster entry in
    Beijing's hall; bills come from the bureau's 核定 file (R-QD-5), paid by the insured person only."""

    scheme = SCHEMES[SchemeCode.QINGDAO]

    def reminds(self, session: Session, person: Person, enrolled: set[str]) -> bool:
        """No 缴费提醒: seed 002 gives no due date."""
        return False


FLOWS: dict[str, SchemeFlow] = {}


def register(flow: SchemeFlow) -> SchemeFlow:
    """Register a scheme's flow; its ``Scheme`` record joins ``domain.schemes.SCHEMES`` when it is not there."""
    if flow.scheme.code in FLOWS:
        raise ValueError(f"scheme {flow.scheme.code!r} already has a flow")
    if flow.scheme.code not in SCHEMES:
        registry.register(flow.scheme)
    FLOWS[flow.scheme.code] = flow
    return flow


def unregister(code: str) -> None:
    """Take a scheme and its flow out (a test's dummy scheme); the shipped schemes stay."""
    FLOWS.pop(code, None)
    if code not in {c.value for c in SchemeCode}:
        registry.unregister(code)


for _flow in (ResidentMedicalFlow(), FlexibleFlow(), ResidentPensionFlow(), QingdaoFlow()):
    register(_flow)


def flows() -> list[SchemeFlow]:
    """Every registered flow, in the registry's order (the hall's order)."""
    return [FLOWS[code] for code in SCHEMES if code in FLOWS]


def flow(code: str) -> SchemeFlow:
    """The flow of a scheme code; ``KeyError`` for a code nobody registered."""
    return FLOWS[code]


def reminder_kinds(session: Session, person: Person) -> list[str]:
    """The schemes whose 缴费提醒 apply to the person (R-UX-3): one read of their enrolments, then each flow."""
    enrolled = {str(s) for s in session.scalars(select(Enrolment.scheme).where(Enrolment.person_id == person.id))}
    return [f.scheme.code for f in flows() if f.reminds(session, person, enrolled)]


def next_due(
    session: Session, person: Person, code: str, today: date, default_region: str
) -> reminder_rules.Reminder | None:
    """The person's next due date of a scheme (R-UX-3); None when the reminder does not apply to them."""
    if code not in FLOWS or code not in reminder_kinds(session, person):
        return None
    scheme_flow = FLOWS[code]
    enrolment = scheme_flow.enrolment(session, person.id)
    region = enrolment.region if enrolment is not None else default_region
    return scheme_flow.next_due(session, person, enrolment, region, today)


def why_not_now(session: Session, decl: Declaration, now: datetime) -> str | None:
    """None when the declaration may be paid here now, else why not (its scheme's flow decides)."""
    return FLOWS[decl.scheme].why_not_now(session, decl, now)


def may_name(session: Session, payer_id: int, insured_id: int) -> bool:
    """Whether some scheme lets the payer pay for the insured person (so a page may name them)."""
    return any(f.may_pay_for(session, payer_id, insured_id) for f in flows())
