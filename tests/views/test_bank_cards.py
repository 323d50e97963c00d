"""Bank cards on 新增协议 (R-AG-2, R-AG-3; docs/policy.md §5): the app checks the number's length (16–19 digits)
and its Luhn digit, never a BIN, so the guide's own 中国工商银行 example (6228 0012 3435 0005 …, seed 000 §4)
is accepted; whether the account exists and is the holder's is the simulated bank's answer, shown with its
reason and what to do."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import TAX_OFFICE, make_resident
from webapp.domain import banks
from webapp.domain.errors import RuleViolation
from webapp.models import Agreement
from webapp.payments.sim import controls

from ..conftest import text

GUIDE_ICBC = banks.card_with_prefix("6228001234350005")  # the guide's 中国工商银行 card, completed to 19 digits


def _form(person, card, bank="ICBC"):
    region = banks.regions(bank)[0]
    return {
        "tax_office": TAX_OFFICE,
        "bank": bank,
        "bank_region": region,
        "branch": banks.branches(bank, region)[0],
        "holder": person.name,
        "card_number": card,
        "batch_debit": "1",
    }


@pytest.fixture
def resident(app):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        p = make_resident(s, "黄娜")
        s.commit()
    return p


def _agreements(app) -> int:
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(Agreement))


@pytest.mark.parametrize(
    "raw",
    [
        GUIDE_ICBC,
        " ".join(GUIDE_ICBC[i : i + 4] for i in range(0, 19, 4)),
        banks.card_with_prefix("6228001234350005", 16),
    ],
)
def test_R_AG_2_the_guides_icbc_card_passes_the_apps_check(raw):
    assert banks.normalize_card("ICBC", raw) == raw.replace(" ", "")


@pytest.mark.parametrize(
    "raw, message",
    [
        (GUIDE_ICBC[:-1] + str((int(GUIDE_ICBC[-1]) + 1) % 10), "校验位不正确"),
        ("622800123435000", "应为16至19位数字"),  # 15 digits
        (GUIDE_ICBC + "0", "应为16至19位数字"),
        ("6228 0012 3435 OOO5", "只能包含数字"),
    ],
)
def test_R_AG_2_length_and_luhn_are_checked_in_the_app(raw, message):
    with pytest.raises(RuleViolation, match=message):
        banks.normalize_card("ICBC", raw)


def test_R_AG_2_the_bank_says_an_unknown_account_does_not_exist_with_what_to_do(app, providers, phone_user, resident):
    b = phone_user(resident, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(resident, GUIDE_ICBC))
    page = text(r)
    assert (
        r.status_code == 422
        and "签约失败：账户不存在（中国工商银行答复）" in page
        and "请核对开户银行和银行账号" in page
    )
    assert f'value="{GUIDE_ICBC}"' in page and _agreements(app) == 0


def test_R_AG_2_the_guides_icbc_card_signs_when_the_bank_holds_it_for_the_payer(app, providers, phone_user, resident):
    controls.open_account(providers, GUIDE_ICBC, "ICBC", resident.name, 100000, id_number=resident.id_number)
    b = phone_user(resident, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(resident, GUIDE_ICBC))
    assert r.status_code == 200 and "签订成功" in text(r) and "6228 **** **** " in text(r)
    assert _agreements(app) == 1


def test_R_AG_2_an_account_of_another_bank_is_the_banks_refusal(app, providers, phone_user, resident):
    """The card is 建设银行's: 中国工商银行 does not hold it, and says so (the app cannot know by its digits)."""
    controls.open_account(providers, GUIDE_ICBC, "CCB", resident.name, 100000, id_number=resident.id_number)
    b = phone_user(resident, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(resident, GUIDE_ICBC))
    assert r.status_code == 422 and "账户不存在（中国工商银行答复）" in text(r)


def test_R_AG_3_an_account_held_by_someone_else_is_the_banks_refusal_with_its_reason(
    app, providers, phone_user, resident
):
    controls.open_account(providers, GUIDE_ICBC, "ICBC", "黄娜", 100000, id_number="110101199001011237")
    b = phone_user(resident, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(resident, GUIDE_ICBC))
    assert r.status_code == 422 and "签约失败：持卡人姓名与账户不一致（中国工商银行答复）" in text(r)
    assert "本人持有的银行卡" in text(r) and _agreements(app) == 0


def test_R_AG_2_a_closed_account_is_the_banks_refusal(app, providers, phone_user, resident):
    from webapp.payments.sim import bank as sim_bank

    sim_bank.open_account(
        providers.extensions["sim"].store, GUIDE_ICBC, "ICBC", resident.name, resident.id_number, 0, status="frozen"
    )
    b = phone_user(resident, "alipay")
    b.get("/agreements/new")
    r = b.post("/agreements/new", _form(resident, GUIDE_ICBC))
    assert r.status_code == 422 and "账户异常" in text(r) and "请到开户银行核实账户情况" in text(r)
