"""Identity documents (R-ID-2) and masking (R-ID-3)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from stdnum.cn import ric

from .inputs import ascii_digits, fold_fullwidth

# code → label, in the order the guide lists them (R-ID-2).
ID_TYPES: dict[str, str] = {
    "resident_id": "居民身份证",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "foreign_permanent": "外国人永久居留身份证",
    "hmt_residence": "港澳台居民居住证",
    "passport": "护照",
}


class IdentityError(ValueError):
    """A document number that cannot be right; the message is for the user (Chinese)."""


@dataclass(frozen=True)
class IdFacts:
    """What a resident ID number tells about its holder."""

    birth_date: date | None
    sex: str | None  # "M" | "F"


def normalize_id_number(id_type: str, raw: str) -> str:
    """Validate and normalise a document number, raising IdentityError with a Chinese reason."""
    if id_type not in ID_TYPES:
        raise IdentityError("请选择证件类型")
    number = "".join(fold_fullwidth(raw).split()).upper()
    if not number:
        raise IdentityError("请输入证件号码")
    if len(number) > 40:
        raise IdentityError("证件号码格式不正确，请核对")
    if id_type == "resident_id" or id_type == "hmt_residence":
        if len(number) != 18:
            raise IdentityError(f"居民身份证号码应为18位，您输入了{len(number)}位")
        if ascii_digits(number[:17], max_len=17) is None:
            raise IdentityError("居民身份证号码前17位应为数字")
        if number[17] not in "0123456789X":
            raise IdentityError("证件号码校验位不正确，请核对最后一位")
        if number[17] != ric.calc_check_digit(number):
            raise IdentityError("证件号码校验位不正确，请核对最后一位")
        try:
            ric.validate(number)
        except Exception:  # stdnum's ValidationError, and the KeyError of a county it does not know
            raise IdentityError("证件号码中的出生日期或地区码不正确，请核对") from None
        return number
    if len(number) < 5 or len(number) > 30 or not re.fullmatch(r"[0-9A-Z]+", number):
        raise IdentityError("证件号码格式不正确，请核对")
    return number


def facts_from_id(id_type: str, number: str) -> IdFacts:
    """Birth date and sex from a resident ID number (empty for other documents)."""
    if id_type in ("resident_id", "hmt_residence") and len(number) == 18 and ascii_digits(number[:17], max_len=17):
        try:
            birth = ric.get_birth_date(number)
        except Exception:  # any stdnum refusal: no birth date, not a crash
            birth = None
        return IdFacts(birth_date=birth, sex="M" if int(number[16]) % 2 else "F")
    return IdFacts(birth_date=None, sex=None)


def mask_id_number(number: str) -> str:
    """``110101********0012``: keep the first 6 and the last 4 (R-ID-3)."""
    if len(number) <= 10:
        return number[:2] + "*" * max(len(number) - 4, 0) + number[-2:]
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_bank_account(number: str) -> str:
    """``6228 **** **** 0005`` (R-ID-3)."""
    digits = "".join(number.split())
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_name(name: str) -> str:
    """``张*`` / ``欧阳**``: the family name only, as receipts show it to others."""
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 1)


# The simulated identity authority names every document it has no record of deterministically, so that a
# stranger who types some name with a valid number fails the face check like anyone else (R-ID-4). The name
# is keyed with a secret of the instance (issue 17, D5): an unkeyed hash of the number let anyone compute
# the name the face check accepts and log in as any ID the register does not list.
HOLDER_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
)
HOLDER_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯琳晨欣怡子涵梓轩雨"


def register_key(secret: str) -> bytes:
    """The simulated register's own key, derived from the instance's secret (so the secret itself is not
    what names people, and one instance's names say nothing about another's)."""
    return hmac.new(secret.encode(), b"simulated identity register", hashlib.sha256).digest()


def holder_name(key: bytes, id_type: str, number: str) -> str:
    """The name the simulated register gives a document it lists no holder for: two or three characters
    derived from the number with the register's key (``register_key``): the same instance always gives the
    same name, and nobody without the key can work it out."""
    digest = hmac.new(key, f"{id_type}:{number}".encode(), hashlib.sha256).digest()
    name = HOLDER_SURNAMES[digest[0] % len(HOLDER_SURNAMES)] + HOLDER_GIVEN[digest[1] % len(HOLDER_GIVEN)]
    return name + (HOLDER_GIVEN[digest[2] % len(HOLDER_GIVEN)] if digest[3] % 3 else "")
