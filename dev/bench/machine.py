"""What the benchmark ran on, and how busy the machine was with other work meanwhile.

The machine may be shared, so next to the load average the benchmark reports the share of
CPU time used by processes other than the assistants under test and the benchmark itself,
read from /proc (Linux). Elsewhere those figures are simply left out.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where available."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (what `uptime` shows), rounded."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict[str, object]:
    """Cores, CPU model, OS and Python version, and the load average right now."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def _machine_jiffies() -> tuple[int, int] | None:
    """(total, idle) CPU time of the whole machine, in clock ticks."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is already in user).
    values = [int(value) for value in fields[:8]]
    return sum(values), values[3] + values[4]


def _process_jiffies(pid: int) -> int:
    """User plus system CPU time of one process, in clock ticks (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # The command name may contain spaces; the fields after it are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@dataclass
class CpuSnapshot:
    """CPU times at one moment, for the machine and for the processes under test."""

    machine: tuple[int, int] | None
    ours: int


@dataclass
class _Totals:
    total: int = 0
    idle: int = 0
    ours: int = 0
    complete: bool = True


class CpuMeter:
    """Adds up, over the intervals measured for a key, how much CPU other work used."""

    def __init__(self, pids: list[int]):
        self.pids = [os.getpid(), *pids]
        self._totals: dict[str, _Totals] = {}

    def _snapshot(self) -> CpuSnapshot:
        return CpuSnapshot(_machine_jiffies(), sum(_process_jiffies(pid) for pid in self.pids))

    @contextmanager
    def measure(self, key: str) -> Iterator[None]:
        """Count the CPU time used while the ``with`` block runs towards ``key``."""
        start = self._snapshot()
        try:
            yield
        finally:
            end = self._snapshot()
            totals = self._totals.setdefault(key, _Totals())
            if start.machine is None or end.machine is None:
                totals.complete = False
            else:
                totals.total += end.machine[0] - start.machine[0]
                totals.idle += end.machine[1] - start.machine[1]
                totals.ours += end.ours - start.ours

    def shares(self, key: str) -> dict[str, float] | None:
        """Shares of the machine's CPU capacity used during ``key``'s intervals.

        ``under_test``: the assistants' servers and this benchmark; ``other``: everything
        else on the machine. None where /proc is not available.
        """
        totals = self._totals.get(key)
        if totals is None or not totals.complete or totals.total <= 0:
            return None
        other = max(totals.total - totals.idle - totals.ours, 0)
        return {"under_test": round(totals.ours / totals.total, 3),
                "other": round(other / totals.total, 3)}
