"""The benchmark's pure helpers: percentiles, summaries, ratios and the goal check.

No server is started and nothing is timed here; the benchmark itself is `make bench`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # plain `pytest` puts tests/ (not the project root) on sys.path
    sys.path.insert(0, str(ROOT))

from dev.bench.report import compute_ratios, goal, markdown  # noqa: E402
from dev.bench.stats import (  # noqa: E402
    format_compared,
    format_figure,
    format_ratio,
    percentile,
    ratio,
    split_evenly,
    summarize,
)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order of arrival does not matter
    ([float(n) for n in range(1, 101)], 95, 95.05),
    ([float(n) for n in range(1, 101)], 50, 50.5),
    ([7.0], 95, 7.0),
    ([3.0, 1.0, 2.0], 0, 1.0),
    ([3.0, 1.0, 2.0], 100, 3.0),
    ([0.1, 0.1, 0.1, 0.1, 5.0], 95, 4.02),
])
def test_percentile_interpolates_between_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_rejects_bad_input(values, q):
    with pytest.raises(ValueError):
        percentile(values, q)


def test_summarize_converts_to_milliseconds_and_counts_answered_messages_only():
    latencies = [0.010, 0.020, 0.030, 0.040, 0.100]
    summary = summarize(latencies, wall_s=2.0, concurrency=10, errors=3, empty_replies=1)
    assert summary.messages == 5
    assert summary.throughput_mps == pytest.approx(2.5)
    assert summary.p50_ms == pytest.approx(30.0)
    assert summary.p95_ms == pytest.approx(88.0)
    assert summary.mean_ms == pytest.approx(40.0)
    assert summary.max_ms == pytest.approx(100.0)
    assert summary.as_dict()["errors"] == 3
    assert summary.as_dict()["empty_replies"] == 1
    with pytest.raises(ValueError):
        summarize([], wall_s=1.0, concurrency=1)
    with pytest.raises(ValueError):
        summarize([0.1], wall_s=0.0, concurrency=1)


def test_ratio_and_its_formatting():
    assert ratio(180.0, 200.0) == pytest.approx(0.9)
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None
    assert format_ratio(180.0, 200.0) == "0.90x stock"
    assert format_ratio(50.0, 20.0) == "2.50x stock"
    assert format_ratio(5.0, None) == "n/a"
    assert format_figure(180.4, "ms") == "180 ms"
    assert format_figure(12.44, "msg/s") == "12.4 msg/s"
    assert format_compared(180.0, 200.0, "ms") == "180 ms = 0.90x stock"


def _assistant(startup_s: float, p95_1: float, p95_10: float, throughput_10: float) -> dict:
    def setting(concurrency: int, p95: float, throughput: float) -> dict:
        return {"concurrency": concurrency, "messages": 200, "errors": 0, "empty_replies": 0,
                "wall_s": 200 / throughput, "throughput_mps": throughput, "p50_ms": p95 / 2,
                "p95_ms": p95, "mean_ms": p95 / 2, "max_ms": p95 * 2}
    return {"startup": {"status_s": startup_s, "first_reply_s": startup_s + 1,
                        "first_message_ms": 500.0},
            "load": {"1": setting(1, p95_1, 20.0), "10": setting(10, p95_10, throughput_10)},
            "cpu": {"under_test": 0.5, "other": 0.1}}


def _results(ours: dict, stock: dict) -> dict:
    results = {"date": "2026-01-01T00:00:00+00:00", "command": "python -m dev.bench.run",
               "machine": {"nproc": 2, "cpu_model": "Test CPU", "system": "Linux",
                           "python": "3.10", "load_average": [0.5, 0.5, 0.5]},
               "settings": {"messages": 200, "concurrency": [1, 10], "rounds": 4,
                            "warmup_messages": 30, "think_ms": 0, "rasa": "3.6.21"},
               "assistants": {"ours": ours, "stock": stock}}
    results["ratios"] = compute_ratios(results)
    return results


def test_report_gives_ratios_to_stock_and_checks_the_goal():
    results = _results(_assistant(30.0, 60.0, 180.0, 30.0), _assistant(20.0, 50.0, 200.0, 25.0))
    assert results["ratios"]["startup.status_s"] == pytest.approx(1.5)
    assert results["ratios"]["load.10.p95_ms"] == pytest.approx(0.9)
    outcome = goal(results)
    assert outcome["p95_under_250ms"] is True
    assert outcome["throughput_at_least_stock"] is True
    assert outcome["throughput_ratio"] == pytest.approx(1.2)
    text = markdown(results)
    assert "| p95, 10 conversations | 180 ms | 200 ms | 0.90x stock |" in text
    assert "| Start-up: until /status answers | 30.0 s | 20.0 s | 1.50x stock |" in text
    assert "p95 at 10 conversations: 180 ms = 0.90x stock; under 250 ms: met" in text
    assert "NOT met" not in text


def test_report_says_when_the_goal_is_missed():
    results = _results(_assistant(30.0, 60.0, 400.0, 20.0), _assistant(20.0, 50.0, 300.0, 25.0))
    outcome = goal(results)
    assert outcome["p95_under_250ms"] is False
    assert outcome["throughput_at_least_stock"] is False
    text = markdown(results)
    assert "under 250 ms: NOT met" in text
    assert "at least the stock assistant's: NOT met" in text


def test_report_without_the_stock_assistant_has_no_ratios():
    results = _results(_assistant(30.0, 60.0, 180.0, 30.0), _assistant(1, 1, 1, 1))
    del results["assistants"]["stock"]
    results["ratios"] = compute_ratios(results)
    assert set(results["ratios"].values()) == {None}
    assert goal(results)["throughput_at_least_stock"] is None
    assert "| p95, 10 conversations | 180 ms | n/a | n/a |" in markdown(results)


@pytest.mark.parametrize(("total", "parts", "expected"), [
    (200, 4, [50, 50, 50, 50]),
    (10, 4, [3, 3, 2, 2]),
    (3, 1, [3]),
])
def test_split_evenly_keeps_the_total(total, parts, expected):
    assert split_evenly(total, parts) == expected
    assert sum(split_evenly(total, parts)) == total
