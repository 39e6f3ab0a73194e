"""The intent classifier alone, on `rasa test nlu --cross-validation` with repeatable folds
(`make evaluate`, issue 18).

The clinic's rule layers (clinic.rasa.components: the vocabulary overrule, the guard and its
question shapes and subjects, the safety terms) are left out of the pipeline scored here:
with them, a third of the examples are decided by rules written from those very examples.
The whole assistant, rules included, is scored on the real questions (tools/evaluate_real.py).

Rasa draws its folds with scikit-learn's StratifiedKFold(shuffle=True) and no seed, which
uses NumPy's global random state; seeding it first makes the folds the same on every run,
so two runs on the same data give the same figures. Arguments after the seed go to Rasa.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

SEED = 42


def classifier_config(source: Path, target: Path) -> Path:
    """config.yml without the clinic's own components."""
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["pipeline"] = [step for step in config["pipeline"]
                          if not str(step.get("name", "")).startswith("clinic.")]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return target


def main(argv: list[str]) -> int:
    import numpy as np

    random.seed(SEED)
    np.random.seed(SEED)
    from rasa.__main__ import main as rasa_main

    config = classifier_config(ROOT / "config.yml", ROOT / "results" / "classifier-config.yml")
    sys.argv = ["rasa", "test", "nlu", "--cross-validation", "--config", str(config), *argv]
    rasa_main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
