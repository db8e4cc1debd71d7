"""EX by the Spider hardness of the gold SQL, for the runs of a GPU run's correct-by-question.json.

    python bench/bench_ex_by_hardness.py docs/gpu-runs/RUN/correct-by-question.json --data DIR \
        [--first sft]

correct-by-question.json maps each evaluated model to its verdicts on SpiderMan test as a
string of 0 / 1 in question order; DIR is a full SpiderMan copy (docs/DATA.md), whose
test_queries.csv gives the gold SQL in the same order. Prints one JSON line: the questions per
hardness level (studio/sql/hardness.py), each run's EX per level, and each other run's paired
difference to the first (`--first`, default the file's first run) per level: points, 95 %
interval, questions gained / lost, McNemar p. No model runs: any CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from spiderman_data import add_data_argument, checked_data_dir

from studio.evaluate.statistics import paired_difference, percentage
from studio.sql.hardness import HARDNESS_ORDER, spider_hardness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("verdicts", type=Path, help="a correct-by-question.json")
    add_data_argument(parser)
    parser.add_argument("--first", help="the run the others are compared with")
    args = parser.parse_args()
    runs: dict[str, str] = json.loads(args.verdicts.read_text(encoding="utf-8"))
    with open(checked_data_dir(args.data) / "test_queries.csv", encoding="utf-8") as handle:
        levels = [spider_hardness(row["sql"]) or "unknown" for row in csv.DictReader(handle)]
    if wrong := [name for name, bits in runs.items() if len(bits) != len(levels)]:
        sys.exit(f"{', '.join(wrong)}: not one verdict per test question ({len(levels)})")
    first = args.first or next(iter(runs))
    if first not in runs:
        sys.exit(f"--first {first}: not a run of {args.verdicts} ({', '.join(runs)})")
    counts = Counter(levels)
    order = [level for level in (*HARDNESS_ORDER, "unknown") if counts[level]]

    def verdicts(name: str, level: str) -> list[bool]:
        return [bit == "1" for bit, at in zip(runs[name], levels, strict=True) if at == level]

    result = {
        "questions": {level: counts[level] for level in order},
        "ex": {
            name: {level: percentage(sum(verdicts(name, level)), counts[level]) for level in order}
            for name in runs
        },
        f"vs_{first}": {
            name: {
                level: paired_difference(verdicts(first, level), verdicts(name, level))
                for level in order
            }
            for name in runs
            if name != first
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
