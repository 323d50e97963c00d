"""The bank, simulated: the other side of 缴费协议 and 协议支付 / 批量扣款 (R-AG-*, R-BD-*).

It keeps accounts (card number, holder, balance, status) that the demo and the tests open and fund through
``open_account`` / ``set_balance`` (the bank's back office), signs agreements after checking the account
exists at that bank, the card number (Luhn where the bank's cards use it) and that the cardholder name is the
account's, and debits with a signed result: 00 success, 51 余额不足, 14 姓名或账户不一致, 62 账户异常, 57 协议
无效. Debits are keyed by ``debit_no``: a retried debit returns the first answer and never takes money twice;
a number cancelled before it arrived can never be debited (the late request is refused).

The protocol: JSON bodies; the tax bureau signs ``timestamp\\nnonce\\nbody\\n`` with its key (``X-Bank-*``
headers) and the bank answers signed the same way with its own, both RSA-SHA256.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from ...domain.banks import banks, luhn_ok
from ..base import BEIJING, SignatureError
from ..crypto import nonce, rsa_sign, rsa_verify
from . import down, sim
from .store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS bank_account (
  card_number TEXT PRIMARY KEY, bank TEXT NOT NULL, holder TEXT NOT NULL, id_number TEXT NOT NULL DEFAULT '',
  balance_fen INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'normal');
CREATE TABLE IF NOT EXISTS bank_agreement (
  agreement_no TEXT PRIMARY KEY, request_no TEXT NOT NULL UNIQUE, card_number TEXT NOT NULL, holder TEXT NOT NULL,
  id_number TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active', created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bank_debit (
  debit_no TEXT PRIMARY KEY, agreement_no TEXT NOT NULL, amount_fen INTEGER NOT NULL, code TEXT NOT NULL,
  message TEXT NOT NULL, bank_txn TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS bank_credit (
  credit_no TEXT PRIMARY KEY, debit_no TEXT NOT NULL, amount_fen INTEGER NOT NULL, created REAL NOT NULL);
"""

MESSAGES = {
    "00": "交易成功",
    "51": "余额不足",
    "14": "姓名或账户不一致",
    "62": "账户异常",
    "57": "协议无效或已撤销",
    "25": "账户不存在",
    "30": "卡号校验失败",
    "94": "该扣款已撤销",
}


def init(store: Store) -> None:
    """Create the bank's tables in the providers' store."""
    store.connect().executescript(SCHEMA)


@contextmanager
def _tx(store: Store) -> Iterator[Any]:
    conn = store.connect()
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# ----------------------------------------------------------------------------------------- the back office


def open_account(
    store: Store,
    card_number: str,
    bank: str,
    holder: str,
    id_number: str = "",
    balance_fen: int = 0,
    status: str = "normal",
) -> None:
    """Open (or reset) an account: what the demo and the tests stand on."""
    store.run(
        "INSERT INTO bank_account(card_number, bank, holder, id_number, balance_fen, status) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(card_number) DO UPDATE SET bank=excluded.bank, holder=excluded.holder, "
        "id_number=excluded.id_number, balance_fen=excluded.balance_fen, status=excluded.status",
        card_number,
        bank,
        holder,
        id_number,
        balance_fen,
        status,
    )


def open_accounts(store: Store, rows: list[tuple[str, str, str, str, int]]) -> None:
    """Open many accounts at once (card, bank, holder, id number, balance); existing ones are left alone."""
    with _tx(store) as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO bank_account(card_number, bank, holder, id_number, balance_fen) VALUES (?,?,?,?,?)",
            rows,
        )


def register_agreement(store: Store, agreement_no: str, card_number: str, holder: str, id_number: str) -> None:
    """An agreement signed at the counter (the demo's and the tests' shortcut past the signing API)."""
    store.run(
        "INSERT OR IGNORE INTO bank_agreement(agreement_no, request_no, card_number, holder, id_number, "
        "created) VALUES (?,?,?,?,?,?)",
        agreement_no,
        "counter:" + agreement_no,
        card_number,
        holder,
        id_number,
        time.time(),
    )


def register_agreements(store: Store, rows: list[tuple[str, str, str, str]]) -> None:
    """Many counter agreements at once: (agreement_no, card, holder, id number)."""
    now = time.time()
    with _tx(store) as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO bank_agreement(agreement_no, request_no, card_number, holder, "
            "id_number, created) VALUES (?,?,?,?,?,?)",
            [(no, "counter:" + no, card, holder, number, now) for no, card, holder, number in rows],
        )


def set_balance(store: Store, card_number: str, balance_fen: int) -> None:
    """Fund (or drain) an account."""
    store.run("UPDATE bank_account SET balance_fen=? WHERE card_number=?", balance_fen, card_number)


def account(store: Store, card_number: str) -> dict[str, Any] | None:
    """An account as the bank holds it."""
    row = store.one("SELECT * FROM bank_account WHERE card_number=?", card_number)
    return dict(row) if row else None


# ----------------------------------------------------------------------------------------- decisions


def _sign_agreement(store: Store, doc: dict[str, Any]) -> dict[str, Any]:
    request_no = str(doc.get("request_no", ""))
    done = store.one("SELECT * FROM bank_agreement WHERE request_no=?", request_no)
    if done is not None:
        return {"code": "00", "message": MESSAGES["00"], "agreement_no": done["agreement_no"]}
    card, bank = str(doc.get("card_number", "")), str(doc.get("bank", ""))
    info = banks().get(bank)
    if info is None or not (card.isascii() and card.isdigit()) or not luhn_ok(card):
        return {"code": "30", "message": MESSAGES["30"]}
    acct = store.one("SELECT * FROM bank_account WHERE card_number=? AND bank=?", card, bank)
    if acct is None:
        return {"code": "25", "message": MESSAGES["25"]}
    if acct["status"] != "normal":
        return {"code": "62", "message": MESSAGES["62"]}
    if acct["holder"] != doc.get("holder") or (acct["id_number"] and acct["id_number"] != doc.get("id_number")):
        return {"code": "14", "message": "持卡人姓名与账户不一致"}
    agreement_no = "AG" + datetime.fromtimestamp(sim().now(), BEIJING).strftime("%Y%m%d") + secrets.token_hex(6).upper()
    store.run(
        "INSERT INTO bank_agreement(agreement_no, request_no, card_number, holder, id_number, created) "
        "VALUES (?,?,?,?,?,?)",
        agreement_no,
        request_no,
        card,
        str(doc.get("holder", "")),
        str(doc.get("id_number", "")),
        sim().now(),
    )
    return {"code": "00", "message": MESSAGES["00"], "agreement_no": agreement_no}


def _debit_in(conn: Any, debit_no: str, agreement_no: str, amount_fen: Any, now: float) -> dict[str, Any]:
    """One debit inside the caller's transaction: keyed by debit_no, money taken at most once."""
    done = conn.execute("SELECT * FROM bank_debit WHERE debit_no=?", (debit_no,)).fetchone()
    if done is not None:
        return _answer(done)
    code = "00"
    agreement = conn.execute("SELECT * FROM bank_agreement WHERE agreement_no=?", (agreement_no,)).fetchone()
    acct = (
        conn.execute("SELECT * FROM bank_account WHERE card_number=?", (agreement["card_number"],)).fetchone()
        if agreement
        else None
    )
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0 or not debit_no:
        return {"debit_no": debit_no, "code": "30", "message": "报文格式错误"}
    if agreement is None or agreement["status"] != "active":
        code = "57"
    elif acct is None or acct["status"] != "normal":
        code = "62"
    elif acct["holder"] != agreement["holder"]:
        code = "14"
    elif (
        conn.execute(
            "UPDATE bank_account SET balance_fen = balance_fen - ? WHERE card_number=? AND balance_fen >= ?",
            (amount_fen, acct["card_number"], amount_fen),
        ).rowcount
        != 1
    ):
        code = "51"
    txn = "BK" + secrets.token_hex(8).upper() if code == "00" else None
    conn.execute(
        "INSERT INTO bank_debit(debit_no, agreement_no, amount_fen, code, message, bank_txn, created) "
        "VALUES (?,?,?,?,?,?,?)",
        (debit_no, agreement_no, amount_fen, code, MESSAGES[code], txn, now),
    )
    return {
        "debit_no": debit_no,
        "code": code,
        "message": MESSAGES[code],
        "bank_txn": txn or "",
        "amount_fen": amount_fen,
    }


def _debit_many(conn: Any, items: list[Any], now: float) -> list[dict[str, Any]]:
    """A batch file inside one transaction: the same decisions as ``_debit_in`` one by one, in order (so one
    account's balance serves its debits in turn), with a handful of statements for the whole file."""

    def rows(sql: str, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for i in range(0, len(keys), 900):
            part = keys[i : i + 900]
            found.update((r[0], r) for r in conn.execute(sql.format(",".join("?" * len(part))), part))
        return found

    wanted = [i for i in items if isinstance(i, dict)]
    done = rows(
        "SELECT debit_no, * FROM bank_debit WHERE debit_no IN ({})", [str(i.get("debit_no", "")) for i in wanted]
    )
    agreements = rows(
        "SELECT agreement_no, * FROM bank_agreement WHERE agreement_no IN ({})",
        list({str(i.get("agreement_no", "")) for i in wanted}),
    )
    accounts = rows(
        "SELECT card_number, * FROM bank_account WHERE card_number IN ({})",
        list({a["card_number"] for a in agreements.values()}),
    )
    balance = {card: a["balance_fen"] for card, a in accounts.items()}
    out: list[dict[str, object]] = []
    new = []
    for item in items:
        if not isinstance(item, dict):
            out.append({"code": "30", "message": "报文格式错误"})
            continue
        no, agreement_no = str(item.get("debit_no", "")), str(item.get("agreement_no", ""))
        amount = item.get("amount_fen")
        if no in done:
            out.append(_answer(done[no]))
            continue
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or not no:
            out.append({"debit_no": no, "code": "30", "message": "报文格式错误"})
            continue
        agreement = agreements.get(agreement_no)
        acct = accounts.get(agreement["card_number"]) if agreement else None
        if agreement is None or agreement["status"] != "active":
            code = "57"
        elif acct is None or acct["status"] != "normal":
            code = "62"
        elif acct["holder"] != agreement["holder"]:
            code = "14"
        elif balance[acct["card_number"]] < amount:
            code = "51"
        else:
            code = "00"
            balance[acct["card_number"]] -= amount
        txn = "BK" + secrets.token_hex(8).upper() if code == "00" else None
        row = {"debit_no": no, "code": code, "message": MESSAGES[code], "bank_txn": txn or "", "amount_fen": amount}
        done[no] = {**row, "bank_txn": txn}
        new.append((no, agreement_no, amount, code, MESSAGES[code], txn, now))
        out.append(row)
    conn.executemany(
        "INSERT INTO bank_debit(debit_no, agreement_no, amount_fen, code, message, bank_txn, created) "
        "VALUES (?,?,?,?,?,?,?)",
        new,
    )
    conn.executemany(
        "UPDATE bank_account SET balance_fen=? WHERE card_number=?",
        [(b, card) for card, b in balance.items() if b != accounts[card]["balance_fen"]],
    )
    return out


def _answer(row: Any) -> dict[str, Any]:
    return {
        "debit_no": row["debit_no"],
        "code": row["code"],
        "message": row["message"],
        "bank_txn": row["bank_txn"] or "",
        "amount_fen": row["amount_fen"],
    }


# ----------------------------------------------------------------------------------------- the wire


def _signed(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    ts, nc = str(int(sim().now())), nonce()
    sig = rsa_sign(sim().platform_key("bank"), f"{ts}\n{nc}\n{body}\n")
    return Response(
        body,
        status=status,
        content_type="application/json; charset=utf-8",
        headers={"X-Bank-Timestamp": ts, "X-Bank-Nonce": nc, "X-Bank-Signature": sig},
    )


def _verified() -> tuple[dict[str, Any] | None, Response | None]:
    """The tax bureau's signed request, or the refusal to send back."""
    if down("bank"):
        return None, Response("Service Unavailable", status=503)
    body = request.get_data(as_text=True)
    message = f"{request.headers.get('X-Bank-Timestamp', '')}\n{request.headers.get('X-Bank-Nonce', '')}\n{body}\n"
    try:
        rsa_verify(sim().merchant_public("bank"), message, request.headers.get("X-Bank-Signature", ""))
    except SignatureError:
        return None, _signed({"code": "SIGN_ERROR", "message": "验签失败"}, 401)
    try:
        doc = json.loads(body or "{}")
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return None, _signed({"code": "30", "message": "报文格式错误"}, 400)
    return doc, None


def blueprint() -> Blueprint:
    """The bank's API under /sim/bank."""
    bp = Blueprint("sim_bank", __name__, url_prefix="/sim/bank")

    @bp.post("/agreements")
    def sign() -> Response:
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        return _signed(_sign_agreement(sim().store, doc))

    @bp.post("/agreements/<agreement_no>/revoke")
    def revoke(agreement_no: str) -> Response:
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        sim().store.run("UPDATE bank_agreement SET status='revoked' WHERE agreement_no=?", agreement_no)
        return _signed({"code": "00", "message": "协议已撤销"})

    @bp.post("/debits")
    def debit() -> Response:
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        if delay := float(sim().controls("bank").get("debit_delay", 0)):
            time.sleep(delay)
        with _tx(sim().store) as conn:
            result = _debit_in(
                conn, str(doc.get("debit_no", "")), str(doc.get("agreement_no", "")), doc.get("amount_fen"), sim().now()
            )
        return _signed(result)

    @bp.post("/debits/batch")
    def batch() -> Response:
        """A batch file: many debits, decided in order (so one account's balance serves them in turn)."""
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        items = doc.get("items")
        if not isinstance(items, list) or len(items) > 5000:
            return _signed({"code": "30", "message": "报文格式错误"}, 400)
        with _tx(sim().store) as conn:
            results = _debit_many(conn, items, sim().now())
        return _signed({"code": "00", "results": results})

    @bp.post("/debits/<debit_no>/query")
    def query(debit_no: str) -> Response:
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        row = sim().store.one("SELECT * FROM bank_debit WHERE debit_no=?", debit_no)
        return _signed(_answer(row) if row else {"debit_no": debit_no, "code": "NOT_FOUND", "message": "无此交易"})

    @bp.post("/debits/<debit_no>/cancel")
    def cancel(debit_no: str) -> Response:
        """Cancel a debit that has not arrived: the number can never be debited after this."""
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        with _tx(sim().store) as conn:
            row = conn.execute("SELECT * FROM bank_debit WHERE debit_no=?", (debit_no,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO bank_debit(debit_no, agreement_no, amount_fen, code, message, created) "
                    "VALUES (?, '', 0, '94', ?, ?)",
                    (debit_no, MESSAGES["94"], sim().now()),
                )
                row = conn.execute("SELECT * FROM bank_debit WHERE debit_no=?", (debit_no,)).fetchone()
        return _signed(_answer(row))

    @bp.post("/credits")
    def credit() -> Response:
        """Give money back for a debit (a refund), keyed by credit_no."""
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        credit_no, debit_no, amount = str(doc.get("credit_no", "")), str(doc.get("debit_no", "")), doc.get("amount_fen")
        with _tx(sim().store) as conn:
            if conn.execute("SELECT 1 FROM bank_credit WHERE credit_no=?", (credit_no,)).fetchone():
                return _signed({"code": "00", "credit_no": credit_no})
            debit = conn.execute("SELECT * FROM bank_debit WHERE debit_no=? AND code='00'", (debit_no,)).fetchone()
            credited = conn.execute(
                "SELECT COALESCE(SUM(amount_fen), 0) FROM bank_credit WHERE debit_no=?", (debit_no,)
            ).fetchone()[0]
            if debit is None or type(amount) is not int or not 0 < amount <= debit["amount_fen"] - credited:
                return _signed({"code": "12", "message": "原交易不存在或金额有误"})
            card = conn.execute(
                "SELECT card_number FROM bank_agreement WHERE agreement_no=?", (debit["agreement_no"],)
            ).fetchone()
            conn.execute("INSERT INTO bank_credit VALUES (?,?,?,?)", (credit_no, debit_no, amount, sim().now()))
            if card is not None:
                conn.execute(
                    "UPDATE bank_account SET balance_fen = balance_fen + ? WHERE card_number=?",
                    (amount, card["card_number"]),
                )
        return _signed({"code": "00", "credit_no": credit_no})

    @bp.post("/credits/<credit_no>/query")
    def credit_query(credit_no: str) -> Response:
        """Whether a credit was made (a refund the merchant is not sure arrived)."""
        doc, refusal = _verified()
        if doc is None:
            return refusal  # type: ignore[return-value]  # _verified gives a refusal whenever doc is None
        row = sim().store.one("SELECT * FROM bank_credit WHERE credit_no=?", credit_no)
        if row is None:
            return _signed({"code": "NOT_FOUND", "credit_no": credit_no})
        return _signed({"code": "00", "credit_no": credit_no, "amount_fen": row["amount_fen"]})

    return bp
