"""History store: round trips, identity changes, no key on disk, concurrent writers."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import stat
import subprocess
import sys
import threading
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import NOW
from tokenwatch_desktop.core import history
from tokenwatch_desktop.core.aggregate import AccountIdentity, build_report, error_report
from tokenwatch_desktop.core.periods import DayBoundary, Period, PeriodSpec
from tokenwatch_desktop.core.records import (
    AccountData,
    AccountKind,
    AccountReport,
    Balance,
    CostRow,
    CostSource,
    ProblemInfo,
    Status,
    Tokens,
    UsageRow,
)
from tokenwatch_desktop.core.secrets import KeyLookup
from tokenwatch_desktop.core.settings import AccountConfig, Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions
from tokenwatch_desktop.providers.fake import FakeWorld, base_urls
from tokenwatch_desktop.providers.fake.transport import DEMO_ROOT, fake_transport
from tokenwatch_desktop.providers.http import Http, RetryPolicy, make_client

KEY = "sk-admin-CANARYhistory0123456789"
AS_OF = datetime(2026, 12, 4, 18, 59, 58, tzinfo=UTC)
WEEK = Period("7d", date(2026, 11, 28), date(2026, 12, 4))
ACCOUNT = AccountConfig("openai", "openai")
WHO = AccountIdentity("openai", "openai", "OpenAI", AccountKind.BILLED)


def sample_report(period: Period = WEEK, as_of: datetime = AS_OF,
                  cost: str = "0.1") -> AccountReport:
    days = list(period.days())
    data = AccountData(
        costs=[CostRow(day, Decimal(cost), CostSource.REPORTED) for day in days[:-1]],
        usage=[UsageRow(days[0], "gpt-4o", Tokens(10, 2, 1, 5), 3),
               UsageRow(days[1], None, Tokens(1, 0, 0, 1), 1)],
        unknown_days={days[-1]},
        balance=[Balance(Decimal("12.3400"), "USD")],
    )
    return build_report(WHO, data, period, as_of, 120)


@pytest.fixture
def store(tmp_path: Path) -> history.SqliteHistory:
    with history.SqliteHistory(tmp_path / "data") as opened:
        yield opened


def test_round_trip_same_period(store: history.SqliteHistory) -> None:
    original = sample_report()
    store.save(ACCOUNT, KEY, original)

    loaded = store.load(ACCOUNT, KEY, WEEK)

    assert loaded is not None
    assert loaded.stale is True
    assert loaded.as_of == AS_OF
    assert loaded.cost == Decimal("0.6")
    assert str(loaded.cost) == "0.6"
    assert loaded.cost_source is CostSource.REPORTED
    assert [d.cost for d in loaded.days] == [d.cost for d in original.days]
    assert loaded.days[-1].cost is None
    assert [d.tokens for d in loaded.days] == [d.tokens for d in original.days]
    assert loaded.tokens == original.tokens
    assert loaded.models == original.models
    assert loaded.requests == 4
    assert loaded.balance == [Balance(Decimal("12.3400"), "USD")]
    assert (loaded.period_start, loaded.period_end) == (WEEK.start, WEEK.end)


def test_other_period_uses_known_days(store: history.SqliteHistory) -> None:
    store.save(ACCOUNT, KEY, sample_report())
    later = Period("7d", date(2026, 12, 1), date(2026, 12, 7))

    loaded = store.load(ACCOUNT, KEY, later)

    assert loaded is not None
    costs = {d.day: d.cost for d in loaded.days}
    assert costs[date(2026, 12, 1)] == Decimal("0.1")
    assert costs[date(2026, 12, 4)] is None
    assert costs[date(2026, 12, 7)] is None
    assert loaded.cost == Decimal("0.3")
    assert loaded.models == []
    assert loaded.requests is None
    assert any("stored costs cover 3 of the period's 7 days" in note for note in loaded.notes)


def test_money_keeps_decimal_text(store: history.SqliteHistory) -> None:
    store.save(ACCOUNT, KEY, sample_report(cost="0.000000123456789012345"))

    loaded = store.load(ACCOUNT, KEY, WEEK)

    assert loaded is not None
    assert loaded.days[0].cost == Decimal("0.000000123456789012345")
    assert loaded.cost == Decimal("0.000000123456789012345") * 6


def test_nothing_stored_gives_none(store: history.SqliteHistory) -> None:
    assert store.load(ACCOUNT, KEY, WEEK) is None


def test_error_report_not_stored(store: history.SqliteHistory) -> None:
    failed = error_report(WHO, ProblemInfo("auth", "bad key"), WEEK, 1)

    store.save(ACCOUNT, KEY, failed)

    assert store.load(ACCOUNT, KEY, WEEK) is None
    assert store.last_refresh("openai") is None


def test_newer_fetch_replaces_days(store: history.SqliteHistory) -> None:
    store.save(ACCOUNT, KEY, sample_report(cost="1"))
    newer = sample_report(as_of=AS_OF + timedelta(minutes=15), cost="2")
    unknown_first = replace(newer, days=[replace(newer.days[0], cost=None, cost_source=None),
                                         *newer.days[1:]])

    store.save(ACCOUNT, KEY, unknown_first)
    loaded = store.load(ACCOUNT, KEY, WEEK)

    assert loaded is not None
    assert loaded.days[0].cost == Decimal("1")
    assert loaded.days[1].cost == Decimal("2")
    assert loaded.as_of == AS_OF + timedelta(minutes=15)


def test_day_boundaries_kept_apart(store: history.SqliteHistory) -> None:
    local = Period("7d", WEEK.start, WEEK.end, DayBoundary.LOCAL)
    store.save(ACCOUNT, KEY, sample_report(local))

    assert store.load(ACCOUNT, KEY, WEEK) is None
    assert store.load(ACCOUNT, KEY, local) is not None


@pytest.mark.parametrize("change", ["key", "base_url", "provider", "id"])
def test_identity_change_sets_history_aside(store: history.SqliteHistory, change: str) -> None:
    store.save(ACCOUNT, KEY, sample_report())
    account, key = ACCOUNT, KEY
    if change == "key":
        key = KEY + "x"
    elif change == "base_url":
        account = replace(ACCOUNT, base_url="http://127.0.0.1:9/v1")
    elif change == "provider":
        account = replace(ACCOUNT, provider="deepseek")
    else:
        account = replace(ACCOUNT, id="openai-2")

    assert store.load(account, key, WEEK) is None
    store.save(account, key, sample_report(cost="5"))
    if change != "id":
        assert store.load(ACCOUNT, KEY, WEEK) is None
    reloaded = store.load(account, key, WEEK)
    assert reloaded is not None
    assert reloaded.days[0].cost == Decimal("5")


def test_old_key_stays_set_aside(store: history.SqliteHistory) -> None:
    store.save(ACCOUNT, KEY, sample_report(cost="1"))
    store.save(ACCOUNT, "sk-other-key-0000", sample_report(cost="2"))

    assert store.load(ACCOUNT, KEY, WEEK) is None
    with closing(sqlite3.connect(store.path)) as db:
        retired = db.execute("SELECT COUNT(*) FROM generations WHERE retired_at IS NOT NULL")
        assert retired.fetchone()[0] == 1


def test_default_and_explicit_base_url_match(store: history.SqliteHistory) -> None:
    store.save(ACCOUNT, KEY, sample_report())
    explicit = replace(ACCOUNT, base_url="https://api.openai.com/v1/")

    assert store.load(explicit, KEY, WEEK) is not None


def test_key_never_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    with history.SqliteHistory(folder) as store:
        store.save(ACCOUNT, KEY, sample_report())
        store.load(ACCOUNT, KEY, WEEK)
        plain_hashes = [hashlib.sha256(KEY.encode()).hexdigest(),
                        hashlib.blake2b(KEY.encode()).hexdigest(),
                        hashlib.blake2b(KEY.encode(), digest_size=16).hexdigest(),
                        hashlib.md5(KEY.encode()).hexdigest()]
        files = list(folder.iterdir())
        contents = b"".join(path.read_bytes() for path in files)

    assert {p.name for p in files} >= {"history.sqlite3", "history.salt"}
    assert KEY.encode() not in contents
    assert KEY[-12:].encode() not in contents
    for digest in plain_hashes:
        assert digest.encode() not in contents


def test_files_are_private(store: history.SqliteHistory) -> None:
    store.save(ACCOUNT, KEY, sample_report())

    for name in ("history.sqlite3", "history.salt"):
        assert stat.S_IMODE((store.data_dir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.data_dir.stat().st_mode) == 0o700


def test_fingerprint_is_keyed() -> None:
    one, two = b"a" * 32, b"b" * 32

    assert history.fingerprint(KEY, one) != history.fingerprint(KEY, two)
    assert history.fingerprint(KEY, one) == history.fingerprint(KEY, one)
    assert history.fingerprint(None, one) == ""


def test_salt_survives_reopen(tmp_path: Path) -> None:
    first = history.load_salt(tmp_path)

    assert history.load_salt(tmp_path) == first
    assert len(first) == 32


def test_last_refresh(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    assert history.last_refresh(folder, "openai") is None
    assert not folder.exists()

    with history.SqliteHistory(folder) as store:
        store.save(ACCOUNT, KEY, sample_report())
        store.save(ACCOUNT, KEY, sample_report(Period("30d", date(2026, 11, 5), WEEK.end),
                                               as_of=AS_OF - timedelta(hours=1)))

    assert history.last_refresh(folder, "openai") == AS_OF
    assert history.last_refresh(folder, "nosuch") is None


def test_local_account_without_key(store: history.SqliteHistory) -> None:
    local = AccountConfig("claude-code", "claude-code")
    report = replace(sample_report(), id="claude-code", provider="claude-code",
                     kind=AccountKind.LOCAL)

    store.save(local, None, report)

    loaded = store.load(local, None, WEEK)
    assert loaded is not None
    assert loaded.kind is AccountKind.LOCAL


def test_threads_share_one_store(store: history.SqliteHistory) -> None:
    errors: list[BaseException] = []

    def work(number: int) -> None:
        account = AccountConfig(f"acct-{number}", "openai")
        try:
            for minute in range(10):
                store.save(account, KEY, sample_report(as_of=AS_OF + timedelta(minutes=minute)))
                store.load(account, KEY, WEEK)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for number in range(6):
        assert store.last_refresh(f"acct-{number}") == AS_OF + timedelta(minutes=9)


WRITER = """
import sys
from datetime import timedelta
from pathlib import Path
sys.path[:0] = [sys.argv[3], str(Path(sys.argv[3]).parent)]
from tests.core.test_history import ACCOUNT, AS_OF, KEY, sample_report
from dataclasses import replace
from tokenwatch_desktop.core.history import SqliteHistory
account = replace(ACCOUNT, id=sys.argv[2])
with SqliteHistory(Path(sys.argv[1])) as store:
    for minute in range(40):
        store.save(account, KEY, sample_report(as_of=AS_OF + timedelta(minutes=minute)))
"""


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    here = str(Path(__file__).parent)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), name, here],
                                stderr=subprocess.PIPE)
               for name in ("cli", "tray")]

    results = [(w.wait(timeout=120), w.stderr.read() if w.stderr else b"") for w in writers]
    for writer in writers:
        if writer.stderr:
            writer.stderr.close()

    assert results == [(0, b""), (0, b"")]
    with history.SqliteHistory(folder) as store:
        for name in ("cli", "tray"):
            assert store.last_refresh(name) == AS_OF + timedelta(minutes=39)


def test_status_reflects_saved_partial(store: history.SqliteHistory) -> None:
    partial = replace(sample_report(), status=Status.PARTIAL,
                      error=ProblemInfo("incomplete", "pages missing"))

    store.save(ACCOUNT, KEY, partial)

    loaded = store.load(ACCOUNT, KEY, WEEK)
    assert loaded is not None
    assert loaded.status is Status.PARTIAL


# --- with the engine -----------------------------------------------------------------------------


def run_engine(store: history.SqliteHistory, world: FakeWorld, key: str) -> AccountReport:
    account = AccountConfig("openai", "openai", None, True, base_urls(DEMO_ROOT)["openai"])

    async def lookup_key(account_id: str) -> KeyLookup:
        return KeyLookup(key, "env")

    async def refresh() -> AccountReport:
        async with make_client(fake_transport(world)) as client:
            engine = Engine(Settings(accounts=[account]), Http(client, RetryPolicy(attempts=1)),
                            history=store, key_lookup=lookup_key)
            report = await engine.refresh([account], PeriodSpec("7d"), RefreshOptions(now=NOW))
        return report.accounts[0]

    return asyncio.run(refresh())


def test_engine_falls_back_to_history(store: history.SqliteHistory, fake_world: FakeWorld) -> None:
    fresh = run_engine(store, fake_world, KEY)
    fake_world.set_scenario("openai", "server_error")

    stale = run_engine(store, fake_world, KEY)
    other_key = run_engine(store, fake_world, KEY + "-other")

    assert fresh.status is Status.OK
    assert fresh.cost is not None
    assert stale.status is Status.ERROR
    assert stale.stale is True
    assert stale.error is not None
    assert stale.error.kind == "unavailable"
    assert stale.cost == fresh.cost
    assert [d.cost for d in stale.days] == [d.cost for d in fresh.days]
    assert stale.models == fresh.models
    assert stale.as_of == fresh.as_of
    assert other_key.stale is False
    assert other_key.cost is None
