"""Channels (渠道) and the payment methods each offers (R-CH-1)."""

from __future__ import annotations

from .schemes import SCHEMES

CHANNELS: dict[str, str] = {
    "wechat": "京通（微信）",
    "alipay": "京通（支付宝）",
    "baidu": "京通（百度）",
    "etax-app": "电子税务局APP",
    "etax-web": "电子税务局网页版",
    "window": "税务窗口",
    "batch": "银行批扣",
    # Qingdao (seed 002, R-QD-1): each of the handbook's five entries is a channel of its own.
    "qd-wechat": "“青岛税务”微信公众号",
    "qd-city": "微信“城市服务”",
    "qd-alipay": "支付宝“市民中心”",
    "qd-sst": "税税通APP",
    "qd-unionpay": "银联云闪付",
}

METHOD_LABELS: dict[str, str] = {
    "wechat": "微信支付",
    "alipay": "支付宝",
    "unionpay": "银联支付",
    "agreement": "协议支付",
}

# R-CH-1 as SPEC.md's table has it: (resident medical / pension, flexible workers). Seed 004 §1.9 shows 京通 in
# Alipay offering 协议支付 and 支付宝 to flexible workers too; seed 003 §1.1, §1.2, §2.1 pay resident pension and
# medical by 协议支付 in the e-Tax app; Q36 gives 京通 in Baidu and the e-Tax app 微信/支付宝/银联 for flexible
# workers (no 协议支付: seed 004 §1.1 shows Baidu's four methods on the resident medical page only).
_METHODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "wechat": (("wechat",), ("wechat",)),
    "alipay": (("alipay", "agreement"), ("alipay", "agreement")),
    "baidu": (("wechat", "alipay", "unionpay", "agreement"), ("wechat", "alipay", "unionpay")),
    "etax-app": (("wechat", "alipay", "unionpay", "agreement"), ("wechat", "alipay", "unionpay")),
    "etax-web": (("unionpay",), ("unionpay",)),
    "window": (("agreement",), ("agreement",)),
    # Qingdao (R-QD-1): the two WeChat entries pay by 微信支付, 支付宝“市民中心” by 支付宝, 云闪付 by 银联 (seed 002).
    # 税税通 is the tax bureau's own app, inside no wallet: the handbook's 第六步/第七步 show 订单金额 and 交易密码
    # without naming a wallet, so it offers the three the e-Tax app offers flexible workers (Q36), as a
    # stand-alone app can (docs/qingdao.md).
    "qd-wechat": (("wechat",), ("wechat",)),
    "qd-city": (("wechat",), ("wechat",)),
    "qd-alipay": (("alipay",), ("alipay",)),
    "qd-sst": (("wechat", "alipay", "unionpay"), ("wechat", "alipay", "unionpay")),
    "qd-unionpay": (("unionpay",), ("unionpay",)),
}

#: How a payment record names an agreement payment (a batch debit or 协议支付): the guide's record reads
#: 缴费渠道 本系统, 缴费方式 三方协议 (seed 000 §5, 缴费记录查询).
RECORD_AGREEMENT = ("本系统", "三方协议")


def record_channel(channel: str, method: str) -> str:
    """缴费渠道 as a payment record shows it (R-CE-1)."""
    return RECORD_AGREEMENT[0] if method == "agreement" else CHANNELS.get(channel, channel)


def record_method(method: str) -> str:
    """缴费方式 as a payment record shows it (R-CE-1)."""
    return RECORD_AGREEMENT[1] if method == "agreement" else METHOD_LABELS.get(method, method)


def channel_from(param: str | None, user_agent: str | None) -> str | None:
    """The channel a request names: ``?ch=`` first, then the host app in the user agent."""
    if param in CHANNELS and param not in ("window", "batch"):
        return param
    ua = user_agent or ""
    if "MicroMessenger" in ua:
        return "wechat"
    if "AlipayClient" in ua:
        return "alipay"
    if "baiduboxapp" in ua:
        return "baidu"
    return None


def visit_channel(param: str | None, user_agent: str | None, stored: str | None) -> str | None:
    """The channel for the rest of the visit (R-CH-1, R-CH-2): a valid ``?ch=`` on the QR code's URL sets it;
    without one, the channel already stored for this visit stays, whatever the user agent says (so the
    methods shown and the methods a payment is checked against are the same); only a visit without a stored
    channel takes it from the host app in the user agent."""
    if param in CHANNELS and param not in ("window", "batch"):
        return param
    if stored in CHANNELS and stored not in ("window", "batch"):
        return stored
    return channel_from(None, user_agent)


def methods_for(channel: str, scheme: str, *, agreements_available: bool = True) -> list[str]:
    """Payment methods the channel offers for a scheme (R-CH-1's table); 协议支付 only when the simulated
    agreement core exists (``agreements_available``)."""
    resident, flexible = _METHODS.get(channel, _METHODS["etax-web"])
    entry = SCHEMES.get(scheme)
    methods = list(flexible if entry is not None and entry.methods_column == "flexible" else resident)
    if not agreements_available and "agreement" in methods:
        methods.remove("agreement")
    return methods
