"""Command-line entry point: ``exinf validate | codebook | reports | merge-reports | app | class``.

Run ``exinf --help`` for the commands; each exits non-zero on failure so that schedulers notice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers import paths


def _validate(args: argparse.Namespace) -> int:
    from helpers import data

    data_dir = Path(args.data_dir) if args.data_dir else paths.data_dir()
    problems = data.validate_package(data_dir)
    if not problems:
        package = data.load_package(data_dir)
        counts = ", ".join(f"{len(frame)} {name}" for name, frame in package.tables.items())
        print(f"OK: {data_dir} is valid (version {package.version}): {counts}")
        return 0
    frame = data.problems_frame(problems)
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.max_colwidth", 90, "display.width", 250):
        print(frame.astype("object").fillna("").to_string(index=False))
    print(f"\n{len(problems)} problem(s) in {data_dir}", file=sys.stderr)
    return 1


def _codebook(args: argparse.Namespace) -> int:
    from helpers import codebook, data

    data_dir = Path(args.data_dir) if args.data_dir else paths.data_dir()
    if args.check:
        current = (data_dir / codebook.CODEBOOK_NAME).read_text(encoding="utf-8")
        if current != codebook.render_codebook(data.load_package(data_dir)):
            print(f"{data_dir / codebook.CODEBOOK_NAME} is stale: run `exinf codebook`", file=sys.stderr)
            return 1
        print("codebook is up to date")
        return 0
    print(f"wrote {codebook.write_codebook(data_dir)}")
    return 0


def _reports(args: argparse.Namespace) -> int:
    from helpers import reports
    from helpers.reports.engine import skip_optional_modules

    skip_optional_modules()  # this process is ours: no ~1 s of parser tables that no build uses

    return reports.main_build(
        args.plan,
        args.out,
        jobs=args.jobs,
        only=args.only,
        force=args.force,
        cell_timeout_s=args.cell_timeout,
        fresh_kernels=args.fresh_kernels,
        scheduler=args.scheduler,
        shard=args.shard,
        reuse_from=args.reuse_from,
    )


def _merge_reports(args: argparse.Namespace) -> int:
    from helpers.reports.merge import main_merge

    return main_merge([Path(folder) for folder in args.shard_dirs], Path(args.out) if args.out else paths.reports_dir())


def _shard(text: str) -> tuple[int, int]:
    """``I/N`` -> (I, N), with 1 <= I <= N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N (e.g. 2/4)") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: I must be between 1 and N")
    return index, count


def _check_executor(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command != "reports":
        return
    if args.executor == "dask" and not args.scheduler:
        parser.error("--executor dask needs --scheduler ADDRESS (e.g. tcp://scheduler:8786)")
    if args.executor == "local" and args.scheduler:
        parser.error("--scheduler is for --executor dask")


def _app(args: argparse.Namespace) -> int:
    from helpers import app

    return app.serve(port=args.port, max_kernels=args.max_kernels, cull_idle_s=args.cull_idle, pool=args.pool)


def _class(args: argparse.Namespace) -> int:
    from helpers import classroom

    return classroom.main(
        Path(args.out) if args.out else classroom.DEFAULT_STUDENT_SET,
        port=args.port,
        max_kernels=args.max_kernels,
        cull_idle_s=args.cull_idle,
        ip=args.ip,
    )


def _server_arguments(parser: argparse.ArgumentParser, port: int, max_kernels: int, cull_idle: int, cap: str) -> None:
    """The options every Voila server of ours has (``exinf app``, ``exinf class``): port, kernel cap, idle culling."""
    parser.add_argument("--port", type=int, default=port, help="port (default: %(default)s)")
    parser.add_argument("--max-kernels", type=int, default=max_kernels, help=f"{cap} (default: %(default)s)")
    parser.add_argument(
        "--cull-idle",
        type=int,
        default=cull_idle,
        metavar="SECONDS",
        help="shut down a kernel idle this long with no page open (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exinf", description="Exercise & inflammation evidence explorer.")
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="validate the data package; list every problem")
    validate.add_argument("data_dir", nargs="?", help="data package folder (default: the repository's data/)")
    validate.set_defaults(run=_validate)

    book = commands.add_parser("codebook", help="regenerate data/README.md from the schemas")
    book.add_argument("data_dir", nargs="?", help="data package folder (default: the repository's data/)")
    book.add_argument("--check", action="store_true", help="only check that the codebook is up to date")
    book.set_defaults(run=_codebook)
    build = commands.add_parser(
        "reports",
        help="build the offline report site (notebooks/reports.yaml) into reports/site",
        description="Run the report plan with papermill in parallel, convert to offline HTML, write index.html, "
        "manifest.json and changes.html, and publish atomically only when every job succeeded. "
        "Exit codes: 0 published, 1 a job failed (last good site kept), 2 invalid plan, parameters or data "
        "(nothing run), 3 another build is running, 4 a file could not be written (read-only, disk full), "
        "130/143 interrupted by SIGINT/SIGTERM (workers and kernels stopped, last good site kept).",
    )
    build.add_argument("--plan", help="plan file (default: notebooks/reports.yaml)")
    build.add_argument("--out", help="output folder (default: reports/, or EXINF_REPORTS_DIR)")
    build.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: the number of cores)")
    build.add_argument("--only", action="append", metavar="NAME", help="build only this job (repeatable)")
    build.add_argument("--force", action="store_true", help="rebuild every job, even when its inputs are unchanged")
    build.add_argument(
        "--cell-timeout",
        type=float,
        metavar="SECONDS",
        help="fail a job whose cell runs longer than this (default: the plan's cell_timeout_s, else 300)",
    )
    build.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="start a new kernel for every job (default: one warm kernel per worker, reset between jobs)",
    )
    cluster = build.add_argument_group("scale-out (see README: Running on a cluster)")
    cluster.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="where jobs run: a local process pool (default), or a Dask distributed cluster (needs --scheduler); "
        "on Dask each worker thread keeps a warm kernel and the pages come back to this machine, which publishes",
    )
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="the Dask scheduler, e.g. tcp://scheduler:8786")
    cluster.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="build only shard I of N (the jobs sorted by name, every N-th from the I-th) into --out, without "
        "publishing; then publish all shards with `exinf merge-reports` (Kubernetes indexed jobs, Slurm arrays)",
    )
    cluster.add_argument(
        "--reuse-from",
        metavar="SITE",
        help="with --shard: copy the reports whose inputs are unchanged from this published site (or its output "
        "folder, e.g. /shared/reports) instead of rebuilding them; nothing is reused before the first publish",
    )
    build.set_defaults(run=_reports)

    merge = commands.add_parser(
        "merge-reports",
        help="merge the shards of a sharded build (exinf reports --shard I/N) and publish the site",
        description="Check that the shards come from the same plan, data package and helpers code and hold every "
        "job exactly once, then write manifest.json, changes.html and index.html and publish atomically, as "
        "`exinf reports` does. Exit codes as `exinf reports` (2: the shards do not make one site).",
    )
    merge.add_argument("shard_dirs", nargs="+", metavar="SHARD_DIR", help="the --out folder of each shard")
    merge.add_argument("--out", help="output folder of the site (default: reports/, or EXINF_REPORTS_DIR)")
    merge.set_defaults(run=_merge_reports)

    from helpers import app  # the defaults live with the app

    serve = commands.add_parser(
        "app",
        help="serve the explorer app with Voila on 127.0.0.1 (no code shown, nothing fetched from a network)",
        description="Serve notebooks/app.ipynb with Voila: preheated kernels, idle kernels culled, a cap on kernels.",
    )
    _server_arguments(serve, app.DEFAULT_PORT, app.DEFAULT_MAX_KERNELS, app.DEFAULT_CULL_IDLE_S, "most kernels at once")
    serve.add_argument(
        "--pool", type=int, default=app.DEFAULT_POOL, help="preheated kernels kept ready (default: %(default)s)"
    )
    serve.set_defaults(run=_app)

    from helpers import classroom

    lesson = commands.add_parser(
        "class",
        help="serve the lessons' student set to a class with Voila (http://127.0.0.1:8866)",
        description="Write the student set (no solutions, code hidden) and serve it with Voila: one kernel per open "
        "lesson, a cap on kernels, idle kernels of closed tabs culled, nothing fetched from the network.",
    )
    lesson.add_argument("--out", help="student-set folder (default: build/class)")
    _server_arguments(
        lesson,
        classroom.DEFAULT_PORT,
        classroom.DEFAULT_MAX_KERNELS,
        classroom.DEFAULT_CULL_IDLE_S,
        "most open lessons at once, about 0.25 GB of memory each",
    )
    lesson.add_argument(
        "--ip", default="127.0.0.1", help="address to listen on (default: %(default)s; 0.0.0.0 for a class network)"
    )
    lesson.set_defaults(run=_class)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_executor(parser, args)
    from helpers.data import DataValidationError

    try:
        return args.run(args)
    except DataValidationError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
