"""The QR poster on a 390 px phone and on A4 paper (R-CH-2)."""

from __future__ import annotations

from collections.abc import Callable

import pypdfium2 as pdfium

from .conftest import LiveServer, Phone


def test_R_CH_2_the_poster_fits_a_390px_phone_and_prints_on_a4(
    live_server: LiveServer, phone: Callable[[str], Phone]
) -> None:
    ph = phone("wechat")
    ph.open("/qr")
    page = ph.page
    assert page.viewport_size["width"] == 390
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('.qr-poster figure')].map(f => f.getBoundingClientRect().right))"
    )
    assert widest <= 390, widest
    ph.shot("poster-phone")
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('.app-tabbar')).display") == "none"
    assert page.evaluate("getComputedStyle(document.querySelector('.app-bar')).display") == "none"
    columns = page.evaluate("getComputedStyle(document.querySelector('.qr-poster')).gridTemplateColumns")
    assert len(columns.split()) == 4, columns
    pdf = pdfium.PdfDocument(page.pdf(prefer_css_page_size=True, print_background=True))
    sizes = [tuple(round(x) for x in pdf[i].get_size()) for i in range(len(pdf))]
    assert sizes and all(s == (595, 842) for s in sizes), sizes  # A4 portrait, in points
    assert len(sizes) <= 4, len(sizes)  # 40 Beijing codes and 5 Qingdao ones (R-QD-1), four to a row
