"""The captcha of 记录查验 (R-CE-5), stateless: a random nonce kept in the session, and an answer derived
from it with the app's secret, so the answer is never stored or sent and an image or a recording can be
made again from the nonce alone. Two kinds, both drawn by the ``captcha`` package in the view layer:
``image`` (characters over noise dots and a curve) and ``audio``, the non-image alternative for people who
cannot read the picture (MIIT 适老化): four digits read out in Mandarin over a murmur of other digits,
answered in digits. The text alternative it replaces (a sum in Chinese words, “七加五等于几？”) was read by
a small parser ten times out of ten (issue 17, D9): a text alternative is text for any program.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

KINDS = ("image", "audio")
#: Characters of the image captcha: no 0/O, 1/I/L, 2/Z, 5/S, 8/B lookalikes.
ALPHABET = "3467ACDEFGHJKMNPQRTUVWXY"
LENGTH = 4
#: Digits of the audio captcha: not 1 and 7 (一 yī and 七 qī are hard to tell apart under the noise).
AUDIO_DIGITS = "02345689"


def new_nonce() -> str:
    """A fresh challenge's nonce (URL-safe)."""
    return secrets.token_urlsafe(12)


def _digest(secret: str, nonce: str, kind: str) -> bytes:
    return hmac.new(secret.encode(), f"captcha:{kind}:{nonce}".encode(), hashlib.sha256).digest()


def image_text(secret: str, nonce: str) -> str:
    """The characters the image shows for this nonce."""
    d = _digest(secret, nonce, "image")
    return "".join(ALPHABET[b % len(ALPHABET)] for b in d[:LENGTH])


def audio_digits(secret: str, nonce: str) -> str:
    """The digits the recording reads out for this nonce."""
    d = _digest(secret, nonce, "audio")
    return "".join(AUDIO_DIGITS[b % len(AUDIO_DIGITS)] for b in d[:LENGTH])


def expected(secret: str, nonce: str, kind: str, test_answer: str | None = None) -> str:
    """The answer that passes: the derived one, or ``test_answer`` when a test run set one."""
    if test_answer:
        return test_answer
    return audio_digits(secret, nonce) if kind == "audio" else image_text(secret, nonce)


def matches(typed: str, answer: str) -> bool:
    """Typed vs. expected: full-width folded, spaces ignored, letters in any case; constant time."""
    clean = "".join(unicodedata.normalize("NFKC", typed or "").split()).upper()
    return bool(clean) and hmac.compare_digest(clean.encode(), answer.upper().encode())
