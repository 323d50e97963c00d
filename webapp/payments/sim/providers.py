"""The three simulated providers by name."""

from __future__ import annotations

from types import ModuleType

from . import alipay, unionpay, wechat

MODULES: dict[str, ModuleType] = {"wechat": wechat, "alipay": alipay, "unionpay": unionpay}
