"""The HTTP layer against servers that trickle, redirect badly or repeat buckets."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.adversarial.conftest import json_body, root_url
from tokenwatch_desktop.core.errors import ErrorKind, ProviderError
from tokenwatch_desktop.providers.http import CallContext, Http, RetryPolicy, make_client


class _Trickle(BaseHTTPRequestHandler):
    """Declares a 40-byte body and sends one byte every 0.1 s."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self.send_response(200)
        self.send_header("Content-Length", "40")
        self.end_headers()
        try:
            for _ in range(40):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except ConnectionError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def trickle_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()


def context(base_url: str) -> CallContext:
    return CallContext("test", "Test", base_url, {}, "a test key", "tokenwatch setup test")


def call(base_url: str, retry: RetryPolicy) -> Any:
    async def run() -> Any:
        async with make_client() as client:
            return await Http(client, retry).request_json(context(base_url), "GET", "/x")

    return asyncio.run(run())


def test_trickling_body_hits_deadline(trickle_server: str) -> None:
    retry = RetryPolicy(deadline=0.5, timeout_attempts=1)

    with pytest.raises(ProviderError) as caught:
        call(trickle_server, retry)

    assert caught.value.kind is ErrorKind.TIMEOUT


def test_invalid_location_is_bad_response(odd_server) -> None:
    odd_server.routes = {"/x": lambda path, query: (302, {"Location": "http://[::1"}, b"")}

    with pytest.raises(ProviderError) as caught:
        call(root_url(odd_server), RetryPolicy(attempts=1))

    assert caught.value.kind is ErrorKind.BAD_RESPONSE


def test_repeated_bucket_counted_once(odd_server, run_cli, tmp_path, monkeypatch) -> None:
    import json

    def costs(path, query):
        start = int(query["start_time"][0])
        days = list(range(start, int(query["end_time"][0]), 86400))
        row = [{"amount": {"value": 1, "currency": "usd"}, "line_item": "x"}]
        buckets = [{"start_time": d, "end_time": d + 86400, "results": row} for d in days]
        buckets.append(buckets[-1])
        return 200, {}, json_body({"object": "page", "has_more": False, "next_page": None,
                                   "data": buckets})

    def usage(path, query):
        start = int(query["start_time"][0])
        days = list(range(start, int(query["end_time"][0]), 86400))
        buckets = [{"start_time": d, "end_time": d + 86400, "results": []} for d in days]
        return 200, {}, json_body({"object": "page", "has_more": False, "next_page": None,
                                   "data": buckets})

    odd_server.routes = {"/v1/organization/costs": costs,
                         "/v1/organization/usage/completions": usage}
    path = tmp_path / "config.yaml"
    path.write_text(f"version: 1\naccounts:\n  - id: openai\n    provider: openai\n"
                    f"    base_url: {root_url(odd_server)}/v1\n")
    monkeypatch.setenv("TOKENWATCH_KEY_OPENAI", "sk-admin-repeat-0001")

    result = run_cli(["openai", "--config", str(path), "--json", "--period", "7d"])

    account = json.loads(result.stdout)["accounts"][0]
    assert account["cost"] == "7"
    assert account["status"] == "partial"
    assert "repeats the bucket" in account["error"]["message"]
