"""Small measuring helpers shared by the benchmark scripts."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """Run ``action`` and return its result and wall time in seconds."""
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def command_seconds(command: Sequence[str], repeats: int) -> list[float]:
    """Wall time of a fresh process running ``command``, ``repeats`` times."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def peak_rss_mib() -> float:
    """Peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_sampling_rss(command: Sequence[str], cwd: str | None = None) -> tuple[float, float]:
    """Run ``command``; return its wall time and peak resident memory (MiB, sampled at 20 Hz).

    Sampled, because a child's ``ru_maxrss`` on Linux includes the parent's pages at fork time.
    """
    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    if process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, list(command))
    return time.perf_counter() - started, peak / 2**20


def median(values: Sequence[float]) -> float:
    """Median of ``values``."""
    return statistics.median(values)


def machine() -> str:
    """One line about this machine for the report."""
    import os
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
