"""`tokenwatch-desktop --self-check`: prove that an installation or a bundle has what it needs.

It starts Qt, loads every packaged resource, opens the keyring backend, prices a known model
and resolves the config directory, printing one line per check (`ok` or `FAIL`, then what was
found). The exit status is 0 only when every check passes. Frozen bundles lose what is found at
run time (keyring backends, Qt plugins, package data), so the packaging script runs this inside
the bundle it built.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEYRING_TIMEOUT = 10.0
#: A long-listed model (genai-prices 0.2.3 prices it), with 1M input and 1M output tokens.
PRICE_PROBE = ("openai", "gpt-4o", (1_000_000, 0, 0, 0, 1_000_000))
_APP: list[object] = []


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


class CheckFailed(Exception):
    """A check found a problem. The message names it and the next step."""


def run(argv: Sequence[str] | None = None) -> int:
    """Run every check, print one line each, and return 0 only when all of them pass."""
    options = _parse(sys.argv[1:] if argv is None else argv)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("qt", _check_qt),
        ("resources", _check_resources),
        ("keyring", _check_keyring),
        ("prices", _check_prices),
        ("config", lambda: _check_config(options.config)),
    ]
    results = [_run_one(name, check) for name, check in checks]
    for result in results:
        print(result.line(), flush=True)
    return 0 if all(result.ok for result in results) else 1


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tokenwatch-desktop --self-check", add_help=False)
    parser.add_argument("--config")
    options, _ = parser.parse_known_args(list(argv))  # --self-check, --debug and others pass
    return options


def _run_one(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, check())
    except CheckFailed as exc:
        return CheckResult(name, False, str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure of a check is that check's FAIL line
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}")


def _check_qt() -> str:
    note = ""
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and not os.environ.get("QT_QPA_PLATFORM"):
        # Without a display Qt would abort loading the xcb plugin instead of raising.
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        note = " (no display found, so offscreen)"

    import PySide6

    from tokenwatch_desktop.ui.qt import QApplication, QSystemTrayIcon, QtCore

    if QApplication.instance() is None:
        _APP.append(QApplication(sys.argv[:1]))  # kept alive for the checks that draw icons
    tray = "yes" if QSystemTrayIcon.isSystemTrayAvailable() else "no"
    return (f"PySide6 {PySide6.__version__} (Qt {QtCore.qVersion()}), platform "
            f"{QApplication.platformName()}{note}, system tray available: {tray}")


def _check_resources() -> str:
    from tokenwatch_desktop.ui import icons
    from tokenwatch_desktop.ui.qt import QPixmap

    files = icons.app_icon_files()
    for entry in files:
        pixmap = QPixmap()
        if not entry.is_file():
            raise CheckFailed(f"{entry} is missing; reinstall TokenWatch or rebuild the bundle "
                              "with the package data")
        if not pixmap.loadFromData(entry.read_bytes(), "PNG") or pixmap.isNull():
            raise CheckFailed(f"{entry} is not a readable PNG; Qt's image support may be missing "
                              "from this installation")
    if icons.app_icon().isNull():
        raise CheckFailed("the application icon is empty; reinstall TokenWatch")
    drawn = 0
    for state in icons.STATES:
        for dark in (False, True):
            if icons.tray_icon("$12", state, dark).pixmap(22, 22).isNull():
                raise CheckFailed(f"the {state} tray icon could not be drawn")
            drawn += 1
    return f"{len(files)} icon files from {icons.resource_dir()}, {drawn} tray icons drawn"


def _check_keyring() -> str:
    from tokenwatch_desktop.core import secrets

    def probe() -> str:
        import keyring

        name = _backend_description()
        secrets.check_backend()
        # Read a name that is never stored: this opens the backend (the D-Bus session, the
        # collection) without writing anything to the user's keyring.
        keyring.get_password(secrets.SERVICE, "self-check-probe")
        return name

    try:
        return secrets.call_with_timeout(probe, KEYRING_TIMEOUT)
    except secrets.KeyringProblem as exc:
        raise CheckFailed(f"{_backend_description()}: {exc.message}") from None


def _backend_description() -> str:
    """Name the backend class; for a chain of backends, also the ones inside it."""
    import keyring
    from keyring.backends import chainer

    from tokenwatch_desktop.core import secrets

    name = secrets.backend_name()
    backend = keyring.get_keyring()
    if isinstance(backend, chainer.ChainerBackend):
        inner = ", ".join(f"{type(b).__module__}.{type(b).__qualname__}" for b in backend.backends)
        name += f" [{inner}]"
    return name


def _check_prices() -> str:
    from importlib import metadata

    from tokenwatch_desktop.core import money, pricing

    vendor, model, counts = PRICE_PROBE
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    cost = pricing.PriceTable().cost(vendor, model, now_ms, counts)
    if cost is None or cost <= 0:
        raise CheckFailed(f"genai-prices has no price for {vendor}/{model}; reinstall it (or "
                          "rebuild the bundle with its data)")
    version = metadata.version("genai-prices")
    return (f"genai-prices {version}: {vendor}/{model}, 1M input + 1M output tokens = "
            f"{money.display(cost)}")


def _check_config(cli_path: str | None) -> str:
    from tokenwatch_desktop.core import paths

    target = paths.config_path(cli_path)
    folder = target.parent
    if folder.is_dir():
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CheckFailed(f"{folder} is not writable; fix its permissions or choose another "
                              "file with --config or TOKENWATCH_CONFIG")
        return f"{target} (directory writable)"
    ancestor = _existing_ancestor(folder)
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise CheckFailed(f"{folder} cannot be created ({ancestor} is not a writable directory); "
                          "choose another file with --config or TOKENWATCH_CONFIG")
    return f"{target} (directory can be created in {ancestor})"


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


if __name__ == "__main__":
    sys.exit(run())
