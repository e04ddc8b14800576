"""OpenRouter client against the OpenRouter fake: key kinds, periods, credits, activity, errors."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, TODAY
from tests.providers.billing_support import ManualClock, account, json_values, period, run_fetch
from tokenwatch_desktop.core.aggregate import AccountIdentity, build_report
from tokenwatch_desktop.core.errors import ErrorKind, ProviderError
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import (
    UNATTRIBUTED,
    AccountData,
    AccountKind,
    AccountReport,
    Balance,
    Status,
    Tokens,
)
from tokenwatch_desktop.providers import openrouter
from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake import openrouter as fake
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.fake.transport import fake_transport
from tokenwatch_desktop.providers.http import RetryPolicy

KEY = "sk-or-v1-normal-key-0001"
MGMT = "sk-or-v1-mgmt-key-0001"
WHO = "OpenRouter (account openrouter)"
IDENTITY = AccountIdentity("openrouter", "openrouter", "OpenRouter", AccountKind.BILLED)


def fetch(world: FakeWorld | None, key: str = KEY, root: str | None = None,
          **kwargs: Any) -> AccountData:
    config = account("openrouter", root) if root else account("openrouter")
    return run_fetch(openrouter.fetch, world, config, key, **kwargs)


def report(data: AccountData, span: Period) -> AccountReport:
    return build_report(IDENTITY, data, span, NOW, 0)


def day_costs(data: AccountData) -> dict[date, Decimal]:
    result: dict[date, Decimal] = {}
    for row in data.costs:
        result[row.day] = result.get(row.day, Decimal(0)) + row.amount
    return result


def known_days(world: FakeWorld, key: str, start: date, end: date) -> dict[date, Decimal]:
    """Expected spend of the days that have activity (days with no rows have no cost row)."""
    expected = fake.expected_daily(world, key, start, end)
    return {day: amount for day, amount in expected.items() if fake.day_rows(world, key, day)}


def paths(world: FakeWorld) -> list[str]:
    return [path.removeprefix(fake.API_PREFIX) for _, _, path in world.calls]


# Normal key: only /key's counters.

def test_normal_key_today(fake_world: FakeWorld) -> None:
    span = period("1d")

    data = fetch(fake_world, span=span)

    expected = fake.expected_daily(fake_world, KEY, TODAY, TODAY)[TODAY]
    assert day_costs(data) == {TODAY: expected}
    assert data.unknown_days == set()
    assert data.problems == []
    assert report(data, span).cost == expected
    assert report(data, span).status is Status.OK


def test_normal_key_month_to_date(fake_world: FakeWorld) -> None:
    span = period("mtd")

    data = fetch(fake_world, span=span)

    rendered = report(data, span)
    assert data.period_cost == fake.expected_month(fake_world, KEY)
    assert data.unknown_days == set(span.days())
    assert rendered.cost == fake.expected_month(fake_world, KEY)
    assert rendered.status is Status.OK
    assert all(day.cost is None for day in rendered.days)
    assert any("month's total only" in note for note in data.notes)


def test_normal_key_30d_unknown(fake_world: FakeWorld) -> None:
    span = period("30d")

    data = fetch(fake_world, span=span)

    rendered = report(data, span)
    assert data.unknown_days == set(span.days())
    assert rendered.cost is None
    assert rendered.status is Status.PARTIAL
    assert rendered.error is not None
    assert rendered.error.kind == "permission"
    assert "per-day spend needs a management key" in rendered.error.message
    assert "tokenwatch setup openrouter" in rendered.error.message


def test_normal_key_no_tokens(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, span=period("1d"))

    assert data.has_tokens is False
    assert data.has_requests is False
    assert data.usage == []


def test_normal_key_skips_activity(fake_world: FakeWorld) -> None:
    fetch(fake_world, span=period("30d"))

    assert paths(fake_world) == ["/key", "/credits"]


def test_normal_key_credits_rejected(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, span=period("1d"))

    assert data.balance == []
    assert data.problems == []
    assert any("may not read /credits" in note for note in data.notes)


def test_zero_credits_not_balance(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openrouter", "zero_credits")

    data = fetch(fake_world, span=period("1d"))

    assert data.balance == []
    assert data.problems == []
    assert any("zero credits" in note for note in data.notes)
    assert paths(fake_world) == ["/key", "/credits"]


def test_normal_key_by_model(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, span=period("1d"), by="model")

    assert data.breakdown is None
    assert [p.kind for p in data.problems] == ["permission"]
    assert "breakdown by model" in data.problems[0].message


def test_spending_limit_note(fake_world: FakeWorld) -> None:
    key = "sk-or-v1-limited-0001"

    data = fetch(fake_world, key, span=period("1d"))

    remaining = Decimal(100) - fake.expected_month(fake_world, key)
    assert any("spending limit of $100.00" in note for note in data.notes)
    assert any(f"${remaining:,.2f}" in note for note in data.notes)


# Management key: /activity per day and model, /credits balance.

def test_management_30d(fake_world: FakeWorld) -> None:
    span = period("30d")

    data = fetch(fake_world, MGMT, span=span)

    assert day_costs(data) == known_days(fake_world, MGMT, span.start, span.end)
    assert data.unknown_days == set()
    assert data.problems == []
    assert report(data, span).cost == sum(
        fake.expected_daily(fake_world, MGMT, span.start, span.end).values(), Decimal(0))
    assert report(data, span).status is Status.OK


def test_management_calls(fake_world: FakeWorld) -> None:
    fetch(fake_world, MGMT, span=period("30d"))

    assert paths(fake_world)[0] == "/key"
    assert sorted(paths(fake_world)[1:]) == ["/activity", "/activity", "/credits"]


def test_management_balance(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, MGMT, span=period("1d"))

    total, used = fake.expected_credits(fake_world, MGMT)
    assert data.balance == [Balance(total - used, "USD")]


def test_management_tokens(fake_world: FakeWorld) -> None:
    span = period("7d")

    data = fetch(fake_world, MGMT, span=span)

    rows = [row for day in span.days() for row in fake.day_rows(fake_world, MGMT, day)]
    total = Tokens()
    for row in data.usage:
        total = total + row.tokens
    assert total == Tokens(input=sum(r.prompt_tokens for r in rows), cached_input=0,
                           output=sum(r.completion_tokens for r in rows))
    assert sum(row.requests or 0 for row in data.usage) == sum(r.requests for r in rows)
    assert openrouter.CACHE_NOTE in data.notes


def test_management_90d_old_days(fake_world: FakeWorld) -> None:
    span = period("90d")
    first_covered = TODAY - timedelta(days=30)

    data = fetch(fake_world, MGMT, span=span)

    older = {day for day in span.days() if day < first_covered}
    assert data.unknown_days == older
    assert len(older) == 59
    assert day_costs(data) == known_days(fake_world, MGMT, first_covered, TODAY)
    assert [p.kind for p in data.problems] == ["incomplete"]
    assert "for the last 30 days only" in data.problems[0].message
    assert report(data, span).status is Status.PARTIAL


def test_management_today_only(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, MGMT, span=period("1d"))

    assert day_costs(data) == known_days(fake_world, MGMT, TODAY, TODAY)
    assert paths(fake_world).count("/activity") == 1


def test_management_past_range(fake_world: FakeWorld) -> None:
    span = period("custom", date(2026, 11, 20), date(2026, 11, 25))

    data = fetch(fake_world, MGMT, span=span)

    assert day_costs(data) == known_days(fake_world, MGMT, span.start, span.end)
    assert paths(fake_world).count("/activity") == 1


def test_management_mtd(fake_world: FakeWorld) -> None:
    span = period("mtd")

    data = fetch(fake_world, MGMT, span=span)

    assert report(data, span).cost == fake.expected_month(fake_world, MGMT)
    assert data.period_cost is None
    assert data.problems == []


def test_breakdown_by_model(fake_world: FakeWorld) -> None:
    span = period("30d")

    data = fetch(fake_world, MGMT, span=span, by="model")

    expected: dict[str, Decimal] = {}
    for day in span.days():
        for row in fake.day_rows(fake_world, MGMT, day):
            expected[row.model] = expected.get(row.model, Decimal(0)) + row.usage
    assert data.breakdown is not None
    assert {row.group: row.cost for row in data.breakdown} == expected
    costs = [row.cost or Decimal(0) for row in data.breakdown]
    assert costs == sorted(costs, reverse=True)


def test_null_model_unattributed(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openrouter", "null_model")

    data = fetch(fake_world, MGMT, span=period("7d"), by="model")

    assert data.breakdown is not None
    assert [row.group for row in data.breakdown] == [UNATTRIBUTED]
    assert all(row.model is None for row in data.usage)


def test_activity_forbidden_falls_back(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openrouter", "activity_forbidden")

    today = fetch(fake_world, MGMT, span=period("1d"))
    month = fetch(fake_world, MGMT, span=period("30d"))

    assert day_costs(today) == {TODAY: fake.expected_daily(fake_world, MGMT, TODAY, TODAY)[TODAY]}
    assert today.problems == []
    assert any("may not read /activity" in note for note in today.notes)
    assert [p.kind for p in month.problems] == ["permission"]
    assert "may read /activity" in month.problems[0].message


def test_credits_forbidden_management(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openrouter", "credits_forbidden")

    data = fetch(fake_world, MGMT, span=period("7d"))

    assert data.balance == []
    assert data.problems == []
    assert any("may not read /credits" in note for note in data.notes)


def test_activity_unavailable_partial(fake_world: FakeWorld) -> None:
    inner = fake_transport(fake_world)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/activity"):
            return httpx.Response(503, json={"error": {"code": 503, "message": "overloaded"}})
        return await inner.handle_async_request(request)

    data = fetch(fake_world, MGMT, span=period("1d"), transport=httpx.MockTransport(handler),
                 retry=RetryPolicy(attempts=1))

    assert day_costs(data) == {TODAY: fake.expected_daily(fake_world, MGMT, TODAY, TODAY)[TODAY]}
    assert [p.kind for p in data.problems] == ["unavailable"]


def test_bad_activity_row(fake_world: FakeWorld) -> None:
    inner = fake_transport(fake_world)
    spoiled: list[date] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        response = await inner.handle_async_request(request)
        if not request.url.path.endswith("/activity") or request.url.params.get("date"):
            return response
        body = json.loads(await response.aread())
        body["data"][-1]["usage"] = "n/a"
        spoiled.append(date.fromisoformat(body["data"][-1]["date"]))
        return httpx.Response(200, json=body)

    span = period("30d")
    data = fetch(fake_world, MGMT, span=span, transport=httpx.MockTransport(handler))

    assert data.unknown_days == set(spoiled)
    assert [p.kind for p in data.problems] == ["bad_response"]
    assert f"row {len(fake_rows(fake_world, spoiled[0]))}" in data.problems[0].message
    known = known_days(fake_world, MGMT, span.start, span.end)
    assert report(data, span).days[(spoiled[0] - span.start).days].cost is None
    assert {d: a for d, a in day_costs(data).items() if d not in spoiled} == {
        d: a for d, a in known.items() if d not in spoiled}


def fake_rows(world: FakeWorld, last: date) -> list[fake.FakeRow]:
    first = TODAY - timedelta(days=30)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [row for day in days for row in fake.day_rows(world, MGMT, day)]


def test_two_keys_differ(fake_world: FakeWorld) -> None:
    first = fetch(fake_world, "sk-or-v1-mgmt-a", span=period("7d"))
    second = fetch(fake_world, "sk-or-v1-mgmt-b", span=period("7d"))

    assert day_costs(first) != day_costs(second)
    assert first.balance != second.balance


def test_loopback_management(loopback: LoopbackServer) -> None:
    span = period("30d")

    data = fetch(None, MGMT, root=loopback.root, span=span)

    assert day_costs(data) == known_days(loopback.world, MGMT, span.start, span.end)
    total, used = fake.expected_credits(loopback.world, MGMT)
    assert data.balance == [Balance(total - used, "USD")]


def test_loopback_normal_mtd(loopback: LoopbackServer) -> None:
    data = fetch(None, KEY, root=loopback.root, span=period("mtd"))

    assert data.period_cost == fake.expected_month(loopback.world, KEY)


# Errors of the first call (/key) end the account.

@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("auth", ErrorKind.AUTH),
        ("forbidden", ErrorKind.PERMISSION),
        ("not_found", ErrorKind.NOT_FOUND),
        ("billing", ErrorKind.BILLING),
        ("malformed", ErrorKind.BAD_RESPONSE),
        ("wrong_shape", ErrorKind.BAD_RESPONSE),
    ],
)
def test_error_kinds(fake_world: FakeWorld, scenario: str, kind: ErrorKind) -> None:
    fake_world.set_scenario("openrouter", scenario)

    with pytest.raises(ProviderError) as caught:
        fetch(fake_world, MGMT)

    assert caught.value.kind is kind
    assert WHO in caught.value.message
    assert MGMT not in str(caught.value)


def test_auth_message_names_key(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openrouter", "auth")

    with pytest.raises(ProviderError) as caught:
        fetch(fake_world)

    assert "OpenRouter API key" in caught.value.message
    assert "No auth credentials found" in caught.value.message


def test_rate_limit_past_wait(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openrouter", "rate_limit", retry_after=90)

    with pytest.raises(ProviderError) as caught:
        fetch(fake_world, MGMT)

    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 90
    assert paths(fake_world) == ["/key"]


def test_rate_limit_short_wait() -> None:
    clock = ManualClock()
    world = FakeWorld(today=TODAY, clock=clock)
    world.set_scenario("openrouter", "rate_limit", retry_after=5)
    span = period("7d")

    data = fetch(world, MGMT, span=span, sleep=clock.sleep)

    assert day_costs(data) == known_days(world, MGMT, span.start, span.end)
    assert world.counters["openrouter:rate_limited"] == 1
    assert world.counters["openrouter:early_retry"] == 0
    assert clock.sleeps == [pytest.approx(5.05)]


def test_missing_key(fake_world: FakeWorld) -> None:
    config = account("openrouter")

    with pytest.raises(ProviderError) as caught:
        run_fetch(openrouter.fetch, fake_world, config, None)

    assert caught.value.kind is ErrorKind.NO_KEY


# Parsers.

DOC_KEY = {"data": {"label": "sk-or-v1-9f2…c41", "limit": 50, "limit_remaining": Decimal("31.75"),
                    "usage": Decimal("18.25"), "usage_daily": Decimal("0.42"),
                    "usage_monthly": Decimal("18.25"), "is_management_key": False}}


def test_parse_documented_key() -> None:
    info = openrouter.parse_key(DOC_KEY, WHO)

    assert info == openrouter.KeyInfo(False, Decimal("0.42"), Decimal("18.25"), Decimal(50),
                                      Decimal("31.75"))


def test_parse_provisioning_key() -> None:
    info = openrouter.parse_key({"data": {"is_provisioning_key": True}}, WHO)

    assert info.management is True
    assert info.usage_daily is None


def test_parse_documented_credits() -> None:
    body = {"data": {"total_credits": Decimal("120.0"), "total_usage": Decimal("86.4312")}}

    assert openrouter.parse_credits(body, WHO) == (Decimal("120.0"), Decimal("86.4312"))


def test_parse_documented_activity() -> None:
    row = {"date": "2026-03-01", "model": "anthropic/claude-sonnet-4.5",
           "model_permaslug": "anthropic/claude-4.5-sonnet-20250929", "provider_name": "Anthropic",
           "usage": Decimal("1.9821"), "byok_usage_inference": 0, "requests": 44,
           "prompt_tokens": 402118, "completion_tokens": 31440, "reasoning_tokens": 0}
    activity = openrouter.Activity()

    openrouter.parse_activity({"data": [row]}, WHO, activity)

    assert activity.rows == [openrouter.ActivityRow(
        date(2026, 3, 1), "anthropic/claude-sonnet-4.5", Decimal("1.9821"),
        Tokens(input=402118, output=31440), 44)]
    assert activity.bad_rows == []


@pytest.mark.parametrize("body", [[], {"data": "x"}, {"error": {}},
                                  {"data": {"usage_daily": "n/a"}}])
def test_parse_key_wrong_shape(body: Any) -> None:
    with pytest.raises(ProviderError):
        openrouter.parse_key(body, WHO)


@pytest.mark.parametrize("body", [[], {"data": {}}, {"data": []},
                                  {"data": {"total_credits": 5, "total_usage": None}}])
def test_parse_credits_wrong_shape(body: Any) -> None:
    with pytest.raises(ProviderError):
        openrouter.parse_credits(body, WHO)


@pytest.mark.parametrize("body", [[], {"data": {}}, {"data": "x"}, {"rows": []}])
def test_parse_activity_wrong_shape(body: Any) -> None:
    with pytest.raises(ProviderError):
        openrouter.parse_activity(body, WHO, openrouter.Activity())


@settings(max_examples=300, deadline=None)
@given(json_values())
def test_parsers_arbitrary_json(value: Any) -> None:
    for parse in (openrouter.parse_key, openrouter.parse_credits):
        try:
            parse(value, WHO)
        except ProviderError:
            pass
    try:
        openrouter.parse_activity(value, WHO, openrouter.Activity())
    except ProviderError:
        pass


rows = st.fixed_dictionaries({}, optional={
    "date": st.sampled_from(["2026-12-01", "2026-12-01T00:00:00Z", "bad"]) | json_values(1),
    "model": st.sampled_from(["openai/gpt-4o", None]) | json_values(1),
    "usage": json_values(1),
    "requests": json_values(1),
    "prompt_tokens": st.integers() | json_values(1),
    "completion_tokens": st.integers() | json_values(1),
})


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"data": st.lists(rows | json_values(2), max_size=5)}))
def test_activity_parser_near_shape(value: Any) -> None:
    activity = openrouter.Activity()

    openrouter.parse_activity(value, WHO, activity)

    assert len(activity.rows) + len(activity.bad_rows) == len(value["data"])
    assert all(row.tokens.input >= 0 and row.requests >= 0 for row in activity.rows)
    assert all(isinstance(row.cost, Decimal) for row in activity.rows)
