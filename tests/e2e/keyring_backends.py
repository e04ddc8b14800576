"""Keyring backends for subprocess tests, chosen with `PYTHON_KEYRING_BACKEND`."""

from __future__ import annotations

import threading

import keyring.backend
import keyring.errors


class HangingKeyring(keyring.backend.KeyringBackend):
    """A Secret Service that never answers: every call blocks forever."""

    priority = -10  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        threading.Event().wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        threading.Event().wait()

    def delete_password(self, service: str, username: str) -> None:
        threading.Event().wait()


class ProcessKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives only as long as the process, so nothing reaches a file."""

    priority = -10  # type: ignore[assignment]
    _store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._store.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)
