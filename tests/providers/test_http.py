"""The shared HTTP layer: retries, Retry-After, redirects, body limit, error kinds, scrubbing."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tokenwatch_desktop.core.errors import ErrorKind, ParseError, ProviderError
from tokenwatch_desktop.providers.fake.server import LoopbackServer
from tokenwatch_desktop.providers.http import (
    MAX_BODY_BYTES,
    CallContext,
    Http,
    RetryPolicy,
    follow_pages,
    make_client,
    map_status,
    parse_retry_after,
    provider_message,
    scrub,
)

KEY = "sk-admin-CANARY-0123456789abcdefghij"
Handler = Callable[[httpx.Request], httpx.Response]


def context(base_url: str = "https://api.example.test/v1", key: str = KEY,
            **extra: Any) -> CallContext:
    return CallContext("acme", "OpenAI", base_url, {"Authorization": f"Bearer {key}"},
                       "an OpenAI admin key (sk-admin-...)", "tokenwatch setup acme",
                       secret=key, **extra)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def call(handler: Handler, *, retry: RetryPolicy | None = None, sleep: Sleeps | None = None,
         ctx: CallContext | None = None, path: str = "/thing") -> Any:
    async def main() -> Any:
        async with make_client(httpx.MockTransport(handler)) as client:
            http = Http(client, retry, sleep or Sleeps())
            return await http.request_json(ctx or context(), "GET", path)

    return asyncio.run(main())


def failing(handler: Handler, **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call(handler, **options)
    return caught.value


def sequence(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A handler that answers with `responses` in order and records each request."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handle, seen


# Retries


def test_retries_server_error_then_succeeds() -> None:
    handler, seen = sequence(httpx.Response(503), httpx.Response(200, json={"ok": 1}))
    sleeps = Sleeps()
    assert call(handler, sleep=sleeps) == {"ok": 1}
    assert len(seen) == 2
    assert len(sleeps.waits) == 1
    assert 0 < sleeps.waits[0] <= RetryPolicy().max_delay


def test_gives_up_after_attempts() -> None:
    handler, seen = sequence(httpx.Response(500))
    error = failing(handler, retry=RetryPolicy(attempts=3))
    assert error.kind is ErrorKind.UNAVAILABLE
    assert len(seen) == 3


def test_backoff_grows_and_is_capped() -> None:
    handler, _ = sequence(httpx.Response(502))
    sleeps = Sleeps()
    failing(handler, retry=RetryPolicy(attempts=6, base_delay=1, max_delay=4), sleep=sleeps)
    assert len(sleeps.waits) == 5
    assert all(0.5 <= wait <= 4 for wait in sleeps.waits)
    assert sleeps.waits[-1] >= 2


def test_retry_after_seconds_honoured() -> None:
    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "3"}),
                             httpx.Response(200, json=[]))
    sleeps = Sleeps()
    assert call(handler, sleep=sleeps) == []
    assert sleeps.waits[0] >= 3
    assert len(seen) == 2


class EarlyClock:
    """A monotonic clock and a sleep that wakes early: qasync runs on Qt timers, and a coarse
    Qt timer may fire up to 5 % before its interval."""

    def __init__(self, ratio: float) -> None:
        self.now = 1000.0
        self.ratio = ratio
        self.waits: list[float] = []
        self.sent_at: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds * self.ratio


@pytest.mark.parametrize("ratio", [0.95, 0.99, 0.9999])
def test_retry_after_not_early_when_sleep_wakes_early(ratio: float) -> None:
    clock = EarlyClock(ratio)
    answers = iter([httpx.Response(429, headers={"Retry-After": "5"}),
                    httpx.Response(200, json={"ok": 1})])

    def handler(request: httpx.Request) -> httpx.Response:
        clock.sent_at.append(clock.now)
        return next(answers)

    async def main() -> Any:
        async with make_client(httpx.MockTransport(handler)) as client:
            http = Http(client, None, clock.sleep, clock)
            return await http.request_json(context(), "GET", "/thing")

    assert asyncio.run(main()) == {"ok": 1}
    first, retry = clock.sent_at
    assert retry - first >= 5
    assert len(clock.waits) >= 2  # the first sleep came back early and was topped up


def test_retry_wait_without_clock_sleeps_once() -> None:
    """An injected sleep with no clock: the wait is taken as slept (tests with fake sleeps)."""
    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "2"}),
                             httpx.Response(200, json=[]))
    sleeps = Sleeps()
    assert call(handler, sleep=sleeps) == []
    assert len(sleeps.waits) == 1 and len(seen) == 2


def test_retry_after_date_honoured() -> None:
    later = datetime(2030, 1, 1, 12, 0, 10, tzinfo=UTC)
    assert parse_retry_after(format_datetime(later, usegmt=True),
                             now=datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)) == 10


def test_retry_after_zero_uses_backoff() -> None:
    handler, _ = sequence(httpx.Response(429, headers={"Retry-After": "0"}),
                          httpx.Response(200, json=[]))
    sleeps = Sleeps()
    call(handler, sleep=sleeps)
    assert 0 < sleeps.waits[0] <= RetryPolicy().max_delay


def test_retry_after_too_long_ends_call() -> None:
    handler, seen = sequence(httpx.Response(429, headers={"Retry-After": "120"}))
    sleeps = Sleeps()
    error = failing(handler, sleep=sleeps, retry=RetryPolicy(max_wait=60))
    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == 120
    assert "120 s" in error.message
    assert sleeps.waits == []
    assert len(seen) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422])
def test_client_errors_not_retried(status: int) -> None:
    handler, seen = sequence(httpx.Response(status))
    failing(handler)
    assert len(seen) == 1


def test_timeout_retried_then_timeout() -> None:
    count = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        raise httpx.ReadTimeout("timed out", request=request)

    error = failing(handle, retry=RetryPolicy(attempts=2))
    assert error.kind is ErrorKind.TIMEOUT
    assert count == 2


@pytest.mark.parametrize(("value", "seconds"), [
    ("5", 5.0), (" 7 ", 7.0), ("soon", None), (None, None), ("-1", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


# Redirects


def test_same_origin_redirect_followed() -> None:
    handler, seen = sequence(
        httpx.Response(302, headers={"Location": "/v1/moved"}),
        httpx.Response(200, json={"moved": True}),
    )
    assert call(handler) == {"moved": True}
    assert seen[1].url.path == "/v1/moved"
    assert seen[1].headers["authorization"] == f"Bearer {KEY}"


def test_cross_origin_redirect_not_followed() -> None:
    handler, seen = sequence(
        httpx.Response(307, headers={"Location": "https://elsewhere.example.test/steal"}),
        httpx.Response(200, json={}),
    )
    error = failing(handler)
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "another origin" in error.message
    assert [request.url.host for request in seen] == ["api.example.test"]


def test_other_port_is_another_origin() -> None:
    handler, seen = sequence(
        httpx.Response(301, headers={"Location": "https://api.example.test:8443/v1/x"}))
    assert failing(handler).kind is ErrorKind.BAD_RESPONSE
    assert len(seen) == 1


def test_redirect_loop_stops() -> None:
    handler, seen = sequence(httpx.Response(302, headers={"Location": "/again"}))
    error = failing(handler)
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "too many redirects" in error.message
    assert len(seen) == 4


def test_redirect_without_location_is_error() -> None:
    handler, _ = sequence(httpx.Response(302, json={"looks": "fine"}))
    assert failing(handler).kind is ErrorKind.BAD_RESPONSE


# Bodies


def test_body_over_limit_rejected() -> None:
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b" " * (MAX_BODY_BYTES + 1))

    error = failing(huge)
    assert error.kind is ErrorKind.BAD_RESPONSE
    assert "20 MB" in error.message


def test_body_at_limit_read() -> None:
    def full(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[1]" + b" " * (MAX_BODY_BYTES - 3))

    assert call(full) == [1]


def test_malformed_json_is_parse_error() -> None:
    handler, _ = sequence(httpx.Response(200, content=b"<html>oops</html>"))
    with pytest.raises(ParseError) as caught:
        call(handler)
    assert caught.value.kind is ErrorKind.BAD_RESPONSE


def test_deep_json_is_parse_error() -> None:
    handler, _ = sequence(httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(ParseError):
        call(handler)


def test_numbers_come_back_decimal() -> None:
    handler, _ = sequence(httpx.Response(200, content=b'{"a": 0.1, "b": 3, "c": 1e-7}'))
    body = call(handler)
    assert str(body["a"]) == "0.1"
    assert body["b"] == 3
    assert format(body["c"], "f") == "0.0000001"


@pytest.fixture
def cut_off_server() -> Iterator[str]:
    """A one-shot server that promises 100 bytes of body and closes after 10."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        for _ in range(4):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
                             b"Content-Type: application/json\r\n\r\n{\"data\": [")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    yield f"http://{host}:{port}"
    listener.close()
    thread.join(timeout=5)


def test_cut_off_body_unavailable(cut_off_server: str) -> None:
    async def main() -> None:
        async with make_client() as client:
            http = Http(client, RetryPolicy(attempts=2), Sleeps())
            await http.request_json(context(cut_off_server), "GET", "/x")

    with pytest.raises(ProviderError) as caught:
        asyncio.run(main())
    assert caught.value.kind is ErrorKind.UNAVAILABLE


def test_connection_refused_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        async with make_client() as client:
            http = Http(client, RetryPolicy(attempts=1))
            await http.request_json(context(f"http://127.0.0.1:{port}"), "GET", "/x")

    with pytest.raises(ProviderError) as caught:
        asyncio.run(main())
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert "could not reach" in caught.value.message


# Error mapping


@pytest.mark.parametrize(("status", "kind"), [
    (401, ErrorKind.AUTH), (402, ErrorKind.BILLING), (403, ErrorKind.PERMISSION),
    (404, ErrorKind.NOT_FOUND), (400, ErrorKind.BAD_REQUEST), (418, ErrorKind.BAD_REQUEST),
    (429, ErrorKind.RATE_LIMITED), (500, ErrorKind.UNAVAILABLE), (529, ErrorKind.UNAVAILABLE),
    (504, ErrorKind.TIMEOUT), (304, ErrorKind.BAD_RESPONSE),
])
def test_status_kinds(status: int, kind: ErrorKind) -> None:
    error = map_status(context(), status, httpx.Headers(), b"")
    assert error.kind is kind
    assert error.message.startswith("OpenAI (account acme): ")


def test_auth_message_names_key_kind() -> None:
    error = map_status(context(), 401, httpx.Headers(), b"")
    assert "an OpenAI admin key (sk-admin-...)" in error.message
    assert "`tokenwatch setup acme`" in error.message


def test_status_kind_override() -> None:
    ctx = context(status_kinds={501: ErrorKind.PERMISSION})
    assert map_status(ctx, 501, httpx.Headers(), b"").kind is ErrorKind.PERMISSION


@pytest.mark.parametrize(("body", "message"), [
    (b'{"error": {"message": "Missing scopes: api.usage.read.", "type": "x"}}',
     "Missing scopes: api.usage.read."),
    (b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
     "invalid x-api-key"),
    (b'{"error": "plain text"}', "plain text"),
    (b'{"message": "top level"}', "top level"),
    (b'{"error": {"code": 401}}', ""),
    (b"<html>", ""),
    (b'{"error": {"message": "  spread\\n over   lines "}}', "spread over lines"),
])
def test_provider_message(body: bytes, message: str) -> None:
    assert provider_message(body, context()) == message


def test_provider_message_shortened() -> None:
    text = provider_message(b'{"error": {"message": "' + b"x" * 1000 + b'"}}', context())
    assert len(text) == 300
    assert text.endswith("...")


def test_error_message_shown() -> None:
    handler, _ = sequence(httpx.Response(400, json={"error": {"message": "limit too large"}}))
    error = failing(handler)
    assert error.kind is ErrorKind.BAD_REQUEST
    assert "The provider said: limit too large" in error.message


# Secrets


def test_echoed_key_scrubbed() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}. Or {KEY[:20]}"}}
    handler, _ = sequence(httpx.Response(401, json=body))
    error = failing(handler)
    assert KEY not in error.message
    assert KEY[:14] not in error.message
    assert "[key]" in error.message


@pytest.mark.parametrize("text", [
    f"Bearer {KEY}", f"Bearer {KEY}\\n", KEY[3:30], f"x{KEY[10:]}y",
])
def test_scrub_fragments(text: str) -> None:
    scrubbed = scrub(text, context())
    for start in range(len(KEY) - 12):
        assert KEY[start:start + 12] not in scrubbed


def test_scrub_short_text_kept() -> None:
    assert scrub("nothing secret here", context()) == "nothing secret here"
    assert scrub("abc", context(key="abc")) == "abc"


def test_context_repr_hides_key() -> None:
    assert KEY not in repr(context())
    assert "acme" in repr(context())


def test_key_with_newline_over_socket(loopback: LoopbackServer) -> None:
    key = KEY + "\n"

    async def main() -> None:
        async with make_client() as client:
            http = Http(client, RetryPolicy(attempts=1))
            await http.request_json(context(loopback.root + "/openai/v1", key), "GET", "/x")

    with pytest.raises(ProviderError) as caught:
        asyncio.run(main())
    error = caught.value
    assert error.kind is ErrorKind.CONFIG
    assert KEY[:12] not in repr(error)
    assert error.__cause__ is None
    assert loopback.world.counters["openai:requests"] == 0


def test_key_not_ascii_is_config_error() -> None:
    handler, seen = sequence(httpx.Response(200, json={}))
    error = failing(handler, ctx=context(key="sk-admin-clé-0123456789abcdef"))
    assert error.kind is ErrorKind.CONFIG
    assert "clé" not in error.message
    assert seen == []


def test_invalid_base_url_is_config_error() -> None:
    handler, _ = sequence(httpx.Response(200, json={}))
    assert failing(handler, ctx=context("http://[::1/v1")).kind is ErrorKind.CONFIG


def test_debug_log_has_no_key(caplog: pytest.LogCaptureFixture) -> None:
    handler, _ = sequence(httpx.Response(500), httpx.Response(200, json={}))
    with caplog.at_level(logging.DEBUG):
        call(handler, path="/organization/costs")
    assert "/v1/organization/costs -> 500" in caplog.text
    assert "/v1/organization/costs -> 200" in caplog.text
    assert KEY[:12] not in caplog.text


def test_transport_error_text_scrubbed() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"proxy refused {KEY}", request=request)

    error = failing(handle, retry=RetryPolicy(attempts=1))
    assert error.kind is ErrorKind.UNAVAILABLE
    assert KEY[:12] not in error.message
    assert error.__cause__ is None


# Paging


def run_pages(pages: list[Any], max_pages: int = 200) -> tuple[list[Any], list[str | None]]:
    cursors: list[str | None] = []

    async def fetch(cursor: str | None, number: int) -> Any:
        cursors.append(cursor)
        return pages[number - 1]

    result = asyncio.run(follow_pages(context(), fetch, max_pages))
    return result, cursors


def test_pages_followed_in_order() -> None:
    pages = [{"has_more": True, "next_page": "a"}, {"has_more": True, "next_page": "b"},
             {"has_more": False, "next_page": None}]
    result, cursors = run_pages(pages)
    assert result == pages
    assert cursors == [None, "a", "b"]


@pytest.mark.parametrize("page", [
    {"has_more": True, "next_page": None}, {"has_more": True}, {"has_more": True, "next_page": ""},
    {"has_more": True, "next_page": 5},
])
def test_more_without_cursor(page: dict[str, Any]) -> None:
    with pytest.raises(ProviderError) as caught:
        run_pages([page])
    assert caught.value.kind is ErrorKind.INCOMPLETE


def test_repeated_cursor() -> None:
    pages = [{"has_more": True, "next_page": "a"}, {"has_more": True, "next_page": "b"},
             {"has_more": True, "next_page": "a"}]
    with pytest.raises(ProviderError) as caught:
        run_pages(pages)
    assert caught.value.kind is ErrorKind.INCOMPLETE
    assert "repeated" in caught.value.message


def test_page_cap() -> None:
    pages = [{"has_more": True, "next_page": f"c{n}"} for n in range(10)]
    with pytest.raises(ProviderError) as caught:
        run_pages(pages, max_pages=5)
    assert caught.value.kind is ErrorKind.INCOMPLETE


@pytest.mark.parametrize("page", [[], "page", {"has_more": "yes"}, {"has_more": 1}])
def test_page_wrong_shape(page: Any) -> None:
    with pytest.raises(ParseError):
        run_pages([page])


def test_shared_client_parallel(loopback: LoopbackServer) -> None:
    loopback.world.latency = 0.2

    async def main() -> list[Any]:
        async with make_client() as client:
            http = Http(client)
            ctx = context(loopback.root + "/nothing")
            calls: list[Awaitable[Any]] = [
                http.request_json(ctx, "GET", f"/{n}") for n in range(8)]
            return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(result, ProviderError) for result in results)
    assert {result.kind for result in results} == {ErrorKind.NOT_FOUND}
    assert loopback.world.counters["nothing:requests"] == 8
