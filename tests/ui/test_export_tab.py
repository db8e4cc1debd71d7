"""The Export tab in a real browser: a tiny random model and its LoRA adapter exported to a merged
folder, a GGUF file and a Modelfile, the written files listed on the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.testing.random_models import save_random_adapter, save_random_model

EXPORT_TIMEOUT_MS = 300_000


def choose_custom(page, elem_id: str, value: str) -> None:
    """Type a value into a Gradio dropdown that allows custom values, and commit it."""
    box = page.locator(f"#{elem_id} input")
    box.fill(value)
    box.press("Enter")
    page.locator("body").click(position={"x": 5, "y": 5})


@pytest.mark.browser
def test_export_tab_writes_a_checked_export(
    studio, page, screenshot, builtin_tokenizer_dir: Path, tmp_path: Path
) -> None:
    model_dir = save_random_model(
        "tiny-qwen2", tmp_path / "model", str(builtin_tokenizer_dir), vocab_tokens=1000
    )
    adapter = save_random_adapter(model_dir, tmp_path / "adapter")
    out = tmp_path / "exported"

    page.goto(studio.url)
    page.get_by_role("tab", name="Export").click()
    choose_custom(page, "export-model", str(model_dir))
    choose_custom(page, "export-adapters", str(adapter))
    page.locator("#export-dtype").get_by_label("f16", exact=True).check()
    page.locator("#export-gguf").get_by_label("f16", exact=True).check()
    page.locator("#export-mf input").check()
    page.locator("#export-out textarea, #export-out input").first.fill(str(out))
    page.locator("#export-start").click()
    page.locator("#export-status").get_by_text("Exported to").wait_for(timeout=EXPORT_TIMEOUT_MS)
    files = page.locator("#export-files").inner_text()
    screenshot(page, "export-tab")
    for name in ("Modelfile", "exported.f16.gguf", "model.safetensors", "studio-export.json"):
        assert name in files
        assert (out / name).is_file()
    assert "logits match" in page.locator("#export-log textarea").input_value()


def test_every_export_update_carries_the_whole_page(
    builtin_tokenizer_dir: Path, tmp_path: Path
) -> None:
    """Each update of Start export holds every output: Gradio's browser client applies a
    yield's diff in place to the previous yield's values, so an output left out (a no-op
    update) could undo the cleared file list before a slow page had shown it."""
    import gradio as gr

    from studio.data.importers.demo import open_workspace
    from studio.ui import export_tab
    from studio.web.path_roots import PathRoots

    model_dir = save_random_model(
        "tiny-qwen2", tmp_path / "model", str(builtin_tokenizer_dir), vocab_tokens=1000
    )
    ws = open_workspace(tmp_path / "workspace")
    with gr.Blocks() as blocks:
        export_tab.build(ws, PathRoots.for_workspace(ws.root, [tmp_path]))
    start = next(fn for fn in blocks.fns.values() if fn.name == "run")
    out = tmp_path / "exported"
    updates = list(start.fn(str(model_dir), [], "f16", "none", False, str(out)))
    assert len(updates) > 2  # cleared, progress lines, done
    assert all(set(update) == set(start.outputs) for update in updates)
    last = {component.elem_id: value for component, value in updates[-1].items()}
    assert last["export-status"].startswith("Exported to")
    assert "model.safetensors" in last["export-files"].to_string()
