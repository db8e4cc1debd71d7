"""Numbers typed into the studio's number fields, checked in the handler so a bad one is
refused with the field's name and the fix (Gradio's own bound check shows a bare "Error")."""

from __future__ import annotations

from studio.errors import StudioError


def number_at_least(value: float | None, field: str, minimum: float, default: float) -> float:
    """`value` of the number field `field` (`default` when it is empty), refused below
    `minimum`."""
    if value is None:
        return default
    if value < minimum:
        raise StudioError(
            f"{field} must be at least {minimum:g}, not {value:g}; type {minimum:g} or more"
        )
    return float(value)


def whole_at_least(value: float | None, field: str, minimum: int, default: int) -> int:
    """`value` of the whole-number field `field` (`default` when it is empty), refused below
    `minimum` or when it has a fraction."""
    number = number_at_least(value, field, minimum, default)
    if number != int(number):
        raise StudioError(f"{field} must be a whole number, not {number:g}; type {int(number)}")
    return int(number)
