"""What registering new datasets would overwrite or confuse, named before anything is written.

A new dataset clashes with a registered dataset of its name (unless replacing it was asked
for), with a registered name that differs only in letter case, with another new dataset of
the same name (two file names made into one name), with a file another dataset owns (its
rows file, or a companion such as an export's NAME.trl.jsonl), and with a file in the way
that no dataset owns (unless replacing was asked for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.data.names import name_problem, rows_file

COMPANIONS_KEY = "companion_files"
REPLACE_LABEL = "Replace an existing dataset"  # the studio's checkbox
REPLACE_FLAG = f'--replace (in the studio: tick "{REPLACE_LABEL}")'


@dataclass(frozen=True)
class NameClaim:
    """A name a new dataset takes, the text it was made from (None when given as is), and
    the files it writes, relative to the workspace."""

    name: str
    made_from: str | None
    files: tuple[str, ...]

    @classmethod
    def of(
        cls, name: str, made_from: str | None = None, companions: Sequence[str] = ()
    ) -> NameClaim:
        """Dataset `name`'s claim: its rows file and its companions (file names in datasets/)."""
        return cls(name, made_from, (rows_file(name), *(f"datasets/{file}" for file in companions)))

    @property
    def label(self) -> str:
        return f"'{self.made_from}'" if self.made_from is not None else f"'{self.name}'"

    @property
    def described(self) -> str:
        made = f" (the name made from {self.label})" if self.made_from is not None else ""
        return f"'{self.name}'{made}"


def owned_files(info: Mapping[str, Any], sidecar: Mapping[str, Any]) -> dict[str, str]:
    """Workspace-relative file (case-folded) -> the registered dataset that owns it."""
    owners = {}
    for name, entry in info.items():
        if isinstance(entry, dict) and isinstance(entry.get("file_name"), str):
            owners[entry["file_name"].casefold()] = name
    for name, record in sidecar.items():
        for file in (record or {}).get(COMPANIONS_KEY) or []:
            owners[str(file).casefold()] = name
    return owners


def origin(record: Mapping[str, Any] | None) -> str:
    """Where a registered dataset came from, for messages."""
    if record is None:
        return "registered by hand in dataset_info.json"
    described = f"{record.get('kind', '?')}, {record.get('rows', '?')} rows"
    if record.get("source_path"):
        return f"{described}, imported from {record['source_path']}"
    if record.get("source_format") == "pairs":
        return f"{described}, exported from curated pairs"
    return described


def clashes(
    root: Path,
    info: Mapping[str, Any],
    sidecar: Mapping[str, Any],
    claims: Sequence[NameClaim],
    replace: bool,
) -> list[str]:
    """One message per clash of `claims` with the registry, the workspace files and each other."""
    owners = owned_files(info, sidecar)
    problems: list[str] = []
    taken: dict[str, NameClaim] = {}
    for claim in claims:
        problem = name_problem(claim.name)
        earlier = taken.setdefault(claim.name.casefold(), claim)
        if problem is not None:
            problems.append(problem)
        elif earlier is not claim:
            problems.append(
                f"{earlier.label} and {claim.label} both become the dataset name "
                f"'{claim.name}' (or names differing only in letter case); import them "
                "one at a time, each with its own name"
            )
        else:
            problems += _registry_clashes(claim, info, sidecar, replace)
            problems += _file_clashes(claim, root, owners, replace)
    return problems


def _registry_clashes(
    claim: NameClaim, info: Mapping[str, Any], sidecar: Mapping[str, Any], replace: bool
) -> list[str]:
    """The claim's name registered already (unless replacing), or registered in another case."""
    problems = []
    if claim.name in info and not replace:
        problems.append(
            f"dataset {claim.described} already exists "
            f"({origin(sidecar.get(claim.name))}); replace it with {REPLACE_FLAG}, "
            "or choose another name"
        )
    for twin in info:
        if twin != claim.name and twin.casefold() == claim.name.casefold():
            problems.append(
                f"dataset name {claim.described} and the registered dataset '{twin}' "
                "differ only in letter case, so their files would be one file on macOS "
                "and Windows; choose another name"
            )
    return problems


def _file_clashes(
    claim: NameClaim, root: Path, owners: Mapping[str, str], replace: bool
) -> list[str]:
    """The claim's files owned by another dataset, or in the way and owned by none."""
    problems = []
    for file in claim.files:
        owner = owners.get(file.casefold())
        if owner is not None and owner.casefold() != claim.name.casefold():
            problems.append(
                f"{file} is a file of dataset '{owner}'; choose another name for '{claim.name}'"
            )
        elif owner is None and (root / file).exists() and not replace:
            problems.append(
                f"{root / file} is in the way and belongs to no registered dataset; "
                f"move it away, or overwrite it with {REPLACE_FLAG}"
            )
    return problems
