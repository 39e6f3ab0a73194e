"""`make bench`: the clinic assistant against the stock `rasa init` assistant, over REST.

For each assistant: start it and time the start-up, check one scripted conversation, warm
up, then send a fixed number of messages from 1 and from 10 concurrent conversations and
time every reply. The stock assistant is trained in a temporary folder in the same run.
Prints a Markdown table and writes results/bench.md and results/bench.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import OUR_SCRIPT, STOCK_SCRIPT, run_conversation, run_load
from bench.machine import CpuMeter, load_average, machine_info
from bench.report import compute_ratios, goal, markdown, write
from bench.servers import (
    ROOT,
    Assistant,
    BenchError,
    prepare_ours,
    prepare_stock,
    train_stock,
)

DEFAULT_MODEL = ROOT / "models" / "clinic.tar.gz"
# The first message after start-up goes through each assistant's whole path: for ours an
# FAQ question answered by the action server, for the stock one its greeting.
FIRST_MESSAGE = {"ours": "what is microneedling?", "stock": "hi"}
SCRIPTS = {"ours": OUR_SCRIPT, "stock": STOCK_SCRIPT}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (the defaults are what `make bench` runs)."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--messages", type=int, default=200,
                        help="messages per setting (default 200)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10],
                        help="concurrent conversations to measure (default 1 10)")
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
    parser.add_argument("--out", type=Path, default=ROOT / "results",
                        help="folder for bench.md and bench.json (default results/)")
    args = parser.parse_args(argv)
    args.command = " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])])
    if args.messages < 1 or min(args.concurrency) < 1 or args.warmup < 0 or args.think_ms < 0:
        parser.error("--messages and --concurrency must be at least 1, "
                     "--warmup and --think-ms at least 0")
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


def measure(name: str, prepared: tuple[Assistant, list, dict[str, str]], logdir: Path,
            args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    """Start one assistant, measure it, stop it; return its figures."""
    assistant, commands, env = prepared
    script = SCRIPTS[name]
    result: dict[str, Any] = {"load_average_before": load_average()}
    print(f"[bench] {name}: starting", file=sys.stderr, flush=True)
    assistant.launch(commands, env, logdir)
    try:
        result["startup"] = assistant.measure_startup(FIRST_MESSAGE[name]).as_dict()
        print(f"[bench] {name}: up in {result['startup']['first_reply_s']:.1f} s; warming up",
              file=sys.stderr, flush=True)
        result["sample"] = check_conversation(assistant, script, f"bench-{run_id}-check")
        if args.warmup:
            run_load(assistant.webhook, script, max(args.concurrency), args.warmup,
                     f"bench-{run_id}-{name}-warmup")
        meter = CpuMeter(assistant.pids)
        meter.start()
        result["load"] = {}
        for concurrency in args.concurrency:
            print(f"[bench] {name}: {args.messages} messages from {concurrency} "
                  "conversation(s)", file=sys.stderr, flush=True)
            summary = run_load(assistant.webhook, script, concurrency, args.messages,
                               f"bench-{run_id}-{name}-c{concurrency}", args.think_ms / 1000)
            result["load"][str(concurrency)] = summary.as_dict()
        result["cpu"] = meter.stop()
    finally:
        assistant.stop()
    result["script"] = list(script)
    return result


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
                     "warmup_messages": args.warmup, "think_ms": args.think_ms,
                     "rasa": metadata.version("rasa")},
        "assistants": {},
    }
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp:
        work = Path(tmp)
        if "stock" in selected:
            if args.stock_project:
                project, training_s = args.stock_project.resolve(), None
            else:
                print("[bench] stock: training `rasa init` in a temporary folder",
                      file=sys.stderr, flush=True)
                project, training_s = train_stock(work)
            stock = measure("stock", prepare_stock(project), work, args, run_id)
            if training_s is not None:
                stock["training_s"] = round(training_s, 1)
            results["assistants"]["stock"] = stock
        if "ours" in selected:
            ours_dir = work / "ours"
            ours_dir.mkdir()
            results["assistants"]["ours"] = measure("ours", prepare_ours(model, ours_dir),
                                                    work, args, run_id)
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
