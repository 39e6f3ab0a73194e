"""`make bench`: the clinic assistant against the stock `rasa init` assistant, over REST.

The stock assistant is trained in a temporary folder in the same run. Each assistant is
started in turn (start-up timed) and checked with one scripted conversation; then, with both
running, the load settings (1 and 10 concurrent conversations) are measured in short
alternating rounds, so that other work on a shared machine weighs on both alike. Prints a
Markdown table and writes results/bench.md and results/bench.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from contextlib import ExitStack
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from dev.bench.load import OUR_SCRIPT, STOCK_SCRIPT, LoadSample, run_conversation, run_load
from dev.bench.long import measure_long
from dev.bench.machine import CpuMeter, load_average, machine_info
from dev.bench.report import compute_ratios, goal, markdown, write
from dev.bench.servers import (
    ROOT,
    Assistant,
    BenchError,
    prepare_ours,
    prepare_stock,
    train_stock,
)
from dev.bench.stages import ours_env, run_stages
from dev.bench.stats import split_evenly, summarize

DEFAULT_MODEL = ROOT / "models" / "clinic.tar.gz"
# The first message after start-up goes through each assistant's whole path: for ours an
# FAQ question answered by the action server, for the stock one its greeting.
FIRST_MESSAGE = {"ours": "what is microneedling?", "stock": "hi"}
SCRIPTS = {"ours": OUR_SCRIPT, "stock": STOCK_SCRIPT}


def say(text: str) -> None:
    """Progress on stderr (stdout carries the report)."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (the defaults are what `make bench` runs)."""
    parser = argparse.ArgumentParser(prog="python -m dev.bench.run", description=__doc__)
    parser.add_argument("--messages", type=int, default=200,
                        help="messages per setting and assistant (default 200)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10],
                        help="concurrent conversations to measure (default 1 10)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating rounds each setting's messages are split into "
                             "(default 4)")
    parser.add_argument("--warmup", type=int, default=30,
                        help="warm-up messages before measuring (default 30)")
    parser.add_argument("--think-ms", type=int, default=0,
                        help="pause of each conversation between a reply and its next message "
                             "(default 0: as fast as the assistant answers)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="the clinic assistant's model (default models/clinic.tar.gz)")
    parser.add_argument("--stock-project", type=Path,
                        help="reuse an already trained `rasa init` project instead of "
                             "training one")
    parser.add_argument("--only", choices=["ours", "stock"],
                        help="measure one assistant only (no ratios)")
    parser.add_argument("--stages", type=int, default=60,
                        help="messages timed stage by stage in one process (0: skip)")
    parser.add_argument("--long-turns", type=int, default=300,
                        help="turns of the long conversation of each assistant, played after "
                             "the load settings (dev/bench/long.py; default 300, 0 skips it)")
    parser.add_argument("--out", type=Path, default=ROOT / "results",
                        help="folder for bench.md and bench.json (default results/)")
    args = parser.parse_args(argv)
    if (args.messages < 1 or min(args.concurrency) < 1 or args.rounds < 1
            or args.warmup < 0 or args.think_ms < 0 or args.long_turns < 0 or args.stages < 0):
        parser.error("--messages, --concurrency and --rounds must be at least 1, "
                     "--warmup and --think-ms at least 0")
    if args.rounds > args.messages:
        parser.error("--rounds cannot exceed --messages")
    args.command = " ".join(["python -m dev.bench.run",
                             *(argv if argv is not None else sys.argv[1:])])
    return args


def check_conversation(assistant: Assistant, script: tuple[str, ...],
                       sender: str) -> list[dict[str, Any]]:
    """Play the script once and fail if any message gets an error or no reply."""
    turns = run_conversation(assistant.webhook, script, sender)
    for turn in turns:
        if turn.error or not turn.replies:
            raise BenchError(f"{assistant.name}: {turn.text!r} got "
                             f"{turn.error or 'no reply'}.\n{assistant.log_tails()}")
    # A short transcript in the JSON shows which assistant answered and how.
    return [{"message": turn.text, "replies": [reply[:120] for reply in turn.replies]}
            for turn in turns]


def start(name: str, prepared: tuple[Assistant, list, dict[str, str]], logdir: Path,
          stack: ExitStack, run_id: str) -> tuple[Assistant, dict[str, Any]]:
    """Start one assistant (stopped when ``stack`` closes), time its start-up, check it."""
    assistant, commands, env = prepared
    result: dict[str, Any] = {"load_average_before": load_average()}
    say(f"{name}: starting")
    stack.callback(assistant.stop)
    assistant.launch(commands, env, logdir)
    result["startup"] = assistant.measure_startup(FIRST_MESSAGE[name]).as_dict()
    say(f"{name}: answered {result['startup']['first_reply_s']:.1f} s after start")
    result["sample"] = check_conversation(assistant, SCRIPTS[name], f"bench-{run_id}-check")
    result["script"] = list(SCRIPTS[name])
    return assistant, result


def measure_load(assistants: dict[str, Assistant], results: dict[str, dict[str, Any]],
                 args: argparse.Namespace, run_id: str) -> None:
    """Warm up, then measure every setting in alternating rounds; fill in ``results``."""
    for name, assistant in assistants.items():
        if args.warmup:
            say(f"{name}: warming up")
            run_load(assistant.webhook, SCRIPTS[name], max(args.concurrency), args.warmup,
                     f"bench-{run_id}-{name}-warmup")
    meter = CpuMeter([pid for assistant in assistants.values() for pid in assistant.pids])
    names = list(assistants)
    for concurrency in args.concurrency:
        samples: dict[str, list[LoadSample]] = {name: [] for name in names}
        say(f"{args.messages} messages each from {concurrency} conversation(s), "
            f"in {args.rounds} rounds")
        for round_index, count in enumerate(split_evenly(args.messages, args.rounds)):
            # ABBA order: neither assistant always runs first in a round.
            for name in names if round_index % 2 == 0 else reversed(names):
                with meter.measure(name):
                    samples[name].append(run_load(
                        assistants[name].webhook, SCRIPTS[name], concurrency, count,
                        f"bench-{run_id}-{name}-c{concurrency}-r{round_index}",
                        args.think_ms / 1000))
        for name in names:
            parts = samples[name]
            summary = summarize([latency for part in parts for latency in part.latencies_s],
                                sum(part.wall_s for part in parts), concurrency,
                                sum(part.errors for part in parts),
                                sum(part.empty_replies for part in parts))
            results[name].setdefault("load", {})[str(concurrency)] = summary.as_dict()
    for name in names:
        results[name]["cpu"] = meter.shares(name)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure the selected assistants and return the whole results document."""
    selected = [args.only] if args.only else ["stock", "ours"]
    model = args.model.resolve()
    if "ours" in selected and not model.exists():
        raise BenchError(f"No trained model at {model}: run `make train` first.")
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": args.command,
        "machine": machine_info(),
        "settings": {"messages": args.messages, "concurrency": args.concurrency,
                     "rounds": args.rounds, "warmup_messages": args.warmup,
                     "think_ms": args.think_ms, "rasa": metadata.version("rasa")},
        "assistants": {},
    }
    run_id = uuid.uuid4().hex[:8]
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        assistants: dict[str, Assistant] = {}
        if "stock" in selected:
            training_s = None
            if args.stock_project:
                project = args.stock_project.resolve()
            else:
                say("stock: training `rasa init` in a temporary folder")
                project, training_s = train_stock(work)
            assistants["stock"], figures["stock"] = start(
                "stock", prepare_stock(project), work, stack, run_id)
            if training_s is not None:
                figures["stock"]["training_s"] = round(training_s, 1)
        if "ours" in selected:
            ours_dir = work / "ours"
            ours_dir.mkdir()
            assistants["ours"], figures["ours"] = start(
                "ours", prepare_ours(model, ours_dir), work, stack, run_id)
        measure_load(assistants, figures, args, run_id)
        if args.long_turns:
            say(f"one conversation of {args.long_turns} turns on each assistant, in "
                "alternating rounds")
            for name, long_result in measure_long(assistants, args.long_turns,
                                                  run_id=run_id).items():
                figures[name]["long"] = long_result
        if args.stages:
            # After the REST measures, with the servers stopped: one process at a time.
            stack.close()
            for name in selected:
                say(f"{name}: where a message's time goes ({args.stages} messages, in one process)")
                env = ours_env(work) if name == "ours" else {}
                figures[name]["stages"] = run_stages(
                    name, args.stages, project if name == "stock" else None, env)
    results["assistants"] = figures
    results["machine"]["load_average_after"] = load_average()
    results["ratios"] = compute_ratios(results)
    results["goal"] = goal(results)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the report and write it to results/."""
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print(markdown(results))
    md_path, json_path = write(results, args.out)
    print(f"Written to {md_path} and {json_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
