"""The simulated providers' own state: a SQLite file under instance/sim/, never the app's database."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS trade (
  provider TEXT NOT NULL, out_trade_no TEXT NOT NULL, amount_fen INTEGER NOT NULL,
  state TEXT NOT NULL, notify_url TEXT NOT NULL, return_url TEXT NOT NULL, description TEXT,
  token TEXT NOT NULL UNIQUE, txn_id TEXT, created REAL NOT NULL, expire_at REAL, paid_at REAL,
  extra TEXT NOT NULL DEFAULT '{}', paid_fen INTEGER, PRIMARY KEY (provider, out_trade_no));
CREATE TABLE IF NOT EXISTS refund (
  provider TEXT NOT NULL, out_refund_no TEXT NOT NULL, out_trade_no TEXT NOT NULL, amount_fen INTEGER NOT NULL,
  refund_id TEXT NOT NULL, created REAL, PRIMARY KEY (provider, out_refund_no));
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT NOT NULL, out_trade_no TEXT NOT NULL, url TEXT NOT NULL,
  headers TEXT NOT NULL, body BLOB NOT NULL, due_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'pending', last_status INTEGER);
CREATE TABLE IF NOT EXISTS control (provider TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_local = threading.local()


class Store:
    """Thread-safe access to one sim database file (one connection per thread, WAL)."""

    def __init__(self, instance_path: str) -> None:
        self.path = Path(instance_path) / "sim" / "sim.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.connect()
        conn.executescript(SCHEMA)
        columns = {r["name"] for r in conn.execute("PRAGMA table_info(trade)")}
        if "paid_fen" not in columns:  # a sim database from before the amount it took was kept
            conn.execute("ALTER TABLE trade ADD COLUMN paid_fen INTEGER")
        if "created" not in {r["name"] for r in conn.execute("PRAGMA table_info(refund)")}:
            conn.execute("ALTER TABLE refund ADD COLUMN created REAL")

    def connect(self) -> sqlite3.Connection:
        """This thread's connection."""
        conns = getattr(_local, "conns", None)
        if conns is None:
            conns = _local.conns = {}
        conn = conns.get(str(self.path))
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conns[str(self.path)] = conn
        return conn

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        """Fetch one row."""
        return self.connect().execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Fetch all rows."""
        return self.connect().execute(sql, args).fetchall()

    def run(self, sql: str, *args: Any) -> int:
        """Execute a write; returns the number of rows changed."""
        return self.connect().execute(sql, args).rowcount

    # --- trades -------------------------------------------------------------------------------
    def trade(self, provider: str, out_trade_no: str) -> sqlite3.Row | None:
        """A trade by our order number."""
        return self.one("SELECT * FROM trade WHERE provider=? AND out_trade_no=?", provider, out_trade_no)

    def trade_by_token(self, provider: str, token: str) -> sqlite3.Row | None:
        """A trade by its cashier token."""
        return self.one("SELECT * FROM trade WHERE provider=? AND token=?", provider, token)

    def set_state(
        self, provider: str, out_trade_no: str, state: str, *, only_from: tuple[str, ...], **fields: Any
    ) -> bool:
        """Move a trade's state if it is in one of ``only_from``; True if it moved."""
        sets = ", ".join(["state=?"] + [f"{k}=?" for k in fields])
        marks = ",".join("?" * len(only_from))
        return (
            self.run(
                f"UPDATE trade SET {sets} WHERE provider=? AND out_trade_no=? AND state IN ({marks})",
                state,
                *fields.values(),
                provider,
                out_trade_no,
                *only_from,
            )
            == 1
        )

    # --- refunds ------------------------------------------------------------------------------
    def refund(self, provider: str, out_refund_no: str) -> sqlite3.Row | None:
        """A refund by the merchant's refund number."""
        return self.one("SELECT * FROM refund WHERE provider=? AND out_refund_no=?", provider, out_refund_no)

    def refunded_fen(self, provider: str, out_trade_no: str) -> int:
        """How much of a trade has been given back."""
        row = self.one(
            "SELECT COALESCE(SUM(amount_fen), 0) AS s FROM refund WHERE provider=? AND out_trade_no=?",
            provider,
            out_trade_no,
        )
        return int(row["s"]) if row else 0

    def add_refund(
        self, provider: str, out_refund_no: str, out_trade_no: str, amount_fen: int, refund_id: str, now: float
    ) -> sqlite3.Row:
        """Record a refund once (a second request with the same number finds the first); returns it."""
        self.run(
            "INSERT OR IGNORE INTO refund(provider, out_refund_no, out_trade_no, amount_fen, refund_id, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            provider,
            out_refund_no,
            out_trade_no,
            amount_fen,
            refund_id,
            now,
        )
        row = self.refund(provider, out_refund_no)
        assert row is not None
        return row

    # --- controls -----------------------------------------------------------------------------
    def controls(self, provider: str) -> dict[str, Any]:
        """The test controls set for a provider."""
        row = self.one("SELECT value FROM control WHERE provider=?", provider)
        return json.loads(row["value"]) if row else {}

    def set_controls(self, provider: str, value: dict[str, Any]) -> None:
        """Replace a provider's test controls."""
        self.run(
            "INSERT INTO control(provider, value) VALUES (?, ?) "
            "ON CONFLICT(provider) DO UPDATE SET value=excluded.value",
            provider,
            json.dumps(value),
        )
