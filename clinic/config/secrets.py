"""Secrets the servers share, read from the environment only, and checked at start-up.

| variable | who uses it |
| --- | --- |
| ``CLINIC_RASA_API_TOKEN`` | Rasa's HTTP API (``--auth-token``); the staff tools that call it |
| ``CLINIC_ACTIONS_TOKEN`` | sent by Rasa with every action call, checked by the action server |
| ``CLINIC_SESSION_SECRET`` | signs the chat widget's session tokens (socket.io) |
| ``CLINIC_API_TOKEN`` | bearer token of the REST channel (required beyond loopback) |

A server that needs one refuses to start without it, or with a weak one (shorter than
``MIN_SECRET_LENGTH`` characters, or made of a few repeated characters).

``python -m clinic.config.secrets ensure var/secrets.env`` (run by ``make run``) writes a random value
for each of the first three that is neither in the environment nor in the file yet, with file
mode 600, and never prints one. ``CLINIC_API_TOKEN`` is not generated: without it the REST
channel answers loopback callers only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

MIN_SECRET_LENGTH = 24
GENERATED = ("CLINIC_RASA_API_TOKEN", "CLINIC_ACTIONS_TOKEN", "CLINIC_SESSION_SECRET",
             "CLINIC_CONSOLE_JWT_SECRET")
PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "password", "token"})


class SecretError(RuntimeError):
    """A required secret is missing or too weak; the message says how to fix it."""


def weakness(value: str) -> str | None:
    """Why ``value`` is not good enough as a secret, or None if it is."""
    if not value:
        return "it is not set"
    if value.startswith("${"):
        return "it is an unexpanded placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < 8 or value.lower() in PLACEHOLDERS:
        return "it is too easy to guess"
    return None


def require_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of the secret ``name``; SecretError if it is missing or weak."""
    value = (environ if environ is not None else os.environ).get(name, "").strip()
    problem = weakness(value)
    if problem:
        raise SecretError(
            f"{name} is required and {problem}. `make run` creates one in var/secrets.env; "
            f"in production set it in the environment file (deploy/clinic.env.example), e.g. "
            f"{name}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return value


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of an environment file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def ensure(path: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """Add a random value to ``path`` for each generated secret set nowhere; return their names."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    existing = read_env_file(path)
    missing = [name for name in GENERATED
               if weakness(env.get(name, "")) and weakness(existing.get(name, ""))]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
    os.chmod(path, 0o600)
    if missing:
        with path.open("a", encoding="utf-8") as out:
            for name in missing:
                out.write(f"{name}={secrets.token_urlsafe(32)}\n")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the local servers' shared secrets.")
    parser.add_argument("command", choices=["ensure"])
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    created = ensure(args.file)
    if created:
        print(f"Created {', '.join(created)} in {args.file} (mode 600).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
