"""Copies of the project's endpoints.yml for servers started elsewhere (tests, benchmark).

They keep every setting of the real file and change only where the action server and the
conversation store are, so what is tested and measured is what `make run` runs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from clinic.kb import PROJECT_ROOT


def write_endpoints(path: Path, actions_url: str, tracker_db: Path) -> Path:
    """Write endpoints.yml at ``path`` with another action server URL and tracker file."""
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = actions_url
    endpoints["tracker_store"]["db"] = str(tracker_db)
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return path
