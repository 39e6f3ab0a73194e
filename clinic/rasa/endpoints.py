"""Copies of the project's endpoints.yml for servers started elsewhere (tests, benchmark).

They keep every setting of the real file, text for text (so ``${...}`` secrets are still
expanded by Rasa), and change only where the action server is. Conversations go where the
``tracker_store_url`` setting says (``CLINIC_TRACKER_STORE_URL``), so what is tested and
measured is what `make run` runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from clinic.knowledge.kb import PROJECT_ROOT

ACTION_URL = re.compile(r"^(action_endpoint:\n(?:[ #].*\n|\n)*?  url: ).*$", re.MULTILINE)


def write_endpoints(path: Path, actions_url: str) -> Path:
    """Write endpoints.yml at ``path`` with another action server URL."""
    text = (PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8")
    replaced, count = ACTION_URL.subn(lambda m: m.group(1) + actions_url, text, count=1)
    if count != 1:
        raise ValueError("endpoints.yml has no action_endpoint url to replace")
    path.write_text(replaced, encoding="utf-8")
    return path
