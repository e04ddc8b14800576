"""Claude Code response identity: which log lines are copies of one API response, and which copy counts.

Claude Code writes one response on several lines (one per streamed content block, each repeating
the whole `usage`), and copies lines into new files when a session is resumed or branched. The
rule applied here:

1. Two copies are one response when their `message.id` is equal and their `requestId`s are equal
   or at least one is missing. When either copy is a sidechain (a sub-agent or `/btw` log that may
   replay a parent message under a new request id), `message.id` alone decides.
2. Of the copies, the non-sidechain one counts; among equals the one with the most tokens (the
   final streamed line), and on a tie the one that has `speed`.
3. The response belongs to the instant of its earliest copy.
4. Lines with no `message.id` are each a response of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenwatch_desktop.local.lines import UsageLine


@dataclass(slots=True)
class Response:
    """One API response: the copy that counts, the earliest instant of any copy, a storage id.

    `saved` is what the stored totals count for it (its earliest instant and counted copy),
    None for a response not stored yet.
    """

    message_id: str
    request_id: str | None
    any_sidechain: bool
    first_ms: int
    best: UsageLine
    row_id: int | None = None
    saved: tuple[int, UsageLine] | None = None

    @property
    def counted(self) -> tuple[int, UsageLine]:
        return (self.first_ms, self.best)

    def matches(self, line: UsageLine) -> bool:
        if line.sidechain or self.any_sidechain:
            return True
        return line.request_id is None or self.request_id is None or (
            line.request_id == self.request_id
        )

    def merge(self, line: UsageLine) -> bool:
        """Fold in another copy; return True when what the response counts changed."""
        changed = False
        earliest = line.earliest
        if earliest < self.first_ms:
            self.first_ms = earliest
            changed = True
        if self.request_id is None and line.request_id is not None and not line.sidechain:
            self.request_id = line.request_id
        self.any_sidechain = self.any_sidechain or line.sidechain
        if is_better(line, self.best):
            self.best = line
            changed = True
        return changed


def is_better(candidate: UsageLine, current: UsageLine) -> bool:
    """Whether `candidate` should replace `current` as the copy that counts."""
    if candidate.sidechain != current.sidechain:
        return not candidate.sidechain
    if candidate.total != current.total:
        return candidate.total > current.total
    return candidate.fast and not current.fast


def new_response(line: UsageLine) -> Response:
    assert line.message_id is not None
    return Response(
        message_id=line.message_id,
        request_id=None if line.sidechain else line.request_id,
        any_sidechain=line.sidechain,
        first_ms=line.earliest,
        best=line,
    )


class ResponseBook:
    """Responses seen so far, by `message.id` (usually one response per id)."""

    def __init__(self) -> None:
        self.by_id: dict[str, list[Response]] = {}
        #: Responses whose request id or sidechain mark changed while what they count did not,
        #: so `add` returned None for them. A caller that writes rows early drains this list.
        self.relabeled: list[Response] = []

    def known(self, message_id: str) -> bool:
        return message_id in self.by_id

    def load(self, response: Response) -> None:
        """Add a response read back from storage."""
        response.saved = response.counted
        self.by_id.setdefault(response.message_id, []).append(response)

    def add(self, line: UsageLine) -> Response | None:
        """Record one copy; return its response when what that counts changed, else None."""
        assert line.message_id is not None
        group = self.by_id.get(line.message_id)
        if group is None:
            response = new_response(line)
            self.by_id[line.message_id] = [response]
            return response
        for response in group:
            if response.matches(line):
                labels = (response.request_id, response.any_sidechain)
                if response.merge(line):
                    return response
                if labels != (response.request_id, response.any_sidechain):
                    self.relabeled.append(response)
                return None
        response = new_response(line)
        group.append(response)
        return response
