"""OpenAI client against the OpenAI fake: figures, paging, windows, failures, parsers."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TODAY
from tests.providers.report_support import (
    ManualClock,
    account,
    period,
    report,
    run_fetch,
    tampering,
    world_handler,
)
from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.core.records import (
    UNATTRIBUTED,
    AccountData,
    CostRow,
    CostSource,
    Status,
    Tokens,
    UsageRow,
)
from tokenwatch_desktop.providers import buckets, openai
from tokenwatch_desktop.providers.fake import FakeWorld, dump_json
from tokenwatch_desktop.providers.fake import openai as fake
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.http import RetryPolicy

KEY = "sk-admin-test-org-one"
OTHER_KEY = "sk-admin-test-org-two"


def fetch(world: FakeWorld, key: str = KEY, **options: Any) -> Any:
    return run_fetch(openai.fetch, account("openai"), key, world=world, **options)


def failure(world: FakeWorld, key: str = KEY, **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        fetch(world, key, **options)
    return caught.value


def total(world: FakeWorld, key: str, first: date, last: date) -> Decimal:
    return sum(fake.expected_costs(world, key, first, last).values(), Decimal(0))


# Figures


def test_cost_total_exact(fake_world: FakeWorld) -> None:
    span = period("30d")
    result = report(fetch(fake_world), "openai", span)
    assert result.status is Status.OK
    assert result.cost == total(fake_world, KEY, span.start, span.end)
    assert result.cost_source is CostSource.REPORTED


def test_cost_per_day_exact(fake_world: FakeWorld) -> None:
    span = period("7d")
    result = report(fetch(fake_world, span=span), "openai", span)
    expected = fake.expected_costs(fake_world, KEY, span.start, span.end)
    assert {day.day: day.cost for day in result.days} == expected


def test_two_keys_two_organizations(fake_world: FakeWorld) -> None:
    one = report(fetch(fake_world, KEY), "openai").cost
    two = report(fetch(fake_world, OTHER_KEY), "openai").cost
    assert one != two
    assert two == total(fake_world, OTHER_KEY, period().start, period().end)


def test_numbers_and_strings_sum_exactly(fake_world: FakeWorld) -> None:
    fake_world.page_size = 4
    seen: set[type] = set()

    def record(request: httpx.Request, body: Any) -> Any:
        for bucket in body["data"]:
            for row in bucket["results"]:
                if "amount" in row:
                    seen.add(type(row["amount"]["value"]))
        return body

    span = period("90d")
    data = fetch(fake_world, transport=tampering(fake_world, record), span=span)
    assert seen == {str, float}
    assert len(data.costs) > 300
    assert sum((row.amount for row in data.costs), Decimal(0)) == total(
        fake_world, KEY, span.start, span.end)


def test_tiny_amounts_keep_digits(fake_world: FakeWorld) -> None:
    data = fetch(fake_world, span=period("90d"))
    smallest = min(row.amount for row in data.costs)
    assert smallest < Decimal("0.0001")
    assert smallest.as_tuple().exponent <= -7


def test_usage_per_model_exact(fake_world: FakeWorld) -> None:
    span = period("30d")
    result = report(fetch(fake_world), "openai", span)
    expected = fake.expected_usage(fake_world, KEY, span.start, span.end)
    models = {model.model: model for model in result.models}
    assert set(models) == set(expected)
    for name, sums in expected.items():
        assert models[name].tokens == Tokens(sums["uncached"], sums["cached"], sums["written"],
                                             sums["output"])
        assert models[name].requests == sums["requests"]
        assert models[name].cost is None


def test_usage_old_row_format(fake_world: FakeWorld) -> None:
    def drop_new_fields(request: httpx.Request, body: Any) -> Any:
        for bucket in body["data"]:
            for row in bucket["results"]:
                if row.get("input_cache_write_tokens") == 0:
                    row.pop("input_uncached_tokens", None)
                    row.pop("input_cache_write_tokens", None)
        return body

    span = period("30d")
    plain = report(fetch(fake_world), "openai", span)
    derived = report(fetch(fake_world, transport=tampering(fake_world, drop_new_fields)),
                     "openai", span)
    assert derived.tokens == plain.tokens


def test_null_model_unattributed(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "null_model")
    span = period("30d")
    result = report(fetch(fake_world), "openai", span)
    expected = fake.expected_usage(fake_world, KEY, span.start, span.end)
    models = {model.model: model for model in result.models}
    assert UNATTRIBUTED in models
    assert len(models) > 1
    unattributed = expected[None]
    assert models[UNATTRIBUTED].tokens == Tokens(unattributed["uncached"], unattributed["cached"],
                                                 unattributed["written"], unattributed["output"])
    all_output = sum(sums["output"] for sums in expected.values())
    assert result.tokens is not None
    assert result.tokens.output == all_output


def test_empty_period(fake_world: FakeWorld) -> None:
    quiet = next(day for day, cost in fake.expected_costs(
        fake_world, KEY, TODAY - timedelta(days=200), TODAY).items() if cost == 0)
    span = period(since=quiet, until=quiet)
    result = report(fetch(fake_world, span=span), "openai", span)
    assert result.status is Status.OK
    assert result.cost == Decimal(0)
    assert result.models == []
    assert result.notes == []


def test_settling_note(fake_world: FakeWorld) -> None:
    assert openai.SETTLING_NOTE in fetch(fake_world, span=period("7d")).notes
    yesterday = TODAY - timedelta(days=1)
    assert openai.SETTLING_NOTE in fetch(fake_world, span=period(since=yesterday,
                                                                until=yesterday)).notes
    older = TODAY - timedelta(days=2)
    assert openai.SETTLING_NOTE not in fetch(fake_world, span=period(since=older,
                                                                    until=older)).notes


# Requests


def recorded_queries(world: FakeWorld, **options: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    calls: list[tuple[str, list[tuple[str, str]]]] = []

    def record(request: httpx.Request, body: Any) -> Any:
        calls.append((request.url.path, parse_qsl(request.url.query.decode())))
        return body

    fetch(world, transport=tampering(world, record), **options)
    return calls


def test_request_window_params(fake_world: FakeWorld) -> None:
    span = period("7d")
    calls = recorded_queries(fake_world, span=span)
    start = int(datetime(2026, 11, 28, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 12, 5, tzinfo=UTC).timestamp())
    by_path = {path.rsplit("/", 1)[-1]: dict(query) for path, query in calls}
    for path, group in (("costs", "line_item"), ("completions", "model")):
        query = by_path[path]
        assert query["start_time"] == str(start)
        assert query["end_time"] == str(end)
        assert query["bucket_width"] == "1d"
        assert query["group_by[]"] == group
        assert query["limit"] == "7"


def test_limits_within_maximum(fake_world: FakeWorld) -> None:
    calls = recorded_queries(fake_world, span=period("90d"))
    limits = defaultdict(list)
    for path, query in calls:
        limits[path.rsplit("/", 1)[-1]].append(int(dict(query)["limit"]))
    assert limits["costs"] == [90]
    assert sorted(limits["completions"]) == [28, 31, 31]


def test_same_filters_every_page(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "three_pages")
    calls = recorded_queries(fake_world, span=period("30d"))
    costs = [query for path, query in calls if path.endswith("/costs")]
    assert len(costs) == 3
    without_page = [[item for item in query if item[0] != "page"] for query in costs]
    assert without_page[0] == without_page[1] == without_page[2]
    assert [dict(query).get("page") is None for query in costs] == [True, False, False]


def test_three_pages_sum_every_page(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "three_pages")
    span = period("1d")
    result = report(fetch(fake_world, span=span), "openai", span)
    assert result.cost == total(fake_world, KEY, span.start, span.end)
    assert fake_world.counters["openai:requests"] == 6


def test_windows_in_flight_together(fake_world: FakeWorld) -> None:
    inner = world_handler(fake_world)
    usage_calls: list[str] = []
    all_in = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/completions"):
            usage_calls.append(request.url.params["start_time"])
            if len(usage_calls) == 3:
                all_in.set()
            # Sequential windows would never reach three at once: the wait would time out.
            await asyncio.wait_for(all_in.wait(), timeout=10)
        return await inner(request)

    span = period("90d")
    data = fetch(fake_world, transport=httpx.MockTransport(handle), span=span)
    assert len(set(usage_calls)) == 3
    assert data.usage
    expected = fake.expected_usage(fake_world, KEY, span.start, span.end)
    assert sum(row.tokens.output for row in data.usage) == sum(
        sums["output"] for sums in expected.values())


# Breakdowns


def expected_breakdown(world: FakeWorld, key: str, field: str, span: Any) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for day in span.days():
        for entry in fake.activity(world, key, day):
            for item in fake.line_items(entry):
                sums[item[field] or openai.BREAKDOWNS[
                    "project" if field == "project_id" else "key"][1]] += item["amount"]
    return dict(sums)


@pytest.mark.parametrize(("by", "field"), [("project", "project_id"), ("key", "api_key_id")])
def test_breakdown(fake_world: FakeWorld, by: str, field: str) -> None:
    span = period("30d")
    data = fetch(fake_world, by=by, span=span)
    assert data.breakdown is not None
    got = {row.group: row.cost for row in data.breakdown}
    assert got == expected_breakdown(fake_world, KEY, field, span)
    assert all(row.tokens is None for row in data.breakdown)
    costs = [row.cost for row in data.breakdown if row.cost is not None]
    assert costs == sorted(costs, reverse=True)


def test_no_breakdown_without_by(fake_world: FakeWorld) -> None:
    assert fetch(fake_world, by="model").breakdown is None
    assert fake_world.counters["openai:requests"] == 2


# Failures


def test_missing_key_is_no_key(fake_world: FakeWorld) -> None:
    assert failure(fake_world, key=None).kind is ErrorKind.NO_KEY


def test_auth_names_key_kind(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "auth")
    error = failure(fake_world)
    assert error.kind is ErrorKind.AUTH
    assert "admin key" in error.message
    assert "tokenwatch setup openai" in error.message


def test_project_key_rejected(fake_world: FakeWorld) -> None:
    error = failure(fake_world, key="sk-proj-normal-key-1234567890")
    assert error.kind is ErrorKind.AUTH
    assert "requires an admin API key" in error.message
    assert "normal-key-1234567890" not in error.message


@pytest.mark.parametrize(("scenario", "kind"), [
    ("forbidden", ErrorKind.PERMISSION),
    ("not_found", ErrorKind.NOT_FOUND),
    ("billing", ErrorKind.BILLING),
    ("server_error", ErrorKind.UNAVAILABLE),
    ("malformed", ErrorKind.BAD_RESPONSE),
    ("wrong_shape", ErrorKind.BAD_RESPONSE),
])
def test_scenario_error_kind(fake_world: FakeWorld, scenario: str, kind: ErrorKind) -> None:
    fake_world.set_scenario("openai", scenario)
    error = failure(fake_world)
    assert error.kind is kind
    assert "OpenAI (account openai)" in error.message


def test_other_key_unaffected(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "server_error", key=OTHER_KEY)
    assert report(fetch(fake_world), "openai").status is Status.OK


def test_rate_limit_waits_retry_after(fake_world: FakeWorld) -> None:
    clock = ManualClock()
    world = FakeWorld(today=TODAY, clock=clock)
    world.set_scenario("openai", "rate_limit", retry_after=7)
    span = period("30d")
    result = report(fetch(world, sleep=clock.sleep, span=span), "openai", span)
    assert result.cost == total(world, KEY, span.start, span.end)
    assert world.counters["openai:rate_limited"] == 1
    assert world.counters["openai:early_retry"] == 0
    assert clock.sleeps and min(clock.sleeps) >= 7


def test_rate_limit_too_long(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "rate_limit", retry_after=600)
    error = failure(fake_world, retry=RetryPolicy(max_wait=60))
    assert error.kind is ErrorKind.RATE_LIMITED
    assert "600" in error.message


def test_row_without_amount_is_partial(fake_world: FakeWorld) -> None:
    def drop_amount(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/costs"):
            rows = [row for bucket in body["data"] for row in bucket["results"]]
            del rows[0]["amount"]
            rows[1]["amount"]["value"] = None
        return body

    span = period("30d")
    data = fetch(fake_world, transport=tampering(fake_world, drop_amount), span=span)
    result = report(data, "openai", span)
    assert result.status is Status.PARTIAL
    assert result.error is not None
    assert result.error.kind == "bad_response"
    assert "2 cost rows were invalid" in result.error.message
    assert result.cost is not None
    assert 0 < result.cost < total(fake_world, KEY, span.start, span.end)


def test_missing_bucket_is_unknown_day(fake_world: FakeWorld) -> None:
    def drop_first(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/costs"):
            del body["data"][0]
        return body

    span = period("7d")
    result = report(fetch(fake_world, transport=tampering(fake_world, drop_first), span=span),
                    "openai", span)
    assert result.days[0].cost is None
    assert all(day.cost is not None for day in result.days[1:])


def test_repeated_cursor_incomplete(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("openai", "three_pages")

    def repeat_cursor(request: httpx.Request, body: Any) -> Any:
        if "page" in request.url.params:
            body["next_page"] = request.url.params["page"]
            body["has_more"] = True
        return body

    error = failure(fake_world, transport=tampering(fake_world, repeat_cursor))
    assert error.kind is ErrorKind.INCOMPLETE


def test_more_without_cursor_incomplete(fake_world: FakeWorld) -> None:
    def no_cursor(request: httpx.Request, body: Any) -> Any:
        return {**body, "has_more": True, "next_page": None}

    assert failure(fake_world, transport=tampering(fake_world, no_cursor)).kind is (
        ErrorKind.INCOMPLETE)


# Fake checks that the client relies on


def fake_get(world: FakeWorld, path: str, query: str, key: str = KEY) -> Any:
    return world.handle("GET", "/openai/v1" + path, query, {"Authorization": f"Bearer {key}"},
                        b"")


@pytest.mark.parametrize(("path", "limit", "status"), [
    ("/organization/costs", 180, 200), ("/organization/costs", 181, 400),
    ("/organization/costs", 0, 400), ("/organization/usage/completions", 31, 200),
    ("/organization/usage/completions", 32, 400),
])
def test_fake_enforces_limits(fake_world: FakeWorld, path: str, limit: int, status: int) -> None:
    answer = fake_get(fake_world, path, f"start_time=1764547200&limit={limit}")
    assert answer.status == status
    if status == 400:
        assert "limit" in answer.body["error"]["message"]


def test_fake_accepts_plain_arrays(fake_world: FakeWorld) -> None:
    plain = fake_get(fake_world, "/organization/costs",
                     "start_time=1764547200&group_by=line_item&group_by=project_id")
    bracket = fake_get(fake_world, "/organization/costs",
                       "start_time=1764547200&group_by[]=line_item&group_by[]=project_id")
    assert plain.status == bracket.status == 200
    assert plain.body["data"] == bracket.body["data"]


def test_fake_missing_key_401(fake_world: FakeWorld) -> None:
    answer = fake_world.handle("GET", "/openai/v1/organization/costs", "start_time=0", {}, b"")
    assert answer.status == 401
    assert answer.body["error"]["type"] == "invalid_request_error"


# Parsers


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=20,
)
row_like = st.fixed_dictionaries({}, optional={
    "amount": st.fixed_dictionaries({}, optional={"value": json_values, "currency": json_values}),
    "input_tokens": json_values, "output_tokens": json_values, "num_model_requests": json_values,
    "input_cached_tokens": json_values, "input_uncached_tokens": json_values,
    "input_cache_write_tokens": json_values, "model": json_values, "line_item": json_values,
})
page_like = st.fixed_dictionaries({}, optional={
    "data": st.lists(st.fixed_dictionaries({}, optional={
        "start_time": st.integers() | json_values, "results": st.lists(row_like | json_values)}))
    | json_values,
})


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(page=page_like | st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_parsers_arbitrary_json(page: dict[str, Any]) -> None:
    window = (date(2026, 11, 1), date(2026, 12, 4))
    parsers = (openai._usage_row, lambda row, day: openai._cost_row(row, day, "line_item"))
    for parse in parsers:
        try:
            found = buckets.read_pages([page], window, openai._bucket_day, parse, "OpenAI test")
        except ParseError:
            continue
        assert all(isinstance(row, CostRow | UsageRow) for row in found.rows)
        assert all(window[0] <= row.day <= window[1] for row in found.rows)


@settings(max_examples=200)
@given(row=row_like)
def test_row_parsers_arbitrary_rows(row: dict[str, Any]) -> None:
    for parse in (openai._usage_row, lambda r, d: openai._cost_row(r, d, "line_item")):
        try:
            parsed = parse(row, date(2026, 12, 1))
        except ParseError:
            continue
        assert parsed.day == date(2026, 12, 1)



@settings(max_examples=60, deadline=None)
@given(body=page_like | json_values)
def test_fetch_arbitrary_json(body: Any) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=dump_json(body).encode())

    try:
        data = run_fetch(openai.fetch, account("openai"), KEY,
                         transport=httpx.MockTransport(handle), span=period("7d"))
    except ProviderError:
        return
    assert isinstance(data, AccountData)
    assert all(row.amount.is_finite() for row in data.costs)


# Real sockets


@pytest.fixture
def socket_account(loopback: LoopbackServer) -> Any:
    return account("openai", loopback.root)


def test_loopback_three_pages(loopback: LoopbackServer, socket_account: Any) -> None:
    loopback.world.set_scenario("openai", "three_pages")
    span = period("30d")
    data = run_fetch(openai.fetch, socket_account, KEY, span=span)
    assert report(data, "openai", span).cost == total(loopback.world, KEY, span.start, span.end)
    assert loopback.world.counters["openai:requests"] == 6


def test_loopback_auth(loopback: LoopbackServer, socket_account: Any) -> None:
    loopback.world.set_scenario("openai", "auth")
    with pytest.raises(ProviderError) as caught:
        run_fetch(openai.fetch, socket_account, KEY)
    assert caught.value.kind is ErrorKind.AUTH
    assert "OpenAI admin key" in caught.value.message


def test_loopback_malformed(loopback: LoopbackServer, socket_account: Any) -> None:
    loopback.world.set_scenario("openai", "malformed")
    with pytest.raises(ProviderError) as caught:
        run_fetch(openai.fetch, socket_account, KEY)
    assert caught.value.kind is ErrorKind.BAD_RESPONSE


def test_loopback_real_retry_after(loopback: LoopbackServer, socket_account: Any) -> None:
    loopback.world.set_scenario("openai", "rate_limit", retry_after=1)
    span = period("7d")
    data = run_fetch(openai.fetch, socket_account, KEY, span=span, sleep=asyncio.sleep)
    assert report(data, "openai", span).cost == total(loopback.world, KEY, span.start, span.end)
    assert loopback.world.counters["openai:rate_limited"] == 1
    assert loopback.world.counters["openai:early_retry"] == 0


def test_dump_of_decimal_is_exact() -> None:
    body = fake_get(FakeWorld(today=TODAY), "/organization/costs",
                    "start_time=1764547200&group_by[]=line_item").encoded()
    assert "E-" not in body.decode()
    assert json.loads(body)["object"] == "page"

