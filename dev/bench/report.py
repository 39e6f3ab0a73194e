"""The benchmark's report: a Markdown table (stdout and results/bench.md) and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dev.bench.stats import format_compared, format_figure, format_ratio, ratio

GOAL_CONCURRENCY = 10
GOAL_P95_MS = 250.0
LABELS = {"ours": "Clinic assistant", "stock": "Stock `rasa init`"}


def _get(result: dict[str, Any] | None, *keys: str) -> float | None:
    value: Any = result
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _conversations(concurrency: int) -> str:
    return f"{concurrency} conversation" + ("" if concurrency == 1 else "s")


def rows(results: dict[str, Any]) -> list[tuple[str, tuple[str, ...], str]]:
    """(label, path in an assistant's results, unit) for every figure in the table."""
    table = [
        ("Start-up: until /status answers", ("startup", "status_s"), "s"),
        ("Start-up: until the first REST reply", ("startup", "first_reply_s"), "s"),
        ("First message after start-up", ("startup", "first_message_ms"), "ms"),
    ]
    for concurrency in results["settings"]["concurrency"]:
        key = str(concurrency)
        table += [
            (f"p50, {_conversations(concurrency)}", ("load", key, "p50_ms"), "ms"),
            (f"p95, {_conversations(concurrency)}", ("load", key, "p95_ms"), "ms"),
            (f"Throughput, {_conversations(concurrency)}", ("load", key, "throughput_mps"),
             "msg/s"),
        ]
    return table


def compute_ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Our figures divided by the stock assistant's, keyed like the JSON paths."""
    ours, stock = results["assistants"].get("ours"), results["assistants"].get("stock")
    return {".".join(path): ratio(_get(ours, *path), _get(stock, *path))
            for _, path, _ in rows(results)}


def goal(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's goal at 10 conversations: at least stock throughput and p95 < 250 ms."""
    key = str(GOAL_CONCURRENCY)
    ours, stock = results["assistants"].get("ours"), results["assistants"].get("stock")
    p95 = _get(ours, "load", key, "p95_ms")
    throughput = _get(ours, "load", key, "throughput_mps")
    stock_throughput = _get(stock, "load", key, "throughput_mps")
    return {
        "p95_ms": p95,
        "p95_under_250ms": None if p95 is None else p95 < GOAL_P95_MS,
        "throughput_ratio": ratio(throughput, stock_throughput),
        "throughput_at_least_stock": (None if throughput is None or stock_throughput is None
                                      else throughput >= stock_throughput),
    }


def _yes_no(value: bool | None) -> str:
    return "n/a" if value is None else ("met" if value else "NOT met")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def markdown(results: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    assistants = results["assistants"]
    ours, stock = assistants.get("ours"), assistants.get("stock")
    machine = results["machine"]
    settings = results["settings"]
    lines = [
        "# Performance benchmark",
        "",
        f"- Date: {results['date']}",
        f"- Machine: {machine['nproc']} cores, {machine['cpu_model']}, {machine['system']}, "
        f"Python {machine['python']}, Rasa {settings['rasa']}",
        f"- Load average (1, 5, 15 min) before the run: {machine['load_average']}",
        f"- Command: `{results['command']}`; {settings['messages']} messages per setting "
        f"and assistant after one checked conversation and {settings['warmup_messages']} "
        "warm-up messages; REST on 127.0.0.1",
        f"- Start-ups one after the other; then, with both assistants running, each setting "
        f"in {settings.get('rounds', 1)} alternating rounds (ABBA), so that other work on the "
        "machine weighs on both alike",
        "- Each conversation sends its next message "
        + (f"{settings['think_ms']} ms after the reply" if settings.get("think_ms")
           else "as soon as the reply arrives (no pause): the 10-conversation setting "
                "keeps the server saturated: mean latency = 10 / throughput"),
        "",
        f"| Measure | {LABELS['ours']} | {LABELS['stock']} | Ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, path, unit in rows(results):
        mine, theirs = _get(ours, *path), _get(stock, *path)
        lines.append(f"| {label} | {format_figure(mine, unit)} | {format_figure(theirs, unit)} "
                     f"| {format_ratio(mine, theirs)} |")
    failures = {name: sum(int(setting["errors"]) + int(setting["empty_replies"])
                          for setting in result["load"].values())
                for name, result in assistants.items()}
    lines.append(f"| Failed or empty replies | {failures.get('ours', 'n/a')} "
                 f"| {failures.get('stock', 'n/a')} | |")
    lines.append(f"| CPU share used by other work meanwhile | "
                 f"{_share(_get(ours, 'cpu', 'other'))} | {_share(_get(stock, 'cpu', 'other'))} "
                 "| |")
    long_results = {name: result["long"] for name, result in assistants.items()
                    if "long" in result}
    if long_results:
        from dev.bench.long import GOAL_GROWTH, ROUND
        from dev.bench.long import markdown as long_table

        lines += ["", "One long conversation per assistant (one sender, REST, the assistants "
                  f"in alternating rounds of {ROUND} turns; median latency per block of turns; "
                  "ours: FAQ questions, SQLite tracker store; goal for ours: last block at "
                  f"most {GOAL_GROWTH}x the first):", "",
                  long_table(long_results)]
    stage_results = {name: result["stages"] for name, result in assistants.items()
                     if "stages" in result}
    if stage_results:
        lines += ["", stages_table(stage_results)]
    if stock is not None and "training_s" in stock:
        lines += ["", f"The stock assistant was trained in this run ({stock['training_s']:.0f} s)."]
    key = str(GOAL_CONCURRENCY)
    if ours is not None and key in ours["load"]:
        outcome = goal(results)
        lines += [
            "",
            f"Goal at {GOAL_CONCURRENCY} concurrent conversations:",
            f"- p95 at {GOAL_CONCURRENCY} conversations: "
            f"{format_compared(outcome['p95_ms'], _get(stock, 'load', key, 'p95_ms'), 'ms')}; "
            f"under {GOAL_P95_MS:.0f} ms: {_yes_no(outcome['p95_under_250ms'])}",
            f"- Throughput at {GOAL_CONCURRENCY} conversations: "
            + format_compared(_get(ours, "load", key, "throughput_mps"),
                              _get(stock, "load", key, "throughput_mps"), "msg/s")
            + f"; at least the stock assistant's: {_yes_no(outcome['throughput_at_least_stock'])}",
        ]
    return "\n".join(lines) + "\n"


STAGE_ROWS = 12  # the costliest stages shown one by one; the rest summed


def stages_table(stages: dict[str, dict[str, Any]]) -> str:
    """Where a message's time goes (dev/bench/stages.py), per assistant, in ms per message."""
    lines = ["Where a message's time goes, in one process (`dev/bench/stages.py`; the REST "
             "channel excluded; ms per message, mean):", ""]
    for name, result in stages.items():
        lines += [f"**{LABELS.get(name, name)}**: {result['wall_ms']:.1f} ms per message, "
                  f"{result['cpu_ms']:.1f} ms CPU in the Rasa process, "
                  f"{result['action_server_cpu_ms']:.1f} ms CPU in the action server; "
                  f"{result['action_calls']:.2f} action-server calls per message, "
                  f"{result['payload_bytes']} bytes sent per call; "
                  f"{result['empty_replies']} empty replies of {result['messages']}", "",
                  "| stage | ms per message |", "|---|---:|"]
        items = list(result["stages_ms"].items())
        for stage, ms in items[:STAGE_ROWS]:
            lines.append(f"| {stage} | {ms:.2f} |")
        rest = sum(ms for _, ms in items[STAGE_ROWS:])
        if rest:
            lines.append(f"| {len(items) - STAGE_ROWS} other stages | {rest:.2f} |")
        lines.append("")
    lines.append("Graph nodes nest (a policy runs inside the prediction graph's run), the "
                 "tracker store's load and save inside the message's handling: the rows "
                 "overlap and do not add up to the total.")
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write results/bench.md and results/bench.json; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / "bench.md", out_dir / "bench.json"
    md_path.write_text(markdown(results))
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    return md_path, json_path
