"""Grok (xAI) client against the xAI fake: daily spend, the inverted ledger, errors, parsers."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TODAY
from tests.providers.billing_support import ManualClock, account, json_values, period, run_fetch
from tokenwatch_desktop.core.errors import ErrorKind, ProviderError
from tokenwatch_desktop.core.periods import Period
from tokenwatch_desktop.core.records import AccountData, Balance
from tokenwatch_desktop.providers import grok
from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake import xai as fake
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.fake.transport import fake_transport
from tokenwatch_desktop.providers.http import RetryPolicy

KEY = "mgmt-5f1c9a7e-not-an-xai-prefix"
TEAM = "demo-team"
WHO = "Grok (xAI) (account grok)"
USAGE_PATH = f"/v1/billing/teams/{TEAM}/usage"
BALANCE_PATH = f"/v1/billing/teams/{TEAM}/prepaid/balance"


def fetch(world: FakeWorld | None, key: str | None = KEY, team: Any = TEAM,
          root: str | None = None, **kwargs: Any) -> AccountData:
    options = {} if team is None else {"team_id": team}
    config = account("grok", root, **options) if root else account("grok", **options)
    return run_fetch(grok.fetch, world, config, key, **kwargs)


def failure(world: FakeWorld, scenario: str | None = None, **kwargs: Any) -> ProviderError:
    if scenario is not None:
        world.set_scenario("xai", scenario)
    with pytest.raises(ProviderError) as caught:
        fetch(world, **kwargs)
    assert KEY not in str(caught.value)
    return caught.value


def spend_by_day(data: AccountData) -> dict[date, Decimal]:
    result: dict[date, Decimal] = {}
    for row in data.costs:
        result[row.day] = result.get(row.day, Decimal(0)) + row.amount
    return result


def expected_nonzero(world: FakeWorld, span: Period, key: str = KEY) -> dict[date, Decimal]:
    expected = fake.expected_spend(world, key, TEAM, span.start, span.end)
    return {day: amount for day, amount in expected.items() if amount}


def test_daily_spend(fake_world: FakeWorld) -> None:
    span = period("30d")

    data = fetch(fake_world, span=span)

    assert {d: a for d, a in spend_by_day(data).items() if a} == expected_nonzero(fake_world, span)
    assert all(row.source == "reported" for row in data.costs)
    assert data.unknown_days == set()
    assert data.problems == []


def test_no_token_data(fake_world: FakeWorld) -> None:
    data = fetch(fake_world)

    assert data.has_tokens is False
    assert data.has_requests is False
    assert data.has_cost is True
    assert data.usage == []


def test_both_calls_made(fake_world: FakeWorld) -> None:
    fetch(fake_world)

    assert sorted(fake_world.calls) == [("xai", "GET", BALANCE_PATH), ("xai", "POST", USAGE_PATH)]


def test_usage_body_time_range() -> None:
    body = grok.usage_body(period("30d"))

    assert body == {"analyticsRequest": {
        "timeRange": {"startTime": "2026-11-05 00:00:00", "endTime": "2026-12-05 00:00:00",
                      "timezone": "Etc/GMT"},
        "timeUnit": "TIME_UNIT_DAY",
        "values": [{"name": "usd", "aggregation": "AGGREGATION_SUM"}],
        "groupBy": ["description"],
        "filters": [],
    }}


def test_fake_rejects_iso_time(fake_world: FakeWorld) -> None:
    body = grok.usage_body(period("7d"))
    body["analyticsRequest"]["timeRange"]["startTime"] = "2026-11-28T00:00:00Z"

    answer = fake_world.handle("POST", "/xai" + USAGE_PATH, "",
                               {"Authorization": f"Bearer {KEY}"}, json.dumps(body).encode())

    assert answer.status == 400


def test_custom_range_days(fake_world: FakeWorld) -> None:
    span = period("custom", date(2026, 10, 30), date(2026, 11, 2))

    data = fetch(fake_world, span=span)

    assert set(spend_by_day(data)) <= set(span.days())
    assert {d: a for d, a in spend_by_day(data).items() if a} == expected_nonzero(fake_world, span)


def test_two_keys_differ(fake_world: FakeWorld) -> None:
    first = fetch(fake_world, key="mgmt-first")
    second = fetch(fake_world, key="mgmt-second")

    assert spend_by_day(first) != spend_by_day(second)
    assert first.balance != second.balance


def test_ledger_credit(fake_world: FakeWorld) -> None:
    data = fetch(fake_world)

    remaining = fake.expected_remaining(fake_world, KEY, TEAM)
    assert data.balance == [Balance(remaining, "USD")]
    assert remaining > 0
    assert fake.ledger_cents(fake_world, KEY, TEAM) < 0


def test_ledger_deficit(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("xai", "deficit")

    data = fetch(fake_world)

    remaining = fake.expected_remaining(fake_world, KEY, TEAM)
    assert data.balance == [Balance(remaining, "USD")]
    assert remaining < 0


@pytest.mark.parametrize(
    ("total", "remaining"),
    [({"val": "-3750"}, Decimal("37.50")), ({"val": "1250"}, Decimal("-12.50")),
     ({"val": -5}, Decimal("0.05")), ({}, Decimal(0))],
)
def test_parse_ledger_sign(total: dict[str, Any], remaining: Decimal) -> None:
    balance = grok.parse_balance({"changes": [], "total": total}, WHO)

    assert balance == Balance(remaining, "USD")


def test_ledger_without_total_noted() -> None:
    data = grok._combine(AccountData(), grok.parse_balance({"changes": []}, WHO), period(), WHO)

    assert data.balance == []
    assert data.notes == ["xAI reports no prepaid credit ledger for this team."]


def test_limit_reached_partial(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("xai", "limit_reached")

    data = fetch(fake_world)

    assert [p.kind for p in data.problems] == ["incomplete"]
    assert "lower bound" in data.problems[0].message
    assert data.balance


def test_calls_run_concurrently(fake_world: FakeWorld) -> None:
    inner = fake_transport(fake_world)
    both_arrived = asyncio.Event()
    arrived: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        arrived.append(request.url.path)
        if len(arrived) == 2:
            both_arrived.set()
        try:
            await asyncio.wait_for(both_arrived.wait(), 10)
        except TimeoutError:
            return httpx.Response(400, json={"message": "the other call never started"})
        return await inner.handle_async_request(request)

    data = fetch(fake_world, transport=httpx.MockTransport(handler))

    assert both_arrived.is_set()
    assert data.problems == []
    assert len(arrived) == 2


def test_loopback_spend(loopback: LoopbackServer) -> None:
    span = period("7d")

    data = fetch(None, root=loopback.root, span=span)

    expected = expected_nonzero(loopback.world, span)
    assert {d: a for d, a in spend_by_day(data).items() if a} == expected
    assert data.balance == [Balance(fake.expected_remaining(loopback.world, KEY, TEAM), "USD")]


def test_team_prefix_served(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, team="team-7c0e4b1a")

    assert data.problems == []
    assert data.balance


def test_wrong_team_not_found(fake_world: FakeWorld) -> None:
    error = failure(fake_world, team="someone-elses-team")

    assert error.kind is ErrorKind.NOT_FOUND
    assert "team" in error.message


@pytest.mark.parametrize("team", [None, "", "   ", ["a"], True])
def test_missing_team_id(fake_world: FakeWorld, team: Any) -> None:
    error = failure(fake_world, team=team)

    assert error.kind is ErrorKind.CONFIG
    assert "team_id" in error.message
    assert "tokenwatch setup grok --team-id" in error.message
    assert fake_world.calls == []


def test_numeric_team_id(fake_world: FakeWorld) -> None:
    fake_world.xai_teams.add("4711")

    data = fetch(fake_world, team=4711)

    assert data.problems == []
    assert ("xai", "GET", "/v1/billing/teams/4711/prepaid/balance") in fake_world.calls


def test_missing_key(fake_world: FakeWorld) -> None:
    error = failure(fake_world, key=None)

    assert error.kind is ErrorKind.NO_KEY


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("auth", ErrorKind.AUTH),
        ("forbidden", ErrorKind.PERMISSION),
        ("no_billing_access", ErrorKind.PERMISSION),
        ("not_found", ErrorKind.NOT_FOUND),
        ("billing", ErrorKind.BILLING),
        ("malformed", ErrorKind.BAD_RESPONSE),
        ("wrong_shape", ErrorKind.BAD_RESPONSE),
    ],
)
def test_error_kinds(fake_world: FakeWorld, scenario: str, kind: ErrorKind) -> None:
    error = failure(fake_world, scenario)

    assert error.kind is kind
    assert WHO in error.message


def test_auth_names_key_kind(fake_world: FakeWorld) -> None:
    error = failure(fake_world, "auth")

    assert "management key" in error.message
    assert "tokenwatch setup grok" in error.message


def test_rate_limit_past_wait(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("xai", "rate_limit", retry_after=120)

    data = fetch(fake_world, span=period("7d"))

    assert [p.kind for p in data.problems] == ["rate_limited"]
    assert data.unknown_days == set(period("7d").days())
    assert data.costs == []
    assert data.balance == [Balance(fake.expected_remaining(fake_world, KEY, TEAM), "USD")]
    assert fake_world.counters["xai:early_retry"] == 0


def test_rate_limit_short_wait() -> None:
    clock = ManualClock()
    world = FakeWorld(today=TODAY, clock=clock)
    world.set_scenario("xai", "rate_limit", retry_after=2)
    span = period("7d")

    data = fetch(world, span=span, sleep=clock.sleep)

    assert data.problems == []
    assert {d: a for d, a in spend_by_day(data).items() if a} == expected_nonzero(world, span)
    assert world.counters["xai:rate_limited"] == 1
    assert world.counters["xai:early_retry"] == 0
    assert clock.sleeps == [pytest.approx(2.05)]


def test_server_error_retried_then_fails(fake_world: FakeWorld) -> None:
    error = failure(fake_world, "server_error", retry=RetryPolicy(attempts=2))

    assert error.kind is ErrorKind.UNAVAILABLE
    assert fake_world.counters["xai:requests"] == 4


def test_parse_documented_example() -> None:
    body = {"timeSeries": [{"group": [], "groupLabels": [], "dataPoints": [
        {"timestamp": "2026-03-01T00:00:00Z", "values": [Decimal("2.61")]},
        {"timestamp": "2026-03-02T00:00:00Z", "values": [Decimal("0.0")]},
        {"timestamp": "2026-03-03T00:00:00Z", "values": [Decimal("7.35")]},
    ]}], "limitReached": False}
    span = period("custom", date(2026, 3, 1), date(2026, 3, 3))

    data = grok.parse_usage(body, span, WHO)

    assert spend_by_day(data) == {date(2026, 3, 1): Decimal("2.61"),
                                  date(2026, 3, 2): Decimal("0.0"),
                                  date(2026, 3, 3): Decimal("7.35")}
    assert data.problems == []


def test_parse_sums_series_per_day() -> None:
    point = {"timestamp": "2026-12-01T00:00:00Z", "values": [Decimal("1.10")]}
    body = {"timeSeries": [{"group": ["Chat a"], "dataPoints": [point]},
                           {"group": ["Chat b"], "dataPoints": [{**point, "values": ["2.25"]}]}]}

    data = grok.parse_usage(body, period("7d"), WHO)

    assert spend_by_day(data) == {date(2026, 12, 1): Decimal("3.35")}


def test_parse_bad_point_marks_day() -> None:
    good = {"timestamp": "2026-12-01T00:00:00Z", "values": [Decimal("1.5")]}
    bad = {"timestamp": "2026-12-02T00:00:00Z", "values": []}
    body = {"timeSeries": [{"dataPoints": [good, bad, {"values": [1]}]}]}

    data = grok.parse_usage(body, period("7d"), WHO)

    assert spend_by_day(data) == {date(2026, 12, 1): Decimal("1.5")}
    assert data.unknown_days == {date(2026, 12, 2)}
    assert len(data.problems) == 1
    assert "2 usage data point(s)" in data.problems[0].message


def test_parse_ignores_outside_period() -> None:
    body = {"timeSeries": [{"dataPoints": [
        {"timestamp": "2026-10-01T00:00:00Z", "values": [Decimal("9")]},
        {"timestamp": "2026-12-03T00:00:00+00:00", "values": [3]},
    ]}]}

    data = grok.parse_usage(body, period("7d"), WHO)

    assert spend_by_day(data) == {date(2026, 12, 3): Decimal(3)}


@pytest.mark.parametrize("body", [{}, {"limitReached": False}])
def test_parse_empty_usage(body: dict[str, Any]) -> None:
    data = grok.parse_usage(body, period("7d"), WHO)

    assert data.costs == []
    assert data.problems == []


@pytest.mark.parametrize("body", [[], {"data": []}, {"timeSeries": {}}, {"timeSeries": [1]}])
def test_parse_wrong_shape(body: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        grok.parse_usage(body, period("7d"), WHO)

    assert caught.value.kind is ErrorKind.BAD_RESPONSE


@pytest.mark.parametrize("body", [[], {"total": "-100"}, {"total": {"val": "abc"}},
                                  {"total": {"val": None}}])
def test_parse_balance_wrong_shape(body: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        grok.parse_balance(body, WHO)

    assert caught.value.kind is ErrorKind.BAD_RESPONSE


@settings(max_examples=300, deadline=None)
@given(json_values())
def test_usage_parser_arbitrary_json(value: Any) -> None:
    try:
        grok.parse_usage(value, period("30d"), WHO)
    except ProviderError:
        pass


points = st.fixed_dictionaries({}, optional={
    "timestamp": st.sampled_from(["2026-12-01T00:00:00Z", "2026-12-03", "nope", "2026-12-02T23:00:00-05:00"])
    | json_values(1),
    "values": st.lists(json_values(1), max_size=2) | json_values(1),
})
usage_bodies = st.fixed_dictionaries(
    {"timeSeries": st.lists(st.fixed_dictionaries({}, optional={
        "dataPoints": st.lists(points, max_size=4) | json_values(2)}) | json_values(2),
        max_size=3)},
    optional={"limitReached": json_values(1)},
)


@settings(max_examples=300, deadline=None)
@given(usage_bodies)
def test_usage_parser_near_shape(value: Any) -> None:
    try:
        data = grok.parse_usage(value, period("30d"), WHO)
    except ProviderError:
        return

    assert all(isinstance(row.amount, Decimal) for row in data.costs)
    assert not {row.day for row in data.costs} & data.unknown_days


@settings(max_examples=300, deadline=None)
@given(json_values() | st.fixed_dictionaries({"total": st.fixed_dictionaries(
    {}, optional={"val": json_values(1)}) | json_values(2)}))
def test_balance_parser_arbitrary_json(value: Any) -> None:
    try:
        balance = grok.parse_balance(value, WHO)
    except ProviderError:
        return

    assert balance is None or isinstance(balance.remaining, Decimal)
