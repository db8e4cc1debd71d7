"""Spider's hardness rules on sqlglot's tree: each label from its component counts, and every
gold query of the SpiderMan slice labelled."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from studio.sql.hardness import HARDNESS_ORDER, spider_hardness

from ..conftest import FIXTURES

JOIN = "FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id = T2.stadium_id"


@pytest.mark.parametrize(
    ("sql", "hardness"),
    [
        ("SELECT count(*) FROM singer", "easy"),  # nothing counted
        ("SELECT name FROM singer WHERE age > 20", "easy"),  # one component
        ("SELECT name, country, age FROM singer ORDER BY age DESC", "medium"),  # + 2 columns
        # three aggregates and three columns: two "others"
        ("SELECT avg(age), min(age), max(age) FROM singer WHERE country = 'France'", "medium"),
        ("SELECT song_name, song_release_year FROM singer ORDER BY age LIMIT 1", "medium"),
        (f"SELECT T2.name, count(*) {JOIN} GROUP BY T1.stadium_id", "medium"),  # join + group
        (
            "SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM concert)",
            "hard",
        ),
        ("SELECT country FROM singer WHERE age > 40 INTERSECT SELECT country FROM singer", "hard"),
        (f"SELECT T1.name {JOIN} WHERE T2.x = 1 ORDER BY T1.y", "hard"),  # three components
        ("SELECT `name` FROM `ship` WHERE `a` LIKE '%x%' OR `b` = 2", "hard"),  # where, or, like
        (f"SELECT T2.name {JOIN} WHERE T1.year >= 2014 GROUP BY T2.stadium_id LIMIT 1", "extra"),
        ("SELECT name FROM (SELECT name FROM a) WHERE x IN (SELECT x FROM b)", "extra"),  # 2 nested
    ],
)
def test_a_query_is_labelled_by_spiders_component_counts(sql: str, hardness: str) -> None:
    assert spider_hardness(sql) == hardness


def test_what_is_not_a_query_has_no_hardness() -> None:
    assert spider_hardness("not sql at all") is None
    assert spider_hardness("DELETE FROM singer") is None


def test_every_gold_query_of_the_spiderman_slice_gets_a_label() -> None:
    with open(FIXTURES / "spiderman" / "test_queries.csv", encoding="utf-8") as handle:
        labels = Counter(spider_hardness(row["sql"]) for row in csv.DictReader(handle))
    assert set(labels) <= set(HARDNESS_ORDER) and sum(labels.values()) == 103
    assert len(labels) >= 3  # the slice's 103 questions span the levels
