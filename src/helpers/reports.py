"""Scheduled report builds: papermill runs the notebooks, nbconvert turns them into an offline site.

The plan (``notebooks/reports.yaml``) lists jobs, each a notebook, a parameter set and an output
name; each notebook declares its parameters in a sidecar (``NN_name.yaml``). A build:

1. loads the plan and validates every job's parameters against the sidecars and the data
   vocabularies, **before any kernel starts** (an unknown name or value lists the valid choices);
2. fingerprints each job's inputs (notebook, parameters, data package, helpers code) and skips jobs
   whose fingerprint matches the last successful build (``--force`` rebuilds everything);
3. runs the other jobs with papermill in parallel processes, converts each executed notebook to
   HTML with no network dependencies (code hidden, live-widget cells dropped);
4. writes ``index.html``, ``manifest.json`` and ``changes.html`` (what changed in the data since
   the previous successful build) into a private staging folder;
5. publishes by swapping the ``site`` symlink atomically, and only when every job succeeded: a
   failed build keeps its folder (with the failed notebooks and their errors) and leaves the last
   good site in place. A lock makes a second concurrent build refuse to start.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import fcntl
import fnmatch
import hashlib
import html
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from importlib import metadata
from itertools import product
from pathlib import Path

import pandas as pd
import yaml

from helpers import paths

PLAN_NAME = "reports.yaml"
SITE_LINK = "site"
BUILDS_DIR = "builds"
LOCK_NAME = ".build.lock"
KEEP_BUILDS = 4
#: Tables whose rows the "what changed" page compares between builds, with their keys.
TRACKED_TABLES = {"studies": ["study_id"], "findings": ["finding_id"], "claims": ["claim_id"]}
PACKAGES = [
    "pandas",
    "altair",
    "vl-convert-python",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "pandera",
    "statsmodels",
    "exercise-inflammation-explorer",
]


class PlanError(ValueError):
    """The plan or a job's parameters are invalid; raised before anything runs."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid report plan:\n" + "\n".join(f"  - {p}" for p in problems))


class BuildLockedError(RuntimeError):
    """Another build holds the lock on the output folder."""


# ------------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class ParameterSpec:
    """One notebook parameter as its sidecar declares it."""

    name: str
    type: str
    default: object
    description: str
    enum: tuple | None = None
    choices_from: str | None = None


@dataclass(frozen=True)
class NotebookSpec:
    path: Path
    title: str
    description: str
    parameters: dict[str, ParameterSpec]


@dataclass(frozen=True)
class Job:
    """One report: a notebook run with one parameter set, published as ``<name>.html``."""

    name: str
    notebook: Path
    title: str
    description: str
    parameters: dict = field(hash=False)
    #: Also publish a clean student copy (solutions and teaching notes removed, no outputs).
    student_copy: bool = False


TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}


def read_sidecar(notebook: Path) -> NotebookSpec:
    """The sidecar ``NN_name.yaml`` next to ``NN_name.ipynb``."""
    sidecar = notebook.with_suffix(".yaml")
    if not sidecar.is_file():
        raise PlanError([f"{notebook.name}: no sidecar {sidecar.name} declaring its parameters"])
    raw = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    specs = {}
    for name, spec in (raw.get("parameters") or {}).items():
        enum = spec.get("enum")
        specs[name] = ParameterSpec(
            name,
            spec["type"],
            spec.get("default"),
            spec.get("description", ""),
            tuple(enum) if enum is not None else None,
            spec.get("choices_from"),
        )
    return NotebookSpec(notebook, raw.get("title", notebook.stem), raw.get("description", ""), specs)


def parameters_cell(notebook: Path) -> dict[str, tuple[str, object]]:
    """The notebook's ``parameters`` cell as ``{name: (annotation, default)}`` (read with ``ast``)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = (ast.unparse(node.annotation), ast.literal_eval(node.value))
    return found


def resolve_choices(spec: ParameterSpec, package) -> list | None:
    """The valid values of a parameter: its ``enum``, or the vocabulary named by ``choices_from``.

    ``choices_from: table.column`` means the column's enum in the Table Schema if it has one,
    otherwise the values found in the table. A blank string stays allowed when it is the default.
    """
    if spec.enum is not None:
        return list(spec.enum)
    if spec.choices_from is None:
        return None
    table, column = spec.choices_from.split(".")
    field_spec = next(f for f in package.schema(table)["fields"] if f["name"] == column)
    values = field_spec.get("constraints", {}).get("enum") or sorted(package.tables[table][column].dropna().unique())
    return ([""] if spec.default == "" else []) + list(values)


def display_value(spec: ParameterSpec, value: object, package) -> str:
    """How a parameter value reads in a title: a lookup's label where there is one ("" reads "all")."""
    if value in ("", None):
        return "all"
    if spec.choices_from:
        table, column = spec.choices_from.split(".")
        frame = package.tables[table]
        if "label" in frame and column == frame.columns[0]:
            labels = frame.set_index(column)["label"]
            if value in labels.index:
                return str(labels[value])
    return str(value).replace("_", " ")


def check_parameters(spec: NotebookSpec, parameters: dict, package, job_name: str) -> list[str]:
    """Problems with one job's parameters (unknown names, wrong types, values outside the choices)."""
    problems = []
    for name, value in parameters.items():
        if name not in spec.parameters:
            known = ", ".join(sorted(spec.parameters))
            problems.append(f"{job_name}: unknown parameter {name!r} for {spec.path.name}; valid parameters: {known}")
            continue
        declared = spec.parameters[name]
        expected_type = TYPES[declared.type]
        if not isinstance(value, expected_type) or (declared.type != "boolean" and isinstance(value, bool)):
            problems.append(f"{job_name}: {name}={value!r} should be of type {declared.type}")
            continue
        choices = resolve_choices(declared, package)
        if choices is not None and value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            problems.append(f"{job_name}: {name}={value!r} is not valid; choose one of: {listed}")
    return problems


def load_plan(plan_path: Path | None = None, package=None) -> list[Job]:
    """Expand and validate the plan; raise :class:`PlanError` listing every problem."""
    from helpers.data import load_package

    plan_path = Path(plan_path) if plan_path else paths.notebooks_dir() / PLAN_NAME
    package = package or load_package()
    try:
        plan = yaml.safe_load(plan_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise PlanError([f"{plan_path}: cannot read the plan ({error})"]) from None
    defaults = (plan.get("defaults") or {}).get("parameters") or {}
    jobs, problems = [], []
    for entry in plan.get("jobs") or []:
        notebook = plan_path.parent / entry.get("notebook", "")
        if not notebook.is_file():
            problems.append(f"job {entry.get('name')!r}: notebook {notebook} not found")
            continue
        try:
            spec = read_sidecar(notebook)
        except PlanError as error:
            problems += error.problems
            continue
        for_each = entry.get("for_each") or {}
        axes = []
        for parameter, source in for_each.items():
            declared = spec.parameters.get(parameter)
            if declared is None:
                problems.append(f"job {entry['name']!r}: for_each over unknown parameter {parameter!r}")
                continue
            table, column = source.split(".")
            values = resolve_choices(ParameterSpec(parameter, "string", None, "", None, f"{table}.{column}"), package)
            axes.append([(parameter, value) for value in values])
        for combination in product(*axes) if axes else [()]:
            # Plan-wide defaults apply to the notebooks that declare them; a job's own parameters are
            # always checked, so a typo there is still an error.
            applicable = {k: v for k, v in defaults.items() if k in spec.parameters}
            parameters = {**applicable, **(entry.get("parameters") or {}), **dict(combination)}
            values = {k: v for k, v in parameters.items()}
            name = entry["name"].format(**values)
            shown = {
                k: display_value(spec.parameters[k], values.get(k, spec.parameters[k].default), package)
                for k in spec.parameters
            }
            title = spec.title.format(**shown)
            problems += check_parameters(spec, parameters, package, name)
            jobs.append(Job(name, notebook, title, spec.description, parameters, bool(entry.get("student_copy"))))
    names = [job.name for job in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    problems += [f"job name {n!r} is used more than once" for n in duplicates]
    problems += [
        f"job name {n!r} must be letters, digits, '-' and '_'" for n in names if not re.fullmatch(r"[A-Za-z0-9_-]+", n)
    ]
    if not jobs and not problems:
        problems.append(f"{plan_path}: the plan has no jobs")
    if problems:
        raise PlanError(problems)
    return jobs


def select_jobs(jobs: list[Job], only: Iterable[str] | None) -> list[Job]:
    """The jobs named in ``only`` (names or shell patterns such as ``lesson-*``); all jobs when empty."""
    only = list(only or [])
    if not only:
        return jobs
    known = sorted(job.name for job in jobs)
    unknown = [pattern for pattern in only if not fnmatch.filter(known, pattern)]
    if unknown:
        raise PlanError([f"--only {name!r} matches no job of the plan; jobs: {', '.join(known)}" for name in unknown])
    return [job for job in jobs if any(fnmatch.fnmatchcase(job.name, pattern) for pattern in only)]


# -------------------------------------------------------------------------------- fingerprints
def hash_files(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def data_package_hash(data_dir: Path) -> str:
    """Content hash of the data package (CSV files and schemas; the generated codebook excluded)."""
    files = [p for p in data_dir.rglob("*") if p.is_file() and p.suffix in {".csv", ".json"}]
    return hash_files(files, data_dir)


def code_hash() -> str:
    """Content hash of the ``helpers`` package (code and report template)."""
    root = Path(__file__).parent
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".json"}]
    return hash_files(files, root)


def job_fingerprint(job: Job, data_hash: str, helpers_hash: str) -> str:
    digest = hashlib.sha256()
    for part in [
        job.notebook.read_bytes(),
        job.notebook.with_suffix(".yaml").read_bytes(),
        json.dumps(job.parameters, sort_keys=True).encode(),
        data_hash.encode(),
        helpers_hash.encode(),
    ]:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------- one job
@dataclass
class JobResult:
    name: str
    title: str
    notebook: str
    parameters: dict
    fingerprint: str
    status: str  # built | unchanged | failed
    duration_s: float
    outputs: list[str]
    error: str | None = None


def run_job(job: Job, build_dir: Path, fingerprint: str, context: dict) -> JobResult:
    """Execute one job with papermill and convert it to offline HTML (runs in a worker process)."""
    import nbformat
    import papermill as pm

    start = time.perf_counter()
    executed = build_dir / "notebooks" / f"{job.name}.ipynb"
    outputs = [executed.relative_to(build_dir).as_posix()]
    try:
        pm.execute_notebook(
            job.notebook,
            executed,
            parameters=job.parameters,
            cwd=job.notebook.parent,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
        )
        notebook = nbformat.read(executed, as_version=4)
        page = build_dir / f"{job.name}.html"
        page.write_text(notebook_to_html(notebook, job, context), encoding="utf-8")
        outputs.insert(0, page.relative_to(build_dir).as_posix())
        if job.student_copy:
            from helpers.teaching import student_copy

            handout = build_dir / "teaching" / f"{job.name}-student.ipynb"
            handout.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(student_copy(nbformat.read(job.notebook, as_version=4)), handout)
            outputs.append(handout.relative_to(build_dir).as_posix())
        status, error = "built", None
    except Exception as exc:  # a failed job is reported, the others go on
        status = "failed"
        error = _short_error(exc)
    return JobResult(
        job.name,
        job.title,
        job.notebook.name,
        job.parameters,
        fingerprint,
        status,
        round(time.perf_counter() - start, 2),
        outputs,
        error,
    )


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip() or "".join(traceback.format_exception_only(exc)).strip()
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # drop ANSI colours of kernel tracebacks
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-12:])


def notebook_to_html(notebook, job: Job, context: dict) -> str:
    """Executed notebook -> standalone HTML: code hidden, widget cells dropped, nothing from a network."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = ["interactive"]
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(
        config=config,
        template_name="offline_report",
        extra_template_basedirs=[str(Path(__file__).parent / "templates")],
    )
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    notebook.metadata.pop("widgets", None)  # no widget state: reports are static
    resources = {
        "metadata": {"name": job.title},
        "exinf": {"name": job.name, "notebook": job.notebook.name, "parameters": job.parameters, **context},
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    return body


# ------------------------------------------------------------------------------------ the build
@dataclass
class BuildResult:
    build_dir: Path
    published: bool
    results: list[JobResult]
    manifest: dict

    @property
    def failures(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "failed"]


@contextlib.contextmanager
def build_lock(out_dir: Path):
    """Exclusive, non-blocking lock on the output folder for the whole build."""
    out_dir.mkdir(parents=True, exist_ok=True)
    handle = (out_dir / LOCK_NAME).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BuildLockedError(f"another report build is running in {out_dir} (lock {out_dir / LOCK_NAME})") from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def current_site(out_dir: Path) -> Path | None:
    site = out_dir / SITE_LINK
    return site.resolve() if site.exists() else None


def read_manifest(site: Path | None) -> dict:
    if site is None or not (site / "manifest.json").is_file():
        return {}
    return json.loads((site / "manifest.json").read_text(encoding="utf-8"))


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def build_site(
    plan_path: Path | None = None,
    out_dir: Path | None = None,
    jobs: int | None = None,
    only: Iterable[str] | None = None,
    force: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build the report site; see the module docstring. Raises PlanError before running anything."""
    from helpers.data import load_package

    out_dir = Path(out_dir) if out_dir else paths.reports_dir()
    data_dir = paths.data_dir()
    package = load_package(data_dir)
    planned = load_plan(plan_path, package)
    selected = select_jobs(planned, only)
    with build_lock(out_dir):
        return _build(out_dir, data_dir, package, planned, selected, jobs, force, progress)


def _build(out_dir, data_dir, package, planned, selected, jobs, force, progress) -> BuildResult:
    previous_site = current_site(out_dir)
    previous = read_manifest(previous_site)
    previous_jobs = {j["name"]: j for j in previous.get("jobs", []) if j["status"] in ("built", "unchanged")}
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    build_dir = out_dir / BUILDS_DIR / build_id
    (build_dir / "notebooks").mkdir(parents=True)
    data_hash, helpers_hash = data_package_hash(data_dir), code_hash()
    built_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    context = {"data_version": package.version, "data_hash": data_hash, "built_at": built_at}
    selected_names = {job.name for job in selected}

    results: list[JobResult] = []
    to_run: list[tuple[Job, str]] = []
    for job in planned:
        fingerprint = job_fingerprint(job, data_hash, helpers_hash)
        old = previous_jobs.get(job.name)
        reusable = (
            old is not None
            and previous_site is not None
            and all((previous_site / output).is_file() for output in old["outputs"])
        )
        if job.name not in selected_names:
            if reusable:  # keep the site complete when building a subset
                results.append(_carry_over(job, old, previous_site, build_dir, "carried_over"))
            continue
        if not force and reusable and old["fingerprint"] == fingerprint:
            results.append(_carry_over(job, old, previous_site, build_dir, "unchanged"))
        else:
            to_run.append((job, fingerprint))

    results += _run_parallel(to_run, build_dir, context, jobs, progress)
    results.sort(key=lambda r: [j.name for j in planned].index(r.name))
    snapshot_data(data_dir, build_dir / "data")
    changes = diff_snapshots(previous_site / "data" if previous_site else None, build_dir / "data")
    manifest = {
        "build_id": build_id,
        "built_at": built_at,
        "data_package": {"name": package.descriptor.get("name"), "version": package.version, "sha256": data_hash},
        "helpers_sha256": helpers_hash,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "previous_build": previous.get("build_id"),
        "jobs": [asdict(r) for r in results],
    }
    (build_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    (build_dir / "changes.html").write_text(render_changes(changes, manifest, previous), encoding="utf-8")
    (build_dir / "index.html").write_text(render_index(manifest), encoding="utf-8")
    failures = [r for r in results if r.status == "failed"]
    published = not failures
    if published:
        publish(build_dir, out_dir)
        prune_builds(out_dir)
    return BuildResult(build_dir, published, results, manifest)


def _carry_over(job: Job, old: dict, previous_site: Path, build_dir: Path, status: str) -> JobResult:
    for output in old["outputs"]:
        target = build_dir / output
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(previous_site / output, target)
    return JobResult(
        job.name,
        job.title,
        job.notebook.name,
        job.parameters,
        old["fingerprint"],
        status,
        0.0,
        list(old["outputs"]),
        None,
    )


def _run_parallel(to_run, build_dir: Path, context: dict, jobs: int | None, progress: bool) -> list[JobResult]:
    if not to_run:
        return []
    workers = max(1, min(jobs or os.cpu_count() or 1, len(to_run)))
    results = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(to_run), desc="reports", unit="job", disable=not progress, file=sys.stderr)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, job, build_dir, fingerprint, context): job for job, fingerprint in to_run}
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            bar.set_postfix_str(f"{result.name}: {result.status}")
            bar.update()
    bar.close()
    return results


def publish(build_dir: Path, out_dir: Path) -> None:
    """Point ``out_dir/site`` at ``build_dir`` in one atomic rename of a symlink."""
    link = out_dir / SITE_LINK
    if link.exists() and not link.is_symlink():
        raise RuntimeError(f"{link} exists and is not a symlink; move it away to publish")
    temporary = out_dir / f".{SITE_LINK}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(build_dir.relative_to(out_dir))
    os.replace(temporary, link)


def prune_builds(out_dir: Path, keep: int = KEEP_BUILDS) -> None:
    """Remove old build folders, never the published one."""
    live = current_site(out_dir)
    builds = sorted((out_dir / BUILDS_DIR).iterdir())
    for old in builds[:-keep]:
        if old.resolve() != live:
            shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------- data changes
def snapshot_data(data_dir: Path, target: Path) -> None:
    """Copy the data package into the site: the reports' exact inputs, and the base of the next diff."""
    shutil.copytree(data_dir, target, ignore=shutil.ignore_patterns("README.md"))


@dataclass
class TableChanges:
    table: str
    added: list[str]
    removed: list[str]
    changed: dict[str, list[tuple[str, str, str]]]  # id -> [(column, old, new)]


def diff_snapshots(old_dir: Path | None, new_dir: Path) -> list[TableChanges] | None:
    """Rows added, removed and changed per tracked table; ``None`` when there is no previous build."""
    if old_dir is None or not old_dir.is_dir():
        return None
    changes = []
    for table, key in TRACKED_TABLES.items():
        old = _read_snapshot(old_dir / f"{table}.csv", key)
        new = _read_snapshot(new_dir / f"{table}.csv", key)
        added = sorted(set(new.index) - set(old.index))
        removed = sorted(set(old.index) - set(new.index))
        changed = {}
        for row_id in sorted(set(old.index) & set(new.index)):
            before, after = old.loc[row_id], new.loc[row_id]
            columns = sorted(set(before.index) | set(after.index))
            diffs = [
                (c, str(before.get(c, "")), str(after.get(c, "")))
                for c in columns
                if before.get(c, "") != after.get(c, "")
            ]
            if diffs:
                changed[row_id] = diffs
        changes.append(TableChanges(table, added, removed, changed))
    return changes


def _read_snapshot(path: Path, key: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=key).set_index(key[0])
    return pd.read_csv(path, dtype=str, keep_default_na=False).set_index(key[0])


# ------------------------------------------------------------------------------------- pages
STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1180px; padding: 20px; color: #222; }
h1 { font-size: 26px; margin-bottom: 4px; } .meta { color: #555; font-size: 14px; line-height: 1.6; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; margin-top: 18px; }
.card { border: 1px solid #d5dbe1; border-radius: 6px; padding: 12px 14px; background: #fff; }
.card h2 { font-size: 17px; margin: 0 0 6px; } .card h2 a { color: #0072B2; text-decoration: none; }
.card p { margin: 4px 0; font-size: 13px; } code { background: #eef1f4; padding: 0 4px; border-radius: 3px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: bold; }
.built { background: #d7f0e5; color: #00573a; } .unchanged, .carried_over { background: #e6eef6; color: #17456b; }
.failed { background: #fbe0d3; color: #8a2c00; } pre { white-space: pre-wrap; font-size: 12px; background: #f7f7f7;
padding: 8px; } table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #d5dbe1;
padding: 4px 8px; text-align: left; vertical-align: top; }
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _output_label(output: str) -> str:
    if output.startswith("teaching/"):
        return "student notebook (no solutions)"
    if output.startswith("notebooks/"):
        return "executed notebook"
    return html.escape(output)


def render_index(manifest: dict) -> str:
    """The site's front page: one card per report."""
    data = manifest["data_package"]
    cards = []
    for job in manifest["jobs"]:
        status = job["status"]
        link = f"<a href='{html.escape(job['outputs'][0])}'>{html.escape(job['title'])}</a>"
        if status == "failed":
            link = html.escape(job["title"])
        params = " ".join(f"<code>{html.escape(k)}={html.escape(str(v))}</code>" for k, v in job["parameters"].items())
        files = " &middot; ".join(f"<a href='{html.escape(o)}'>{_output_label(o)}</a>" for o in job["outputs"][1:])
        extra = f"<p>{files}</p>" if files and status != "failed" else ""
        if status == "failed":
            notebook = next(o for o in job["outputs"] if o.endswith(".ipynb"))
            extra = (
                f"<p>Executed notebook with the error: <a href='{html.escape(notebook)}'>"
                f"{html.escape(notebook)}</a></p><pre>{html.escape(job['error'] or '')}</pre>"
            )
        cards.append(
            f"<div class='card' data-job='{html.escape(job['name'])}'><h2>{link}</h2>"
            f"<p><span class='status {status}'>{status.replace('_', ' ')}</span> "
            f"{job['duration_s']:.1f} s &middot; data {html.escape(data['version'])}</p>"
            f"<p>{html.escape(job['notebook'])} {params}</p>{extra}</div>"
        )
    failed = sum(j["status"] == "failed" for j in manifest["jobs"])
    summary = f"{len(manifest['jobs'])} reports" + (f", <b>{failed} failed</b>" if failed else "")
    body = (
        "<h1>Exercise &amp; inflammation evidence: reports</h1>"
        f"<p class='meta'>{summary}. Built {html.escape(manifest['built_at'])} from data package "
        f"<b>{html.escape(data['version'])}</b> (sha256 <code>{html.escape(data['sha256'][:12])}</code>), "
        f"commit <code>{html.escape((manifest.get('git_commit') or 'unknown')[:12])}</code>. "
        "<a href='changes.html'>What changed since the previous build</a> &middot; "
        "<a href='manifest.json'>manifest.json</a> &middot; <a href='data/'>the data package</a>.</p>"
        f"<div class='cards'>{''.join(cards)}</div>"
    )
    return _page("Exercise & inflammation evidence: reports", body)


def render_changes(changes: list[TableChanges] | None, manifest: dict, previous: dict) -> str:
    """The "what changed" page: studies, findings and claim verdicts added, removed or changed."""
    parts = ["<p><a href='index.html'>&larr; All reports</a></p><h1>What changed</h1>"]
    if changes is None:
        parts.append("<p class='meta'>This is the first successful build: there is nothing to compare with.</p>")
        return _page("What changed", "".join(parts))
    parts.append(
        f"<p class='meta'>Data package {html.escape(manifest['data_package']['version'])} compared with the "
        f"previous successful build <code>{html.escape(str(previous.get('build_id')))}</code> (data "
        f"{html.escape(str(previous.get('data_package', {}).get('version')))}).</p>"
    )
    labels = {"studies": "Studies", "findings": "Findings", "claims": "Claims"}
    for table in changes:
        parts.append(f"<h2 id='{table.table}'>{labels[table.table]}</h2>")
        if not (table.added or table.removed or table.changed):
            parts.append("<p>No changes.</p>")
            continue
        for kind, ids in [("Added", table.added), ("Removed", table.removed)]:
            if ids:
                parts.append(
                    f"<p><b>{kind}</b> ({len(ids)}): "
                    + ", ".join(f"<code>{html.escape(i)}</code>" for i in ids)
                    + "</p>"
                )
        if table.changed:
            rows = "".join(
                f"<tr><td><code>{html.escape(row_id)}</code></td><td>{html.escape(column)}</td>"
                f"<td>{html.escape(old)}</td><td>{html.escape(new)}</td></tr>"
                for row_id, diffs in table.changed.items()
                for column, old, new in diffs
            )
            parts.append(
                f"<p><b>Changed</b> ({len(table.changed)}):</p><table><tr><th>id</th><th>column</th>"
                f"<th>before</th><th>after</th></tr>{rows}</table>"
            )
        if table.table == "claims":
            verdicts = [(i, o, n) for i, d in table.changed.items() for c, o, n in d if c == "verdict"]
            text = "; ".join(f"{i}: {o.replace('_', ' ')} &rarr; {n.replace('_', ' ')}" for i, o, n in verdicts)
            parts.append(f"<p><b>Verdicts changed:</b> {text or 'none'}.</p>")
    return _page("What changed", "".join(parts))


# ----------------------------------------------------------------------------------- command
def main_build(plan_path=None, out_dir=None, jobs=None, only=None, force=False) -> int:
    """The ``exinf reports`` command: build, print a summary, return the exit code."""
    try:
        result = build_site(plan_path, out_dir, jobs=jobs, only=only, force=force)
    except PlanError as error:
        print(error, file=sys.stderr)
        return 2
    except BuildLockedError as error:
        print(error, file=sys.stderr)
        return 3
    counts = pd.Series([r.status for r in result.results]).value_counts().to_dict()
    print(", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items()))
    if result.failures:
        for failure in result.failures:
            print(f"FAILED {failure.name}: {failure.error.splitlines()[-1] if failure.error else ''}", file=sys.stderr)
        print(
            f"The site was NOT published; the last good site stays in place. Failed build kept in "
            f"{result.build_dir} (executed notebooks under notebooks/).",
            file=sys.stderr,
        )
        return 1
    site = (Path(out_dir) if out_dir else paths.reports_dir()) / SITE_LINK
    print(f"Published {site / 'index.html'} (build {result.manifest['build_id']})")
    return 0
