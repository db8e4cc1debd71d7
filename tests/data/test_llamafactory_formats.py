"""LLaMA-Factory's dataset_info.json entries read as LLaMA-Factory reads them: alpaca and
sharegpt (OpenAI messages through tags), SFT and ranking, json/jsonl/csv/parquet/arrow files,
folders, num_samples, history and system columns; hub entries refused with the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.cli import main
from studio.data.prompts import build_messages
from studio.data.registry import get_dataset, load_examples
from studio.data.validate import Problem, validate_dataset, validate_registry
from studio.errors import StudioError
from studio.train.dataset import sampled
from studio.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory_data"
SQLITE = "You write SQLite queries."


@pytest.fixture
def lf_ws(workspace: Workspace) -> Workspace:
    """The workspace with the LLaMA-Factory fixtures beside its dataset_info.json, entries added."""
    for path in FIXTURES.iterdir():
        if path.is_dir():
            shutil.copytree(path, workspace.root / path.name)
        elif path.name != "dataset_info.json":
            shutil.copy(path, workspace.root / path.name)
    add_entries(workspace, json.loads((FIXTURES / "dataset_info.json").read_text()))
    return workspace


def add_entries(ws: Workspace, entries: dict) -> None:
    info = json.loads(ws.dataset_info_path.read_text())
    ws.dataset_info_path.write_text(json.dumps({**info, **entries}, indent=2))


def problems_of(ws: Workspace, name: str) -> list[Problem]:
    return [p for p in validate_registry(ws) if p.entry == name]


def test_every_local_entry_is_valid_and_the_hub_entry_is_refused_with_the_fix(
    lf_ws: Workspace,
) -> None:
    (problem,) = validate_registry(lf_ws)
    assert (problem.entry, problem.field) == ("lf_hub", "hf_hub_url")
    assert "'llamafactory/alpaca_en'" in problem.message and "no hub" in problem.message
    assert problem.fix == "download the file and register it with file_name (remove hf_hub_url)"
    assert validate_dataset(lf_ws, "lf_hub") == [problem]


def test_data_show_of_a_hub_entry_is_one_error_line(lf_ws: Workspace, capsys) -> None:
    code = main(["data", "show", "lf_hub", "--workspace", str(lf_ws.root)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: dataset 'lf_hub': hf_hub_url: ")
    assert "download the file and register it with file_name" in err


def test_alpaca_history_and_system_become_chat_messages(lf_ws: Workspace) -> None:
    first, second, third = load_examples(lf_ws, "lf_alpaca")
    assert first.history == () and first.system == SQLITE
    assert second.prompt == "And how many of them are French?\ntable singer(name, country, age)"
    assert second.history == (("How many singers are there?", "SELECT count(*) FROM singer"),)
    assert build_messages(second) == [
        {"role": "system", "content": SQLITE},
        {"role": "user", "content": "How many singers are there?"},
        {"role": "assistant", "content": "SELECT count(*) FROM singer"},
        {"role": "user", "content": second.prompt},
    ]
    assert second.response == "SELECT count(*) FROM singer WHERE country = 'France'"
    # an empty system column leaves the system message out, as in LLaMA-Factory
    assert build_messages(third) == [{"role": "user", "content": third.prompt}]


def test_sharegpt_turns_split_into_history_prompt_and_answer(lf_ws: Workspace) -> None:
    assert get_dataset(lf_ws, "lf_sharegpt").kind == "sft"
    single, multi = load_examples(lf_ws, "lf_sharegpt")
    assert (single.system, single.history, single.prompt, single.response) == (
        SQLITE,
        (),
        "How many singers are there?",
        "SELECT count(*) FROM singer",
    )
    assert multi.history == (("How many singers are there?", "SELECT count(*) FROM singer"),)
    assert multi.prompt == "Only the French ones?"
    assert multi.response == "SELECT count(*) FROM singer WHERE country = 'France'"


def test_openai_messages_through_tags_take_the_system_message(lf_ws: Workspace) -> None:
    with_system, without = load_examples(lf_ws, "lf_openai")
    assert with_system.system == "You write MySQL queries."
    assert with_system.prompt == "How many pets weigh more than 10?"
    assert with_system.response == "SELECT count(*) FROM pets WHERE weight > 10"
    assert without.system is None and without.response == "SELECT DISTINCT pettype FROM pets"


@pytest.mark.parametrize(
    ("name", "prompt", "chosen", "rejected", "history"),
    [
        (
            "lf_alpaca_pairs",
            "Name the oldest singer.\ntable singer(name, age)",
            "SELECT name FROM singer ORDER BY age DESC LIMIT 1",
            "SELECT name FROM singer ORDER BY age LIMIT 1",
            0,
        ),
        (
            "lf_sharegpt_pairs",
            "Only the French ones?",
            "SELECT count(*) FROM singer WHERE country = 'France'",
            "SELECT count(*) FROM singer",
            1,
        ),
        (
            "lf_openai_pairs",
            "How many pets weigh more than 10?",
            "SELECT count(*) FROM pets WHERE weight > 10",
            "SELECT count(*) FROM pets",
            0,
        ),
    ],
)
def test_ranking_entries_in_each_format_are_preference_datasets(
    lf_ws: Workspace, name: str, prompt: str, chosen: str, rejected: str, history: int
) -> None:
    assert get_dataset(lf_ws, name).kind == "preference"
    example = load_examples(lf_ws, name)[-1]
    assert (example.prompt, example.chosen, example.rejected) == (prompt, chosen, rejected)
    assert len(example.history) == history and example.response is None


def test_csv_rows_read_by_header_with_empty_cells_as_absent(lf_ws: Workspace) -> None:
    first, second = load_examples(lf_ws, "lf_csv")
    assert first.prompt == "How many singers are there?"
    assert second.prompt == "Which singers are from France, by name?\ntable singer(name)"


def test_parquet_and_arrow_files_are_read(lf_ws: Workspace) -> None:
    rows = json.loads((FIXTURES / "alpaca_sft.json").read_text())
    table = pa.Table.from_pylist([{k: r[k] for k in ("instruction", "output")} for r in rows])
    pq.write_table(table, lf_ws.root / "rows.parquet")
    with pa.OSFile(str(lf_ws.root / "rows.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    add_entries(lf_ws, {"pq": {"file_name": "rows.parquet"}, "arrow": {"file_name": "rows.arrow"}})
    for name in ("pq", "arrow"):
        assert problems_of(lf_ws, name) == []
        assert [e.response for e in load_examples(lf_ws, name)] == [r["output"] for r in rows]


def test_a_folder_is_every_file_in_it_and_num_samples_draws_like_llamafactory(
    lf_ws: Workspace,
) -> None:
    examples = load_examples(lf_ws, "lf_folder")
    assert [e.response for e in examples] == [
        "SELECT count(*) FROM singer",
        "SELECT count(*) FROM song",
        "SELECT count(*) FROM concert",
    ]
    assert get_dataset(lf_ws, "lf_folder").num_samples == 5
    drawn = sampled(examples, 5, seed=42)
    assert len(drawn) == 5 and {e.index for e in drawn} == {0, 1, 2}
    assert drawn == sampled(examples, 5, seed=42)
    assert len(sampled(examples, 2, seed=0)) == 2 and sampled(examples, None, 0) == examples


def test_a_folder_mixing_file_types_is_refused(lf_ws: Workspace) -> None:
    (lf_ws.root / "alpaca_parts" / "notes.txt").write_text("x")
    (problem,) = problems_of(lf_ws, "lf_folder")
    assert problem.field == "file_name" and "mixes file types" in problem.message


def test_sharegpt_rows_llamafactory_would_skip_are_named(lf_ws: Workspace) -> None:
    rows = [
        {"conversations": [{"from": "gpt", "value": "SELECT 1"}]},
        {"conversations": [{"from": "human", "value": "q"}]},
        {
            "conversations": [
                {"from": "human", "value": "q"},
                {"from": "function_call", "value": "{}"},
            ]
        },
        {"conversations": "q"},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "SELECT 1"}]},
    ]
    (lf_ws.root / "bad.json").write_text(json.dumps(rows))
    add_entries(lf_ws, {"bad": {"file_name": "bad.json", "formatting": "sharegpt"}})
    problems = problems_of(lf_ws, "bad")
    assert [p.field for p in problems] == [
        "rows[0].conversations[0].from",
        "rows[1].conversations",
        "rows[2].conversations[1].from",
        "rows[3].conversations",
    ]
    assert "'gpt' where the user turn ('human') comes" in problems[0].message
    assert "end with an assistant turn" in problems[1].message
    assert "tool turn" in problems[2].message
    with pytest.raises(StudioError, match=r"dataset 'bad' row 0: conversations\[0\]\.from"):
        load_examples(lf_ws, "bad")


@pytest.mark.parametrize(
    ("entry", "field", "fix"),
    [
        (
            {"formatting": "sharegpt", "columns": {"system": "system"}},
            "columns",
            '"messages": "conversations"',
        ),
        ({"formatting": "openai"}, "formatting", '"role_tag": "role"'),
        ({"columns": {"prompt": "instruction", "images": "images"}}, "columns.images", "remove"),
        ({"tags": {"role_tag": "role"}}, "tags", '"formatting": "sharegpt"'),
        ({"num_samples": 0}, "num_samples", "whole number"),
        ({"columns": {"prompt": "instruction"}}, "columns", '"response": "output"'),
    ],
)
def test_entry_fields_the_studio_cannot_read_name_the_fix(
    lf_ws: Workspace, entry: dict, field: str, fix: str
) -> None:
    add_entries(lf_ws, {"odd": {"file_name": "sharegpt_sft.json", **entry}})
    if "formatting" not in entry:
        lf_ws.root.joinpath("sharegpt_sft.json").write_text(
            (FIXTURES / "alpaca_sft.json").read_text()
        )
    problems = problems_of(lf_ws, "odd")
    assert [p.field for p in problems] == [field]
    assert fix in problems[0].fix


def test_alpaca_history_that_is_not_pairs_is_named(lf_ws: Workspace) -> None:
    rows = [
        {"instruction": "q", "output": "SELECT 1", "history": [["only one"]]},
        {"instruction": "q", "output": "SELECT 1", "history": None},
    ]
    (lf_ws.root / "hist.json").write_text(json.dumps(rows))
    add_entries(
        lf_ws,
        {
            "hist": {
                "file_name": "hist.json",
                "columns": {"prompt": "instruction", "response": "output", "history": "history"},
            }
        },
    )
    (problem,) = problems_of(lf_ws, "hist")
    assert problem.field == "rows[0].history[0]"
    assert '["earlier question", "earlier answer"]' in problem.fix
