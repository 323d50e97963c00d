"""Forms (Flask-WTF): each hand-checked POST as a ``FlaskForm`` whose ``validate_<field>`` methods say, in the
guide's Chinese, what is wrong with what was typed. The typed values stay on the form, so a refused page shows
them again.

CSRF is not the forms' business: ``CSRFProtect`` checks every POST before a view runs, with the pre-session
binding of issue 17 (D2, ``views._sessions``), so the forms turn Flask-WTF's own per-form token off.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from ..domain.identity import IdentityError, normalize_id_number
from ..domain.levy import RM_MEDICAL
from ..services import resident_medical as rm


def _stripped(value: str | None) -> str:
    """What was typed, without the spaces around it ("" for a field the request left out)."""
    return (value or "").strip()


class PlainForm(FlaskForm):
    """A form checked field by field; CSRF stays with ``CSRFProtect`` (see the module's docstring)."""

    class Meta:
        csrf = False

    def values(self) -> dict[str, str]:
        """Every field as typed (after its filters), for the template."""
        return {name: field.data if field.data is not None else "" for name, field in self._fields.items()}

    def first_errors(self) -> dict[str, str]:
        """Each refused field's first message, by field name."""
        return {name: str(messages[0]) for name, messages in self.errors.items() if messages}


class OtherInsuredForm(PlainForm):
    """城乡居民医疗 · 他人 (R-RM-1, R-RM-5): the insured person's 姓名, 证件类型, 证件号码, 国籍(地区), and whether
    to save them as a family member (保存为家庭成员) with a relationship."""

    name = StringField(filters=[_stripped])
    id_type = StringField(filters=[_stripped])
    id_number = StringField(filters=[_stripped])
    nationality = StringField(filters=[_stripped])
    save = StringField(filters=[_stripped])
    relation = StringField(filters=[_stripped])

    @classmethod
    def blank(cls) -> OtherInsuredForm:
        """The form as first shown: a 居民身份证 of the 中华人民共和国."""
        return cls(formdata=None, data={"id_type": "resident_id", "nationality": "中华人民共和国"})

    def validate_name(self, field: Field) -> None:
        """Required, at most 30 characters."""
        if not field.data:
            raise ValidationError("请输入参保人姓名")
        if len(field.data) > 30:
            raise ValidationError("姓名过长，请核对")

    def validate_nationality(self, field: Field) -> None:
        """At most 40 characters."""
        if len(field.data) > 40:
            raise ValidationError("国籍(地区)过长，请核对")

    def validate_relation(self, field: Field) -> None:
        """Saving is the payer's choice, and a saved member has one of the offered relationships (R-RM-5)."""
        if (self.save.data or field.data) and field.data not in rm.RELATIONS:
            raise ValidationError(rm.MSG_RELATION)

    def validate_id_number(self, field: Field) -> None:
        """A valid number of the chosen document, kept as the server reads it (full-width digits folded)."""
        try:
            field.data = normalize_id_number(self.id_type.data, field.data)
        except IdentityError as e:
            raise ValidationError(str(e)) from e


class LoginForm(PlainForm):
    """身份验证 (R-ID-1): 姓名, 证件类型, 证件号码, 7天免登录 and the consent (同意《用户服务协议》及《隐私政策》)."""

    name = StringField(filters=[_stripped])
    id_type = StringField(filters=[_stripped])
    id_number = StringField(filters=[_stripped])
    remember = StringField(filters=[_stripped])
    agree = StringField(filters=[_stripped])

    def validate_name(self, field: Field) -> None:
        """Required, at most 30 characters."""
        if not field.data:
            raise ValidationError("请输入姓名")
        if len(field.data) > 30:
            raise ValidationError("姓名过长，请核对")

    def validate_id_number(self, field: Field) -> None:
        """A valid number of the chosen document, kept as the server reads it."""
        try:
            field.data = normalize_id_number(self.id_type.data, field.data)
        except IdentityError as e:
            raise ValidationError(str(e)) from e

    def validate_agree(self, field: Field) -> None:
        """The consent is ticked."""
        if not field.data:
            raise ValidationError("请阅读并同意《用户服务协议》及《隐私政策》")


class TickedField(Field):
    """Checkboxes sharing one name: the values ticked, in order (none when nothing is)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Keep every ticked value."""
        self.data = [str(v) for v in valuelist]


class InsuranceChoiceForm(PlainForm):
    """参保信息选择 (seed 003 §2.1): the 参保险种 ticked before 下一步."""

    insurance = TickedField()

    def validate_insurance(self, field: Field) -> None:
        """城乡居民基本医疗保险 must be ticked."""
        if RM_MEDICAL not in (field.data or []):
            raise ValidationError("请勾选需要缴费的参保险种")
