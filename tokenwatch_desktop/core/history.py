"""The figure history: each account's last good figures in SQLite, for stale fallbacks and status.

Figures are filed under an identity: the account id, provider, base URL and a fingerprint of
the key. The fingerprint is a BLAKE2b MAC of the key under a random per-install salt kept in
the data directory (mode 0600), so the database alone neither contains the key nor lets
anyone test guesses against a plain hash. When the identity of an account changes, its
earlier rows are set aside: they stay on disk under a retired generation and are never used
again, and retired generations older than `RETIRED_DAYS` are deleted.

The store is safe for use from several threads of one process (one connection behind a lock)
and from several processes at once (WAL journal and a busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets as random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core.aggregate import combine_sources
from tokenwatch_desktop.core.errors import TokenWatchError
from tokenwatch_desktop.core.money import plain
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import (
    AccountKind,
    AccountReport,
    Balance,
    BreakdownRow,
    CostSource,
    DayTotal,
    ModelTotal,
    Status,
    Tokens,
)
from tokenwatch_desktop.core.settings import AccountConfig
from tokenwatch_desktop.providers import registry

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
SALT_NAME = "history.salt"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
RETIRED_DAYS = 90
FETCH_KEEP_DAYS = 100
DAY_KEEP_DAYS = 400
TOKEN_FIELDS = ("input", "cached_input", "cache_write", "output")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    generation  INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL,
    provider    TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    retired_at  TEXT
);
CREATE INDEX IF NOT EXISTS generations_account ON generations (account_id, retired_at);
CREATE TABLE IF NOT EXISTS days (
    generation   INTEGER NOT NULL REFERENCES generations ON DELETE CASCADE,
    day_boundary TEXT NOT NULL,
    day          TEXT NOT NULL,
    cost         TEXT,
    cost_source  TEXT,
    input        INTEGER,
    cached_input INTEGER,
    cache_write  INTEGER,
    output       INTEGER,
    fetched_at   TEXT NOT NULL,
    PRIMARY KEY (generation, day_boundary, day)
);
CREATE TABLE IF NOT EXISTS fetches (
    generation   INTEGER NOT NULL REFERENCES generations ON DELETE CASCADE,
    day_boundary TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (generation, day_boundary, period_start, period_end)
);
"""


class HistoryError(TokenWatchError):
    """The history database cannot be opened, read or written."""


@dataclass(frozen=True)
class Identity:
    """Key under which history rows are filed. `fingerprint` is a keyed hash, never the key."""

    account_id: str
    provider: str
    base_url: str
    fingerprint: str


def load_salt(data_dir: Path) -> bytes:
    """Read the per-install salt, creating it (32 random bytes, mode 0600) on first use."""
    path = data_dir / SALT_NAME
    try:
        salt = path.read_bytes()
    except FileNotFoundError:
        salt = _create_salt(path)
    if len(salt) < 16:
        raise HistoryError(f"the history salt file {path} is damaged; delete it (stored "
                           "history is then set aside) and refresh again")
    return salt


def _create_salt(path: Path) -> bytes:
    """Write a new salt, or return the one another process wrote first.

    The salt goes to a private temporary file that is then hard-linked into place, so a process
    that loses the race never reads a salt file that exists but is still empty.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    salt = random.token_bytes(32)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".salt-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(salt)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        os.unlink(temporary)
    return salt


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging, waiting out another process that is creating it.

    SQLite can answer "database is locked" to this pragma at once, without its busy handler,
    while another connection holds the file (two processes opening a new store together).
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def fingerprint(key: str | None, salt: bytes) -> str:
    """Return a BLAKE2b MAC of the key under the install's salt; "" for accounts without a key."""
    if not key:
        return ""
    return hashlib.blake2b(key.encode("utf-8"), key=salt[:64], digest_size=16).hexdigest()


def identity(account: AccountConfig, key: str | None, salt: bytes) -> Identity:
    """Build the identity of an account's figures: id, provider, base URL and key fingerprint."""
    provider = registry.canonical(account.provider)
    info = registry.PROVIDERS.get(provider)
    base_url = account.base_url or (info.default_base_url if info else None) or ""
    return Identity(account.id, provider, base_url.rstrip("/"), fingerprint(key, salt))


class SqliteHistory:
    """The `engine.HistoryStore` on SQLite: `save` after each good fetch, `load` for fallbacks."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._salt: bytes | None = None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> SqliteHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, account: AccountConfig, key: str | None, report: AccountReport) -> None:
        """Store the per-day figures and the model table of a successful fetch."""
        if report.status not in (Status.OK, Status.PARTIAL) or report.as_of is None:
            log.debug("account %s: report not stored (status %s)", account.id, report.status)
            return
        with self._transaction() as db:
            generation = self._current_generation(db, self._identity(account, key), create=True)
            assert generation is not None
            _store_days(db, generation, report)
            _store_fetch(db, generation, report)
            _prune(db, report.as_of)
        log.debug("account %s: stored %d days in history", account.id, len(report.days))

    def load(self, account: AccountConfig, key: str | None, period: Period) -> AccountReport | None:
        """Rebuild the account's report for `period` from stored figures, or None when none fit.

        Days without a stored figure have cost None. `as_of` is that of the newest stored
        fetch. The model table, request count and breakdown come only from a stored fetch of
        exactly this period, because they cannot be split by day.
        """
        with self._transaction(write=False) as db:
            generation = self._current_generation(db, self._identity(account, key), create=False)
            if generation is None:
                return None
            return _rebuild(db, generation, account.id, period)

    def last_refresh(self, account_id: str) -> datetime | None:
        """Return when the account's figures were last stored under its current identity."""
        with self._transaction(write=False) as db:
            row = db.execute(
                "SELECT MAX(f.as_of) FROM fetches f JOIN generations g USING (generation) "
                "WHERE g.account_id = ? AND g.retired_at IS NULL", (account_id,)).fetchone()
        return _instant(row[0]) if row and row[0] else None

    def _identity(self, account: AccountConfig, key: str | None) -> Identity:
        if self._salt is None:
            self._salt = load_salt(self.data_dir)
        return identity(account, key, self._salt)

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                db = self._connect()
                # IMMEDIATE takes the write lock up front, so a busy database waits here
                # (busy timeout) instead of failing at the first write inside.
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield db
                    db.execute("COMMIT")
                finally:
                    _rollback_open(db)
            except sqlite3.Error as exc:
                raise HistoryError(f"the history database {self.path} failed: {exc}; if this "
                                   "repeats, delete the file (only stale fallbacks are lost)") \
                    from exc

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                             check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(db)
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db)
        _restrict_files(self.path)
        self._db = db
        return db

    def _current_generation(
        self, db: sqlite3.Connection, who: Identity, *, create: bool
    ) -> int | None:
        row = db.execute(
            "SELECT generation, provider, base_url, fingerprint FROM generations "
            "WHERE account_id = ? AND retired_at IS NULL", (who.account_id,)).fetchone()
        if row is not None and tuple(row[1:]) == (who.provider, who.base_url, who.fingerprint):
            return int(row[0])
        if not create:
            return None
        now = _text(datetime.now(UTC))
        if row is not None:
            log.info("account %s: provider, base URL or key changed; earlier history set aside",
                     who.account_id)
            db.execute("UPDATE generations SET retired_at = ? WHERE generation = ?", (now, row[0]))
        cursor = db.execute(
            "INSERT INTO generations (account_id, provider, base_url, fingerprint, created_at) "
            "VALUES (?, ?, ?, ?, ?)", (who.account_id, who.provider, who.base_url,
                                       who.fingerprint, now))
        return int(cursor.lastrowid or 0)


def last_refresh(data_dir: Path, account_id: str) -> datetime | None:
    """Return when an account's figures were last stored; None when there is no history yet."""
    if not (data_dir / DB_NAME).exists():
        return None
    try:
        with SqliteHistory(data_dir) as store:
            return store.last_refresh(account_id)
    except HistoryError as exc:
        log.warning("reading the last refresh of account %s failed: %s", account_id, exc)
        return None


def _rollback_open(db: sqlite3.Connection) -> None:
    if not db.in_transaction:
        return
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.warning("rolling back a history transaction failed: %s", exc)


def _migrate(db: sqlite3.Connection) -> None:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"schema version {version} is newer than this TokenWatch "
                                    f"reads ({SCHEMA_VERSION})")
    if version < SCHEMA_VERSION:
        db.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")


def _restrict_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(f"{path}{suffix}", 0o600)
        except OSError:
            pass  # not created yet, or a file system without modes


def _store_days(db: sqlite3.Connection, generation: int, report: AccountReport) -> None:
    as_of = _text(report.as_of)
    rows = [
        (generation, report.day_boundary, day.day.isoformat(), plain(day.cost),
         day.cost_source.value if day.cost is not None and day.cost_source else None,
         *_token_values(day.tokens), as_of)
        for day in report.days if day.cost is not None or day.tokens is not None
    ]
    # A newer fetch replaces a day's figures; a day it could not price keeps the older cost.
    db.executemany(
        "INSERT INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (generation, day_boundary, day) DO UPDATE SET "
        "cost = COALESCE(excluded.cost, days.cost), "
        "cost_source = CASE WHEN excluded.cost IS NULL THEN days.cost_source "
        "ELSE excluded.cost_source END, "
        "input = COALESCE(excluded.input, days.input), "
        "cached_input = COALESCE(excluded.cached_input, days.cached_input), "
        "cache_write = COALESCE(excluded.cache_write, days.cache_write), "
        "output = COALESCE(excluded.output, days.output), "
        "fetched_at = excluded.fetched_at", rows)


def _store_fetch(db: sqlite3.Connection, generation: int, report: AccountReport) -> None:
    start = (report.period_start or min(d.day for d in report.days)).isoformat()
    end = (report.period_end or max(d.day for d in report.days)).isoformat()
    db.execute("INSERT OR REPLACE INTO fetches VALUES (?, ?, ?, ?, ?, ?)",
               (generation, report.day_boundary, start, end, _text(report.as_of),
                json.dumps(_payload(report))))


def _prune(db: sqlite3.Connection, now: datetime | None) -> None:
    moment = now or datetime.now(UTC)
    db.execute("DELETE FROM generations WHERE retired_at < ?",
               (_text(moment - timedelta(days=RETIRED_DAYS)),))
    db.execute("DELETE FROM fetches WHERE as_of < ?",
               (_text(moment - timedelta(days=FETCH_KEEP_DAYS)),))
    db.execute("DELETE FROM days WHERE day < ?",
               ((moment - timedelta(days=DAY_KEEP_DAYS)).date().isoformat(),))


def _payload(report: AccountReport) -> dict[str, Any]:
    """Convert the parts of a report that are not per day to JSON, with money as decimal text."""
    return {
        "provider": report.provider, "name": report.name, "kind": report.kind.value,
        "status": report.status.value, "cost": plain(report.cost),
        "cost_source": _value(report.cost_source),
        "tokens": report.tokens.as_dict() if report.tokens else None,
        "requests": report.requests,
        "models": [{"model": m.model, "cost": plain(m.cost), "cost_source": _value(m.cost_source),
                    "tokens": m.tokens.as_dict() if m.tokens else None, "requests": m.requests}
                   for m in report.models],
        "balance": [{"remaining": plain(b.remaining), "currency": b.currency}
                    for b in report.balance],
        "breakdown": None if report.breakdown is None else [
            {"group": b.group, "cost": plain(b.cost),
             "tokens": b.tokens.as_dict() if b.tokens else None} for b in report.breakdown],
        "notes": list(report.notes),
        "unpriced_models": list(report.unpriced_models),
    }


def _rebuild(
    db: sqlite3.Connection, generation: int, account_id: str, period: Period
) -> AccountReport | None:
    boundary = period.day_boundary.value
    newest = db.execute(
        "SELECT as_of, payload, period_start, period_end FROM fetches "
        "WHERE generation = ? AND day_boundary = ? ORDER BY as_of DESC LIMIT 1",
        (generation, boundary)).fetchone()
    if newest is None:
        return None
    exact = db.execute(
        "SELECT payload FROM fetches WHERE generation = ? AND day_boundary = ? "
        "AND period_start = ? AND period_end = ?",
        (generation, boundary, period.start.isoformat(), period.end.isoformat())).fetchone()
    stored = _stored_days(db, generation, boundary, period)
    latest = json.loads(newest[1])
    same = json.loads(exact[0]) if exact else None
    if not stored and same is None and not latest["balance"]:
        return None
    return _report(account_id, period, stored, latest, same, _instant(newest[0]))


def _stored_days(
    db: sqlite3.Connection, generation: int, boundary: str, period: Period
) -> dict[date, DayTotal]:
    rows = db.execute(
        "SELECT day, cost, cost_source, input, cached_input, cache_write, output FROM days "
        "WHERE generation = ? AND day_boundary = ? AND day BETWEEN ? AND ?",
        (generation, boundary, period.start.isoformat(), period.end.isoformat())).fetchall()
    result = {}
    for day, cost, source, *tokens in rows:
        parsed = date.fromisoformat(day)
        result[parsed] = DayTotal(
            parsed, Decimal(cost) if cost is not None else None,
            CostSource(source) if source else None,
            Tokens(*tokens) if tokens[0] is not None else None)
    return result


def _report(
    account_id: str, period: Period, stored: dict[date, DayTotal], latest: dict[str, Any],
    same: dict[str, Any] | None, as_of: datetime,
) -> AccountReport:
    days = [stored.get(day) or DayTotal(day, None, None, None) for day in period.days()]
    known = [d for d in days if d.cost is not None]
    counted = [d.tokens for d in days if d.tokens is not None]
    cost = sum((d.cost for d in known if d.cost is not None), Decimal(0)) if known else None
    source = combine_sources(d.cost_source for d in known)
    if cost is None and same is not None and same["cost"] is not None:
        cost, source = Decimal(same["cost"]), _source(same["cost_source"])
    notes = list(latest["notes"])
    if len(known) < period.length:
        notes.append(f"stored costs cover {len(known)} of the period's {period.length} days")
    return AccountReport(
        id=account_id, provider=latest["provider"], name=latest["name"],
        kind=AccountKind(latest["kind"]), status=Status(latest["status"]), error=None,
        as_of=as_of, stale=True, cost=cost, cost_source=source if cost is not None else None,
        tokens=_sum_tokens(counted) if counted else None,
        requests=same["requests"] if same else None,
        models=[_model(m) for m in same["models"]] if same else [],
        days=days, balance=[Balance(Decimal(b["remaining"]), b["currency"])
                            for b in latest["balance"]],
        breakdown=_breakdown(same["breakdown"]) if same else None,
        elapsed_ms=0, notes=notes,
        unpriced_models=list(same["unpriced_models"]) if same else [],
        period_start=period.start, period_end=period.end, day_boundary=period.day_boundary.value,
    )


def _model(data: dict[str, Any]) -> ModelTotal:
    return ModelTotal(data["model"], _money(data["cost"]), _source(data["cost_source"]),
                      _tokens(data["tokens"]), data["requests"])


def _breakdown(rows: list[dict[str, Any]] | None) -> list[BreakdownRow] | None:
    if rows is None:
        return None
    return [BreakdownRow(r["group"], _money(r["cost"]), _tokens(r["tokens"])) for r in rows]


def _sum_tokens(items: list[Tokens]) -> Tokens:
    total = Tokens()
    for item in items:
        total = total + item
    return total


def _token_values(tokens: Tokens | None) -> tuple[int | None, ...]:
    if tokens is None:
        return (None,) * len(TOKEN_FIELDS)
    return tuple(getattr(tokens, name) for name in TOKEN_FIELDS)


def _tokens(data: dict[str, int] | None) -> Tokens | None:
    return Tokens(**data) if data is not None else None


def _money(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _source(text: str | None) -> CostSource | None:
    return CostSource(text) if text else None


def _value(source: CostSource | None) -> str | None:
    return source.value if source else None


def _text(instant: datetime | None) -> str:
    """Format an instant as sortable UTC text (`2026-12-04T19:00:00.000000+00:00`)."""
    moment = instant or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
