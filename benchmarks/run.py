"""Benchmarks: report builds, interaction latency, load and validate, report size.

Every figure is the median of ``--repeats`` runs (at least five) with its spread (min-max), and
every ratio is measured in the same run. Results print as a table and are written as JSON to
``benchmarks/results/`` (``latest.json`` plus a timestamped copy).

    make bench                                   # everything (about half an hour on 2 cores)
    .venv/bin/python benchmarks/run.py --only latency --repeats 5

Sections: ``build`` (our builder, cold and unchanged, versus the plain papermill + nbconvert loop),
``latency`` (widget change to chart ready, headless, at the curated size and 10k/100k/1M findings),
``voila`` (the app in Chromium: first control on a warm server, every control's redraw; curated and 100k),
``load`` (load + validate time and peak memory, 1k to 1M findings), ``size`` (HTML size per report at 100k
findings), ``class`` (10 students open lesson 1 at once on one ``make class`` server: time to first widget,
reveal, memory per student), ``scale`` (jobs per minute on a 500-job plan: local pool and Dask LocalCluster,
1 and 2 workers).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.browser (the shared Chromium set-up)
RESULTS = ROOT / "benchmarks" / "results"
SECTIONS = ["build", "latency", "voila", "load", "size", "class", "scale"]
TARGETS = {
    "build_cold_speedup": ("cold build vs plain loop", ">= 9x"),
    "build_unchanged_speedup": ("unchanged rebuild vs plain loop", ">= 20x"),
    "latency_100k": ("widget change -> chart, 100k findings", "< 100 ms"),
    "voila_first_control": ("app: first control, warm server (curated)", "< 5 s"),
    "voila_curated": ("app redraw, every control (curated)", "< 150 ms"),
    "voila_100k": ("app redraw, every control (100k findings)", "< 500 ms"),
    "load_1m_s": ("load + validate, 1M findings", "<= 10 s"),
    "load_1m_peak": ("load + validate, 1M findings: peak memory", "<= 1.5 GB"),
    "size_fixed": ("fixed cost per page (libraries, styles)", "<= 0.45 MB"),
    "size_curated": ("largest curated report page", "<= 0.5 MB"),
    "size_100k": ("largest report at 100k findings", "<= 0.85 MB"),
    "scale": ("jobs/min local-1, local-2, dask-1, dask-2", "reported"),
}


def summary(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
        "values": values,
    }


def fmt(stat: dict, unit: str = "s", scale: float = 1.0) -> str:
    return (
        f"{stat['median'] * scale:.3g} {unit} ({stat['min'] * scale:.3g}-{stat['max'] * scale:.3g}, n={stat['runs']})"
    )


def synthetic(n: int, cache: dict, workdir: Path) -> Path:
    from helpers.synthetic import write_synthetic_package

    if n not in cache:
        cache[n] = write_synthetic_package(workdir / f"synthetic-{n}", n, seed=42)
    return cache[n]


# -------------------------------------------------------------------------------------- build
def plain_loop(jobs, out: Path) -> None:
    """What a user would write: papermill, then jupyter nbconvert, one job after another."""
    bin_dir = Path(sys.executable).parent
    out.mkdir(parents=True, exist_ok=True)
    for job in jobs:
        executed = out / f"{job.name}.ipynb"
        arguments = [str(bin_dir / "papermill"), str(job.notebook), str(executed), "--cwd", str(job.notebook.parent)]
        for key, value in job.parameters.items():
            arguments += ["-p", key, str(value)]
        subprocess.run(arguments, check=True, capture_output=True)
        subprocess.run(
            [str(bin_dir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
            check=True,
            capture_output=True,
        )


def bench_build(repeats: int, workdir: Path) -> dict:
    from helpers import reports

    jobs = reports.load_plan()
    cold, plain, unchanged = [], [], []
    for run in range(repeats):
        out = workdir / f"build-{run}"
        start = time.perf_counter()
        result = reports.build_site(out_dir=out, progress=False)
        cold.append(time.perf_counter() - start)
        assert result.published, [r.error for r in result.failures]
        start = time.perf_counter()
        again = reports.build_site(out_dir=out, progress=False)
        unchanged.append(time.perf_counter() - start)
        assert {r.status for r in again.results} == {"unchanged"}
        start = time.perf_counter()
        plain_loop(jobs, workdir / f"plain-{run}")
        plain.append(time.perf_counter() - start)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(workdir / f"plain-{run}", ignore_errors=True)
        print(
            f"  build run {run + 1}: cold {cold[-1]:.1f} s, unchanged {unchanged[-1]:.2f} s, plain {plain[-1]:.1f} s",
            flush=True,
        )
    return {
        "jobs": len(jobs),
        "workers": os.cpu_count(),
        "cold_builder_s": summary(cold),
        "unchanged_builder_s": summary(unchanged),
        "plain_loop_s": summary(plain),
        "cold_speedup": summary([p / c for p, c in zip(plain, cold, strict=True)]),
        "unchanged_speedup": summary([p / u for p, u in zip(plain, unchanged, strict=True)]),
    }


# ------------------------------------------------------------------------------------ latency
def bench_latency(repeats: int, workdir: Path, cache: dict, sizes: list[int]) -> dict:
    from helpers import data, explorer

    results = {}
    for n in sizes:
        path = data.paths.data_dir() if n == 0 else synthetic(n, cache, workdir)
        package = data.load_package(path)
        start = time.perf_counter()
        panel = explorer.EvidenceExplorer(package)
        build_s = time.perf_counter() - start
        n_findings = len(package.findings)
        codes = [c for c in package.interventions["intervention_code"] if c in set(panel.view["intervention_code"])]
        cold, warm, all_cold = [], [], []
        for run in range(repeats):
            code = codes[run % len(codes)]
            panel._cache.clear()
            panel.update()  # "all" is the current selection; drop it from the cache afterwards
            panel._cache.clear()
            start = time.perf_counter()
            panel.intervention.value = code  # a selection not seen before: computed from scratch
            panel.chart.to_dict()
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            panel.intervention.value = ""  # back to all: first time since the cache was cleared
            panel.chart.to_dict()
            all_cold.append(time.perf_counter() - start)
            panel.intervention.value = code
            start = time.perf_counter()
            panel.intervention.value = ""  # revisit: served from the panel's cache
            panel.chart.to_dict()
            warm.append(time.perf_counter() - start)
        label = "curated" if n == 0 else f"{n // 1000}k" if n < 1_000_000 else "1M"
        results[label] = {
            "findings": n_findings,
            "panel_build_s": build_s,
            "change_to_one_intervention_s": summary(cold),
            "change_to_all_cold_s": summary(all_cold),
            "change_to_all_cached_s": summary(warm),
        }
        print(
            f"  latency {label}: one intervention {fmt(summary(cold), 'ms', 1000)}, "
            f"all {fmt(summary(all_cold), 'ms', 1000)}, cached {fmt(summary(warm), 'ms', 1000)}",
            flush=True,
        )
        del panel, package
    return results


# -------------------------------------------------------------------------------------- voila
#: The app's controls by label, as a user meets them (dropdowns), then the chart kinds (toggle buttons).
APP_CONTROLS = ["Category", "Intervention", "Outcome", "Outcome kind", "Species", "Population", "Timeframe",
                "Evidence", "Verification", "Topic"]  # fmt: skip

REDRAWN = "document.querySelector('.exinf-app-chart .vega-embed svg:not([data-old])')"
MARK_OLD = "document.querySelectorAll('.exinf-app-chart .vega-embed svg').forEach(s => s.setAttribute('data-old', '1'))"


#: A reader's pause before each change: the previous change's tables (sent after its chart) have arrived and been
#: drawn, as they have when a person reads the chart before picking the next value. Back to back, a change waits
#: for the previous one's tables in the kernel and the browser (about 0.5-1 s more on 2 busy cores).
SETTLE_MS = 1500


def _timed_redraw(page, act) -> float:
    """Seconds from a control change on a settled page to the new chart drawn (Vega's SVG in place)."""
    page.wait_for_timeout(SETTLE_MS)
    page.evaluate(MARK_OLD)
    start = time.perf_counter()
    act()
    page.wait_for_function(REDRAWN, timeout=120_000, polling="raf")
    return time.perf_counter() - start


def bench_voila(repeats: int, workdir: Path, cache: dict, sizes: list[int]) -> dict:
    """The app as ``make app`` serves it: time to the first control on a warm server (a preheated kernel), then
    every control's redraw, in Chromium. Each change is to a value not chosen before, then back to the default
    (unmeasured), so no change is served from the panel's cache."""
    from playwright.sync_api import sync_playwright

    from tests.browser import app_server, offline_page

    results = {}
    for n in sizes:
        env_before = os.environ.get("EXINF_DATA_DIR")
        if n:
            os.environ["EXINF_DATA_DIR"] = str(synthetic(n, cache, workdir))
        label = "curated" if n == 0 else f"{n // 1000}k"
        per_control: dict[str, list[float]] = {}
        first_control = []
        try:
            with app_server(workdir / f"voila-{n}.log", pool=1) as url, sync_playwright() as playwright:
                for _visit in range(min(repeats, 3)):  # each visit uses up the preheated kernel: let it refill
                    with offline_page(playwright) as (page, _blocked, _errors):
                        start = time.perf_counter()
                        page.goto(url, timeout=600_000, wait_until="commit")
                        page.locator(".widget-dropdown select").first.wait_for(timeout=600_000)
                        first_control.append(time.perf_counter() - start)
                    time.sleep(15 if n == 0 else 60)
                with offline_page(playwright) as (page, _blocked, errors):
                    page.goto(url, timeout=600_000, wait_until="commit")
                    page.locator(".exinf-app-chart .vega-embed svg").first.wait_for(timeout=600_000)
                    for name in APP_CONTROLS:
                        select = page.locator(f".widget-dropdown:has(label:text-is('{name}')) select")
                        options = select.locator("option").all_inner_texts()
                        default = options[0]
                        times = per_control.setdefault(name, [])
                        for option in options[1 : repeats + 1]:
                            times.append(_timed_redraw(page, lambda o=option, s=select: s.select_option(label=o)))
                            _timed_redraw(page, lambda d=default, s=select: s.select_option(label=d))
                    buttons = page.locator(".exinf-app-chart .widget-toggle-buttons button")
                    kinds = buttons.all_inner_texts()
                    for _run in range(repeats):
                        for i, kind in enumerate(kinds):
                            if "mod-active" in (buttons.nth(i).get_attribute("class") or ""):
                                continue
                            per_control.setdefault(f"chart: {kind}", []).append(
                                _timed_redraw(page, lambda i=i, b=buttons: b.nth(i).click())
                            )
                    assert not errors, errors
        finally:
            if env_before is None:
                os.environ.pop("EXINF_DATA_DIR", None)
            else:
                os.environ["EXINF_DATA_DIR"] = env_before
        every = [t for times in per_control.values() for t in times]
        results[label] = {
            "first_control_s": summary(first_control),
            "redraw_s": summary(every),
            "per_control_s": {name: summary(times) for name, times in per_control.items() if times},
        }
        print(f"  voila {label}: first control {fmt(summary(first_control))}", flush=True)
        for name, times in per_control.items():
            if times:
                print(f"    {name:28s} redraw {fmt(summary(times), 'ms', 1000)}", flush=True)
        print(f"    {'every control':28s} redraw {fmt(summary(every), 'ms', 1000)}", flush=True)
    return results


# -------------------------------------------------------------------------------------- class
CLASS_STUDENTS = 10


def bench_class(repeats: int, workdir: Path) -> dict:
    """A class of 10 opening lesson 1 at once (one Voila class server, one Chromium, a context each)."""
    from playwright.sync_api import sync_playwright

    from tests.class_load import class_server, open_lesson_together, page_errors, predict_then_reveal, students

    first, reveal, done, kernel_mib, server_mib = [], [], [], [], []
    for run in range(repeats):
        with (
            class_server(workdir / f"class-{run}", workdir / f"class-{run}.log", CLASS_STUDENTS + 2) as server,
            sync_playwright() as playwright,
            students(playwright, CLASS_STUDENTS) as (crowd, blocked, errors),
        ):
            start = time.monotonic()
            open_lesson_together(crowd, server.url, start + 600)
            for student in crowd:
                predict_then_reveal(student, start + 600)
            done.append(time.monotonic() - start)
            first += [s.first_widget_s for s in crowd]
            reveal += [s.reveal_s for s in crowd]
            kernel_mib += server.kernel_memory_mib()
            server_mib.append(server.server_memory_mib())
            if blocked or page_errors(errors):
                raise RuntimeError(f"class run {run}: blocked {blocked[:3]}, errors {page_errors(errors)[:3]}")
    results = {
        "students": CLASS_STUDENTS,
        "first_widget_s": summary(first),
        "reveal_s": summary(reveal),
        "all_revealed_s": summary(done),
        "kernel_rss_mib_per_student": summary(kernel_mib),
        "server_rss_mib": summary(server_mib),
    }
    print(
        f"  class x{CLASS_STUDENTS}: first widget {fmt(results['first_widget_s'])}, reveal "
        f"{fmt(results['reveal_s'], 'ms', 1000)}, all done {fmt(results['all_revealed_s'])}, kernel "
        f"{fmt(results['kernel_rss_mib_per_student'], 'MiB')} per student, "
        f"server {fmt(results['server_rss_mib'], 'MiB')}",
        flush=True,
    )
    return results


# --------------------------------------------------------------------------------------- load
# Peak memory is VmHWM of the child: ru_maxrss would carry the parent's high-water mark over the fork.
LOAD_SCRIPT = """
import sys, time
start = time.perf_counter()
from helpers.data import load_package
package = load_package(sys.argv[1])
elapsed = time.perf_counter() - start
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(elapsed, peak_kib, len(package.findings))
"""


def bench_load(repeats: int, workdir: Path, cache: dict, sizes: list[int]) -> dict:
    results = {}
    for n in sizes:
        path = synthetic(n, cache, workdir)
        times, peaks = [], []
        for _ in range(repeats):
            output = subprocess.run(
                [sys.executable, "-c", LOAD_SCRIPT, str(path)], check=True, capture_output=True, text=True
            ).stdout.split()
            times.append(float(output[0]))
            peaks.append(int(output[1]) / 1024)  # VmHWM is in KiB
        label = f"{n // 1000}k" if n < 1_000_000 else "1M"
        results[label] = {
            "findings": n,
            "load_validate_s": summary(times),
            "peak_rss_mb": summary(peaks),
            "csv_mb": (path / "findings.csv").stat().st_size / 1e6,
        }
        print(f"  load {label}: {fmt(summary(times))}, peak {summary(peaks)['median']:.0f} MB", flush=True)
    return results


# --------------------------------------------------------------------------------------- size
def bench_size(workdir: Path, cache: dict, n: int) -> dict:
    """Page weight: the fixed cost (libraries, styles) and every report's HTML, curated and at ``n`` findings."""
    from helpers import offline, reports

    results = {"fixed_mb": len(offline.page_assets().encode()) / 1e6}
    env_before = os.environ.get("EXINF_DATA_DIR")
    for label, size in [("curated", 0), (f"{n // 1000}k", n)]:
        if size:
            os.environ["EXINF_DATA_DIR"] = str(synthetic(size, cache, workdir))
        try:
            result = reports.build_site(out_dir=workdir / f"size-build-{label}", progress=False)
        finally:
            if env_before is None:
                os.environ.pop("EXINF_DATA_DIR", None)
            else:
                os.environ["EXINF_DATA_DIR"] = env_before
        sizes = {
            r.name: (result.build_dir / r.outputs[0]).stat().st_size / 1e6
            for r in result.results
            if r.status != "failed"
        }
        failed = [r.name for r in result.failures]
        largest = max(sizes, key=sizes.get)
        print(f"  size {label}: largest {sizes[largest]:.2f} MB ({largest}); failed: {failed}", flush=True)
        results[label] = {"findings": size, "html_mb": sizes, "largest_mb": sizes[largest], "failed": failed}
    print(f"  size: fixed cost per page {results['fixed_mb']:.3f} MB", flush=True)
    results["note"] = "sizes are deterministic for a given seed: one build each"
    return results


# -------------------------------------------------------------------------------------- scale
SCALE_BODY = """
import numpy as np
import pandas as pd

rng = np.random.default_rng(seed)
frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
frame.describe().round(3)
"""


#: Executor and number of workers of each scale figure (a Dask worker has one thread, so one kernel).
SCALE_LABELS = ["local-1", "local-2", "dask-1", "dask-2"]


def bench_scale(repeats: int, workdir: Path, n_jobs: int = 500) -> dict:
    """Jobs per minute on a plan of ``n_jobs`` small reports (a seeded pandas summary each; the kernel cost of a
    real report is measured by ``build``): the local pool and a Dask LocalCluster, with 1 and 2 workers."""
    import yaml
    from distributed import LocalCluster

    from helpers import reports
    from tests.plans import write_jobs, write_notebook

    folder = workdir / "scale-plan"
    sidecar = {
        "title": "Sample summary {seed}",
        "description": "A small computation per report, for throughput.",
        "parameters": {"seed": {"type": "integer", "default": 0, "description": "random seed"}},
    }
    parameters = "seed: int = 0  # random seed of the sample"
    write_notebook(folder / "scale.ipynb", parameters, SCALE_BODY, yaml.safe_dump(sidecar), title="# Scale")
    jobs = [{"name": f"sample-{i:04d}", "notebook": "scale.ipynb", "parameters": {"seed": i}} for i in range(n_jobs)]
    write_jobs(folder, jobs)

    results: dict = {"jobs": n_jobs, "machine_note": "2 cores shared with other engineers' work: figures are noisy"}
    plan = folder / "reports.yaml"
    for label in SCALE_LABELS:
        executor, workers = label.split("-")
        times, cluster_start = [], []
        for run in range(repeats):
            out = workdir / f"scale-{label}-{run}"
            with contextlib.ExitStack() as stack:
                scheduler = None
                if executor == "dask":
                    start = time.perf_counter()
                    cluster = stack.enter_context(
                        LocalCluster(n_workers=int(workers), threads_per_worker=1, dashboard_address=":0")
                    )
                    cluster_start.append(time.perf_counter() - start)
                    scheduler = cluster.scheduler_address
                start = time.perf_counter()
                result = reports.build_site(plan, out, jobs=int(workers), scheduler=scheduler, progress=False)
                times.append(time.perf_counter() - start)
            assert result.published, [r.error for r in result.failures][:3]
            shutil.rmtree(out, ignore_errors=True)
        results[label] = {
            "build_s": summary(times),
            "jobs_per_minute": summary([n_jobs * 60 / t for t in times]),
            **({"cluster_start_s": summary(cluster_start)} if cluster_start else {}),
        }
        started = f"; cluster start {fmt(summary(cluster_start))}" if cluster_start else ""
        print(
            f"  scale {label}: {results[label]['jobs_per_minute']['median']:.0f} jobs/min "
            f"({fmt(summary(times))} for {n_jobs} jobs{started})",
            flush=True,
        )
    return results


# ------------------------------------------------------------------------------------ report
def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/meminfo") as handle:
            info["memory_gb"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo") as handle:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def targets_table(results: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    if "build" in results:
        b = results["build"]
        rows.append((*TARGETS["build_cold_speedup"], f"{b['cold_speedup']['median']:.2f}x"))
        rows.append((*TARGETS["build_unchanged_speedup"], f"{b['unchanged_speedup']['median']:.0f}x"))
    if "latency" in results and "100k" in results["latency"]:
        lat = results["latency"]["100k"]
        rows.append(
            (
                *TARGETS["latency_100k"],
                f"one intervention {lat['change_to_one_intervention_s']['median'] * 1000:.0f} ms; "
                f"all (uncached) {lat['change_to_all_cold_s']['median'] * 1000:.0f} ms",
            )
        )
    if "voila" in results and "curated" in results["voila"]:
        first = results["voila"]["curated"]["first_control_s"]["median"]
        rows.append((*TARGETS["voila_first_control"], f"{first:.1f} s"))
    for label, target in [("curated", "voila_curated"), ("100k", "voila_100k")]:
        if "voila" in results and label in results["voila"]:
            v = results["voila"][label]
            slowest = max(v["per_control_s"], key=lambda k: v["per_control_s"][k]["median"])
            rows.append(
                (
                    *TARGETS[target],
                    f"median {v['redraw_s']['median'] * 1000:.0f} ms; slowest control {slowest} "
                    f"{v['per_control_s'][slowest]['median'] * 1000:.0f} ms",
                )
            )
    if "load" in results and "1M" in results["load"]:
        load = results["load"]["1M"]
        rows.append((*TARGETS["load_1m_s"], f"{load['load_validate_s']['median']:.1f} s"))
        rows.append((*TARGETS["load_1m_peak"], f"{load['peak_rss_mb']['median'] * 2**20 / 1e9:.2f} GB"))
    if "size" in results:
        size = results["size"]
        rows.append((*TARGETS["size_fixed"], f"{size['fixed_mb']:.3f} MB"))
        rows.append((*TARGETS["size_curated"], f"{size['curated']['largest_mb']:.3f} MB"))
        rows.append((*TARGETS["size_100k"], f"{size['100k']['largest_mb']:.3f} MB"))
    if "scale" in results:
        scale = results["scale"]
        rates = ", ".join(f"{scale[label]['jobs_per_minute']['median']:.0f}" for label in SCALE_LABELS)
        rows.append((*TARGETS["scale"], f"{rates} ({scale['jobs']} jobs)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (at least 5 for reported figures)")
    parser.add_argument("--max-size", type=int, default=1_000_000, help="largest synthetic size (default 1M)")
    parser.add_argument("--scale-jobs", type=int, default=500, help="jobs in the scale section's plan (default 500)")
    parser.add_argument(
        "--scale-repeats",
        type=int,
        default=1,
        help="runs per scale figure (default 1: each figure is already a rate over every job of the plan, and a "
        "500-job repeat of the four figures takes about 25 min on 2 shared cores)",
    )
    args = parser.parse_args(argv)
    sections = args.only or SECTIONS
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    results: dict = {
        "machine": machine(),
        "started": dt.datetime.now(dt.UTC).isoformat(),
        "repeats": args.repeats,
        "command": command.strip(),
    }
    cache: dict = {}
    sizes = [n for n in [10_000, 100_000, 1_000_000] if n <= args.max_size]
    with tempfile.TemporaryDirectory(prefix="exinf-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["EXINF_REPORTS_DIR"] = str(workdir / "reports")
        if "build" in sections:
            results["build"] = bench_build(args.repeats, workdir)
        if "latency" in sections:
            results["latency"] = bench_latency(args.repeats, workdir, cache, [0, *sizes])
        if "voila" in sections:
            results["voila"] = bench_voila(args.repeats, workdir, cache, [0, *[n for n in sizes if n == 100_000]])
        if "load" in sections:
            results["load"] = bench_load(args.repeats, workdir, cache, [1_000, *sizes])
        if "size" in sections:
            results["size"] = bench_size(workdir, cache, 100_000)
        if "class" in sections:
            results["class"] = bench_class(args.repeats, workdir)
        if "scale" in sections:
            results["scale"] = bench_scale(args.scale_repeats, workdir, args.scale_jobs)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for target in (RESULTS / "latest.json", RESULTS / f"{stamp}.json"):
        target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("\nTargets")
    print(f"{'figure':44s} {'target':10s} measured")
    for name, target, measured in targets_table(results):
        print(f"{name:44s} {target:10s} {measured}")
    print(f"\nMachine: {results['machine']}")
    print(f"Results: {RESULTS / 'latest.json'}\nRerun: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
