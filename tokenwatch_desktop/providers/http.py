"""The one HTTP layer: a shared `httpx.AsyncClient`, retries, and the map from failures to error kinds.

Every provider call goes through `Http.request_json`, so timeouts, `Retry-After`, redirects, body
limits, debug logging and secret scrubbing are decided here and nowhere else.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from tokenwatch_desktop import __version__
from tokenwatch_desktop.core import money
from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 3
#: A sleep that returns early is topped up at most this many times, each a little longer.
EARLY_WAKE_ROUNDS = 5
EARLY_WAKE_MARGIN = 0.005
USER_AGENT = f"TokenWatch/{__version__} (+https://pypi.org/project/tokenwatch-desktop/)"

Query = Sequence[tuple[str, str]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx, timeouts and dropped connections.

    `max_wait` caps one `Retry-After` wait, so a provider that requests a longer one ends the account
    with `rate_limited` (the command line allows 60 s; the desktop app schedules a retry instead).
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_wait: float = 60.0
    #: Maximum time for one exchange (connect, send, the whole body), in seconds.
    deadline: float = 45.0
    #: Attempts for a call that timed out, fewer than for other failures, because a server that did
    #: not respond once rarely responds on an immediate retry.
    timeout_attempts: int = 2


@dataclass(frozen=True)
class CallContext:
    """Target of a call: the account, its provider, the base URL and the authentication headers.

    `auth_hint` names the kind of key the provider needs, for 401 messages. `status_kinds`
    overrides the default kind of a status for one provider (xAI's 501 means `permission`).
    The key sits in `headers` only; `__repr__` never shows header values.
    """

    account_id: str
    provider_name: str
    base_url: str
    headers: Mapping[str, str]
    auth_hint: str
    setup_hint: str
    secret: str = ""
    status_kinds: Mapping[int, ErrorKind] = field(default_factory=dict)
    #: The environment variable the key came from; empty when it came from the keyring.
    key_env: str = ""

    def __repr__(self) -> str:
        return f"CallContext(account_id={self.account_id!r}, base_url={self.base_url!r})"

    @property
    def who(self) -> str:
        return f"{self.provider_name} (account {self.account_id})"

    @property
    def new_key_hint(self) -> str:
        """How to give the account another key: where the rejected one came from."""
        if self.key_env:
            return (f"set {self.key_env} to one (that environment variable is used before any "
                    "stored key)")
        return f"store one with `{self.setup_hint}`"

    @property
    def key_again_hint(self) -> str:
        if self.key_env:
            return f"set {self.key_env} again"
        return f"store it again with `{self.setup_hint}`"


def make_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """Create the shared client: explicit timeouts, pooling, proxies from the environment.

    TLS uses the operating system's certificate store (`ssl.create_default_context`), so a
    corporate proxy with its own root certificate works. Redirects are handled by `Http`.
    """
    timeout = httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=30.0)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=30.0)
    # httpx uses `verify` only for its own transport; an injected one (the fakes) needs no
    # TLS context, and loading the certificate store costs about 1.5 MB.
    verify: ssl.SSLContext | bool = ssl.create_default_context() if transport is None else True
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        transport=transport,
        verify=verify,
        follow_redirects=False,
        trust_env=True,
        headers={"User-Agent": USER_AGENT},
    )


class Http:
    """Provider-facing wrapper over the shared client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        # The real sleep gets the real clock. An injected sleep needs its own clock; without
        # one, each wait counts as slept in full.
        self._clock = clock if clock is not None else (
            time.monotonic if sleep is asyncio.sleep else None)

    async def request_json(
        self,
        ctx: CallContext,
        method: str,
        path: str,
        *,
        params: Query = (),
        body: Any = None,
        page: int | None = None,
    ) -> Any:
        """Send one call (with retries) and return its JSON, numbers with decimals as `Decimal`."""
        url = ctx.base_url.rstrip("/") + path
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._attempt(ctx, method, url, params, body, page)
            except ProviderError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise
                log.debug("%s: retrying %s %s in %.2f s (%s)", ctx.account_id, method, path,
                          delay, exc.kind.value)
                await self._wait(delay)

    async def _wait(self, delay: float) -> None:
        """Sleep `delay` seconds, and the rest when the sleep returned early.

        Event loops with coarse timers (qasync's run on Qt timers in whole milliseconds) can
        return a few milliseconds early, and a retry sent before `Retry-After` has passed is
        one the provider may count against the account.
        """
        if self._clock is None:
            await self._sleep(delay)
            return
        deadline = self._clock() + delay
        await self._sleep(delay)
        for _ in range(EARLY_WAKE_ROUNDS):
            left = deadline - self._clock()
            if left <= 0:
                return
            log.debug("woke %.3f s before the retry time; waiting the rest", left)
            await self._sleep(left + EARLY_WAKE_MARGIN)

    def _retry_delay(self, exc: ProviderError, attempt: int) -> float | None:
        if exc.kind not in (ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.TIMEOUT):
            return None
        limit = self.retry.timeout_attempts if exc.kind is ErrorKind.TIMEOUT else self.retry.attempts
        if attempt >= limit:
            return None
        if exc.retry_after is not None and exc.retry_after > 0:
            if exc.retry_after > self.retry.max_wait:
                return None
            # A small margin keeps a wait that rounds down from landing just before the deadline.
            return exc.retry_after + 0.05
        backoff: float = min(self.retry.max_delay, self.retry.base_delay * 2.0 ** (attempt - 1))
        return backoff * (0.5 + random.random() / 2)

    async def _attempt(
        self, ctx: CallContext, method: str, url: str, params: Query, body: Any, page: int | None
    ) -> Any:
        started = time.monotonic()
        origin = _origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = _build(self.client, ctx, method, url, params, body)
            status, headers, content = await self._send(ctx, request)
            _debug(ctx, method, request.url, status, started, page)
            if status in (301, 302, 303, 307, 308) and "location" in headers:
                url = _redirect_target(ctx, request.url, headers["location"])
                if _origin(url) != origin:
                    raise ProviderError(
                        ErrorKind.BAD_RESPONSE,
                        f"{ctx.who}: the server redirected to another origin ({_origin(url)}), "
                        "which is not followed so the key is not sent there; check the base URL.",
                    )
                continue
            if not 200 <= status < 300:
                raise map_status(ctx, status, headers, content)
            return _parse_json(ctx, content)
        raise ProviderError(
            ErrorKind.BAD_RESPONSE,
            f"{ctx.who}: too many redirects from {scrub(url, ctx)}; check the base URL.",
        )

    async def _send(
        self, ctx: CallContext, request: httpx.Request
    ) -> tuple[int, httpx.Headers, bytes]:
        try:
            # httpx's read timeout restarts with every chunk, so a server that trickles bytes
            # would never time out; the deadline bounds the whole exchange.
            async with asyncio.timeout(self.retry.deadline):
                response = await self.client.send(request, stream=True)
                try:
                    content = await _read_limited(ctx, response)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise ProviderError(
                ErrorKind.TIMEOUT,
                f"{ctx.who}: no answer from {ctx.base_url} in time; try again later "
                "or check the network and proxy settings.",
            ) from _scrubbed(exc, ctx)
        except httpx.LocalProtocolError:
            # httpx raises this for a header value it cannot send, and its text would show the key.
            raise ProviderError(
                ErrorKind.CONFIG,
                f"{ctx.who}: the key contains characters that cannot be sent in a header; "
                f"{ctx.key_again_hint}.",
            ) from None
        except httpx.RemoteProtocolError as exc:
            if "location header" in str(exc).lower():
                raise ProviderError(
                    ErrorKind.BAD_RESPONSE,
                    f"{ctx.who}: the server redirected to an invalid address; check the base URL.",
                ) from None
            raise _unreachable(ctx, exc) from _scrubbed(exc, ctx)
        except httpx.TransportError as exc:
            raise _unreachable(ctx, exc) from _scrubbed(exc, ctx)
        return response.status_code, response.headers, content


def _unreachable(ctx: CallContext, exc: httpx.TransportError) -> ProviderError:
    return ProviderError(
        ErrorKind.UNAVAILABLE,
        f"{ctx.who}: could not reach {ctx.base_url} ({type(exc).__name__}: "
        f"{scrub(str(exc), ctx) or 'connection failed'}); check the network, the proxy "
        "settings and the base URL.",
    )


def _redirect_target(ctx: CallContext, current: httpx.URL, location: str) -> str:
    try:
        return str(current.join(location))
    except httpx.InvalidURL:
        raise ProviderError(
            ErrorKind.BAD_RESPONSE,
            f"{ctx.who}: the server redirected to an invalid address; check the base URL.",
        ) from None


def _build(
    client: httpx.AsyncClient, ctx: CallContext, method: str, url: str, params: Query, body: Any
) -> httpx.Request:
    """Build a request. A base URL or key that cannot be sent raises a `config` error."""
    try:
        return client.build_request(
            method, url, params=list(params), json=body, headers=dict(ctx.headers)
        )
    except httpx.InvalidURL:
        raise ProviderError(
            ErrorKind.CONFIG,
            f"{ctx.who}: the base URL {scrub(ctx.base_url, ctx)} is invalid; correct it in the "
            "configuration.",
        ) from None
    except UnicodeEncodeError:
        # Header values must be ASCII. The error text would show the key, so it is dropped.
        raise ProviderError(
            ErrorKind.CONFIG,
            f"{ctx.who}: the key contains characters that cannot be sent in a header; "
            f"{ctx.key_again_hint}.",
        ) from None


async def _read_limited(ctx: CallContext, response: httpx.Response) -> bytes:
    chunks = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ProviderError(
                ErrorKind.BAD_RESPONSE,
                f"{ctx.who}: the answer is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB and "
                "was not read; choose a shorter period or report the problem.",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(ctx: CallContext, content: bytes) -> Any:
    try:
        return money.loads(content)
    except (ValueError, RecursionError):
        raise ParseError(
            f"{ctx.who}: the response is not valid JSON; the provider or a proxy in between sent "
            "something else. Check the base URL, or try again later."
        ) from None


def map_status(
    ctx: CallContext, status: int, headers: Mapping[str, str], content: bytes
) -> ProviderError:
    """Turn an HTTP error status into a `ProviderError` whose message states what to do next."""
    detail = provider_message(content, ctx)
    said = f" The provider said: {detail}" if detail else ""
    kind = ctx.status_kinds.get(status) or _default_kind(status)
    retry_after = parse_retry_after(headers.get("retry-after"))
    text = {
        ErrorKind.AUTH: f"the key was rejected (HTTP {status}). This needs {ctx.auth_hint}; "
        f"{ctx.new_key_hint}.",
        ErrorKind.PERMISSION: f"the key may not read this data (HTTP {status}). Use "
        f"{ctx.auth_hint} with read access to usage and billing.",
        ErrorKind.NOT_FOUND: f"not found (HTTP {status}). Check the base URL {ctx.base_url} and "
        "any team or organization id in the configuration.",
        ErrorKind.BILLING: f"out of credit (HTTP {status}). Add credit in the provider's console.",
        ErrorKind.RATE_LIMITED: f"rate limited (HTTP {status})"
        + (f"; the provider asked to wait {retry_after:.0f} s" if retry_after else "")
        + ". The last figures are kept; try again later.",
        ErrorKind.UNAVAILABLE: f"the service is unavailable (HTTP {status}); try again later.",
        ErrorKind.BAD_REQUEST: f"the request was rejected (HTTP {status}). Check the period "
        "and the account options.",
        ErrorKind.TIMEOUT: f"the provider timed out (HTTP {status}); try again later.",
    }.get(kind, f"unexpected HTTP status {status}; check the base URL {ctx.base_url}.")
    return ProviderError(kind, f"{ctx.who}: {text}{said}", retry_after=retry_after)


def _default_kind(status: int) -> ErrorKind:
    if status == 401:
        return ErrorKind.AUTH
    if status == 402:
        return ErrorKind.BILLING
    if status == 403:
        return ErrorKind.PERMISSION
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status == 504:
        return ErrorKind.TIMEOUT
    if status >= 500:
        return ErrorKind.UNAVAILABLE
    if 300 <= status < 400:
        return ErrorKind.BAD_RESPONSE
    return ErrorKind.BAD_REQUEST


def provider_message(content: bytes, ctx: CallContext) -> str:
    """Pull the human message out of any of the providers' error bodies, scrubbed and shortened."""
    try:
        data = money.loads(content)
    except (ValueError, RecursionError):
        return ""
    message: object = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        if message is None:
            message = data.get("message")
    if not isinstance(message, str):
        return ""
    text = scrub(" ".join(message.split()), ctx)
    return text if len(text) <= 300 else text[:297] + "..."


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Read `Retry-After` as seconds or as an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def scrub(text: str, ctx: CallContext) -> str:
    """Remove the account's key from any text: whole, escaped, or as any run of 12+ of its chars."""
    secret = ctx.secret
    if not secret or len(secret) < 4:
        return text
    escaped = secret.encode("unicode_escape").decode("ascii")
    for variant in sorted({secret, secret.strip(), escaped}, key=len, reverse=True):
        if len(variant) >= 4:
            text = text.replace(variant, "[key]")
    core = secret.strip()
    if len(core) < 16:
        return text
    return _mask_fragments(text, core, 12)


def _mask_fragments(text: str, secret: str, size: int) -> str:
    """Replace every run of text made of overlapping `size`-character pieces of the secret."""
    covered = [False] * len(text)
    for start in range(len(secret) - size + 1):
        piece = secret[start : start + size]
        found = text.find(piece)
        while found != -1:
            covered[found : found + size] = [True] * size
            found = text.find(piece, found + 1)
    if not any(covered):
        return text
    parts: list[str] = []
    for index, char in enumerate(text):
        if not covered[index]:
            parts.append(char)
        elif index == 0 or not covered[index - 1]:
            parts.append("[key]")
    return "".join(parts)


def _scrubbed(exc: Exception, ctx: CallContext) -> Exception | None:
    """Chain a lower-level error only when its text cannot carry the key."""
    for text in (repr(exc), str(exc)):
        if scrub(text, ctx) != text:
            return None
    return exc


def _origin(url: str) -> tuple[str, str, int | None]:
    """Return the scheme, host and port of a URL, or the empty origin for an unreadable URL."""
    try:
        parts = urlsplit(url)
        return parts.scheme, (parts.hostname or ""), parts.port
    except ValueError:
        return "", "", None


def _debug(
    ctx: CallContext, method: str, url: httpx.URL, status: int, started: float, page: int | None
) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    elapsed = (time.monotonic() - started) * 1000
    log.debug("%s %s %s -> %d in %.0f ms%s", ctx.account_id, method, url.path, status, elapsed,
              f" (page {page})" if page is not None else "")


async def follow_pages(
    ctx: CallContext,
    fetch: Callable[[str | None, int], Awaitable[Mapping[str, Any]]],
    max_pages: int = 200,
) -> list[Mapping[str, Any]]:
    """Follow `has_more`/`next_page` until the last page; raise `incomplete` when it cannot finish.

    `fetch(cursor, page_number)` returns one page's JSON object. A missing or repeated cursor,
    or more than `max_pages` pages, is an error, never a silently short result.
    """
    pages: list[Mapping[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = await fetch(cursor, len(pages) + 1)
        if not isinstance(page, Mapping):
            raise ParseError(f"{ctx.who}: a page is not a JSON object; check the base URL.")
        pages.append(page)
        more = page.get("has_more")
        if more is not None and not isinstance(more, bool):
            raise ParseError(f"{ctx.who}: `has_more` is {more!r}, expected true or false.")
        if more is not True:
            return pages
        cursor = page.get("next_page")
        if not isinstance(cursor, str) or not cursor:
            raise _incomplete(ctx, "the response reports more pages but has no cursor")
        if cursor in seen:
            raise _incomplete(ctx, "the provider repeated a page cursor")
        if len(pages) >= max_pages:
            raise _incomplete(ctx, f"more than {max_pages} pages")
        seen.add(cursor)


def _incomplete(ctx: CallContext, why: str) -> ProviderError:
    return ProviderError(
        ErrorKind.INCOMPLETE,
        f"{ctx.who}: the result is incomplete ({why}); the figures shown miss some days. "
        "Try a shorter period or refresh later.",
    )
