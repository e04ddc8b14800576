"""Error kinds shared by every provider, and the exception that carries one."""

from __future__ import annotations

import enum

from tokenwatch_desktop.core.records import ProblemInfo


class ErrorKind(enum.StrEnum):
    """Why an account has no figures, or only some (the contract's error kinds)."""

    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    BILLING = "billing"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    BAD_RESPONSE = "bad_response"
    INCOMPLETE = "incomplete"
    NO_KEY = "no_key"
    KEYRING = "keyring"
    CONFIG = "config"


class TokenWatchError(Exception):
    """Base of every error this package raises on purpose."""


class ProviderError(TokenWatchError):
    """A failed call or an unusable answer, for one account.

    The message must already say what to do next and must never contain a key.
    `retry_after` is the provider's requested wait in seconds, when it sent one.
    """

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    def as_problem(self) -> ProblemInfo:
        return ProblemInfo(self.kind.value, self.message)

    def __repr__(self) -> str:
        return f"ProviderError({self.kind.value!r}, {self.message!r})"


class ParseError(ProviderError):
    """A complete body whose shape or values are wrong: always `bad_response`."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.BAD_RESPONSE, message)


class UsageError(TokenWatchError):
    """Invalid command-line input: an unknown provider, a bad period or date (exit status 2)."""
