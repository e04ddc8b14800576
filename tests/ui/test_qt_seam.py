"""Every Qt import in the UI goes through `ui/qt.py`; the app module imports no Qt at load."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tokenwatch_desktop

PACKAGE = Path(tokenwatch_desktop.__file__).parent


def qt_imports(path: Path) -> list[str]:
    """Qt modules a file imports; the bare `PySide6` package (its version) loads no Qt."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("PySide6.")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("PySide6"):
            found.append(node.module or "")
    return found


def test_only_qt_module_imports_pyside() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): qt_imports(path)
        for path in PACKAGE.rglob("*.py")
        if path.name != "qt.py" and qt_imports(path)
    }
    assert offenders == {}


def test_app_entry_imports_lazily() -> None:
    code = ("import sys, tokenwatch_desktop.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'httpx', 'keyring', "
            "'genai_prices'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_tray_period_names_match_periods() -> None:
    from tokenwatch_desktop.core.periods import PERIODS
    from tokenwatch_desktop.ui.tray import PERIOD_NAMES

    assert tuple(PERIOD_NAMES) == PERIODS


def test_pyside_source_scan_does_not_cache() -> None:
    import linecache
    import sys

    import tokenwatch_desktop.ui.qt  # noqa: F401  (installs the replacement)

    feature = sys.modules.get("PySide6.support.feature")
    if feature is None:
        return  # a PySide6 without the feature switch has nothing to replace
    linecache.clearcache()
    import tokenwatch_desktop.ui.schedule as probe

    assert feature._mod_uses_pyside(probe) is False
    assert feature._mod_uses_pyside(sys.modules["tokenwatch_desktop.ui.qt"]) is True
    assert probe.__file__ not in linecache.cache
