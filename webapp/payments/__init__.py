"""The payment core, free of Flask. ``base`` is the one adapter interface; ``wechat``, ``alipay`` and
``unionpay`` speak to each provider over HTTP; ``orders`` is the app's order state machine; ``sim`` is
the providers' side, simulated, as a server of its own.

Every setting comes from ``webapp.config`` (the provider URLs, merchant ids and key files); by default
they point at the simulated providers and at keys generated under ``instance/`` on first run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .alipay import AlipayAdapter
from .bank import BankAdapter
from .base import Now, PaymentAdapter
from .crypto import APIV3_KEY, MERCHANT_KEYS, PLATFORM_KEYS
from .transport import Transport
from .unionpay import UnionPayAdapter
from .wechat import WechatPayAdapter


def build_adapters(config: Mapping[str, object], transport: Transport, now: Now) -> dict[str, PaymentAdapter]:
    """One adapter per provider, from the app's configuration."""
    inst = Path(str(config["INSTANCE_PATH"]))

    def get(key: str, default: str) -> str:
        value = config.get(key)
        return str(value) if value else default

    apiv3_file = Path(get("WECHAT_APIV3_KEY_FILE", str(inst / APIV3_KEY)))
    return {
        "wechat": WechatPayAdapter(
            transport,
            base_url=str(config["WECHAT_BASE_URL"]),
            mchid=get("WECHAT_MCHID", "1900000001"),
            appid=get("WECHAT_APPID", "wx0000000000000001"),
            serial_no=get("WECHAT_SERIAL_NO", "3775B6A45ACD588826D15E583A95F5DD"),
            merchant_key=get("WECHAT_MERCHANT_KEY", str(inst / f"{MERCHANT_KEYS['wechat']}.pem")),
            platform_public_key=get("WECHAT_PLATFORM_PUBLIC_KEY", str(inst / f"{PLATFORM_KEYS['wechat']}.pub.pem")),
            platform_key_id=get("WECHAT_PLATFORM_KEY_ID", "") or None,
            apiv3_key=apiv3_file.read_bytes().strip(),
            now=now,
        ),
        "alipay": AlipayAdapter(
            transport,
            gateway_url=str(config["ALIPAY_GATEWAY_URL"]),
            app_id=get("ALIPAY_APP_ID", "2021000000000001"),
            app_private_key=get("ALIPAY_APP_PRIVATE_KEY", str(inst / f"{MERCHANT_KEYS['alipay']}.pem")),
            alipay_public_key=get("ALIPAY_PUBLIC_KEY", str(inst / f"{PLATFORM_KEYS['alipay']}.pub.pem")),
            now=now,
        ),
        "unionpay": UnionPayAdapter(
            transport,
            base_url=str(config["UNIONPAY_BASE_URL"]),
            mer_id=get("UNIONPAY_MER_ID", "777290058110048"),
            sign_key=get("UNIONPAY_SIGN_KEY", str(inst / f"{MERCHANT_KEYS['unionpay']}.pem")),
            sign_public_key=get("UNIONPAY_SIGN_PUBLIC_KEY", str(inst / f"{MERCHANT_KEYS['unionpay']}.pub.pem")),
            verify_key=get("UNIONPAY_VERIFY_KEY", str(inst / f"{PLATFORM_KEYS['unionpay']}.pub.pem")),
            now=now,
        ),
        "agreement": BankAdapter(
            transport,
            base_url=str(config["BANK_BASE_URL"]),
            merchant_key=get("BANK_MERCHANT_KEY", str(inst / f"{MERCHANT_KEYS['bank']}.pem")),
            bank_public_key=get("BANK_PUBLIC_KEY", str(inst / f"{PLATFORM_KEYS['bank']}.pub.pem")),
            now=now,
        ),
    }
