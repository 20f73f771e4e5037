"""Exports of what is in view: findings as CSV, studies as BibTeX or RIS, charts as SVG or PNG."""

from __future__ import annotations

import re

import pandas as pd

#: Columns of the findings export: the finding, where it was read, and the study it comes from.
FINDINGS_EXPORT_COLUMNS = [
    "finding_id",
    "study_id",
    "short_cite",
    "identifier",
    "evidence_level",
    "evidence_label",
    "intervention_code",
    "intervention_label",
    "comparator",
    "condition_code",
    "subgroup",
    "outcome_code",
    "outcome_label",
    "outcome_detail",
    "timeframe",
    "timepoint",
    "direction",
    "is_significant",
    "effect_measure",
    "effect_value",
    "effect_sign",
    "ci_low",
    "ci_high",
    "p_value_operator",
    "p_value",
    "intervention_value",
    "comparator_value",
    "value_unit",
    "n_analysed",
    "source_location",
    "source_url",
    "value_origin",
    "verification_status",
    "note",
]


def findings_to_csv(view: pd.DataFrame) -> str:
    """The findings in view as CSV text (UTF-8, one row per finding, provenance included)."""
    return view[FINDINGS_EXPORT_COLUMNS].to_csv(index=False, lineterminator="\n")


def _studies(frame: pd.DataFrame) -> pd.DataFrame:
    """Distinct studies from a studies table or an evidence view, sorted by id."""
    return frame.drop_duplicates("study_id").sort_values("study_id")


def _value(row: pd.Series, column: str) -> str | None:
    value = row.get(column)
    if value is None or pd.isna(value) or str(value) == "":
        return None
    return str(value)


def _bibtex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text)


def _entry_type(row: pd.Series) -> str:
    if row.get("design_code") == "conference_abstract":
        return "inproceedings"
    return "article" if _value(row, "journal") else "misc"


def studies_to_bibtex(frame: pd.DataFrame) -> str:
    """BibTeX entries (key = study_id) for the studies in ``frame``.

    Unknown fields are left out, never guessed; unverified records say so in ``note``.

    Examples:
        >>> row = pd.DataFrame([{"study_id": "x2020", "authors": "Doe J; Roe R", "title": "A trial",
        ...                      "journal": "J Test", "year": 2020, "doi": "10.1/abc"}])
        >>> print(studies_to_bibtex(row).strip())
        @article{x2020,
          author = {Doe J and Roe R},
          title = {{A trial}},
          journal = {J Test},
          year = {2020},
          doi = {10.1/abc},
        }
    """
    entries = []
    for _, row in _studies(frame).iterrows():
        fields = []
        authors = _value(row, "authors")
        if authors:
            names = [n for n in authors.split("; ") if n != "et al."]
            if authors.endswith("et al."):
                names.append("others")
            fields.append(("author", " and ".join(names)))
        title = _value(row, "title")
        if title:
            fields.append(("title", "{" + title + "}"))
        journal_key = "booktitle" if _entry_type(row) == "inproceedings" else "journal"
        for key, column in [
            (journal_key, "journal"),
            ("year", "year"),
            ("volume", "volume"),
            ("number", "issue"),
            ("pages", "pages"),
            ("doi", "doi"),
            ("pmid", "pmid"),
            ("url", "url"),
        ]:
            value = _value(row, column)
            if value:
                fields.append((key, value.replace("-", "--") if key == "pages" and "--" not in value else value))
        status = _value(row, "verification_status") or _value(row, "study_verification_status")
        if status and status != "verified":
            fields.append(("note", f"Record {status}: " + (_value(row, "verification_note") or "")))
        if not title:
            fields.append(("howpublished", _value(row, "full_citation") or ""))
        body = "".join(
            f"  {k} = {{{_bibtex_escape(v) if k not in ('url', 'doi', 'title') else v}}},\n" for k, v in fields if v
        )
        entries.append(f"@{_entry_type(row)}{{{row['study_id']},\n{body}}}\n")
    return "\n".join(entries)


def studies_to_ris(frame: pd.DataFrame) -> str:
    """RIS records (reference managers: Zotero, EndNote, Mendeley) for the studies in ``frame``."""
    records = []
    for _, row in _studies(frame).iterrows():
        kind = {"article": "JOUR", "inproceedings": "CONF", "misc": "GEN"}[_entry_type(row)]
        lines = [f"TY  - {kind}", f"ID  - {row['study_id']}"]
        authors = _value(row, "authors")
        if authors:
            lines += [f"AU  - {name}" for name in authors.split("; ") if name != "et al."]
        for tag, column in [
            ("TI", "title"),
            ("T2", "journal"),
            ("PY", "year"),
            ("VL", "volume"),
            ("IS", "issue"),
            ("DO", "doi"),
            ("UR", "url"),
        ]:
            value = _value(row, column)
            if value:
                lines.append(f"{tag}  - {value}")
        pages = _value(row, "pages")
        if pages:
            start, _, end = pages.partition("-")
            lines.append(f"SP  - {start}")
            if end:
                lines.append(f"EP  - {end}")
        if _value(row, "pmid"):
            lines.append(f"AN  - PMID:{row['pmid']}")
        status = _value(row, "verification_status") or _value(row, "study_verification_status")
        if status and status != "verified":
            lines.append(f"N1  - Record {status}: {_value(row, 'verification_note') or ''}")
        lines.append("ER  - ")
        records.append("\n".join(lines))
    return "\n\n".join(records) + ("\n" if records else "")


def chart_to_svg(chart) -> str:
    """The chart as an SVG document (rendered offline by vl-convert)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict(), vl_version=_vl_version())


def chart_to_png(chart, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (rendered offline by vl-convert)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(chart.to_dict(), vl_version=_vl_version(), scale=scale)


def _vl_version() -> str:
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_version_for_vl_convert()


def reference_list(frame: pd.DataFrame, max_items: int = 100) -> str:
    """A Markdown list of full citations with their PMID/DOI links, one per study (at most ``max_items``)."""
    lines = []
    studies = _studies(frame).sort_values(["year", "study_id"])
    for _, row in studies.head(max_items).iterrows():
        links = []
        if _value(row, "pmid"):
            links.append(f"[PMID {row['pmid']}](https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/)")
        if _value(row, "doi"):
            links.append(f"[DOI {row['doi']}](https://doi.org/{row['doi']})")
        if not links and _value(row, "url"):
            links.append(f"[link]({row['url']})")
        status = _value(row, "verification_status") or _value(row, "study_verification_status") or ""
        flag = "" if status == "verified" else f" *(record {status})*"
        lines.append(f"- **{row['study_id']}**: {row['full_citation']} {' · '.join(links)}{flag}")
    if len(studies) > max_items:
        lines.append(f"- … and {len(studies) - max_items} more studies (all are in the data package).")
    return "\n".join(lines)
