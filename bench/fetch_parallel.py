"""Benchmark whether the `tokenwatch` command fetches accounts and period windows in parallel.

Starts the loopback fake (OpenAI and Anthropic) with a fixed latency per request, then times
the installed `tokenwatch` console script on fresh data directories:

* `all` ÷ the slower provider alone (30d): near 1 when the two accounts run concurrently;
* `all --period 90d` ÷ `all --period 30d`: near 1 when the 31-day windows run concurrently.

Every run must exit 0 and report each account's cost equal to the fake's expected Decimal.
Usage: `python bench/fetch_parallel.py [--runs 5] [--latency 0.2] [--tokenwatch PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenwatch_desktop.providers.fake import FakeWorld
from tokenwatch_desktop.providers.fake import anthropic as fake_anthropic
from tokenwatch_desktop.providers.fake import openai as fake_openai
from tokenwatch_desktop.providers.fake.server import LoopbackServer

KEYS = {"openai": "sk-admin-bench-organization", "anthropic": "sk-ant-admin01-bench-organization"}
EXPECTED = {"openai": fake_openai.expected_costs, "anthropic": fake_anthropic.expected_costs}
TARGET_ALL = 1.10
TARGET_90D = 1.25


@dataclass
class Case:
    name: str
    target: str
    period: str


CASES = (
    Case("openai 30d", "openai", "30d"),
    Case("anthropic 30d", "anthropic", "30d"),
    Case("all 30d", "all", "30d"),
    Case("all 90d", "all", "90d"),
)


def write_config(folder: Path, urls: dict[str, str]) -> Path:
    """Write a config with the two fake accounts (JSON is valid YAML)."""
    accounts = [{"id": name, "provider": name, "base_url": urls[name]} for name in KEYS]
    path = folder / "config.yaml"
    path.write_text(json.dumps({"version": 1, "accounts": accounts}))
    return path


def fresh_env(folder: Path) -> dict[str, str]:
    """Build an environment with a new home, new XDG directories and both accounts' keys."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TOKENWATCH_", "XDG_")) and name not in ("CLAUDE_CONFIG_DIR",
                                                                           "CODEX_HOME")}
    home = folder / "home"
    for name, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                      ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        (home / sub).mkdir(parents=True)
        env[name] = str(home / sub)
    env["HOME"] = str(home)
    env.update({f"TOKENWATCH_KEY_{name.upper()}": key for name, key in KEYS.items()})
    return env


def run_once(tokenwatch: str, config: Path, case: Case, world: FakeWorld) -> float:
    """Run one command on fresh directories; return its wall time after checking its figures."""
    with tempfile.TemporaryDirectory(prefix="tw-bench-") as temp:
        env = fresh_env(Path(temp))
        command = [tokenwatch, case.target, "--period", case.period, "--json",
                   "--config", str(config)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{case.name}: exit {done.returncode}\n{done.stderr[-2000:]}")
    check_figures(case, json.loads(done.stdout), world)
    return elapsed


def check_figures(case: Case, document: dict[str, Any], world: FakeWorld) -> None:
    """Check that each account is ok and its cost equals the fake's expected dollars."""
    period = document["period"]
    first, last = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
    accounts = {entry["id"]: entry for entry in document["accounts"]}
    wanted = list(KEYS) if case.target == "all" else [case.target]
    if sorted(accounts) != sorted(wanted):
        raise SystemExit(f"{case.name}: accounts {sorted(accounts)}, expected {sorted(wanted)}")
    for name in wanted:
        entry = accounts[name]
        expected = sum(EXPECTED[name](world, KEYS[name], first, last).values(), Decimal(0))
        if entry["status"] != "ok" or Decimal(entry["cost"]) != expected:
            raise SystemExit(f"{case.name}: {name} is {entry['status']} with cost "
                             f"{entry['cost']}, expected ok with {expected}")


def measure(tokenwatch: str, runs: int, latency: float) -> dict[str, float]:
    world = FakeWorld(today=datetime.now(UTC).date(), latency=latency)
    with LoopbackServer(world) as server, tempfile.TemporaryDirectory() as temp:
        config = write_config(Path(temp), server.base_urls())
        times: dict[str, list[float]] = {case.name: [] for case in CASES}
        # Round-robin over the cases, so a slow spell of the machine hits every case alike.
        for _ in range(runs):
            for case in CASES:
                times[case.name].append(run_once(tokenwatch, config, case, world))
        medians = {name: statistics.median(found) for name, found in times.items()}
        for name, found in times.items():
            print(f"{name:<14} median {medians[name]:.3f} s  "
                  f"runs {' '.join(f'{t:.3f}' for t in found)}")
        requests = {name: world.counters[f"{name}:requests"] for name in KEYS}
        print(f"requests served: {requests}")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median taken)")
    parser.add_argument("--latency", type=float, default=0.2,
                        help="seconds the fake waits before each response")
    parser.add_argument("--tokenwatch", default=shutil.which("tokenwatch")
                        or str(Path(sys.executable).with_name("tokenwatch")),
                        help="path of the tokenwatch console script")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    medians = measure(args.tokenwatch, args.runs, args.latency)
    slower = max(medians["openai 30d"], medians["anthropic 30d"])
    all_ratio = medians["all 30d"] / slower
    period_ratio = medians["all 90d"] / medians["all 30d"]
    print(f"all / slower provider alone: {all_ratio:.3f} (target <= {TARGET_ALL})")
    print(f"90d / 30d:                   {period_ratio:.3f} (target <= {TARGET_90D})")
    if all_ratio > TARGET_ALL or period_ratio > TARGET_90D:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
