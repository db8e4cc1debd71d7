"""Number fields of the studio's tabs, checked in their handlers."""

import pytest

from studio.errors import StudioError
from studio.web.numbers import number_at_least, whole_at_least


def test_empty_fields_take_their_default_and_good_values_pass() -> None:
    assert whole_at_least(None, "Limit", 0, 20) == 20
    assert whole_at_least(4.0, "Limit", 0, 20) == 4
    assert number_at_least(None, "Temperature", 0, 0.8) == 0.8
    assert number_at_least(0.0, "Temperature", 0, 0.8) == 0.0


def test_values_below_the_minimum_or_with_a_fraction_name_the_field_and_the_fix() -> None:
    with pytest.raises(StudioError, match=r"Limit must be at least 0, not -1; type 0 or more"):
        whole_at_least(-1, "Limit", 0, 20)
    with pytest.raises(StudioError, match=r"Batch size must be a whole number, not 2.5; type 2"):
        whole_at_least(2.5, "Batch size", 1, 8)
    with pytest.raises(StudioError, match=r"Temperature must be at least 0"):
        number_at_least(-0.5, "Temperature", 0, 0.8)
