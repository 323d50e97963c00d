"""The captcha of 记录查验 (R-CE-5), stateless: a random nonce kept in the session, and an answer derived
from it with the app's secret, so the answer is never stored or sent and an image can be drawn again
from the nonce alone. Two kinds: ``image`` (characters drawn by the ``captcha`` package in the view
layer) and ``text``, the non-image alternative for people who cannot read the picture (MIIT 适老化):
a small sum in Chinese words (“七加五等于几？”), answered in digits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

KINDS = ("image", "text")
#: Characters of the image captcha: no 0/O, 1/I/L, 2/Z, 5/S, 8/B lookalikes.
ALPHABET = "3467ACDEFGHJKMNPQRTUVWXY"
LENGTH = 4
_NUMERALS = "零一二三四五六七八九十"


def new_nonce() -> str:
    """A fresh challenge's nonce (URL-safe)."""
    return secrets.token_urlsafe(12)


def _digest(secret: str, nonce: str, kind: str) -> bytes:
    return hmac.new(secret.encode(), f"captcha:{kind}:{nonce}".encode(), hashlib.sha256).digest()


def image_text(secret: str, nonce: str) -> str:
    """The characters the image shows for this nonce."""
    d = _digest(secret, nonce, "image")
    return "".join(ALPHABET[b % len(ALPHABET)] for b in d[:LENGTH])


def question(secret: str, nonce: str) -> tuple[str, str]:
    """The text alternative for this nonce: (question in Chinese words, answer in digits)."""
    d = _digest(secret, nonce, "text")
    a, b = d[0] % 9 + 1, d[1] % 9 + 1
    if d[2] % 2 and a != b:
        a, b = max(a, b), min(a, b)
        return f"{_NUMERALS[a]}减{_NUMERALS[b]}等于几？", str(a - b)
    return f"{_NUMERALS[a]}加{_NUMERALS[b]}等于几？", str(a + b)


def expected(secret: str, nonce: str, kind: str, test_answer: str | None = None) -> str:
    """The answer that passes: the derived one, or ``test_answer`` when a test run set one."""
    if test_answer:
        return test_answer
    return image_text(secret, nonce) if kind == "image" else question(secret, nonce)[1]


def matches(typed: str, answer: str) -> bool:
    """Typed vs. expected: full-width folded, spaces ignored, letters in any case; constant time."""
    clean = "".join(unicodedata.normalize("NFKC", typed or "").split()).upper()
    return bool(clean) and hmac.compare_digest(clean.encode(), answer.upper().encode())
