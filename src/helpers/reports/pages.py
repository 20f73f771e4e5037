"""Pages of the site: each report, the index and "what changed", in one lean page shell.

A report page reads like a publication: its subject as the title, the sidecar's description as the lead, the
notebook's outputs (code hidden; live widgets, "explore live" headings and notebook-only instructions dropped), a
site navigation bar, and the build details in a collapsed footer. Every value from the data or the plan reaches
these pages through :mod:`helpers.render` (escaped for HTML). Nothing is fetched from a network.
"""

from __future__ import annotations

import json
import re

from markupsafe import Markup

from helpers import render
from helpers.reports.changes import TableChanges
from helpers.reports.plan import Job

SITE_TITLE = "Exercise & inflammation evidence"
#: Index sections, in order: (group, heading, what it holds).
GROUPS = [
    ("start", "Start here", "What the data holds, the map of the evidence, and how the two articles' claims fare."),
    ("summaries", "How sure are we? Summaries of findings", "Per topic: effect, benefit or harm, GRADE certainty."),
    ("comparisons", "Comparisons by kind of intervention", "Exercise, nutrition, hydrogen, experimental, exposures."),
    ("topics", "Topic briefs", "One page per topic: claims, studies, findings, references."),
    ("lessons", "Lessons", "The teaching kit: instructor versions and student notebooks."),
    ("other", "Other reports", ""),
]
#: Cell tags dropped from report pages: live widgets and their headings, and instructions meant for notebooks.
DROPPED_TAGS = ["interactive", "notebook-only"]

PAGE_CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d8dee4; --accent: #0b63a8; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); }
header.site { background: #12324b; color: #fff; padding: 10px 20px; display: flex; flex-wrap: wrap; gap: 6px 18px;
  align-items: baseline; }
header.site a { color: #fff; text-decoration: none; } header.site .brand { font-weight: 700; margin-right: 12px; }
header.site nav a { font-size: 14px; opacity: .9; margin-right: 12px; white-space: nowrap; display: inline-block; }
header.site nav a:hover { opacity: 1; }
main { max-width: 1120px; margin: 0 auto; padding: 18px 20px 40px; }
h1 { font-size: 28px; line-height: 1.25; margin: 6px 0 8px; } h2 { font-size: 21px; margin: 30px 0 8px; }
h3 { font-size: 17px; } a { color: var(--accent); }
.anchor-link { visibility: hidden; text-decoration: none; margin-left: 6px; font-weight: 400; }
h2:hover .anchor-link, h3:hover .anchor-link, .anchor-link:focus { visibility: visible; }
.kicker { text-transform: uppercase; letter-spacing: .06em; font-size: 12px; color: var(--muted); margin: 0; }
.lead { font-size: 17px; color: #333; max-width: 780px; margin: 0 0 18px; }
.cell, .output_area, .output_subarea { margin: 0; padding: 0; } .output_area { overflow-x: auto; }
.text_cell_render p, .text_cell_render li { max-width: 820px; }
.output_html table.dataframe, .output_html table { border-collapse: collapse; font-size: 13px; }
.output_html table.dataframe td, .output_html table.dataframe th { border-bottom: 1px solid var(--line);
  padding: 4px 8px; text-align: left; vertical-align: top; }
.output_stderr { display: none; }
pre { white-space: pre-wrap; font-size: 13px; background: var(--panel); padding: 8px; }
code { background: var(--panel); padding: 0 4px; border-radius: 3px; font-size: 90%; }
footer.build { max-width: 1120px; margin: 0 auto; padding: 0 20px 30px; color: var(--muted); font-size: 13px; }
footer.build summary { cursor: pointer; } footer.build dl { display: grid; grid-template-columns: max-content 1fr;
  gap: 2px 12px; } footer.build dt { font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; margin: 10px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff; }
.card h3 { font-size: 16px; margin: 0 0 6px; } .card h3 a { text-decoration: none; }
.card p { margin: 4px 0; font-size: 14px; color: #333; } .card .files { font-size: 13px; color: var(--muted); }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.failed { background: #fbe0d3; color: #8a2c00; } .meta { color: var(--muted); font-size: 14px; }
table.changes { border-collapse: collapse; font-size: 13px; } table.changes td, table.changes th {
  border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
@media (max-width: 600px) {
  main { padding: 12px 12px 30px; } h1 { font-size: 23px; } .lead { font-size: 16px; }
  header.site { padding: 8px 12px; } header.site nav a { margin-right: 8px; }
}
"""


def _nav() -> str:
    links = [("index.html#start", "Overview"), ("index.html#summaries", "Summaries"),
             ("index.html#comparisons", "Comparisons"), ("index.html#topics", "Topics"),
             ("index.html#lessons", "Lessons"), ("changes.html", "What changed")]  # fmt: skip
    items = "".join(str(render.html('<a href="{href}">{label}</a>', href=href, label=label)) for href, label in links)
    brand = render.html('<a class="brand" href="index.html">{title}</a>', title=SITE_TITLE)
    return f'<header class="site">{brand}<nav>{items}</nav></header>'


def page(title: str, body: str, *, lead: str = "", kicker: str = "", footer: str = "", head: str = "") -> str:
    """A page of the site: navigation bar, title, lead paragraph, body (already HTML) and an optional footer."""
    top = render.html("<p class='kicker'>{kicker}</p><h1>{title}</h1>", kicker=kicker, title=title) + (
        render.html("<p class='lead'>{lead}</p>", lead=lead) if lead else Markup("")
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"{render.html('<title>{t} · {s}</title>', t=title, s=SITE_TITLE)}<style>{PAGE_CSS}</style>{head}</head>"
        f"<body>{_nav()}<main>{top}{body}</main>{footer}</body></html>\n"
    )


def _group_heading(group: str) -> str:
    return next((heading for key, heading, _ in GROUPS if key == group), "Other reports")


def notebook_to_html(notebook, job: Job, context: dict) -> str:
    """Executed notebook -> a report page: code hidden, live widgets and notebook-only cells dropped, offline."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = DROPPED_TAGS
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=config, template_name="basic")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    notebook.metadata.pop("widgets", None)  # no widget state: reports are static
    _drop_notebook_title(notebook)
    body, _ = exporter.from_notebook_node(notebook)
    body = pack_tables(body)
    return page(job.title, body, lead=job.description, kicker=_group_heading(job.group), footer=_footer(job, context))


#: Tables whose HTML is longer than this travel gzipped in a report page and are unpacked by the browser.
PACK_TABLES_OVER = 3_000
_TABLE_BLOCK = re.compile(r'<div class="exinf-table-wrap">(<table\b.*?</table>)</div>', re.S)


def pack_tables(body: str) -> str:
    """Long tables of a page, gzipped (:func:`helpers.offline.compress`) and unpacked by the page's loader.

    The HTML that comes back is exactly the escaped table that would otherwise be inline; a short note stands in
    for it where scripts do not run. This keeps a page with several 200-row tables under half a megabyte.
    """
    from helpers import offline

    def packed(match: re.Match) -> str:
        table = match.group(1)
        if len(table) <= PACK_TABLES_OVER:
            return match.group(0)
        return (
            '<div class="exinf-table-wrap"><p class="exinf-caption">Loading the table…</p></div>'
            "<script>(function(){var box=document.currentScript.previousElementSibling;"
            f"window.exinfInflate({json.dumps(offline.compress(table))}).then(function(html){{box.innerHTML=html;"
            "return window.exinfAssets;}).then(function(){window.exinfTables&&window.exinfTables();})"
            ".catch(function(e){box.textContent='This table cannot be shown: '+e.message;});})();</script>"
        )

    return _TABLE_BLOCK.sub(packed, body)


def _drop_notebook_title(notebook) -> None:
    """The page has its own title (the report's subject): the notebook's generic ``# heading`` goes."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"\A\s*# [^\n]*\n*", "", cell.source)
            break


def _footer(job: Job, context: dict) -> str:
    parameters = ", ".join(f"{k}={v}" for k, v in job.parameters.items()) or "none"
    rows = [
        ("Report", job.name),
        ("Notebook", job.notebook.name),
        ("Parameters", parameters),
        ("Data package", f"{context.get('data_version')} (sha256 {str(context.get('data_hash'))[:12]})"),
        ("Built", context.get("built_at")),
    ]
    items = "".join(str(render.html("<dt>{k}</dt><dd>{v}</dd>", k=k, v=v)) for k, v in rows)
    links = render.html(
        '<dd><a href="notebooks/{name}.ipynb">executed notebook</a> · <a href="manifest.json">manifest</a> · '
        '<a href="data/">the data package</a></dd>',
        name=job.name,
    )
    return (
        "<footer class='build'><details><summary>How this page was built</summary>"
        f"<dl>{items}<dt>Files</dt>{links}</dl><p>Hover over chart marks for each number's study, PMID/DOI and "
        "where it was read. Charts and tables work offline: nothing on this page is fetched from a network.</p>"
        "</details></footer>"
    )


# ------------------------------------------------------------------------------------- index
def _output_label(output: str) -> str:
    if output.startswith("teaching/"):
        return "student notebook (no solutions)"
    if output.startswith("notebooks/"):
        return "executed notebook"
    return output


def _card(job: dict) -> str:
    failed = job["status"] == "failed"
    title = render.html("{t}", t=job["title"]) if failed else render.link_local(job["title"], job["outputs"][0])
    parts = [str(render.html("<h3>{title}</h3>", title=title))]
    if job.get("description"):
        parts.append(str(render.html("<p>{d}</p>", d=job["description"])))
    if failed:
        notebook = next((o for o in job["outputs"] if o.endswith(".ipynb")), "")
        parts.append(
            str(
                render.html(
                    "<p><span class='status failed'>failed</span> {error}</p><p class='files'>{link}</p>",
                    error=((job.get("error") or "").splitlines() or [""])[-1],
                    link=render.link_local("executed notebook with the error", notebook) if notebook else "",
                )
            )
        )
    else:
        extras = [render.link_local(_output_label(o), o) for o in job["outputs"][1:]]
        if extras:
            parts.append(str(render.html("<p class='files'>{links}</p>", links=Markup(" · ").join(extras))))
    return str(
        render.html("<div class='card' data-job='{name}'>{body}</div>", name=job["name"], body=Markup("".join(parts)))
    )


def render_index(manifest: dict) -> str:
    """The site's front page: the reports grouped (start, summaries, comparisons, topics, lessons), each a card."""
    data = manifest["data_package"]
    jobs = sorted(manifest["jobs"], key=lambda j: (j.get("order", 100), j["title"]))
    sections = []
    for group, heading, note in GROUPS:
        members = [j for j in jobs if j.get("group", "other") == group]
        if not members:
            continue
        cards = "".join(_card(j) for j in members)
        sections.append(
            str(render.html("<section id='{g}'><h2>{h}</h2><p class='meta'>{n}</p>", g=group, h=heading, n=note))
            + f"<div class='cards'>{cards}</div></section>"
        )
    failed = sum(j["status"] == "failed" for j in manifest["jobs"])
    summary = render.html(
        "<p class='meta'>{n} reports{failed}, built {built} from data package {version}. "
        "<a href='changes.html'>What changed since the previous build</a> · <a href='manifest.json'>manifest</a> · "
        "<a href='data/'>the data package</a>.</p>",
        n=len(manifest["jobs"]),
        failed=Markup(f", <b>{failed} failed</b>") if failed else "",
        built=manifest["built_at"],
        version=data["version"],
    )
    lead = (
        "Popular articles say exercise, hydrogen or supplements lower inflammation. These reports put the studies "
        "behind such claims side by side: what each intervention does to each marker, how sure we are, and where "
        "the claims go further than the evidence. Every number links to its study."
    )
    footer = render.html(
        "<footer class='build'><details><summary>How this site was built</summary><dl><dt>Build</dt><dd>{b}</dd>"
        "<dt>Data package</dt><dd>{v} (sha256 {h})</dd><dt>Commit</dt><dd>{c}</dd></dl></details></footer>",
        b=manifest["build_id"],
        v=data["version"],
        h=data["sha256"][:12],
        c=(manifest.get("git_commit") or "unknown")[:12],
    )
    return page(SITE_TITLE + ": reports", str(summary) + "".join(sections), lead=lead, footer=str(footer))


def render_changes(changes: list[TableChanges] | None, manifest: dict, previous: dict) -> str:
    """The "what changed" page: studies, findings and claim verdicts added, removed or changed."""
    title = "What changed in the data"
    if changes is None:
        return page(title, "<p class='meta'>This is the first successful build: there is nothing to compare with.</p>")
    parts = [
        str(
            render.html(
                "<p class='meta'>Data package {v} compared with the previous successful build {b} (data {pv}).</p>",
                v=manifest["data_package"]["version"],
                b=str(previous.get("build_id")),
                pv=str(previous.get("data_package", {}).get("version")),
            )
        )
    ]
    labels = {"studies": "Studies", "findings": "Findings", "claims": "Claims"}
    for table in changes:
        parts.append(str(render.html("<h2 id='{t}'>{label}</h2>", t=table.table, label=labels[table.table])))
        if not (table.added or table.removed or table.changed):
            parts.append("<p>No changes.</p>")
            continue
        for kind, ids in [("Added", table.added), ("Removed", table.removed)]:
            if ids:
                codes = Markup(", ").join(render.html("<code>{i}</code>", i=i) for i in ids)
                parts.append(str(render.html("<p><b>{k}</b> ({n}): {codes}</p>", k=kind, n=len(ids), codes=codes)))
        if table.changed:
            rows = "".join(
                str(
                    render.html(
                        "<tr><td><code>{i}</code></td><td>{c}</td><td>{o}</td><td>{n}</td></tr>",
                        i=row_id,
                        c=column,
                        o=old,
                        n=new,
                    )
                )
                for row_id, diffs in table.changed.items()
                for column, old, new in diffs
            )
            parts.append(
                f"<p><b>Changed</b> ({len(table.changed)}):</p><div class='exinf-table-wrap'><table class='changes'>"
                f"<tr><th>id</th><th>column</th><th>before</th><th>after</th></tr>{rows}</table></div>"
            )
        if table.table == "claims":
            verdicts = [(i, o, n) for i, d in table.changed.items() for c, o, n in d if c == "verdict"]
            text = Markup("; ").join(
                render.html("{i}: {o} &rarr; {n}", i=i, o=o.replace("_", " "), n=n.replace("_", " "))
                for i, o, n in verdicts
            )
            parts.append(str(render.html("<p><b>Verdicts changed:</b> {t}.</p>", t=text or "none")))
    return page(title, "".join(parts))
