"""The real-question evaluation: what a reply must say for each expected answer (issue 18).

The set (tests/eval/real_questions.yml) names answers by id; what each answer says is read
from knowledge/, so a reworded answer needs no change here. Pure: no Rasa, no servers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clinic.knowledge import messages as M
from clinic.knowledge.kb import Knowledge, Outcome, knowledge
from clinic.knowledge.questions import PatientQuestions, patient_questions

DEFAULT_SET = Path(__file__).resolve().parent.parent / "tests" / "eval" / "real_questions.yml"
CATEGORIES = ("benefits", "aftercare", "worry", "safety", "medicine", "history", "booking",
              "everyday")
# How much of an answer's opening must appear in the reply for it to count as that answer.
FRAGMENT = 60


@dataclass(frozen=True)
class EvalItem:
    text: str
    category: str
    # Each entry must hold; each entry is a tuple of alternatives ("a|b").
    expect: tuple[tuple[str, ...], ...]
    source: str


@dataclass(frozen=True)
class Verdict:
    item: EvalItem
    reply: str
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def load_items(path: Path | str = DEFAULT_SET) -> list[EvalItem]:
    """The evaluation set, checked for the fields and categories it must have."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    items = []
    for raw in data["items"]:
        if raw["category"] not in CATEGORIES:
            raise ValueError(f"{raw['text']!r}: unknown category {raw['category']!r}")
        if not str(raw.get("source", "")).startswith("http"):
            raise ValueError(f"{raw['text']!r}: every item needs its source URL")
        expect = tuple(tuple(part.strip() for part in str(entry).split("|"))
                       for entry in raw["expect"])
        items.append(EvalItem(str(raw["text"]), raw["category"], expect, raw["source"]))
    return items


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces: replies and answers compare alike."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    return re.sub(r"\s+", " ", text.replace("\u201d", '"')).strip().lower()


class Judge:
    """Decides whether a reply gives the expected answers, from the clinic's knowledge."""

    def __init__(self, k: Knowledge | None = None,
                 questions: PatientQuestions | None = None) -> None:
        self.k = k or knowledge()
        self.questions = questions or patient_questions()

    def fragment(self, label: str) -> str:
        """A piece of text that only the expected answer ``label`` puts in a reply."""
        kind, _, ident = label.partition(":")
        k, q = self.k, self.questions
        if kind == "topic":
            return _opening(k.fill(k.topic(ident).answer))
        if kind == "question":
            question = q.by_id(ident)
            if question.covered:
                return _opening(k.fill(question.answer))
            return normalise(k.say(M.NOT_COVERED_SUBJECT, subject=question.subject))
        if kind == "safety":
            return _opening(k.screening.by_id(ident).explanation)
        fixed = {
            "noted": "noted",
            "watch_for": _opening(k.fill(q.watch_for)),
            "not_covered": "doesn't cover",
            "booking": _opening(k.say(M.BOOKING_SCREENING_FIRST)),
            "screening": _opening(k.say(M.SCREENING_INTRO,
                                        count=len(k.screening.contraindications))),
        }
        if kind in fixed:
            return fixed[kind]
        raise ValueError(f"unknown expected answer {label!r}")

    def says(self, label: str, said: str) -> bool:
        """True when the normalised reply gives the answer ``label``. The warning signs count
        as given when the urgent-care message was said instead (it goes further)."""
        if self.fragment(label) in said:
            return True
        return label == "watch_for" and any(
            _opening(self.k.fill(text)) in said for text in self.k.urgent_messages.values())

    def never(self, item: EvalItem) -> dict[str, str]:
        """What no reply to this item may say, by the name reported when it does."""
        k = self.k
        bad = {"didn't understand": _opening(k.say(M.FAQ_FALLBACK_UNCLEAR), 40),
               "English only": _opening(k.say(M.FAQ_OTHER_LANGUAGE), 40)}
        if item.category == "safety":
            bad["called eligible"] = _opening(k.screening.outcomes[Outcome.ELIGIBLE], 50)
            bad["offered a code"] = "facial50"
        return bad

    def judge(self, item: EvalItem, reply: str) -> Verdict:
        said = normalise(reply)
        problems = [f"missing {'|'.join(options)}" for options in item.expect
                    if not any(self.says(option, said) for option in options)]
        problems += [name for name, text in self.never(item).items() if text in said]
        return Verdict(item, reply, tuple(problems))


def _opening(text: str, length: int = FRAGMENT) -> str:
    return normalise(text)[:length]


def by_category(verdicts: list[Verdict]) -> dict[str, tuple[int, int]]:
    """(right, total) per category, in CATEGORIES order, plus "all"."""
    right = Counter(v.item.category for v in verdicts if v.ok)
    total = Counter(v.item.category for v in verdicts)
    table = {c: (right[c], total[c]) for c in CATEGORIES if total[c]}
    table["all"] = (sum(right.values()), len(verdicts))
    return table


def report(verdicts: list[Verdict], name: str = "tests/eval/real_questions.yml") -> str:
    """The score table and every wrong answer, for people."""
    lines = [f"Patient questions ({name}), whole pipeline:"]
    for category, (right, total) in by_category(verdicts).items():
        lines.append(f"  {category:<10} {right:>3}/{total:<3} {100 * right / total:5.1f}%")
    unclear = sum("didn't understand" in v.problems for v in verdicts)
    lines.append(f"  \"didn't understand\": {unclear}")
    lines.append("Wrong:")
    lines += [f"  [{v.item.category}] {v.item.text!r}: {', '.join(v.problems)}\n"
              f"      -> {v.reply[:160]!r}" for v in verdicts if not v.ok]
    return "\n".join(lines)
