"""API keys: the lookup order (environment, then the OS keyring), validation, masking.

Keyring calls run in daemon threads with a timeout. A Secret Service that never responds would
otherwise freeze the event loop. An executor thread stuck in it would be joined at interpreter
exit and hang the process, but an abandoned daemon thread does neither.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tokenwatch_desktop.core import logs
from tokenwatch_desktop.core.errors import ErrorKind
from tokenwatch_desktop.core.records import ProblemInfo

log = logging.getLogger(__name__)

SERVICE = "tokenwatch"
KEYRING_TIMEOUT = 3.0
ENV_PREFIX = "TOKENWATCH_KEY_"
# Backends that keep no secret safely: keyring's fail and null backends, and keyrings.alt's
# file backends (plaintext, or encrypted with a password typed at a console prompt).
_PLAINTEXT_BACKENDS = ("keyrings.alt.file", "keyrings.alt.pyfs", "keyring.backends.fail",
                       "keyring.backends.null")

T = TypeVar("T")


class KeyringState(enum.StrEnum):
    STORED = "stored"
    NOT_STORED = "not_stored"
    LOCKED = "locked"
    UNAVAILABLE = "unavailable"


class KeyringProblem(Exception):
    """The keyring could not be used: locked, missing, plaintext-only, or too slow to respond."""

    def __init__(self, state: KeyringState, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.state = state
        self.message = message
        self.timed_out = timed_out


class InvalidKey(ValueError):
    """A key that cannot be stored; the message never contains the key."""


@dataclass(frozen=True)
class KeyLookup:
    """Result of a key lookup: the key and its source. `__repr__` shows the key masked only."""

    key: str | None
    source: str  # "env", "keyring" or "none"
    state: KeyringState | None = None
    problem: ProblemInfo | None = None

    def __repr__(self) -> str:
        return f"KeyLookup(key={mask(self.key)!r}, source={self.source!r}, state={self.state})"


def env_name(account_id: str) -> str:
    """`TOKENWATCH_KEY_<ID>`: the account id upper-cased, `-` turned into `_`."""
    return ENV_PREFIX + account_id.upper().replace("-", "_")


def clean_key(raw: str) -> str:
    """Strip surrounding whitespace; reject empty keys and characters a header cannot carry.

    Inner whitespace, control and format characters (a zero-width space from a web page, a
    byte-order mark) and any other non-ASCII character are rejected: HTTP headers carry ASCII
    only, so such a key could never be sent. The message names the character, never the key.
    """
    key = raw.strip()
    if not key:
        raise InvalidKey("the key is empty; paste the whole key")
    for char in key:
        if char.isspace() or ord(char) < 32 or ord(char) == 127:
            raise InvalidKey(
                "the key contains a space, line break or control character inside it; "
                "copy it again from the provider's console"
            )
        if not char.isascii() or not char.isprintable():
            kind = "an invisible formatting" if unicodedata.category(char) == "Cf" \
                else "a non-ASCII"
            raise InvalidKey(
                f"the key contains {kind} character (U+{ord(char):04X}), which API keys never "
                "have; copy it again from the provider's console, or type it"
            )
    return key


def mask(key: str | None) -> str:
    """Show a key as its first three and last four characters (`sk-…abcd`); short keys as `…`."""
    if not key:
        return ""
    if len(key) < 12:
        return "…"
    return f"{key[:3]}…{key[-4:]}"


def backend_name() -> str:
    """The active keyring backend's class path, for status and self-check lines.

    For keyring's chainer, the chained backends are named instead, since "ChainerBackend" does
    not tell where keys go.
    """
    import keyring
    from keyring.backends import chainer

    backend = keyring.get_keyring()
    if isinstance(backend, chainer.ChainerBackend) and backend.backends:
        return ", ".join(_class_path(b) for b in backend.backends)
    return _class_path(backend)


def _class_path(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def check_backend() -> None:
    """Raise `KeyringProblem` when no real keyring is available (including plaintext files)."""
    usable_backends()


def usable_backends() -> list[Any]:
    """Return the active keyring backends that keep secrets safely, best first.

    Keyring's chainer would read from and write to a plaintext backend when one ranks above
    the real keyring, so reads and writes go to these backends directly instead.
    Raises `KeyringProblem` when there is none.
    """
    import keyring
    from keyring.backends import chainer

    backend = keyring.get_keyring()
    backends = backend.backends if isinstance(backend, chainer.ChainerBackend) else [backend]
    usable = [b for b in backends if not _is_plaintext(b)]
    if not usable:
        raise KeyringProblem(KeyringState.UNAVAILABLE, _no_keyring_message(backend))
    return usable


def _is_plaintext(backend: Any) -> bool:
    kind = type(backend)
    return kind.__module__.startswith(_PLAINTEXT_BACKENDS) or "plaintext" in kind.__name__.lower()


def _no_keyring_message(backend: Any) -> str:
    return (
        f"no usable keyring ({type(backend).__module__}.{type(backend).__qualname__}); "
        "keys are never stored in plaintext. Install and unlock a Secret Service provider "
        "such as gnome-keyring or KeePassXC, or set the key in a TOKENWATCH_KEY_<ACCOUNT> "
        "environment variable"
    )


def _classify(exc: Exception) -> KeyringProblem:
    name = type(exc).__name__
    text = str(exc)
    if "Locked" in name or "locked" in text.lower() or "unlock" in text.lower():
        return KeyringProblem(
            KeyringState.LOCKED,
            "the keyring is locked; unlock it (log in to the desktop session or open the "
            "keyring manager) and refresh",
        )
    return KeyringProblem(
        KeyringState.UNAVAILABLE,
        f"the keyring failed ({name}); check that a Secret Service provider is running, or set "
        "the key in a TOKENWATCH_KEY_<ACCOUNT> environment variable",
    )


def call_with_timeout(func: Callable[[], T], timeout: float = KEYRING_TIMEOUT) -> T:
    """Run a blocking keyring call in a daemon thread; raise `KeyringProblem` on timeout."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc
        done.set()

    threading.Thread(target=run, name="keyring-call", daemon=True).start()
    if not done.wait(timeout):
        raise _timed_out(timeout)
    if "error" in box:
        error = box["error"]
        if isinstance(error, KeyringProblem):
            raise error
        if isinstance(error, Exception):
            raise _classify(error) from None
        raise error
    result: T = box["value"]
    return result


#: Keyring calls still running, by their `shared` name, with the futures waiting on each.
_SHARED: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]] = {}
_SHARED_LOCK = threading.Lock()


async def call_async(func: Callable[[], T], timeout: float = KEYRING_TIMEOUT, *,
                     shared: str | None = None) -> T:
    """Like `call_with_timeout`, awaited: the event loop keeps running while the keyring works.

    With `shared`, a call made while an earlier one of that name still runs (a keyring that
    hangs) starts no new thread: it waits, with its own timeout, for the earlier call's result.
    So a hung keyring costs one thread per name, however often the app requests it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    waiters = [(loop, future)]
    start = True
    if shared is not None:
        with _SHARED_LOCK:
            running = _SHARED.get(shared)
            if running is None:
                _SHARED[shared] = waiters
            else:
                start = False
                running[:] = [w for w in running if not w[1].done()]
                running.append((loop, future))
        if not start:
            log.debug("a keyring call for %s is still running; waiting for its result", shared)
    if start:
        threading.Thread(target=_run_call, args=(func, shared, waiters), name="keyring-call",
                         daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        raise _timed_out(timeout) from None


def _run_call(func: Callable[[], Any], shared: str | None,
              waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]) -> None:
    """Run `func` in the keyring thread, then pass its outcome to every waiting future."""
    try:
        value, error = func(), None
    except BaseException as exc:  # noqa: BLE001 - handed to the awaiting tasks
        value = None
        error = _classify(exc) if isinstance(exc, Exception) and not isinstance(
            exc, KeyringProblem) else exc
    if shared is not None:
        with _SHARED_LOCK:
            _SHARED.pop(shared, None)  # later calls start afresh; `waiters` no longer grows
    for loop, future in waiters:
        _call_soon(loop, _finish, future, value, error)


def _finish(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return  # the caller timed out or was cancelled
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _timed_out(timeout: float) -> KeyringProblem:
    return KeyringProblem(
        KeyringState.UNAVAILABLE,
        f"the keyring did not answer within {timeout:g} s; check that the Secret Service "
        "is running and not waiting on a prompt, or use TOKENWATCH_KEY_<ACCOUNT>",
        timed_out=True,
    )


def _call_soon(loop: asyncio.AbstractEventLoop, *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(*args)
    except RuntimeError:
        pass  # the loop closed while the keyring call ran; no caller waits for the result


def read_stored_key(account_id: str) -> str | None:
    """Read an account's key from the usable keyring backends, skipping plaintext ones.

    It blocks as long as the keyring does: call it through `call_async` or `call_with_timeout`.
    """
    return _read_stored(account_id)


def _read_stored(account_id: str) -> str | None:
    for backend in usable_backends():
        value: str | None = backend.get_password(SERVICE, account_id)
        if value is not None:
            return value
    return None


async def lookup_key(
    account_id: str, environ: Mapping[str, str] | None = None, timeout: float = KEYRING_TIMEOUT
) -> KeyLookup:
    """Find an account's key: `TOKENWATCH_KEY_<ID>` first, then the keyring (off the loop).

    A key that is found is registered with `core.logs`, so log output masks it from then on.
    """
    env = os.environ if environ is None else environ
    from_env = env.get(env_name(account_id), "")
    if from_env.strip():
        return _checked_lookup(account_id, from_env, "env")
    try:
        stored = await call_async(lambda: _read_stored(account_id), timeout,
                                  shared=f"read {account_id}")
    except KeyringProblem as exc:
        log.warning("keyring lookup for account %s failed: %s", account_id, exc.state.value)
        return KeyLookup(None, "none", exc.state,
                         ProblemInfo(ErrorKind.KEYRING.value, f"account {account_id}: {exc.message}."))
    if stored and stored.strip():
        return _checked_lookup(account_id, stored, "keyring")
    return KeyLookup(None, "none", KeyringState.NOT_STORED, ProblemInfo(
        ErrorKind.NO_KEY.value,
        f"account {account_id} has no key; store one with `tokenwatch setup {account_id}` or set "
        f"{env_name(account_id)}.",
    ))


def _checked_lookup(account_id: str, raw: str, source: str) -> KeyLookup:
    """Strip and check a found key. A key with inner whitespace or control characters would
    make the HTTP library raise an error that contains the header, so it is not used."""
    logs.register_secret(raw.strip())
    state = KeyringState.STORED if source == "keyring" else None
    try:
        key = clean_key(raw)
    except InvalidKey as exc:
        where = (f"the environment variable {env_name(account_id)}" if source == "env"
                 else "the key stored in the keyring")
        fix = (f"set {env_name(account_id)} again" if source == "env"
               else f"store it again with `tokenwatch setup {account_id}`")
        return KeyLookup(None, source, state, ProblemInfo(
            ErrorKind.CONFIG.value, f"account {account_id}: {where} is invalid because {exc}; {fix}."))
    return KeyLookup(key, source, state)


def store_key(account_id: str, raw: str, timeout: float = KEYRING_TIMEOUT) -> str:
    """Validate and save a key in the keyring; return it masked. Raises `InvalidKey`, `KeyringProblem`."""
    key = clean_key(raw)
    logs.register_secret(key)

    def save() -> None:
        for backend in usable_backends():
            try:
                backend.set_password(SERVICE, account_id, key)
                return
            except NotImplementedError:
                continue
        raise KeyringProblem(KeyringState.UNAVAILABLE, "no keyring backend can store keys; "
                             "use TOKENWATCH_KEY_<ACCOUNT> environment variables")

    call_with_timeout(save, timeout)
    log.info("stored a key for account %s in the keyring", account_id)
    return mask(key)


def delete_key(account_id: str, timeout: float = KEYRING_TIMEOUT) -> bool:
    """Remove an account's key from every usable keyring backend; False when none had one."""
    from keyring.errors import PasswordDeleteError

    def remove() -> bool:
        found = False
        for backend in usable_backends():
            try:
                backend.delete_password(SERVICE, account_id)
                found = True
            except (PasswordDeleteError, NotImplementedError):
                continue
        return found

    return call_with_timeout(remove, timeout)


def keyring_state(account_id: str, timeout: float = KEYRING_TIMEOUT) -> KeyringState:
    """Stored, not stored, locked or unavailable, without returning the key."""
    try:
        stored = call_with_timeout(lambda: _read_stored(account_id), timeout)
    except KeyringProblem as exc:
        return exc.state
    return KeyringState.STORED if stored else KeyringState.NOT_STORED
