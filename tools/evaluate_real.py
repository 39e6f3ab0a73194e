"""Score the whole assistant on the real patient questions (`make evaluate`, issue 18).

Starts the action server and the Rasa server as `make run` does (free loopback ports,
databases in a temporary folder), sends every item of tests/eval/real_questions.yml as the
first message of its own conversation, and judges the reply with dev.evaluation.
Writes results/real_questions.json and prints the score by category and every wrong answer.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from pathlib import Path

from dev.bench.servers import post_message, prepare_ours
from dev.evaluation import DEFAULT_SET, Judge, by_category, load_items, report

ROOT = Path(__file__).resolve().parent.parent


def reply_text(messages: list[dict]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


def main(set_path: str = str(DEFAULT_SET), out: str = "results/real_questions.json") -> int:
    items = load_items(set_path)
    judge = Judge()
    with tempfile.TemporaryDirectory(prefix="clinic-eval-") as work:
        assistant, commands, env = prepare_ours(ROOT / "models" / "clinic.tar.gz", Path(work))
        assistant.launch(commands, env, Path(work))
        try:
            assistant.measure_startup("hello")
            verdicts = [judge.judge(item, reply_text(post_message(
                assistant.webhook, f"eval-{uuid.uuid4().hex[:12]}", item.text)))
                for item in items]
        finally:
            assistant.stop()
    name = Path(set_path)
    print(report(verdicts, str(name.relative_to(ROOT) if name.is_absolute() else name)))
    path = ROOT / out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "scores": {c: {"right": r, "total": t} for c, (r, t) in by_category(verdicts).items()},
        "items": [{"text": v.item.text, "category": v.item.category, "ok": v.ok,
                   "problems": list(v.problems), "reply": v.reply, "source": v.item.source}
                  for v in verdicts]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
