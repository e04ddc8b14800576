"""Serve a `FakeWorld` over a real socket on 127.0.0.1, for end-to-end tests and benchmarks.

`http.server` needs two settings to serve a parallel client fairly: a listen queue longer than
the default 5 (otherwise parallel connections stall for over a second) and TCP_NODELAY on each
connection (otherwise Nagle's algorithm with delayed ACKs adds about 40 ms per keep-alive request).
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tokenwatch_desktop.providers.fake import FakeWorld, base_urls


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    world: FakeWorld

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up mid-answer (a timeout test, a cancelled refresh) is normal here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        answer = self.server.world.handle(self.command, path, query, dict(self.headers.items()),
                                          body)
        if answer.delay:
            time.sleep(answer.delay)
        content = answer.encoded()
        self.send_response(answer.status)
        headers = {"Content-Type": "application/json", **answer.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read the world's counters instead of an access log


class LoopbackServer:
    """A running fake on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self, world: FakeWorld | None = None, host: str = "127.0.0.1") -> None:
        self.world = world or FakeWorld()
        self._server = _Server((host, 0), _Handler)
        self._server.world = self.world
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-provider",
                                        daemon=True)

    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_urls(self) -> dict[str, str]:
        return base_urls(self.root)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main() -> None:
    """Run the fake in the foreground: `python -m tokenwatch_desktop.providers.fake.server [latency]`."""
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    with LoopbackServer(FakeWorld(latency=latency)) as server:
        for provider, url in server.base_urls().items():
            print(f"{provider}: {url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
