"""Small notebooks and plans for the builder's tests and the benchmarks: a papermill parameters cell, a body, a
sidecar, and a ``reports.yaml`` of jobs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml


def write_notebook(path: Path, parameters: str, body: str, sidecar: str, title: str = "") -> Path:
    """``path`` (a notebook: an optional title, the parameters cell, the body) and its sidecar beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [*([nbformat.v4.new_markdown_cell(title)] if title else []), cell, nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    path.with_suffix(".yaml").write_text(sidecar, encoding="utf-8")
    return path


def write_jobs(folder: Path, jobs: list[dict], **defaults) -> Path:
    """``folder/reports.yaml`` with ``jobs`` (and ``defaults`` when given); returns its path."""
    plan: dict = {"jobs": jobs}
    if defaults:
        plan["defaults"] = defaults
    (folder / "reports.yaml").write_text(yaml.safe_dump(plan), encoding="utf-8")
    return folder / "reports.yaml"
