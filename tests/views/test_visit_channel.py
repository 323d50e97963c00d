"""The channel named by the QR code holds for the whole visit, for what is shown and what is paid (R-CH-1)."""

from tests.views.flows import declare_for

from ..conftest import HOST_UA, Browser, text


def test_R_CH_1_ch_baidu_inside_wechat_pays_with_alipay(app, providers, family):
    """Inside WeChat, a code with ``?ch=baidu`` shows Baidu's methods; choosing 支付宝 is accepted."""
    b = Browser(app, HOST_UA["wechat"])
    b.get("/rm/pay?ch=baidu")
    b.login(family.payer.name, family.payer.id_number)
    method_url = declare_for(b, family.father.id)
    page = text(b.get(method_url))
    for label in ("微信支付", "支付宝", "银联支付"):
        assert label in page
    r = b.post(method_url, {"method": "alipay"})
    assert r.status_code == 303, text(r)
    assert "请选择本渠道支持的支付方式" not in text(r)
    assert "收银台" in text(b.follow(r))


def test_R_CH_1_a_new_code_changes_the_channel_of_the_visit(app, family):
    b = Browser(app, HOST_UA["wechat"])
    b.get("/?ch=baidu")
    b.login(family.payer.name, family.payer.id_number)
    method_url = declare_for(b, family.father.id)
    assert "支付宝" in text(b.get(method_url))
    b.get("/?ch=wechat")
    page = text(b.get(method_url))
    assert "微信支付" in page and "支付宝" not in page
    r = b.post(method_url, {"method": "alipay"})
    assert r.status_code == 422 and "请选择本渠道支持的支付方式" in text(r)
