"""Seconds and memory of the stages of a run, logged at INFO level.

``livingcircle run`` and :meth:`livingcircle.results.Result.write` log one line per stage
(:class:`Stages`); ``benchmarks/bench_city.py`` reads those lines. A base module: it imports
nothing of livingcircle.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("livingcircle.pipeline")  # the name bench_city.py and users filter on


def memory_mb() -> tuple[float, float]:
    """Return current and peak resident memory in MB (``VmRSS``/``VmHWM`` on Linux).

    Elsewhere the current figure is unknown (NaN) and the peak is ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            vals = {k: int(v.split()[0]) / 1024.0 for k, v in
                    (line.split(":", 1) for line in fh if line.startswith(("VmRSS", "VmHWM")))}
        return vals["VmRSS"], vals["VmHWM"]
    except (OSError, KeyError, ValueError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return float("nan"), peak / (2**20 if sys.platform == "darwin" else 1024.0)


def release_memory() -> None:
    """Give the memory a stage freed back to the system (glibc's ``malloc_trim``).

    The allocator keeps freed memory for reuse, but the threaded stages allocate from other
    arenas than the one a previous stage freed into; at a million street nodes that retained
    memory was 1.4 GB after the network alone. Elsewhere than glibc this does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Stages:
    """Log the seconds and memory of each stage of a run at INFO level.

    One line per stage, ``stage <name>: <s> s, rss <MB> MB, peak <MB> MB, cpu <s> s`` (the
    peak is the process's high-water mark so far; the current figure is taken after freed
    memory has been returned to the system; cpu is the CPU time of the process in the stage, all
    threads: on a busy machine it says what the stage costs when the wall time does not);
    ``benchmarks/bench_city.py`` reads these lines.
    """

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._cpu = time.process_time
        self._t = self._clock()
        self._c = self._cpu()

    def done(self, name: str) -> None:
        """Log the stage that ends now and start the next one."""
        now, cpu = self._clock(), self._cpu()
        release_memory()
        rss, peak = memory_mb()
        logger.info("stage %s: %.1f s, rss %.0f MB, peak %.0f MB, cpu %.1f s", name,
                    now - self._t, rss, peak, cpu - self._c)
        self._t, self._c = now, cpu
