"""Reading a knowledge file: the YAML itself, and typed access to one of its entries
(:class:`Entry`), each refusal a KnowledgeError that names the file, the entry and the fix."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from clinic.knowledge.model import DEFAULT_KNOWLEDGE_DIR, PLACEHOLDERS, KnowledgeError

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class Entry:
    """Typed access to one mapping of a knowledge file, raising KnowledgeError."""

    def __init__(self, data: Any, file: str, entry: str) -> None:
        if not isinstance(data, dict):
            raise KnowledgeError(
                file, entry, f"expected a mapping of fields, found {type(data).__name__}",
                "write the entry as 'field: value' lines",
            )
        self.data, self.file, self.entry = data, file, entry

    def fail(self, problem: str, fix: str) -> KnowledgeError:
        return KnowledgeError(self.file, self.entry, problem, fix)

    def text(self, key: str, required: bool = True, default: str = "",
             placeholders: tuple[str, ...] = ()) -> str:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(f"field '{key}' is missing or empty", f"add '{key}: <text>'")
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.fail(f"field '{key}' must be text", f"write '{key}' as a plain sentence")
        value = " ".join(str(value).split())
        check_placeholders(self, key, value, placeholders)
        return value

    def ident(self, key: str = "id") -> str:
        value = self.text(key)
        if not _ID.match(value):
            raise self.fail(
                f"'{key}' is '{value}', not a valid id",
                "use lower-case letters, digits and underscores, starting with a letter",
            )
        return value

    def text_list(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"field '{key}' is missing", f"add '{key}: [..]'")
            return ()
        if not isinstance(value, list) or not all(
            isinstance(item, (str, int)) and str(item).strip() for item in value
        ):
            raise self.fail(f"field '{key}' must be a list of words", f"write '{key}: [a, b]'")
        return tuple(" ".join(str(item).split()) for item in value)

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise self.fail(
                f"'{key}' is '{value}'", f"use one of: {', '.join(options)}"
            )
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"'{key}' must be true or false", f"write '{key}: true' or 'false'")
        return value

    def date(self, key: str) -> dt.date:
        value = self.data.get(key)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(f"'{key}' is not a date ({value!r})", f"write '{key}: YYYY-MM-DD'")

    def number(self, key: str, required: bool = True) -> float | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.fail(f"'{key}' must be a number of 0 or more", f"write '{key}: 3'")
        return value


def check_placeholders(entry: Entry, key: str, value: str,
                        extra: tuple[str, ...] = ()) -> None:
    for name in re.findall(r"\{([^{}]*)\}", value):
        if name not in PLACEHOLDERS + extra:
            raise entry.fail(
                f"field '{key}' uses an unknown placeholder '{{{name}}}'",
                f"use only {', '.join('{' + p + '}' for p in PLACEHOLDERS + extra)}",
            )


def read_yaml(directory: Path, name: str) -> tuple[Any, str]:
    path = directory / name
    label = f"knowledge/{name}" if directory == DEFAULT_KNOWLEDGE_DIR else str(path)
    if not path.is_file():
        raise KnowledgeError(label, "(file)", "the file is missing", f"restore {name}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise KnowledgeError(label, "(file)", "the file is not UTF-8 text", "save it as UTF-8") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or str(error)
        raise KnowledgeError(
            label, where, f"the YAML cannot be read ({problem})",
            "check indentation and quotes; put text containing ':' in quotes",
        ) from None
    if not isinstance(data, dict):
        raise KnowledgeError(label, "(file)", "the file is empty or not a mapping",
                             "start the file with its top-level key, as in git history")
    return data, label


def entry_list(data: dict[str, Any], key: str, label: str) -> list[Any]:
    items = data.get(key)
    if not isinstance(items, list) or not items:
        raise KnowledgeError(label, key, f"'{key}' is missing or not a list",
                             f"write '{key}:' followed by '- ' entries")
    return items


def unique(ids: list[str], label: str, what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise KnowledgeError(label, f"{what} '{item}'", "the id is used twice",
                                 "give every entry its own id")
        seen.add(item)
