"""Compare TokenWatch's Claude Code scan with ccusage on one generated 500 MB log tree.

Run from the repository root: `python bench/scan_vs_ccusage.py [--size 500MB] [--runs 5]`.
It installs ccusage 20.0.24 under bench/out/ccusage (20.0.26 ships no linux-x64 binary),
generates the tree once under bench/out/, then measures (medians of --runs):

- ccusage's whole run: `ccusage daily --offline --json` with CLAUDE_CONFIG_DIR on the tree;
- TokenWatch's scan in-process: a first scan into a fresh store (and one without a store);
- TokenWatch's refresh with nothing new, in-process, on the store of the first scan (five
  after each first scan);
- the `tokenwatch claude-code --json` command, cold: a fresh data directory each run.

Each run does one of each in turn, so load from other work on the machine falls on all alike.

It then compares token totals and per-model costs, and explains each difference by recounting
the tree with ccusage 20.0.24's identity rule (see ccusage_rule.py) and pricing that recount
with TokenWatch's prices next to ccusage's own two cost modes. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccusage_rule

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CCUSAGE_VERSION = "20.0.24"
END = date(2026, 3, 31)
DAYS = 120
#: Sessions that start near END run on past it; every report covers them too.
LAST = date(2026, 5, 31)


def install_ccusage() -> Path:
    binary = OUT / "ccusage" / "node_modules" / ".bin" / "ccusage"
    if not binary.exists():
        subprocess.run(["npm", "install", "--prefix", str(OUT / "ccusage"),
                        f"ccusage@{CCUSAGE_VERSION}"], check=True)
    return binary


def ensure_tree(size: int) -> tuple[Path, dict[str, Any]]:
    from tokenwatch_desktop.local.generate import generate

    tree = OUT / f"tree-{size}"
    summary_file = OUT / f"tree-{size}.json"
    if not summary_file.exists():
        summary = generate(tree, size, ("claude-code",), seed=7, end=END, days=DAYS)
        summary_file.write_text(json.dumps(summary.__dict__))
    return tree, json.loads(summary_file.read_text())


def timed(command: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=True)
    return time.perf_counter() - started, done.stdout


def run_ccusage(binary: Path, tree: Path) -> tuple[float, dict[str, Any]]:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(tree / "claude"))
    elapsed, output = timed([str(binary), "daily", "--offline", "--json"], env)
    return elapsed, json.loads(output)


def _request(data_dir: Path | None, tree: Path) -> Any:
    from tokenwatch_desktop.core.periods import DayBoundary, Period
    from tokenwatch_desktop.core.settings import AccountConfig
    from tokenwatch_desktop.providers.base import FetchRequest

    first = date.fromordinal(END.toordinal() - DAYS - 1)
    return FetchRequest(
        account=AccountConfig("claude-code", "claude-code",
                              options={"paths": [str(tree / "claude" / "projects")]}),
        key=None, period=Period("custom", first, LAST, DayBoundary.UTC),
        http=None,  # type: ignore[arg-type]  # local accounts make no HTTP calls
        now=datetime.now(UTC), data_dir=data_dir)


def run_in_process(tree: Path, refreshes: int) -> dict[str, Any]:
    """One first scan into a fresh store, then `refreshes` refreshes with nothing new."""
    from tokenwatch_desktop.local import account, claude_code

    roots = [tree / "claude" / "projects"]
    warm = []
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        request = _request(Path(folder), tree)
        started = time.perf_counter()
        data = account.refresh(request, claude_code.AGENT, roots)
        cold = time.perf_counter() - started
        for _ in range(refreshes):
            started = time.perf_counter()
            account.refresh(request, claude_code.AGENT, roots)
            warm.append(time.perf_counter() - started)
        account.LEDGERS.close_all()
    return {"cold": cold, "nothing_new": warm, "data": data}


def run_no_store(tree: Path) -> float:
    from tokenwatch_desktop.local import account, claude_code

    started = time.perf_counter()
    account.refresh(_request(None, tree), claude_code.AGENT, [tree / "claude" / "projects"])
    return time.perf_counter() - started


def run_cli(tree: Path) -> tuple[float, dict[str, Any]]:
    command = str(Path(sys.executable).with_name("tokenwatch"))
    first = date.fromordinal(END.toordinal() - DAYS - 1)
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(json.dumps({"version": 1, "accounts": [{
            "id": "claude-code", "provider": "claude-code",
            "paths": [str(tree / "claude" / "projects")]}]}))
        env = dict(os.environ, HOME=folder, XDG_DATA_HOME=f"{folder}/data",
                   XDG_CONFIG_HOME=f"{folder}/config", XDG_CACHE_HOME=f"{folder}/cache",
                   XDG_STATE_HOME=f"{folder}/state")
        elapsed, output = timed([command, "claude-code", "--json", "--config", str(config),
                                 "--since", first.isoformat(), "--until", LAST.isoformat()], env)
    return elapsed, json.loads(output)


def compare(ccusage: dict[str, Any], data: Any) -> dict[str, Any]:
    totals = ccusage["totals"]
    ours = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    model_cost: dict[str, Decimal] = defaultdict(Decimal)
    for row in data.usage:
        ours["input"] += row.tokens.input
        ours["cache_read"] += row.tokens.cached_input
        ours["cache_write"] += row.tokens.cache_write
        ours["output"] += row.tokens.output
        model_cost[row.model] += row.cost or 0
    theirs_cost: dict[str, float] = defaultdict(float)
    for day in ccusage["daily"]:
        for model in day["modelBreakdowns"]:
            theirs_cost[model["modelName"]] += model["cost"]
    return {
        "ccusage_tokens": {"input": totals["inputTokens"],
                           "cache_read": totals["cacheReadTokens"],
                           "cache_write": totals["cacheCreationTokens"],
                           "output": totals["outputTokens"]},
        "tokenwatch_tokens": ours,
        "cost_per_model": {name: {"tokenwatch": format(model_cost.get(name, Decimal(0)), "f"),
                                  "ccusage": round(theirs_cost.get(name, 0.0), 6)}
                           for name in sorted(set(model_cost) | set(theirs_cost))},
        "ccusage_total_cost": totals["totalCost"],
        "tokenwatch_total_cost": format(sum(model_cost.values(), Decimal(0)), "f"),
    }


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main() -> int:
    from tokenwatch_desktop.local.generate import parse_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("500MB"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    binary = install_ccusage()
    tree, summary = ensure_tree(args.size)
    times: dict[str, list[float]] = defaultdict(list)
    ccusage: dict[str, Any] = {}
    cli: dict[str, Any] = {}
    data = None
    # Interleaved, so a busy spell on the shared machine hits both tools alike.
    for _ in range(args.runs):
        elapsed, ccusage = run_ccusage(binary, tree)
        times["ccusage"].append(elapsed)
        local = run_in_process(tree, refreshes=5)
        times["scan"].append(local["cold"])
        times["nothing_new"].extend(local["nothing_new"])
        data = local["data"]
        times["no_store"].append(run_no_store(tree))
        elapsed, cli = run_cli(tree)
        times["cli"].append(elapsed)
    base = median(times["ccusage"])
    result = {
        "tree": {"bytes": summary["bytes"], "files": summary["files"], "generator": summary},
        "seconds": {"ccusage_run": base, "scan_in_process": median(times["scan"]),
                    "scan_in_process_no_store": median(times["no_store"]),
                    "refresh_nothing_new": median(times["nothing_new"]),
                    "cli_cold_run": median(times["cli"])},
        "ratios": {"scan_vs_ccusage": round(median(times["scan"]) / base, 2),
                   "cli_cold_vs_ccusage": round(median(times["cli"]) / base, 2),
                   "ccusage_vs_refresh": round(base / median(times["nothing_new"]), 1)},
        "raw_seconds": {name: [round(value, 4) for value in values]
                        for name, values in times.items()},
        "comparison": compare(ccusage, data),
        "ccusage_20_0_24_recount": ccusage_rule.recount(binary, tree),
        "cli_total_local_estimate": cli["total"]["local_estimate"],
    }
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
