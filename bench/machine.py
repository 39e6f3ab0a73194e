"""What the benchmark ran on, and how busy the machine was with other work meanwhile.

The machine may be shared, so next to the load average the benchmark reports the share of
CPU time used by processes other than the assistants under test and the benchmark itself,
read from /proc (Linux). Elsewhere those figures are simply left out.
"""

from __future__ import annotations

import os
import platform
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
    """CPU times at one moment, for the machine and for our own processes."""

    machine: tuple[int, int] | None
    ours: int


class CpuMeter:
    """Measures, between ``start()`` and ``stop()``, how much CPU other work used."""

    def __init__(self, pids: list[int]):
        self.pids = [os.getpid(), *pids]
        self._start: CpuSnapshot | None = None

    def _snapshot(self) -> CpuSnapshot:
        return CpuSnapshot(_machine_jiffies(), sum(_process_jiffies(pid) for pid in self.pids))

    def start(self) -> None:
        """Note the CPU times now."""
        self._start = self._snapshot()

    def stop(self) -> dict[str, float] | None:
        """Shares of the machine's CPU capacity used since ``start()``.

        ``under_test``: the assistants' servers and this benchmark; ``other``: everything
        else on the machine. None where /proc is not available.
        """
        end = self._snapshot()
        if self._start is None or self._start.machine is None or end.machine is None:
            return None
        total = end.machine[0] - self._start.machine[0]
        idle = end.machine[1] - self._start.machine[1]
        if total <= 0:
            return None
        ours = end.ours - self._start.ours
        other = max(total - idle - ours, 0)
        return {"under_test": round(ours / total, 3), "other": round(other / total, 3)}
