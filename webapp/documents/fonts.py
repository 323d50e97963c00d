"""The CJK font the certificate is drawn in: Debian's fonts-wqy-microhei (文泉驿微米黑), a TrueType
collection, registered with reportlab ONCE per process (parsing it takes ~0.2 s) and embedded in each
PDF as a subset of the characters used.
"""

from __future__ import annotations

import os
import threading

DEFAULT_FONT_PATH = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FONT_NAME = "WQYMicroHei"
INSTALL_HINT = "apt-get install fonts-wqy-microhei"
_lock = threading.Lock()
_registered: str | None = None


class FontMissing(RuntimeError):
    """The CJK font file is not installed."""


def cjk_font(path: str = DEFAULT_FONT_PATH) -> str:
    """Register the font (first call only) and return its reportlab name."""
    global _registered
    if _registered is not None:
        return _registered
    with _lock:
        if _registered is None:
            if not os.path.exists(path):
                raise FontMissing(f"CJK font not found at {path} ({INSTALL_HINT})")
            from reportlab.pdfbase import pdfmetrics  # reportlab is loaded where certificates are drawn
            from reportlab.pdfbase.ttfonts import TTFont

            # subfontIndex 0 of the .ttc is 文泉驿微米黑 (1 is the monospaced 等宽微米黑).
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
            _registered = FONT_NAME
    return _registered
