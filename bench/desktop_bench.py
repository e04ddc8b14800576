"""Benchmark tokenwatch-desktop against a bare PySide6 tray app (bench/bare_tray.py).

    python bench/desktop_bench.py [--runs 7] [--idle 60]

Measures, each process started the same way (`python <script>` in a fresh temporary home):
- cold start: spawn to tray icon shown, median over --runs, and its ratio to the bare app;
- peak RSS (ru_maxrss) after one refresh of the billed demo accounts, ratio to the bare app
  after its tray shows;
- CPU time (user + system) of the app over --idle seconds with nothing due.
Runs under Xvfb with trayer as the tray host when both are installed and DISPLAY is unset;
otherwise on the current display (or offscreen, where there is no tray and the app shows its
window instead, which is not the path being measured).

The app side runs bench/desktop_hook.py (TOKENWATCH_DESKTOP_HOOK), kept apart and small so
that loading it adds little to the app's start-up time.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_once(script: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        out = Path(home) / "result.json"
        child_env = dict(env, HOME=home, XDG_CONFIG_HOME=f"{home}/.config",
                         XDG_DATA_HOME=f"{home}/.local/share", XDG_STATE_HOME=f"{home}/.state",
                         XDG_CACHE_HOME=f"{home}/.cache", XDG_RUNTIME_DIR=home,
                         BENCH_OUT=str(out))
        started = time.time()
        subprocess.run([sys.executable, *script], env=child_env, cwd=ROOT, check=True,
                       timeout=timeout, stdout=subprocess.DEVNULL)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["start_s"] = result["tray_shown"] - started
    return result


def start_display() -> tuple[dict[str, str], list[subprocess.Popen[bytes]]]:
    """Xvfb on a free display plus trayer, when installed and no display is set."""
    env = dict(os.environ)
    if env.get("DISPLAY") or not (shutil.which("Xvfb") and shutil.which("trayer")):
        env.setdefault("QT_QPA_PLATFORM", "xcb" if env.get("DISPLAY") else "offscreen")
        return env, []
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    env.update(DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb")
    trayer = subprocess.Popen(["trayer", "--edge", "bottom", "--align", "right", "--widthtype",
                               "request", "--height", "32", "--SetDockType", "true"], env=env,
                              stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # trayer takes the tray selection
    return env, [trayer, xvfb]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="start-up runs of each app")
    parser.add_argument("--idle", type=float, default=60.0,
                        help="seconds of idle CPU measurement (0 skips it)")
    args = parser.parse_args()
    env, helpers = start_display()
    app_env = dict(env, TOKENWATCH_DESKTOP_HOOK=f"{ROOT / 'bench' / 'desktop_hook.py'}:hook")
    app = ["-m", "tokenwatch_desktop.app", "--demo"]
    bare = [str(ROOT / "bench" / "bare_tray.py")]
    try:
        bare_runs, app_runs = [], []
        for _ in range(args.runs):
            bare_runs.append(run_once(bare, env, 60))
            app_runs.append(run_once(app, app_env, 60))
        idle = run_once(app, dict(app_env, BENCH_IDLE=str(args.idle)), args.idle + 60)
    finally:
        for process in helpers:
            process.terminate()
            process.wait(10)
    report(bare_runs, app_runs, idle, env["QT_QPA_PLATFORM"])
    return 0


def report(bare: list[dict[str, Any]], app: list[dict[str, Any]], idle: dict[str, Any],
           platform: str) -> None:
    bare_start = statistics.median(r["start_s"] for r in bare)
    app_start = statistics.median(r["start_s"] for r in app)
    bare_rss = statistics.median(r["maxrss_kb"] for r in bare)
    app_rss = statistics.median(r["maxrss_kb"] for r in app)
    print(f"platform {platform}; tray available: bare {bare[0]['tray_available']}, "
          f"app {app[0]['tray_available']}; runs {len(app)}; demo accounts {app[0]['accounts']}")
    print(f"start to tray shown (median): bare {bare_start * 1000:.0f} ms, "
          f"app {app_start * 1000:.0f} ms, ratio {app_start / bare_start:.2f} (limit 1.5)")
    print(f"peak RSS: bare {bare_rss / 1024:.1f} MiB, app after one refresh "
          f"{app_rss / 1024:.1f} MiB, ratio {app_rss / bare_rss:.2f} (limit 1.3)")
    print(f"optional libraries loaded: {', '.join(app[0]['modules']) or 'none'}; "
          f"window built: {app[0]['window_built']}")
    if "idle_cpu_s" in idle:
        print(f"idle CPU over {idle['idle_s']:.0f} s: {idle['idle_cpu_s']:.3f} s (limit 0.12); "
              f"next refresh in {idle['timer_remaining_ms'] / 1000:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
