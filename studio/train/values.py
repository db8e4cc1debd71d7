"""Value checkers for config keys: each turns a raw YAML value into the typed value or raises a
StudioError naming the key and what is accepted, and describes what it accepts (for docs and help).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError


class Check(ABC):
    """A value checker: `check(key, value)` -> the typed value; `accepted` says what it takes."""

    accepted = ""

    @abstractmethod
    def __call__(self, key: str, value: Any) -> Any:
        """The typed value of config key `key`, or a StudioError naming what is accepted."""


@dataclass(frozen=True)
class Text(Check):
    """A non-empty string (None or "" allowed when `optional`)."""

    optional: bool = False

    @property
    def accepted(self) -> str:
        return "a string"

    def __call__(self, key: str, value: Any) -> str | None:
        if self.optional and value in (None, ""):
            return None
        if not isinstance(value, str) or not value.strip():
            raise StudioError(f"config key '{key}': expected a non-empty string, got {value!r}")
        return value.strip()


@dataclass(frozen=True)
class Names(Check):
    """A list of names: a comma-separated string or a list of strings."""

    @property
    def accepted(self) -> str:
        return "names, comma-separated or a list"

    def __call__(self, key: str, value: Any) -> list[str]:
        if isinstance(value, str):
            items = [part.strip() for part in value.split(",")]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            items = [item.strip() for item in value]
        elif value is None:
            items = []
        else:
            raise StudioError(
                f"config key '{key}': expected a comma-separated string or a list of strings, "
                f"got {value!r}"
            )
        return [item for item in items if item]


@dataclass(frozen=True)
class Flag(Check):
    """true or false (also yes/no/1/0 as strings)."""

    @property
    def accepted(self) -> str:
        return "true, false"

    def __call__(self, key: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise StudioError(f"config key '{key}': expected true or false, got {value!r}")


# the words YAML 1.1 reads as booleans, for a choice such as `eval_strategy: no`
BOOLEAN_WORDS = {False: ("no", "false", "off"), True: ("yes", "true", "on")}


@dataclass(frozen=True)
class Choice(Check):
    """One of `choices`; `refused` maps values that are known but not accepted to the reason.
    A boolean stands for the choice YAML read it from (`no` -> False -> "no")."""

    choices: Sequence[str]
    refused: Mapping[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> str:
        return ", ".join(self.choices)

    def __call__(self, key: str, value: Any) -> str:
        if isinstance(value, bool):
            value = next((word for word in BOOLEAN_WORDS[value] if word in self.choices), value)
        if value not in self.choices:
            reason = f" ({self.refused[value]})" if value in self.refused else ""
            raise StudioError(
                f"config key '{key}': {value!r} is not accepted; use one of "
                f"{', '.join(self.choices)}{reason}"
            )
        return value


@dataclass(frozen=True)
class Number(Check):
    """An int or float within bounds (open or closed); NaN and infinities are refused."""

    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    @property
    def accepted(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts) or ("an integer" if self.kind is int else "a number")

    def _range_text(self) -> str:
        return f" {self.accepted}" if self.low is not None or self.high is not None else ""

    def __call__(self, key: str, value: Any) -> Any:
        if self.optional and value is None:
            return None
        kind = self.kind
        if isinstance(value, str):
            try:
                value = float(value) if kind is float else int(value)
            except ValueError:
                pass
        article = "an integer" if kind is int else "a number"
        if isinstance(value, float) and not math.isfinite(value):
            raise StudioError(
                f"config key '{key}': {value!r} is not a finite number; give {article}"
                f"{self._range_text()}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (kind is int and value != int(value))
        ):
            raise StudioError(
                f"config key '{key}': expected {article}{self._range_text()}, got {value!r}"
            )
        value = kind(value)
        low, high = self.low, self.high
        too_low = low is not None and (value <= low if self.low_open else value < low)
        too_high = high is not None and (value >= high if self.high_open else value > high)
        if too_low or too_high:
            raise StudioError(
                f"config key '{key}': {value!r} is out of range; accepted:{self._range_text()}"
            )
        return value


@dataclass(frozen=True)
class Rows(Check):
    """A fraction in [0, 1) or a whole number of rows."""

    @property
    def accepted(self) -> str:
        return "a fraction in [0, 1) or a whole number of rows"

    def __call__(self, key: str, value: Any) -> float:
        number = Number(float, 0)(key, value)
        if number >= 1 and number != int(number):
            raise StudioError(
                f"config key '{key}': {value!r} is neither a fraction in [0, 1) nor a whole "
                "number of rows"
            )
        return number


@dataclass(frozen=True)
class Reporters(Check):
    """Experiment trackers: a name or a list of names among `choices`."""

    choices: Sequence[str]

    @property
    def accepted(self) -> str:
        return ", ".join(self.choices)

    def __call__(self, key: str, value: Any) -> list[str]:
        names = Names()(key, value)
        for name in names:
            Choice(self.choices)(key, name)
        if "none" in names and len(names) > 1:
            raise StudioError(f"config key '{key}': 'none' cannot be combined with {names}")
        return [name for name in names if name != "none"]
