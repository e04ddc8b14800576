"""DeepSeek client against the DeepSeek fake: balances per currency, errors, parser robustness."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TODAY
from tests.providers.billing_support import ManualClock, account, json_values, run_fetch
from tokenwatch_desktop.core.errors import ErrorKind, ProviderError
from tokenwatch_desktop.core.records import AccountData, Balance
from tokenwatch_desktop.providers import deepseek
from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake import deepseek as fake
from tokenwatch_desktop.providers.fake.server import LoopbackServer

KEY = "sk-deepseek-test-key-0001"
WHO = "DeepSeek (account deepseek)"


def fetch(world: FakeWorld, key: str | None = KEY, **kwargs: Any) -> AccountData:
    return run_fetch(deepseek.fetch, world, account("deepseek"), key, **kwargs)


def failure(world: FakeWorld, scenario: str, **kwargs: Any) -> ProviderError:
    world.set_scenario("deepseek", scenario, **kwargs)
    with pytest.raises(ProviderError) as caught:
        fetch(world)
    assert KEY not in str(caught.value)
    return caught.value


def test_balance_read(fake_world: FakeWorld) -> None:
    data = fetch(fake_world)

    expected = fake.expected_balances(fake_world, KEY)
    assert data.balance == [Balance(expected["USD"], "USD")]
    assert data.problems == []
    assert data.notes == []


def test_balance_only_account(fake_world: FakeWorld) -> None:
    data = fetch(fake_world)

    assert data.cost_source is None
    assert data.has_cost is False
    assert data.has_tokens is False
    assert data.has_requests is False
    assert data.costs == []
    assert data.usage == []


def test_two_currencies(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("deepseek", "two_currencies")

    data = fetch(fake_world)

    expected = fake.expected_balances(fake_world, KEY)
    assert {b.currency: b.remaining for b in data.balance} == expected
    assert set(expected) == {"CNY", "USD"}


def test_two_keys_differ(fake_world: FakeWorld) -> None:
    first = fetch(fake_world, "sk-first-key-0001")
    second = fetch(fake_world, "sk-second-key-0002")

    assert first.balance != second.balance


def test_not_available_note(fake_world: FakeWorld) -> None:
    fake_world.set_scenario("deepseek", "not_available")

    data = fetch(fake_world)

    assert data.balance == [Balance(Decimal("0.00"), "USD")]
    assert data.problems == []
    assert len(data.notes) == 1
    assert "top up" in data.notes[0]


def test_loopback_balance(loopback: LoopbackServer) -> None:
    config = account("deepseek", loopback.root)

    data = run_fetch(deepseek.fetch, None, config, KEY)

    expected = fake.expected_balances(loopback.world, KEY)
    assert data.balance == [Balance(expected["USD"], "USD")]
    assert loopback.world.calls == [("deepseek", "GET", "/user/balance")]


def test_missing_key(fake_world: FakeWorld) -> None:
    with pytest.raises(ProviderError) as caught:
        fetch(fake_world, key=None)

    assert caught.value.kind is ErrorKind.NO_KEY
    assert fake_world.calls == []


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
    error = failure(fake_world, scenario)

    assert error.kind is kind
    assert WHO in error.message


def test_auth_message_says_next_step(fake_world: FakeWorld) -> None:
    error = failure(fake_world, "auth")

    assert "tokenwatch setup deepseek" in error.message
    assert "a DeepSeek API key" in error.message


def test_rate_limit_past_wait(fake_world: FakeWorld) -> None:
    error = failure(fake_world, "rate_limit", retry_after=120)

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == 120
    assert fake_world.counters["deepseek:requests"] == 1


def test_rate_limit_waits_retry_after() -> None:
    clock = ManualClock()
    world = FakeWorld(today=TODAY, clock=clock)
    world.set_scenario("deepseek", "rate_limit", retry_after=3)

    data = fetch(world, sleep=clock.sleep)

    assert data.balance == [Balance(fake.expected_balances(world, KEY)["USD"], "USD")]
    assert world.counters["deepseek:rate_limited"] == 1
    assert world.counters["deepseek:early_retry"] == 0
    assert clock.sleeps[0] >= 3


def test_invalid_entry_keeps_others() -> None:
    body = {"is_available": True, "balance_infos": [
        {"currency": "CNY", "total_balance": "n/a", "granted_balance": "0.00",
         "topped_up_balance": "0.00"},
        {"currency": "USD", "total_balance": "23.41", "granted_balance": "0.00",
         "topped_up_balance": "23.41"},
    ]}

    data = deepseek.parse_balance(body, WHO)

    assert data.balance == [Balance(Decimal("23.41"), "USD")]
    assert len(data.problems) == 1
    assert data.problems[0].kind == "bad_response"
    assert "balance entry 1" in data.problems[0].message


def test_duplicate_currency_reported() -> None:
    entry = {"currency": "USD", "total_balance": "5.00"}
    body = {"balance_infos": [entry, {**entry, "total_balance": "6.00"}]}

    data = deepseek.parse_balance(body, WHO)

    assert data.balance == [Balance(Decimal("5.00"), "USD")]
    assert len(data.problems) == 1


def test_no_readable_entry_is_error() -> None:
    with pytest.raises(ProviderError) as caught:
        deepseek.parse_balance({"balance_infos": [{"currency": "USD"}]}, WHO)

    assert caught.value.kind is ErrorKind.BAD_RESPONSE


def test_empty_balance_list_noted() -> None:
    data = deepseek.parse_balance({"is_available": True, "balance_infos": []}, WHO)

    assert data.balance == []
    assert data.problems == []
    assert data.notes == ["DeepSeek returned no balance for this key."]


@settings(max_examples=300, deadline=None)
@given(json_values())
def test_parser_arbitrary_json(value: Any) -> None:
    _parse_or_provider_error(value)


entries = st.fixed_dictionaries(
    {"currency": json_values(2), "total_balance": json_values(2)},
    optional={"granted_balance": json_values(2)},
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"balance_infos": st.lists(entries | json_values(3), max_size=4)},
                             optional={"is_available": json_values(1)}))
def test_parser_near_shape(value: Any) -> None:
    data = _parse_or_provider_error(value)

    if data is not None:
        assert all(isinstance(b.remaining, Decimal) for b in data.balance)


def _parse_or_provider_error(value: Any) -> AccountData | None:
    try:
        return deepseek.parse_balance(value, WHO)
    except ProviderError:
        return None


def test_loopback_retry_after_real_wait(loopback: LoopbackServer) -> None:
    loopback.world.set_scenario("deepseek", "rate_limit", retry_after=1)
    config = account("deepseek", loopback.root)

    data = run_fetch(deepseek.fetch, None, config, KEY, sleep=asyncio.sleep)

    assert data.balance == [Balance(fake.expected_balances(loopback.world, KEY)["USD"], "USD")]
    assert loopback.world.counters["deepseek:rate_limited"] == 1
    assert loopback.world.counters["deepseek:early_retry"] == 0
    assert loopback.world.counters["deepseek:requests"] == 2
