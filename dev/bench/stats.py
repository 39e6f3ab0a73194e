"""Pure statistics for the benchmark: percentiles, summaries and ratios to the stock assistant."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated between ranks.

    The same definition as numpy's default, so figures can be checked with any tool.
    Raises ValueError for an empty sequence or a ``q`` outside 0-100.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LoadSummary:
    """Latency and throughput of one load setting (one assistant, one concurrency)."""

    concurrency: int
    messages: int
    errors: int
    empty_replies: int
    wall_s: float
    throughput_mps: float
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict for JSON output."""
        return asdict(self)


def summarize(latencies_s: Sequence[float], wall_s: float, concurrency: int,
              errors: int = 0, empty_replies: int = 0) -> LoadSummary:
    """Summarise the latencies (seconds) of the messages answered during ``wall_s`` seconds.

    Throughput counts answered messages only; failed requests are reported in ``errors``.
    """
    if wall_s <= 0:
        raise ValueError("wall time must be positive")
    if not latencies_s:
        raise ValueError("no message was answered")
    return LoadSummary(
        concurrency=concurrency,
        messages=len(latencies_s),
        errors=errors,
        empty_replies=empty_replies,
        wall_s=wall_s,
        throughput_mps=len(latencies_s) / wall_s,
        p50_ms=percentile(latencies_s, 50) * 1000,
        p95_ms=percentile(latencies_s, 95) * 1000,
        mean_ms=sum(latencies_s) / len(latencies_s) * 1000,
        max_ms=max(latencies_s) * 1000,
    )


def ratio(ours: float | None, stock: float | None) -> float | None:
    """``ours / stock``, or None when either figure is missing or the stock figure is zero."""
    if ours is None or stock is None or stock == 0:
        return None
    return ours / stock


def format_ratio(ours: float | None, stock: float | None) -> str:
    """``ours / stock`` as "0.90x stock", or "n/a" when either figure is missing."""
    value = ratio(ours, stock)
    return "n/a" if value is None else f"{value:.2f}x stock"


def format_figure(value: float | None, unit: str) -> str:
    """A figure with its unit, rounded for a table: "180 ms", "12.4 msg/s", "31.2 s"."""
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:.0f} ms"
    return f"{value:.1f} {unit}"


def format_compared(ours: float | None, stock: float | None, unit: str) -> str:
    """Our figure and its ratio to the stock one: "180 ms = 0.9x stock"."""
    return f"{format_figure(ours, unit)} = {format_ratio(ours, stock)}"


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts that differ by at most one, larger ones first."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    share, extra = divmod(total, parts)
    return [share + (1 if index < extra else 0) for index in range(parts)]
