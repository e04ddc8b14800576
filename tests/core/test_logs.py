"""Logging: private rotating file, stderr only for debug, quiet HTTP loggers, secrets masked."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenwatch_desktop.core import logs

KEY = "sk-admin-CANARYlogs0123456789abcd"
log = logging.getLogger("tokenwatch_desktop.tests")


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    package = logging.getLogger(logs.PACKAGE)
    levels = {name: logging.getLogger(name).level for name in (logs.PACKAGE, *logs.QUIET_LOGGERS)}
    yield
    logs.reset()
    logs.SECRETS.clear()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    assert package is logging.getLogger(logs.PACKAGE)


def log_file(home: Path) -> Path:
    return home / ".local" / "state" / "TokenWatch" / "log" / "tokenwatch.log"


def flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_file_is_private(isolated_home: Path) -> None:
    path = logs.setup(debug=False, to_stderr=False, log_file=True)
    log.info("started")
    flush()

    assert path == log_file(isolated_home)
    assert "started" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_rotated_files_stay_private(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 200)
    path = logs.setup(debug=False, to_stderr=False, log_file=True)
    assert path is not None

    for number in range(20):
        log.info("line %d with some padding to fill the file", number)
    flush()

    files = sorted(path.parent.glob("tokenwatch.log*"))
    assert len(files) == 1 + logs.BACKUP_COUNT
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_existing_wide_file_tightened(isolated_home: Path) -> None:
    path = log_file(isolated_home)
    path.parent.mkdir(parents=True)
    path.write_text("old\n")
    path.chmod(0o644)

    logs.setup(debug=False, to_stderr=False, log_file=True)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_debug_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(debug=True, to_stderr=True, log_file=False)

    log.debug("GET /organization/costs 200 12 ms page 1")

    assert "GET /organization/costs 200" in capsys.readouterr().err


def test_env_turns_debug_on(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(debug=False, to_stderr=True, log_file=False, environ={"TOKENWATCH_DEBUG": "1"})

    log.debug("decision made")

    assert "decision made" in capsys.readouterr().err


def test_no_stderr_without_debug(capsys: pytest.CaptureFixture[str], isolated_home: Path) -> None:
    logs.setup(debug=False, to_stderr=True, log_file=True, environ={})

    log.warning("degraded")
    log.debug("not written anywhere")
    flush()

    assert capsys.readouterr().err == ""
    text = log_file(isolated_home).read_text()
    assert "degraded" in text
    assert "not written anywhere" not in text


def test_http_loggers_quiet() -> None:
    logs.setup(debug=True, to_stderr=False, log_file=False)

    for name in logs.QUIET_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


def test_setup_twice_replaces_handlers() -> None:
    before = len(logging.getLogger().handlers)

    logs.setup(debug=True, to_stderr=True, log_file=True)
    logs.setup(debug=True, to_stderr=True, log_file=True)

    assert len(logging.getLogger().handlers) == before + 2


def test_secret_masked_everywhere(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(debug=True, to_stderr=True, log_file=True)
    logs.register_secret(KEY)

    log.info("header value %s", KEY)
    log.info(f"inline {KEY}")
    log.info("mapping %(key)s", {"key": KEY})
    try:
        raise ValueError(f"Invalid header value b'Bearer {KEY}\\n'")
    except ValueError:
        log.exception("request failed")
    log.info("stack", stack_info=True, extra={"note": "x"})
    flush()

    written = log_file(isolated_home).read_text() + capsys.readouterr().err
    assert KEY not in written
    assert KEY[:14] not in written
    assert written.count(logs.masked(KEY)) >= 8  # file and stderr, four records each
    assert "Invalid header value" in written


def test_bad_format_record_survives() -> None:
    logs.register_secret(KEY)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "two %s %s", (KEY,), None)

    kept = logs.SecretFilter().filter(record)

    assert kept is True
    assert record.getMessage().startswith("two %s %s (arguments: ")
    assert KEY not in record.getMessage()
    assert logs.masked(KEY) in record.getMessage()


def test_short_secret_ignored() -> None:
    logs.register_secret("abc")
    logs.register_secret(None)

    assert logs.SECRETS.scrub("abc def") == "abc def"


def test_longest_secret_masked_first() -> None:
    logs.register_secret("sk-0123456789")
    logs.register_secret("sk-0123456789-extended")

    assert logs.SECRETS.scrub("x sk-0123456789-extended y") == "x [key …nded] y"


def test_protect_other_handler() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect()
    logs.protect(handler)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    logs.register_secret(KEY)
    try:
        log.info("shown in a log view: %s", KEY)
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)

    assert records == [f"shown in a log view: {logs.masked(KEY)}"]
