"""YAML for configs: safe_load that refuses a key given twice in one mapping.

Plain YAML loaders keep the last of two equal keys without a word, so a config that sets
`learning_rate` twice trains with whichever came second. `load_yaml` names the key and
both lines instead. Keys brought in by a merge (`<<: *defaults`) may still be overridden.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

from studio.errors import StudioError

MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping gives the same key twice."""

    def __init__(self, key: Any, first_line: int, second_line: int) -> None:
        super().__init__(problem=f"key {key!r} appears twice")
        self.key, self.first_line, self.second_line = key, first_line, second_line


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that raises DuplicateKeyError for a repeated mapping key."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            first_lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first_lines:
                        raise DuplicateKeyError(key, first_lines[key], line)
                    first_lines[key] = line
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it below
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, source: str, fix: str = "fix the file") -> Any:
    """The YAML document in `text`; a StudioError naming `source` when it repeats a key, or
    when it does not parse (ending in `fix`)."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except DuplicateKeyError as error:
        raise StudioError(
            f"{source}: key '{error.key}' is given twice (lines {error.first_line} "
            f"and {error.second_line}); keep one of them"
        ) from None
    except yaml.YAMLError as error:
        raise StudioError(f"{source}: YAML does not parse {_where(error)}; {fix}") from None


def _where(error: yaml.YAMLError) -> str:
    """`at line L, column C: problem` (the line first, so a shortened message keeps it)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return f"({problem})"
    return f"at line {mark.line + 1}, column {mark.column + 1}: {problem}"
