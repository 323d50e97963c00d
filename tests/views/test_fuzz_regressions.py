"""The fuzzer's answers of 500 (issue 10), one case each, by class: ids above 2^31 in paths and forms
(``who``, ``insured``, ``receivable``), Unicode digits that pass ``isdigit()`` (² ①), full-width digits
that overflow, NUL bytes, an ID whose county python-stdnum does not know (KeyError 'county'), non-UTF-8
notification bodies, request lines too long. Each now gets a clear page or a 4xx, and writes nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import text
from webapp.models import AuditEvent, Declaration, FamilyPayee, Person

from .invariants import broken_rows, count

BIG = "99999999999999999999"
OVER = "2147483648"  # 2^31: past PostgreSQL's integer
FW_BIG = "９" * 20  # full-width digits that overflow once folded
SUP, CIRC = "²", "①"
COUNTY = "440108199001011238"  # valid check digit; stdnum: KeyError('county')


def q(s: str) -> str:
    """Percent-encoded for a path segment."""
    return quote(s, safe="")


# (case, method, path, form or body, expected status)
CASES = [
    ("01 record id of 20 digits", "get", f"/rm/records/{BIG}", None, 404),
    ("02 record id 2^31", "get", f"/rm/records/{OVER}", None, 404),
    ("03 flex record id 2^31", "get", f"/flex/records/{OVER}", None, 404),
    ("04 declaration id 2^31", "get", f"/pay/{OVER}", None, 404),
    ("05 confirm on declaration 2^31", "post", f"/pay/{OVER}", {"method": "wechat"}, 404),
    ("06 void declaration 2^31", "post", f"/pay/{OVER}/void", {}, 404),
    ("07 declaration id 2^63", "get", "/pay/9223372036854775808", None, 404),
    ("08 record id ²", "get", f"/rm/records/{q(SUP)}", None, 404),
    ("09 record id ①", "get", f"/flex/records/{q(CIRC)}", None, 404),
    ("10 declaration id in full-width digits that overflow", "get", f"/pay/{q(FW_BIG)}", None, 404),
    ("11 negative declaration id", "get", "/pay/-1", None, 404),
    ("12 who of 20 digits", "post", "/rm/pay", {"who": BIG}, 404),
    ("13 who 2^31", "post", "/rm/pay", {"who": OVER}, 404),
    ("14 who ²", "post", "/rm/pay", {"who": SUP}, 404),
    ("15 who ①", "post", "/rm/pay", {"who": CIRC}, 404),
    ("16 who in full-width digits that overflow", "post", "/rm/pay", {"who": FW_BIG}, 404),
    ("17 insured of 20 digits", "get", f"/rm/pay/select?insured={BIG}", None, 302),
    ("18 insured 2^31", "get", f"/rm/pay/select?insured={OVER}", None, 302),
    ("19 insured ²", "get", f"/rm/pay/select?insured={q(SUP)}", None, 302),
    ("20 insured 2^31 posted", "post", "/rm/pay/select", {"insured": OVER, "receivable": "1"}, 302),
    ("21 receivable 2^31", "post", "/rm/pay/select", {"insured": "{payer}", "receivable": OVER}, 422),
    ("22 receivable ²", "post", "/rm/pay/select", {"insured": "{payer}", "receivable": SUP}, 422),
    ("23 receivable of 20 digits", "post", "/rm/pay/select", {"insured": "{payer}", "receivable": BIG}, 422),
    (
        "24 receivable ① among good ones",
        "post",
        "/rm/pay/select",
        {"insured": "{payer}", "receivable": ["1", CIRC]},
        422,
    ),
    (
        "25 receivable in full-width digits that overflow",
        "post",
        "/rm/pay/select",
        {"insured": "{payer}", "receivable": FW_BIG},
        422,
    ),
    ("26 records narrowed to insured of 20 digits", "get", f"/rm/records?insured={BIG}", None, 200),
    ("27 records narrowed to insured 2^31", "get", f"/flex/records?insured={OVER}", None, 200),
    ("28 records narrowed to insured ²", "get", f"/rm/records?insured={q(SUP)}", None, 200),
    (
        "29 fee periods in the year 9999, full-width",
        "get",
        f"/rm/records?start={q('９９９９-１２')}&end={q('９９９９-１２')}",
        None,
        200,
    ),
    ("30 declared range at the end of time", "get", "/rm/declared?start=9999-12-31&end=9999-12-31", None, 200),
    ("31 NUL as an order number", "get", "/pay/orders/%00", None, 400),
    ("32 NUL in a return URL", "get", "/pay/return/wechat/%00", None, 400),
    ("33 NUL in a cancel", "post", "/pay/orders/%00/cancel", {}, 400),
    ("34 NUL in the query", "get", "/rm/declared?start=%00", None, 400),
    (
        "35 NUL in a name",
        "post",
        "/login",
        {"name": "王\x00建国", "id_type": "resident_id", "id_number": "110105198003120032", "agree": "1"},
        400,
    ),
    (
        "36 NUL in the other person's name",
        "post",
        "/rm/pay",
        {"who": "other", "name": "\x00", "id_type": "resident_id", "id_number": "110102195004050010"},
        400,
    ),
    (
        "37 county stdnum does not know, at login",
        "post",
        "/login",
        {"name": "张三", "id_type": "resident_id", "id_number": COUNTY, "agree": "1"},
        422,
    ),
    (
        "38 county stdnum does not know, for the other person",
        "post",
        "/rm/pay",
        {"who": "other", "name": "张三", "id_type": "resident_id", "id_number": COUNTY},
        422,
    ),
    (
        "39 ID with ², at login",
        "post",
        "/login",
        {"name": "张三", "id_type": "resident_id", "id_number": "1101051980031200²2", "agree": "1"},
        422,
    ),
    (
        "40 relation of 10 KB",
        "post",
        "/rm/pay",
        {
            "who": "other",
            "name": "王福生",
            "id_type": "resident_id",
            "id_number": "110102195004050010",
            "relation": "父" * 10240,
        },
        422,
    ),
    ("41 NUL in a void's way back", "post", "/pay/1/void", {"next": "/rm/declared\x00"}, 400),
    ("42 URL longer than 4096", "get", "/rm/records?start=" + "2" * 5000, None, 414),
]


@pytest.mark.parametrize("case, method, path, data, status", CASES, ids=[c[0][:2] for c in CASES])
def test_each_input_that_gave_500_now_gets_a_page_or_a_4xx_and_writes_nothing(
    app, family, wechat_user, case, method, path, data, status
):
    before = (count(app, Person), count(app, Declaration), count(app, FamilyPayee))
    if data is not None:
        data = {k: (v.replace("{payer}", str(family.payer.id)) if isinstance(v, str) else v) for k, v in data.items()}
    r = wechat_user.get(path) if method == "get" else wechat_user.post(path, data)
    assert r.status_code == status, (case, r.status_code, text(r)[:300])
    if status >= 400:
        assert '<h1 class="app-bar__title">' in text(r), case  # the app's page, in its layout
    assert (count(app, Person), count(app, Declaration), count(app, FamilyPayee)) == before, case
    assert broken_rows(app) == []


def test_the_id_messages_for_the_county_and_unicode_digits(wechat_user):
    r = wechat_user.post("/login", {"name": "张三", "id_type": "resident_id", "id_number": COUNTY, "agree": "1"})
    assert "地区码" in text(r) and f'value="{COUNTY}"' in text(r)
    r = wechat_user.post(
        "/rm/pay", {"who": "other", "name": "张三", "id_type": "resident_id", "id_number": "1101051980031200①2"}
    )
    assert "前17位应为数字" in text(r)


def test_a_saved_family_member_chosen_in_full_width_digits_is_found(family, wechat_user):
    fw = str(family.father.id).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    r = wechat_user.post("/rm/pay", {"who": fw})
    assert r.status_code == 303 and r.location.endswith(f"insured={family.father.id}")


@pytest.mark.parametrize(
    "provider, body, status, ack",
    [
        ("wechat", b"\xff\xfe\xfd{not json", 400, None),
        ("alipay", "签名=付款&trade_status=TRADE_SUCCESS".encode("gbk"), 200, b"fail"),
        ("unionpay", b"orderId=\xff\x00&respCode=00", 400, None),
        ("wechat", b'{"resource": {"ciphertext": "\xff"}}', 400, None),
        ("alipay", b"out_trade_no=%00&sign=%FF", 200, b"fail"),
    ],
)
def test_R_PA_5_non_utf8_notification_bodies_are_refused_in_the_providers_words(app, provider, body, status, ack):
    r = app.test_client().post(f"/pay/notify/{provider}", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == status and (ack is None or r.get_data() == ack)
    assert count(app, AuditEvent) == 0  # counted, not written one row each


def test_a_post_with_a_long_request_line_gets_the_414_page(wechat_user):
    r = wechat_user.post("/login?next=/" + "x" * 5000, {"name": "x"})
    assert r.status_code == 414 and "网址过长" in text(r)


@pytest.mark.parametrize("base", ["7²00", "①0000", "٨٠٠٠"])
def test_R_FB_1_a_base_in_unicode_digits_is_refused_with_a_message_and_nothing_declared(app, flex, phone_user, base):
    from webapp.models import BaseDeclaration

    b = phone_user(flex["new"], "alipay")
    b.get("/flex/base")
    before = count(app, BaseDeclaration)
    r = b.post("/flex/base", {"base": base, "cycle": "monthly"})
    assert r.status_code == 422 and "缴费基数须为" in text(r) and count(app, BaseDeclaration) == before
