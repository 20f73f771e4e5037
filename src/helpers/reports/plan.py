"""The plan: which notebooks to run with which parameters, checked completely before anything runs.

A plan (``notebooks/reports.yaml``) lists jobs; each notebook declares its parameters in a sidecar
(``NN_name.yaml``). :func:`load_plan` checks the plan's shape against :data:`PLAN_SCHEMA` (JSON Schema),
then every job against its sidecar and the data vocabularies, and raises one :class:`PlanError` that lists
every problem. No kernel starts and nothing is written for a plan with a problem.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import json
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import yaml

from helpers import paths

PLAN_NAME = "reports.yaml"
#: Seconds one notebook cell may run before its job fails (plan ``cell_timeout_s`` or ``--cell-timeout``).
DEFAULT_CELL_TIMEOUT_S = 300.0
JOB_NAME = re.compile(r"[A-Za-z0-9_-]+")

#: The shape of a plan file. Problems are reported with their place in the file (``jobs[2].parameters``).
PLAN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["jobs"],
    "properties": {
        "defaults": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "parameters": {"type": "object"},
                "cell_timeout_s": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "jobs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "notebook"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "notebook": {"type": "string", "pattern": r"^[^/\\].*\.ipynb$"},
                    "parameters": {"type": "object"},
                    "for_each": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "pattern": r"^[a-z_]+\.[a-z_]+$"},
                    },
                    "student_copy": {"type": "boolean"},
                    "cell_timeout_s": {"type": "number", "exclusiveMinimum": 0},
                },
            },
        },
    },
}


class PlanError(ValueError):
    """The plan or a job's parameters are invalid; raised before anything runs."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid report plan:\n" + "\n".join(f"  - {p}" for p in problems))


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
    #: Where the report goes on the index page (start, summaries, topics, comparisons, lessons) and its order.
    group: str = "other"
    order: int = 100


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
    #: Seconds a cell may run before the job fails.
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S
    group: str = "other"
    order: int = 100


TYPES = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}


def read_sidecar(notebook: Path) -> NotebookSpec:
    """The sidecar ``NN_name.yaml`` next to ``NN_name.ipynb``."""
    sidecar = notebook.with_suffix(".yaml")
    if not sidecar.is_file():
        raise PlanError([f"{notebook.name}: no sidecar {sidecar.name} declaring its parameters"])
    try:
        raw = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise PlanError([f"{sidecar}: cannot read the sidecar ({error})"]) from None
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
    return NotebookSpec(
        notebook,
        raw.get("title", notebook.stem),
        raw.get("description", ""),
        specs,
        str(raw.get("group", "other")),
        int(raw.get("order", 100)),
    )


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


def shape_problems(plan: object, plan_path: Path) -> list[str]:
    """Every way ``plan`` differs from :data:`PLAN_SCHEMA`, located (``jobs[1].name: ...``)."""
    from jsonschema import Draft202012Validator

    problems = []
    for error in sorted(Draft202012Validator(PLAN_SCHEMA).iter_errors(plan), key=lambda e: list(e.absolute_path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        problems.append(f"{plan_path.name}: {where or 'the plan'}: {_shape_message(error)}")
    return problems


def _shape_message(error) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{error.message}; allowed keys: {allowed}"
    if error.validator == "type":
        expected = {"object": "a mapping (key: value)", "array": "a list", "string": "text", "number": "a number"}
        return f"got {error.instance!r}; expected {expected.get(error.validator_value, error.validator_value)}"
    if error.validator == "pattern" and error.validator_value.startswith("^[a-z_]+"):
        return f"{error.instance!r} should name a data vocabulary as table.column, e.g. topics.topic_code"
    return error.message


def _template_fields(template: str) -> list[str]:
    """The ``{field}`` names of a job-name template (raises ValueError for a malformed one)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def load_plan(plan_path: Path | None = None, package=None, cell_timeout_s: float | None = None) -> list[Job]:
    """Expand and validate the plan; raise :class:`PlanError` listing every problem.

    Args:
        plan_path: the plan file (default ``notebooks/reports.yaml``).
        package: the loaded data package (default: loaded and validated here).
        cell_timeout_s: overrides every job's cell timeout (the ``--cell-timeout`` option).
    """
    from helpers.data import load_package

    plan_path = Path(plan_path) if plan_path else paths.notebooks_dir() / PLAN_NAME
    package = package or load_package()
    try:
        plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise PlanError([f"{plan_path}: cannot read the plan ({error})"]) from None
    problems = shape_problems(plan, plan_path)
    if problems:
        raise PlanError(problems)
    defaults = plan.get("defaults") or {}
    default_parameters = defaults.get("parameters") or {}
    jobs: list[Job] = []
    for position, entry in enumerate(plan["jobs"]):
        found, job_problems = _expand_job(entry, position, plan_path, package, default_parameters)
        timeout = cell_timeout_s or entry.get("cell_timeout_s") or defaults.get("cell_timeout_s")
        jobs += [dataclasses.replace(j, cell_timeout_s=float(timeout)) if timeout else j for j in found]
        problems += job_problems
    names = [job.name for job in jobs]
    problems += [f"job name {n!r} is used more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"job name {n!r} must be letters, digits, '-' and '_'" for n in names if not JOB_NAME.fullmatch(n)]
    if problems:
        raise PlanError(problems)
    return jobs


def _expand_job(entry: dict, position: int, plan_path: Path, package, defaults: dict) -> tuple[list[Job], list[str]]:
    """One plan entry -> its jobs (one per ``for_each`` combination), and the problems found."""
    label = f"jobs[{position}] ({entry['name']!r})"
    notebook = plan_path.parent / entry["notebook"]
    if not notebook.is_file():
        return [], [f"{label}: notebook {notebook} not found"]
    try:
        spec = read_sidecar(notebook)
    except PlanError as error:
        return [], error.problems
    problems: list[str] = []
    own = entry.get("parameters") or {}
    axes = []
    for parameter, source in (entry.get("for_each") or {}).items():
        if parameter not in spec.parameters:
            known = ", ".join(sorted(spec.parameters))
            problems.append(f"{label}: for_each over unknown parameter {parameter!r}; valid parameters: {known}")
            continue
        table, column = source.split(".")
        if table not in package.tables or column not in package.tables[table]:
            problems.append(f"{label}: for_each {parameter}: {source!r} is not a column of the data package")
            continue
        values = resolve_choices(ParameterSpec(parameter, "string", None, "", None, source), package)
        axes.append([(parameter, value) for value in values])
    try:
        fields = _template_fields(entry["name"])
    except ValueError as error:
        return [], [*problems, f"{label}: the name template is malformed ({error})"]
    allowed = set(spec.parameters)
    unknown = [f for f in fields if f not in allowed or not f.isidentifier()]
    if unknown:
        listed = ", ".join(sorted(allowed)) or "none"
        problems.append(
            f"{label}: name template uses unknown field(s) {', '.join(map(repr, unknown))}; fields: {listed}"
        )
    if problems:
        return [], problems
    jobs = []
    for combination in product(*axes) if axes else [()]:
        # Plan-wide defaults apply to the notebooks that declare them; a job's own parameters are always
        # checked, so a typo there is still an error.
        applicable = {k: v for k, v in defaults.items() if k in spec.parameters}
        parameters = {**applicable, **own, **dict(combination)}
        values = {name: parameters.get(name, spec.parameters[name].default) for name in spec.parameters}
        name = entry["name"].format(**values)
        shown = {k: display_value(spec.parameters[k], values[k], package) for k in spec.parameters}
        try:
            title, description = spec.title.format(**shown), spec.description.format(**shown)
        except (KeyError, IndexError, ValueError) as error:
            problems.append(
                f"{spec.path.with_suffix('.yaml').name}: title or description template is malformed ({error!r})"
            )
            title, description = spec.title, spec.description
        problems += check_parameters(spec, parameters, package, name)
        jobs.append(
            Job(
                name,
                notebook,
                title[:1].upper() + title[1:],
                description,
                parameters,
                bool(entry.get("student_copy")),
                group=spec.group,
                order=spec.order,
            )
        )
    return jobs, problems


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


def shard_jobs(jobs: list[Job], index: int, count: int) -> list[Job]:
    """Shard ``index`` of ``count`` (1-based, ``--shard I/N``): the jobs sorted by name, every ``count``-th one
    starting from the ``index``-th.

    The partition depends only on the job names, so every machine of a batch computes the same one without
    talking to the others, and shard sizes differ by at most one job.

    >>> [job.name for job in shard_jobs([Job(n, Path(n), n, "", {}) for n in "edcba"], 2, 2)]
    ['d', 'b']
    """
    if not 1 <= index <= count:
        raise PlanError([f"--shard {index}/{count}: the shard number must be between 1 and {count}"])
    names = sorted(job.name for job in jobs)
    mine = set(names[index - 1 :: count])
    return [job for job in jobs if job.name in mine]
