"""Load the curated data package into typed DataFrames, and validate all of it at once.

This is the only module that reads ``data/``. The Frictionless descriptor (``datapackage.json``) and
its Table Schemas are the single source of truth: the dtypes, the checks, the widget vocabularies and
the codebook all come from them.

Validation runs in four layers and collects every problem before reporting:

1. the files themselves: UTF-8 without BOM, LF line endings, a header equal to the schema, the same
   number of fields on every row;
2. each cell against its Table Schema field (pandera): required values, types, allowed values,
   patterns (PMID, DOI, URL, ids), ranges and unique values;
3. keys across tables (pandera): primary keys, unique keys and foreign keys;
4. cross-field and cross-table rules (:data:`RULES`), e.g. ``ci_low <= effect_value <= ci_high``.

Each :class:`Problem` names the file, the line (as a spreadsheet shows it: the header is line 1),
the column, the value and what was expected. Nothing is dropped or coerced silently: a package with
any problem does not load.

Two readers, one verdict. The fast reader (pyarrow's CSV parser, then the same checks as whole-column
operations) loads a clean package in seconds at a million findings; at the first sign of any problem, or
when pyarrow is missing, it gives up and the strict reader (Python's ``csv`` module, row by row, and
pandera) reads the package again and locates every problem. The fast reader only ever accepts what the
strict reader accepts: where the two parsers could disagree (carriage returns, empty lines, a byte-order
mark, quotes other than whole quoted fields) it does not try.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import paths

if TYPE_CHECKING:  # pandera is imported only when the strict reader runs: a clean package never needs it
    import pandera.pandas as pa

DESCRIPTOR_NAME = "datapackage.json"

#: Raw-text patterns for Table Schema types; cells are checked as text before conversion, so a
#: value like ``1.5`` in an integer column is reported, never truncated.
TYPE_PATTERNS = {
    "integer": (r"^[+-]?\d+$", "an integer (e.g. 12)"),
    "number": (r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", "a number (e.g. 0.26, -1.44, 3e-4)"),
    "date": (r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", "a date as YYYY-MM-DD"),
}
PANDAS_DTYPES = {"string": "str", "integer": "Int64", "number": "float64", "boolean": "boolean"}


# --------------------------------------------------------------------------------------- problems
@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the data package, located as precisely as possible.

    ``line`` is the line in the CSV file where the record starts (header = line 1); it is ``None``
    for problems with a whole file or table.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column is not None:
            where += f", column '{self.column}'"
        got = "" if self.value is None else f"got {self.value!r}; "
        return f"{where}: {got}expected {self.expected}"


class DataValidationError(ValueError):
    """Raised by :func:`load_package` when the package has problems; lists all of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=_problem_sort_key)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the data package:\n{shown}{more}")


def _problem_sort_key(problem: Problem) -> tuple:
    return (problem.file, problem.line or 0, problem.column or "", problem.expected)


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """The problems as a table (file, line, column, value, expected), sorted by location."""
    rows = [p.__dict__ for p in sorted(problems, key=_problem_sort_key)]
    frame = pd.DataFrame(rows, columns=["file", "line", "column", "value", "expected"])
    return frame.astype({"line": "Int64"})


# ------------------------------------------------------------------------------------ descriptor
def read_descriptor(data_dir: Path | str | None = None) -> dict:
    """Read ``datapackage.json`` with each resource's Table Schema resolved into a dict.

    Raises:
        DataValidationError: when the descriptor or a schema file is missing or is not valid JSON.
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    descriptor = _read_json(data_dir / DESCRIPTOR_NAME, DESCRIPTOR_NAME)
    problems = []
    for resource in descriptor.get("resources", []):
        schema = resource.get("schema")
        if isinstance(schema, str):
            try:
                resource["schema"] = _read_json(data_dir / schema, schema)
            except DataValidationError as error:
                problems.extend(error.problems)
        for key in ("name", "path", "schema"):
            if key not in resource:
                problems.append(Problem(DESCRIPTOR_NAME, None, None, None, f"every resource to have '{key}'"))
    if problems:
        raise DataValidationError(problems)
    return descriptor


def _read_json(path: Path, label: str) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataValidationError([Problem(label, None, None, None, f"the file to exist at {path}")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problem = Problem(label, error.lineno, None, None, f"valid JSON ({error.msg}, column {error.colno})")
        raise DataValidationError([problem]) from None


def resource_schemas(descriptor: dict) -> dict[str, dict]:
    """Map resource name -> Table Schema."""
    return {r["name"]: r["schema"] for r in descriptor["resources"]}


# --------------------------------------------------------------------------------- reading files
@dataclass
class RawTable:
    """A CSV read as text: one row per record, indexed by the record's line number."""

    name: str
    file: str
    frame: pd.DataFrame | None
    problems: list[Problem] = field(default_factory=list)
    #: Lines whose record had the wrong number of fields: kept for their keys, not cell-checked.
    malformed_lines: set[int] = field(default_factory=set)


def read_raw_table(path: Path, schema: dict, name: str) -> RawTable:
    """Read a CSV as text, checking the file itself against its schema.

    Cells stay text (empty cells become missing); types are checked later by pandera.
    """
    file = path.name
    fields = [f["name"] for f in schema["fields"]]
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return RawTable(name, file, None, [Problem(file, None, None, None, f"the file to exist at {path}")])
    problems: list[Problem] = []
    if content.startswith(b"\xef\xbb\xbf"):
        problems.append(Problem(file, 1, fields[0] if fields else None, "BOM", "UTF-8 without a byte-order mark"))
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(_encoding_problem(file, content, error, fields))
        text = content.decode("utf-8", errors="replace")
    if "\r" in text:
        line = text[: text.index("\r")].count("\n") + 1
        problems.append(Problem(file, line, None, "CR", "LF line endings (no carriage returns)"))
        text = text.replace("\r\n", "\n").replace("\r", "\n")

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return RawTable(name, file, None, [*problems, Problem(file, 1, None, "", f"a header: {', '.join(fields)}")])
    except csv.Error as error:
        return RawTable(name, file, None, [*problems, Problem(file, 1, None, None, f"a readable CSV header ({error})")])
    if header != fields:
        problems.extend(_header_problems(file, header, fields))
        return RawTable(name, file, None, problems)

    rows: list[list[str]] = []
    lines: list[int] = []
    malformed: set[int] = set()
    start = reader.line_num + 1
    width = len(fields)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(file, start, None, None, f"well-formed CSV quoting ({error})"))
            break
        if not row:
            problems.append(Problem(file, start, None, "", "no empty lines inside the table"))
            start = reader.line_num + 1
            continue
        if len(row) < width:
            missing = fields[len(row)]
            problems.append(
                Problem(
                    file,
                    start,
                    missing,
                    f"{len(row)} fields",
                    f"{width} fields per row as in the header; '{missing}' onwards is missing",
                )
            )
        elif len(row) > width:
            problems.append(
                Problem(
                    file,
                    start,
                    f"(extra field {width + 1})",
                    row[width],
                    f"{width} fields per row as in the header, got {len(row)}",
                )
            )
        # A row of the wrong width is kept (padded or cut) so that its key still exists for the
        # other tables' foreign keys; it is reported once, above, and never loads.
        if len(row) != width:
            malformed.add(start)
        rows.append((row + [""] * width)[:width])
        lines.append(start)
        start = reader.line_num + 1

    frame = pd.DataFrame(rows, columns=fields, index=pd.Index(lines, name="line"), dtype="str")
    frame = frame.replace("", np.nan) if len(frame) else frame
    return RawTable(name, file, frame, problems, malformed)


def _encoding_problem(file: str, content: bytes, error: UnicodeDecodeError, fields: list[str]) -> Problem:
    before = content[: error.start]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    prefix = content[line_start : error.start].decode("utf-8", errors="replace")
    try:
        column_index = len(next(csv.reader([prefix]))) - 1 if prefix else 0
    except (csv.Error, StopIteration):
        column_index = prefix.count(",")
    column = fields[column_index] if 0 <= column_index < len(fields) else None
    bad = content[error.start : error.end].hex(" ")
    return Problem(file, line, column, f"bytes {bad}", "UTF-8 text (save the file as UTF-8)")


def _header_problems(file: str, header: list[str], fields: list[str]) -> list[Problem]:
    problems = []
    missing = [f for f in fields if f not in header]
    extra = [h for h in header if h not in fields]
    for name in missing:
        problems.append(Problem(file, 1, name, None, "this column in the header (it is in the schema)"))
    for name in extra:
        problems.append(Problem(file, 1, name, name, "only the schema's columns: " + ", ".join(fields)))
    if not missing and not extra:
        for position, (got, want) in enumerate(zip(header, fields, strict=True), start=1):
            if got != want:
                problems.append(Problem(file, 1, got, got, f"column {position} to be '{want}' (the schema's order)"))
                break
    return problems


# ------------------------------------------------------------------------------ schema checking
def _text_rules(spec: dict) -> list[tuple[str, object, str]]:
    """The checks of one Table Schema field on its raw text: ``(kind, argument, expected)`` with kind
    ``match`` (``Series.str.match(argument)``) or ``isin`` (``Series.isin(argument)``); missing values are
    not checked here. Both readers apply exactly these (the strict one through pandera)."""
    constraints = spec.get("constraints", {})
    rules: list[tuple[str, object, str]] = []
    kind = spec.get("type", "string")
    if kind in TYPE_PATTERNS:
        pattern, expected = TYPE_PATTERNS[kind]
        rules.append(("match", pattern, expected))
    elif kind == "boolean":
        allowed = spec.get("trueValues", ["true"]) + spec.get("falseValues", ["false"])
        rules.append(("isin", allowed, "one of: " + ", ".join(allowed)))
    if "enum" in constraints:
        rules.append(("isin", constraints["enum"], "one of: " + ", ".join(constraints["enum"])))
    if "pattern" in constraints:
        hint = spec.get("x-expected") or f"text matching {constraints['pattern']}"
        rules.append(("match", constraints["pattern"], hint))
    return rules


def _field_checks(spec: dict) -> tuple[list[pa.Check], bool, bool]:
    """Pandera checks for one Table Schema field, applied to its raw text."""
    import pandera.pandas as pa

    make = {"match": pa.Check.str_matches, "isin": pa.Check.isin}
    checks = [make[kind](argument, error=expected) for kind, argument, expected in _text_rules(spec)]
    constraints = spec.get("constraints", {})
    return checks, bool(constraints.get("required")), bool(constraints.get("unique"))


def _range_checks(spec: dict) -> list[pa.Check]:
    import pandera.pandas as pa

    constraints = spec.get("constraints", {})
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if low is not None and high is not None:
        return [pa.Check.in_range(low, high, error=f"a value between {low} and {high}")]
    if low is not None:
        return [pa.Check.ge(low, error=f"a value of at least {low}")]
    if high is not None:
        return [pa.Check.le(high, error=f"a value of at most {high}")]
    return []


def _run_pandera(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, file: str, messages: dict[str, str] | None = None
) -> list[Problem]:
    """Validate lazily and turn pandera's failure cases into problems."""
    from pandera.errors import SchemaErrors

    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return _problems_from_failures(errors.failure_cases, frame, file, messages or {})
    return []


def _problems_from_failures(
    cases: pd.DataFrame, frame: pd.DataFrame, file: str, messages: dict[str, str]
) -> list[Problem]:
    problems = []
    for case in cases.itertuples(index=False):
        check = str(case.check)
        column = None if pd.isna(case.column) else str(case.column)
        line = None if pd.isna(case.index) else int(case.index)
        value = None if line is None or column is None or column not in frame else frame.at[line, column]
        value = None if value is None or pd.isna(value) else str(value)
        if check == "not_nullable":
            expected = "a value (this column is required)"
        elif check == "field_uniqueness":
            expected = "a unique value (it appears on more than one row)"
        elif check in messages:
            expected = messages[check]
        else:
            expected = check
        problems.append(Problem(file, line, column, value, expected))
    return problems


def check_table(raw: RawTable, schema: dict) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check one table's cells against its Table Schema and return the typed frame.

    Cells that fail their type check become missing in the returned frame; they are reported, and
    :func:`load_package` refuses a package with problems, so this never hides a bad value.
    """
    import pandera.pandas as pa

    if raw.frame is None:
        return None, []
    frame = raw.frame.drop(index=sorted(raw.malformed_lines))
    columns = {}
    specs = {spec["name"]: spec for spec in schema["fields"]}
    for name, spec in specs.items():
        checks, required, unique = _field_checks(spec)
        columns[name] = pa.Column("str", checks=checks, nullable=not required, unique=unique, report_duplicates="all")
    primary = schema.get("primaryKey") or []
    primary = [primary] if isinstance(primary, str) else list(primary)
    text_schema = pa.DataFrameSchema(
        columns, strict=True, unique=primary if len(primary) > 1 else None, report_duplicates="all"
    )
    messages = {"multiple_fields_uniqueness": "a unique combination of " + " + ".join(primary)}
    problems = _run_pandera(text_schema, frame, raw.file, messages)
    for unique_key in schema.get("uniqueKeys", []):
        problems += _unique_key_problems(frame, list(unique_key), raw.file)

    typed = convert_types(raw.frame, schema)
    range_columns = {
        name: pa.Column(checks=_range_checks(spec), nullable=True)
        for name, spec in specs.items()
        if _range_checks(spec)
    }
    if range_columns:
        problems += _run_pandera(pa.DataFrameSchema(range_columns), typed.loc[frame.index], raw.file)
    return typed, problems


def _unique_key_problems(frame: pd.DataFrame, key: list[str], file: str) -> list[Problem]:
    # Missing values count as equal here: two study-level links of the same claim are a duplicate.
    duplicated = frame[key].fillna("").duplicated(keep=False)
    return [
        Problem(file, int(line), key[-1], None, "a unique combination of " + " + ".join(key))
        for line in frame.index[duplicated]
    ]


def convert_types(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Convert checked text columns to the dtypes of their Table Schema types."""
    converted = {}
    for spec in schema["fields"]:
        name, kind = spec["name"], spec.get("type", "string")
        column = frame[name]
        if kind in ("integer", "number"):
            numbers = pd.to_numeric(
                column.where(column.str.fullmatch(TYPE_PATTERNS[kind][0], na=False)), errors="coerce"
            )
            converted[name] = numbers.astype(PANDAS_DTYPES[kind])
        elif kind == "boolean":
            trues, falses = spec.get("trueValues", ["true"]), spec.get("falseValues", ["false"])
            known = column.isin(trues + falses)  # anything else (reported by the checks) becomes missing
            converted[name] = column.isin(trues).astype("boolean").where(known, pd.NA)
        else:
            converted[name] = column.astype("str")
    return pd.DataFrame(converted, index=frame.index)


def check_foreign_keys(
    tables: dict[str, pd.DataFrame], schemas: dict[str, dict], files: dict[str, str]
) -> list[Problem]:
    """Every foreign-key value must exist in the referenced table's key column (one vectorised lookup per key)."""
    problems = []
    for name, schema in schemas.items():
        frame = tables.get(name)
        for foreign in schema.get("foreignKeys", []):
            column = _single(foreign["fields"])
            reference = foreign["reference"]
            target_name = reference["resource"] or name
            target = tables.get(target_name)
            if frame is None or target is None:
                continue
            values = frame[column]
            unknown = values.notna() & ~_is_in(values, target[_single(reference["fields"])].dropna())
            expected = f"a {_single(reference['fields'])} listed in {files[target_name]}"
            problems += [
                Problem(files[name], int(line), column, str(value), expected) for line, value in values[unknown].items()
            ]
    return problems


def _is_in(values: pd.Series, allowed: pd.Series) -> pd.Series:
    """``values.isin(allowed)``; for pyarrow-backed text through pyarrow's hash lookup (pandas 3.1 turns a long
    ``allowed`` into Python strings first: 1.7 s instead of 0.2 s for a million keys)."""
    if getattr(values.dtype, "storage", None) == "pyarrow" and getattr(allowed.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.is_in(pa.array(values), value_set=pa.array(allowed.unique()))
        return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index)
    return values.isin(allowed.unique())


def _single(fields: str | list[str]) -> str:
    if isinstance(fields, str):
        return fields
    if len(fields) != 1:
        raise NotImplementedError("composite foreign keys are not used in this package")
    return fields[0]


# ------------------------------------------------------------------------------ cross-field rules
@dataclass(frozen=True)
class Rule:
    """A rule across fields or tables that a Table Schema cannot express.

    ``violations`` returns a boolean Series over the rows of ``table`` that break the rule.
    """

    table: str
    column: str
    expected: str
    violations: Callable[[dict[str, pd.DataFrame]], pd.Series]


#: Effect measures whose "no difference" value is 1, not 0 (ratios).
RATIO_MEASURES = ("or", "rr", "hr", "fold_change")


def null_effect(findings: pd.DataFrame) -> pd.Series:
    """The effect value that means "no difference" for each finding's measure: 1 for ratios, else 0."""
    return findings["effect_measure"].isin(RATIO_MEASURES).map({True: 1.0, False: 0.0}).astype("float64")


def _standardised_sign(findings: pd.DataFrame) -> pd.Series:
    sign = findings["effect_sign"].map({"standard": 1.0, "reversed": -1.0}).astype("float64")  # unsigned -> NaN
    return (findings["effect_value"] - null_effect(findings)) * sign


def _ci_excludes_zero(findings: pd.DataFrame) -> pd.Series:
    low, high, null = findings["ci_low"], findings["ci_high"], null_effect(findings)
    return ((low > null) | (high < null)).fillna(False)


def _lookup(tables: dict[str, pd.DataFrame], table: str, key: str, column: str) -> pd.Series:
    # Duplicate keys are reported by the key checks; here the first row of a key answers.
    return tables[table].drop_duplicates(key).set_index(key)[column]


RULES: list[Rule] = [
    Rule(
        "studies",
        "pmid",
        "a PMID or a DOI, or a url together with no_identifier_reason",
        lambda t: (
            t["studies"]["pmid"].isna()
            & t["studies"]["doi"].isna()
            & (t["studies"]["url"].isna() | t["studies"]["no_identifier_reason"].isna())
        ),
    ),
    Rule(
        "studies",
        "source_urls",
        "the pages where the facts were read (only unverified records may have none)",
        lambda t: t["studies"]["source_urls"].isna() & (t["studies"]["verification_status"] != "unverified"),
    ),
    Rule(
        "studies",
        "cited_pmid",
        "cited_pmid only on unverified studies (it marks an unconfirmed citation)",
        lambda t: t["studies"]["cited_pmid"].notna() & (t["studies"]["verification_status"] != "unverified"),
    ),
    Rule(
        "studies",
        "design_code",
        "a design and species from which the evidence level can be derived "
        "(animal and in-vitro designs need an animal or cell species)",
        lambda t: t["studies"]["evidence_level"].isna(),
    ),
    Rule(
        "findings",
        "effect_value",
        "ci_low <= effect_value <= ci_high",
        lambda t: (
            (t["findings"]["effect_value"] < t["findings"]["ci_low"])
            | (t["findings"]["effect_value"] > t["findings"]["ci_high"])
        ),
    ),
    Rule(
        "findings",
        "ci_high",
        "ci_low <= ci_high, and both limits or neither",
        lambda t: (
            (t["findings"]["ci_low"] > t["findings"]["ci_high"])
            | (t["findings"]["ci_low"].isna() != t["findings"]["ci_high"].isna())
        ),
    ),
    Rule(
        "findings",
        "effect_value",
        "a number whenever ci_low/ci_high are given",
        lambda t: t["findings"]["ci_low"].notna() & t["findings"]["effect_value"].isna(),
    ),
    Rule(
        "findings",
        "effect_sign",
        "effect_sign (standard or reversed) exactly when effect_value is given",
        lambda t: t["findings"]["effect_value"].notna() != t["findings"]["effect_sign"].notna(),
    ),
    Rule(
        "findings",
        "effect_measure",
        "'none' exactly when there is no effect_value",
        lambda t: (t["findings"]["effect_measure"] == "none") == t["findings"]["effect_value"].notna(),
    ),
    Rule(
        "findings",
        "p_value_operator",
        "p_value_operator ('=', '<' or '>') exactly when p_value is given",
        lambda t: t["findings"]["p_value"].notna() != t["findings"]["p_value_operator"].notna(),
    ),
    Rule(
        "findings",
        "ci_level_pct",
        "a confidence level only together with a confidence interval",
        lambda t: t["findings"]["ci_level_pct"].notna() & t["findings"]["ci_low"].isna(),
    ),
    Rule(
        "findings",
        "direction",
        "a direction that agrees with an effect whose CI excludes no difference (0, or 1 for ratios): "
        "below it after effect_sign = decrease, above = increase",
        lambda t: (
            _ci_excludes_zero(t["findings"])
            & (
                ((_standardised_sign(t["findings"]) < 0) & (t["findings"]["direction"] != "decrease"))
                | ((_standardised_sign(t["findings"]) > 0) & (t["findings"]["direction"] != "increase"))
            )
        ),
    ),
    Rule(
        "findings",
        "is_significant",
        "not significant when direction is no_change",
        lambda t: (t["findings"]["direction"] == "no_change") & t["findings"]["is_significant"].eq(True),
    ),
    Rule(
        "findings",
        "value_unit",
        "a unit whenever intervention_value or comparator_value is given",
        lambda t: (
            (t["findings"]["intervention_value"].notna() | t["findings"]["comparator_value"].notna())
            & t["findings"]["value_unit"].isna()
        ),
    ),
    Rule(
        "findings",
        "note",
        "a note showing the arithmetic when value_origin is computed or converted",
        lambda t: t["findings"]["value_origin"].isin(["computed", "converted"]) & t["findings"]["note"].isna(),
    ),
    Rule(
        "findings",
        "condition_code",
        "the study's condition_code, unless the study enrolled 'multiple' populations",
        lambda t: _finding_condition_mismatch(t),
    ),
    Rule(
        "claim_evidence",
        "finding_id",
        "a finding that belongs to the linked study_id",
        lambda t: _finding_study_mismatch(t),
    ),
    Rule(
        "claims",
        "claim_id",
        "at least one row in claim_evidence.csv linking the claim to evidence "
        "(only an 'unverifiable' claim may have none)",
        lambda t: (
            ~t["claims"]["claim_id"].isin(t["claim_evidence"]["claim_id"]) & (t["claims"]["verdict"] != "unverifiable")
        ),
    ),
]


#: Designs that summarise other studies (their findings may carry the review's own certainty rating).
REVIEW_DESIGNS = ("sr", "sr_ma", "narrative_review", "review_unspecified", "guideline")
#: The overall judgements each risk-of-bias tool allows.
ROB_JUDGEMENTS = {
    "rob2": {"low_risk", "some_concerns", "high_risk"},
    "rob1": {"low_risk", "unclear_risk", "high_risk"},
    "robins_i": {"low_risk", "moderate_risk", "serious_risk", "critical_risk"},
    "amstar2": {"high_confidence", "moderate_confidence", "low_confidence", "critically_low_confidence"},
    "pedro": {f"pedro_score_{n}" for n in range(11)},
    "syrcle": {"low_risk", "unclear_risk", "high_risk"},
    "none": {"not_assessed"},
}


def _rob_judgement_mismatch(tables: dict[str, pd.DataFrame]) -> pd.Series:
    rob = tables["risk_of_bias"]
    return pd.Series(
        [
            j not in ROB_JUDGEMENTS.get(t, set()) | {"not_assessed"}
            for t, j in zip(rob["tool"], rob["overall"], strict=True)
        ],
        index=rob.index,
    )


RULES += [
    Rule(
        "studies",
        "study_id",
        "a row in risk_of_bias.csv for every study (tool none, overall not_assessed when not assessed)",
        lambda t: ~t["studies"]["study_id"].isin(t["risk_of_bias"]["study_id"]),
    ),
    Rule(
        "risk_of_bias",
        "overall",
        "a judgement of the tool: rob2 low_risk/some_concerns/high_risk; rob1 and syrcle low_risk/unclear_risk/"
        "high_risk; robins_i low/moderate/serious/critical_risk; amstar2 ..._confidence; pedro pedro_score_N; "
        "none only not_assessed (any tool may say not_assessed: the tool that fits, not yet applied)",
        _rob_judgement_mismatch,
    ),
    Rule(
        "risk_of_bias",
        "judgement_source",
        "judgement_source none exactly when overall is not_assessed",
        lambda t: (t["risk_of_bias"]["judgement_source"] == "none") != (t["risk_of_bias"]["overall"] == "not_assessed"),
    ),
    Rule(
        "risk_of_bias",
        "assessed_in_study_id",
        "the review that published the judgement (and a source_url) when judgement_source is review_assessment",
        lambda t: (
            (t["risk_of_bias"]["judgement_source"] == "review_assessment")
            & (t["risk_of_bias"]["assessed_in_study_id"].isna() | t["risk_of_bias"]["source_url"].isna())
        ),
    ),
    Rule(
        "risk_of_bias",
        "domains",
        "the domain judgements when the curator assessed the study from its full text",
        lambda t: (t["risk_of_bias"]["judgement_source"] == "curator_full_text") & t["risk_of_bias"]["domains"].isna(),
    ),
    Rule(
        "findings",
        "reported_certainty",
        "a review's own certainty only on findings of reviews (sr, sr_ma, narrative or unspecified review, guideline)",
        lambda t: (
            t["findings"]["reported_certainty"].notna()
            & ~t["findings"]["study_id"].map(_lookup(t, "studies", "study_id", "design_code")).isin(REVIEW_DESIGNS)
        ),
    ),
    Rule(
        "findings",
        "effect_se",
        "effect_se only together with effect_value",
        lambda t: t["findings"]["effect_se"].notna() & t["findings"]["effect_value"].isna(),
    ),
    Rule(
        "arm_statistics",
        "se",
        "an SD or an SE, not both (give the one the source prints)",
        lambda t: t["arm_statistics"]["sd"].notna() & t["arm_statistics"]["se"].notna(),
    ),
    Rule(
        "arm_statistics",
        "unit",
        "the same unit for every arm and stage of a finding",
        lambda t: t["arm_statistics"].groupby("finding_id")["unit"].transform("nunique") > 1,
    ),
]


def _finding_study_mismatch(tables: dict[str, pd.DataFrame]) -> pd.Series:
    links = tables["claim_evidence"]
    study_of_finding = links["finding_id"].map(_lookup(tables, "findings", "finding_id", "study_id"))
    return (study_of_finding.notna() & (study_of_finding != links["study_id"])).fillna(False)


def _finding_condition_mismatch(tables: dict[str, pd.DataFrame]) -> pd.Series:
    findings = tables["findings"]
    study_condition = findings["study_id"].map(_lookup(tables, "studies", "study_id", "condition_code"))
    return (
        study_condition.notna() & (study_condition != "multiple") & (study_condition != findings["condition_code"])
    ).fillna(False)


def check_rules(
    tables: dict[str, pd.DataFrame], files: dict[str, str], flagged: dict[str, set[int]] | None = None
) -> list[Problem]:
    """Apply :data:`RULES` to the typed tables (all tables must have loaded).

    Rows listed in ``flagged`` (table -> lines that already have a problem) are left out, so one
    bad cell is reported once rather than again by every rule that reads it.
    """
    flagged = flagged or {}
    tables = {
        name: frame.drop(index=sorted(flagged[name]), errors="ignore") if flagged.get(name) else frame
        for name, frame in tables.items()
    }
    problems = []
    for rule in RULES:
        frame = tables[rule.table]
        broken = rule.violations(tables).fillna(False).astype(bool)
        for line in frame.index[broken.to_numpy()]:
            value = frame.at[line, rule.column]
            value = None if pd.isna(value) else str(value)
            problems.append(Problem(files[rule.table], int(line), rule.column, value, rule.expected))
    return problems


# --------------------------------------------------------------------------------------- package
@dataclass
class EvidencePackage:
    """The loaded data package: typed tables plus the descriptor they were read with."""

    descriptor: dict
    tables: dict[str, pd.DataFrame]
    path: Path
    #: The number columns of each table as the CSV spells them ("-0.10", not -0.1): numbers as reported.
    as_reported: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.descriptor.get("version", ""))

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def schema(self, table: str) -> dict:
        return resource_schemas(self.descriptor)[table]


def _read_all(
    data_dir: Path, as_reported: dict[str, pd.DataFrame] | None = None
) -> tuple[dict, dict[str, pd.DataFrame], dict[str, str], list[Problem]]:
    from helpers.evidence import add_evidence_levels

    descriptor = read_descriptor(data_dir)
    schemas = resource_schemas(descriptor)
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for resource in descriptor["resources"]:
        name = resource["name"]
        raw = read_raw_table(data_dir / resource["path"], schemas[name], name)
        files[name] = raw.file
        typed, cell_problems = check_table(raw, schemas[name])
        problems += raw.problems + cell_problems
        if typed is not None:
            tables[name] = typed
            if as_reported is not None:
                numbers = [f["name"] for f in schemas[name]["fields"] if f.get("type") in ("number", "integer")]
                as_reported[name] = raw.frame[numbers]
    problems += check_foreign_keys(tables, schemas, files)
    if all(name in tables for name in ("studies", "designs", "species")):
        tables["studies"] = add_evidence_levels(tables["studies"], tables["designs"], tables["species"])
    if all(name in tables for name in files):
        flagged: dict[str, set[int]] = {}
        by_file = {file: name for name, file in files.items()}
        for problem in problems:
            if problem.line is not None and problem.file in by_file:
                flagged.setdefault(by_file[problem.file], set()).add(problem.line)
        problems += check_rules(tables, files, flagged)
    return descriptor, tables, files, problems


# ------------------------------------------------------------------------------ the fast reader
#: A whole quoted field: opening quote, text with doubled quotes, closing quote (linear: no nested repeats).
_QUOTED_FIELD = re.compile(rb'"[^"]*(?:""[^"]*)*"')


def _quotes_are_whole_fields(content: bytes) -> bool:
    """True when every quote in ``content`` belongs to a quoted field that spans a whole cell.

    pyarrow accepts text after a closing quote (``"a"b``) and Python's strict ``csv`` does not; a quote inside
    an unquoted cell is left to the strict reader as well.
    """
    total = content.count(b'"')
    covered = 0
    for match in _QUOTED_FIELD.finditer(content):
        start, end = match.span()
        if (start and content[start - 1] not in b",\n") or (end < len(content) and content[end] not in b",\n"):
            return False
        covered += match.group().count(b'"')
    return covered == total


def _read_table_fast(path: Path, schema: dict) -> pd.DataFrame | None:
    """A CSV as text columns (missing = NaN, as the strict reader gives them), or None to leave it to the strict one."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    fields = [f["name"] for f in schema["fields"]]
    content = path.read_bytes()
    # An empty line in a table of several columns is a row of the wrong width, which pyarrow refuses below; only a
    # one-column table needs the scan (half a second on a 270 MB file, where '\n' is everywhere).
    if content.startswith(b"\xef\xbb\xbf") or b"\r" in content or (len(fields) == 1 and b"\n\n" in content):
        return None
    end_of_header = content.find(b"\n")
    header = next(csv.reader([content[: end_of_header if end_of_header >= 0 else None].decode("utf-8")]), None)
    if header != fields or not _quotes_are_whole_fields(content):
        return None
    table = pa_csv.read_csv(
        pa.BufferReader(content),
        # no line breaks inside cells (the shipped tables have none): a file with one is left to the strict reader
        parse_options=pa_csv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(fields, pa.string()), null_values=[""], strings_can_be_null=True
        ),
    )  # a row of the wrong width or bytes that are not UTF-8 raise pyarrow.ArrowInvalid
    text = pd.StringDtype(na_value=np.nan)  # pandas' default "str"
    return table.to_pandas(types_mapper={pa.string(): text}.get)


def _cells_are_clean(frame: pd.DataFrame, schema: dict) -> bool:
    """The strict reader's cell and key checks on whole columns: True when none of them would report anything."""
    for spec in schema["fields"]:
        column = frame[spec["name"]]
        values = column.dropna()
        constraints = spec.get("constraints", {})
        if constraints.get("required") and len(values) != len(column):
            return False
        for kind, argument, _ in _text_rules(spec):
            ok = values.str.match(argument, na=False) if kind == "match" else values.isin(argument)
            if not ok.all():
                return False
        if constraints.get("unique") and column.duplicated().any():  # missing values count as equal: stricter
            return False
    primary = schema.get("primaryKey") or []
    primary = [primary] if isinstance(primary, str) else list(primary)
    if primary and frame.duplicated(subset=primary).any():
        return False
    return not any(frame[list(key)].fillna("").duplicated().any() for key in schema.get("uniqueKeys", []))


def _in_range(typed: pd.DataFrame, schema: dict) -> bool:
    for spec in schema["fields"]:
        constraints = spec.get("constraints", {})
        low, high = constraints.get("minimum"), constraints.get("maximum")
        values = typed[spec["name"]].dropna()
        if (low is not None and (values < low).any()) or (high is not None and (values > high).any()):
            return False
    return True


def _read_all_fast(data_dir: Path) -> tuple[dict, dict[str, pd.DataFrame], dict[str, pd.DataFrame]] | None:
    """The clean package read by the fast reader (descriptor, tables, numbers as reported), or None."""
    try:
        import pyarrow  # noqa: F401  (optional at run time: without it the strict reader does everything)

        descriptor = read_descriptor(data_dir)
        schemas = resource_schemas(descriptor)
        tables: dict[str, pd.DataFrame] = {}
        as_reported: dict[str, pd.DataFrame] = {}
        files: dict[str, str] = {}
        for resource in descriptor["resources"]:
            name, schema = resource["name"], schemas[resource["name"]]
            frame = _read_table_fast(data_dir / resource["path"], schema)
            if frame is None or not _cells_are_clean(frame, schema):
                return None
            typed = convert_types(frame, schema)
            if not _in_range(typed, schema):
                return None
            tables[name], files[name] = typed, Path(resource["path"]).name
            as_reported[name] = frame[[f["name"] for f in schema["fields"] if f.get("type") in ("number", "integer")]]
    except (ImportError, OSError, UnicodeDecodeError, ValueError):  # pyarrow.ArrowInvalid is a ValueError
        return None
    if check_foreign_keys(tables, schemas, files):
        return None
    from helpers.evidence import add_evidence_levels

    try:
        tables["studies"] = add_evidence_levels(tables["studies"], tables["designs"], tables["species"])
        if check_rules(tables, files):
            return None
    except KeyError:  # a table is missing: the strict reader says which
        return None
    return descriptor, tables, as_reported


def validate_package(data_dir: Path | str | None = None) -> list[Problem]:
    """Every problem in the data package (an empty list when it is clean)."""
    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    if _read_all_fast(data_dir) is not None:
        return []
    try:
        return sorted(_read_all(data_dir)[3], key=_problem_sort_key)
    except DataValidationError as error:
        return error.problems


#: The last package :func:`load_package` read with ``reuse=True``: (folder, :func:`package_digest`) -> package.
_REUSABLE: dict[tuple[Path, str], EvidencePackage] = {}


def package_digest(data_dir: Path) -> str:
    """Content hash of the data package: the files a load reads (CSV tables, JSON descriptor), not the codebook."""
    files = [p for p in data_dir.rglob("*") if p.is_file() and p.suffix in {".csv", ".json"}]
    return paths.hash_files(files, data_dir)


def load_package(data_dir: Path | str | None = None, *, reuse: bool = False) -> EvidencePackage:
    """Load and validate the data package; raise :class:`DataValidationError` listing every problem.

    The returned tables are indexed 0..n-1; the CSV line numbers are only needed for error messages.

    With ``reuse=True`` a package whose files are byte-identical to the last one loaded that way is not read
    again (a warm report kernel runs many notebooks on the same data). Each call still gets its own package:
    new dicts, and tables that share memory only until either side changes them (pandas copy-on-write).
    """
    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    if reuse:
        key = (data_dir.resolve(), package_digest(data_dir))
        if key not in _REUSABLE:
            _REUSABLE.clear()
            _REUSABLE[key] = load_package(data_dir)
        return _private_copy(_REUSABLE[key], data_dir)
    fast = _read_all_fast(data_dir)
    if fast is not None:
        descriptor, tables, as_reported = fast
    else:
        as_reported = {}
        descriptor, tables, _, problems = _read_all(data_dir, as_reported)
        if problems:
            raise DataValidationError(problems)
    tables = {name: frame.reset_index(drop=True) for name, frame in tables.items()}
    as_reported = {name: frame.reset_index(drop=True).astype("str") for name, frame in as_reported.items()}
    return EvidencePackage(descriptor, tables, data_dir, as_reported)


def _private_copy(package: EvidencePackage, data_dir: Path) -> EvidencePackage:
    def frames(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        return {name: frame.copy(deep=False) for name, frame in tables.items()}

    return EvidencePackage(
        copy.deepcopy(package.descriptor), frames(package.tables), data_dir, frames(package.as_reported)
    )
