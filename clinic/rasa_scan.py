"""Keep Rasa's data discovery out of build and tool folders.

``rasa test`` with no arguments looks for test stories in ``.``: it walks the whole
project, including ``.venv`` (where it finds Rasa's own ``rasa init`` stories),
``node_modules`` and ``.rasa/cache`` (whose JSON files make it crash). Staff run plain
``rasa test`` from the project root, so the project's virtual environment loads this
module at start-up (``tools/rasa_scan_paths.pth``); when Rasa's ``rasa.shared.data``
module is imported, its directory walk is replaced by one that skips those folders.
Nothing else in Rasa changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from typing import Callable

SKIPPED_DIRECTORIES = frozenset(
    {".rasa", ".venv", "venv", "node_modules", ".git", "__pycache__", ".pytest_cache",
     ".hypothesis", ".ruff_cache", "build", "models", "results", "var", "bench", "widget"}
)
TARGET_MODULE = "rasa.shared.data"


def find_data_files_in_directory(
    directory: str, filter_property: Callable[[str], bool]
) -> set[str]:
    """Rasa's ``_find_data_files_in_directory``, minus build and tool folders."""
    from rasa.shared.data import is_valid_filetype

    found: set[str] = set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            path = os.path.join(root, name)
            if is_valid_filetype(path) and filter_property(path):
                found.add(path)
    return found


def patch(module) -> None:
    module._find_data_files_in_directory = find_data_files_in_directory


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != TARGET_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module):
            original_exec(module)
            patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Arrange for the patch to apply when Rasa's data module is imported."""
    if TARGET_MODULE in sys.modules:
        patch(sys.modules[TARGET_MODULE])
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
