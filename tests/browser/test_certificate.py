"""A resident pays, the calendar moves past treasury posting, and on the phone she applies for the
certificate, waits for 制作成功, looks at it and downloads it; the PDF opens with its password and says
what it should (pdftotext); its QR code (read back with zxing-cpp from the page rendered by pdftoppm)
opens 记录查验 pre-filled, which shows the certificate; a wrong code is refused
(R-CE-1 … R-CE-6, R-CH-2, R-UX-1 for the new buttons). Every step is screenshotted to tests/artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import make_resident
from webapp import jobs

from .conftest import ARTIFACTS, LiveServer, Phone
from .test_family_payment import login, pay_at_cashier

NAME, NUMBER = "钱多多", "11010519860317048X"
PASSWORD = "17048X"
CAPTCHA = "7K3Q"


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool} (apt-get install poppler-utils, or `make browsers`)")


def test_R_CE_1_to_R_CE_6_pay_post_apply_download_open_and_verify_on_a_phone(
    live_server: LiveServer, phone: Callable[[str], Phone], tmp_path: Path
) -> None:
    _need("pdftotext")
    _need("pdftoppm")
    import zxingcpp
    from PIL import Image

    app = live_server.app
    app.config["CAPTCHA_TEST_ANSWER"] = CAPTCHA
    queued: list[int] = []
    app.extensions["certificate_maker"] = queued.append  # made by the job below, as with the huey queue
    with app.extensions["db_sessionmaker"]() as s:
        make_resident(s, NAME, number=NUMBER, birth=date(1986, 3, 17))
        s.commit()

    ph = phone("wechat")
    page = ph.page
    ph.open("/?ch=wechat")
    login(ph, NAME, NUMBER)

    # Pay this year's resident medical premium for herself.
    ph.tap(page.locator(".app-tile", has_text="城乡居民医疗"))
    ph.tap(page.get_by_role("button", name=f"本人：{NAME}"))
    expect(page.get_by_text("请勾选需要缴费的参保险种")).to_be_visible()
    ph.tap(page.get_by_role("button", name="下一步", exact=True))  # 参保信息选择 (seed 003 §2.1)
    ph.tap(page.get_by_role("button", name="提交"))
    ph.tap(page.get_by_role("button", name="确认缴费"))
    pay_at_cashier(ph, "微信支付", "795.00")
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()

    # The record says when it can be certified (R-CE-2); the records page has 更多相关操作 → 证明申请.
    ph.open("/rm/records")
    card = page.locator(".app-card").filter(has_text=NAME)
    expect(card).to_contain_text("预计2026-11-24入库后可开具缴费证明")
    ph.shot("records-before-posting")

    # Two working days later the posting job has run.
    app.extensions["clock"].set(date(2026, 11, 25))
    assert jobs.post_payments(app) >= 1
    page.reload()
    expect(card).to_contain_text("已入库，可开具缴费证明")
    ph.tap(page.get_by_text("更多相关操作"))
    ph.shot("more-actions")
    ph.tap(page.get_by_role("link", name="证明申请"))

    # 记录打印 → 勾选 → 开具缴费记录 → 记录下载, 制作中 → (the job) → 制作成功 by itself.
    expect(page.get_by_text("征收税务机关").first).to_be_visible()
    expect(page.locator(".cert-group")).to_contain_text("¥795.00")
    ph.shot("print")
    ph.tap(page.get_by_role("button", name="开具缴费记录"))  # every record ticked (勾选缴费记录, seed 000 §6)
    request = page.locator(".cert-request").first
    expect(request).to_contain_text("制作中")
    expect(page.get_by_text("PDF密码为证件号码后6位")).to_be_visible()
    ph.shot("making")
    assert queued and jobs.make_waiting_certificates(app, older_than_seconds=0) == 1
    expect(request).to_contain_text("制作成功", timeout=10_000)  # htmx polling picked it up
    expect(page.locator("#cert-list[hx-get]")).to_have_count(0)  # and stopped
    ph.shot("made")
    for name in ("查看", "下载"):  # R-UX-1: taps are at least 44 × 44 in the standard mode (60 in 长辈版)
        box = request.get_by_role("link", name=name).bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (name, box)

    # 查看: the page as an image to long-press.
    ph.tap(request.get_by_role("link", name="查看"))
    image = page.locator("img.cert-page")
    expect(image).to_have_count(1)
    page.wait_for_function("() => document.querySelector('img.cert-page').complete")  # loaded (slow under load)
    assert image.evaluate("img => img.complete && img.naturalWidth") > 1000
    ph.shot("view")
    page.go_back()

    # 下载: the PDF, opened with the password.
    with page.expect_download() as info:
        page.locator(".cert-request").first.get_by_role("link", name="下载").click()
    pdf = tmp_path / "certificate.pdf"
    info.value.save_as(pdf)
    locked = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True)
    assert locked.returncode != 0 and "password" in locked.stderr.lower()
    out = subprocess.run(
        ["pdftotext", "-layout", "-upw", PASSWORD, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = "".join(out.split())
    for field in (
        "社会保险费缴费证明",
        "证明编号",
        "证明校验码",
        NAME,
        NUMBER,
        "征收税务机关",
        "电子税票号码",
        "社保经办机构",
        "人员编号",
        "征收项目",
        "征收品目",
        "征收子目",
        "入(退)库日期",
        "实缴(退)金额",
        "2026-11-24",
        "795.00",
        "柒佰玖拾伍元整",
        "特此证明",
        "开具机关",
        "开具日期：2026年11月25日",
        "第1页共1页",
    ):
        assert field in flat, field
    check_code = flat.split("证明校验码：")[1][:16]
    assert check_code.isdigit() and len(check_code) == 16

    # Look at it as a reader would, and read its QR code back.
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-upw", PASSWORD, str(pdf), str(ARTIFACTS / "certificate-pdf")], check=True
    )
    rendered = sorted(ARTIFACTS.glob("certificate-pdf*.png"))[-1]
    codes = zxingcpp.read_barcodes(Image.open(rendered))
    urls = [c.text for c in codes if c.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(urls) == 1 and urls[0].startswith(f"{live_server.url}/verify?code={check_code}&k=")
    assert NUMBER not in urls[0]  # R-ID-3: no URL carries the document number

    # The QR code opens 记录查验 pre-filled; the captcha answered, it shows the certificate, masked.
    page.goto(urls[0])
    expect(page.get_by_text("已由二维码填入")).to_be_visible()
    expect(page.get_by_label("证明校验码")).to_have_value(check_code)
    page.get_by_label("验证码").fill(CAPTCHA)
    ph.shot("verify-from-qr")
    ph.tap(page.get_by_role("button", name="开始校验"))
    result = page.locator(".verify-result")
    expect(result).to_contain_text("校验通过")
    expect(result).to_contain_text("钱**")
    expect(result).to_contain_text("110105********048X")
    expect(result).to_contain_text("¥795.00")
    ph.shot("verify-ok")

    # A wrong code is refused, plainly.
    ph.open("/verify")
    page.get_by_label("纳税人识别号").fill(NUMBER)
    page.get_by_label("证明校验码").fill(str((int(check_code) + 1) % 10**16).zfill(16))
    page.get_by_label("验证码").fill(CAPTCHA)
    ph.tap(page.get_by_role("button", name="开始校验"))
    expect(page.locator(".verify-failed")).to_contain_text("校验不通过")
    expect(page.locator(".verify-result")).to_have_count(0)
    ph.shot("verify-refused")

    # The non-image alternative is one tap away.
    box = page.get_by_role("button", name="看不清，换一张").bounding_box()
    assert box and box["height"] >= 44, box  # R-UX-1 (standard mode; 60 in 长辈版)
    ph.tap(page.get_by_role("button", name="改用语音验证码"))
    expect(page.locator("audio.verify-captcha__audio")).to_be_visible()
    expect(page.get_by_text("请输入听到的4位数字")).to_be_visible()
    expect(page.get_by_label("验证码")).to_have_attribute("inputmode", "numeric")
    ph.shot("verify-audio-captcha")
