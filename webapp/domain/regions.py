"""The regions this app serves, as one registry (issue 19 item 1): a new region is one entry here, its rows
in the policy tables (``data/*.csv``, keyed by region) and its templates' words.

A region says how a visitor proves who they are (``entry``), the channels whose codes lead to it, the modules
its pages show, the words its pages use, and who issues its certificates with which number prefixes. The
channel of the code scanned (``?ch=``) picks the region (``region_of_channel``); a person's enrolment says
where they are insured (``Enrolment.region``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EntryStyle(StrEnum):
    """How a region's pages find the person: 京通's real-name login with a face check, or the Qingdao public
    accounts' 姓名 + 证件类型 + 证件号码 with no face check (seed 002 第二步)."""

    FACE = "face"
    NAME_ID = "name_id"


@dataclass(frozen=True)
class Region:
    """One region: its name, channels, entry style, modules, labels and certificate numbering."""

    code: str
    name: str  # 北京市, 青岛市
    channels: tuple[str, ...]  # channel codes whose QR codes lead here (domain.channels)
    entry: EntryStyle
    entry_endpoint: str  # the region's first page
    modules: tuple[tuple[str, str], ...]  # (label, endpoint) shown after the entry, in the guide's order
    labels: dict[str, str] = field(default_factory=dict)  # the words the region's pages use
    certificate_issuer: str = ""  # who the certificate names as issuer (开具机关's authority)
    certificate_prefix: str = ""  # 证明编号 prefix (the division code: 11, 3702)
    e_ticket_prefix: str = ""  # 电子税票号码 prefix (6 digits)
    certificate_title: str = "社会保险费缴费证明"  # the PDF's title and 记录查验's 证明名称
    # Channels that need the app's own real-name login before the region's entry (税税通, seed 002 第一步).
    login_first: tuple[str, ...] = ()
    # The module each channel's host app opens (seed 002 第一步), where the region names one per channel.
    module_names: dict[str, str] = field(default_factory=dict)
    entry_path: str = "/"  # the poster's code for each channel (R-CH-2: never changes)

    def module_name(self, channel: str | None) -> str:
        """The host app's name of the module a channel opens, else the region's service name."""
        return self.module_names.get(channel or "", self.labels.get("service", ""))

    def label(self, key: str) -> str:
        """A word of this region's pages (KeyError for a key it does not define: a template bug)."""
        return self.labels[key]


BEIJING = Region(
    code="beijing",
    name="北京市",
    channels=("wechat", "alipay", "baidu", "etax-app", "etax-web", "window"),
    entry=EntryStyle.FACE,
    entry_endpoint="hall.index",
    modules=(
        ("城乡居民医疗", "resident_medical.pay"),
        ("城乡居民养老", "resident_pension.pay"),
        ("灵活就业", "flexible.pay"),
    ),
    labels={"service": "社保费办理", "app": "京通"},
    certificate_issuer="国家税务总局北京市税务局",
    certificate_prefix="11",  # 北京's administrative division code (GB/T 2260: 11)
    e_ticket_prefix="411000",
)

QINGDAO = Region(
    code="qingdao",
    name="青岛市",
    channels=("qd-wechat", "qd-city", "qd-alipay", "qd-sst", "qd-unionpay"),
    entry=EntryStyle.NAME_ID,
    entry_endpoint="qingdao.index",
    modules=(
        ("缴费", "qingdao.pay"),
        ("缴费档次或基数选择", "qingdao.base"),
        ("特殊缴费", "qingdao.special"),
    ),
    labels={"service": "社保缴费", "app": "青岛税务"},
    certificate_issuer="国家税务总局青岛市税务局",
    # ASSUMPTION (seed 002 prints no certificate): 青岛's administrative division code 3702 stands where Beijing's
    # 11 does, so 证明编号 start 3702 and e-tickets 4 + 37020 the way Beijing's start 4 + 11000
    # (docs/qingdao-certificates.md).
    certificate_prefix="3702",
    e_ticket_prefix="437020",
    certificate_title="完税（费）证明",  # seed 002 §五: 开具税收完税（费）证明 → 所下载的完税（费）证明
    login_first=("qd-sst",),
    module_names={
        "qd-wechat": "社保缴费",  # “青岛税务”微信公众号 → 微服务 → 社保缴费
        "qd-city": "青岛税务社会保险缴费",  # 城市服务 → 社保综合 → 青岛税务社会保险缴费
        "qd-alipay": "青岛税务社保缴费",  # 市民中心 → 办事大厅 → 社保 → 青岛税务社保缴费
        "qd-sst": "灵活就业、居民社保费缴纳",  # 税税通 → 办税 → 个人办税
        "qd-unionpay": "社保缴费",  # 云闪付 → 城市服务 → 社保缴费
    },
    entry_path="/qd",
)

REGIONS: dict[str, Region] = {r.code: r for r in (BEIJING, QINGDAO)}

DEFAULT_REGION = BEIJING.code


def region(code: str | None) -> Region:
    """The registry entry of a region code; Beijing for an unknown or missing one (the app's first region)."""
    return REGIONS.get(code or "", REGIONS[DEFAULT_REGION])


def region_of_channel(channel: str | None) -> Region:
    """The region whose code was scanned: a channel belongs to exactly one region (Beijing by default)."""
    for r in REGIONS.values():
        if channel in r.channels:
            return r
    return REGIONS[DEFAULT_REGION]


def channels_by_region() -> list[tuple[Region, tuple[str, ...]]]:
    """Every region with its channels, in registry order (the /qr poster groups its codes so)."""
    return [(r, r.channels) for r in REGIONS.values()]
