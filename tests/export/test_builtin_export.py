"""The real built-in model with a LoRA adapter, exported to a folder and a GGUF file: each answers
a demo question with the SQL the studio's own inference gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.data.registry import database_ref, load_examples
from studio.export.pipeline import ExportRequest, export_model
from studio.inference.playground import ModelPool, Variant, answer
from studio.models.references import DEFAULT_MODEL, model_identity
from studio.testing.random_models import save_random_adapter
from studio.workspace import Workspace


@pytest.mark.builtin
def test_builtin_export_answers_as_the_studio(
    builtin_model_dir: Path, workspace: Workspace, tmp_path: Path
) -> None:
    adapter = save_random_adapter(builtin_model_dir, tmp_path / "adapter", targets=("v_proj",))
    out = tmp_path / "sql-model"
    export_model(ExportRequest(DEFAULT_MODEL, (str(adapter),), out, "f32", "f16", True))
    example = load_examples(workspace, "demo_train")[0]
    database = database_ref(workspace, "demo_train", example.db_id)
    gguf_file = out / "sql-model.f16.gguf"
    variants = [Variant(DEFAULT_MODEL, (str(adapter),)), Variant(str(out)), Variant(str(gguf_file))]
    try:
        answers = answer(example.question, database, variants, pool=ModelPool(1), max_new_tokens=64)
    finally:  # the GGUF's conversion in the model cache, and its lock
        converted = Path(model_identity(str(gguf_file)))
        shutil.rmtree(converted, ignore_errors=True)
        converted.with_name(converted.name + ".lock").unlink(missing_ok=True)
    assert all(item.error is None for item in answers)
    studio, folder, gguf = (item.sql for item in answers)
    assert studio and folder == studio and gguf == studio
