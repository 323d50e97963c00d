"""Qingdao on a phone, the 税税通 certificate and 云闪付's menus (seed 002 §五 and 云闪付; R-QD-7, R-QD-8): each from
its ``?ch=`` entry to the PDF (decrypted with its password, rendered by pdftoppm, read by pdftotext) or to 完成; one in
长辈版. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader, PdfWriter

from .conftest import ARTIFACTS, LiveServer
from .test_qingdao import LIN_HAI, SUN_LAN, qd_phone, settled  # noqa: F401 (qd_phone is a fixture)


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"needs {tool} (apt-get install poppler-utils, or `make browsers`)")


def test_R_QD_7_qd_sst_社保费完税证明_代他人开具_to_the_pdf(live_server: LiveServer, qd_phone, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """税税通APP · 五、开具税收完税（费）证明: 实名认证 (our login) → 查询 · 公众查询 · 社保费完税证明 → 代他人开具 →
    填写人员身份证号, 选择费款所属期 → 查询 → 开具 → 确定 → the PDF, which opens with 林海's ID's last 6 only."""
    _need("pdftoppm")
    _need("pdftotext")
    ph = qd_phone("qd-sst", "standard")
    page = ph.page
    page.goto(f"{ph.base}/qd?ch=qd-sst")
    expect(page.get_by_role("heading", name="身份验证")).to_be_visible()
    page.get_by_label("姓名").fill(SUN_LAN[0])
    page.get_by_label("证件号码").fill(SUN_LAN[1])
    page.locator("#f-agree").check()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("heading", name="人脸识别")).to_be_visible()
    page.get_by_role("button", name="开始人脸识别").click()
    expect(page.get_by_role("heading", name="灵活就业、居民社保费缴纳")).to_be_visible()
    page.get_by_role("link", name="查询 · 公众查询 · 社保费完税证明").click()
    expect(page.get_by_role("heading", name="社保费完税证明")).to_be_visible()
    page.locator("label[for=f-mode-other]").click()
    page.get_by_label("姓名").fill(LIN_HAI[0])
    page.get_by_label("人员身份证号").fill(LIN_HAI[1])
    ph.shot("cert-form")
    page.get_by_role("button", name="查询").click()
    expect(page.locator(".qd-cert-rows .weui-cell").first).to_be_visible()
    expect(page.get_by_label("人员身份证号")).to_have_value(LIN_HAI[1])  # what was typed, kept
    ph.shot("cert-query")
    page.get_by_role("button", name="开具").click()
    expect(page.get_by_role("heading", name="完税（费）证明")).to_be_visible()
    expect(page.locator(".qd-cert-number")).to_have_text(re.compile(r"^3702\d{16}$"))
    expect(page.locator("img.cert-page").first).to_be_visible()
    ph.shot("cert-view")
    with page.expect_download() as d:
        page.get_by_role("link", name="确定").click()
    pdf = tmp_path / "cert.pdf"
    d.value.save_as(pdf)
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert reader.is_encrypted and reader.decrypt(SUN_LAN[1][-6:]) == 0  # the issuer's own number does not open it
    reader = PdfReader(io.BytesIO(pdf.read_bytes()))
    assert reader.decrypt(LIN_HAI[1][-6:]) != 0
    writer = PdfWriter(clone_from=reader)
    plain = tmp_path / "plain.pdf"
    with plain.open("wb") as f:
        writer.write(f)
    words = subprocess.run(["pdftotext", "-layout", str(plain), "-"], capture_output=True, text=True, check=True)
    assert "国家税务总局青岛市税务局" in words.stdout and LIN_HAI[1] in words.stdout and "林海" in words.stdout
    assert "完" in words.stdout and "证明编号：3702" in words.stdout
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(plain), str(ARTIFACTS / "qd2-cert")], check=True
    )
    assert (ARTIFACTS / "qd2-cert-1.png").exists()


def test_R_QD_8_qd_unionpay_社保养老自助缴费_elder(live_server: LiveServer, qd_phone) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """银联云闪付 · 一、社保（养老）自助缴费, 长辈版: 首页 → 输入姓名、证件类型、证件号码，选择缴费所属期 → the base
    (6000, 已核定; 基数作废 and 是否允许用于批扣 in the page) → 应缴费信息 → 确认缴费 → 订单金额, 确定 → 银联 →
    缴费成功, 完成; then 缴费明细查询 with the refund promise."""
    ph = qd_phone("qd-unionpay", "elder")
    page = ph.page
    page.goto(f"{ph.base}/qd?ch=qd-unionpay")
    page.locator(".qd-up-menus a").click()
    expect(page.get_by_text("社保（医保）费补缴")).to_be_visible()
    ph.shot("up-home")
    page.get_by_role("link", name=re.compile("社保（养老）自助缴费")).click()
    expect(page.get_by_role("heading", name="社保（养老）自助缴费")).to_be_visible()
    page.get_by_label("姓名").fill(LIN_HAI[0])
    page.get_by_label("证件号码").fill(LIN_HAI[1])
    ph.shot("up-menu")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator(".qd-up-current")).to_have_text("6000")
    expect(page.get_by_role("button", name="基数作废")).to_be_visible()
    expect(page.get_by_text("缴费基数是否允许用于批扣")).to_be_visible()
    expect(page.locator("#total")).to_contain_text("¥2,400.00")
    ph.shot("up-selfpay")
    page.get_by_role("button", name="确认缴费").click()
    expect(page.locator(".qd-order-amount")).to_have_text("¥2,400.00")
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_text("银联在线支付收银台（模拟）")).to_be_visible()
    page.get_by_label("支付密码").fill("123456")
    page.get_by_role("button", name="确认支付").click()
    expect(page.get_by_role("heading", name="缴费成功")).to_be_visible()
    ph.shot("up-result")
    page.get_by_role("link", name="完成").click()
    assert settled(live_server) == 2
    page.goto(f"{ph.base}/qd/unionpay/pension/records")
    expect(page.get_by_text("如有已扣款缴费未成功的情况，费用将自动退款").first).to_be_visible()
    expect(page.locator(".qd-records .weui-cell").first).to_be_visible()
    ph.shot("up-records")
