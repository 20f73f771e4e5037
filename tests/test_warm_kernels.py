"""Warm kernels: a job never sees what the job before it left behind, and report processes skip dead weight.

A state notebook prints what it can see of the kernel (its pid, a global, a module attribute, a pandas option,
the optional modules :data:`helpers.reports.engine.SKIPPED_OPTIONAL_MODULES` keeps out) and then changes one of
them. One worker runs the jobs in plan order, so each "look" job runs right after the job that changed something.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from helpers import reports
from helpers.reports import engine
from tests.plans import write_jobs, write_notebook

pytestmark = pytest.mark.notebook

SIDECAR = textwrap.dedent("""
    title: "State {action}"
    description: A notebook that shows what it can see of its kernel, then changes it.
    parameters:
      action: {type: string, enum: [look, global, option, module], default: look, description: what to change}
""")
BODY = textwrap.dedent("""
    import json, math, os, sys
    import altair  # imports jsonschema, whose format checkers would import rfc3987_syntax and lark
    import pandas as pd
    print(json.dumps({
        "kernel": os.getpid(),
        "global_seen": "LEFT_BY_A_JOB" in globals(),
        "math_pi": math.pi,
        "max_rows": pd.get_option("display.max_rows"),
        "loaded": sorted(m for m in ("rfc3987_syntax", "lark") if sys.modules.get(m) is not None),
    }))
    if action == "global":
        LEFT_BY_A_JOB = 1
    elif action == "option":
        pd.set_option("display.max_rows", 7)
    elif action == "module":
        math.pi = 3.0
""")
#: Each change is followed by a look: (job name, action).
JOBS = [
    ("first", "look"),
    ("set-global", "global"),
    ("after-global", "look"),
    ("set-option", "option"),
    ("after-option", "look"),
    ("set-module", "module"),
    ("after-module", "look"),
]
#: Optional modules a dependency update could bring back into report processes (lark: rfc3987_syntax's parser).
UNWANTED = ("rfc3987_syntax", "lark")


def state_plan(folder: Path) -> Path:
    write_notebook(folder / "state.ipynb", 'action: str = "look"  # what to change', BODY, SIDECAR, title="# State")
    jobs = [{"name": name, "notebook": "state.ipynb", "parameters": {"action": action}} for name, action in JOBS]
    return write_jobs(folder, jobs)


def seen(executed: Path) -> dict:
    """The state a job printed (the last code cell's output)."""
    notebook = nbformat.read(executed, as_version=4)
    return json.loads(notebook.cells[-1].outputs[0]["text"])


@pytest.fixture(scope="module")
def warm_states(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("warm")
    out = root / "out"
    result = reports.build_site(state_plan(root / "plan"), out, jobs=1, progress=False)
    assert [job.status for job in result.results] == ["built"] * len(JOBS), result.failures
    site = (out / reports.SITE_LINK).resolve()
    return {name: seen(site / "notebooks" / f"{name}.ipynb") for name, _ in JOBS}


def test_a_global_set_by_a_job_is_gone_in_the_next_job_of_the_same_kernel(warm_states):
    assert warm_states["after-global"]["kernel"] == warm_states["set-global"]["kernel"], "the kernel was reused"
    assert warm_states["after-global"]["global_seen"] is False


def test_a_pandas_option_set_by_a_job_is_back_to_its_default_in_the_next_job(warm_states):
    assert warm_states["after-option"]["kernel"] == warm_states["set-option"]["kernel"], "the kernel was reused"
    assert warm_states["after-option"]["max_rows"] == warm_states["first"]["max_rows"] != 7


def test_a_job_that_rebinds_a_module_attribute_gets_its_kernel_replaced(warm_states):
    assert warm_states["after-module"]["kernel"] != warm_states["set-module"]["kernel"]
    assert warm_states["after-module"]["math_pi"] == math.pi


def test_report_kernels_never_import_the_skipped_optional_modules(warm_states):
    # A failure here means a dependency now imports them by another name or path: update SKIPPED_OPTIONAL_MODULES.
    assert {name: state["loaded"] for name, state in warm_states.items()} == {name: [] for name, _ in JOBS}


def _run_one_job_and_list_unwanted(job, build_dir: Path, context: dict) -> list[str]:
    import sys

    result = engine.run_job(job, build_dir, "fingerprint", context, engine.EngineOptions())
    assert result.status == "built", result.error
    return sorted(name for name in UNWANTED if sys.modules.get(name) is not None)


def test_report_workers_never_import_the_skipped_optional_modules(tmp_path):
    plan = state_plan(tmp_path / "plan")
    job = reports.load_plan(plan)[0]
    (tmp_path / "build" / "notebooks").mkdir(parents=True)
    context = {"data_version": "test", "data_hash": "test", "built_at": "2026-01-01T00:00:00+00:00"}
    # A worker as the local executor starts one: spawned, prepared by worker_initializer, then running a job.
    with ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=engine.worker_initializer,
        initargs=("test-warm-kernels", engine.EngineOptions(), os.getpid()),
    ) as pool:
        assert pool.submit(_run_one_job_and_list_unwanted, job, tmp_path / "build", context).result(120) == []
