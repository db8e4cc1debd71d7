"""Execution-guided voting on a real SQLite database (the demo's concert_singer)."""

from __future__ import annotations

import pytest

from studio.inference.voting import Ballot, tally, vote, vote_all
from studio.project import DATA_DIR

DATABASE = DATA_DIR / "demo" / "databases" / "concert_singer.sqlite"
SIX = ("SELECT count(*) FROM singer", "SELECT COUNT(singer_id) FROM singer")
FRANCE = "SELECT count(*) FROM singer WHERE country = 'France'"
BROKEN = "SELECT count(*) FROM no_such_table"


def test_the_majority_result_wins_with_its_most_likely_sql() -> None:
    candidates = [FRANCE, SIX[0], BROKEN, SIX[1], SIX[0], FRANCE + " "]
    likelihoods = [-0.1, -3.0, -0.01, -1.0, -3.0, -0.2]
    voted = vote(DATABASE, candidates, likelihoods)
    # three candidates return 6 (two texts), two return France's count, one fails
    assert (voted.votes, voted.n, voted.executed, voted.distinct_results) == (3, 6, 5, 2)
    assert (voted.index, voted.sql, voted.agreement) == (3, SIX[1], 0.5)


def test_a_tie_goes_to_the_group_with_the_most_likely_candidate() -> None:
    candidates = [SIX[0], FRANCE, SIX[1], FRANCE]
    assert vote(DATABASE, candidates, [-2.0, -0.5, -2.0, -4.0]).sql == FRANCE
    assert vote(DATABASE, candidates, [-0.1, -0.5, -2.0, -4.0]).sql == SIX[0]
    assert vote(DATABASE, candidates).sql == SIX[0]  # no likelihoods: earlier is likelier


def test_rows_compare_as_sets_and_columns_in_order() -> None:
    by_age = "SELECT name FROM singer ORDER BY age"
    by_name = "SELECT name FROM singer ORDER BY name"
    two_columns = "SELECT name, age FROM singer"
    voted = vote(DATABASE, [two_columns, by_age, by_name])
    assert (voted.votes, voted.distinct_results, voted.index) == (2, 2, 1)


def test_when_nothing_executes_the_most_likely_candidate_answers() -> None:
    voted = vote(DATABASE, [BROKEN, "SELEC 1", "DROP TABLE singer"], [-5.0, -1.0, -3.0])
    assert (voted.sql, voted.votes, voted.executed) == ("SELEC 1", 0, 0)


def test_tally_votes_from_results_already_at_hand() -> None:
    sqls = ["a", "b", "c", "d", "e"]
    voted = tally(sqls, ["x", None, "y", "y", "x"])
    assert (voted.sql, voted.votes, voted.executed, voted.distinct_results) == ("a", 2, 4, 2)
    assert tally(sqls, ["x", None, "y", "y", "x"], [-3.0, 0.0, -1.0, -2.0, -4.0]).sql == "c"
    assert tally(sqls, [None] * 5, [-3.0, -1.0, -2.0, -5.0, -4.0]).sql == "b"
    with pytest.raises(ValueError, match="one result per candidate"):
        tally(sqls, ["x"])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one candidate"):
        vote(DATABASE, [])
    with pytest.raises(ValueError, match="one likelihood per candidate"):
        vote(DATABASE, [SIX[0]], [-1.0, -2.0])


def test_vote_all_decides_each_question_in_order() -> None:
    ballots = [
        Ballot(DATABASE, [FRANCE, SIX[0], SIX[1]]),
        Ballot(DATABASE, [BROKEN, FRANCE]),
        Ballot(DATABASE, [BROKEN]),
    ]
    done: list[int] = []
    votes = vote_all(ballots, workers=2, on_done=done.append)
    assert [(v.sql, v.votes, v.n) for v in votes] == [
        (SIX[0], 2, 3),
        (FRANCE, 1, 2),
        (BROKEN, 0, 1),
    ]
    assert done == [1, 1, 1]
