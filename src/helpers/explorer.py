"""Live widget panels for JupyterLab and Voilà.

The panel only binds controls to the pure functions of :mod:`helpers.evidence` and
:mod:`helpers.charts`; it has no analysis logic of its own. Its state can be driven from Python
(``panel.intervention.value = "omega3"``) and read back (``panel.filtered``, ``panel.chart``,
``panel.table``), which is how the tests exercise it without a browser.
"""

from __future__ import annotations

import base64
import dataclasses
import html
from collections.abc import Callable

import ipywidgets as widgets
import pandas as pd
from IPython.display import clear_output, display

from helpers import charts, evidence, export, notebook, synthesis

ALL = ""  # the "no restriction" value of every dropdown

CHART_KINDS = {
    "evidence_map": "Evidence map",
    "forest": "Forest plot",
    "direction": "Effects per outcome",
    "ladder": "Evidence ladder",
}

#: Columns of the Summary-of-Findings table under the chart.
SOF_COLUMNS = {
    "intervention_label": "Intervention",
    "outcome_label": "Outcome",
    "timeframe_group": "Exposure",
    "species_group": "Evidence in",
    "n_studies": "Studies",
    "n_participants": "Participants (counted once)",
    "effect_text": "Effect (95 % CI)",
    "health_effect": "Effect on health",
    "certainty": "Certainty (GRADE)",
    "statement": "In words",
    "downgrades_short": "Why this certainty",
    "studies": "Evidence used",
}

#: Columns of the table shown under the chart (the chart's text alternative).
TABLE_COLUMNS = {
    "short_cite": "Study",
    "identifier": "PMID / DOI",
    "evidence_level": "Level",
    "intervention_label": "Intervention",
    "outcome_label": "Outcome",
    "condition_label": "Population",
    "timeframe": "Timeframe",
    "direction": "Direction (as reported)",
    "health_effect": "Effect on health",
    "effect_text": "Effect as reported",
    "n_text": "N",
    "source_location": "Read in",
    "verification_status": "Verification",
}
MEASURE_SHORT = {
    "smd": "SMD", "wmd": "WMD", "md": "MD", "es": "ES", "pct_change": "% change", "median_change": "median change",
    "fold_change": "fold change", "r": "r", "eta_squared": "η²", "or": "OR", "rr": "RR", "hr": "HR", "none": "",
}  # fmt: skip


def _schema_enum(package, table: str, column: str) -> list[str]:
    for spec in package.schema(table)["fields"]:
        if spec["name"] == column:
            return list(spec.get("constraints", {}).get("enum", []))
    raise KeyError(f"{table}.{column} is not in the schema")


def _options(pairs: list[tuple[str, str]], everything: str) -> list[tuple[str, str]]:
    return [(everything, ALL), *pairs]


#: Selections whose chart and table the panel keeps, most recent last.
CACHE_SIZE = 32

#: The panel's table shows at most this many findings (strongest evidence first); the CSV export has all.
TABLE_MAX_ROWS = 200


def reported_effect_text(row) -> str:
    """An effect as the source printed it: "-0.10 (-0.35 to 0.15) SMD, 95 % CI", numbers as reported."""
    value = row.get("effect_value_reported")
    if not isinstance(value, str) or not value:
        return ""
    text = value
    low, high = row.get("ci_low_reported"), row.get("ci_high_reported")
    if isinstance(low, str) and low:
        text += f" ({low} to {high})"
    measure = MEASURE_SHORT.get(str(row.get("effect_measure")), str(row.get("effect_measure")))
    level = row.get("ci_level_pct_reported")
    level = f", {level} % CI" if isinstance(low, str) and low and isinstance(level, str) and level else ""
    return f"{text} {measure}{level}".strip()


def findings_table(view: pd.DataFrame, max_rows: int | None = None) -> pd.DataFrame:
    """The findings in view as a readable table: the chart's text alternative.

    Labels, not codes; numbers as the source reports them; blank for unknown; ``_link`` holds each study's
    PubMed/DOI address (shown as a link by :func:`helpers.notebook.show_table`). With ``max_rows``, only the
    first rows (strongest evidence first) are formatted.
    """
    view = view.sort_values(["evidence_level", "short_cite", "outcome_label"])
    if max_rows is not None:
        view = view.head(max_rows)
    records = view.to_dict("records")
    table = view.assign(
        effect_text=[reported_effect_text(r) for r in records],
        n_text=[r.get("n_analysed_reported") if isinstance(r.get("n_analysed_reported"), str) else "" for r in records],
        timeframe=view["timeframe"].astype(str).str.replace("_", " ").replace("nan", ""),
        direction=view["direction"].astype(str).str.replace("_", " "),
        health_effect=view["health_effect"].astype(str).str.replace("_", " "),
        _link=[charts._study_link(r.get("pmid"), r.get("doi"), r.get("url")) for r in records],
    )
    table = table[[*TABLE_COLUMNS, "_link"]].rename(columns=TABLE_COLUMNS).reset_index(drop=True)
    table["Level"] = table["Level"].astype("Int64")
    return table.astype("object").where(table.notna(), "")  # blank, not "NaN", for unknown values


def sof_table(sof: pd.DataFrame) -> pd.DataFrame:
    """The Summary of Findings as a readable table: most certain first, labels not codes, blank for unknown."""
    order = {c: i for i, c in enumerate(["high", "moderate", "low", "very_low"])}
    table = sof.assign(_c=sof["certainty"].map(order)).sort_values(["_c", "intervention_label", "outcome_label"])
    table = table.assign(
        certainty=table["certainty"].str.replace("_", " "),
        health_effect=table["health_effect"].str.replace("_", " "),
        n_participants=table["n_participants"].map(lambda n: "" if pd.isna(n) else f"{int(n):,}"),
    )
    return table[list(SOF_COLUMNS)].rename(columns=SOF_COLUMNS).reset_index(drop=True)


def _show(output: widgets.Output, content) -> None:
    """Replace what ``output`` shows; headless (no IPython shell) there is nothing to draw."""
    from IPython import get_ipython

    if get_ipython() is None:
        return
    with output:
        clear_output(wait=True)
        display(content)


def _download_link(filename: str, content: bytes, mime: str) -> str:
    payload = base64.b64encode(content).decode("ascii")
    size = f"{len(content) / 1024:.1f} KB"
    return (
        f'<a download="{html.escape(filename)}" href="data:{mime};base64,{payload}" '
        f'class="exinf-download">Download {html.escape(filename)}</a> ({size})'
    )


class EvidenceExplorer:
    """Compare effects by intervention, outcome, population and evidence level.

    Args:
        package: a loaded :class:`helpers.data.EvidencePackage`.
        chart: the chart shown first (a key of :data:`CHART_KINDS`).
        **initial: initial control values by attribute name, e.g. ``intervention="omega3"``.

    Example:
        >>> from helpers.data import load_package
        >>> panel = EvidenceExplorer(load_package(), chart="forest")
        >>> panel.intervention_category.value = "nutrition"
        >>> sorted(panel.filtered["intervention_category"].unique())
        ['nutrition']
    """

    def __init__(self, package, chart: str = "evidence_map", **initial):
        if chart not in CHART_KINDS:
            raise ValueError(f"chart must be one of {', '.join(CHART_KINDS)}; got {chart!r}")
        self.package = package
        self.view = evidence.build_evidence_view(package)
        self.filtered: pd.DataFrame = self.view
        self.chart = None
        self.table: pd.DataFrame = pd.DataFrame()
        self._cache: dict = {}
        self._summaries = synthesis.CellMemo(package.certainty_overrides)  # each cell synthesised once
        self._build_controls(chart)
        self._updating = False
        for name, value in initial.items():
            getattr(self, name).value = value
        self._observe()
        self.update()

    # ------------------------------------------------------------------------------ controls
    def _build_controls(self, chart: str) -> None:
        package, layout = self.package, widgets.Layout(width="260px")
        style = {"description_width": "92px"}

        def dropdown(description: str, options: list[tuple[str, str]]) -> widgets.Dropdown:
            return widgets.Dropdown(description=description, options=options, value=ALL, layout=layout, style=style)

        categories = sorted(package.interventions["intervention_category"].unique())
        self.intervention_category = dropdown(
            "Category", _options([(c.title(), c) for c in categories], "All categories")
        )
        self.intervention = dropdown("Intervention", self._intervention_options(ALL))
        used_outcomes = package.outcomes[package.outcomes["outcome_code"].isin(self.view["outcome_code"])]
        self.outcome = dropdown(
            "Outcome",
            _options(sorted(zip(used_outcomes["label"], used_outcomes["outcome_code"], strict=True)), "All outcomes"),
        )
        self.marker_class = dropdown(
            "Outcome kind",
            _options(
                [(c.replace("_", " ").capitalize(), c) for c in _schema_enum(package, "outcomes", "marker_class")],
                "All kinds",
            ),
        )
        groups = _schema_enum(package, "species", "species_group")
        self.species_group = dropdown("Species", _options([(g.capitalize(), g) for g in groups], "Any species"))
        used_conditions = package.conditions[package.conditions["condition_code"].isin(self.view["condition_code"])]
        self.condition = dropdown(
            "Population",
            _options(sorted(zip(used_conditions["label"], used_conditions["condition_code"], strict=True)), "Any"),
        )
        self.timeframe = dropdown(
            "Timeframe",
            _options([(t.replace("_", " "), t) for t in _schema_enum(package, "findings", "timeframe")], "Any"),
        )
        self.topic = dropdown(
            "Topic",
            _options(sorted(zip(package.topics["label"], package.topics["topic_code"], strict=True)), "All topics"),
        )
        self.verification = dropdown(
            "Verification", _options([(v, v) for v in _schema_enum(package, "findings", "verification_status")], "Any")
        )
        self.max_level = widgets.Dropdown(
            description="Evidence",
            options=[("Any level", 7)] + [(f"Level {lvl} or stronger", lvl) for lvl in range(6, 0, -1)],
            value=7,
            layout=layout,
            style=style,
        )
        self.chart_kind = widgets.ToggleButtons(
            options=[(label, key) for key, label in CHART_KINDS.items()], value=chart, style={"button_width": "170px"}
        )
        self.summary = widgets.HTML()
        self.chart_output = widgets.Output()
        self.sof_output = widgets.Output()
        self.table_output = widgets.Output()
        self.export_buttons = {
            kind: widgets.Button(description=label, icon="download", layout=widgets.Layout(width="auto"))
            for kind, label in [
                ("csv", "Findings (data package)"),
                ("excel", "Findings (Excel CSV)"),
                ("bibtex", "Studies (BibTeX)"),
                ("ris", "Studies (RIS)"),
                ("csl", "Studies (CSL-JSON)"),
                ("svg", "Chart (SVG)"),
                ("png", "Chart (PNG)"),
            ]
        }
        self.downloads = widgets.HTML()
        for kind, button in self.export_buttons.items():
            button.on_click(lambda _button, kind=kind: self.export(kind))

    def _intervention_options(self, category: str) -> list[tuple[str, str]]:
        table = self.package.interventions
        present = self.view["intervention_code"].dropna().unique()  # a few dozen codes, not a row per finding
        table = table[table["intervention_code"].isin(present)]
        if category:
            table = table[table["intervention_category"] == category]
        return _options(sorted(zip(table["label"], table["intervention_code"], strict=True)), "All interventions")

    @property
    def filter_controls(self) -> list[widgets.Widget]:
        return [
            self.intervention_category,
            self.intervention,
            self.outcome,
            self.marker_class,
            self.species_group,
            self.condition,
            self.timeframe,
            self.max_level,
            self.verification,
            self.topic,
        ]

    def _observe(self) -> None:
        self.intervention_category.observe(self._on_category, names="value")
        for control in [*self.filter_controls, self.chart_kind]:
            if control is not self.intervention_category:
                control.observe(lambda _change: self.update(), names="value")

    def _on_category(self, change) -> None:
        # Narrow the intervention list to the category; keep the choice when it still fits.
        self._updating = True
        try:
            current = self.intervention.value
            options = self._intervention_options(change["new"])
            self.intervention.options = options
            self.intervention.value = current if current in [v for _, v in options] else ALL
        finally:
            self._updating = False
        self.update()

    # -------------------------------------------------------------------------------- state
    @property
    def selection(self) -> evidence.FindingFilter:
        """The current controls as a :class:`helpers.evidence.FindingFilter`."""

        def one(control: widgets.Dropdown) -> tuple[str, ...]:
            return (control.value,) if control.value else ()

        return evidence.FindingFilter(
            intervention_categories=one(self.intervention_category),
            interventions=one(self.intervention),
            outcomes=one(self.outcome),
            marker_classes=one(self.marker_class),
            species_groups=one(self.species_group),
            conditions=one(self.condition),
            timeframes=one(self.timeframe),
            verification_statuses=one(self.verification),
            topics=one(self.topic),
            max_evidence_level=int(self.max_level.value),
        )

    def build_chart(self, view: pd.DataFrame, sof: pd.DataFrame | None = None):
        """The chart of the current kind for ``view`` (``sof``: its Summary of Findings, when already computed)."""
        builders: dict[str, Callable] = {
            "evidence_map": lambda v: charts.build_evidence_map(v, sof=sof),
            "direction": charts.build_direction_plot,
            "forest": lambda v: charts.build_forest_plot(v, sof=sof),
            "ladder": charts.build_evidence_ladder,
        }
        return builders[self.chart_kind.value](view)

    def update(self) -> None:
        """Recompute the filtered findings, chart, table and summary from the controls.

        Results are kept for the last :data:`CACHE_SIZE` selections, so going back to an earlier
        choice (e.g. "All interventions") redraws at once; the data never change under a panel.
        """
        if self._updating:
            return
        key = (self.selection, self.chart_kind.value)
        cached = self._cache.pop(key, None)
        if cached is None:
            filtered = evidence.filter_findings(self.view, self.selection)
            sof = self._summaries(filtered)
            cached = [filtered, self.build_chart(filtered, sof), sof, None, None]
        self._cache[key] = cached
        while len(self._cache) > CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self.filtered, self.chart, sof = cached[:3]
        n_findings, n_studies = len(self.filtered), self.filtered["study_id"].nunique()
        levels = self.filtered["evidence_level"].dropna()
        strongest = f"; strongest evidence: level {int(levels.min())}" if len(levels) else ""
        shown = (
            ""
            if n_findings <= TABLE_MAX_ROWS
            else f" The table lists the {TABLE_MAX_ROWS} strongest; export CSV for all."
        )
        self.summary.value = (
            f"<b>{n_findings}</b> findings from <b>{n_studies}</b> studies{strongest}. "
            "Hover over a mark for its study, PMID/DOI, where the number was read and how it was checked." + shown
        )
        self.downloads.value = ""
        _show(self.chart_output, self.chart)  # the chart first: the tables follow while it draws
        if cached[3] is None:
            cached[3] = sof_table(sof)
            cached[4] = findings_table(self.filtered, max_rows=TABLE_MAX_ROWS)
        self.sof, self.table = cached[3], cached[4]
        _show(self.sof_output, notebook.show_table(self.sof))
        _show(self.table_output, notebook.show_table(self.table))

    # ------------------------------------------------------------------------------- export
    @property
    def selection_text(self) -> str:
        """The selection in words, for captions: "Intervention: Omega-3 fatty acids; Evidence: Level 2 or ..."."""
        chosen = [
            f"{control.description}: {control.label}"
            for control in self.filter_controls
            if control.value not in (ALL, 7)
        ]
        kind = CHART_KINDS[self.chart_kind.value]
        return f"{kind} of " + ("; ".join(chosen) if chosen else "all findings") + "."

    def export(self, kind: str) -> tuple[str, bytes]:
        """Prepare a download of what is in view; returns ``(filename, content)`` and shows a link.

        Findings come as a Frictionless data package (zip: CSV with numbers as reported, ``datapackage.json``
        recording data version, selection and export time) or as an Excel CSV; studies as BibTeX, RIS or
        CSL-JSON; the chart as SVG or PNG with a caption naming the selection and data version.
        """
        studies = self.package.studies[self.package.studies["study_id"].isin(self.filtered["study_id"])]
        selection = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self.selection).items()
            if value not in ((), 7)
        }
        caption = export.selection_caption(self.selection_text, self.package.version)
        makers = {
            "csv": (
                "findings-datapackage.zip",
                "application/zip",
                lambda: export.findings_package(self.filtered, self.package, selection),
            ),
            "excel": ("findings-excel.csv", "text/csv", lambda: export.findings_to_excel_csv(self.filtered)),
            "bibtex": ("studies.bib", "application/x-bibtex", lambda: export.studies_to_bibtex(studies).encode()),
            "ris": (
                "studies.ris",
                "application/x-research-info-systems",
                lambda: export.studies_to_ris(studies).encode(),
            ),
            "csl": (
                "studies.json",
                "application/vnd.citationstyles.csl+json",
                lambda: export.studies_to_csl_json(studies).encode(),
            ),
            "svg": ("chart.svg", "image/svg+xml", lambda: export.chart_to_svg(self.chart, caption).encode()),
            "png": ("chart.png", "image/png", lambda: export.chart_to_png(self.chart, caption=caption)),
        }
        if kind not in makers:
            raise ValueError(f"export kind must be one of {', '.join(makers)}; got {kind!r}")
        filename, mime, make = makers[kind]
        content = make()
        self.downloads.value = _download_link(filename, content, mime)
        return filename, content

    # ------------------------------------------------------------------------------- layout
    def widget(self) -> widgets.Widget:
        """The whole panel: controls, summary, chart, export, table and sources."""
        filters = widgets.GridBox(
            self.filter_controls, layout=widgets.Layout(grid_template_columns="repeat(3, 270px)", grid_gap="4px 8px")
        )
        exports = widgets.HBox(list(self.export_buttons.values()))
        return widgets.VBox(
            [
                filters,
                widgets.HBox([self.chart_kind]),
                self.summary,
                self.chart_output,
                exports,
                self.downloads,
                widgets.HTML("<b>Summary of findings</b> (per intervention and outcome: effect, certainty and why)"),
                self.sof_output,
                widgets.HTML("<b>Findings in view</b> (the chart as a table; sources in the PMID/DOI column)"),
                self.table_output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget())


class ClaimsExplorer:
    """Pick a claim, see its verdict, the reasoning and every finding linked to it.

    Example:
        >>> from helpers.data import load_package
        >>> panel = ClaimsExplorer(load_package())
        >>> panel.verdict.value = "not_supported"
        >>> set(panel.claims["verdict"])
        {'not_supported'}
    """

    def __init__(self, package, article: str = ALL, verdict: str = ALL):
        self.package = package
        self.view = evidence.build_evidence_view(package)
        self.all_claims = charts.claims_table(package, self.view)
        style, layout = {"description_width": "70px"}, widgets.Layout(width="330px")
        self.article = widgets.Dropdown(
            description="Article",
            options=_options(
                list(zip(package.articles["title"], package.articles["article_id"], strict=True)), "Both articles"
            ),
            value=article,
            style=style,
            layout=layout,
        )
        self.verdict = widgets.Dropdown(
            description="Verdict",
            options=_options(
                [(v.replace("_", " "), v) for v in _schema_enum(package, "claims", "verdict")], "Any verdict"
            ),
            value=verdict,
            style=style,
            layout=layout,
        )
        self.claim = widgets.Dropdown(
            description="Claim", options=[], style=style, layout=widgets.Layout(width="680px")
        )
        self.detail = widgets.HTML()
        self.board_output = widgets.Output()
        self.links_output = widgets.Output()
        self.claims = self.all_claims
        self.links = pd.DataFrame()
        self.article.observe(lambda _change: self.update(), names="value")
        self.verdict.observe(lambda _change: self.update(), names="value")
        self.claim.observe(lambda _change: self.show_claim(), names="value")
        self.update()

    def update(self) -> None:
        claims = self.all_claims
        if self.article.value:
            claims = claims[claims["article_id"] == self.article.value]
        if self.verdict.value:
            claims = claims[claims["verdict"] == self.verdict.value]
        self.claims = claims
        options = [(f"{c.claim_id}: {c.claim_short}", c.claim_id) for c in claims.itertuples()]
        current = self.claim.value
        self.claim.options = options
        ids = [value for _, value in options]
        self.claim.value = current if current in ids else (ids[0] if ids else None)
        _show(self.board_output, charts.build_claims_board(claims))
        self.show_claim()

    def show_claim(self) -> None:
        claim_id = self.claim.value
        if not claim_id:
            self.links = pd.DataFrame()
            self.detail.value = "<i>No claim matches these choices.</i>"
            _show(self.links_output, "")
            return
        row = self.all_claims.set_index("claim_id").loc[claim_id]
        self.links = claim_links(self.package, self.view, claim_id)
        self.detail.value = (
            f"<p><b>Claim</b> ({html.escape(row['article_title'])}): {html.escape(row['claim'])}</p>"
            f"<p><b>Verdict:</b> {html.escape(row['verdict_label'])} &nbsp; <b>Certainty:</b> "
            f"{html.escape(row['certainty_label'])}</p><p><b>Why:</b> {html.escape(row['rationale'])}</p>"
        )
        _show(self.links_output, notebook.show_table(self.links))

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                widgets.HBox([self.article, self.verdict]),
                self.board_output,
                self.claim,
                self.detail,
                self.links_output,
            ]
        )

    def _ipython_display_(self) -> None:
        display(self.widget())


def claim_links(package, view: pd.DataFrame, claim_id: str) -> pd.DataFrame:
    """The evidence linked to one claim: each study or finding, how it bears on the claim, and its source."""
    links = package.claim_evidence[package.claim_evidence["claim_id"] == claim_id]
    studies = evidence.build_study_ladder(package.studies).set_index("study_id")
    findings = view.set_index("finding_id")
    rows = []
    for link in links.itertuples():
        study = studies.loc[link.study_id]
        base = {
            "Relation": link.relation,
            "Study": study["short_cite"],
            "PMID / DOI": study["identifier"],
            "Level": study["evidence_level"],
        }
        if isinstance(link.finding_id, str):
            finding = findings.loc[link.finding_id]
            base |= {
                "Finding": f"{finding['outcome_label']}: {finding['direction'].replace('_', ' ')}",
                "Effect as reported": reported_effect_text(finding.to_dict()),
                "Read in": finding["source_location"],
                "Verification": finding["verification_status"],
            }
        else:
            base |= {
                "Finding": "(whole study)",
                "Effect as reported": "",
                "Read in": "",
                "Verification": study["verification_status"],
            }
        base["Note"] = link.note if isinstance(link.note, str) else ""
        base["_link"] = charts._study_link(study.get("pmid"), study.get("doi"), study.get("url"))
        rows.append(base)
    return pd.DataFrame(rows)
