"""Print the intent F1 of an NLU cross-validation run (`make evaluate`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str) -> int:
    report = Path(folder) / "intent_report.json"
    if not report.exists():
        print(f"No {report}: run `make evaluate`.", file=sys.stderr)
        return 1
    data = json.loads(report.read_text())
    weighted = data["weighted avg"]
    macro = data["macro avg"]
    print(f"Intent F1 (cross-validation, test folds): weighted {weighted['f1-score']:.3f}, "
          f"macro {macro['f1-score']:.3f}, accuracy {data.get('accuracy', 0):.3f}")
    worst = sorted(((v["f1-score"], k) for k, v in data.items()
                    if isinstance(v, dict) and "f1-score" in v and not k.endswith("avg")))[:5]
    print("Lowest intents: " + ", ".join(f"{name} {score:.2f}" for score, name in worst))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "results/cross-validation"))
