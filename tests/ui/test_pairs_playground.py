"""The Pairs and Playground tabs in a real browser, with tiny random models on the demo data:
mine pairs from the page, curate them with the keyboard, edit a rejected SQL into the gold and
see it flagged, bulk-accept, export; ask two models side by side."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.data.importers.demo import open_workspace
from studio.data.registry import database_ref, get_dataset, load_examples
from studio.pairs.curate import PairFilter, get_pair, list_pairs, pair_counts
from studio.sql.execute import execute_sql
from studio.testing.gestures import record_texts, recorded_texts
from studio.ui.pairs_tab import bulk_filter, neighbour, prompt_parts, sql_diff, vote_text

MINING_TIMEOUT_MS = 240_000


def choose_custom(page, elem_id: str, value: str) -> None:
    """Type a value into a Gradio dropdown that allows custom values, and commit it."""
    box = page.locator(f"#{elem_id} input")
    box.fill(value)
    box.press("Enter")
    page.locator("body").click(position={"x": 5, "y": 5})


def set_number(page, elem_id: str, value: float) -> None:
    page.locator(f"#{elem_id} input").fill(str(value))
    page.locator(f"#{elem_id} input").press("Tab")


def pair_on_screen(page) -> int:
    """The id of the pair the curator shows."""
    header = page.locator("#pairs-header").inner_text()
    return int(re.search(r"Pair (\d+)", header).group(1))


def wait_for_pair(page, pair_id: int) -> None:
    page.locator("#pairs-header").get_by_text(f"Pair {pair_id} ·").wait_for()


def press(page, key: str) -> None:
    page.locator("#pairs-progress").click()  # focus the page, not a text field
    page.keyboard.press(key)


def test_sql_diff_marks_what_each_side_has_alone() -> None:
    spans = sql_diff("SELECT name FROM singer", "SELECT COUNT(*) FROM singer")
    assert ("name", "only in rejected") in spans and ("COUNT(*)", "only in chosen") in spans
    assert (
        "".join(text for text, tag in spans if tag != "only in chosen") == "SELECT name FROM singer"
    )
    assert (
        "".join(text for text, tag in spans if tag != "only in rejected")
        == "SELECT COUNT(*) FROM singer"
    )


def test_the_header_tells_how_the_question_vote_went() -> None:
    vote = {"sample": 2, "votes": 3, "executed": 4, "distinct_results": 2, "n": 4}
    assert vote_text({**vote, "correct": True}) == (
        " · vote among 4 samples: right (sample 2, 3 of 4 agree)"
    )
    assert "samples: wrong (sample 2" in vote_text({**vote, "correct": False})
    assert vote_text(None) == ""


def test_prompt_parts_and_navigation() -> None:
    from studio.data.prompts import build_instruction

    prompt = build_instruction("How many?", "CREATE TABLE t (a INT);", "sqlite", "a is a count")
    assert prompt_parts(prompt) == ("How many?", "a is a count", "CREATE TABLE t (a INT);")
    assert prompt_parts("free text") == ("", "", "free text")
    assert neighbour([2, 5, 9], 5, 1) == 9 and neighbour([2, 5, 9], 5, -1) == 2
    assert (
        neighbour([2, 9], 5, 1) == 9
        and neighbour([2, 5, 9], 9, 1) == 9
        and neighbour([], 5, 1) is None
    )
    assert bulk_filter(PairFilter()).status == "pending"
    assert bulk_filter(PairFilter(status="rejected", db_id="shop")) == PairFilter(
        status="rejected", db_id="shop"
    )


def test_every_playground_answer_update_carries_the_whole_page(
    tmp_path: Path, tiny_qwen2_dir: Path
) -> None:
    """Each update Ask yields holds every output, the gold result included: Gradio's browser
    client applies a yield's diff in place to the previous yield's values, so an output left
    out (a no-op update) could wipe the gold table before a slow page had shown it."""
    import gradio as gr

    from studio.ui import playground_tab
    from studio.web.path_roots import PathRoots

    ws = open_workspace(tmp_path / "workspace")
    with gr.Blocks() as blocks:
        playground_tab.build(ws, PathRoots.for_workspace(ws.root, [tiny_qwen2_dir.parent]))
    ask = next(fn for fn in blocks.fns.values() if fn.name == "run")
    example = load_examples(ws, "demo_train")[0]
    form = ["demo_train", example.db_id, example.question, "", example.gold_sql, 16, 0]
    model = str(tiny_qwen2_dir)  # two variants of the tiny random model, each answering
    updates = list(ask.fn(*form, model, [], model, [], "", []))
    # cleared panels and the gold result first, then the variants' answers as they come
    assert len(updates) > 2
    assert all(set(update) == set(ask.outputs) for update in updates)
    last = {component.elem_id: value for component, value in updates[-1].items()}
    gold_rows = execute_sql(database_ref(ws, "demo_train", example.db_id), example.gold_sql).rows
    assert last["pg-gold-result"].values.tolist() == [list(row) for row in gold_rows]


@pytest.mark.browser
def test_mine_curate_with_keyboard_edit_bulk_accept_export(
    studio, page, screenshot, tiny_qwen2_dir: Path
) -> None:
    ws = open_workspace(studio.workspace)
    page.goto(studio.url)
    page.get_by_role("tab", name="Pairs").click()
    choose_custom(page, "pairs-model", str(tiny_qwen2_dir))
    set_number(page, "pairs-n", 2)
    set_number(page, "pairs-limit", 4)
    set_number(page, "pairs-max-new-tokens", 16)
    record_texts(page, "pairs-job-progress")
    page.locator("#pairs-mine").click()
    page.locator("#pairs-mining").get_by_text("succeeded").wait_for(timeout=MINING_TIMEOUT_MS)
    # while it ran the panel showed its phase; its log holds each phase with its count
    phases = recorded_texts(page, "pairs-job-progress")
    assert any(re.match(r"(waiting|starting|loading the model|generating)", t) for t in phases)
    log = page.locator("#pairs-job-log textarea")
    expect(log).to_have_value(re.compile(r"\[studio\] generating \(0/4 questions\)"))
    expect(page.locator("#pairs-job")).to_contain_text("succeeded")
    expect(page.locator("#pairs-mine")).to_be_enabled()
    mined = list_pairs(ws)
    assert len(mined) >= 3, page.locator("#pairs-mining").inner_text()
    assert {p.strategy for p in mined} == {"gold"} and all(
        p.chosen_sql == p.gold_sql for p in mined
    )
    # every tiny-model sample fails, so no voted answer is right
    assert "maj@2 0.0% (0/4), pass@2 0.0% (0/4)" in page.locator("#pairs-mining").inner_text()
    first, second, third = (p.id for p in mined[:3])
    wait_for_pair(page, first)
    assert "vote among 2 samples: none ran" in page.locator("#pairs-header").inner_text()
    assert f"0 of {len(mined)} reviewed" in page.locator("#pairs-progress").inner_text()

    press(page, "a")
    wait_for_pair(page, second)
    assert get_pair(ws, first).status == "accepted"
    press(page, "r")
    wait_for_pair(page, third)
    assert get_pair(ws, second).status == "rejected"
    press(page, "p")
    wait_for_pair(page, second)
    press(page, "n")
    wait_for_pair(page, third)
    page.locator("#pairs-export-name input, #pairs-export-name textarea").first.press(
        "a"
    )  # typing, not a shortcut
    assert get_pair(ws, third).status == "pending" and pair_on_screen(page) == third
    assert "2 of" in page.locator("#pairs-progress").inner_text()

    gold = get_pair(ws, third).gold_sql
    editor = page.locator("#pairs-rejected .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(gold)
    page.locator("#pairs-save-edit").click()
    page.locator("#pairs-status").get_by_text("flagged").wait_for()
    edited = get_pair(ws, third)
    assert edited.rejected_sql == gold and edited.rejected_label == "correct"
    assert edited.verdict == "flagged" and edited.status == "needs_review"
    assert "flagged" in page.locator("#pairs-header").inner_text()

    page.locator("#pairs-bulk-accept").click()
    page.locator("#pairs-status").get_by_text("Accepted").wait_for()
    counts = pair_counts(ws)["by_status"]
    assert counts.get("pending", 0) == 0
    assert (
        counts["accepted"] == len(mined) - 2
        and counts["rejected"] == 1
        and counts["needs_review"] == 1
    )

    page.locator("#pairs-export-name input, #pairs-export-name textarea").first.fill("ui_pairs")
    page.locator("#pairs-export").click()
    page.locator("#pairs-export-summary").get_by_text("Exported").wait_for()
    summary = json.loads((ws.datasets_dir / "ui_pairs.summary.json").read_text())
    assert summary["rows"] == len(mined) - 2
    assert f"{summary['rows']} pair(s)" in page.locator("#pairs-export-summary").inner_text()
    # exporting over an existing dataset (here the SFT demo_test) needs the box ticked
    page.locator("#pairs-export-name input, #pairs-export-name textarea").first.fill("demo_test")
    page.locator("#pairs-export").click()
    page.locator("#pairs-status").get_by_text("already exists").wait_for()
    assert 'tick "Replace an existing dataset"' in page.locator("#pairs-status").inner_text()
    assert get_dataset(ws, "demo_test").kind == "sft"
    page.locator("#pairs-export-replace input").check()
    page.locator("#pairs-export").click()
    page.locator("#pairs-export-summary").get_by_text("as dataset demo_test").wait_for()
    assert get_dataset(ws, "demo_test").kind == "preference"
    page.locator("#pairs-header").scroll_into_view_if_needed()
    screenshot(page, "pairs")


@pytest.mark.browser
def test_playground_compares_two_models_side_by_side(
    studio, page, screenshot, tiny_qwen2_dir: Path, tiny_qwen3_moe_dir: Path
) -> None:
    page.goto(studio.url)
    page.get_by_role("tab", name="Playground").click()
    set_number(page, "pg-row", 0)
    page.locator("#pg-use-row").click()
    question = page.locator("#pg-question textarea")
    page.wait_for_function("document.querySelector('#pg-question textarea').value.length > 0")
    page.wait_for_function(  # the row's gold SQL too, which the answers are judged against
        "document.querySelector('#pg-gold .cm-content').innerText.trim().length > 0"
    )
    assert question.input_value()
    choose_custom(page, "pg-model-1", str(tiny_qwen2_dir))
    choose_custom(page, "pg-model-2", str(tiny_qwen3_moe_dir))
    set_number(page, "pg-max-new-tokens", 12)
    set_number(page, "pg-vote", 2)
    page.locator("#pg-ask").click()
    page.locator("#pg-status").get_by_text("Done: 2 variant(s) answered.").wait_for(timeout=180_000)
    for k, model_dir in ((1, tiny_qwen2_dir), (2, tiny_qwen3_moe_dir)):
        title = page.locator(f"#pg-answer-{k}").inner_text()
        assert str(model_dir) in title
        assert re.search(r"correct|wrong|error|timeout|refused", title), title
        assert re.search(r"Voted: [0-2]/2 samples agree", title), title
        assert page.locator(f"#pg-result-{k}").is_visible()
    ws = open_workspace(studio.workspace)
    example = load_examples(ws, "demo_train")[0]
    gold_rows = execute_sql(database_ref(ws, "demo_train", example.db_id), example.gold_sql).rows
    assert question.input_value() == example.question
    expect(page.locator("#pg-gold-result")).to_contain_text(str(gold_rows[0][0]))
    screenshot(page, "playground")
    page.locator("#pg-unload").click()
    expect(page.locator("#pg-status")).to_contain_text("Unloaded 2 model(s)")
    page.locator("#pg-unload").click()
    expect(page.locator("#pg-status")).to_contain_text("No model is loaded.")
