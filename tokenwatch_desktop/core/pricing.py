"""Estimated cost of token counts: the config's price overrides, then the genai-prices package.

Each response is priced on its own, at the prices in force at its instant, so per-request
long-context tiers apply as the provider bills them; callers sum the results. genai-prices is
imported only when the first price is looked up (it takes about 0.2 s and 26 MB), and only its
bundled data is read: this module builds its own snapshot from that data, so a price update
fetched by genai-prices' `UpdatePrices` (which this program never starts) could not change a
figure either. Nothing here touches the network.

The cost formula follows genai-prices' rule for overlapping usage kinds: `input_tokens` is all
input, and a count whose own price is missing is charged at the price of the broader kind
(1-hour cache writes at the 5-minute write price, cache writes and reads at the input price).
`tests/local/test_pricing.py` checks the formula against `genai_prices.calc_price`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import metadata
from typing import Any

from tokenwatch_desktop.core.settings import PriceOverride

log = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
THOUSAND = Decimal(1000)
_ZERO = Decimal(0)
#: A trailing release date: `-20250929` or `-2025-09-29`.
_DATE_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2})$")
#: genai-prices provider ids for the vendor names the config uses.
_PROVIDER_IDS = {"xai": "x-ai", "grok": "x-ai", "gemini": "google"}
_TOKEN_PRICES = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok",
                 "output_mtok")

#: A price per million tokens: flat, or a base with (threshold, price) tiers chosen by a
#: request's total input tokens (a tier applies above its threshold).
Price = Decimal | tuple[Decimal, tuple[tuple[int, Decimal], ...]]


@dataclass(frozen=True, slots=True)
class Sheet:
    """The prices of one model at one instant, in USD per million tokens (requests: per 1000)."""

    input: Price | None
    output: Price | None
    cache_read: Price | None = None
    cache_write: Price | None = None
    cache_write_1h: Price | None = None
    requests: Decimal | None = None

    def cost(self, counts: tuple[int, int, int, int, int]) -> Decimal | None:
        """Price one request's (uncached input, cache read, 5-min write, 1-h write, output)."""
        if self.input is None or self.output is None:
            return None
        uncached, read, write_5m, write_1h, output = counts
        all_input = uncached + read + write_5m + write_1h
        hour = write_1h if self.cache_write_1h is not None else 0
        writes = write_5m + write_1h - hour if self.cache_write is not None else 0
        reads = read if self.cache_read is not None else 0
        # The same sum, term by term in the same order, as
        # sum(_at(price, all_input) * count for price, count in leaves if count), unrolled
        # because it runs once per response. A price that is not a Decimal has tiers.
        total = _ZERO
        price: Price | None
        amount = all_input - reads - writes - hour
        if amount:
            price = self.input
            total += (price if type(price) is Decimal else _at(price, all_input)) * amount
        if reads:
            price = self.cache_read
            total += (price if type(price) is Decimal else _at(price, all_input)) * reads
        if writes:
            price = self.cache_write
            total += (price if type(price) is Decimal else _at(price, all_input)) * writes
        if hour:
            price = self.cache_write_1h
            total += (price if type(price) is Decimal else _at(price, all_input)) * hour
        if output:
            price = self.output
            total += (price if type(price) is Decimal else _at(price, all_input)) * output
        total /= MILLION
        if self.requests is not None:
            total += self.requests / THOUSAND
        return total


def _at(price: Price | None, all_input: int) -> Decimal:
    """The price that applies to a request with `all_input` input tokens (0 when unpriced)."""
    if price is None:
        return Decimal(0)
    if isinstance(price, Decimal):
        return price
    base, tiers = price
    chosen = base
    for threshold, tier_price in tiers:
        if all_input > threshold:
            chosen = tier_price
    return chosen


class PriceTable:
    """Looks up prices per (vendor, model, instant); overrides win over the package."""

    def __init__(self, overrides: Sequence[PriceOverride] = ()) -> None:
        self.overrides = tuple(overrides)
        self._sheets: dict[tuple[str, str, bool, int], Sheet | None] = {}
        self._snapshot: Any = None
        self._timed: set[tuple[str, str]] = set()

    def fingerprint(self) -> str:
        """Changes whenever a stored estimate could change: the package version or an override."""
        return f"genai-prices {_package_version()}; " + repr(sorted(map(repr, self.overrides)))

    def cost(self, vendor: str, model: str | None, at_ms: int,
             counts: tuple[int, int, int, int, int], fast: bool = False) -> Decimal | None:
        """Estimated USD cost of one request, or None when no price is known."""
        if model is None:
            return None
        sheet = self.sheet(vendor, model, at_ms, fast)
        return None if sheet is None else sheet.cost(counts)

    def sheet(self, vendor: str, model: str, at_ms: int, fast: bool = False) -> Sheet | None:
        # Prices change at UTC midnight, except time-of-day prices (off-peak discounts), which
        # are looked up per 15 minutes.
        slot = at_ms // 900_000 if (vendor, model) in self._timed else at_ms // 86_400_000
        key = (vendor, model, fast, slot)
        try:
            return self._sheets[key]
        except KeyError:
            instant = datetime.fromtimestamp(at_ms / 1000, UTC)
            found = self._sheets[key] = self._lookup(vendor, model, instant, fast)
            return found

    def _lookup(self, vendor: str, model: str, instant: datetime, fast: bool) -> Sheet | None:
        override = self._override(vendor, model, instant.date())
        if override is not None:
            return Sheet(override.input, override.output, override.cache_read,
                         override.cache_write, override.cache_write_1h)
        return self._package_sheet(vendor, model, instant, fast)

    def _override(self, vendor: str, model: str, day: date) -> PriceOverride | None:
        for name in model_names(model):
            found = [o for o in self.overrides
                     if o.vendor.lower() == vendor.lower() and o.model == name
                     and (o.start is None or o.start <= day)]
            if found:
                return max(found, key=lambda o: o.start or date.min)
        return None

    def _package_sheet(self, vendor: str, model: str, instant: datetime,
                       fast: bool) -> Sheet | None:
        snapshot = self._package()
        provider_id = _PROVIDER_IDS.get(vendor.lower(), vendor.lower())
        for name in model_names(model):
            try:
                _, info = snapshot.find_provider_model(name, None, provider_id, None)
            except LookupError:
                continue
            if _has_time_of_day(info):
                self._timed.add((vendor, model))
            prices = info.get_prices(instant, {"speed": "fast"} if fast else None)
            return _sheet_from_package(prices)
        log.debug("no package price for %s/%s", vendor, model)
        return None

    def _package(self) -> Any:
        if self._snapshot is None:
            from genai_prices.data import providers
            from genai_prices.data_snapshot import DataSnapshot

            self._snapshot = DataSnapshot(providers=providers, from_auto_update=False)
        return self._snapshot


def model_names(model: str) -> list[str]:
    """Names to try for a model, in order: as written, `@` read as `-`, date suffix removed."""
    names = [model]
    dashed = model.replace("@", "-")
    for name in (dashed, _DATE_SUFFIX.sub("", dashed)):
        if name not in names:
            names.append(name)
    return names


def _sheet_from_package(prices: Any) -> Sheet:
    values = {key: _package_price(getattr(prices, key, None)) for key in _TOKEN_PRICES}
    requests = getattr(prices, "requests_kcount", None)
    return Sheet(
        input=values["input_mtok"], output=values["output_mtok"],
        cache_read=values["cache_read_mtok"], cache_write=values["cache_write_mtok"],
        cache_write_1h=values["cache_write_1h_mtok"],
        requests=requests if isinstance(requests, Decimal) else None,
    )


def _package_price(value: Any) -> Price | None:
    if value is None or isinstance(value, Decimal):
        return value
    tiers = tuple((int(tier.start), tier.price) for tier in value.tiers)
    return (value.base, tiers)


def _has_time_of_day(info: Any) -> bool:
    prices = info.prices if isinstance(info.prices, list) else []
    return any(type(p.constraint).__name__ == "TimeOfDateConstraint" for p in prices)


@functools.cache
def _package_version() -> str:
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        return "missing"
