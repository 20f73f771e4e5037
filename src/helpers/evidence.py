"""Evidence levels, filters and summaries: pure functions of the package's DataFrames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import synthesis
from helpers.data import RATIO_MEASURES

#: The evidence ladder of DESIGN §2: level -> label. Lower is stronger evidence.
EVIDENCE_LEVELS: dict[int, str] = {
    1: "Systematic review / meta-analysis",
    2: "Randomised controlled trial",
    3: "Non-randomised controlled / cohort",
    4: "Uncontrolled pre-post, cross-sectional, case series",
    5: "Narrative review, opinion, conference abstract, press release",
    6: "Animal study",
    7: "In vitro / engineered tissue",
}


def derive_evidence_level(human_evidence_level: int | None, species_group: str | None) -> int | None:
    """The evidence level of one study, from its design's human level and its species group.

    The rule, in order:

    1. a design whose human level is 5 (narrative review, opinion, conference abstract, press
       release, review of unknown type) is level 5 whatever the species;
    2. cells or engineered tissue are level 7; non-human animals are level 6, whatever the design
       (an animal meta-analysis is still animal evidence);
    3. otherwise, humans get the design's level (1-4);
    4. anything else (unknown species, or a review mixing humans and animals that is not level 5)
       has no level, and the validator reports it.

    Examples:
        >>> derive_evidence_level(1, "human")
        1
        >>> derive_evidence_level(1, "animal")
        6
        >>> derive_evidence_level(5, "animal")
        5
        >>> derive_evidence_level(None, "cells")
        7
        >>> derive_evidence_level(2, None) is None
        True
    """
    if human_evidence_level is not None and not pd.isna(human_evidence_level) and int(human_evidence_level) == 5:
        return 5
    if species_group == "cells":
        return 7
    if species_group == "animal":
        return 6
    if species_group == "human" and human_evidence_level is not None and not pd.isna(human_evidence_level):
        return int(human_evidence_level)
    return None


def add_evidence_levels(studies: pd.DataFrame, designs: pd.DataFrame, species: pd.DataFrame) -> pd.DataFrame:
    """Return ``studies`` with ``evidence_level`` (Int64) and ``evidence_label`` columns added."""
    design_level = studies["design_code"].map(designs.set_index("design_code")["human_evidence_level"])
    group = studies["species_code"].map(species.set_index("species_code")["species_group"])
    levels = [
        derive_evidence_level(None if pd.isna(d) else int(d), None if pd.isna(g) else g)
        for d, g in zip(design_level, group, strict=True)
    ]
    result = studies.copy()
    result["evidence_level"] = pd.array(levels, dtype="Int64")
    result["evidence_label"] = result["evidence_level"].map(EVIDENCE_LEVELS).astype("str")
    return result


# ----------------------------------------------------------------------------- the evidence view
#: Columns of the evidence view stored as categoricals: the codes that filters and summaries group by.
CATEGORICAL_COLUMNS = [
    "study_id",
    "intervention_code",
    "outcome_code",
    "condition_code",
    "topic_code",
    "direction",
    "verification_status",
    "timeframe",
    "source_location",
    "intervention_category",
    "marker_class",
    "species_group",
    "timeframe_group",
    "health_effect",
    "age_group",
    "sex",
    "training_status",
]


def identifier_text(pmid: object, doi: object, url: object) -> str:
    """How a study can be found: ``PMID 123; DOI 10.x/y`` or its URL.

    Examples:
        >>> identifier_text("28011264", "10.1016/j.bbi.2016.12.017", None)
        'PMID 28011264; DOI 10.1016/j.bbi.2016.12.017'
        >>> identifier_text(None, None, "https://acrabstracts.org/abstract/x")
        'URL https://acrabstracts.org/abstract/x'
    """
    parts = []
    if isinstance(pmid, str) and pmid:
        parts.append(f"PMID {pmid}")
    if isinstance(doi, str) and doi:
        parts.append(f"DOI {doi}")
    if not parts and isinstance(url, str) and url:
        parts.append(f"URL {url}")
    return "; ".join(parts) if parts else "no identifier"


def build_evidence_view(package) -> pd.DataFrame:
    """One row per finding, joined with its study, intervention, outcome, condition and species.

    Adds ``effect_standardised``: the reported effect re-signed so that a negative value always means
    the outcome was lower with the intervention (``effect_sign`` = reversed flips it).
    """
    studies = package.studies.rename(
        columns={"verification_status": "study_verification_status", "condition_code": "study_condition_code"}
    )
    study_columns = [
        "study_id",
        "short_cite",
        "year",
        "pmid",
        "doi",
        "url",
        "design_code",
        "species_code",
        "study_condition_code",
        "n_participants",
        "n_studies_pooled",
        "topic_code",
        "study_verification_status",
        "evidence_level",
        "evidence_label",
        "title",
        "population",
        "age_group",
        "mean_age_years",
        "sex",
        "training_status",
    ]
    findings = package.findings
    reported = getattr(package, "as_reported", {}).get("findings")
    if reported is not None and len(reported) == len(findings):
        findings = findings.join(reported.add_suffix("_reported"))
    view = findings.merge(studies[study_columns], on="study_id", how="left", validate="many_to_one")
    rob = package.risk_of_bias[["study_id", "tool", "overall"]].rename(
        columns={"tool": "rob_tool", "overall": "rob_overall"}
    )
    view = view.merge(rob, on="study_id", how="left", validate="many_to_one")
    lookups = [
        (package.interventions, "intervention_code", {"label": "intervention_label"}, ["intervention_category"]),
        (package.outcomes, "outcome_code", {"label": "outcome_label"}, ["marker_class", "favourable_direction"]),
        (package.conditions, "condition_code", {"label": "condition_label"}, []),
        (package.species, "species_code", {"label": "species_label"}, ["species_group"]),
        (package.topics, "topic_code", {"label": "topic_label"}, []),
        (package.designs, "design_code", {"label": "design_label"}, []),
    ]
    for table, key, renames, extra in lookups:
        columns = [key, *renames, *extra]
        view = view.merge(table[columns].rename(columns=renames), on=key, how="left", validate="many_to_one")
    sign = view["effect_sign"].map({"standard": 1.0, "reversed": -1.0}).astype("float64")
    # Ratios (no difference = 1) are put on the log scale, where no difference is 0 as for the other measures.
    ratio = view["effect_measure"].isin(RATIO_MEASURES).to_numpy()

    def scaled(column: str) -> pd.Series:
        values = view[column].astype("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            return pd.Series(np.where(ratio, np.log(values.where(values > 0)), values), index=view.index)

    effect, low, high = scaled("effect_value"), scaled("ci_low"), scaled("ci_high")
    view["effect_standardised"] = effect * sign
    view["ci_low_standardised"] = (low * sign).where(sign > 0, high * sign)
    view["ci_high_standardised"] = (high * sign).where(sign > 0, low * sign)
    view["identifier"] = [
        identifier_text(p, d, u) for p, d, u in zip(view["pmid"], view["doi"], view["url"], strict=True)
    ]
    # A review, or a pooled analysis of many studies (an individual-participant consortium): such estimates overlap
    # with their sources and are never pooled with primary studies (see helpers.synthesis).
    view["is_review"] = (
        view["design_code"].isin(["sr", "sr_ma", "narrative_review", "review_unspecified", "guideline"])
        | view["n_studies_pooled"].notna()
    )
    view["timeframe_group"] = view["timeframe"].map(synthesis.TIMEFRAME_GROUPS).fillna("timeframe not stated")
    view = synthesis.add_health_effects(view)
    sizes = synthesis.effect_sizes(view, package.tables.get("arm_statistics"))
    view = view.join(sizes, on="finding_id")
    # Codes become categoricals: filters and group-bys then work on integer codes, which keeps the
    # explorer responsive at hundreds of thousands of findings (see benchmarks/).
    return view.astype({column: "category" for column in CATEGORICAL_COLUMNS if column in view})


# ------------------------------------------------------------------------------------- filtering
@dataclass(frozen=True)
class FindingFilter:
    """What to keep. Empty tuples mean "no restriction"; every field combines with AND.

    ``max_evidence_level`` keeps studies at least as strong as that level (1 is strongest, so
    ``max_evidence_level=2`` keeps meta-analyses and RCTs).
    """

    intervention_categories: tuple[str, ...] = ()
    interventions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    marker_classes: tuple[str, ...] = ()
    species_groups: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    timeframes: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    verification_statuses: tuple[str, ...] = ()
    max_evidence_level: int = 7

    def __post_init__(self):
        if not 1 <= self.max_evidence_level <= 7:
            raise ValueError(f"max_evidence_level must be between 1 and 7, got {self.max_evidence_level}")


_FILTER_COLUMNS = {
    "intervention_categories": "intervention_category",
    "interventions": "intervention_code",
    "outcomes": "outcome_code",
    "marker_classes": "marker_class",
    "species_groups": "species_group",
    "conditions": "condition_code",
    "timeframes": "timeframe",
    "topics": "topic_code",
    "verification_statuses": "verification_status",
}


def filter_findings(view: pd.DataFrame, spec: FindingFilter | None = None, **criteria) -> pd.DataFrame:
    """Rows of the evidence view that match ``spec`` (or the same fields given as keywords).

    A single code may be passed instead of a tuple: ``filter_findings(view, outcomes="il6")``.
    """
    if spec is None:
        criteria = {
            k: ((v,) if isinstance(v, str) else tuple(v)) if k in _FILTER_COLUMNS else v for k, v in criteria.items()
        }
        spec = FindingFilter(**criteria)
    elif criteria:
        raise TypeError("pass either a FindingFilter or keyword criteria, not both")
    keep = pd.Series(True, index=view.index)
    for name, column in _FILTER_COLUMNS.items():
        wanted = getattr(spec, name)
        if wanted:
            keep &= view[column].isin(wanted)
    if spec.max_evidence_level < 7:
        keep &= view["evidence_level"].le(spec.max_evidence_level).fillna(False)
    return view[keep.to_numpy()]


# ------------------------------------------------------------------------------------- summaries
DIRECTIONS = ["decrease", "increase", "no_change", "mixed"]


#: Columns of :func:`summarise_cells`, after the grouping columns.
CELL_SUMMARY_COLUMNS = [
    "n_findings",
    "n_studies",
    "best_level",
    *(f"n_{d}" for d in DIRECTIONS),
    "main_direction",
    "agreement",
    "total_n",
    "n_studies_without_n",
    "n_verified",
    "studies",
]

#: Tooltips and tables list at most this many studies per cell (strongest first), then "+N more".
MAX_LISTED_STUDIES = 5


def join_by_group(frame: pd.DataFrame, by: list[str], texts: pd.Series | np.ndarray, sep: str) -> pd.Series:
    """Join ``texts`` within each group of ``frame[by]``, keeping row order (fast path for many groups).

    pandas' ``groupby(...).agg(sep.join)`` builds a Series per group; at thousands of groups that
    dominates the explorer's redraw time, so the groups are split once with numpy instead.
    """
    groups = frame.groupby(by, observed=True, sort=True)
    codes = groups.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    values = np.asarray(texts, dtype=object)[order]
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    joined = [sep.join(chunk) for chunk in np.split(values, bounds)] if len(values) else []
    return pd.Series(joined, index=groups.size().index, dtype="str")


def _listed(frame: pd.DataFrame, by: list[str], text, name: str) -> pd.Series:
    """Per group, the first MAX_LISTED_STUDIES texts joined by "; ", then "+N more" (vectorised).

    ``text`` maps rows to strings; it is applied only to the rows that are listed.
    """
    rank = frame.groupby(by, observed=True).cumcount().to_numpy()
    keep = rank < MAX_LISTED_STUDIES
    kept = frame.loc[keep]
    shown = join_by_group(kept, by, text(kept).to_numpy(), "; ")
    extra = frame.groupby(by, observed=True).size() - MAX_LISTED_STUDIES
    suffix = pd.Series([f"; +{n} more" if n > 0 else "" for n in extra.to_numpy()], index=extra.index, dtype="str")
    return (shown + suffix.reindex(shown.index)).rename(name)


def summarise_cells(view: pd.DataFrame, by: tuple[str, ...] = ("intervention_code", "outcome_code")) -> pd.DataFrame:
    """One row per cell (default: intervention x outcome) with what the evidence in it says.

    Columns: ``n_findings``, ``n_studies``, ``best_level`` (the strongest, i.e. lowest, evidence
    level), one count per direction, ``main_direction`` (the most frequent; ties -> "mixed"),
    ``agreement`` (share of findings in the main direction), ``total_n`` (participants summed over
    distinct studies whose N is known), ``n_studies_without_n``, ``n_verified`` and ``studies`` (the
    short citations, strongest first, at most :data:`MAX_LISTED_STUDIES` then "+N more").
    """
    by = list(by)
    if view.empty:
        return pd.DataFrame(columns=[*by, *CELL_SUMMARY_COLUMNS])
    grouped = view.groupby(by, observed=True, sort=True)
    summary = grouped.agg(n_findings=("finding_id", "size"), best_level=("evidence_level", "min"))
    summary["n_verified"] = (
        view["verification_status"].eq("verified").groupby([view[c] for c in by], observed=True).sum()
    )
    counts = view.groupby([*by, "direction"], observed=True).size().unstack("direction", fill_value=0)
    counts = counts.reindex(columns=DIRECTIONS, fill_value=0)
    counts.columns = [f"n_{d}" for d in DIRECTIONS]
    summary = summary.join(counts)
    direction_counts = summary[[f"n_{d}" for d in DIRECTIONS]].to_numpy()
    top = direction_counts.max(axis=1)
    ties = (direction_counts == top[:, None]).sum(axis=1) > 1
    main = pd.Series([DIRECTIONS[i] for i in direction_counts.argmax(axis=1)], index=summary.index)
    summary["main_direction"] = main.where(~ties, "mixed")
    summary["agreement"] = top / summary["n_findings"]
    narrow = view[list(dict.fromkeys([*by, "study_id", "evidence_level", "year", "short_cite", "n_participants"]))]
    studies = narrow.drop_duplicates([*by, "study_id"]).sort_values([*by, "evidence_level", "year"])
    per_study = studies.groupby(by, observed=True)
    summary["n_studies"] = per_study.size()
    summary["total_n"] = per_study["n_participants"].sum()
    summary["n_studies_without_n"] = (
        studies["n_participants"].isna().groupby([studies[c] for c in by], observed=True).sum()
    )
    summary["studies"] = _listed(studies, by, lambda rows: rows["short_cite"].astype("str"), "studies")
    summary["best_level"] = summary["best_level"].astype("Int64")
    summary["total_n"] = summary["total_n"].astype("Int64")
    return summary[CELL_SUMMARY_COLUMNS].reset_index()


def summarise_provenance(view: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: which studies (with identifiers), where the numbers were read, how verified.

    Used for tooltips of aggregated chart marks, so every mark still names its sources (the
    strongest :data:`MAX_LISTED_STUDIES` studies, then how many more).
    """
    if view.empty:
        return pd.DataFrame(columns=[*by, "sources", "source_locations", "verification"])
    narrow = view[list(dict.fromkeys([*by, "study_id", "evidence_level", "year", "short_cite", "identifier"]))]
    studies = narrow.drop_duplicates([*by, "study_id"]).sort_values([*by, "evidence_level", "year"])
    sources = _listed(
        studies,
        by,
        lambda rows: rows["short_cite"].astype("str") + " (" + rows["identifier"].astype("str") + ")",
        "sources",
    )
    locations = view[[*by, "source_location"]].drop_duplicates()
    locations = locations.astype({"source_location": "str"}).sort_values([*by, "source_location"])
    locations = join_by_group(locations, by, locations["source_location"].to_numpy(), "; ").rename("source_locations")
    statuses = view.groupby([*by, "verification_status"], observed=True).size().rename("n").reset_index()
    statuses = statuses[statuses["n"] > 0].sort_values([*by, "n"], ascending=[True] * len(by) + [False], kind="stable")
    texts = statuses["n"].astype(str) + " " + statuses["verification_status"].astype(str)
    verification = join_by_group(statuses, by, texts.to_numpy(), ", ").rename("verification")
    return pd.concat([sources, locations, verification], axis=1).reset_index()


def build_study_ladder(view_or_studies: pd.DataFrame) -> pd.DataFrame:
    """Distinct studies with their evidence level, sorted strongest first (for the evidence ladder)."""
    columns = [
        "study_id",
        "short_cite",
        "year",
        "evidence_level",
        "evidence_label",
        "design_code",
        "species_code",
        "identifier",
        "topic_code",
    ]
    frame = view_or_studies
    if "identifier" not in frame:
        frame = frame.assign(
            identifier=[
                identifier_text(p, d, u) for p, d, u in zip(frame["pmid"], frame["doi"], frame["url"], strict=True)
            ]
        )
    status = "study_verification_status" if "study_verification_status" in frame else "verification_status"
    ladder = frame.drop_duplicates("study_id")[[*columns, status]].rename(columns={status: "verification_status"})
    return ladder.sort_values(["evidence_level", "year", "study_id"]).reset_index(drop=True)


def package_summary(package) -> pd.DataFrame:
    """Rows per table of the data package, with each table's description."""
    return pd.DataFrame(
        [
            {"table": r["name"], "rows": len(package.tables[r["name"]]), "one row per": r["description"]}
            for r in package.descriptor["resources"]
        ]
    )


def count_by(view: pd.DataFrame, column: str, label: str | None = None) -> pd.DataFrame:
    """Findings and studies per value of ``column`` (e.g. evidence level, verification status)."""
    table = view.groupby(column, dropna=False, observed=True).agg(
        findings=("finding_id", "size"), studies=("study_id", "nunique")
    )
    table.index = table.index.astype("object").fillna("unknown")
    return table.reset_index().rename(columns={column: label or column})


def describe_selection(view: pd.DataFrame) -> str:
    """One sentence on what a selection holds: counts, strongest level, directions.

    Examples:
        >>> describe_selection(pd.DataFrame(columns=["finding_id", "study_id", "evidence_level", "direction"]))
        'No findings match this selection.'
    """
    if view.empty:
        return "No findings match this selection."
    levels = view["evidence_level"].dropna()
    strongest = (
        f", strongest evidence at level {int(levels.min())} ({EVIDENCE_LEVELS[int(levels.min())]})"
        if len(levels)
        else ""
    )
    counts = view["direction"].value_counts()
    directions = ", ".join(f"{n} {d.replace('_', ' ')}" for d, n in counts.items())
    return f"{len(view)} findings from {view['study_id'].nunique()} studies{strongest}. Directions: {directions}."


def summary_of_findings(view: pd.DataFrame, overrides: pd.DataFrame | None = None, by: list[str] | None = None):
    """A Summary of Findings per cell: evidence used, effect, benefit or harm, GRADE certainty and its reasons.

    See :mod:`helpers.synthesis` for the rules. ``overrides`` is the package's ``certainty_overrides`` table.

    Example:
        >>> from helpers.data import load_package
        >>> package = load_package()
        >>> sof = summary_of_findings(build_evidence_view(package), package.certainty_overrides)
        >>> {"certainty", "statement", "downgrades"} <= set(sof.columns)
        True
    """
    return synthesis.summary_of_findings(view, overrides, by)
