"""``python -m dev.bench.long_run``: the long conversation alone (dev/bench/long.py), each
assistant started as ``make bench`` starts it (dev/bench/run.py)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path

from dev.bench.long import markdown, measure_long
from dev.bench.run import start
from dev.bench.servers import (
    ROOT,
    Assistant,
    BenchError,
    prepare_ours,
    prepare_stock,
    train_stock,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench.long_run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--only", choices=["ours", "stock"])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "clinic.tar.gz")
    parser.add_argument("--stock-project", type=Path,
                        help="an already trained `rasa init` project (skips training)")
    args = parser.parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    try:
        with tempfile.TemporaryDirectory(prefix="clinic-bench-long-") as tmp, \
                ExitStack() as stack:
            work = Path(tmp)
            assistants: dict[str, Assistant] = {}
            if args.only != "ours":
                project = (args.stock_project.resolve() if args.stock_project
                           else train_stock(work)[0])
                assistants["stock"], _ = start("stock", prepare_stock(project), work, stack,
                                               run_id)
            if args.only != "stock":
                (work / "ours").mkdir()
                assistants["ours"], _ = start("ours", prepare_ours(args.model.resolve(),
                                                                   work / "ours"),
                                              work, stack, run_id)
            results = measure_long(assistants, args.turns, args.block, run_id)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print(markdown(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
