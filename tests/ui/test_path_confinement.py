"""Paths typed on the page stay inside the studio's roots, in a real browser.

The module's studio may use its workspace, the project's configs/ and data/, and pytest's
temporary folder (`--data-root`); a folder made beside them stands for the rest of the disk.
Import sources, database folders and YAML files there are refused on the page, naming the
roots and the flag, and nothing of those files reaches the page.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from studio.testing.gestures import choose, code_text, element_text, fill, open_tab, table_row

pytestmark = pytest.mark.browser
expect.set_options(timeout=60_000)  # a CPU-bound studio on 2 shared cores
SECRET = "TOPSECRET-7f3a"


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder outside every root of the module's studio."""
    folder = Path(tempfile.mkdtemp(prefix="studio-outside-")).resolve()
    assert not folder.is_relative_to(tmp_path_factory.getbasetemp().resolve())
    yield folder
    shutil.rmtree(folder)


def _refused(page, status_id: str, path: Path | str, what: str) -> str:
    """The page's refusal of `path`: it names the path, the roots and the flag."""
    expect(page.locator(f"#{status_id}")).to_contain_text(f"{what} {path} is outside the folders")
    message = element_text(page, status_id)
    assert "the studio may use" in message
    assert "--data-root DIR" in message and "/configs" in message
    return message


def test_import_refuses_files_and_database_folders_outside_the_roots(
    studio, page, screenshot, outside: Path, tmp_path: Path
) -> None:
    secret = outside / "rows.json"
    secret.write_text(json.dumps([{"instruction": SECRET, "input": "", "output": "SELECT 1"}]))
    page.goto(studio.url)
    expect(page.locator("#datasets-table")).to_contain_text("demo_train")

    fill(page, "import-path", secret)
    fill(page, "import-name", "leak")
    page.locator("#import-button").click()
    _refused(page, "datasets-status", secret, "Path")
    screenshot(page, "datasets-path-refused")

    choose(page, "import-format", "csv")
    fill(page, "import-path", "/etc/passwd")
    page.locator("#import-button").click()
    _refused(page, "datasets-status", "/etc/passwd", "Path")

    inside = tmp_path / "rows.json"
    inside.write_text(secret.read_text())
    choose(page, "import-format", "alpaca")
    fill(page, "import-path", inside)
    fill(page, "import-db-dir", outside)
    page.locator("#import-button").click()
    _refused(page, "datasets-status", outside, "Database folder")

    assert SECRET not in page.content() and "root:x:0" not in page.content()
    expect(table_row(page, "datasets-table", "leak")).to_have_count(0)
    assert not list((studio.workspace / "datasets").glob("leak*"))


def test_yaml_save_and_load_stay_inside_the_roots(studio, page, screenshot, outside: Path) -> None:
    target = outside / "run.yaml"
    elsewhere = outside / "loaded.yaml"
    elsewhere.write_text(f"dataset: demo_train\nmax_steps: 77\nmodel_name_or_path: /{SECRET}\n")
    database = studio.workspace / "studio.db"
    before = database.read_bytes()
    page.goto(studio.url)
    open_tab(page, "Train")
    expect(page.locator("#train-yaml")).to_contain_text("dataset:")

    fill(page, "train-config-path", target)
    page.locator("#train-save").click()
    _refused(page, "train-status", target, "YAML file")
    screenshot(page, "train-yaml-save-refused")
    assert not target.exists()

    fill(page, "train-config-path", elsewhere)
    page.locator("#train-load").click()
    _refused(page, "train-status", elsewhere, "YAML file")
    assert SECRET not in page.content()
    assert page.locator("#train-max-steps input").input_value() != "77"

    fill(page, "train-config-path", database)
    page.locator("#train-save").click()
    expect(page.locator("#train-status")).to_contain_text("is not a YAML file name")
    assert database.read_bytes() == before

    saved = studio.workspace / "configs" / "mine.yaml"
    fill(page, "train-config-path", saved)
    page.locator("#train-save").click()
    expect(page.locator("#train-status")).to_contain_text("Saved")
    assert yaml.safe_load(saved.read_text())["dataset"] == ["demo_train"]


def test_start_refuses_a_config_writing_outside_the_roots(studio, page, outside: Path) -> None:
    page.goto(studio.url)
    open_tab(page, "Train")
    expect(page.locator("#train-yaml")).to_contain_text("dataset:")
    text = code_text(page, "train-yaml")
    page.locator("#train-yaml .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text.replace("output_dir: null", f"output_dir: {outside}/adapter"))
    page.locator("#train-apply-yaml").click()
    expect(page.locator("#train-status")).to_contain_text("Form filled from the YAML")
    page.locator("#train-start").click()
    _refused(page, "train-status", f"{outside}/adapter", "config key 'output_dir':")
    assert not list(studio.workspace.joinpath("runs").glob("sft-*"))
