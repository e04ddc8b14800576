"""A keyring backend for self-check subprocesses: in memory, like a working Secret Service.

Selected with `PYTHON_KEYRING_BACKEND=tests.ui.keyring_standin.StandInKeyring`. Its priority
is below zero, so importing this module never makes keyring pick it on its own.
"""

from __future__ import annotations

import keyring.backend
import keyring.errors


class StandInKeyring(keyring.backend.KeyringBackend):
    priority = -10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)
