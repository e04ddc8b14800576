"""Anthropic client against the Anthropic fake, and both billed clients through the engine."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NOW, TODAY
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
from tokenwatch_desktop.core.periods import PeriodSpec
from tokenwatch_desktop.core.records import UNATTRIBUTED, AccountData, CostRow, CostSource, Status, Tokens
from tokenwatch_desktop.core.report import to_json
from tokenwatch_desktop.core.settings import Settings
from tokenwatch_desktop.engine import Engine, RefreshOptions
from tokenwatch_desktop.providers import anthropic, buckets
from tokenwatch_desktop.providers.fake import FakeWorld, dump_json
from tokenwatch_desktop.providers.fake import anthropic as fake
from tokenwatch_desktop.providers.fake import openai as fake_openai
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.fake.transport import fake_transport
from tokenwatch_desktop.providers.http import Http, make_client

KEY = "sk-ant-admin01-test-org-one"
OTHER_KEY = "sk-ant-admin01-test-org-two"


def fetch(world: FakeWorld, key: str | None = KEY, **options: Any) -> Any:
    return run_fetch(anthropic.fetch, account("anthropic"), key, world=world, **options)


def failure(world: FakeWorld, key: str | None = KEY, **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        fetch(world, key, **options)
    return caught.value


def total(world: FakeWorld, key: str, first: date, last: date) -> Decimal:
    return sum(fake.expected_costs(world, key, first, last).values(), Decimal(0))


def tokens_of(sums: dict[str, int]) -> Tokens:
    return Tokens(sums["uncached"], sums["cache_read"], sums["cache_5m"] + sums["cache_1h"],
                  sums["output"])


# Figures


def test_cost_total_exact(fake_world: FakeWorld) -> None:
    span = period("30d")
    result = report(fetch(fake_world), "anthropic", span)
    assert result.status is Status.OK
    assert result.cost == total(fake_world, KEY, span.start, span.end)
    assert result.cost_source is CostSource.REPORTED
    assert {day.day: day.cost for day in result.days} == fake.expected_costs(
        fake_world, KEY, span.start, span.end)


def test_two_keys_two_organizations(fake_world: FakeWorld) -> None:
    one = report(fetch(fake_world, KEY), "anthropic").cost
    two = report(fetch(fake_world, OTHER_KEY), "anthropic").cost
    assert one != two
    assert two == total(fake_world, OTHER_KEY, period().start, period().end)


def test_cents_strings_sum_exactly(fake_world: FakeWorld) -> None:
    fake_world.page_size = 5
    amounts: list[Any] = []

    def record(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/cost_report"):
            amounts.extend(row["amount"] for bucket in body["data"] for row in bucket["results"])
        return body

    span = period("90d")
    data = fetch(fake_world, transport=tampering(fake_world, record), span=span)
    assert all(isinstance(amount, str) for amount in amounts)
    assert any(amount.endswith(".00") for amount in amounts)
    assert any(amount.endswith(".5") for amount in amounts)
    assert any(len(amount.partition(".")[2]) > 4 for amount in amounts)
    assert len(data.costs) == len(amounts) > 300
    assert sum((row.amount for row in data.costs), Decimal(0)) == total(
        fake_world, KEY, span.start, span.end)


def test_cents_become_dollars() -> None:
    day = date(2026, 3, 1)
    rows = [{"amount": "5475.00", "currency": "USD"}, {"amount": "0.5", "currency": "USD"},
            {"amount": "20.0", "currency": "USD", "description": "Web Search Usage"}]
    parsed = [anthropic._cost_row(row, day, "description") for row in rows]
    assert [row.amount for row in parsed] == [Decimal("54.75"), Decimal("0.005"),
                                              Decimal("0.2")]
    assert parsed[2].label == "Web Search Usage"


def test_usage_per_model_exact(fake_world: FakeWorld) -> None:
    span = period("30d")
    result = report(fetch(fake_world), "anthropic", span)
    expected = fake.expected_usage(fake_world, KEY, span.start, span.end)
    models = {model.model: model for model in result.models}
    assert set(models) == set(expected)
    for name, sums in expected.items():
        assert models[name].tokens == tokens_of(sums)
        assert models[name].requests is None
        assert models[name].cost is None
    assert result.requests is None


def test_flat_cache_write_total() -> None:
    row = {"uncached_input_tokens": 10, "cache_read_input_tokens": 5,
           "cache_creation_input_tokens": 7, "output_tokens": 3, "model": "m"}
    parsed = anthropic._usage_row(row, date(2026, 3, 1), "service_tier")
    assert parsed.row.tokens == Tokens(10, 5, 7, 3)


def test_nested_cache_writes_preferred() -> None:
    row = {"uncached_input_tokens": 10, "output_tokens": 3, "cache_creation_input_tokens": 99,
           "cache_creation": {"ephemeral_5m_input_tokens": 4, "ephemeral_1h_input_tokens": 6}}
    parsed = anthropic._usage_row(row, date(2026, 3, 1), "service_tier")
    assert parsed.row.tokens == Tokens(10, 0, 10, 3)


def test_null_model_unattributed(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("anthropic", "null_model")
    span = period("30d")
    result = report(fetch(fake_world), "anthropic", span)
    expected = fake.expected_usage(fake_world, KEY, span.start, span.end)
    models = {model.model: model for model in result.models}
    assert UNATTRIBUTED in models
    assert len(models) > 1
    assert models[UNATTRIBUTED].tokens == tokens_of(expected[None])
    assert result.tokens == sum((tokens_of(sums) for sums in expected.values()), Tokens())


def test_priority_tier_note(fake_world: FakeWorld) -> None:
    span = period("30d")
    tiers = fake.expected_usage(fake_world, KEY, span.start, span.end, "service_tier")
    assert "priority" in tiers
    notes = fetch(fake_world).notes
    priority = tokens_of(tiers["priority"]).total
    assert [note for note in notes if "Priority Tier" in note and f"{priority:,}" in note]


def test_no_priority_no_note(fake_world: FakeWorld) -> None:
    quiet = next(day for day in period("90d").days()
                 if "priority" not in fake.expected_usage(fake_world, KEY, day, day,
                                                          "service_tier"))
    data = fetch(fake_world, span=period(since=quiet, until=quiet))
    assert not [note for note in data.notes if "Priority" in note]


def test_empty_period(fake_world: FakeWorld) -> None:
    quiet = next(day for day, cost in fake.expected_costs(
        fake_world, KEY, TODAY - timedelta(days=200), TODAY).items() if cost == 0
        and not fake.activity(fake_world, KEY, day))
    span = period(since=quiet, until=quiet)
    result = report(fetch(fake_world, span=span), "anthropic", span)
    assert result.status is Status.OK
    assert result.cost == Decimal(0)
    assert result.models == []
    assert result.notes == []


# Requests


def recorded_queries(world: FakeWorld, **options: Any) -> list[tuple[str, list[tuple[str, str]],
                                                                      httpx.Headers]]:
    calls: list[tuple[str, list[tuple[str, str]], httpx.Headers]] = []

    def record(request: httpx.Request, body: Any) -> Any:
        calls.append((request.url.path, parse_qsl(request.url.query.decode()), request.headers))
        return body

    fetch(world, transport=tampering(world, record), **options)
    return calls


def test_request_params_and_headers(fake_world: FakeWorld) -> None:
    calls = recorded_queries(fake_world, span=period("7d"))
    assert len(calls) == 2
    for path, query, headers in calls:
        values = dict(query)
        assert values["starting_at"] == "2026-11-28T00:00:00Z"
        assert values["ending_at"] == "2026-12-05T00:00:00Z"
        assert values["limit"] == "7"
        assert headers["x-api-key"] == KEY
        assert headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in headers
        groups = [value for name, value in query if name == "group_by[]"]
        expected = ["description"] if path.endswith("cost_report") else ["model", "service_tier"]
        assert groups == expected


def test_ninety_days_in_windows(fake_world: FakeWorld) -> None:
    calls = recorded_queries(fake_world, span=period("90d"))
    limits: dict[str, list[int]] = defaultdict(list)
    for path, query, _ in calls:
        limits[path.rsplit("/", 1)[-1]].append(int(dict(query)["limit"]))
    assert sorted(limits["cost_report"]) == [28, 31, 31]
    assert sorted(limits["messages"]) == [28, 31, 31]


def test_windows_in_flight_together(fake_world: FakeWorld) -> None:
    inner = world_handler(fake_world)
    in_flight = 0
    all_in = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight
        in_flight += 1
        if in_flight == 6:
            all_in.set()
        # Cost and usage windows sent one after another would never reach six at once.
        await asyncio.wait_for(all_in.wait(), timeout=10)
        return await inner(request)

    span = period("90d")
    result = report(fetch(fake_world, transport=httpx.MockTransport(handle), span=span),
                    "anthropic", span)
    assert in_flight == 6
    assert result.cost == total(fake_world, KEY, span.start, span.end)


def test_three_pages_sum_every_page(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("anthropic", "three_pages")
    span = period("30d")
    result = report(fetch(fake_world, span=span), "anthropic", span)
    assert result.cost == total(fake_world, KEY, span.start, span.end)
    assert fake_world.counters["anthropic:requests"] == 6


# Breakdowns


def test_breakdown_by_workspace(fake_world: FakeWorld) -> None:
    span = period("30d")
    data = fetch(fake_world, by="project", span=span)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for day in span.days():
        for item in fake.cost_items(fake_world, KEY, day):
            expected[item["workspace_id"] or "default workspace"] += item["amount"] / 100
    assert data.breakdown is not None
    assert {row.group: row.cost for row in data.breakdown} == expected
    assert all(row.tokens is None for row in data.breakdown)


def test_breakdown_by_key_tokens_only(fake_world: FakeWorld) -> None:
    span = period("30d")
    data = fetch(fake_world, by="key", span=span)
    expected = fake.expected_usage(fake_world, KEY, span.start, span.end, "api_key_id")
    assert data.breakdown is not None
    got = {row.group: row.tokens for row in data.breakdown}
    assert got == {(name or "Console/Workbench"): tokens_of(sums)
                   for name, sums in expected.items()}
    assert all(row.cost is None for row in data.breakdown)


# Failures


def test_missing_key_is_no_key(fake_world: FakeWorld) -> None:
    assert failure(fake_world, key=None).kind is ErrorKind.NO_KEY


def test_normal_key_names_admin_key(fake_world: FakeWorld) -> None:
    error = failure(fake_world, key="sk-ant-api03-normal-key-abcdefgh")
    assert error.kind is ErrorKind.AUTH
    assert "Anthropic Admin API key" in error.message
    assert "invalid x-api-key" in error.message
    assert "normal-key-abcdefgh" not in error.message


@pytest.mark.parametrize(("scenario", "kind"), [
    ("auth", ErrorKind.AUTH),
    ("forbidden", ErrorKind.PERMISSION),
    ("not_found", ErrorKind.NOT_FOUND),
    ("billing", ErrorKind.BILLING),
    ("server_error", ErrorKind.UNAVAILABLE),
    ("malformed", ErrorKind.BAD_RESPONSE),
    ("wrong_shape", ErrorKind.BAD_RESPONSE),
])
def test_scenario_error_kind(fake_world: FakeWorld, scenario: str, kind: ErrorKind) -> None:
    fake_world.set_scenario("anthropic", scenario)
    error = failure(fake_world)
    assert error.kind is kind
    assert "Anthropic (account anthropic)" in error.message


def test_rate_limit_waits_retry_after() -> None:
    clock = ManualClock()
    world = FakeWorld(today=TODAY, clock=clock)
    world.set_scenario("anthropic", "rate_limit", retry_after=5)
    span = period("30d")
    result = report(fetch(world, sleep=clock.sleep, span=span), "anthropic", span)
    assert result.cost == total(world, KEY, span.start, span.end)
    assert world.counters["anthropic:rate_limited"] == 1
    assert world.counters["anthropic:early_retry"] == 0
    assert min(clock.sleeps) >= 5


def test_invalid_amount_is_partial(fake_world: FakeWorld) -> None:
    def break_amounts(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/cost_report"):
            rows = [row for bucket in body["data"] for row in bucket["results"]]
            rows[0]["amount"] = "12,50"
            del rows[1]["amount"]
        return body

    span = period("30d")
    data = fetch(fake_world, transport=tampering(fake_world, break_amounts), span=span)
    result = report(data, "anthropic", span)
    assert result.status is Status.PARTIAL
    assert result.error is not None
    assert "2 cost report rows were invalid" in result.error.message
    assert result.cost is not None
    assert result.cost < total(fake_world, KEY, span.start, span.end)


def test_repeated_cursor_incomplete(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("anthropic", "three_pages")

    def repeat_cursor(request: httpx.Request, body: Any) -> Any:
        if "page" in request.url.params and request.url.path.endswith("/messages"):
            body["next_page"] = request.url.params["page"]
            body["has_more"] = True
        return body

    assert failure(fake_world, transport=tampering(fake_world, repeat_cursor)).kind is (
        ErrorKind.INCOMPLETE)


# Fake checks


def fake_get(world: FakeWorld, path: str, query: str, **headers: str) -> Any:
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    return world.handle("GET", "/anthropic" + path, query, sent, b"")


def test_fake_needs_version_header(fake_world: FakeWorld) -> None:
    answer = fake_world.handle("GET", "/anthropic/v1/organizations/cost_report",
                               "starting_at=2026-11-01T00:00:00Z", {"x-api-key": KEY}, b"")
    assert answer.status == 400
    assert answer.body["error"]["type"] == "invalid_request_error"


def test_fake_missing_key_401(fake_world: FakeWorld) -> None:
    answer = fake_world.handle("GET", "/anthropic/v1/organizations/cost_report",
                               "starting_at=2026-11-01T00:00:00Z",
                               {"anthropic-version": "2023-06-01"}, b"")
    assert answer.status == 401
    assert answer.body["type"] == "error"
    assert answer.body["error"]["type"] == "authentication_error"
    assert answer.headers["request-id"].startswith("req_")


@pytest.mark.parametrize(("path", "limit", "status"), [
    ("/v1/organizations/cost_report", 31, 200), ("/v1/organizations/cost_report", 32, 400),
    ("/v1/organizations/usage_report/messages", 31, 200),
    ("/v1/organizations/usage_report/messages", 32, 400),
    ("/v1/organizations/usage_report/messages", 0, 400),
])
def test_fake_enforces_limits(fake_world: FakeWorld, path: str, limit: int, status: int) -> None:
    answer = fake_get(fake_world, path, f"starting_at=2026-10-01T00:00:00Z&limit={limit}")
    assert answer.status == status


def test_fake_accepts_plain_arrays(fake_world: FakeWorld) -> None:
    query = "starting_at=2026-11-01T00:00:00Z&ending_at=2026-11-08T00:00:00Z"
    plain = fake_get(fake_world, "/v1/organizations/usage_report/messages",
                     query + "&group_by=model&group_by=api_key_id")
    bracket = fake_get(fake_world, "/v1/organizations/usage_report/messages",
                       query + "&group_by[]=model&group_by[]=api_key_id")
    assert plain.status == bracket.status == 200
    assert plain.body["data"] == bracket.body["data"]
    assert len(plain.body["data"]) == 7


def test_fake_rejects_empty_range(fake_world: FakeWorld) -> None:
    answer = fake_get(fake_world, "/v1/organizations/cost_report",
                      "starting_at=2026-11-01T00:00:00Z&ending_at=2026-11-01T12:00:00Z")
    assert answer.status == 400
    assert "Invalid date range" in answer.body["error"]["message"]


def test_fake_rejects_changed_filters(fake_world: FakeWorld) -> None:
    query = "starting_at=2026-11-01T00:00:00Z&ending_at=2026-11-08T00:00:00Z&limit=2"
    first = fake_get(fake_world, "/v1/organizations/cost_report", query)
    cursor = first.body["next_page"]
    same = fake_get(fake_world, "/v1/organizations/cost_report", f"{query}&page={cursor}")
    changed = fake_get(fake_world, "/v1/organizations/cost_report",
                       f"{query}&group_by[]=description&page={cursor}")
    assert same.status == 200
    assert changed.status == 400


# Parsers


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=20,
)
row_like = st.fixed_dictionaries({}, optional={
    "amount": json_values | st.from_regex(r"\A-?\d{1,6}(\.\d{0,6})?\Z"),
    "currency": st.sampled_from(["USD", "usd", "EUR"]) | json_values,
    "uncached_input_tokens": json_values, "cache_read_input_tokens": json_values,
    "cache_creation": st.fixed_dictionaries({}, optional={
        "ephemeral_5m_input_tokens": json_values, "ephemeral_1h_input_tokens": json_values,
    }) | json_values,
    "cache_creation_input_tokens": json_values, "output_tokens": json_values,
    "model": json_values, "service_tier": json_values, "description": json_values,
})
bucket_like = st.fixed_dictionaries({}, optional={
    "starting_at": st.sampled_from(["2026-11-03T00:00:00Z", "2026-11-03", "soon"]) | json_values,
    "results": st.lists(row_like | json_values, max_size=4) | json_values,
})
page_like = st.fixed_dictionaries({}, optional={"data": st.lists(bucket_like) | json_values})


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(page=page_like | st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_parsers_arbitrary_json(page: dict[str, Any]) -> None:
    window = (date(2026, 11, 1), date(2026, 12, 4))
    parsers = (lambda row, day: anthropic._usage_row(row, day, "service_tier"),
               lambda row, day: anthropic._cost_row(row, day, "description"))
    for parse in parsers:
        try:
            found = buckets.read_pages([page], window, anthropic._bucket_day, parse, "test")
        except ParseError:
            continue
        for item in found.rows:
            assert isinstance(item, CostRow | anthropic.LabelledUsage)


@settings(max_examples=300)
@given(row=row_like)
def test_row_parsers_arbitrary_rows(row: dict[str, Any]) -> None:
    day = date(2026, 12, 1)
    try:
        cost = anthropic._cost_row(row, day, "description")
    except ParseError:
        pass
    else:
        assert cost.amount == Decimal(str(row["amount"]).strip()) / 100
    try:
        usage = anthropic._usage_row(row, day, "service_tier")
    except ParseError:
        pass
    else:
        assert usage.row.tokens.input == row["uncached_input_tokens"]



@settings(max_examples=60, deadline=None)
@given(body=page_like | json_values)
def test_fetch_arbitrary_json(body: Any) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=dump_json(body).encode())

    try:
        data = run_fetch(anthropic.fetch, account("anthropic"), KEY,
                         transport=httpx.MockTransport(handle), span=period("7d"))
    except ProviderError:
        return
    assert isinstance(data, AccountData)
    assert all(row.amount.is_finite() for row in data.costs)


# Real sockets


def test_loopback_three_pages(loopback: LoopbackServer) -> None:
    loopback.world.set_scenario("anthropic", "three_pages")
    span = period("7d")
    data = run_fetch(anthropic.fetch, account("anthropic", loopback.root), KEY, span=span)
    assert report(data, "anthropic", span).cost == total(loopback.world, KEY, span.start,
                                                         span.end)
    assert loopback.world.counters["anthropic:requests"] == 6


def test_loopback_auth(loopback: LoopbackServer) -> None:
    loopback.world.set_scenario("anthropic", "auth")
    with pytest.raises(ProviderError) as caught:
        run_fetch(anthropic.fetch, account("anthropic", loopback.root), KEY)
    assert caught.value.kind is ErrorKind.AUTH
    assert "Admin API key" in caught.value.message


# The engine, as the command line calls it


def test_engine_refreshes_both(fake_world: FakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWATCH_KEY_OPENAI", "sk-admin-engine-org")
    monkeypatch.setenv("TOKENWATCH_KEY_ANTHROPIC", KEY)
    accounts = [account("openai"), account("anthropic")]
    fake_world.set_scenario("anthropic", "three_pages")

    async def main() -> Any:
        async with make_client(fake_transport(fake_world)) as client:
            engine = Engine(Settings(accounts=accounts), Http(client))
            return await engine.refresh(accounts, PeriodSpec("30d"), RefreshOptions(now=NOW))

    result = asyncio.run(main())
    document = to_json(result)
    span = period("30d")
    openai_cost = sum(fake_openai.expected_costs(fake_world, "sk-admin-engine-org", span.start,
                                                 span.end).values(), Decimal(0))
    anthropic_cost = total(fake_world, KEY, span.start, span.end)
    by_id = {entry["id"]: entry for entry in document["accounts"]}
    assert by_id["openai"]["status"] == "ok"
    assert by_id["anthropic"]["status"] == "ok"
    assert Decimal(by_id["openai"]["cost"]) == openai_cost
    assert Decimal(by_id["anthropic"]["cost"]) == anthropic_cost
    assert Decimal(document["total"]["cost"]) == openai_cost + anthropic_cost
    assert document["total"]["complete"] is True
    assert by_id["anthropic"]["requests"] is None
    assert len(by_id["openai"]["days"]) == 30
