"""What changed in the data since the previous successful build (studies, findings, claim verdicts)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Tables whose rows the "what changed" page compares between builds, with their keys.
TRACKED_TABLES = {"studies": ["study_id"], "findings": ["finding_id"], "claims": ["claim_id"]}


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
        old_path, new_path = old_dir / f"{table}.csv", new_dir / f"{table}.csv"
        if old_path.is_file() and new_path.is_file() and old_path.read_bytes() == new_path.read_bytes():
            changes.append(TableChanges(table, [], [], {}))  # the usual case of a nightly build: nothing to compare
            continue
        old, new = _read_snapshot(old_path, key), _read_snapshot(new_path, key)
        added = sorted(set(new.index) - set(old.index))
        removed = sorted(set(old.index) - set(new.index))
        # Rows in both, compared whole-frame: a column one side lacks reads as "" there.
        common = sorted(set(old.index) & set(new.index))
        columns = sorted(set(old.columns) | set(new.columns))
        before = old.reindex(index=common, columns=columns, fill_value="")
        after = new.reindex(index=common, columns=columns, fill_value="")
        differs = before.ne(after)
        changed = {}
        for row_id in differs.index[differs.any(axis=1)]:
            row = differs.loc[row_id]
            changed[row_id] = [(c, str(before.at[row_id, c]), str(after.at[row_id, c])) for c in row.index[row]]
        changes.append(TableChanges(table, added, removed, changed))
    return changes


def _read_snapshot(path: Path, key: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=key).set_index(key[0])
    return pd.read_csv(path, dtype=str, keep_default_na=False).set_index(key[0])
