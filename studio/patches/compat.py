"""The compatibility check of the library internals a patch relies on (studio.patches.registry).

Every module a patch names is imported and every symbol looked up (and, where the table gives
one, the callable's leading parameters compared); the first mismatch is a PatchIncompatible
naming the patch, the symbol, the installed library version and the key that turns it off.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from typing import Any

from studio.errors import StudioError
from studio.patches.patch import Internal, Patch

_MISSING = object()


class PatchIncompatible(StudioError):
    """An installed library no longer has what a patch of its internals relies on."""


def library_version(module: str) -> str:
    """`<distribution> <version>` of the library a module belongs to, e.g. `transformers 5.17.0`."""
    package = module.split(".", 1)[0]
    try:
        return f"{package} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{package} (version unknown)"


def _lookup(module: Any, dotted: str) -> Any:
    found = module
    for part in dotted.split("."):
        found = getattr(found, part, _MISSING)
        if found is _MISSING:
            return _MISSING
    return found


def _parameters(found: Any) -> tuple[str, ...] | None:
    try:
        return tuple(inspect.signature(found).parameters)
    except (TypeError, ValueError):
        return None


def _problem(internal: Internal) -> str | None:
    """What is wrong with `internal` in the installed libraries, or None."""
    try:
        module = importlib.import_module(internal.module)
    except ImportError as error:
        return f"the module {internal.module} cannot be imported ({error})"
    for name in internal.names:
        if _lookup(module, name) is _MISSING:
            return f"{internal.module}.{name} is missing"
    for name, expected in internal.signatures:
        found = _lookup(module, name)
        parameters = None if found is _MISSING else _parameters(found)
        if parameters is None or parameters[: len(expected)] != expected:
            shown = "is missing" if found is _MISSING else f"takes ({', '.join(parameters or ())})"
            return (
                f"{internal.module}.{name} {shown}, where the patch expects it to take "
                f"({', '.join(expected)}, ...)"
            )
    return None


def check_patch(patch: Patch) -> None:
    """Raise PatchIncompatible when an internal `patch` relies on is missing or changed."""
    for internal in patch.internals:
        problem = _problem(internal)
        if problem is None:
            continue
        fix = (
            f"set {patch.off} to run without it"
            if patch.key is not None
            else "it cannot be turned off"
        )
        raise PatchIncompatible(
            f"patch '{patch.name}' ({patch.source}) no longer fits the installed "
            f"{library_version(internal.module)}: {problem} (checked with "
            f"{', '.join(patch.checked_with)}); {fix}, or install "
            f"{' and '.join(patch.checked_with)}"
        )
