"""Database plumbing: the declarative base, the engine, and units of work.

Plain SQLAlchemy 2 (no Flask-SQLAlchemy) so services take a ``Session`` and are tested without an app.
A request commits once (``views._web``); a use case that refuses runs inside ``atomic`` so nothing it
wrote survives its refusal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, orm

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(orm.DeclarativeBase):
    """Base class of every model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here maps one table (SQLAlchemy types it as any FromClause): bulk statements use it as a Table.
    __table__: ClassVar[sa.Table]


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> sa.Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Python's sqlite3 opens transactions lazily; take the write lock at BEGIN
            # so two submits of one receivable serialise instead of deadlocking.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # Readers (``reader_engine``: the GET pages) begin deferred and never wait for a writer (WAL);
            # everything else takes the write lock at BEGIN.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READER) else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "before_cursor_execute")
        def _reader_writes(conn, _cursor, statement, _params, _context, _many):
            if conn.get_execution_options().get(READER) == "strict" and statement.lstrip()[:6].upper() in (
                "INSERT",
                "UPDATE",
                "DELETE",
            ):
                raise AssertionError(f"a reader wrote (mark its endpoint a writer): {statement[:80]}")

        return engine
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, not the psycopg2 default
    # A server that does not answer fails a connection in seconds, not after the kernel's TCP timeout.
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, connect_args={"connect_timeout": 5}
    )


READER = "sqlite_reader"


def reader_engine(engine: sa.Engine, *, strict: bool = False) -> sa.Engine:
    """The same engine (same pool) for requests that only read: on SQLite their transactions begin deferred,
    so reads never queue behind ``BEGIN IMMEDIATE``; ``strict`` (tests) makes a write there an error."""
    return engine.execution_options(**{READER: "strict" if strict else True})


def make_sessionmaker(engine: sa.Engine) -> orm.sessionmaker[orm.Session]:
    """A session factory whose objects stay readable after commit."""
    return orm.sessionmaker(engine, expire_on_commit=False)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Store in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


P = ParamSpec("P")
R = TypeVar("R")


def atomic(fn: Callable[Concatenate[orm.Session, P], R]) -> Callable[Concatenate[orm.Session, P], R]:
    """Run a use case inside a SAVEPOINT: if it raises, everything it wrote is undone and the caller's
    transaction goes on (the request still commits what happened before, an audit row say)."""

    @functools.wraps(fn)
    def wrapper(session: orm.Session, *args: P.args, **kwargs: P.kwargs) -> R:
        with session.begin_nested():
            return fn(session, *args, **kwargs)

    return wrapper
