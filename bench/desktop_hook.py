"""App-side half of bench/desktop_bench.py, run by tokenwatch-desktop after its first refresh.

Writes to BENCH_OUT: when the tray icon showed, peak RSS, which optional libraries are
loaded, and (with BENCH_IDLE seconds) the CPU time spent idle. Then it quits the app.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from typing import Any


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def hook(app: Any) -> None:
    await asyncio.sleep(1.0)  # let the views settle, as bare_tray.py does
    result: dict[str, Any] = {
        "tray_shown": app.timings.get("tray_shown") or app.timings.get("window_shown"),
        "tray_available": app.tray is not None,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "accounts": len(app.controller.accounts),
        "modules": sorted({name.split(".")[0] for name in sys.modules
                           if name.split(".")[0] in ("keyring", "genai_prices", "yaml", "httpx",
                                                     "tokenwatch_desktop")}),
        "window_built": app._window is not None,
    }
    idle = float(os.environ.get("BENCH_IDLE", "0"))
    if idle > 0:
        start = cpu_seconds()
        await asyncio.sleep(idle)
        result["idle_cpu_s"] = cpu_seconds() - start
        result["idle_s"] = idle
        result["timer_remaining_ms"] = app.controller.timer.remainingTime()
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as out:
        json.dump(result, out)
    app.request_quit()
