"""The vote among a question's mined samples: hand-written candidates verified on a real demo
database, and the run's figures after a run that settles stored candidates and generates the
rest with the tiny model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from studio.data.registry import database_ref
from studio.inference.voting import vote
from studio.jobs.rundir import RunDir
from studio.pairs.config import write_config
from studio.pairs.majority import QuestionVote, vote_candidates
from studio.pairs.mine import mine
from studio.pairs.records import question_vote, register_run, store_samples
from studio.pairs.verify import Candidate, verify_samples
from studio.workspace import Workspace

from .conftest import TINY_LIMIT, store_rows, tiny_mining_config

FRANCE = "SELECT count(*) FROM singer WHERE country = 'France'"
FRANCE_TOO = "SELECT count(singer_id) FROM singer WHERE country = 'France'"
EVERYONE = "SELECT count(*) FROM singer"
EVERYONE_TOO = "SELECT count(name) FROM singer"
BROKEN = "SELECT count(*) FROM no_such_table"
LOOP = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def candidates(ws: Workspace, gold: str, sqls: list[str]) -> list[Candidate]:
    database = database_ref(ws, "demo_train", "concert_singer")
    samples = [(i, "", sql) for i, sql in enumerate(sqls)]
    return verify_samples(database, gold, samples, timeout_s=0.5)[0]


def voted(ws: Workspace, gold: str, sqls: list[str]) -> QuestionVote:
    result = vote_candidates(candidates(ws, gold, sqls))
    assert result is not None
    return result


def test_the_majority_result_answers(demo_ws: Workspace) -> None:
    result = voted(demo_ws, FRANCE, [EVERYONE, FRANCE_TOO, BROKEN, FRANCE, FRANCE_TOO])
    assert (result.sample, result.correct) == (1, True)
    assert (result.vote.votes, result.vote.n, result.vote.executed) == (3, 5, 4)
    assert result.vote.distinct_results == 2


def test_a_tie_goes_to_the_result_sampled_first(demo_ws: Workspace) -> None:
    wrong_first = voted(demo_ws, FRANCE, [EVERYONE, FRANCE, EVERYONE_TOO, FRANCE_TOO])
    assert (wrong_first.sample, wrong_first.vote.votes, wrong_first.correct) == (0, 2, False)
    right_first = voted(demo_ws, FRANCE, [FRANCE, EVERYONE, EVERYONE_TOO, FRANCE_TOO])
    assert (right_first.sample, right_first.correct) == (0, True)


def test_when_every_sample_fails_the_first_answers_and_is_wrong(demo_ws: Workspace) -> None:
    failing = candidates(demo_ws, FRANCE, [BROKEN, "SELEC 1", LOOP, "DROP TABLE singer"])
    assert [c.label for c in failing] == ["error", "error", "timeout", "error"]
    result = vote_candidates(failing)
    assert result is not None
    assert (result.sample, result.vote.votes, result.vote.executed) == (0, 0, 0)
    assert result.correct is False


def test_the_voted_sample_is_judged_by_its_own_label(demo_ws: Workspace) -> None:
    # one result as a set, but the gold's ORDER BY makes only one order right
    gold = "SELECT name FROM singer ORDER BY age"
    sqls = ["SELECT name FROM singer ORDER BY name", gold, "SELECT name FROM singer"]
    result = voted(demo_ws, gold, sqls)
    assert (result.sample, result.vote.votes, result.correct) == (0, 3, False)


def test_mining_votes_as_the_executing_vote_does(demo_ws: Workspace) -> None:
    database = database_ref(demo_ws, "demo_train", "concert_singer")
    for sqls in (
        [EVERYONE, FRANCE_TOO, BROKEN, FRANCE, FRANCE_TOO],
        [EVERYONE, FRANCE, EVERYONE_TOO, FRANCE_TOO],
        [BROKEN, "DROP TABLE singer", "SELECT 6", EVERYONE_TOO],
    ):
        assert voted(demo_ws, FRANCE, sqls).vote == vote(database, sqls)


def test_samples_verified_without_a_digest_get_no_vote(demo_ws: Workspace) -> None:
    verified = candidates(demo_ws, FRANCE, [FRANCE, EVERYONE])
    undigested = [
        dataclasses.replace(c, execution={k: v for k, v in c.execution.items() if k != "digest"})
        for c in verified
    ]
    assert vote_candidates(undigested) is None
    assert vote_candidates([]) is None


def test_a_resumed_run_counts_the_vote_of_every_question(
    demo_ws: Workspace, tiny_qwen2_dir: Path
) -> None:
    config = tiny_mining_config(tiny_qwen2_dir, n=3)
    run_dir = demo_ws.new_run_dir("pairs")
    write_config(run_dir, config)
    run_id = run_dir.name
    register_run(demo_ws, run_id, config)
    # questions 0 and 1 were answered before a crash: stored, never settled
    germany = "SELECT name FROM stadium WHERE country = 'Germany'"
    store_samples(
        demo_ws,
        run_id,
        [
            (0, 0, "", FRANCE),  # right, and outvotes the wrong one
            (0, 1, "", EVERYONE),
            (0, 2, "", FRANCE_TOO),
            (1, 0, "", "SELECT name FROM stadium"),  # wrong, and outvotes the right one
            (1, 1, "", germany),
            (1, 2, "", "SELECT name FROM stadium ORDER BY name"),
        ],
    )
    summary = mine(demo_ws, run_dir, config)
    assert summary["questions_generated_now"] == TINY_LIMIT - 2
    # the tiny model's samples (questions 2 and 3) all fail: no vote, nothing right
    expected = {
        "n": 3,
        "questions": TINY_LIMIT,
        "voted_correct": 1,
        "maj_at_n": 25.0,
        "any_correct": 2,
        "pass_at_n": 50.0,
        "correct_samples": 3,
        "samples": 3 * TINY_LIMIT,
        "mean_correct_share": 25.0,
    }
    assert summary["vote"] == expected
    assert json.loads(RunDir(run_dir).summary.read_text())["vote"] == expected
    metrics = [json.loads(line) for line in RunDir(run_dir).metrics.read_text().splitlines()]
    assert metrics[-1]["vote"] == expected
    rows = store_rows(
        demo_ws,
        "SELECT question_index, sample, votes, correct FROM pair_votes WHERE run_id = ? "
        "ORDER BY question_index",
        (run_id,),
    )
    assert [tuple(r) for r in rows] == [(0, 0, 2, 1), (1, 0, 2, 0), (2, 0, 0, 0), (3, 0, 0, 0)]
    assert question_vote(demo_ws, run_id, 1) == {
        "sample": 0,
        "votes": 2,
        "executed": 3,
        "distinct_results": 2,
        "n": 3,
        "correct": False,
    }

    again = mine(demo_ws, run_dir, config)
    assert again["questions_generated_now"] == 0 and again["vote"] == expected
