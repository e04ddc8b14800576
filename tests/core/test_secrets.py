"""Key lookup: environment before keyring, validation, masking, keyring states, hanging keyrings."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest

from tokenwatch_desktop.core import logs, secrets
from tokenwatch_desktop.core.secrets import KeyringState

KEY = "sk-admin-CANARYsecrets0123456789"


def lookup(account_id: str, environ: dict[str, str] | None = None,
           timeout: float = secrets.KEYRING_TIMEOUT) -> secrets.KeyLookup:
    return asyncio.run(secrets.lookup_key(account_id, environ or {}, timeout))


class LockedKeyring(keyring.backend.KeyringBackend):
    priority = -10  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("the collection is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("the collection is locked")


class LockedMessageKeyring(LockedKeyring):
    """A backend that reports a locked collection with a generic error, as SecretService does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringError("Failed to unlock the item!")


class BrokenKeyring(LockedKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringError(f"D-Bus said no about {KEY}")


def plaintext_backend() -> type[keyring.backend.KeyringBackend]:
    """A stand-in for keyrings.alt's PlaintextKeyring: same module name, stores in a dict."""

    def get_password(self: Any, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self: Any, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    return type("PlaintextKeyring", (keyring.backend.KeyringBackend,), {
        "__module__": "keyrings.alt.file", "priority": 0.5, "store": {},
        "get_password": get_password, "set_password": set_password,
        "delete_password": lambda self, service, username: None,
    })


# --- lookup order and names ----------------------------------------------------------------------


def test_env_name() -> None:
    assert secrets.env_name("openai") == "TOKENWATCH_KEY_OPENAI"
    assert secrets.env_name("work-openai") == "TOKENWATCH_KEY_WORK_OPENAI"
    assert secrets.env_name("claude-code") == "TOKENWATCH_KEY_CLAUDE_CODE"


def test_env_beats_keyring(memory_keyring: Any) -> None:
    secrets.store_key("work-openai", "sk-admin-from-the-keyring-0000")

    found = lookup("work-openai", {"TOKENWATCH_KEY_WORK_OPENAI": KEY})

    assert found.key == KEY
    assert found.source == "env"
    assert found.problem is None


def test_keyring_used_without_env(memory_keyring: Any) -> None:
    secrets.store_key("openai", KEY)

    found = lookup("openai", {"TOKENWATCH_KEY_OTHER": "sk-not-this-one-0000"})

    assert found.key == KEY
    assert found.source == "keyring"
    assert found.state is KeyringState.STORED


def test_blank_env_falls_back_to_keyring(memory_keyring: Any) -> None:
    secrets.store_key("openai", KEY)

    assert lookup("openai", {"TOKENWATCH_KEY_OPENAI": "  \n"}).source == "keyring"


def test_lookup_uses_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWATCH_KEY_OPENAI", KEY)

    found = asyncio.run(secrets.lookup_key("openai"))

    assert found.key == KEY


# --- validation and masking ----------------------------------------------------------------------


def test_surrounding_whitespace_stripped(memory_keyring: Any) -> None:
    secrets.store_key("openai", f"  {KEY}\r\n")

    assert memory_keyring.secrets[("tokenwatch", "openai")] == KEY
    assert lookup("anthropic", {"TOKENWATCH_KEY_ANTHROPIC": f"\t{KEY} \n"}).key == KEY


@pytest.mark.parametrize("bad", [f"{KEY[:10]} {KEY[10:]}", f"{KEY[:10]}\n{KEY[10:]}",
                                 f"{KEY[:10]}\x00{KEY[10:]}", f"{KEY}\x7f", f"{KEY[:5]}\u2028x"])
def test_inner_whitespace_rejected(memory_keyring: Any, bad: str) -> None:
    with pytest.raises(secrets.InvalidKey) as info:
        secrets.store_key("openai", bad)

    assert KEY[:10] not in str(info.value)
    assert KEY[-6:] not in str(info.value)
    assert memory_keyring.secrets == {}


@pytest.mark.parametrize("bad", [
    *(f"{KEY[:10]}{c}{KEY[10:]}" for c in "\u200b\ufeff\u00a0\u2028\u00e9\u0430"),
    *(KEY + c for c in "\u200b\ufeff\u2060\u00e9"),  # Unicode whitespace at the ends is stripped
])
def test_invisible_or_non_ascii_rejected(memory_keyring: Any, bad: str) -> None:
    """A zero-width space from a web page, a BOM, a look-alike letter: never sendable."""
    char = next(c for c in bad if not c.isascii())
    with pytest.raises(secrets.InvalidKey) as info:
        secrets.store_key("openai", bad)

    text = str(info.value)
    assert KEY[:10] not in text
    assert KEY[-6:] not in text
    assert f"U+{ord(char):04X}" in text or "space" in text
    assert memory_keyring.secrets == {}


def test_zero_width_env_key_is_config_problem() -> None:
    found = lookup("openai", {"TOKENWATCH_KEY_OPENAI": KEY + "\u200b"})

    assert found.key is None
    assert found.problem is not None and found.problem.kind == "config"
    assert "U+200B" in found.problem.message
    assert KEY[-6:] not in found.problem.message


def test_empty_key_rejected() -> None:
    with pytest.raises(secrets.InvalidKey, match="empty"):
        secrets.clean_key(" \n")


def test_bad_env_key_is_config_problem() -> None:
    found = lookup("openai", {"TOKENWATCH_KEY_OPENAI": f"{KEY[:10]} {KEY[10:]}"})

    assert found.key is None
    assert found.problem is not None
    assert found.problem.kind == "config"
    assert "TOKENWATCH_KEY_OPENAI" in found.problem.message
    assert KEY[:10] not in found.problem.message
    assert KEY[-6:] not in found.problem.message


def test_bad_stored_key_is_config_problem(memory_keyring: Any) -> None:
    memory_keyring.secrets[("tokenwatch", "openai")] = f"{KEY}\nsecond line"

    found = lookup("openai")

    assert found.key is None
    assert found.problem is not None
    assert "tokenwatch setup openai" in found.problem.message
    assert KEY not in found.problem.message


def test_mask() -> None:
    assert secrets.mask("sk-admin-abcdefgh1234") == "sk-…1234"
    assert secrets.mask("short") == "…"
    assert secrets.mask(None) == ""


def test_lookup_repr_masks_key() -> None:
    found = lookup("openai", {"TOKENWATCH_KEY_OPENAI": KEY})

    assert KEY not in repr(found)
    assert KEY not in str(found)
    assert secrets.mask(KEY) in repr(found)


def test_found_key_is_masked_in_logs() -> None:
    logs.SECRETS.clear()

    lookup("openai", {"TOKENWATCH_KEY_OPENAI": KEY})

    assert logs.SECRETS.scrub(f"header {KEY}") == f"header {logs.masked(KEY)}"
    logs.SECRETS.clear()


# --- keyring states ------------------------------------------------------------------------------


def test_state_stored_and_not_stored(memory_keyring: Any) -> None:
    assert secrets.keyring_state("openai") is KeyringState.NOT_STORED
    missing = lookup("openai")
    assert missing.state is KeyringState.NOT_STORED
    assert missing.problem is not None
    assert missing.problem.kind == "no_key"
    assert "tokenwatch setup openai" in missing.problem.message
    assert "TOKENWATCH_KEY_OPENAI" in missing.problem.message

    secrets.store_key("openai", KEY)

    assert secrets.keyring_state("openai") is KeyringState.STORED


@pytest.mark.parametrize("backend", [LockedKeyring, LockedMessageKeyring])
def test_state_locked(backend: type[keyring.backend.KeyringBackend]) -> None:
    keyring.set_keyring(backend())

    found = lookup("openai")

    assert secrets.keyring_state("openai") is KeyringState.LOCKED
    assert found.state is KeyringState.LOCKED
    assert found.problem is not None
    assert found.problem.kind == "keyring"
    assert "unlock" in found.problem.message


def test_store_into_locked_keyring() -> None:
    keyring.set_keyring(LockedKeyring())

    with pytest.raises(secrets.KeyringProblem) as info:
        secrets.store_key("openai", KEY)

    assert info.value.state is KeyringState.LOCKED


def test_keyring_error_text_not_echoed() -> None:
    keyring.set_keyring(BrokenKeyring())

    found = lookup("openai")

    assert found.state is KeyringState.UNAVAILABLE
    assert found.problem is not None
    assert KEY not in found.problem.message
    assert "KeyringError" in found.problem.message


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring, keyring.backends.null.Keyring,
                                     plaintext_backend()])
def test_state_unavailable(backend: type[keyring.backend.KeyringBackend]) -> None:
    instance = backend()
    keyring.set_keyring(instance)

    found = lookup("openai")
    with pytest.raises(secrets.KeyringProblem) as info:
        secrets.store_key("openai", KEY)

    assert secrets.keyring_state("openai") is KeyringState.UNAVAILABLE
    assert found.state is KeyringState.UNAVAILABLE
    assert found.problem is not None
    assert found.problem.kind == "keyring"
    assert info.value.state is KeyringState.UNAVAILABLE
    assert "gnome-keyring" in info.value.message
    assert "TOKENWATCH_KEY_" in info.value.message
    assert KEY not in str(getattr(instance, "store", {}))


def test_chainer_skips_plaintext_backend(memory_keyring: Any) -> None:
    plain = plaintext_backend()()
    plain.priority = 20  # type: ignore[misc]  # ranks above the real keyring

    class Chain(keyring.backends.chainer.ChainerBackend):
        backends = [plain, memory_keyring]  # type: ignore[assignment]

    keyring.set_keyring(Chain())
    plain.set_password("tokenwatch", "openai", "sk-plaintext-copy-0000")

    secrets.store_key("openai", KEY)
    found = lookup("openai")

    assert memory_keyring.secrets[("tokenwatch", "openai")] == KEY
    assert plain.store == {("tokenwatch", "openai"): "sk-plaintext-copy-0000"}
    assert found.key == KEY


def test_delete_key(memory_keyring: Any) -> None:
    secrets.store_key("openai", KEY)

    assert secrets.delete_key("openai") is True
    assert secrets.delete_key("openai") is False
    assert memory_keyring.secrets == {}


def test_backend_name(memory_keyring: Any) -> None:
    assert secrets.backend_name().endswith("MemoryKeyring")


# --- hanging keyring -----------------------------------------------------------------------------

HANGING = """
import asyncio, sys, threading
import keyring, keyring.backend
from tokenwatch_desktop.core import secrets

class Hanging(keyring.backend.KeyringBackend):
    priority = 1
    def get_password(self, service, username):
        threading.Event().wait()  # a Secret Service that never responds
    def set_password(self, service, username, password):
        threading.Event().wait()
    def delete_password(self, service, username):
        threading.Event().wait()

keyring.set_keyring(Hanging())
found = asyncio.run(secrets.lookup_key("openai", {}, timeout=0.2))
print(found.problem.kind, found.state.value, found.problem.message)
print(secrets.keyring_state("openai", timeout=0.2).value)
try:
    secrets.store_key("openai", "sk-admin-0123456789abcdef", timeout=0.2)
except secrets.KeyringProblem as exc:
    print("store", exc.state.value, exc.timed_out)
"""


def test_hanging_keyring_times_out_and_exits() -> None:
    result = subprocess.run([sys.executable, "-c", HANGING], capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("keyring unavailable")
    assert "did not answer within 0.2 s" in lines[0]
    assert lines[1] == "unavailable"
    assert lines[2] == "store unavailable True"


class GatedKeyring(keyring.backend.KeyringBackend):
    """A keyring whose reads wait for `release`: a Secret Service stuck on a prompt."""

    # Every backend class registers itself, so a priority above zero would add this one to
    # keyring's chainer in other tests. Tests select it with set_keyring instead.
    priority = -10  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.reads += 1
        self.release.wait(30)
        return KEY if username == "openai" else None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


def test_hung_keyring_reuses_pending_lookup() -> None:
    """Refreshing every few minutes against a hung keyring must not add a thread each time."""
    backend = GatedKeyring()
    keyring.set_keyring(backend)

    async def main() -> list[secrets.KeyLookup]:
        found = [await secrets.lookup_key("openai", {}, timeout=0.01) for _ in range(8)]
        found.append(await secrets.lookup_key("anthropic", {}, timeout=0.01))
        assert backend.reads <= 2  # one thread (one read) per account, not one per lookup
        waiting = asyncio.ensure_future(secrets.lookup_key("openai", {}, timeout=30))
        await asyncio.sleep(0)
        backend.release.set()
        found.append(await waiting)
        return found

    try:
        found = asyncio.run(main())
    finally:
        backend.release.set()
    assert all(f.problem is not None and f.problem.kind == "keyring" for f in found[:9])
    assert found[-1].key == KEY
    assert found[-1].source == "keyring"
    assert backend.reads == 2
    again = lookup("openai", timeout=5)  # the finished call is not reused: a fresh read
    assert again.key == KEY
    assert backend.reads == 3


def test_call_async_passes_result() -> None:
    async def main() -> int:
        return await secrets.call_async(lambda: 42, timeout=5)

    assert asyncio.run(main()) == 42


def test_call_with_timeout_passes_keyring_problem() -> None:
    def fail() -> None:
        raise secrets.KeyringProblem(KeyringState.LOCKED, "locked")

    with pytest.raises(secrets.KeyringProblem) as info:
        secrets.call_with_timeout(fail, timeout=5)

    assert info.value.state is KeyringState.LOCKED
