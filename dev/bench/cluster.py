"""`make bench-cluster`: the cluster (PostgreSQL, Redis, HAProxy, Rasa replicas) against the
stock `rasa init` assistant, over REST, in the same run.

Three targets, measured in alternating rounds at 10 and 50 concurrent conversations:

* ``stock``: the stock `rasa init` assistant, one `rasa run` (in-memory tracker and lock);
* ``one replica``: our assistant's Rasa replica 1 of the cluster, called directly (no proxy
  hop), with the cluster's PostgreSQL tracker store, Redis lock store and action servers;
* ``two replicas``: the same cluster through HAProxy, which spreads the conversations over
  both replicas.

All of it shares the machine's cores: the second replica, both action servers, PostgreSQL,
Redis and HAProxy run during every target's rounds. Writes results/bench-cluster.md and
results/bench-cluster.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from dev.bench.load import OUR_SCRIPT, STOCK_SCRIPT, run_load
from dev.bench.machine import CpuMeter, load_average, machine_info
from dev.bench.run import say
from dev.bench.servers import ROOT, BenchError, prepare_stock, train_stock
from dev.bench.stats import ratio, split_evenly, summarize

TARGETS = ("stock", "one replica", "two replicas")
GOAL_CONCURRENCY = 10
GOAL_THROUGHPUT_RATIO = 1.3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200, help="per setting and target")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--stock-project", type=Path,
                        help="reuse an already trained `rasa init` project")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    args.command = " ".join(["python -m dev.bench.cluster",
                             *(argv if argv is not None else sys.argv[1:])])
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    from dev.cluster.topology import Cluster, Ports

    run_id = uuid.uuid4().hex[:8]
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": args.command, "machine": machine_info(),
        "settings": {"messages": args.messages, "concurrency": args.concurrency,
                     "rounds": args.rounds, "warmup_messages": args.warmup},
        "targets": {name: {} for name in TARGETS},
    }
    with tempfile.TemporaryDirectory(prefix="clinic-bench-cluster-") as tmp, \
            ExitStack() as stack:
        work = Path(tmp)
        if args.stock_project:
            project = args.stock_project.resolve()
        else:
            say("stock: training `rasa init` in a temporary folder")
            project, _ = train_stock(work)
        stock, commands, env = prepare_stock(project)
        stack.callback(stock.stop)
        say("stock: starting")
        stock.launch(commands, env, work)
        stock.measure_startup("hi")

        say("cluster: starting PostgreSQL, Redis, HAProxy, 2 action servers, 2 replicas")
        cluster_dir = Path(tempfile.mkdtemp(prefix="clinic-bench-pg-", dir="/tmp"))
        cluster = Cluster(cluster_dir, Ports.free(), with_sender=False)
        stack.callback(lambda: __import__("shutil").rmtree(cluster_dir, ignore_errors=True))
        stack.callback(cluster.stop)
        cluster.start(report=say)
        bearer = {"Authorization": f"Bearer {cluster.secrets['CLINIC_API_TOKEN']}"}
        targets = {
            "stock": (stock.webhook, STOCK_SCRIPT, None),
            "one replica": (f"{cluster.replica_url(0)}/webhooks/rest/webhook", OUR_SCRIPT,
                            bearer),
            "two replicas": (f"{cluster.url}/webhooks/rest/webhook", OUR_SCRIPT, bearer),
        }
        for name, (url, script, headers) in targets.items():
            say(f"{name}: warming up")
            sample = run_load(url, script, max(args.concurrency), args.warmup,
                              f"bench-{run_id}-{name[:3]}-warm", 0.0, headers)
            if sample.errors:
                raise BenchError(f"{name}: {sample.errors} errors while warming up")
        pids = [p.pid for p in cluster.processes.values() if p.pid] + stock.pids
        for service in (cluster.postgres, cluster.redis):
            if service and service.process and service.process.pid:
                pids.append(service.process.pid)
        meter = CpuMeter(pids)
        results["load_average_before"] = load_average()
        for concurrency in args.concurrency:
            samples: dict[str, list] = {name: [] for name in TARGETS}
            say(f"{args.messages} messages per target from {concurrency} conversations")
            for index, count in enumerate(split_evenly(args.messages, args.rounds)):
                order = TARGETS if index % 2 == 0 else tuple(reversed(TARGETS))
                for name in order:
                    url, script, headers = targets[name]
                    with meter.measure(name):
                        samples[name].append(run_load(
                            url, script, concurrency, count,
                            f"bench-{run_id}-{name[:3]}-c{concurrency}-r{index}", 0.0, headers))
            for name in TARGETS:
                parts = samples[name]
                summary = summarize([x for p in parts for x in p.latencies_s],
                                    sum(p.wall_s for p in parts), concurrency,
                                    sum(p.errors for p in parts),
                                    sum(p.empty_replies for p in parts))
                results["targets"][name][str(concurrency)] = summary.as_dict()
        for name in TARGETS:
            results["targets"][name]["cpu"] = meter.shares(name)
    results["load_average_after"] = load_average()
    results["goal"] = goal(results)
    return results


def goal(results: dict[str, Any]) -> dict[str, Any]:
    """At 10 conversations: two replicas reach 1.3x stock throughput, with a lower p95."""
    key = str(GOAL_CONCURRENCY)
    two = results["targets"]["two replicas"].get(key)
    stock = results["targets"]["stock"].get(key)
    if not two or not stock:
        return {}
    throughput = ratio(two["throughput_mps"], stock["throughput_mps"])
    return {"throughput_ratio": throughput,
            "throughput_met": throughput is not None and throughput >= GOAL_THROUGHPUT_RATIO,
            "p95_ratio": ratio(two["p95_ms"], stock["p95_ms"]),
            "p95_met": two["p95_ms"] < stock["p95_ms"]}


def _times(a: float | None, b: float | None) -> str:
    value = ratio(a, b)
    return "n/a" if value is None else f"{value:.2f}x"


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Cluster benchmark, {results['date']} (`{results['command']}`), "
             f"{results['machine'].get('nproc')} cores, load average before "
             f"{results.get('load_average_before')}", "",
             "| Measure | Stock `rasa init` | One replica | Two replicas (proxy) | "
             "One / stock | Two / stock | Two / one |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for concurrency in results["settings"]["concurrency"]:
        key = str(concurrency)
        row = {name: results["targets"][name].get(key, {}) for name in TARGETS}
        for label, field, unit in (("Throughput", "throughput_mps", "msg/s"),
                                   ("p50", "p50_ms", "ms"), ("p95", "p95_ms", "ms")):
            values = [row[name].get(field) for name in TARGETS]
            cells = [f"{v:.1f} {unit}" if unit == "msg/s" else f"{v:.0f} {unit}"
                     for v in values]
            lines.append(f"| {label}, {concurrency} conversations | " + " | ".join(cells) + " | "
                         + " | ".join([_times(values[1], values[0]), _times(values[2], values[0]),
                                       _times(values[2], values[1])]) + " |")
        errors = [row[name].get("errors", 0) + row[name].get("empty_replies", 0)
                  for name in TARGETS]
        lines.append(f"| Failed or empty replies, {concurrency} conversations | "
                     + " | ".join(str(e) for e in errors) + " | | | |")
    shares = [results["targets"][name].get("cpu") or {} for name in TARGETS]
    if all("other" in share for share in shares):
        lines.append("| CPU share used by other work meanwhile | "
                     + " | ".join(f"{share['other'] * 100:.0f}%" for share in shares)
                     + " | | | |")
    g = results.get("goal") or {}
    if g:
        lines += ["", f"Goal at {GOAL_CONCURRENCY} conversations: two replicas at least "
                  f"{GOAL_THROUGHPUT_RATIO}x stock throughput: "
                  f"{'met' if g['throughput_met'] else 'NOT met'} "
                  f"({g['throughput_ratio']:.2f}x); p95 below stock's: "
                  f"{'met' if g['p95_met'] else 'NOT met'} ({g['p95_ratio']:.2f}x)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    report = markdown(results)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-cluster.md").write_text(report + "\n", encoding="utf-8")
    (args.out / "bench-cluster.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"Written to {args.out / 'bench-cluster.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
