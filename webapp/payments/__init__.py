"""The payment core. ``base`` is the one adapter interface; ``adapters`` talks to each provider over
HTTP; ``sim`` is the providers' side, simulated; ``orders`` is the app's order state machine.

Configuration (each defaults to the simulation under PUBLIC_BASE_URL and keys in instance/):

| key | default |
| --- | --- |
| WECHAT_BASE_URL | PUBLIC_BASE_URL + /sim/wechat |
| WECHAT_MCHID / WECHAT_APPID | 1900000001 / wx0000000000000001 |
| WECHAT_SERIAL_NO | 3775B6A45ACD588826D15E583A95F5DD |
| WECHAT_MERCHANT_KEY | instance/keys/wechat_merchant.pem |
| WECHAT_PLATFORM_PUBLIC_KEY | instance/sim/keys/wechat_platform.pub.pem |
| WECHAT_APIV3_KEY_FILE | instance/keys/wechat_apiv3.key |
| ALIPAY_GATEWAY_URL / ALIPAY_APP_ID | PUBLIC_BASE_URL + /sim/alipay/gateway.do / 2021000000000001 |
| ALIPAY_APP_PRIVATE_KEY / ALIPAY_PUBLIC_KEY | instance/keys/alipay_app.pem, instance/sim/keys/alipay_platform.pub.pem |
| UNIONPAY_BASE_URL / UNIONPAY_MER_ID | PUBLIC_BASE_URL + /sim/unionpay / 777290058110048 |
| UNIONPAY_SIGN_KEY | instance/keys/unionpay_merchant.pem |
| UNIONPAY_VERIFY_KEY | instance/sim/keys/unionpay_platform.pub.pem |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .adapters import AlipayAdapter, UnionPayAdapter, WechatPayAdapter
from .base import PaymentAdapter
from .crypto import APIV3_KEY, MERCHANT_KEYS, PLATFORM_KEYS
from .transport import Transport


def build_adapters(config: Mapping[str, object], transport: Transport) -> dict[str, PaymentAdapter]:
    """One adapter per provider, from configuration (no Flask)."""
    inst = Path(str(config["INSTANCE_PATH"]))
    base = str(config["PUBLIC_BASE_URL"]).rstrip("/")

    def get(key: str, default: str) -> str:
        value = config.get(key) or os.environ.get(key)
        return str(value) if value else default

    apiv3_file = Path(get("WECHAT_APIV3_KEY_FILE", str(inst / APIV3_KEY)))
    return {
        "wechat": WechatPayAdapter(
            transport, base_url=get("WECHAT_BASE_URL", f"{base}/sim/wechat"), mchid=get("WECHAT_MCHID", "1900000001"),
            appid=get("WECHAT_APPID", "wx0000000000000001"),
            serial_no=get("WECHAT_SERIAL_NO", "3775B6A45ACD588826D15E583A95F5DD"),
            merchant_key=get("WECHAT_MERCHANT_KEY", str(inst / f"{MERCHANT_KEYS['wechat']}.pem")),
            platform_public_key=get("WECHAT_PLATFORM_PUBLIC_KEY", str(inst / f"{PLATFORM_KEYS['wechat']}.pub.pem")),
            apiv3_key=apiv3_file.read_bytes().strip()),
        "alipay": AlipayAdapter(
            transport, gateway_url=get("ALIPAY_GATEWAY_URL", f"{base}/sim/alipay/gateway.do"),
            app_id=get("ALIPAY_APP_ID", "2021000000000001"),
            app_private_key=get("ALIPAY_APP_PRIVATE_KEY", str(inst / f"{MERCHANT_KEYS['alipay']}.pem")),
            alipay_public_key=get("ALIPAY_PUBLIC_KEY", str(inst / f"{PLATFORM_KEYS['alipay']}.pub.pem"))),
        "unionpay": UnionPayAdapter(
            transport, base_url=get("UNIONPAY_BASE_URL", f"{base}/sim/unionpay"),
            mer_id=get("UNIONPAY_MER_ID", "777290058110048"),
            sign_key=get("UNIONPAY_SIGN_KEY", str(inst / f"{MERCHANT_KEYS['unionpay']}.pem")),
            verify_key=get("UNIONPAY_VERIFY_KEY", str(inst / f"{PLATFORM_KEYS['unionpay']}.pub.pem"))),
    }
