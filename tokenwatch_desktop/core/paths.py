"""Where TokenWatch keeps its files: platformdirs directories for the app name `TokenWatch`.

Every function reads the environment at call time, so `XDG_*` and `HOME` set by a test or a
wrapper script take effect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "TokenWatch"
CONFIG_ENV = "TOKENWATCH_CONFIG"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def legacy_config() -> Path:
    return Path.home() / ".tokenwatch" / "config.yaml"


def config_path(cli_path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> Path:
    """The config file to use: `--config`, then `TOKENWATCH_CONFIG`, then the user config dir."""
    env = os.environ if environ is None else environ
    if cli_path:
        return Path(cli_path).expanduser()
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    return config_dir() / "config.yaml"
