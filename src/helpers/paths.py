"""Where the repository's data, notebooks and reports live.

Every location can be overridden by an environment variable, so that tests, scheduled builds and
benchmarks can point the same code at a copy of the data or at another output folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

#: The repository root when the package is installed in development mode (``pip install -e .``).
REPO_ROOT = Path(__file__).resolve().parents[2]


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """The data package folder (``EXINF_DATA_DIR`` or ``<repo>/data``)."""
    return _from_env("EXINF_DATA_DIR", REPO_ROOT / "data")


def notebooks_dir() -> Path:
    """The notebooks folder (``EXINF_NOTEBOOKS_DIR`` or ``<repo>/notebooks``)."""
    return _from_env("EXINF_NOTEBOOKS_DIR", REPO_ROOT / "notebooks")


def reports_dir() -> Path:
    """Where the report site is published (``EXINF_REPORTS_DIR`` or ``<repo>/reports``)."""
    return _from_env("EXINF_REPORTS_DIR", REPO_ROOT / "reports")


def hash_files(files: Iterable[Path], root: Path) -> str:
    """A sha256 of the files' paths (relative to ``root``) and bytes: same content, same hash, on any machine."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
