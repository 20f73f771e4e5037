"""Pages of the site: each report (nbconvert, offline template), the index, and "what changed".

Every value from the data or the plan reaches these pages through :mod:`helpers.render` (escaped for HTML).
"""

from __future__ import annotations

import html
from pathlib import Path

from helpers.reports.changes import TableChanges
from helpers.reports.plan import Job

TEMPLATES = Path(__file__).parent / "templates"


def notebook_to_html(notebook, job: Job, context: dict) -> str:
    """Executed notebook -> standalone HTML: code hidden, widget cells dropped, nothing from a network."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = ["interactive"]
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=config, template_name="offline_report", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    notebook.metadata.pop("widgets", None)  # no widget state: reports are static
    resources = {
        "metadata": {"name": job.title},
        "exinf": {"name": job.name, "notebook": job.notebook.name, "parameters": job.parameters, **context},
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    return body


# ------------------------------------------------------------------------------------- pages
STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1180px; padding: 20px; color: #222; }
h1 { font-size: 26px; margin-bottom: 4px; } .meta { color: #555; font-size: 14px; line-height: 1.6; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; margin-top: 18px; }
.card { border: 1px solid #d5dbe1; border-radius: 6px; padding: 12px 14px; background: #fff; }
.card h2 { font-size: 17px; margin: 0 0 6px; } .card h2 a { color: #0072B2; text-decoration: none; }
.card p { margin: 4px 0; font-size: 13px; } code { background: #eef1f4; padding: 0 4px; border-radius: 3px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: bold; }
.built { background: #d7f0e5; color: #00573a; } .unchanged, .carried_over { background: #e6eef6; color: #17456b; }
.failed { background: #fbe0d3; color: #8a2c00; } pre { white-space: pre-wrap; font-size: 12px; background: #f7f7f7;
padding: 8px; } table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #d5dbe1;
padding: 4px 8px; text-align: left; vertical-align: top; }
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _output_label(output: str) -> str:
    if output.startswith("teaching/"):
        return "student notebook (no solutions)"
    if output.startswith("notebooks/"):
        return "executed notebook"
    return html.escape(output)


def render_index(manifest: dict) -> str:
    """The site's front page: one card per report."""
    data = manifest["data_package"]
    cards = []
    for job in manifest["jobs"]:
        status = job["status"]
        link = f"<a href='{html.escape(job['outputs'][0])}'>{html.escape(job['title'])}</a>"
        if status == "failed":
            link = html.escape(job["title"])
        params = " ".join(f"<code>{html.escape(k)}={html.escape(str(v))}</code>" for k, v in job["parameters"].items())
        files = " &middot; ".join(f"<a href='{html.escape(o)}'>{_output_label(o)}</a>" for o in job["outputs"][1:])
        extra = f"<p>{files}</p>" if files and status != "failed" else ""
        if status == "failed":
            notebook = next(o for o in job["outputs"] if o.endswith(".ipynb"))
            extra = (
                f"<p>Executed notebook with the error: <a href='{html.escape(notebook)}'>"
                f"{html.escape(notebook)}</a></p><pre>{html.escape(job['error'] or '')}</pre>"
            )
        cards.append(
            f"<div class='card' data-job='{html.escape(job['name'])}'><h2>{link}</h2>"
            f"<p><span class='status {status}'>{status.replace('_', ' ')}</span> "
            f"{job['duration_s']:.1f} s &middot; data {html.escape(data['version'])}</p>"
            f"<p>{html.escape(job['notebook'])} {params}</p>{extra}</div>"
        )
    failed = sum(j["status"] == "failed" for j in manifest["jobs"])
    summary = f"{len(manifest['jobs'])} reports" + (f", <b>{failed} failed</b>" if failed else "")
    body = (
        "<h1>Exercise &amp; inflammation evidence: reports</h1>"
        f"<p class='meta'>{summary}. Built {html.escape(manifest['built_at'])} from data package "
        f"<b>{html.escape(data['version'])}</b> (sha256 <code>{html.escape(data['sha256'][:12])}</code>), "
        f"commit <code>{html.escape((manifest.get('git_commit') or 'unknown')[:12])}</code>. "
        "<a href='changes.html'>What changed since the previous build</a> &middot; "
        "<a href='manifest.json'>manifest.json</a> &middot; <a href='data/'>the data package</a>.</p>"
        f"<div class='cards'>{''.join(cards)}</div>"
    )
    return _page("Exercise & inflammation evidence: reports", body)


def render_changes(changes: list[TableChanges] | None, manifest: dict, previous: dict) -> str:
    """The "what changed" page: studies, findings and claim verdicts added, removed or changed."""
    parts = ["<p><a href='index.html'>&larr; All reports</a></p><h1>What changed</h1>"]
    if changes is None:
        parts.append("<p class='meta'>This is the first successful build: there is nothing to compare with.</p>")
        return _page("What changed", "".join(parts))
    parts.append(
        f"<p class='meta'>Data package {html.escape(manifest['data_package']['version'])} compared with the "
        f"previous successful build <code>{html.escape(str(previous.get('build_id')))}</code> (data "
        f"{html.escape(str(previous.get('data_package', {}).get('version')))}).</p>"
    )
    labels = {"studies": "Studies", "findings": "Findings", "claims": "Claims"}
    for table in changes:
        parts.append(f"<h2 id='{table.table}'>{labels[table.table]}</h2>")
        if not (table.added or table.removed or table.changed):
            parts.append("<p>No changes.</p>")
            continue
        for kind, ids in [("Added", table.added), ("Removed", table.removed)]:
            if ids:
                parts.append(
                    f"<p><b>{kind}</b> ({len(ids)}): "
                    + ", ".join(f"<code>{html.escape(i)}</code>" for i in ids)
                    + "</p>"
                )
        if table.changed:
            rows = "".join(
                f"<tr><td><code>{html.escape(row_id)}</code></td><td>{html.escape(column)}</td>"
                f"<td>{html.escape(old)}</td><td>{html.escape(new)}</td></tr>"
                for row_id, diffs in table.changed.items()
                for column, old, new in diffs
            )
            parts.append(
                f"<p><b>Changed</b> ({len(table.changed)}):</p><table><tr><th>id</th><th>column</th>"
                f"<th>before</th><th>after</th></tr>{rows}</table>"
            )
        if table.table == "claims":
            verdicts = [(i, o, n) for i, d in table.changed.items() for c, o, n in d if c == "verdict"]
            text = "; ".join(
                f"{html.escape(i)}: {html.escape(o.replace('_', ' '))} &rarr; {html.escape(n.replace('_', ' '))}"
                for i, o, n in verdicts
            )
            parts.append(f"<p><b>Verdicts changed:</b> {text or 'none'}.</p>")
    return _page("What changed", "".join(parts))
