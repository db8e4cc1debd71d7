"""A GRPO run started from the Train tab in a real browser, against a studio on a fresh
workspace: stage grpo in the form, GRPO's own keys set in the YAML and applied to the form,
Start, and the GRPO chart drawing each logged rollout's reward, answers right and execution
errors as metrics.jsonl holds them. The model typed in the form is the tiny random Qwen2
(`tiny_qwen2_dir`); its answers are mostly not SQL, so the execution errors are real.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from studio.testing.gestures import (
    choose_custom,
    code_text,
    element_text,
    field_value,
    fill,
    open_tab,
    set_code,
    table_row,
    trace_values,
    wait_for_points,
    wait_for_train_form,
)

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 300_000
expect.set_options(timeout=60_000)  # a CPU-bound studio on 2 shared cores
GRPO_TRACES = ("reward", "grpo/correct", "grpo/exec_error", "grpo/timeout")


def test_grpo_run_from_the_form_charts_its_rewards_and_execution_errors(
    studio, page, screenshot, tiny_qwen2_dir: Path
) -> None:
    page.goto(studio.url)
    open_tab(page, "Train")
    wait_for_train_form(page)
    page.locator("#train-stage").get_by_text("grpo", exact=True).click()
    # the switch gives a batch of one whole group of answers, so the YAML is a config at once
    expect(page.locator("#train-yaml")).to_contain_text("stage: grpo")
    assert field_value(page, "train-batch") == "8"
    choose_custom(page, "train-model", tiny_qwen2_dir)
    fill(page, "train-max-steps", 2)
    expect(page.locator("#train-yaml")).to_contain_text("max_steps: 2")
    config = yaml.safe_load(code_text(page, "train-yaml"))
    assert config["dataset"] == ["demo_train"] and config["num_generations"] == 8
    # GRPO's own keys live in the YAML: 2 questions x 2 answers a step, short answers
    config.update(
        num_generations=2,
        per_device_train_batch_size=4,
        max_completion_length=16,
        reward_workers=1,
    )
    set_code(page, "train-yaml", yaml.safe_dump(config, sort_keys=False))
    page.locator("#train-apply-yaml").click()
    expect(page.locator("#train-status")).to_contain_text("Form filled from the YAML")

    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text("queued")
    run_name = re.search(r"runs/(grpo-[\w-]+)", element_text(page, "train-status")).group(1)
    run_dir = studio.workspace / "runs" / run_name
    wait_for_points(page, "train-grpo-curves", GRPO_TRACES, 1, JOB_TIMEOUT_MS)
    expect(table_row(page, "train-history", run_name)).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    wait_for_points(page, "train-grpo-curves", GRPO_TRACES, 2, 60_000)
    page.locator("#train-grpo-curves").scroll_into_view_if_needed()
    screenshot(page, "train-grpo")

    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (saved["num_generations"], saved["max_completion_length"]) == (2, 16)
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [line for line in lines if "reward" in line]
    assert [line["step"] for line in logged] == [1, 2]
    for name in GRPO_TRACES:
        shown = trace_values(page, "train-grpo-curves", name)
        assert shown["x"] == [1, 2]
        assert shown["y"] == pytest.approx([line[name] for line in logged]), name
