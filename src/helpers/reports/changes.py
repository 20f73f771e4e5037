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
