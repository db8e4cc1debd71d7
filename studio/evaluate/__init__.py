"""Execution-accuracy evaluation: generate SQL for a dataset, score it next to gold, report.

    from studio.evaluate import evaluate, score_predictions, compare_runs
    summary = evaluate(ws, "demo_test", model="builtin:qwen2.5-coder-0.5b-instruct", limit=20)
    summary["ex"]          # execution accuracy, a percentage

A run is a folder: config.json, predictions.jsonl, verdicts.jsonl, summary.json
(and metrics.jsonl, log, status.json when it ran as a job). See docs/EVALUATION.md.
"""

from studio.evaluate.report import ComparisonTable, compare_runs, load_summary
from studio.evaluate.run import EvalConfig, evaluate, score_predictions

__all__ = [
    "ComparisonTable",
    "EvalConfig",
    "compare_runs",
    "evaluate",
    "load_summary",
    "score_predictions",
]
