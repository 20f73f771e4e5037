"""What every notebook does first: check its parameters, render charts offline, load the data."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def check_choice(name: str, value: object, choices: Iterable[object], allow_blank: bool = True) -> None:
    """Raise ``ValueError`` naming the valid choices when ``value`` is not one of them.

    Examples:
        >>> check_choice("topic", "h2_copd", ["h2_copd", "hiit_ra"])
        >>> check_choice("topic", "mice", ["h2_copd", "hiit_ra"])
        Traceback (most recent call last):
        ...
        ValueError: topic='mice' is not valid; choose one of: h2_copd, hiit_ra
    """
    choices = list(choices)
    if allow_blank and value in ("", None):
        return
    if value not in choices:
        listed = ", ".join(str(c) for c in choices)
        raise ValueError(f"{name}={value!r} is not valid; choose one of: {listed}")


def start(renderer: str = "html"):
    """Render charts offline with ``renderer`` and return ``(package, view)``.

    The package is validated on load: a notebook never shows numbers from an invalid package.
    """
    from helpers import data, evidence, offline

    offline.enable(renderer)
    package = data.load_package(reuse=True)  # a warm report kernel reads the data once, not once per notebook
    pd.set_option("display.max_colwidth", 80)
    pd.set_option("display.max_rows", 200)
    return package, evidence.build_evidence_view(package)


def codes(package, table: str) -> list[str]:
    """The codes of a lookup table (the valid values of a parameter)."""
    key = package.schema(table)["primaryKey"]
    return package.tables[table][key[0] if isinstance(key, list) else key].tolist()


#: Tables in notebooks and reports show at most this many rows (the data folder has everything).
TABLE_MAX_ROWS = 200


def show_table(frame: pd.DataFrame, columns: dict[str, str] | None = None, max_rows: int = TABLE_MAX_ROWS):
    """A readable table for notebooks, reports and the app: labels as headers, cells escaped, no index.

    Columns whose name starts with ``_`` are hidden; a ``_link`` column turns the "Study" (or first) column into a
    link to PubMed or the DOI. Number columns sort as numbers. At most ``max_rows`` rows are shown, with a caption
    saying how many there are; long tables are sortable and searchable in the browser.
    """
    from pandas.api.types import is_numeric_dtype

    from helpers import render

    visible = columns or {c: str(c) for c in frame.columns if not str(c).startswith("_")}
    links = {}
    if "_link" in frame:
        target = next((c for c, label in visible.items() if label == "Study"), next(iter(visible)))
        links[target] = "_link"
    numeric = {c for c in visible if is_numeric_dtype(frame[c]) and frame[c].dtype != bool}
    numeric |= {c for c in visible if visible[c] in ("Level", "N", "Studies", "Participants (counted once)")}
    return render.table(frame, visible, links=links, numeric=numeric, max_rows=max_rows)
