"""Datasets, Train and Evaluate tabs in a real browser, against a studio on a fresh workspace.

One studio serves the module; the tests run in order (train before evaluate: jobs run one
at a time). The model typed in the forms is the tiny random Qwen2 (`tiny_qwen2_dir`).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from playwright.sync_api import expect

from studio.testing.gestures import (
    LOSS_POINTS_JS,
    choose,
    choose_custom,
    element_text,
    field_value,
    fill,
    loss_points,
    open_tab,
    record_texts,
    recorded_texts,
    table_row,
    wait_for_train_form,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
JOB_TIMEOUT_MS = 300_000
expect.set_options(timeout=60_000)  # a CPU-bound studio on 2 shared cores


def test_fresh_workspace_lists_demo_data_and_previews_a_rendered_prompt(
    studio, page, screenshot, tiny_qwen2_dir: Path
) -> None:
    page.goto(studio.url)
    table = page.locator("#datasets-table")
    expect(table).to_contain_text("demo_train")
    assert "demo_test" in table.inner_text()
    assert "concert_singer" in table.inner_text()
    questions = json.loads((REPO_ROOT / "data" / "demo" / "questions.json").read_text())
    first_train = next(q for q in questions if q["split"] == "train")

    choose(page, "preview-dataset", "demo_train")
    fill(page, "preview-model", tiny_qwen2_dir)
    page.locator("#preview-button").click()
    prompt = page.locator("#preview-prompt textarea")
    expect(prompt).to_have_value(re.compile(r"<\|im_start\|>assistant\s*$"))
    rendered = prompt.input_value()
    assert "<|im_start|>user" in rendered and first_train["question"] in rendered
    assert first_train["db_id"] in page.locator("#preview-header").inner_text()
    assert "SELECT" in page.locator("#preview-gold").inner_text().upper()
    screenshot(page, "datasets")


def test_import_from_a_path_lists_it_and_a_bad_file_names_the_fix(
    studio, page, tmp_path: Path
) -> None:
    good = tmp_path / "my_sft.json"
    good.write_text(
        json.dumps(
            [
                {
                    "instruction": f"Count table t{i}.",
                    "input": "",
                    "output": f"SELECT COUNT(*) FROM t{i}",
                }
                for i in range(3)
            ]
        )
    )
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps([{"instruction": "Count the singers."}]))
    page.goto(studio.url)
    expect(page.locator("#datasets-table")).to_contain_text("demo_train")

    fill(page, "import-path", good)
    fill(page, "import-name", "ui_alpaca")
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("Imported")
    assert "Imported ui_alpaca (3 rows)" in element_text(page, "datasets-status")
    row = table_row(page, "datasets-table", "ui_alpaca")
    expect(row).to_have_count(1)
    assert [cell.strip() for cell in row.locator("[role=gridcell]").all_inner_texts()][:3] == [
        "ui_alpaca",
        "sft",
        "3",
    ]

    # the same name again: refused until "Replace an existing dataset" is ticked
    shorter = tmp_path / "shorter.json"
    shorter.write_text(json.dumps([{"instruction": "Count t9.", "output": "SELECT 9"}]))
    fill(page, "import-path", shorter)
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("already exists")
    assert 'tick "Replace an existing dataset"' in element_text(page, "datasets-status")
    expect(row.locator("[role=gridcell]").nth(2)).to_have_text("3")
    page.locator("#import-replace input").check()
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("Imported ui_alpaca (1 rows)")
    expect(row.locator("[role=gridcell]").nth(2)).to_have_text("1")
    page.locator("#import-replace input").uncheck()

    fill(page, "import-path", bad)
    fill(page, "import-name", "ui_broken")
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("Could not do that")
    message = element_text(page, "datasets-status")
    assert "broken.json" in message and "Fix:" in message and "output" in message
    assert "Traceback" not in page.content()
    assert "ui_broken" not in page.locator("#datasets-table").inner_text()

    # questions without their databases: the fix names the form's field, not a CLI option
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(FIXTURES / "spiderman" / "test_queries.csv", alone / "test_queries.csv")
    choose(page, "import-format", "csv")
    fill(page, "import-path", alone)
    fill(page, "import-cutoff", 0)
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("Database folder (SQLite)")
    shown = element_text(page, "datasets-status")
    assert "--db-dir" not in shown and "<db_id>/<db_id>.sqlite" in shown  # placeholders kept

    # the Train tab, opened after the import with its form untouched, offers the new dataset
    open_tab(page, "Train")
    page.locator("#train-dataset input").first.click()
    expect(page.get_by_role("option", name="ui_alpaca", exact=True)).to_be_visible()
    page.keyboard.press("Escape")


def test_golds_that_fail_on_their_database_are_listed_with_the_question(
    studio, page, tmp_path: Path
) -> None:
    import csv

    with open(FIXTURES / "spiderman" / "test_queries.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["database"] == "battle_death"][:4]
    rows[1]["sql"] = "SELECT COUNT(*) FROM `no_such_table`"
    questions = tmp_path / "questions.csv"
    with open(questions, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["database", "question", "sql"])
        writer.writeheader()
        writer.writerows(rows)
    databases = tmp_path / "sqlite"
    databases.mkdir()
    shutil.copy(FIXTURES / "spiderman" / "sqlite" / "battle_death.sqlite", databases)
    page.goto(studio.url)
    expect(page.locator("#datasets-table")).to_contain_text("demo_train")
    choose(page, "import-format", "csv")
    fill(page, "import-path", questions)
    fill(page, "import-name", "ui_golds")
    fill(page, "import-db-dir", databases)
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("Imported ui_golds")

    page.get_by_text("Validate and unregister").click()
    page.locator("#validate-golds-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("gold queries fail")
    status = element_text(page, "datasets-status")
    assert re.search(r"^1 of [\d,]+ gold queries fail", status.strip()), status
    row = table_row(page, "validate-problems", "ui_golds")
    expect(row).to_have_count(1)
    cells = [cell.strip() for cell in row.locator("[role=gridcell]").all_inner_texts()]
    assert cells[:3] == ["ui_golds", "row 1", "gold SQL on battle_death"], cells
    assert "no such table: no_such_table" in cells[3] and "correct or remove" in cells[4]


def test_sft_run_charts_loss_survives_a_reload_and_lands_in_history(
    studio, page, screenshot, tiny_qwen2_dir: Path
) -> None:
    page.goto(studio.url)
    open_tab(page, "Train")
    wait_for_train_form(page)
    choose_custom(page, "train-model", tiny_qwen2_dir)
    fill(page, "train-max-steps", 3)
    fill(page, "train-cutoff", 256)
    fill(page, "train-batch", 1)
    yaml_box = page.locator("#train-yaml")
    # each field updates the YAML in an event of its own: wait for every one of them
    for text in ("max_steps: 3", "cutoff_len: 256", str(tiny_qwen2_dir), "demo_train"):
        expect(yaml_box).to_contain_text(text)

    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text("queued")
    run_name = re.search(r"runs/(sft-[\w-]+)", element_text(page, "train-status")).group(1)
    page.wait_for_function(f"({LOSS_POINTS_JS})() >= 1", timeout=JOB_TIMEOUT_MS)
    points_before_reload = loss_points(page)
    assert "Step" in element_text(page, "train-step")

    page.reload()
    open_tab(page, "Train")
    header = page.locator("#train-run")
    expect(header).to_contain_text(run_name)
    assert "running" in header.inner_text() or "succeeded" in header.inner_text()
    # running or finished by now, the shown run's config fills the form
    expect(page.locator("#train-max-steps input")).to_have_value("3")
    assert field_value(page, "train-cutoff") == "256"
    page.wait_for_function(f"({LOSS_POINTS_JS})() >= {points_before_reload}")
    screenshot(page, "train")

    expect(table_row(page, "train-history", run_name)).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    assert loss_points(page) == 3
    assert re.search(r"Step\s*3\s*/\s*3", element_text(page, "train-step"))
    assert (studio.workspace / "runs" / run_name / "adapter" / "adapter_config.json").is_file()


def test_evaluation_job_appears_in_the_comparison_with_its_wrong_answers(
    studio, page, screenshot, tiny_qwen2_dir: Path
) -> None:
    page.goto(studio.url)
    open_tab(page, "Evaluate")
    choose_custom(page, "eval-model", tiny_qwen2_dir)
    choose(page, "eval-dataset", "demo_test")
    fill(page, "eval-limit", 4)
    fill(page, "eval-max-new", 16)
    fill(page, "eval-vote", 2)
    record_texts(page, "eval-job-progress")
    page.locator("#eval-run").click()
    expect(page.locator("#eval-status")).to_contain_text("queued")
    run_name = re.search(r"runs/(eval-[\w-]+)", element_text(page, "eval-status")).group(1)

    row = table_row(page, "eval-runs", run_name)
    expect(row).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#eval-job")).to_contain_text(f"{run_name} · job")
    expect(page.locator("#eval-job")).to_contain_text("succeeded")
    # while it ran the panel showed its phase; its log holds each phase with its count
    phases = recorded_texts(page, "eval-job-progress")
    assert any(
        re.match(r"(waiting|starting|loading the model|generating|scoring)", t) for t in phases
    )
    log = page.locator("#eval-job-log textarea")
    expect(log).to_have_value(re.compile(r"\[studio\] generating \(0/4 questions\)"))
    expect(log).to_have_value(re.compile(r"\[studio\] scoring \(\d/4 questions\)"))
    expect(page.locator("#eval-delete")).to_be_enabled()
    expect(page.locator("#eval-cancel")).to_be_disabled()
    summary = json.loads((studio.workspace / "runs" / run_name / "summary.json").read_text())
    assert summary["n"] == 4
    cells = [cell.strip() for cell in row.locator("[role=gridcell]").all_inner_texts()]
    assert cells[2:6] == ["demo_test", str(tiny_qwen2_dir), "", "4"]
    assert float(cells[6]) == summary["ex"] and float(cells[8]) == summary["vote"]["ex"]
    comparison = page.locator("#eval-comparison")
    expect(comparison).to_contain_text("EX (%)")
    expect(comparison).to_contain_text("EX voted (%)")
    assert run_name in comparison.inner_text()
    # the chart renders after the table: wait for plotly to hold at least one bar trace
    page.wait_for_function(
        "() => { const plot = document.querySelector('#eval-chart .js-plotly-plot');"
        " return plot && plot.data && plot.data.length >= 1; }",
        timeout=60_000,
    )

    wrong = 4 - summary["correct"]
    choose(page, "eval-drill-run", run_name)
    expect(page.locator("#eval-status")).to_contain_text(
        f"{wrong} question(s) wrong" if wrong else "Every question"
    )
    if wrong:
        verdict = next(
            json.loads(line)
            for line in (studio.workspace / "runs" / run_name / "verdicts.jsonl")
            .read_text()
            .splitlines()
            if not json.loads(line)["correct"]
        )
        page.locator("#eval-question input").first.click()
        page.get_by_role("option").first.click()
        expect(page.locator("#eval-question-text")).to_contain_text(verdict["question"])
    screenshot(page, "evaluate")

    # a second run: switching the drill-down to it clears the question, with no error badge
    fill(page, "eval-limit", 2)
    fill(page, "eval-vote", 0)
    page.locator("#eval-run").click()
    expect(page.locator("#eval-status")).to_contain_text("queued")
    second = re.search(r"runs/(eval-[\w-]+)", element_text(page, "eval-status")).group(1)
    expect(table_row(page, "eval-runs", second)).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    choose(page, "eval-drill-run", second)
    expect(page.locator("#eval-status")).to_contain_text(second)
    if wrong:
        expect(page.locator("#eval-question-text")).not_to_contain_text(verdict["question"])
    expect(page.locator(".toast-body.error, span.error")).to_have_count(0)
