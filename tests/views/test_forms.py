"""Forms with Flask-WTF (issue 18 item 3): resident medical's hand-checked fields as ``FlaskForm`` classes with
``validate_<field>``; errors in Chinese, what was typed kept, CSRF left to ``CSRFProtect`` (issue 17 D2)."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from tests.factories import make_resident
from webapp.views._forms import InsuranceChoiceForm, LoginForm, OtherInsuredForm

from ..conftest import text

GOOD = {"name": "王福生", "id_type": "resident_id", "id_number": "", "nationality": "中华人民共和国"}


def _form(app: Flask, **typed: str) -> OtherInsuredForm:
    with app.test_request_context(method="POST"):
        form = OtherInsuredForm(formdata=MultiDict(typed))
        form.validate()
        return form


@pytest.mark.parametrize(
    "typed, field, message",
    [
        ({**GOOD, "name": "  "}, "name", "请输入参保人姓名"),
        ({**GOOD, "name": "王" * 31}, "name", "姓名过长，请核对"),
        ({**GOOD, "nationality": "国" * 41}, "nationality", "国籍(地区)过长，请核对"),
        ({**GOOD, "save": "1"}, "relation", "请选择与参保人的关系"),
        ({**GOOD, "relation": "邻居"}, "relation", "请选择与参保人的关系"),
        ({**GOOD, "id_number": "1101"}, "id_number", "居民身份证号码应为18位，您输入了4位"),
        ({**GOOD, "id_type": "passport?", "id_number": "1"}, "id_number", "请选择证件类型"),
    ],
)
def test_R_RM_1_other_insured_form_refuses_in_chinese(app, typed, field, message):
    """Each field's own ``validate_<field>`` says what is wrong, in the guide's words."""
    form = _form(app, **typed)
    assert form.first_errors()[field] == message


def test_R_RM_5_other_insured_form_keeps_what_was_typed_and_reads_the_number(app, db):
    person = make_resident(db, "王福生")
    typed = person.id_number.replace("1", "１")  # full-width digits from an input method
    form = _form(app, **{**GOOD, "name": " 王福生 ", "id_number": typed, "save": "1", "relation": "父亲"})
    assert form.first_errors() == {}
    assert form.values()["name"] == "王福生" and form.id_number.data == person.id_number
    refused = _form(app, **{**GOOD, "name": "", "id_number": "1101x"})
    assert refused.values()["id_number"] == "1101x"  # kept as typed when refused


def test_insurance_choice_form_needs_the_medical_insurance_ticked(app):
    with app.test_request_context(method="POST"):
        assert InsuranceChoiceForm(formdata=MultiDict([("insurance", "rm_medical")])).validate()
        empty = InsuranceChoiceForm(formdata=MultiDict())
        assert not empty.validate() and empty.first_errors() == {"insurance": "请勾选需要缴费的参保险种"}


def test_R_RM_1_refused_other_form_page_keeps_the_typed_values(wechat_user):
    """On the page: 422, the message beside the field, the typed name and number still in the inputs."""
    r = wechat_user.post(
        "/rm/pay",
        {"who": "other", "name": "李某某", "id_type": "resident_id", "id_number": "11010519800101", "save": "1"},
    )
    page = text(r)
    assert r.status_code == 422
    assert "居民身份证号码应为18位，您输入了14位" in page and "请选择与参保人的关系" in page
    assert 'value="李某某"' in page and 'value="11010519800101"' in page


@pytest.mark.parametrize(
    "typed, errors",
    [
        ({"id_type": "resident_id", "id_number": "1"}, {"name", "id_number", "agree"}),
        ({"name": "王" * 31, "id_type": "resident_id", "id_number": "110105198003120032", "agree": "1"}, {"name"}),
        ({"name": "王建国", "id_type": "resident_id", "id_number": "110105198003120032", "agree": "1"}, set()),
    ],
)
def test_R_ID_1_login_form_checks_each_field_in_chinese(app, typed, errors):
    """身份验证: 姓名, 证件号码 and the consent, each refused by its own validator; the number is read as the server
    reads it."""
    with app.test_request_context(method="POST"):
        form = LoginForm(formdata=MultiDict(typed))
        form.validate()
    assert set(form.first_errors()) == errors
    if "agree" in errors:
        assert form.first_errors()["agree"] == "请阅读并同意《用户服务协议》及《隐私政策》"
