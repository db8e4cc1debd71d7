"""`python -m studio data`: import, list, show, validate and unregister datasets; load databases
into MySQL."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from studio.data.importers import DEFAULT_CUTOFF_LEN
from studio.data.importers.demo import open_workspace
from studio.errors import StudioError

if TYPE_CHECKING:
    from studio.workspace import Workspace

HELP = (
    "datasets: import benchmarks, list, show rendered prompts, validate, load databases into MySQL"
)
GOLD_FAILURES_SHOWN = 20
STYLES = (
    "ddl",
    "compact",
    "enriched",
    "enriched-compact",
)  # studio.data.schema_text.SCHEMA_STYLES (imports sqlglot)


def register(parser: argparse.ArgumentParser) -> None:
    from studio.data.importers import IMPORTERS
    from studio.models.references import DEFAULT_MODEL

    verbs = parser.add_subparsers(dest="data_verb", metavar="ACTION", required=True)

    imp = verbs.add_parser(
        "import", help="import a benchmark or an existing dataset and register it"
    )
    imp.add_argument("--format", required=True, choices=list(IMPORTERS), help="layout of --path")
    imp.add_argument("--path", required=True, type=Path, help="file or folder to import")
    imp.add_argument(
        "--db-dir", type=Path, help="folder of SQLite databases (<db>.sqlite or <db>/<db>.sqlite)"
    )
    imp.add_argument(
        "--mysql-url",
        help="databases on a MySQL server, one per db_id: mysql://user:pass@host:port/any",
    )
    imp.add_argument(
        "--name",
        help="dataset name, used as given (a split suffix is added per "
        "split); default: made from --path",
    )
    imp.add_argument(
        "--replace",
        action="store_true",
        help="replace datasets of the same names (never done without this)",
    )
    imp.add_argument(
        "--schema-style", default="ddl", choices=STYLES, help="how prompts show the schema"
    )
    imp.add_argument(
        "--cutoff-len",
        type=int,
        default=DEFAULT_CUTOFF_LEN,
        help="token budget of prompt + answer; larger schemas are shrunk (0: no budget)",
    )
    imp.add_argument(
        "--sample-values", type=int, default=3, help="sample values per column for enriched styles"
    )
    imp.add_argument("--model", default=DEFAULT_MODEL, help="model whose tokenizer counts tokens")
    imp.set_defaults(func=_import)

    lst = verbs.add_parser("list", help="list registered datasets")
    lst.set_defaults(func=_list)

    show = verbs.add_parser(
        "show", help="print rendered prompts (chat template applied) with their gold SQL"
    )
    show.add_argument("name")
    show.add_argument("--n", type=int, default=5, help="how many examples")
    show.add_argument(
        "--model", default=DEFAULT_MODEL, help="model whose chat template renders the prompts"
    )
    show.set_defaults(func=_show)

    validate = verbs.add_parser("validate", help="check dataset_info.json and every dataset file")
    validate.add_argument(
        "--golds",
        action="store_true",
        help="also execute every gold SQL on its database and list those that fail",
    )
    validate.add_argument(
        "--dataset",
        action="append",
        metavar="NAME",
        help="with --golds: only this dataset (repeatable; default: every one with gold SQL)",
    )
    validate.add_argument(
        "--workers", type=int, help="with --golds: processes executing SQL (default: one per CPU)"
    )
    validate.add_argument(
        "--timeout", type=float, default=30.0, help="with --golds: seconds per gold query"
    )
    validate.set_defaults(func=_validate)

    load = verbs.add_parser(
        "load-mysql", help="load a SQLite file or a schema.sql + CSV folder into MySQL"
    )
    load.add_argument(
        "--source",
        required=True,
        type=Path,
        help=".sqlite file, or folder with schema.sql and data/",
    )
    load.add_argument("--url", required=True, help="target: mysql://user:pass@host:port/DBNAME")
    load.add_argument(
        "--replace", action="store_true", help="drop and reload the database when it exists"
    )
    load.set_defaults(func=_load_mysql)

    unregister = verbs.add_parser("unregister", help="remove a dataset from the registry")
    unregister.add_argument("name")
    unregister.set_defaults(func=_unregister)


def _import(args: argparse.Namespace) -> int:
    from studio.data.importers import PROMPT_BUILDING_FORMATS, import_dataset
    from studio.data.importers.common import ImportOptions

    ws = open_workspace(args.workspace)
    tokenizer = None
    if args.format in PROMPT_BUILDING_FORMATS and args.cutoff_len > 0:
        from studio.models.references import load_tokenizer

        tokenizer = load_tokenizer(args.model)
    options = ImportOptions(
        name=args.name,
        replace=args.replace,
        db_dir=args.db_dir,
        mysql_url=args.mysql_url,
        schema_style=args.schema_style,
        cutoff_len=args.cutoff_len or None,
        tokenizer=tokenizer,
        tokenizer_ref=args.model,
        sample_values=args.sample_values,
        progress=True,
    )
    for dataset in import_dataset(ws, args.format, args.path, options):
        meta = dataset.meta
        line = f"registered {dataset.name}: {dataset.rows} rows ({dataset.kind}"
        if meta and meta.dialect:
            line += f", {meta.dialect}"
        if meta and meta.schema_style:
            line += f", schema {meta.schema_style}"
        print(line + f") -> {dataset.path}")
        if meta and meta.shrunk:
            stages = ", ".join(f"{stage}: {count}" for stage, count in meta.shrunk_by_stage.items())
            print(f"  shrunk {meta.shrunk} prompts to fit cutoff_len={meta.cutoff_len} ({stages})")
        if meta and meta.over_budget:
            print(
                f"  left out {meta.over_budget} examples that do not fit "
                f"cutoff_len={meta.cutoff_len} even with "
                "only the tables their SQL uses; raise --cutoff-len to keep them"
            )
    return 0


def _list(args: argparse.Namespace) -> int:
    from studio.data.registry import list_datasets

    datasets = list_datasets(open_workspace(args.workspace))
    if not datasets:
        print("no datasets registered; add one with `python -m studio data import`")
        return 0
    header = ("name", "kind", "rows", "dialect", "schema", "databases", "source")
    table = [header]
    for d in datasets:
        meta = d.meta
        table.append(
            (
                d.name,
                d.kind,
                "?" if d.rows is None else str(d.rows),
                (meta and meta.dialect) or "-",
                (meta and meta.schema_style) or "-",
                str(len(d.databases)),
                (meta and meta.source_format) or "hand-registered",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from studio.data.prompts import build_messages, render_chat
    from studio.data.registry import get_dataset, load_examples
    from studio.models.references import load_tokenizer

    ws = open_workspace(args.workspace)
    dataset = get_dataset(ws, args.name)
    examples = load_examples(ws, args.name)[: max(args.n, 0)]
    tokenizer = load_tokenizer(args.model)
    meta = dataset.meta
    print(
        f"{dataset.name}: {dataset.kind}, {dataset.rows if dataset.rows is not None else '?'} rows"
        + (
            f", {meta.dialect}, schema {meta.schema_style}, {meta.shrunk} prompts shrunk"
            if meta
            else ""
        )
    )
    for example in examples:
        where = ", ".join(str(x) for x in (example.db_id, example.difficulty) if x)
        print(f"\n=== example {example.index}" + (f" ({where})" if where else "") + " ===")
        print(render_chat(tokenizer, build_messages(example)), end="")
        if dataset.kind == "preference":
            print(f"\n--- chosen ---\n{example.chosen}\n--- rejected ---\n{example.rejected}")
        else:
            print(f"\n--- gold ---\n{example.gold_sql}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from studio.data.validate import format_problems, validate_registry

    if args.dataset and not args.golds:
        raise StudioError("--dataset picks the datasets whose golds run; add --golds")
    ws = open_workspace(args.workspace)
    problems = validate_registry(ws)
    if problems:
        print(f"{len(problems)} problem(s) in {ws.dataset_info_path} and its datasets:")
        print(format_problems(problems))
        return 1
    print(f"{ws.dataset_info_path}: every dataset is valid")
    return _validate_golds(ws, args) if args.golds else 0


def _validate_golds(ws: Workspace, args: argparse.Namespace) -> int:
    from studio.data.gold_check import GOLD_FIX, check_datasets_golds

    checks = check_datasets_golds(
        ws, args.dataset or (), workers=args.workers, timeout_s=args.timeout, bars=True
    )
    if not checks:
        print("no registered dataset has gold SQL to execute")
        return 0
    for check in checks:
        print(
            f"{check.dataset}: {check.executed:,} gold queries executed, {len(check.failures)} fail"
        )
        for failure in check.failures[:GOLD_FAILURES_SHOWN]:
            print(f"- row {failure.index} ({failure.db_id}): {failure.error}")
            print(f"  {failure.gold_sql}")
        if len(check.failures) > GOLD_FAILURES_SHOWN:
            print(f"- and {len(check.failures) - GOLD_FAILURES_SHOWN} more")
    if any(check.failures for check in checks):
        print(f"Fix: {GOLD_FIX}")
        return 1
    return 0


def _load_mysql(args: argparse.Namespace) -> int:
    from studio.sql.load_mysql import load_into_mysql

    result = load_into_mysql(args.source, args.url, replace=args.replace)
    total = sum(result.rows.values())
    print(f"loaded {len(result.rows)} tables, {total} rows into {result.url}")
    for note in result.skipped_foreign_keys:
        print(f"  foreign key MySQL refused (left out): {note}")
    for note in result.widened_columns:
        print(f"  widened to keep long values: {note}")
    return 0


def _unregister(args: argparse.Namespace) -> int:
    from studio.data.registry import unregister_dataset

    unregister_dataset(open_workspace(args.workspace), args.name)
    print(f"unregistered {args.name}")
    return 0
