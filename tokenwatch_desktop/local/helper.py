"""Share a large scan with one helper process, so two cores parse log lines at once.

The files to read are cut into batches of about `BATCH_BYTES`, in scan order. A feeder thread
sends batches to the helper (`python -m tokenwatch_desktop.local.helper`) one at a time, and
the calling thread reads batches itself. Each takes the next unclaimed batch, so the helper's
start-up time costs no more than the work it did not do. The helper returns, per file,
the new file state and its lines as plain tuples, already folded (`scanner._Copies`), which are
cheap to pickle. Between its own batches, the calling thread passes every finished batch on in
scan order, so the lines can be counted while later ones are still being read, and counting
is the same as reading every file on one thread.

If the helper cannot start or fails, the batches it did not return are read on the calling
thread. No helper is used in a frozen (PyInstaller) build, whose executable cannot run a module.
Parsing in threads would not help: decoding holds the GIL.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokenwatch_desktop.local.scanner import FileScan, Job

log = logging.getLogger(__name__)

#: Below this many unread bytes a helper saves too little to be worth starting. This is an
#: estimate from one machine: the helper needed about 0.07 s to start, and one core read about
#: 500 MB of Claude Code logs per second.
MIN_BYTES = 64 * 1024 * 1024
BATCH_BYTES = 8 * 1024 * 1024
#: Set to False to read every file on the calling thread.
ENABLED = True
_STOP_SECONDS = 5.0

Reader = Callable[..., "FileScan | None"]


def available() -> bool:
    return ENABLED and bool(sys.executable) and not getattr(sys, "frozen", False)


def batches(jobs: Sequence[Job], sizes: Sequence[int]) -> list[list[Job]]:
    """Consecutive jobs grouped into batches of about `BATCH_BYTES` unread bytes."""
    out: list[list[Job]] = []
    current: list[Job] = []
    filled = 0
    for job, size in zip(jobs, sizes, strict=True):
        current.append(job)
        filled += size
        if filled >= BATCH_BYTES:
            out.append(current)
            current, filled = [], 0
    if current:
        out.append(current)
    return out


class _Claims:
    """Batch numbers handed out in order, each once, to whichever reader claims one first."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._count = count

    def next(self) -> int | None:
        with self._lock:
            if self._next >= self._count:
                return None
            self._next += 1
            return self._next - 1

    def stop(self) -> None:
        """Hand out no more batches (the caller failed)."""
        with self._lock:
            self._next = self._count


def read_shared(jobs: Sequence[Job], sizes: Sequence[int], read: Reader,
                take: Callable[[list[FileScan | None]], None]) -> None:
    """Read every job, sharing the work with a helper process.

    `take` gets each batch's results on the calling thread, in job order, as soon as that batch
    and all before it are read. The calling thread passes the helper's finished batches on
    between batches of its own.
    """
    groups = batches(jobs, sizes)
    results: list[list[FileScan | None] | None] = [None] * len(groups)
    process = _start() if len(groups) > 1 else None
    given = 0
    if process is not None:
        claims = _Claims(len(groups))
        feeder = threading.Thread(target=_feed, args=(process, groups, claims, results),
                                  name="scan-helper-feeder", daemon=True)
        feeder.start()
        try:
            while (index := claims.next()) is not None:
                results[index] = [read(*job) for job in groups[index]]
                given = _hand_over(results, given, take)
        except BaseException:
            claims.stop()  # so the feeder stops the helper after its current batch
            raise
        finally:
            feeder.join()
    for index in range(given, len(groups)):
        found = results[index]
        take(found if found is not None else [read(*job) for job in groups[index]])
        results[index] = None


def _hand_over(results: list[list[FileScan | None] | None], given: int,
               take: Callable[[list[FileScan | None]], None]) -> int:
    """Pass on the finished batches that follow the last one passed on; return the next."""
    while given < len(results):
        found = results[given]
        if found is None:
            break
        take(found)
        results[given] = []  # taken: let its lines go once counted
        given += 1
    return given


def _start() -> subprocess.Popen[bytes] | None:
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (package_parent, env.get("PYTHONPATH", "")) if part)
    try:
        return subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env,
                                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except OSError as exc:
        log.warning("cannot start the scan helper process (%s), so one thread reads every file",
                    exc)
        return None


def _feed(process: subprocess.Popen[bytes], groups: list[list[Job]], claims: _Claims,
          results: list[list[FileScan | None] | None]) -> None:
    """Send the next unclaimed batch to the helper until none is left."""
    from tokenwatch_desktop.local.scanner import FileScan

    assert process.stdin is not None and process.stdout is not None
    try:
        while (index := claims.next()) is not None:
            pickle.dump(groups[index], process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            process.stdin.flush()
            reply = pickle.load(process.stdout)
            results[index] = [None if item is None else FileScan(
                item[0], [_line(fields) for fields in item[1]], item[2]) for item in reply]
    except (OSError, EOFError, pickle.PickleError, ValueError, TypeError) as exc:
        log.warning("the scan helper process failed (%s), so the calling thread reads its files",
                    exc)
    finally:
        _stop(process)


def _line(fields: tuple[Any, ...]) -> Any:
    from tokenwatch_desktop.local.lines import UsageLine

    return UsageLine(*fields)


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=_STOP_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        process.kill()
        process.wait()
    finally:
        if process.stdout is not None:
            process.stdout.close()


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Read batches from `requests` until it ends, and write what each file gave to `replies`."""
    from tokenwatch_desktop.local.scanner import read_file

    while True:
        try:
            batch = pickle.load(requests)
        except EOFError:
            return
        reply = []
        for job in batch:
            found = read_file(*job)
            reply.append(None if found is None else (
                found.state, [line.as_tuple() for line in found.lines], found.bytes_read))
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


def main() -> int:
    # Replies go to a copy of stdout. Anything printed by accident goes to stderr instead.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    gc.disable()  # The helper is short-lived, and what it builds has no reference cycles.
    serve(sys.stdin.buffer, replies)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
