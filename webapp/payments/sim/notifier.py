"""The simulated providers' notification sender: an outbox with each provider's retry schedule.

``SIM_NOTIFY_MODE=thread`` sends from a background thread (the demo); ``manual`` leaves the
outbox to ``deliver_pending`` (tests). Test controls act here: drop, duplicate, delay, reorder,
mis-sign, and WeChat's ``WECHATPAY/SIGNTEST/`` probes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from ..transport import Transport
from .store import Store

# Seconds to wait before each retry after a failed delivery, as each provider documents them
# (so each provider delivers at most 1 + len(schedule) times).
SCHEDULES: dict[str, list[float]] = {
    # WeChat Pay v3: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h, 24h 4m in all.
    "wechat": [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600],
    # Alipay: 4m/10m/10m/1h/2h/6h/15h.
    "alipay": [240, 600, 600, 3600, 7200, 21600, 54000],
    # UnionPay 5.1.0 back notification: five deliveries, 0, 1, 2 and 4 minutes apart.
    "unionpay": [0, 60, 120, 240],
}

Builder = Callable[[bool], tuple[dict[str, str], bytes]]  # (mis-sign?) -> headers, body


def accepted(provider: str, status: int, body: bytes) -> bool:
    """Did the merchant acknowledge, in the provider's terms?"""
    if provider == "alipay":
        return status == 200 and body.strip() == b"success"
    return 200 <= status < 300


class Notifier:
    """Queues and delivers one sim's notifications."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        mode: str,
        scale: float,
        controls: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.store, self.transport, self.mode, self.scale = store, transport, mode, scale
        self.controls = controls or store.controls
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def enqueue(self, provider: str, out_trade_no: str, url: str, build: Builder, probe: Builder | None = None) -> None:
        """Queue a notification, shaped by the provider's test controls."""
        ctl = self.controls(provider)
        if ctl.get("probe") and probe is not None:
            self._put(provider, out_trade_no, url, *probe(True), delay=0)
        action = ctl.get("notify", "normal")
        if action == "drop":
            return
        headers, body = build(action == "missign")
        delay = float(ctl.get("delay_seconds", 0)) if action == "delay" else 0.0
        self._put(provider, out_trade_no, url, headers, body, delay=delay)
        if action == "duplicate":
            self._put(provider, out_trade_no, url, headers, body, delay=delay)
        if self.mode == "thread":
            self._start()

    def _put(
        self, provider: str, out_trade_no: str, url: str, headers: dict[str, str], body: bytes, delay: float
    ) -> None:
        self.store.run(
            "INSERT INTO outbox(provider, out_trade_no, url, headers, body, due_at) VALUES (?,?,?,?,?,?)",
            provider,
            out_trade_no,
            url,
            json.dumps(headers),
            body,
            time.time() + delay * self.scale,
        )

    def deliver_pending(self, *, include_delayed: bool = False) -> int:
        """Deliver everything due now (or everything, with include_delayed); returns attempts made."""
        limit = float("inf") if include_delayed else time.time()
        rows = self.store.all("SELECT * FROM outbox WHERE status='pending' ORDER BY id")
        due = [r for r in rows if r["due_at"] <= limit]
        reorder = {p for p in SCHEDULES if self.controls(p).get("reorder")}
        if reorder:
            due.sort(key=lambda r: (r["provider"] in reorder, -r["id"] if r["provider"] in reorder else r["id"]))
        count = 0
        for row in due:
            if self.store.run("UPDATE outbox SET status='sending' WHERE id=? AND status='pending'", row["id"]) != 1:
                continue
            count += 1
            self._attempt(row)
        return count

    def _attempt(self, row: Any) -> None:
        provider = row["provider"]
        try:
            resp = self.transport.request("POST", row["url"], headers=json.loads(row["headers"]), body=row["body"])
            ok, status = accepted(provider, resp.status, resp.body), resp.status
        except Exception:  # noqa: BLE001 - the merchant being down is just a failed attempt
            ok, status = False, 0
        attempts = row["attempts"] + 1
        schedule = SCHEDULES[provider]
        if ok:
            self.store.run(
                "UPDATE outbox SET status='done', attempts=?, last_status=? WHERE id=?", attempts, status, row["id"]
            )
        elif attempts > len(schedule):
            self.store.run(
                "UPDATE outbox SET status='gave_up', attempts=?, last_status=? WHERE id=?", attempts, status, row["id"]
            )
        else:
            due = time.time() + schedule[attempts - 1] * self.scale
            self.store.run(
                "UPDATE outbox SET status='pending', attempts=?, last_status=?, due_at=? WHERE id=?",
                attempts,
                status,
                due,
                row["id"],
            )

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="sim-notifier", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        idle = 0
        while idle < 7200:  # stop after an hour with nothing to send; the next enqueue restarts it
            sent = self.deliver_pending()
            pending = self.store.one("SELECT COUNT(*) AS n FROM outbox WHERE status='pending'")
            idle = 0 if (sent or (pending and pending["n"])) else idle + 1
            time.sleep(0.5)
