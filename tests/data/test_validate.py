"""Validation names the file, the entry, the field and the fix for every classic dataset mistake."""

from __future__ import annotations

import json
from pathlib import Path

from studio.data.registry import get_dataset, register_dataset
from studio.data.validate import Problem, validate_registry
from studio.workspace import Workspace

SFT_ROWS = [
    {"instruction": "How many singers?", "input": "", "output": "SELECT COUNT(*) FROM singer"},
    {"instruction": "List the names.", "input": "", "output": "SELECT name FROM singer"},
]
PAIR_ROWS = [
    {
        "instruction": "How many singers?",
        "input": "",
        "chosen": "SELECT COUNT(*) FROM singer",
        "rejected": "SELECT COUNT(*) FROM song",
    },
]


def add_entry(
    ws: Workspace, name: str, entry: dict, rows: list | None = None, text: str | None = None
) -> Path:
    """Hand-register `name` the way a user edits dataset_info.json; returns the data file path."""
    info = json.loads(ws.dataset_info_path.read_text())
    info[name] = entry
    ws.dataset_info_path.write_text(json.dumps(info, indent=2))
    path = ws.root / entry["file_name"]
    if rows is not None:
        path.write_text(json.dumps(rows))
    elif text is not None:
        path.write_text(text)
    return path


def problems_of(ws: Workspace, name: str) -> list[Problem]:
    return [p for p in validate_registry(ws) if p.entry == name]


def only_problem(ws: Workspace, name: str) -> Problem:
    problems = problems_of(ws, name)
    assert len(problems) == 1, problems
    return problems[0]


def test_fresh_workspace_validates_clean(workspace: Workspace) -> None:
    assert validate_registry(workspace) == []


def test_missing_file_names_file_name_and_fix(workspace: Workspace) -> None:
    add_entry(workspace, "lost", {"file_name": "datasets/lost.json", "formatting": "alpaca"})
    problem = only_problem(workspace, "lost")
    assert problem.file == str(workspace.dataset_info_path)
    assert problem.field == "file_name"
    assert "datasets/lost.json" in problem.message and "does not exist" in problem.message
    assert "correct file_name" in problem.fix and "unregister" in problem.fix


def test_dataset_file_that_does_not_parse_gives_line_and_column(workspace: Workspace) -> None:
    path = add_entry(
        workspace,
        "broken",
        {"file_name": "datasets/broken.json"},
        text=(
            '[\n {"instruction": "q", "output": "SELECT 1"},\n'
            ' {"instruction": "q2" "output": "x"}\n]'
        ),
    )
    problem = only_problem(workspace, "broken")
    assert problem.file == str(path)
    assert problem.field == "line 3, column 23"
    assert "does not parse" in problem.message and "Expecting ',' delimiter" in problem.message
    assert "correct the JSON at line 3, column 23" in problem.fix


def test_jsonl_file_that_does_not_parse_names_its_line(workspace: Workspace) -> None:
    add_entry(
        workspace,
        "lines",
        {"file_name": "datasets/lines.jsonl"},
        text='{"instruction": "q", "output": "SELECT 1"}\n{"instruction": "q2", "output": }\n',
    )
    problem = only_problem(workspace, "lines")
    assert problem.field.startswith("line 2, column")


def test_dataset_info_that_does_not_parse_gives_line_and_column(workspace: Workspace) -> None:
    workspace.dataset_info_path.write_text(
        '{\n  "a": {"file_name": "datasets/a.json"}\n  "b": {}\n}'
    )
    (problem,) = validate_registry(workspace)
    assert problem.file == str(workspace.dataset_info_path)
    assert "line 3, column 3" in problem.message
    assert "missing comma or quote" in problem.fix


def test_row_keys_used_as_column_names_is_the_classic_mistake(workspace: Workspace) -> None:
    add_entry(
        workspace,
        "classic",
        {
            "file_name": "datasets/classic.json",
            "formatting": "alpaca",
            "columns": {"instruction": "instruction", "input": "input", "output": "output"},
        },
        rows=SFT_ROWS,
    )
    problems = problems_of(workspace, "classic")
    assert [p.field for p in problems] == ["columns.instruction", "columns.input", "columns.output"]
    assert "row key used as a column name" in problems[0].message
    assert problems[0].fix.startswith('write "prompt": "instruction" instead of "instruction"')
    assert '"query": "input"' in problems[1].fix and '"response": "output"' in problems[2].fix


def test_columns_pointing_at_absent_keys_list_the_row_keys(workspace: Workspace) -> None:
    add_entry(
        workspace,
        "absent",
        {
            "file_name": "datasets/absent.json",
            "columns": {"prompt": "question", "response": "output"},
        },
        rows=SFT_ROWS,
    )
    problem = only_problem(workspace, "absent")
    assert problem.field == "columns.prompt"
    assert "rows have no key 'question'" in problem.message
    assert "input, instruction, output" in problem.message
    assert "map prompt to one of the row keys" in problem.fix


def test_preference_rows_without_ranking(workspace: Workspace) -> None:
    add_entry(
        workspace,
        "pairs",
        {
            "file_name": "datasets/pairs.json",
            "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input"},
        },
        rows=PAIR_ROWS,
    )
    problem = only_problem(workspace, "pairs")
    assert problem.field == "ranking"
    assert "lacks ranking: true" in problem.message
    assert 'add "ranking": true' in problem.fix and '"chosen": "chosen"' in problem.fix


def test_ranking_on_sft_rows(workspace: Workspace) -> None:
    add_entry(
        workspace,
        "sft_ranked",
        {
            "file_name": "datasets/sft_ranked.json",
            "ranking": True,
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "chosen": "chosen",
                "rejected": "rejected",
            },
        },
        rows=SFT_ROWS,
    )
    problem = only_problem(workspace, "sft_ranked")
    assert problem.field == "ranking"
    assert 'remove "ranking": true' in problem.fix


def test_ranking_without_chosen_and_rejected_columns(workspace: Workspace) -> None:
    add_entry(
        workspace,
        "half",
        {"file_name": "datasets/half.json", "ranking": True, "columns": {"prompt": "instruction"}},
        rows=PAIR_ROWS,
    )
    problem = only_problem(workspace, "half")
    assert problem.field == "columns"
    assert '"chosen": "chosen", "rejected": "rejected"' in problem.fix


def test_rows_with_empty_response_are_named(workspace: Workspace) -> None:
    rows = [
        *SFT_ROWS,
        {"instruction": "q3", "input": "", "output": "  "},
        {"instruction": "q4", "input": ""},
    ]
    add_entry(workspace, "gaps", {"file_name": "datasets/gaps.json"}, rows=rows)
    problems = problems_of(workspace, "gaps")
    assert [p.field for p in problems] == ["rows[2].output", "rows[3].output"]
    assert problems[0].message == "row 2 has an empty output"
    assert "write the expected answer in output, or delete the row" == problems[0].fix


def test_zero_usable_rows(workspace: Workspace) -> None:
    rows = [{"instruction": "", "input": "", "output": "SELECT 1"}]
    add_entry(workspace, "nothing", {"file_name": "datasets/nothing.json"}, rows=rows)
    problem = only_problem(workspace, "nothing")
    assert problem.field is None
    assert problem.message.startswith("no usable rows (1 rows")
    assert (
        "Cannot find valid samples" in problem.fix
        and "add rows with both a prompt and an answer" in problem.fix
    )


def test_hand_edited_registered_file_is_checked(workspace: Workspace) -> None:
    register_dataset(workspace, "mine", [{**row, "system": ""} for row in SFT_ROWS], "sft")
    path = get_dataset(workspace, "mine").path
    rows = json.loads(path.read_text())
    rows[1]["output"] = ""
    path.write_text(json.dumps(rows))
    problem = only_problem(workspace, "mine")
    assert problem.file == str(path) and problem.field == "rows[1].output"


def test_sidecar_database_that_vanished(workspace: Workspace) -> None:
    database = Path(get_dataset(workspace, "demo_test").databases["shop"])
    database.unlink()
    problems = [p for p in validate_registry(workspace) if p.field == "databases.shop"]
    assert {p.entry for p in problems} == {"demo_train", "demo_test"}
    assert all(str(database) in p.message and "--db-dir" in p.fix for p in problems)


def test_problem_text_names_file_entry_field_and_fix() -> None:
    problem = Problem("dataset_info.json", "x", "columns.prompt", "rows have no key 'q'", "map it")
    assert str(problem) == "dataset_info.json [x] columns.prompt: rows have no key 'q'. Fix: map it"
