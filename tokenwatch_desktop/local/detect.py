"""Where the coding agents keep their logs, and whether a local-log account has any to read."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CLAUDE_CODE = "claude-code"
CODEX = "codex"


def claude_roots(environ: Mapping[str, str]) -> list[Path]:
    """Claude Code's `projects` folders: from `CLAUDE_CONFIG_DIR` (a comma list), else both defaults."""
    configured = environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        return [_expand(part, environ) / "projects" for part in _split(configured)]
    home = _home(environ)
    return [home / ".claude" / "projects", home / ".config" / "claude" / "projects"]


def codex_roots(environ: Mapping[str, str]) -> list[Path]:
    """Codex's `sessions` and `archived_sessions` folders under each `CODEX_HOME` (default ~/.codex)."""
    configured = environ.get("CODEX_HOME", "").strip()
    homes = [_expand(part, environ) for part in _split(configured)] if configured else [
        _home(environ) / ".codex"
    ]
    return [home / sub for home in homes for sub in ("sessions", "archived_sessions")]


def roots(provider_id: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> list[Path]:
    """The folders an account reads: its `paths` option when set, else the agent's defaults."""
    paths = options.get("paths")
    if paths:
        listed = [paths] if isinstance(paths, str) else list(paths)
        return [_expand(str(path), environ) for path in listed]
    if provider_id == CLAUDE_CODE:
        return claude_roots(environ)
    if provider_id == CODEX:
        return codex_roots(environ)
    raise ValueError(f"{provider_id!r} is not a local-log provider")


def present(provider_id: str, options: dict[str, Any], environ: Mapping[str, str]) -> bool:
    """True when at least one of the account's folders exists (the engine then enables it)."""
    return any(path.is_dir() for path in roots(provider_id, options, environ))


def _split(text: str) -> Sequence[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return Path(home) if home else Path.home()


def _expand(text: str, environ: Mapping[str, str]) -> Path:
    if text == "~" or text.startswith(("~/", "~" + os.sep)):
        return _home(environ) / text[2:]
    return Path(text)
