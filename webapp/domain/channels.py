"""Channels (渠道) and the payment methods each offers (R-CH-1)."""

from __future__ import annotations

CHANNELS: dict[str, str] = {
    "wechat": "京通（微信）",
    "alipay": "京通（支付宝）",
    "baidu": "京通（百度）",
    "etax-app": "电子税务局APP",
    "etax-web": "电子税务局网页版",
    "window": "税务窗口",
    "batch": "银行批扣",
}

METHOD_LABELS: dict[str, str] = {
    "wechat": "微信支付",
    "alipay": "支付宝",
    "unionpay": "银联支付",
    "agreement": "协议支付",
}

# R-CH-1, seed 000 Q36 and seed 004. Agreement payment in the Alipay host only in resident flows.
_METHODS: dict[str, tuple[str, ...]] = {
    "wechat": ("wechat",),
    "alipay": ("alipay", "agreement"),
    "baidu": ("wechat", "alipay", "unionpay", "agreement"),
    "etax-app": ("wechat", "alipay", "unionpay"),
    "etax-web": ("unionpay",),
    "window": ("agreement",),
}

RESIDENT_SCHEMES = ("rm", "rp")


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
    """Payment methods the channel offers for a scheme (R-CH-1).

    Agreement payment is only offered where the channel has it, for the Alipay host only in
    resident flows, and only when the simulated agreement core exists (``agreements_available``).
    """
    methods = list(_METHODS.get(channel, _METHODS["etax-web"]))
    if channel == "alipay" and scheme not in RESIDENT_SCHEMES and "agreement" in methods:
        methods.remove("agreement")
    if not agreements_available and "agreement" in methods:
        methods.remove("agreement")
    return methods
