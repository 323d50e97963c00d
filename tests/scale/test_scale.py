"""Two app instances behind nginx on one PostgreSQL and one Redis (issue 16 item 5): what a bureau runs on its
peak days. Each test prints the figures it saw (``pytest -s tests/scale``; .ci/run shows them with -rP).

- a login on one instance is valid on the other (sessions in Redis, one SECRET_KEY from settings.env);
- rate-limit counts are shared (Redis), whichever instance nginx picks;
- a payment started through one instance whose notification lands on the other is shown paid on the first;
- the batch debit of a population, split across two job consumers, debits every agreement exactly once;
- killing one instance in the middle of a payment loses nothing: the reconcile job settles it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable

from .conftest import ROOT, Cluster, Phone, csrf

PASSWORD = "123456"


def _upstreams(cluster: Cluster, client: str, request: str) -> Counter[str]:
    """How many of a client's requests (``METHOD /path`` prefix) each instance served, from nginx's log."""
    names = {url.removeprefix("http://"): f"web{i}" for i, url in enumerate(cluster.instances, 1)}
    return Counter(
        names.get(row["upstream"], row["upstream"])
        for row in cluster.access()
        if row["client"] == client and row["request"].startswith(request)
    )


def _declare_and_confirm(phone: Phone, base: str, token: str, method: str = "wechat") -> str:
    """本人 → 参保信息选择 → 选择缴费信息 → 提交 → 确认缴费 on ``base``; returns the cashier's URL."""

    def follow(r):  # type: ignore[no-untyped-def]
        location = r.headers["Location"]
        return phone.get(base + location if location.startswith("/") else location)

    page = phone.post(f"{base}/rm/pay", {"who": "self", "csrf_token": token})
    if page.status_code == 303:
        page = follow(page)
    insured = re.search(r'name="insured" value="(\d+)"', page.text)
    assert insured, page.text[:800]
    if 'name="insurance"' in page.text:  # 参保信息选择: tick the insurance, 下一步
        r = phone.post(
            f"{base}/rm/pay/insurance", {"insured": insured.group(1), "insurance": "rm_medical", "csrf_token": token}
        )
        assert r.status_code == 303, r.text[:500]
        page = follow(r)
    ids = re.findall(r'name="receivable" value="(\d+)"', page.text)
    assert insured and ids, page.text[:800]
    r = phone.post(f"{base}/rm/pay/select", {"insured": insured.group(1), "receivable": ids, "csrf_token": token})
    assert r.status_code == 303, r.text[:500]
    method_url = r.headers["Location"]
    method_url = f"{base}{method_url}" if method_url.startswith("/") else method_url
    r = phone.post(method_url, {"method": method, "csrf_token": token})
    assert r.status_code == 303, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text.split("<body", 1)[-1]))[:600]
    return r.headers["Location"]


def _pay_at_cashier(phone: Phone, cashier_url: str) -> str:
    """The buyer types the password; returns our order number (from the cashier's way back)."""
    page = phone.get(cashier_url)
    assert page.status_code == 200 and "确认支付" in page.text, page.text[:500]
    back = phone.session.post(page.url, data={"password": PASSWORD, "action": "pay"}, allow_redirects=False, timeout=30)
    assert back.status_code == 303, back.text[:500]
    m = re.search(r"/pay/return/\w+/(\w+)", back.headers["Location"])
    assert m, back.headers["Location"]
    return m.group(1)


def _order_state(cluster: Cluster, out_trade_no: str) -> str:
    rows = cluster.sql("SELECT state FROM payment_order WHERE out_trade_no = %s", out_trade_no)
    return str(rows[0][0]) if rows else ""


def _wait_for_state(cluster: Cluster, out_trade_no: str, state: str, seconds: float) -> float:
    """Seconds until the order reaches ``state`` (fails after ``seconds``)."""
    started = time.monotonic()
    while _order_state(cluster, out_trade_no) != state:
        assert time.monotonic() - started < seconds, (out_trade_no, _order_state(cluster, out_trade_no))
        time.sleep(0.5)
    return time.monotonic() - started


def test_scale_a_login_on_one_instance_is_valid_on_the_other(cluster: Cluster, report: Callable[[str], None]) -> None:
    a, b = cluster.instances
    phone = cluster.phone()
    name, number = cluster.payers[0]
    phone.login(a, name, number)
    me = phone.get(f"{b}/me", allow_redirects=False)
    assert me.status_code == 200 and name in me.text, me.status_code
    # …and logging out on the second ends it on the first, even for a copy of the old cookie.
    old = dict(phone.session.cookies)
    phone.post(f"{b}/logout", {"csrf_token": csrf(me.text)})
    replay = cluster.phone()
    replay.session.cookies.update(old)
    for who in (phone, replay):
        assert name not in who.get(f"{a}/me").text
    report(f"\nlogin on web1 → 我的 on web2: 200 with {name}; logout on web2 → the old cookie shows nobody on web1")


def test_scale_rate_limit_counts_are_shared_by_the_instances(cluster: Cluster, report: Callable[[str], None]) -> None:
    """RATELIMIT_LOGIN (10 per minute per address): the 11th login of one phone is refused, though nginx spread
    the ten before it over both instances (counted per instance, 20 would have passed)."""
    phone = cluster.phone()
    token = csrf(phone.get(f"{cluster.base}/login").text)
    statuses = []
    for i in range(12):  # a mistyped number each time: the form is refused (422), and counted
        form = {"name": "某某", "id_type": "resident_id", "id_number": f"1101011990X{i:02d}", "agree": "1"}
        statuses.append(phone.post(f"{cluster.base}/login", {**form, "csrf_token": token}).status_code)
    served = _upstreams(cluster, phone.address, "POST /login")
    report(f"\n12 logins from {phone.address} through nginx: statuses {statuses}; served per instance {dict(served)}")
    assert all(s != 429 for s in statuses[:10]) and statuses[10:] == [429, 429], statuses
    assert served["web1"] >= 3 and served["web2"] >= 3, served


def test_scale_a_notification_landing_on_the_other_instance_shows_paid_on_the_first(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    """The payment is started on web1 (directly); the provider notifies PUBLIC_BASE_URL (nginx), which hands the
    notification to either instance; when it lands on web2, web1's result page says 缴费成功 all the same."""
    a = cluster.instances[0]
    tries = []
    for name, number in cluster.payers[1:7]:
        phone = cluster.phone()
        token = phone.login(a, name, number)
        before = sum(_upstreams(cluster, "127.0.0.1", "POST /pay/notify/wechat").values())
        order = _pay_at_cashier(phone, _declare_and_confirm(phone, a, token))
        _wait_for_state(cluster, order, "paid", 30)  # settled by the notification: the phone never came back
        deadline = time.monotonic() + 10
        while sum(_upstreams(cluster, "127.0.0.1", "POST /pay/notify/wechat").values()) == before:
            assert time.monotonic() < deadline, "nginx logged no notification"
            time.sleep(0.2)
        rows = [r for r in cluster.access() if r["request"].startswith("POST /pay/notify/wechat")]
        landed = {u.removeprefix("http://"): f"web{i}" for i, u in enumerate(cluster.instances, 1)}.get(
            rows[-1]["upstream"], rows[-1]["upstream"]
        )
        page = phone.get(f"{a}/pay/orders/{order}")
        tries.append((order, landed, "缴费成功" in page.text))
        if landed == "web2":
            assert page.status_code == 200 and "缴费成功" in page.text, page.text[:500]
            break
    report(f"\npayments started on web1 (order, notification served by, web1 shows 缴费成功): {tries}")
    assert tries and tries[-1][1] == "web2", tries


def test_scale_the_batch_debit_split_across_two_consumers_debits_every_agreement_once(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    """The batch day's job, queued once, fans out in BATCH_DEBIT_SHARES shares taken by the workers of both
    consumers; the bank's ledger has one debit per agreement and kind, and the app settled exactly those."""
    started = time.monotonic()
    enqueue = "from webapp import jobs; jobs.batch_debit_on_the_batch_day()"  # what the scheduler does at :00, :10…
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", enqueue],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(cluster.folder)},
        check=True,
        timeout=120,
    )
    expected = cluster.sql("SELECT count(*) FROM agreement WHERE status = 'signed'")[0][0]
    while True:
        done = cluster.sql("SELECT count(*) FROM batch_work WHERE state <> 'pending' AND state <> 'claimed'")[0][0]
        total = cluster.sql("SELECT count(*) FROM batch_work")[0][0]
        if total >= expected and done == total:  # the plan may still be adding work while the first is done
            break
        assert time.monotonic() - started < 300, (done, total)
        time.sleep(1)
    seconds = time.monotonic() - started
    time.sleep(1)  # the shares' report lines reach the logs
    per_consumer = {}
    for name in ("worker1", "worker2"):
        shares = re.findall(r"batch debit share of pid \d+: (\d+) debits", cluster.log(name))
        per_consumer[name] = sum(int(n) for n in shares)
    debits = cluster.sql("SELECT count(*), count(DISTINCT (agreement_id, kind)) FROM batch_debit")[0]
    settled = cluster.sql(
        "SELECT count(*), count(DISTINCT receivable_id) FROM settled_payment WHERE channel = 'batch'"
    )[0]
    report(
        f"\nbatch debit of {total} agreements ({expected} signed) in {seconds:.1f} s: "
        f"debits per consumer {per_consumer}; {debits[0]} debits, {settled[0]} receivables settled"
    )
    assert total == expected >= cluster.agreements
    assert debits[0] == debits[1], "an agreement was debited twice for one kind"
    assert sum(per_consumer.values()) == debits[0], per_consumer
    assert per_consumer["worker1"] > 0 and per_consumer["worker2"] > 0, per_consumer
    assert settled[0] == settled[1], "a receivable was settled twice"


def test_scale_killing_an_instance_in_the_middle_of_a_payment_loses_nothing(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    """web1 takes 确认缴费 and sends the phone to the cashier; the notification is lost; web1 is killed (SIGKILL,
    a host going down) before the phone comes back. The reconcile job settles the payment, and the phone, back
    through nginx, is shown 缴费成功 by web2."""
    a = cluster.instances[0]
    name, number = cluster.payers[8]
    phone = cluster.phone()
    token = phone.login(a, name, number)
    cashier = _declare_and_confirm(phone, a, token)
    cluster.control("wechat", notify="drop")
    try:
        order = _pay_at_cashier(phone, cashier)
    finally:
        cluster.control("wechat")
    killed = cluster.pids("web1")
    assert killed
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # While web1 is down, nginx sends everything to web2: the phone is never shown an error.
    while_down = [phone.get(f"{cluster.base}/pay/orders/{order}").status_code for _ in range(4)]
    assert while_down == [200] * 4, while_down
    assert _order_state(cluster, order) != "paid"  # nobody told the app yet
    seconds = _wait_for_state(cluster, order, "paid", 150)  # the periodic reconcile runs every minute
    page = phone.get(f"{cluster.base}/pay/orders/{order}")
    served = _upstreams(cluster, phone.address, f"GET /pay/orders/{order}")
    settled = cluster.sql(
        "SELECT count(*), sum(s.amount_fen) FROM settled_payment s JOIN payment_order o ON o.id = s.order_id "
        "WHERE o.out_trade_no = %s",
        order,
    )[0]
    report(
        f"\nweb1 killed (SIGKILL to pids {killed}) after the buyer paid {order}, notification lost: result pages "
        f"while it was down {while_down}; paid {seconds:.0f} s later by the reconcile job; the result page "
        f"({dict(served)} in all): {'缴费成功' if '缴费成功' in page.text else page.text[:80]}; settled rows "
        f"{settled[0]} (¥{(settled[1] or 0) / 100:.2f})"
    )
    assert page.status_code == 200 and "缴费成功" in page.text
    assert settled[0] == 1
    assert served["web2"] >= 4, served


def test_scale_nginx_spread_the_whole_run_over_both_instances(cluster: Cluster, report: Callable[[str], None]) -> None:
    """Every request nginx passed in this run, per instance that answered (the figures of docs/deploy.md)."""
    rows = [r for r in cluster.access() if not r["request"].startswith("GET /readyz")]
    names = {u.removeprefix("http://"): f"web{i}" for i, u in enumerate(cluster.instances, 1)}
    served = Counter(names.get(r["upstream"], r["upstream"] or "nginx itself") for r in rows)
    statuses = Counter(r["status"][0] + "xx" for r in rows)
    report(f"requests through nginx (readiness probes aside): {len(rows)}, per instance {dict(served)}, {statuses}")
    assert served["web1"] > 0 and served["web2"] > 0
    assert statuses.get("5xx", 0) == 0, [r for r in rows if r["status"].startswith("5")]
