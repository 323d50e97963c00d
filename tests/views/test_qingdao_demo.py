"""The Qingdao demo people (issue 19 item 7): seeded through the importer, each in the role the README names."""

from __future__ import annotations

import json

from flask import Flask

from tests.conftest import Browser, text


def _enter(app: Flask, name: str, number: str, channel: str = "qd-wechat") -> Browser:
    b = Browser(app)
    b.get(f"/qd?ch={channel}")
    r = b.post("/qd", {"name": name, "id_type": "resident_id", "id_number": number})
    assert r.status_code == 303, text(r)
    return b


def test_R_QD_5_demo_people_play_their_roles(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0  # idempotent: the file loads again unchanged
    people = {p["roles"][0]: p for p in json.loads(runner.invoke(args=["demo", "people", "--json"]).output)}
    assert {"qd-flex", "qd-no-base", "qd-arrears"} <= set(people)
    flex = _enter(app, people["qd-flex"]["name"], people["qd-flex"]["id_number"])
    page = text(flex.get("/qd/pay"))
    assert "缴费基数：6000" in page and "应缴金额：¥2,400.00（2笔）" in page  # this month and last, per insurance
    records = text(flex.get("/qd/records"))
    assert "2026-01" in records and "1,200.00" in records  # earlier months paid
    no_base = _enter(app, people["qd-no-base"]["name"], people["qd-no-base"]["id_number"], "qd-city")
    assert "尚未选择缴费基数" in text(no_base.get("/qd/pay"))
    arrears = _enter(app, people["qd-arrears"]["name"], people["qd-arrears"]["id_number"], "qd-unionpay")
    special = text(arrears.get("/qd/special"))
    assert "应缴金额：¥3,300.00（3笔）" in special and "应缴金额：¥1,485.00（3笔）" in special
