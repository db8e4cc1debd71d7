"""Dataset names: which are allowed and how one is made from a file or folder name.

A name is also a file name (`datasets/NAME.json`, and LLaMA-Factory's key for it), so it is
kept to 1-100 ASCII letters, digits, '_', '.' and '-', starting with a letter or digit. A
name the user gives is used exactly as given, or refused; a name made from a file or folder
name drops accents (é -> e) and turns every other character into '_'. Two names made that
way can coincide, and two names can differ only in letter case (one file on macOS and
Windows): the registry refuses both clashes (studio.data.registry).
"""

from __future__ import annotations

import re
import unicodedata

from studio.errors import StudioError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ALLOWED = "1-100 ASCII letters, digits, '_', '.' or '-', starting with a letter or digit"


def rows_file(name: str) -> str:
    """The workspace-relative rows file the studio writes for dataset `name`."""
    return f"datasets/{name}.json"


def name_from(text: str) -> str:
    """A dataset name made from `text` (a file or folder name): accents dropped, other
    characters '_', leading and trailing '_', '.' and '-' stripped, at most 100 characters."""
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(char for char in decomposed if not unicodedata.combining(char))
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", letters).strip("_.-")
    return name[:100].rstrip("_.-") or "dataset"


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a dataset name (with a suggestion), or None when it can."""
    if NAME_PATTERN.match(name):
        return None
    return f"dataset name {name!r} is not allowed: use {ALLOWED} (e.g. {name_from(name)!r})"


def checked_name(name: str) -> str:
    """`name` when it is allowed, else a StudioError saying why."""
    problem = name_problem(name)
    if problem is not None:
        raise StudioError(problem)
    return name
