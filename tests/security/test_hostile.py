"""Hostile SQL through every path that runs SQL, on SQLite and on the running MariaDB.

Each statement of catalogue.py is refused or bounded on each path: `execute_sql`, the
`sql run` command, `eval --predictions`, `pairs set` and the playground's judging. After
each, the database is unchanged, no file appeared, and the time stayed within the
query's timeout plus the executor's grace.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from studio.cli import main as studio_main
from studio.data.importers.demo import open_workspace
from studio.jobs.runtime import read_jsonl
from studio.pairs.config import MiningConfig
from studio.sql.execute import execute_sql
from studio.sql.sandbox import GRACE_S
from studio.workspace import Workspace

catalogue = sys.modules["studio_hostile_catalogue"]  # loaded by conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1.0
BOUND_S = TIMEOUT_S + GRACE_S + 1.0  # the grace, plus killing and reaping a stopped executor
GOLD_SQL = "SELECT COUNT(*) FROM singer"
ARGV_CHARS = 100_000  # Linux takes no longer command-line argument


class PairWorkspace(NamedTuple):
    """A workspace for pairs, its mining run's config and the question indexes still free."""

    ws: Workspace
    config: MiningConfig
    indexes: Iterator[int]


def check_outcome(attack, error_kind: str | None) -> None:
    """A statement expected to be refused is; a bounded one gets any verdict (its time and the
    database are checked beside)."""
    if attack.expect == "refused":
        assert error_kind == "refused", f"{attack.label()} was not refused: {error_kind}"


def check_untouched(before: tuple, fingerprint: Callable[[], tuple], watched_dir: Path) -> None:
    assert fingerprint() == before
    assert list(watched_dir.iterdir()) == []


def test_execute_sql(engine, attack, target, fill, fingerprint, watched_dir: Path) -> None:
    before = fingerprint()
    result = execute_sql(target, fill(attack.sql), timeout_s=TIMEOUT_S, max_rows=1000)
    check_outcome(attack, result.error_kind)
    assert result.elapsed_s <= BOUND_S
    check_untouched(before, fingerprint, watched_dir)
    assert execute_sql(target, "SELECT COUNT(*) FROM singer").rows == [(60,)]


def test_sql_run_command(
    engine, attack, target, fill, fingerprint, watched_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint()
    code = studio_main(
        ["sql", "run", "--db", target, "--sql", fill(attack.sql), "--timeout", str(TIMEOUT_S)]
    )
    printed = capsys.readouterr()
    result = json.loads(printed.out)
    check_outcome(attack, result["error_kind"])
    assert code == {None: 0, "refused": 2}.get(result["error_kind"], 1)
    check_untouched(before, fingerprint, watched_dir)


@pytest.fixture
def hostile_workspace(engine: str, target: str, tmp_path: Path) -> tuple[Workspace, str]:
    """A workspace with one dataset of the engine's database: one question per attack, each
    with a plain gold query; returns it with the dataset's name."""
    from studio.data.importers.common import ImportOptions
    from studio.data.importers.csv_sqlite import import_csv

    ws = open_workspace(tmp_path / "ws")
    db_id = Path(target).stem if engine == "sqlite" else target.rsplit("/", 1)[1]
    questions = tmp_path / "hostile.csv"
    with questions.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["database", "question", "sql"])
        for index, _ in enumerate(catalogue.attacks_for(engine)):
            writer.writerow([db_id, f"How many singers are there? ({index})", GOLD_SQL])
    options = (
        ImportOptions(name="hostile", db_dir=Path(target).parent)
        if engine == "sqlite"
        else ImportOptions(name="hostile", mysql_url=target)
    )
    (dataset,) = import_csv(ws, questions, options)
    return ws, dataset.name


def test_eval_predictions_command(
    engine: str,
    target: str,
    hostile_workspace,
    fill,
    fingerprint,
    watched_dir: Path,
    tmp_path: Path,
) -> None:
    """Every attack as a prediction of one `eval --predictions` run: every question gets a
    verdict and the run finishes; nothing is written anywhere."""
    ws, dataset = hostile_workspace
    attacks = catalogue.attacks_for(engine)
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(
        "".join(json.dumps({"index": i, "sql": fill(a.sql)}) + "\n" for i, a in enumerate(attacks)),
        encoding="utf-8",
    )
    before = fingerprint()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "eval",
            "--dataset",
            dataset,
            "--predictions",
            str(predictions),
            "--timeout",
            str(TIMEOUT_S),
            "--out",
            str(tmp_path / "run"),
            "--workspace",
            str(ws.root),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    verdicts = read_jsonl(tmp_path / "run" / "verdicts.jsonl")
    by_index = {v["index"]: v for v in verdicts}
    assert sorted(by_index) == list(range(len(attacks)))
    for index, attack in enumerate(attacks):
        verdict = by_index[index]
        assert verdict["gold"]["ok"] and not verdict["correct"], attack.label()
        check_outcome(attack, verdict["pred"]["error_kind"])
        assert verdict["pred"]["elapsed_s"] <= BOUND_S, attack.label()
    check_untouched(before, fingerprint, watched_dir)


@pytest.fixture(scope="module")
def pair_workspaces(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], PairWorkspace]:
    """`pair_workspaces(engine)`: the engine's workspace holding a registered mining run, made
    once; each test below records a pair of its own in it."""
    from studio.pairs.records import register_run

    made: dict[str, PairWorkspace] = {}

    def get(engine: str) -> PairWorkspace:
        if engine not in made:
            ws = open_workspace(tmp_path_factory.mktemp(f"pairs-{engine}") / "ws")
            config = MiningConfig(model="hostile", dataset="demo_train", n=1, temperature=0.0)
            register_run(ws, "hostile", config)
            made[engine] = PairWorkspace(ws, config, itertools.count())
        return made[engine]

    return get


@pytest.fixture
def hostile_pair(
    engine: str, target: str, pair_workspaces: Callable[[str], PairWorkspace]
) -> tuple[Workspace, int]:
    """A new pair about the engine's database (gold chosen, a wrong rejected), as a mining run
    would have stored it, for this test alone."""
    from studio.pairs.build import QuestionPlan, Side
    from studio.pairs.curate import list_pairs
    from studio.pairs.records import Question, record_question

    ws, config, indexes = pair_workspaces(engine)
    index = next(indexes)
    gold = execute_sql(target, GOLD_SQL).to_dict()
    question = Question(
        index, str(index), "demo_train", "concert_singer", target, "system", "prompt", GOLD_SQL
    )
    chosen = Side(GOLD_SQL, "gold", "correct", gold)
    rejected = Side("SELECT 0", "sample:0", "wrong_result", {"ok": True})
    added = record_question(
        ws,
        "hostile",
        question,
        "gold",
        [],
        QuestionPlan("paired", [(chosen, rejected)]),
        gold,
        config,
    )
    assert added == 1
    (pair,) = list_pairs(ws, offset=index, limit=1)  # one pair per question, in order
    assert pair.question_index == index and pair.rejected_sql == "SELECT 0"
    return ws, pair.id


def test_pairs_set_command(
    engine,
    attack,
    hostile_pair,
    fill,
    fingerprint,
    watched_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An edit's SQL is executed against the gold: the attack is labelled, never run."""
    from studio.pairs.curate import get_pair

    ws, pair_id = hostile_pair
    before = fingerprint()
    code = studio_main(
        [
            "pairs",
            "set",
            str(pair_id),
            "--rejected",
            fill(attack.sql),
            "--timeout",
            str(TIMEOUT_S),
            "--workspace",
            str(ws.root),
        ]
    )
    capsys.readouterr()
    assert code == 0
    pair = get_pair(ws, pair_id)
    assert pair.rejected_label in ("error", "timeout", "wrong_result"), pair.rejected_label
    check_outcome(attack, pair.rejected_execution["error_kind"])
    assert pair.rejected_execution["elapsed_s"] <= BOUND_S
    check_untouched(before, fingerprint, watched_dir)


def test_playground_judging(engine, attack, target, fill, fingerprint, watched_dir: Path) -> None:
    """The playground judges an answer against a gold typed by the user: either may be hostile."""
    from studio.inference.playground import judge_sql

    before = fingerprint()
    sql = fill(attack.sql)
    as_gold = judge_sql(target, GOLD_SQL, sql, timeout_s=TIMEOUT_S)
    if attack.expect == "refused":
        assert as_gold == "gold_error"
        assert judge_sql(target, sql, GOLD_SQL, timeout_s=TIMEOUT_S) == "pred_refused"
    else:  # as an answer, a bounded attack is judged as in evaluation (above)
        assert as_gold in ("gold_error", "wrong_result")
    check_untouched(before, fingerprint, watched_dir)


# `python -m studio ...` that writes the process's own peak resident memory (VmHWM, which a
# new program image starts afresh, unlike getrusage's ru_maxrss) to $PEAK_FILE when it exits
PEAK_REPORTING_STUDIO = (
    "import atexit, os, runpy, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
    "    open(os.environ['PEAK_FILE'], 'w').write(status)\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'studio'\n"
    "runpy.run_module('studio', run_name='__main__')\n"
)


def test_sql_run_processes_stay_bounded(
    engine: str, target: str, fill, fingerprint, watched_dir: Path, tmp_path: Path
) -> None:
    """One attack of each category as a user runs it: a real `sql run` process that prints a
    verdict and no traceback, and whose own peak memory stays bounded (its executors run
    under their own limit, checked below)."""
    bounds = {"STUDIO_SQL_MEMORY_MB": "512", "STUDIO_SQL_RESULT_MB": "64"}
    peak_file = tmp_path / "peak_kb"
    seen: set[str] = set()
    before = fingerprint()
    for attack in catalogue.attacks_for(engine):
        if attack.category in seen or len(attack.sql) > ARGV_CHARS:
            continue
        seen.add(attack.category)
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK_REPORTING_STUDIO,
                "sql",
                "run",
                "--db",
                target,
                "--sql",
                fill(attack.sql),
                "--timeout",
                str(TIMEOUT_S),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **bounds, "PEAK_FILE": str(peak_file)},
        )
        assert "Traceback" not in done.stderr, done.stderr
        check_outcome(attack, json.loads(done.stdout)["error_kind"])
        assert int(peak_file.read_text()) <= 512 * 1024, attack.label()  # kilobytes
    check_untouched(before, fingerprint, watched_dir)
    assert len(seen) == len({a.category for a in catalogue.attacks_for(engine)})


def test_executors_run_under_their_memory_limit(hostile_sqlite: Path) -> None:
    from studio.sql.limits import QueryBounds
    from studio.sql.sandbox import Executor

    executor = Executor()
    try:
        limits = Path(f"/proc/{executor.process.pid}/limits").read_text()
    finally:
        executor.stop()
    line = next(row for row in limits.splitlines() if row.startswith("Max address space"))
    assert line.split()[3] == str(QueryBounds.from_env().memory_bytes)


def test_mining_labels_every_candidate(
    engine: str, target: str, fill, fingerprint, watched_dir: Path
) -> None:
    """A mining question whose samples are all the attacks: each is labelled (never the gold's
    result), so the question settles instead of failing its job; a refused sample is never
    taken for a duplicate of a harmless one that differs only in comments."""
    from studio.pairs.verify import verify_samples

    attacks = catalogue.attacks_for(engine)
    before = fingerprint()
    harmless = "SELECT name FROM singer"
    samples = [(0, harmless, harmless)] + [
        (index, attack.sql, fill(attack.sql)) for index, attack in enumerate(attacks, start=1)
    ]
    candidates, gold = verify_samples(target, GOLD_SQL, samples, timeout_s=TIMEOUT_S)
    assert gold["ok"] and len(candidates) == len(attacks) + 1
    for candidate, attack in zip(candidates[1:], attacks, strict=True):
        assert candidate.label in ("error", "timeout", "wrong_result"), attack.label()
        check_outcome(attack, candidate.execution["error_kind"])
    check_untouched(before, fingerprint, watched_dir)
