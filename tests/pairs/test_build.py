"""Verification and pair strategies on hand-written candidates against a real demo database."""

from __future__ import annotations

from studio.data.registry import database_ref
from studio.pairs.build import interleave, pair_verdict, plan_pairs
from studio.pairs.verify import verify_samples
from studio.sql.dialect import normalize_sql
from studio.workspace import Workspace

GOLD = "SELECT name FROM singer WHERE genre = 'Jazz'"
LOOP = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
SAMPLES = [
    (
        0,
        "```sql\nSELECT name FROM singer WHERE genre = 'jazz'\n```",
        "SELECT name FROM singer WHERE genre = 'jazz'",
    ),
    (1, "", "SELECT nme FROM singer"),
    (2, "", "SELECT s.name FROM singer AS s WHERE s.genre = 'Jazz'"),
    (3, "", "select name from singer where genre = 'jazz';"),
    (4, "", LOOP),
    (5, "", "SELECT name FROM singer"),
    (6, "", "SELECT T1.name FROM singer AS T1 WHERE T1.genre = 'Jazz'"),
]


def verified(ws: Workspace):
    database = database_ref(ws, "demo_train", "concert_singer")
    return verify_samples(database, GOLD, SAMPLES, timeout_s=0.5)


def test_candidates_are_labelled_by_execution_and_deduplicated(demo_ws: Workspace) -> None:
    candidates, gold_execution = verified(demo_ws)
    by_sample = {c.sample: c for c in candidates}
    assert [by_sample[s].label for s in range(7)] == [
        "wrong_result",
        "error",
        "correct",
        "wrong_result",
        "timeout",
        "wrong_result",
        "correct",
    ]
    assert by_sample[3].duplicate_of == 0  # same normal form as sample 0
    assert by_sample[6].duplicate_of == 2  # aliases differ only
    assert by_sample[1].execution["error_kind"] == "unknown_column"
    assert by_sample[0].parse_error is None
    assert (
        gold_execution["ok"]
        and gold_execution["row_count"] == by_sample[2].execution["row_count"] > 0
    )


def test_gold_strategy_prefers_wrong_results_and_never_rejects_timeouts_or_duplicates(
    demo_ws: Workspace,
) -> None:
    candidates, gold_execution = verified(demo_ws)
    plan = plan_pairs("gold", candidates, GOLD, normalize_sql(GOLD, "sqlite"), gold_execution, 5)
    assert plan.outcome == "paired"
    assert [(c.origin, r.origin) for c, r in plan.pairs] == [
        ("gold", "sample:0"),
        ("gold", "sample:5"),
        ("gold", "sample:1"),
    ]
    assert all(c.sql == GOLD and c.label == "correct" for c, _ in plan.pairs)
    assert [r.label for _, r in plan.pairs] == ["wrong_result", "wrong_result", "error"]
    # the same inputs give the same pairs
    again = plan_pairs(
        "gold", list(reversed(candidates)), GOLD, normalize_sql(GOLD, "sqlite"), gold_execution, 5
    )
    assert again == plan


def test_onpolicy_pairs_a_correct_sample_with_wrong_ones(demo_ws: Workspace) -> None:
    candidates, gold_execution = verified(demo_ws)
    plan = plan_pairs(
        "onpolicy", candidates, GOLD, normalize_sql(GOLD, "sqlite"), gold_execution, 2
    )
    assert [(c.origin, r.origin) for c, r in plan.pairs] == [
        ("sample:2", "sample:0"),
        ("sample:2", "sample:5"),
    ]


def test_questions_without_usable_candidates_give_their_reason(demo_ws: Workspace) -> None:
    candidates, gold_execution = verified(demo_ws)
    normal = normalize_sql(GOLD, "sqlite")
    only_correct = [c for c in candidates if c.label == "correct"]
    only_wrong = [c for c in candidates if c.label != "correct"]
    only_timeout = [c for c in candidates if c.label == "timeout"]
    assert (
        plan_pairs("gold", only_correct, GOLD, normal, gold_execution, 1).outcome
        == "no_wrong_candidate"
    )
    assert (
        plan_pairs("gold", only_timeout, GOLD, normal, gold_execution, 1).outcome
        == "no_wrong_candidate"
    )
    assert (
        plan_pairs("onpolicy", only_wrong, GOLD, normal, gold_execution, 1).outcome
        == "no_correct_candidate"
    )
    database = database_ref(demo_ws, "demo_train", "concert_singer")
    broken, broken_gold = verify_samples(database, "SELECT x FROM nowhere", SAMPLES[:2])
    assert {c.label for c in broken} == {"gold_error"}
    assert (
        plan_pairs("gold", broken, "SELECT x FROM nowhere", "", broken_gold, 1).outcome
        == "gold_error"
    )


def test_interleave_uses_every_rejected_before_repeating_one() -> None:
    assert interleave(["c0", "c1"], ["r0", "r1", "r2"], 6) == [
        ("c0", "r0"),
        ("c1", "r1"),
        ("c0", "r2"),
        ("c1", "r0"),
        ("c0", "r1"),
        ("c1", "r2"),
    ]
    assert len(set(interleave(["c0", "c1"], ["r0", "r1"], 10))) == 4


def test_pair_verdict_flags_right_rejected_and_wrong_chosen() -> None:
    assert pair_verdict("correct", "wrong_result") == ("valid", None)
    assert pair_verdict("correct", "error") == ("valid", None)
    assert pair_verdict("correct", "correct")[0] == "flagged"
    assert "timed out" in pair_verdict("correct", "timeout")[1]
    assert "chosen SQL does not return the gold result" in pair_verdict("wrong_result", "error")[1]
