"""The Train tab's remaining flows in a real browser, against a studio on a fresh workspace:
a DPO run started from the form on a pairs file imported in the Datasets tab (its reward
charts gain points), cancel and resume from the buttons, a reloaded page showing the shown
run's config, and the YAML side (Load file, Apply YAML to form, Save to file).

One studio serves the module; every job the tests start has ended when a test returns.
The model typed in the forms is the tiny random Qwen2 (`tiny_qwen2_dir`).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from studio.data.importers.demo import open_workspace
from studio.testing.gestures import (
    choose,
    choose_custom,
    code_text,
    element_text,
    field_value,
    fill,
    open_tab,
    record_texts,
    recorded_texts,
    set_code,
    table_row,
    trace_points,
    trace_values,
    wait_for_points,
    wait_for_train_form,
)
from studio.train.config import config_from_mapping, dump_config
from studio.train.form import DEFAULT_BASE
from studio.train.worker import train, write_run_config

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
JOB_TIMEOUT_MS = 300_000
expect.set_options(timeout=60_000)  # a CPU-bound studio on 2 shared cores
SYSTEM = "You write SQLite queries."
CHECKING = "Checking the config, the model and the datasets"
SHOWS_CONFIG = "The form shows the config of"
DPO_TRACES = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies")
STEP_SHOWN = """() => {
    const match = document.querySelector('#train-step').innerText.match(/Step\\s*(\\d+)/);
    return match ? Number(match[1]) : 0;
}"""


def wait_for_recorded(page, elem_id: str, pattern: str, timeout: int = JOB_TIMEOUT_MS) -> None:
    """Wait until the element `elem_id` (recorded with `record_texts`) showed a text matching
    the regular expression `pattern`."""
    page.wait_for_function(
        "([id, pattern]) => (window.__studioTexts[id] || [])"
        ".some(text => new RegExp(pattern).test(text))",
        arg=[elem_id, pattern],
        timeout=timeout,
    )


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def yaml_shown(page) -> str:
    """The YAML editor's whole text."""
    return code_text(page, "train-yaml")


@pytest.fixture(scope="module")
def sft_adapter(tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step SFT adapter of the tiny model on demo_train (what the DPO run continues from)."""
    ws = open_workspace(tmp_path_factory.mktemp("sft-ws") / "workspace")
    cfg = config_from_mapping(
        {
            "model_name_or_path": str(tiny_qwen2_dir),
            "dataset": "demo_train",
            "max_steps": 2,
            "per_device_train_batch_size": 1,
            "cutoff_len": 256,
            "logging_steps": 1,
            "save_steps": 100,
        }
    )
    run_dir = ws.new_run_dir("sft")
    write_run_config(run_dir, cfg)
    train(run_dir)
    return run_dir / "adapter"


def test_dpo_run_from_the_form_charts_rewards_margins_and_accuracies(
    studio, page, screenshot, tmp_path: Path, tiny_qwen2_dir: Path, sft_adapter: Path
) -> None:
    pairs_file = tmp_path / "ui_pairs.jsonl"
    rows = [
        {
            "instruction": f"How many singers are older than {age}?",
            "input": "",
            "system": SYSTEM,
            "chosen": f"SELECT count(*) FROM singer WHERE age > {age}",
            "rejected": "SELECT name FROM singer",
        }
        for age in range(20, 28)
    ]
    pairs_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    page.goto(studio.url)
    expect(page.locator("#datasets-table")).to_contain_text("demo_train")
    choose(page, "import-format", "pairs")
    fill(page, "import-path", pairs_file)
    fill(page, "import-name", "ui_pairs")
    page.locator("#import-button").click()
    expect(page.locator("#datasets-status")).to_contain_text("Imported ui_pairs (8 rows)")
    cells = (
        table_row(page, "datasets-table", "ui_pairs").locator("[role=gridcell]").all_inner_texts()
    )
    assert [cell.strip() for cell in cells][:3] == ["ui_pairs", "preference", "8"]

    open_tab(page, "Train")
    wait_for_train_form(page)
    page.locator("#train-stage").get_by_text("dpo", exact=True).click()
    expect(page.locator("#train-dataset")).to_contain_text("preference datasets registered")
    # the SFT dataset of the default form leaves the choice instead of raising a value error
    expect(page.locator(".toast-body.error, span.error")).to_have_count(0)
    # the newest pair set flows into the DPO form
    dataset_box = page.locator("#train-dataset")
    assert "demo_train" not in dataset_box.inner_text() and "ui_pairs" in dataset_box.inner_text()
    choose_custom(page, "train-model", tiny_qwen2_dir)
    choose_custom(page, "train-adapters", sft_adapter)
    fill(page, "train-max-steps", 3)
    fill(page, "train-cutoff", 256)
    fill(page, "train-batch", 2)
    yaml_box = page.locator("#train-yaml")
    expect(yaml_box).to_contain_text("max_steps: 3")
    config = yaml.safe_load(yaml_shown(page))
    assert config["stage"] == "dpo" and config["dataset"] == ["ui_pairs"]
    assert (
        config["adapter_name_or_path"] == [str(sft_adapter)]
        and config["dpo_reference"] == "sft_adapter"
    )

    record_texts(page, "train-status")
    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text("queued")
    run_name = re.search(r"runs/(dpo-[\w-]+)", element_text(page, "train-status")).group(1)
    # while Start checked the config, model and datasets, the status said so
    texts = recorded_texts(page, "train-status")
    checking = [i for i, text in enumerate(texts) if CHECKING in text]
    queued = [i for i, text in enumerate(texts) if f"runs/{run_name}" in text]
    assert checking and queued and checking[0] < queued[0], texts
    run_dir = studio.workspace / "runs" / run_name
    wait_for_points(page, "train-dpo-curves", DPO_TRACES, 1, JOB_TIMEOUT_MS)
    assert page.locator("#train-dpo-curves").is_visible()
    assert trace_points(page, "train-curves").get("loss", 0) >= 1
    page.locator("#train-dpo-curves").scroll_into_view_if_needed()
    screenshot(page, "train-dpo")

    expect(table_row(page, "train-history", run_name)).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    wait_for_points(page, "train-dpo-curves", DPO_TRACES, 3, timeout=60_000)
    counts = trace_points(page, "train-dpo-curves")
    assert {name: counts[name] for name in DPO_TRACES} == dict.fromkeys(DPO_TRACES, 3)
    metrics = read_metrics(run_dir)
    assert [m["step"] for m in metrics] == [1, 2, 3]
    for name in DPO_TRACES:
        shown = trace_values(page, "train-dpo-curves", name)
        assert shown["x"] == [1, 2, 3]
        assert shown["y"] == pytest.approx([m[name] for m in metrics]), name
    # policy = frozen copy of the SFT adapter at step 1: no reward yet on either side
    assert metrics[0]["rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    cells = [
        cell.strip()
        for cell in table_row(page, "train-history", run_name)
        .locator("[role=gridcell]")
        .all_inner_texts()
    ]
    assert cells[2:5] == ["dpo", "succeeded", "ui_pairs"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reference_model"].startswith(
        f"frozen SFT policy: copy of adapter {sft_adapter}"
    )
    assert re.search(r"Step\s*3\s*/\s*3", element_text(page, "train-step"))


def digest(folder: Path) -> dict[str, str]:
    """Each file of `folder` -> its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_cancel_then_resume_from_the_buttons_continues_past_the_stop(
    studio, page, tiny_qwen2_dir: Path
) -> None:
    """Also: a reloaded page shows the shown run's config in the form and the YAML pane (the
    cancelled run, later the succeeded run continuing it); the finished run refuses Resume and
    continues as a new run, its adapter untouched."""
    total = 30  # Cancel is pressed at the first logged step: it lands long before the last
    page.goto(studio.url)
    open_tab(page, "Train")
    wait_for_train_form(page)
    # a reloaded page shows the newest run's config: start from the page's default form
    set_code(page, "train-yaml", dump_config(config_from_mapping(DEFAULT_BASE)))
    page.locator("#train-apply-yaml").click()
    expect(page.locator("#train-status")).to_contain_text("Form filled from the YAML")
    choose_custom(page, "train-model", tiny_qwen2_dir)
    fill(page, "train-max-steps", total)
    fill(page, "train-cutoff", 256)
    fill(page, "train-batch", 1)
    expect(page.locator("#train-yaml")).to_contain_text(f"max_steps: {total}")
    record_texts(page, "train-job-progress")
    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text("queued")
    expect(page.locator("#train-start")).to_be_disabled()  # one training job at a time
    run_name = re.search(r"runs/(sft-[\w-]+)", element_text(page, "train-status")).group(1)
    run_dir = studio.workspace / "runs" / run_name
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["adapter_name_or_path"] == []
    wait_for_points(page, "train-curves", ("loss",), 1, JOB_TIMEOUT_MS)
    # the panel showed the phases before training, then the step count with its ETA
    wait_for_recorded(page, "train-job-progress", rf"^step \d+/{total} · \d+% · .* · ETA \d+:\d\d")
    phases = recorded_texts(page, "train-job-progress")
    assert any(
        re.match(r"(waiting for a free slot|starting|loading the model|tokenizing)", text)
        for text in phases
    ), phases

    record_texts(page, "train-run")
    page.locator("#train-cancel").click()
    expect(page.locator("#train-status")).to_contain_text("Cancelling job")
    expect(page.locator("#train-status")).to_contain_text("Resume continues from there")
    header = page.locator("#train-run")
    expect(header).to_contain_text("cancelled", timeout=JOB_TIMEOUT_MS)
    assert run_name in header.inner_text()
    states = [
        match.group(1)
        for text in recorded_texts(page, "train-run")
        if (match := re.search(r"job \d+ · (\w+)", text))
    ]
    assert "cancelling" in states and states[-1] == "cancelled", states
    expect(page.locator("#train-cancel")).to_be_disabled()
    expect(page.locator("#train-resume")).to_be_enabled()
    expect(page.locator("#train-continue")).to_be_disabled()
    first_job = int(re.search(r"job (\d+)", header.inner_text()).group(1))
    row = table_row(page, "train-history", run_name)
    expect(row).to_contain_text("cancelled")
    summary = json.loads((run_dir / "summary.json").read_text())
    stopped = int(Path(summary["checkpoint"]).name.split("-")[1])
    assert summary["status"] == "cancelled" and 1 <= stopped < total
    page.wait_for_function(f"({STEP_SHOWN})() === {stopped}")
    assert re.search(rf"Step\s*{stopped}\s*/\s*{total}", element_text(page, "train-step"))

    page.reload()  # the form and the YAML pane show the cancelled run's config, not the defaults
    open_tab(page, "Train")
    expect(header).to_contain_text(f"{run_name} · job {first_job} · cancelled")
    expect(page.locator("#train-max-steps input")).to_have_value(str(total))
    assert field_value(page, "train-cutoff") == "256"
    assert field_value(page, "train-model") == str(tiny_qwen2_dir)
    shown = yaml.safe_load(yaml_shown(page))
    assert shown == yaml.safe_load((run_dir / "config.yaml").read_text())
    expect(page.locator("#train-steps-note")).to_contain_text("Max steps applies")
    expect(page.locator("#train-status")).to_contain_text(f"{SHOWS_CONFIG} {run_name}")
    expect(page.locator("#train-resume")).to_be_enabled()
    page.wait_for_function(f"({STEP_SHOWN})() === {stopped}")

    page.locator("#train-resume").click()
    resumed = f"resumes {run_name} from checkpoint-{stopped}"
    expect(page.locator("#train-status")).to_contain_text(resumed)
    expect(header).to_contain_text(re.compile(r"queued|running|succeeded"))
    page.wait_for_function(f"({STEP_SHOWN})() > {stopped}", timeout=JOB_TIMEOUT_MS)
    expect(row).to_contain_text("succeeded", timeout=JOB_TIMEOUT_MS)
    expect(header).to_contain_text("succeeded")
    page.wait_for_function(f"({STEP_SHOWN})() === {total}")
    assert re.search(rf"Step\s*{total}\s*/\s*{total}", element_text(page, "train-step"))
    resumed_job = int(re.search(r"job (\d+)", header.inner_text()).group(1))
    assert resumed_job != first_job
    expect(row).to_have_count(1)  # a resumed run is one row, shown with its latest job
    assert str(resumed_job) in [
        cell.strip() for cell in row.locator("[role=gridcell]").all_inner_texts()
    ]
    assert trace_points(page, "train-curves")["loss"] == total
    assert [m["step"] for m in read_metrics(run_dir)] == list(range(1, total + 1))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["resumed_from"] == str(
        run_dir / f"checkpoint-{stopped}"
    )

    # finished: Resume cannot train it further; Continue starts a new run from its adapter
    adapter = run_dir / "adapter"
    before = digest(adapter)
    expect(page.locator("#train-resume")).to_be_disabled()
    expect(page.locator("#train-cancel")).to_be_disabled()
    expect(page.locator("#train-delete")).to_be_enabled()
    expect(page.locator("#train-start")).to_be_enabled()
    expect(header).to_contain_text(str(resumed_job))
    page.locator("#train-continue").click()
    expect(page.locator("#train-status")).to_contain_text(f"The form continues {run_name}")
    continued = yaml.safe_load(yaml_shown(page))
    assert continued["adapter_name_or_path"] == [str(adapter)]
    expect(page.locator("#train-adapters")).to_contain_text(f"{run_name} · sft · demo_train")
    fill(page, "train-max-steps", 2)
    expect(page.locator("#train-yaml")).to_contain_text("max_steps: 2")
    page.locator("#train-start").click()
    expect(page.locator("#train-status")).to_contain_text("queued")
    new_name = re.search(r"runs/(sft-[\w-]+)", element_text(page, "train-status")).group(1)
    assert new_name != run_name
    expect(table_row(page, "train-history", new_name)).to_contain_text(
        "succeeded", timeout=JOB_TIMEOUT_MS
    )
    new_dir = studio.workspace / "runs" / new_name
    assert (new_dir / "adapter" / "adapter_config.json").is_file()
    assert yaml.safe_load((new_dir / "config.yaml").read_text())["adapter_name_or_path"] == [
        str(adapter)
    ]
    assert digest(adapter) == before
    assert json.loads((run_dir / "summary.json").read_text()) == summary

    page.reload()  # finished: the form and the YAML pane show the continuing run's config
    open_tab(page, "Train")
    expect(header).to_contain_text(f"{new_name} · job")
    expect(page.locator("#train-status")).to_contain_text(f"{SHOWS_CONFIG} {new_name}")
    expect(page.locator("#train-max-steps input")).to_have_value("2")
    assert yaml.safe_load(yaml_shown(page)) == yaml.safe_load((new_dir / "config.yaml").read_text())
    expect(page.locator("#train-adapters")).to_contain_text(f"{run_name} · sft · demo_train")


def test_yaml_load_file_apply_edited_yaml_and_save_to_file(studio, page, tmp_path: Path) -> None:
    demo = yaml.safe_load((REPO_ROOT / "configs" / "demo_sft.yaml").read_text())
    page.goto(studio.url)
    open_tab(page, "Train")
    wait_for_train_form(page)
    # move the form away from the file's values first, so loading it must change them
    fill(page, "train-max-steps", 99)
    fill(page, "train-lr", 0.01)
    fill(page, "train-batch", 5)
    expect(page.locator("#train-yaml")).to_contain_text("max_steps: 99")

    choose(page, "train-ready", "configs/demo_sft.yaml")
    expect(
        page.locator("#train-config-path textarea, #train-config-path input").first
    ).to_have_value("configs/demo_sft.yaml")
    page.locator("#train-load").click()
    expect(page.locator("#train-status")).to_contain_text("Loaded configs/demo_sft.yaml")
    expect(page.locator("#train-max-steps input")).to_have_value(str(demo["max_steps"]))
    assert float(field_value(page, "train-lr")) == demo["learning_rate"]
    assert field_value(page, "train-batch") == str(demo["per_device_train_batch_size"])
    assert field_value(page, "train-cutoff") == str(demo["cutoff_len"])
    assert field_value(page, "train-lora-alpha") == str(demo["lora_alpha"])
    assert field_value(page, "train-save-steps") == str(demo["save_steps"])
    assert field_value(page, "train-model") == demo["model_name_or_path"]
    assert "demo_train" in page.locator("#train-dataset").inner_text()
    loaded = yaml.safe_load(yaml_shown(page))
    assert (
        loaded["max_steps"] == demo["max_steps"] and loaded["warmup_ratio"] == demo["warmup_ratio"]
    )

    # edit the YAML: a form field (max_steps, learning_rate) and a key the form does not show
    # (warmup_ratio)
    edited = re.sub(r"(?m)^max_steps: .*$", "max_steps: 12", yaml_shown(page))
    edited = re.sub(r"(?m)^learning_rate: .*$", "learning_rate: 0.0003", edited)
    edited = re.sub(r"(?m)^warmup_ratio: .*$", "warmup_ratio: 0.25", edited)
    set_code(page, "train-yaml", edited)
    assert yaml.safe_load(yaml_shown(page))["max_steps"] == 12
    page.locator("#train-apply-yaml").click()
    expect(page.locator("#train-status")).to_contain_text("Form filled from the YAML")
    expect(page.locator("#train-max-steps input")).to_have_value("12")
    assert float(field_value(page, "train-lr")) == 0.0003
    assert field_value(page, "train-batch") == str(demo["per_device_train_batch_size"])

    # a key given twice is refused naming both lines, and the form keeps its values
    lines = edited.splitlines()
    twice = "\n".join([*lines, "max_steps: 3"]) + "\n"
    set_code(page, "train-yaml", twice)
    page.locator("#train-apply-yaml").click()
    first = lines.index("max_steps: 12") + 1
    expect(page.locator("#train-status")).to_contain_text(
        f"key 'max_steps' is given twice (lines {first} and {len(lines) + 1})"
    )
    expect(page.locator("#train-max-steps input")).to_have_value("12")

    # a form edit after Apply goes into the saved file too
    fill(page, "train-cutoff", 512)
    expect(page.locator("#train-yaml")).to_contain_text("cutoff_len: 512")
    target = tmp_path / "edited_sft.yaml"
    fill(page, "train-config-path", target)
    page.locator("#train-save").click()
    expect(page.locator("#train-status")).to_contain_text("Saved")
    saved = yaml.safe_load(target.read_text())
    assert (
        saved["max_steps"] == 12 and saved["learning_rate"] == 0.0003 and saved["cutoff_len"] == 512
    )
    assert (
        saved["warmup_ratio"] == 0.25
    )  # kept from the applied YAML though the form has no field for it
    assert (
        saved["dataset"] == ["demo_train"]
        and saved["lr_scheduler_type"] == demo["lr_scheduler_type"]
    )
    assert config_from_mapping(saved).max_steps == 12  # the file is a valid training config

    # a misspelt key is refused with the closest known key named, the form keeps its values
    # and the YAML pane shows the form's config again
    set_code(page, "train-yaml", edited.replace("learning_rate: 0.0003", "learning_rte: 0.001"))
    page.locator("#train-apply-yaml").click()
    expect(page.locator("#train-status")).to_contain_text("Could not do that")
    assert "learning_rate" in element_text(page, "train-status")
    assert "Traceback" not in page.content()
    assert float(field_value(page, "train-lr")) == 0.0003
    expect(page.locator("#train-yaml")).not_to_contain_text("learning_rte")
    assert yaml.safe_load(yaml_shown(page))["cutoff_len"] == 512

    # a YAML that does not parse: its line and column come first in the message
    set_code(page, "train-yaml", "max_steps: 3\n  stage: dpo\n")
    page.locator("#train-apply-yaml").click()
    expect(page.locator("#train-status")).to_contain_text(
        "the YAML: YAML does not parse at line 2, column 8"
    )
    expect(page.locator("#train-max-steps input")).to_have_value("12")
    assert yaml.safe_load(yaml_shown(page))["max_steps"] == 12
