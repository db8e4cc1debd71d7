"""Summaries of verdicts (overall, per difficulty, per database, error categories, a bootstrap
confidence interval) and side-by-side comparison of runs."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.evaluate.statistics import bootstrap_ci95, percentage
from studio.jobs.rundir import RunDir, adapter_label
from studio.sql.hardness import HARDNESS_ORDER, spider_hardness
from studio.sql.score import CATEGORIES

UNKNOWN_DIFFICULTY = "unknown"
# how a compared run's answers ended, in the words of the comparison's rows
OUTCOME_LABELS = {
    "correct": "right",
    "wrong_result": "wrong result",
    "pred_error": "SQL error",
    "pred_timeout": "timed out",
    "pred_refused": "refused by the SQL guard",
    "gold_error": "gold SQL failed",
}
# benchmark difficulty labels, easiest first (BIRD, then Spider); others follow alphabetically
DIFFICULTY_ORDER = (
    "simple",
    "moderate",
    "challenging",
    "easy",
    "medium",
    "hard",
    "extra",
    UNKNOWN_DIFFICULTY,
)


def _group(
    rows: Iterable[dict[str, Any]], field: str, order: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    counts: dict[str, list[int]] = {}
    for row in rows:
        key = str(row.get(field) or UNKNOWN_DIFFICULTY)
        tally = counts.setdefault(key, [0, 0])
        tally[0] += 1
        tally[1] += bool(row["correct"])
    rank = {name: i for i, name in enumerate(order)}
    keys = sorted(counts, key=lambda k: (rank.get(k, len(rank)), k))
    return {
        k: {
            "n": counts[k][0],
            "correct": counts[k][1],
            "ex": percentage(counts[k][1], counts[k][0]),
        }
        for k in keys
    }


def summarize_verdicts(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """EX (%), its 95 % bootstrap interval, and breakdowns by difficulty, Spider hardness of the
    gold SQL, database and category."""
    correct = [bool(row["correct"]) for row in rows]
    categories = Counter(row["category"] for row in rows)
    return {
        "n": len(rows),
        "correct": sum(correct),
        "ex": percentage(sum(correct), len(rows)),
        "ex_ci95": bootstrap_ci95(correct),
        "by_difficulty": _group(rows, "difficulty", DIFFICULTY_ORDER),
        "by_hardness": _group(
            [{**row, "hardness": spider_hardness(row.get("gold_sql") or "")} for row in rows],
            "hardness",
            HARDNESS_ORDER,
        ),
        "by_database": _group(rows, "db_id"),
        "categories": {name: categories[name] for name in CATEGORIES if categories[name]},
    }


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    """A run's summary.json; a StudioError when the folder holds no finished evaluation."""
    path = RunDir(run_dir).summary
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudioError(
            f"{run_dir} holds no {path.name}: it is not a finished evaluation run "
            "(run `python -m studio eval` into it first)"
        ) from None
    except json.JSONDecodeError as error:
        raise StudioError(
            f"{path}: not valid JSON ({error.msg}); run the evaluation again"
        ) from None
    if not isinstance(summary, dict) or "ex" not in summary:
        raise StudioError(
            f"{path} is not an evaluation summary (no 'ex'); pass evaluation run folders"
        )
    return summary


@dataclass(frozen=True)
class ComparisonTable:
    """Runs side by side: `columns` is ["", run names...]; each row is a label and one value per run
    (EX in %, None where a run has no such group)."""

    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows}

    def to_text(self) -> str:
        """A fixed-width text table for the terminal (p-values as `format_p` writes them)."""
        cells = [self.columns] + [
            [
                format_p(v) if row[0].endswith("McNemar p") and i else _cell(v)
                for i, v in enumerate(row)
            ]
            for row in self.rows
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=False))
            )
            for row in cells
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def format_p(p: float | None) -> str:
    """A p-value for reading: four decimals, or "< 0.0001" below that."""
    if p is None:
        return "-"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def decoding(summary: dict[str, Any]) -> str | None:
    """How a run generated its answers (engine, batch, new tokens); None for a scored
    predictions file. Greedy EX can move by a few questions with the batch (bf16 kernels)."""
    if summary.get("mode") != "generate":
        return None
    return (
        f"{summary.get('engine')}, batch {summary.get('batch_size')}, "
        f"up to {summary.get('max_new_tokens')} tokens"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _run_name(run_dir: Path, summary: dict[str, Any]) -> str:
    adapters = [Path(a) for a in summary.get("adapters") or []]
    if adapters:  # a training run's adapter/ is named after its run folder
        label = adapter_label(adapters[-1])
    else:
        label = str(summary.get("model") or "predictions")
    return f"{run_dir.name} ({label})"


def compare_runs(run_dirs: Sequence[str | Path]) -> ComparisonTable:
    """EX overall, per difficulty and per database of each run, side by side (with each run's
    dataset, model and question count, so runs on different data are easy to spot)."""
    if not run_dirs:
        raise StudioError("name at least one evaluation run folder to compare")
    summaries = [load_summary(run_dir) for run_dir in run_dirs]
    columns = [""] + [_run_name(Path(d), s) for d, s in zip(run_dirs, summaries, strict=False)]
    rows: list[list[Any]] = [
        ["dataset"] + [s.get("dataset") for s in summaries],
        ["model"] + [s.get("model") for s in summaries],
        ["adapters"] + [", ".join(s.get("adapters") or []) or None for s in summaries],
        ["questions"] + [s.get("n") for s in summaries],
        ["decoding"] + [decoding(s) for s in summaries],
        ["EX (%)"] + [s.get("ex") for s in summaries],
        ["EX 95% CI"] + [_interval(s.get("ex_ci95")) for s in summaries],
        *_vote_rows(summaries),
        *_paired_rows(run_dirs),
        *_outcome_rows(summaries),
    ]
    breakdowns = (
        ("by_difficulty", "difficulty"),
        ("by_hardness", "hardness"),
        ("by_database", "database"),
    )
    for field, label in breakdowns:
        groups = _ordered_union([list(s.get(field) or {}) for s in summaries], field)
        for group in groups:
            rows.append(
                [f"{label}: {group}"]
                + [(s.get(field) or {}).get(group, {}).get("ex") for s in summaries]
            )
    return ComparisonTable(columns, rows)


def _outcome_rows(summaries: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """How many answers of each run ended each way (right, wrong result, SQL error, ...): one row
    per outcome any run had; None for a run whose summary does not count them."""
    counts = [s.get("categories") for s in summaries]
    seen = {category for c in counts if c for category, n in c.items() if n}
    return [
        [f"answers: {OUTCOME_LABELS[category]}"]
        + [c.get(category, 0) if c is not None else None for c in counts]
        for category in CATEGORIES
        if category in seen
    ]


def _vote_rows(summaries: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """EX of the execution-guided vote next to greedy, for runs that voted (None elsewhere);
    no rows when no run voted."""
    votes = [s.get("vote") for s in summaries]
    if not any(votes):
        return []
    paired = [v["vs_greedy"] if v else None for v in votes]
    return [
        ["voted over (samples)"] + [v["samples"] if v else None for v in votes],
        ["EX voted (%)"] + [v["ex"] if v else None for v in votes],
        ["EX voted - greedy (paired)"] + [p["difference"] if p else None for p in paired],
        ["voted - greedy 95% CI"] + [_interval(p["ci95"]) if p else None for p in paired],
        ["voted - greedy McNemar p"] + [p["mcnemar_p"] if p else None for p in paired],
    ]


def _paired_rows(run_dirs: Sequence[str | Path]) -> list[list[Any]]:
    """Each later run against the first on the same questions (None where they differ or lack
    verdicts)."""
    from studio.evaluate.paired import paired_runs

    if len(run_dirs) < 2:
        return []
    results: list[dict[str, Any] | None] = [None]
    for run_dir in run_dirs[1:]:
        try:
            results.append(paired_runs(run_dirs[0], run_dir))
        except StudioError:
            results.append(None)
    return [
        ["EX - first run (paired)"] + [r["difference"] if r else None for r in results],
        ["paired 95% CI"] + [_interval(r["ci95"]) if r else None for r in results],
        ["right only here / only in first"]
        + [f"{r['gained']} / {r['lost']}" if r else None for r in results],
        ["McNemar p"] + [r["mcnemar_p"] if r else None for r in results],
    ]


def _interval(value: Any) -> str | None:
    return (
        f"[{value[0]:.2f}, {value[1]:.2f}]" if isinstance(value, list) and len(value) == 2 else None
    )


def _ordered_union(key_lists: Sequence[list[str]], field: str) -> list[str]:
    keys = list(dict.fromkeys(key for keys in key_lists for key in keys))
    order = {"by_difficulty": DIFFICULTY_ORDER, "by_hardness": HARDNESS_ORDER}.get(field)
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))
    return sorted(keys)
