"""Grouping prompts by shared leading tokens."""

from __future__ import annotations

from studio.inference.prefix_groups import common_prefix_length, group_by_prefix


def test_common_prefix_length() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([7, 8], [7, 8]) == 2


def test_prompts_on_one_schema_share_its_prefix_and_others_stay_apart() -> None:
    header = [1, 2]
    schema_a, schema_b = header + list(range(100, 140)), header + list(range(200, 230))
    encoded = [
        schema_a + [5, 6],
        schema_b + [7],
        schema_a + [8],
        schema_b + [9, 9, 9],
        [42, 43],
        schema_a + [5, 6],
    ]
    groups = group_by_prefix(encoded)
    assert sorted(i for g in groups for i in g.members) == list(range(len(encoded)))
    by_member = {i: g for g in groups for i in g.members}
    assert set(by_member[0].members) == {0, 2, 5} and by_member[0].length == len(schema_a)
    assert set(by_member[1].members) == {1, 3} and by_member[1].length == len(schema_b)
    assert by_member[4].members == (4,) and by_member[4].length == 0


def test_a_prefix_leaves_every_member_at_least_one_token() -> None:
    groups = group_by_prefix([[1, 2, 3], [1, 2, 3], [1, 2, 3, 4]])
    assert len(groups) == 1 and groups[0].length == 2


def test_nothing_shared_means_no_prefix() -> None:
    groups = group_by_prefix([[1, 2], [3, 4]])
    assert all(g.length == 0 for g in groups) and len(groups) == 2
    assert group_by_prefix([]) == []
