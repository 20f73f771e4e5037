"""Shared fixtures: a private copy of the data package that a test may break."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import paths


@pytest.fixture(scope="session")
def package():
    """The shipped data package, loaded once."""
    from helpers.data import load_package

    return load_package(paths.data_dir())


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A copy of the shipped data package in a temporary folder."""
    target = tmp_path / "data"
    shutil.copytree(paths.data_dir(), target)
    return target


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.fixture
def edit_cell(data_copy: Path) -> Callable[[str, int, str, str], int]:
    """Set one cell of a table in the copy: ``edit_cell(table, row_index, column, value)``.

    ``row_index`` counts data rows from 0; returns the line number the validator must report
    (header = line 1; the shipped CSVs have no line breaks inside cells, checked by a test).
    """

    def edit(table: str, row_index: int, column: str, value: str) -> int:
        path = data_copy / f"{table}.csv"
        rows = read_rows(path)
        rows[row_index + 1][rows[0].index(column)] = value
        write_rows(path, rows)
        return row_index + 2

    return edit
