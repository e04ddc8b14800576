"""What a local-log account has learned: responses, UTC 15-minute buckets and file positions.

Kept in SQLite, on disk under the data directory or in memory (demo mode). Buckets hold per
model the summed token kinds, the response count and the estimated cost, so either day
convention in any zone can be rebuilt; responses are kept so that a copy of a response found
later (in another file, or after a rescan) replaces or joins the one counted instead of adding to
it. History stays when log files are deleted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenwatch_desktop.core.pricing import PriceTable
from tokenwatch_desktop.local.dedupe import Response, ResponseBook
from tokenwatch_desktop.local.lines import BUCKET_SECONDS, UsageLine
from tokenwatch_desktop.local.scanner import FileState

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    offset INTEGER NOT NULL, head BLOB NOT NULL, state TEXT NOT NULL,
    corrupt INTEGER NOT NULL, invalid INTEGER NOT NULL, PRIMARY KEY (dev, ino));
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, request_id TEXT,
    any_sidechain INTEGER NOT NULL, first_ms INTEGER NOT NULL, at_ms INTEGER NOT NULL,
    model TEXT, input INTEGER NOT NULL, cache_read INTEGER NOT NULL,
    cache_write_5m INTEGER NOT NULL, cache_write_1h INTEGER NOT NULL, output INTEGER NOT NULL,
    sidechain INTEGER NOT NULL, fast INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (
    bucket INTEGER NOT NULL, model TEXT NOT NULL, input INTEGER NOT NULL,
    cache_read INTEGER NOT NULL, cache_write_5m INTEGER NOT NULL,
    cache_write_1h INTEGER NOT NULL, output INTEGER NOT NULL, requests INTEGER NOT NULL,
    cost TEXT NOT NULL, unpriced INTEGER NOT NULL, PRIMARY KEY (bucket, model));
"""
#: Responses are looked up by message id only when a later scan reads new lines, so the first
#: scan of a store leaves this index out and the next scan that needs it builds it.
_INDEX = "CREATE INDEX IF NOT EXISTS responses_message ON responses (message_id)"
_RESPONSE_COLUMNS = (
    "message_id, request_id, any_sidechain, first_ms, at_ms, model, input, cache_read, "
    "cache_write_5m, cache_write_1h, output, sidechain, fast"
)
#: Counts per bucket row: input, cache_read, cache_write_5m, cache_write_1h, output, requests,
#: unpriced requests; plus the cost of the priced requests.
_COUNTS = 7
#: SQLite's default: a commit that leaves at least this many pages in the log copies them.
_AUTOCHECKPOINT_PAGES = 1000
_BUCKET_MS = BUCKET_SECONDS * 1000


@dataclass
class BucketRow:
    bucket: int
    model: str | None
    counts: list[int]
    cost: Decimal

    @property
    def unpriced(self) -> int:
        return self.counts[6]


class Ledger:
    """Responses and buckets of one account, in one SQLite database.

    All methods run on a worker thread; `lock` keeps one scan at a time per ledger.
    """

    def __init__(self, path: Path | None, vendor: str) -> None:
        self.path = path
        self.vendor = vendor
        self.lock = threading.Lock()
        self._memo: dict[Any, Any] = {}
        self._memo_version: int | None = None
        #: Copies a first scan's write-ahead log into the database file (see `_checkpoint_later`).
        self.checkpointer: threading.Thread | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(":memory:" if path is None else str(path),
                                  check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._check_version()

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.join()
        self.db.close()

    def _checkpoint_later(self) -> None:
        """Copy the write-ahead log into the database file on a thread of its own.

        After a first scan the log holds every page written, and copying it (with a sync)
        at the commit would keep the caller waiting. SQLite does the copy without holding the
        GIL, so the caller goes on building its figures meanwhile. Until the copy is done,
        readers find the pages in the log, as after any commit in WAL mode.
        """
        if self.path is None:
            return
        if self.checkpointer is not None:
            self.checkpointer.join()
        self.checkpointer = threading.Thread(target=_checkpoint, args=(self.path,),
                                             name="local-log-checkpoint")
        self.checkpointer.start()

    def _check_version(self) -> None:
        found = self.meta("schema")
        if found is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif found != SCHEMA_VERSION:
            raise RuntimeError(f"local-log store {self.path} has schema {found}, "
                               f"expected {SCHEMA_VERSION}; move the file aside to rebuild it")

    def memo(self) -> dict[Any, Any]:
        """Figures derived from the stored data (see `account.build`), kept until it changes.

        Emptied by every `apply` here, and when another connection (another TokenWatch process
        on the same file) committed a change since the last look (`PRAGMA data_version`).
        """
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._memo_version:
            self._memo.clear()
            self._memo_version = version
        return self._memo

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # Files -------------------------------------------------------------------------------

    def files(self) -> dict[tuple[int, int], FileState]:
        rows = self.db.execute(
            "SELECT dev, ino, path, size, offset, head, state, corrupt, invalid FROM files")
        return {(r[0], r[1]): FileState(r[0], r[1], r[2], r[3], r[4], bytes(r[5]),
                                        json.loads(r[6]), r[7], r[8]) for r in rows}

    def line_problems(self) -> tuple[int, int]:
        row = self.db.execute("SELECT COALESCE(SUM(corrupt), 0), COALESCE(SUM(invalid), 0) "
                              "FROM files").fetchone()
        return int(row[0]), int(row[1])

    def fallback_models(self) -> int:
        """Codex turns counted under the fallback model, over the files still present."""
        return sum(int(state.state.get("codex", {}).get("fallback", 0))
                   for state in self.files().values())

    def _save_files(self, states: Iterable[FileState], gone: Iterable[tuple[int, int]]) -> None:
        self.db.executemany("DELETE FROM files WHERE dev = ? AND ino = ?", list(gone))
        self.db.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(s.dev, s.ino, s.path, s.size, s.offset, s.head, json.dumps(s.state), s.corrupt,
              s.invalid) for s in states])

    # Responses ---------------------------------------------------------------------------

    def apply(self, lines: Sequence[UsageLine], prices: PriceTable, states: Sequence[FileState],
              gone: Sequence[tuple[int, int]]) -> int:
        """Count new lines, then save the file positions, in one transaction.

        Returns how many responses changed. Prices are checked first: when the table changed
        since the buckets were built, every stored response is priced again.
        """
        update = self.update(prices)
        try:
            update.add(lines)
            return update.finish(states, gone)
        except BaseException:
            update.abort()
            raise

    def update(self, prices: PriceTable) -> Update:
        """Start counting lines that arrive in batches (in scan order): see `Update`."""
        return Update(self, prices)

    def _load_stored(self, book: ResponseBook, message_ids: Sequence[str]) -> None:
        """Put the stored responses with these message ids into the book."""
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT id, {_RESPONSE_COLUMNS} FROM responses "
                                   f"WHERE message_id IN ({marks})", chunk)
            for row in rows:
                book.load(_response_from_row(row))

    def _empty(self, table: str) -> bool:
        return self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None

    def _insert_responses(self, responses: Sequence[Response]) -> None:
        """Insert new responses under the row ids already given to them."""
        self.db.executemany(f"INSERT INTO responses (id, {_RESPONSE_COLUMNS}) VALUES "
                            f"({','.join('?' * 14)})",
                            [(r.row_id, *_response_row(r)) for r in responses])

    def _update_responses(self, responses: Sequence[Response]) -> None:
        self.db.executemany(
            f"UPDATE responses SET ({_RESPONSE_COLUMNS}) = ({','.join('?' * 13)}) WHERE id = ?",
            [(*_response_row(r), r.row_id) for r in responses])

    def _add_to_buckets(self, deltas: dict[tuple[int, str], list[Any]]) -> None:
        if not deltas:
            return
        rows, emptied = [], []
        if self._empty("buckets"):  # a first scan: each sum is its delta added to zero
            zero = Decimal(0)
            rows = [(*key, *delta[:_COUNTS], format(zero + delta[_COUNTS], "f"))
                    for key, delta in deltas.items() if delta[5] != 0]
            deltas = {}
        current = self._load_buckets(deltas)
        for key, delta in deltas.items():
            base = current.get(key, _zero_delta())
            merged = [a + b for a, b in zip(base, delta, strict=True)]
            if merged[5] == 0:  # no response left in this bucket: every sum is back to zero
                emptied.append(key)
                continue
            rows.append((*key, *merged[:_COUNTS], format(merged[_COUNTS], "f")))
        self.db.executemany("DELETE FROM buckets WHERE bucket = ? AND model = ?", emptied)
        self.db.executemany(
            "INSERT OR REPLACE INTO buckets (bucket, model, input, cache_read, cache_write_5m, "
            "cache_write_1h, output, requests, unpriced, cost) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)

    def _load_buckets(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[Any]]:
        found: dict[tuple[int, str], list[Any]] = {}
        for bucket, model in keys:
            row = self.db.execute(
                "SELECT input, cache_read, cache_write_5m, cache_write_1h, output, requests, "
                "unpriced, cost FROM buckets WHERE bucket = ? AND model = ?",
                (bucket, model)).fetchone()
            if row is not None:
                found[(bucket, model)] = [*row[:_COUNTS], Decimal(row[_COUNTS])]
        return found

    def _reprice_if_needed(self, prices: PriceTable) -> None:
        fingerprint = prices.fingerprint()
        if self.meta("prices") == fingerprint:
            return
        if not self._empty("responses"):
            log.info("prices changed; estimating every stored response again")
            self.db.execute("DELETE FROM buckets")
            deltas: dict[tuple[int, str], list[Any]] = defaultdict(_zero_delta)
            for row in self.db.execute(f"SELECT id, {_RESPONSE_COLUMNS} FROM responses"):
                response = _response_from_row(row)
                _add_delta(deltas, (response.first_ms, response.best), prices, self.vendor, 1)
            self._add_to_buckets(deltas)
        self.set_meta("prices", fingerprint)

    # Reading -----------------------------------------------------------------------------

    def buckets(self, start_s: int, end_s: int) -> Iterator[BucketRow]:
        """Bucket rows whose start lies in [start_s, end_s) (Unix seconds)."""
        for row in self.bucket_tuples(start_s, end_s):
            yield BucketRow(row[0], row[1] or None, list(row[2:9]), Decimal(row[9]))

    def bucket_tuples(self, start_s: int, end_s: int) -> sqlite3.Cursor:
        """The same rows as plain tuples: bucket, model ('' when none), the seven counts of
        `BucketRow.counts`, and the cost as decimal text."""
        return self.db.execute(
            "SELECT bucket, model, input, cache_read, cache_write_5m, cache_write_1h, output, "
            "requests, unpriced, cost FROM buckets WHERE bucket >= ? AND bucket < ?",
            (start_s // BUCKET_SECONDS, -(-end_s // BUCKET_SECONDS)))


class Update:
    """One transaction that counts lines arriving in batches, in scan order.

    Each batch is added to the responses at once. The responses it created are inserted, and
    every response it changed is priced into the bucket sums then, so this work runs while the
    rest of the scan is still being read (see `scanner.scan`). `finish` writes the rest and
    commits. Adding lines in several batches counts exactly as adding them in one. A response
    that changes again in a later batch is rewritten at `finish`. The bucket it was first priced
    into is then summed again from every changed response, because taking a price back out
    could leave extra trailing zeros on the Decimal sum.
    """

    def __init__(self, ledger: Ledger, prices: PriceTable) -> None:
        self.ledger = ledger
        self.prices = prices
        self.book = ResponseBook()
        self.changed: dict[int, Response] = {}
        #: Per response (by id): the state it was priced in, and that price.
        self.priced: dict[int, tuple[int, UsageLine, Decimal | None]] = {}
        self.deltas: dict[tuple[int, str], list[Any]] = defaultdict(_zero_delta)
        #: Buckets holding the price of a response that changed again afterwards.
        self.stale: set[tuple[int, str]] = set()
        self.rewrite: dict[int, Response] = {}
        self.inserted: set[int] = set()
        self.looked_up: set[str] = set()
        self.stored = False
        self.next_row = 1
        self.started = False

    def _begin(self) -> None:
        if self.started:
            return
        db = self.ledger.db
        self.ledger._memo.clear()
        db.execute("BEGIN")
        self.started = True
        self.ledger._reprice_if_needed(self.prices)
        self.stored = not self.ledger._empty("responses")
        self.next_row = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM responses").fetchone()[0]
        if self.stored:
            db.execute(_INDEX)
        else:
            # Into an empty table (a first scan), building the index later in one go is quicker
            # than keeping it up to date row by row, and nothing reads it before then.
            db.execute("DROP INDEX IF EXISTS responses_message")

    def add(self, lines: Sequence[UsageLine]) -> None:
        """Count one batch of new lines."""
        if not lines:
            return
        self._begin()
        if self.stored:
            wanted = {line.message_id for line in lines if line.message_id is not None}
            wanted -= self.looked_up
            self.looked_up |= wanted
            self.ledger._load_stored(self.book, sorted(wanted))
        batch: dict[int, Response] = {}
        add = self.book.add
        for line in lines:
            response = add(line)
            if response is not None:
                batch[id(response)] = response
        fresh = []
        for key, response in batch.items():
            self._price(key, response)
            if response.row_id is None:
                response.row_id = self.next_row
                self.next_row += 1
                self.inserted.add(key)
                fresh.append(response)
            else:
                self.rewrite[key] = response
        # A response inserted by an earlier batch whose request id or sidechain mark changed
        # since is written again, so its row ends as one batch would have written it.
        for response in self.book.relabeled:
            if id(response) in self.inserted and id(response) not in batch:
                self.rewrite[id(response)] = response
        self.book.relabeled.clear()
        self.changed.update(batch)
        self.ledger._insert_responses(fresh)

    def _price(self, key: int, response: Response) -> None:
        before = self.priced.get(key)
        if before is not None:
            self.stale.add(_bucket_key(before[0], before[1]))
        elif response.saved is not None:
            _add_delta(self.deltas, response.saved, self.prices, self.ledger.vendor, -1)
        best, first_ms = response.best, response.first_ms
        counts = best.counts()
        cost = self.prices.cost(self.ledger.vendor, best.model, first_ms, counts, best.fast)
        self.priced[key] = (first_ms, best, cost)
        # What `_add_delta(..., sign=1)` adds, written out because it runs once per response.
        delta = self.deltas[(first_ms // _BUCKET_MS, best.model or "")]
        delta[0] += counts[0]
        delta[1] += counts[1]
        delta[2] += counts[2]
        delta[3] += counts[3]
        delta[4] += counts[4]
        delta[5] += 1
        if cost is None:
            delta[6] += 1
        else:
            delta[_COUNTS] += cost

    def _sum_stale_again(self) -> None:
        """Sum the stale buckets again from the final state of every changed response."""
        for bucket in self.stale:
            self.deltas[bucket] = _zero_delta()
        vendor = self.ledger.vendor
        # Only a few buckets are stale: compare the bucket number first, which is cheap.
        slots = {slot for slot, _model in self.stale}
        if self.stored:  # only responses read back from the store have a `saved` state
            for response in self.changed.values():
                saved = response.saved
                if (saved is not None and saved[0] // _BUCKET_MS in slots
                        and _bucket_key(*saved) in self.stale):
                    _add_delta(self.deltas, saved, self.prices, vendor, -1)
        for first_ms, best, cost in self.priced.values():
            if first_ms // _BUCKET_MS in slots and _bucket_key(first_ms, best) in self.stale:
                _add_delta(self.deltas, (first_ms, best), self.prices, vendor, 1, (cost,))

    def finish(self, states: Sequence[FileState], gone: Sequence[tuple[int, int]]) -> int:
        """Write what is left (rewritten responses, buckets, file positions) and commit.

        Returns how many responses changed. Nothing is written when nothing changed.
        """
        ledger = self.ledger
        if not self.started:
            if not states and not gone and ledger.meta("prices") == self.prices.fingerprint():
                return 0
            self._begin()
        ledger._update_responses(list(self.rewrite.values()))
        if self.stale:
            self._sum_stale_again()
        ledger._add_to_buckets(self.deltas)
        ledger._save_files(states, gone)
        # A first scan writes many pages: copy them from the write-ahead log to the database
        # file on another thread instead of at the commit.
        later = not self.stored and ledger.path is not None
        if later:
            ledger.db.execute("PRAGMA wal_autocheckpoint=0")
        try:
            ledger.db.execute("COMMIT")
        finally:
            if later:
                ledger.db.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
        self.started = False
        if later:
            ledger._checkpoint_later()
        return len(self.changed)

    def abort(self) -> None:
        """Undo everything written since the first batch (after an error)."""
        if self.started:
            self.ledger.db.execute("ROLLBACK")
            self.started = False


def _checkpoint(path: Path) -> None:
    try:
        # mode=rw: a store moved aside meanwhile is not created again, empty.
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            db.close()
    except sqlite3.Error as exc:  # the next commit or close copies the log instead
        log.debug("could not copy the write-ahead log of %s: %s", path, exc)


def _zero_delta() -> list[Any]:
    return [0] * _COUNTS + [Decimal(0)]


def _bucket_key(first_ms: int, line: UsageLine) -> tuple[int, str]:
    return (first_ms // _BUCKET_MS, line.model or "")


def _add_delta(deltas: dict[tuple[int, str], list[Any]], counted: tuple[int, UsageLine],
               prices: PriceTable, vendor: str, sign: int,
               priced: tuple[Decimal | None] | None = None) -> None:
    first_ms, line = counted
    delta = deltas[(first_ms // _BUCKET_MS, line.model or "")]
    counts = line.counts()
    given, read, write_5m, write_1h, output = counts
    delta[0] += sign * given
    delta[1] += sign * read
    delta[2] += sign * write_5m
    delta[3] += sign * write_1h
    delta[4] += sign * output
    delta[5] += sign
    cost = prices.cost(vendor, line.model, first_ms, counts, line.fast) if priced is None else (
        priced[0])
    if cost is None:
        delta[6] += sign
    else:
        delta[_COUNTS] += sign * cost


def _response_row(response: Response) -> tuple[Any, ...]:
    best = response.best
    return (response.message_id, response.request_id, int(response.any_sidechain),
            response.first_ms, best.at_ms, best.model, *best.counts(), int(best.sidechain),
            int(best.fast))


def _response_from_row(row: Sequence[Any]) -> Response:
    best = UsageLine(at_ms=row[5], model=row[6], input=row[7], cache_read=row[8],
                     cache_write_5m=row[9], cache_write_1h=row[10], output=row[11],
                     message_id=row[1], request_id=row[2], sidechain=bool(row[12]),
                     fast=bool(row[13]))
    return Response(message_id=row[1], request_id=row[2], any_sidechain=bool(row[3]),
                    first_ms=row[4], best=best, row_id=row[0])
