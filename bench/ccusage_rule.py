"""Recount a Claude Code tree the way ccusage 20.0.24 counts it, to explain every difference.

What 20.0.24 keys on was found by running it on small crafted trees (bench/out has no source of
it: the npm package only starts a native binary):

- a line with `message.id` and `requestId` is one copy of the response (message id, request id);
- a line with `message.id` but no `requestId` is keyed on (message id, timestamp), so the
  streamed copies of one response, written at different instants, each count;
- a sidechain copy (a sub-agent line, a `/btw` replay, a nested progress record) joins an
  earlier response with the same message id whatever its request id, and so does any copy
  whose message id already has a sidechain response;
- of the copies it keeps the non-sidechain one, then the one with the most tokens, and files it
  under that copy's day (TokenWatch: the earliest copy's day);
- lines without `message.id` each count; `<synthetic>` lines are counted (TokenWatch skips
  them; they carry no tokens).

On the generated 500 MB tree this recount gives ccusage's four token totals exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any


def read_lines(tree: Path) -> list[Any]:
    """Every usage line of the tree, in scan order, through TokenWatch's parser."""
    from tokenwatch_desktop.local import claude_lines, scanner
    from tokenwatch_desktop.local.lines import LineError

    found = []
    for path in scanner.find_files([tree / "claude" / "projects"], "claude-code"):
        for raw in scanner._candidate_lines(path.read_bytes(), "claude-code"):
            try:
                line = claude_lines.parse_line(raw)
            except LineError:
                continue
            if line is not None:
                found.append(line)
    return found


def kept_by_ccusage(lines: list[Any]) -> list[Any]:
    """The copies ccusage 20.0.24 counts, one per response as it sees responses."""
    from tokenwatch_desktop.local.dedupe import is_better

    kept: list[list[Any]] = []  # [best copy, any copy a sidechain]
    by_key: dict[tuple[Any, ...], int] = {}
    by_message: dict[str, list[int]] = defaultdict(list)
    loose = []
    for line in lines:
        if line.message_id is None:
            loose.append(line)
            continue
        key = (line.message_id, line.request_id if line.request_id is not None else line.at_ms)
        index = by_key.get(key)
        if index is None:
            index = next((other for other in by_message[line.message_id]
                          if line.sidechain or kept[other][1]), None)
        if index is None:
            by_key[key] = len(kept)
            by_message[line.message_id].append(len(kept))
            kept.append([line, line.sidechain])
            continue
        if is_better(line, kept[index][0]):
            kept[index][0] = line
        kept[index][1] = kept[index][1] or line.sidechain
    return [entry[0] for entry in kept] + loose


def explain(lines: list[Any], kept: list[Any]) -> dict[str, Any]:
    """Where ccusage counts a response more than once, grouped by why, with the tokens."""
    with_request_id: dict[str, bool] = defaultdict(bool)
    sidechain: dict[str, bool] = defaultdict(bool)
    for line in lines:
        if line.message_id is not None:
            with_request_id[line.message_id] |= line.request_id is not None
            sidechain[line.message_id] |= line.sidechain
    groups: dict[str, list[Any]] = defaultdict(list)
    for line in kept:
        if line.message_id is not None:
            groups[line.message_id].append(line)
    causes: dict[str, dict[str, int]] = {}
    for message_id, copies in groups.items():
        if len(copies) < 2:
            continue
        cause = ("no copy has requestId: each copy at its own instant counts"
                 if not with_request_id[message_id] else
                 "some copies lack requestId: each of those counts apart")
        if sidechain[message_id]:
            cause += " (response also replayed by /btw)"
        best = max(copies, key=lambda line: (not line.sidechain, line.total))
        row = causes.setdefault(cause, dict.fromkeys(
            ("responses", "extra_counted", "input", "cache_read", "cache_write", "output"), 0))
        row["responses"] += 1
        for copy in copies:
            if copy is not best:
                row["extra_counted"] += 1
                for name, value in tokens(copy).items():
                    row[name] += value
    return causes


def tokens(line: Any) -> dict[str, int]:
    return {"input": line.input, "cache_read": line.cache_read,
            "cache_write": line.cache_write_5m + line.cache_write_1h, "output": line.output}


def total_tokens(lines: list[Any]) -> dict[str, int]:
    sums = dict.fromkeys(("input", "cache_read", "cache_write", "output"), 0)
    for line in lines:
        for name, value in tokens(line).items():
            sums[name] += value
    return sums


def model_costs(binary: Path, tree: Path, kept: list[Any]) -> dict[str, Any]:
    """Per model: ccusage in its default mode (a line's `costUSD` when it has one), ccusage
    computing every line, and TokenWatch's prices on the copies ccusage keeps."""
    from tokenwatch_desktop.core.pricing import PriceTable

    auto = _ccusage_costs(binary, tree, "auto")
    calculate = _ccusage_costs(binary, tree, "calculate")
    table = PriceTable()
    ours: dict[str, Decimal] = defaultdict(Decimal)
    for line in kept:
        cost = table.cost("anthropic", line.model, line.at_ms, line.counts(), line.fast)
        ours[line.model or ""] += cost or 0
    return {model: {"ccusage_auto": round(auto.get(model, 0.0), 2),
                    "ccusage_calculate": round(calculate.get(model, 0.0), 2),
                    "costUSD_effect": round(auto.get(model, 0.0) - calculate.get(model, 0.0), 2),
                    "tokenwatch_prices_on_ccusage_tokens": format(round(ours[model], 2), "f")}
            for model in sorted(set(auto) | set(calculate))}


def _ccusage_costs(binary: Path, tree: Path, mode: str) -> dict[str, float]:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(tree / "claude"))
    done = subprocess.run([str(binary), "daily", "--offline", "--json", "--mode", mode],
                          env=env, capture_output=True, check=True)
    costs: dict[str, float] = defaultdict(float)
    for day in json.loads(done.stdout)["daily"]:
        for model in day["modelBreakdowns"]:
            costs[model["modelName"]] += model["cost"]
    return costs


def recount(binary: Path, tree: Path) -> dict[str, Any]:
    lines = read_lines(tree)
    kept = kept_by_ccusage(lines)
    return {"responses": len(kept), "tokens": total_tokens(kept),
            "extra_counts_by_cause": explain(lines, kept),
            "cost_per_model": model_costs(binary, tree, kept)}
