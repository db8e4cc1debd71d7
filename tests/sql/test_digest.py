"""`rows_digest` against the EX set rule on real results: every pair of SpiderMan test golds
of one database, and numbers of different types but equal value; `rows_overlap`, the share of
rows two results have in common, on the same pairs."""

from __future__ import annotations

import itertools
from pathlib import Path

from studio.sql.compare import results_match, rows_digest, rows_overlap
from studio.sql.execute import execute_sql
from studio.sql.score import ScoreItem, score


def test_digests_are_equal_exactly_when_results_match_as_sets(
    spiderman_test_queries: list[dict[str, str]], spiderman_sqlite_dir: Path
) -> None:
    results: dict[str, list[list[tuple]]] = {}
    for row in spiderman_test_queries:
        result = execute_sql(spiderman_sqlite_dir / f"{row['database']}.sqlite", row["sql"])
        assert result.ok, row
        results.setdefault(row["database"], []).append(result.rows)
    same = differ = 0
    for rows in results.values():
        for a, b in itertools.combinations(rows, 2):
            match = results_match(a, b)
            assert (rows_digest(a) == rows_digest(b)) == match
            assert (rows_overlap(a, b) == 1.0) == match and rows_overlap(a, b) == rows_overlap(b, a)
            same, differ = same + match, differ + (not match)
    assert same > 0 and differ > 0  # the slice holds both kinds of pair


def test_row_order_duplicates_and_number_types_do_not_change_the_digest(
    concert_singer_sqlite: Path,
) -> None:
    def digest(sql: str) -> str:
        result = execute_sql(concert_singer_sqlite, sql)
        assert result.ok, result.error
        return rows_digest(result.rows)

    by_age = digest("SELECT name, age FROM singer ORDER BY age")
    assert digest("SELECT name, age FROM singer ORDER BY name DESC") == by_age
    assert digest("SELECT name, age FROM singer UNION ALL SELECT name, age FROM singer") == by_age
    assert digest("SELECT age, name FROM singer") != by_age  # column order counts
    assert digest("SELECT count(*) FROM singer") == digest("SELECT count(*) * 1.0 FROM singer")
    assert digest("SELECT 1") == digest("SELECT 1 = 1") != digest("SELECT '1'")
    assert digest("SELECT 0.5") != digest("SELECT '0.5'")


def test_verdicts_keep_the_digest_of_each_execution_when_asked(concert_singer_sqlite: Path) -> None:
    gold = "SELECT name FROM singer"
    items = [
        ScoreItem("same", concert_singer_sqlite, gold, "SELECT name FROM singer ORDER BY age"),
        ScoreItem("broken", concert_singer_sqlite, gold, "SELECT nme FROM singer"),
    ]
    same, broken = score(items, workers=1, digests=True)
    assert same.pred.digest == same.gold.digest is not None
    assert broken.pred.digest is None and broken.gold.digest == same.gold.digest
    # evaluation and GRPO rewards compare rows directly: no digest unless asked for
    plain = score(items, workers=1)
    assert all(v.pred.digest is None and v.gold.digest is None for v in plain)


def test_rows_overlap_counts_shared_rows_over_the_rows_of_either() -> None:
    assert rows_overlap([(1, "a"), (2, "b")], [(2, "b"), (3, "c")]) == 1 / 3
    assert rows_overlap([(1,), (1,), (2,)], [(1.0,), (True,)]) == 1 / 2  # sets; 1 == 1.0 == True
    assert rows_overlap([("1",)], [(1,)]) == 0.0
    assert rows_overlap([], []) == 1.0 and rows_overlap([], [(1,)]) == 0.0
