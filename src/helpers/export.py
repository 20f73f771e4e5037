"""Exports of what is in view: findings as a Frictionless data package or Excel CSV (numbers as reported),
studies as BibTeX, RIS or CSL-JSON, charts as SVG or PNG with a caption naming the selection and data version."""

from __future__ import annotations

import re

import pandas as pd

from helpers import render

#: Columns of the findings export: the finding, its numbers as the source reported them, where each was read,
#: and the study it comes from.
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
    "sample_matrix",
    "timeframe",
    "timepoint",
    "direction",
    "is_significant",
    "effect_measure",
    "effect_value",
    "effect_sign",
    "ci_low",
    "ci_high",
    "ci_level_pct",
    "effect_se",
    "p_value_operator",
    "p_value",
    "reported_certainty",
    "intervention_value",
    "comparator_value",
    "value_unit",
    "n_analysed",
    "n_studies",
    "i2_pct",
    "source_location",
    "source_url",
    "value_origin",
    "verification_status",
    "note",
]


def findings_export_frame(view: pd.DataFrame) -> pd.DataFrame:
    """The findings in view as text, numbers spelled as the source reported them ("-0.10", not -0.1).

    Number columns come from the package's ``as_reported`` text (joined by ``build_evidence_view`` as
    ``<column>_reported``); a view without it falls back to the parsed number. Unknown is blank.
    """
    frame = pd.DataFrame(index=view.index)
    for column in FINDINGS_EXPORT_COLUMNS:
        reported = f"{column}_reported"
        values = view[reported] if reported in view else view[column]
        frame[column] = values.astype("object").where(values.notna(), "").astype(str)
    frame["is_significant"] = frame["is_significant"].replace({"True": "true", "False": "false"})
    return frame.reset_index(drop=True)


def findings_to_csv(view: pd.DataFrame) -> str:
    """The findings in view as CSV text (UTF-8, one row per finding, provenance included), numbers as reported."""
    return findings_export_frame(view).to_csv(index=False, lineterminator="\n")


#: A cell a spreadsheet would run as a formula starts with one of these (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_formula(cell: object) -> object:
    """A spreadsheet-safe cell: text that a spreadsheet would run as a formula gets a leading apostrophe.

    Plain numbers (``-0.10``, ``+3``) are left alone: a spreadsheet reads them as numbers, not formulas.

    Examples:
        >>> neutralise_formula("=1+2"), neutralise_formula("-0.10"), neutralise_formula("@SUM(A1)")
        ("'=1+2", '-0.10', "'@SUM(A1)")
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(cell):
        return "'" + cell
    return cell


def findings_to_excel_csv(view: pd.DataFrame) -> bytes:
    """The findings in view for spreadsheets: UTF-8 with a byte-order mark (so Excel reads TNF-α right) and
    every cell that a spreadsheet would execute neutralised (:func:`neutralise_formula`)."""
    frame = findings_export_frame(view).map(neutralise_formula)
    return ("\ufeff" + frame.to_csv(index=False, lineterminator="\r\n")).encode("utf-8")


def _studies(frame: pd.DataFrame) -> pd.DataFrame:
    """Distinct studies from a studies table or an evidence view, sorted by id."""
    return frame.drop_duplicates("study_id").sort_values("study_id")


def _value(row: pd.Series, column: str) -> str | None:
    value = row.get(column)
    if value is None or pd.isna(value) or str(value) == "":
        return None
    return str(value)


def _entry_type(row: pd.Series) -> str:
    if row.get("design_code") == "conference_abstract":
        return "inproceedings"
    return "article" if _value(row, "journal") else "misc"


#: LaTeX for the characters BibTeX or LaTeX would read as markup. Braces become commands rather than
#: ``\{``: BibTeX counts every brace, escaped or not, so an unbalanced ``}`` would end the field.
_BIBTEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_text(value: object) -> str:
    """``value`` as the text of a BibTeX field: one line, LaTeX specials escaped, braces always balanced.

    Examples:
        >>> print(bibtex_text("IL-6 & TNF} , note = {forged"))
        IL-6 \\& TNF\\textbraceright{} , note = \\textbraceleft{}forged
    """
    text = render.single_line(value)
    return re.sub(r"[\\{}&%$#_~^]", lambda match: _BIBTEX_SPECIALS[match.group(0)], text)


def bibtex_verbatim(value: object) -> str:
    """A URL or DOI for BibTeX's verbatim fields: kept as written except braces, backslashes and spaces,
    which are percent-encoded (they are not part of a well-formed address, and would break the entry).

    Examples:
        >>> bibtex_verbatim("10.1000/a}b c")
        '10.1000/a%7Db%20c'
    """
    text = render.single_line(value)
    return re.sub(r"[{}\\\s]", lambda match: f"%{ord(match.group(0)):02X}", text)


def parse_author(name: str) -> dict[str, str]:
    """One author as written in ``studies.authors`` ("Surname Initials", Vancouver style) -> CSL name parts.

    A name that does not end in initials (a group author, a collaboration) is kept whole as ``literal``.

    Examples:
        >>> parse_author("Beba M")
        {'family': 'Beba', 'given': 'M'}
        >>> parse_author("van Hall G")
        {'family': 'van Hall', 'given': 'G'}
        >>> parse_author("Ramos-Campo DJ")
        {'family': 'Ramos-Campo', 'given': 'DJ'}
        >>> parse_author("C Reactive Protein Coronary Heart Disease Genetics Collaboration")
        {'literal': 'C Reactive Protein Coronary Heart Disease Genetics Collaboration'}
    """
    name = render.single_line(name)
    family, _, initials = name.rpartition(" ")
    if family and re.fullmatch(r"[A-Z][A-Za-z]{0,3}", initials) and initials[1:].isupper() | (len(initials) == 1):
        return {"family": family, "given": initials}
    return {"literal": name}


def _authors(row: pd.Series) -> tuple[list[dict[str, str]], bool]:
    """The study's authors as CSL name parts, and whether the list ends in "et al."."""
    authors = _value(row, "authors")
    if not authors:
        return [], False
    names = [n.strip() for n in authors.split(";") if n.strip()]
    truncated = bool(names) and names[-1].rstrip(".").lower() == "et al"
    return [parse_author(n) for n in names if n.rstrip(".").lower() != "et al"], truncated


def _initials_with_points(given: str) -> str:
    return " ".join(f"{letter}." for letter in given) if given.isupper() else given


def _name_last_first(part: dict[str, str]) -> str:
    """ "Family, G. H." (BibTeX and RIS order); a group author as written."""
    if "literal" in part:
        return part["literal"]
    return f"{part['family']}, {_initials_with_points(part['given'])}"


def studies_to_bibtex(frame: pd.DataFrame) -> str:
    """BibTeX entries (key = study_id) for the studies in ``frame``, written by bibtexparser.

    Every value is encoded for BibTeX (:func:`bibtex_text`, :func:`bibtex_verbatim`): no text from the data
    can close a field or add one. Unknown fields are left out, never guessed; unverified records say so
    in ``note``; group authors are braced so that they are not split into first and last names.

    Examples:
        >>> row = pd.DataFrame([{"study_id": "x2020", "authors": "Doe J; Roe RA", "title": "A trial",
        ...                      "journal": "J Test", "year": 2020, "doi": "10.1000/abc"}])
        >>> print(studies_to_bibtex(row).strip())
        @article{x2020,
          author = {Doe, J. and Roe, R. A.},
          title = {{A trial}},
          journal = {J Test},
          year = {2020},
          doi = {10.1000/abc},
          url = {https://doi.org/10.1000/abc}
        }
    """
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    for _, row in _studies(frame).iterrows():
        fields: list[tuple[str, str]] = []
        authors, truncated = _authors(row)
        if authors:
            names = [
                "{" + bibtex_text(a["literal"]) + "}" if "literal" in a else bibtex_text(_name_last_first(a))
                for a in authors
            ]
            fields.append(("author", " and ".join(names + (["others"] if truncated else []))))
        title = _value(row, "title")
        if title:
            fields.append(("title", "{" + bibtex_text(title) + "}"))
        journal_key = "booktitle" if _entry_type(row) == "inproceedings" else "journal"
        for key, column in [(journal_key, "journal"), ("year", "year"), ("volume", "volume"), ("number", "issue")]:
            if _value(row, column):
                fields.append((key, bibtex_text(_value(row, column))))
        pages = _value(row, "pages")
        if pages:
            fields.append(("pages", bibtex_text(pages if "--" in pages else pages.replace("-", "--"))))
        doi, pmid = _value(row, "doi"), _value(row, "pmid")
        if doi:
            fields.append(("doi", bibtex_verbatim(doi)))
        if pmid:
            fields.append(("pmid", bibtex_text(pmid)))
        url = render.doi_url(doi) or render.pubmed_url(pmid) or render.safe_url(_value(row, "url"))
        if url:
            fields.append(("url", bibtex_verbatim(url)))
        status = _value(row, "verification_status") or _value(row, "study_verification_status")
        if status and status != "verified":
            fields.append(("note", bibtex_text(f"Record {status}: " + (_value(row, "verification_note") or ""))))
        if not title and _value(row, "full_citation"):
            fields.append(("howpublished", bibtex_text(_value(row, "full_citation"))))
        key = re.sub(r"[^A-Za-z0-9_:-]", "_", str(row["study_id"]))
        library.add(Entry(_entry_type(row), key, [Field(k, v) for k, v in fields]))
    if not library.entries:
        return ""
    layout = bibtexparser.BibtexFormat()
    layout.indent = "  "
    layout.block_separator = "\n\n"
    return bibtexparser.write_string(library, bibtex_format=layout)


def studies_to_ris(frame: pd.DataFrame) -> str:
    """RIS records (Zotero, EndNote, Mendeley) for the studies in ``frame``, written by rispy.

    Every value is put on one line (:func:`helpers.render.single_line`): a line break in the data cannot
    end a record or start a forged one.
    """
    import rispy

    records = []
    for _, row in _studies(frame).iterrows():
        record: dict[str, object] = {
            "type_of_reference": {"article": "JOUR", "inproceedings": "CONF", "misc": "GEN"}[_entry_type(row)],
            "id": render.single_line(row["study_id"]),
        }
        authors, _ = _authors(row)
        if authors:
            record["authors"] = [render.single_line(_name_last_first(a)) for a in authors]
        for key, column in [
            ("title", "title"),
            ("secondary_title", "journal"),
            ("year", "year"),
            ("volume", "volume"),
            ("number", "issue"),
            ("doi", "doi"),
        ]:
            if _value(row, column):
                record[key] = render.single_line(_value(row, column))
        url = render.doi_url(_value(row, "doi")) or render.safe_url(_value(row, "url"))
        if url:
            record["urls"] = [url]
        pages = _value(row, "pages")
        if pages:
            start, _, end = pages.partition("-")
            record["start_page"] = render.single_line(start)
            if end:
                record["end_page"] = render.single_line(end)
        if _value(row, "pmid"):
            record["accession_number"] = "PMID:" + render.single_line(row["pmid"])
        status = _value(row, "verification_status") or _value(row, "study_verification_status")
        if status and status != "verified":
            record["notes"] = [render.single_line(f"Record {status}: {_value(row, 'verification_note') or ''}")]
        records.append(record)
    return rispy.dumps(records, skip_unknown_tags=True, enforce_list_tags=False) if records else ""


def studies_to_csl_json(frame: pd.DataFrame) -> str:
    """CSL-JSON (the format of citeproc, Zotero and Pandoc) for the studies in ``frame``."""
    import json

    items = []
    for _, row in _studies(frame).iterrows():
        authors, _ = _authors(row)
        item: dict[str, object] = {
            "id": str(row["study_id"]),
            "type": {"article": "article-journal", "inproceedings": "paper-conference", "misc": "document"}[
                _entry_type(row)
            ],
        }
        if authors:
            item["author"] = authors
        for key, column in [
            ("title", "title"),
            ("container-title", "journal"),
            ("volume", "volume"),
            ("issue", "issue"),
            ("page", "pages"),
            ("DOI", "doi"),
            ("PMID", "pmid"),
        ]:
            if _value(row, column):
                item[key] = render.single_line(_value(row, column))
        if _value(row, "year"):
            item["issued"] = {"date-parts": [[int(float(_value(row, "year")))]]}
        url = render.doi_url(_value(row, "doi")) or render.safe_url(_value(row, "url"))
        if url:
            item["URL"] = url
        status = _value(row, "verification_status") or _value(row, "study_verification_status")
        if status and status != "verified":
            item["note"] = render.single_line(f"Record {status}: {_value(row, 'verification_note') or ''}")
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


def captioned_spec(chart, caption: str | None = None) -> dict:
    """The chart's Vega-Lite spec, with ``caption`` as the subtitle under its title (wrapped to lines), so that
    an image says what it shows and from which data. Legends stay inside the image (``autosize: pad``)."""
    import textwrap

    spec = chart.to_dict() if hasattr(chart, "to_dict") else dict(chart)
    if caption:
        title = spec.get("title") or ""
        title = dict(title) if isinstance(title, dict) else {"text": title}
        lines = textwrap.wrap(render.single_line(caption), width=110)
        title["subtitle"] = [*([title["subtitle"]] if isinstance(title.get("subtitle"), str) else []), *lines]
        title.setdefault("subtitleColor", "#444")
        title.setdefault("anchor", "start")
        spec["title"] = title
    spec["autosize"] = {"type": "pad", "contains": "padding"}
    return spec


def chart_to_svg(chart, caption: str | None = None) -> str:
    """The chart as an SVG document (rendered offline by vl-convert), with its caption."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(captioned_spec(chart, caption), vl_version=_vl_version())


def chart_to_png(chart, scale: float = 2.0, caption: str | None = None) -> bytes:
    """The chart as PNG bytes (rendered offline by vl-convert), with its caption."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(captioned_spec(chart, caption), vl_version=_vl_version(), scale=scale)


def _vl_version() -> str:
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_version_for_vl_convert()


def reference_list(frame: pd.DataFrame, max_items: int = 100) -> render.SafeMarkdown:
    """A Markdown list of full citations with their PMID/DOI links, one per study (at most ``max_items``).

    Citations are escaped (:func:`helpers.render.markdown`) and only PubMed, DOI and http(s) addresses become
    links, so nothing in a citation can render as markup.
    """
    lines = []
    studies = _studies(frame).sort_values(["year", "study_id"])
    for _, row in studies.head(max_items).iterrows():
        links = []
        if render.pubmed_url(_value(row, "pmid")):
            links.append(render.markdown_link(f"PMID {row['pmid']}", render.pubmed_url(row["pmid"])))
        if render.doi_url(_value(row, "doi")):
            links.append(render.markdown_link(f"DOI {row['doi']}", render.doi_url(row["doi"])))
        if not links and render.safe_url(_value(row, "url")):
            links.append(render.markdown_link("link", _value(row, "url")))
        status = _value(row, "verification_status") or _value(row, "study_verification_status") or ""
        flag = render.SafeMarkdown("") if status == "verified" else render.markdown(" *(record {s})*", s=status)
        lines.append(
            render.markdown(
                "- **{study_id}**: {citation} {links}{flag}",
                study_id=row["study_id"],
                citation=_value(row, "full_citation") or "",
                links=render.SafeMarkdown(" · ".join(links)),
                flag=flag,
            )
        )
    if len(studies) > max_items:
        lines.append(
            render.markdown("- … and {n} more studies (all are in the data package).", n=len(studies) - max_items)
        )
    return render.SafeMarkdown("\n".join(lines))


# ------------------------------------------------------------------------------ data package export
#: Fields the findings export adds from the study and lookups (not in findings.csv's own schema).
_DERIVED_FIELDS = {
    "short_cite": ("string", "The study, as cited (studies.short_cite)."),
    "identifier": ("string", "The study's PMID or DOI."),
    "evidence_level": (
        "integer",
        "Evidence level 1 (systematic review of human trials) to 6 (in vitro), from design and species.",
    ),
    "evidence_label": ("string", "The evidence level in words."),
    "intervention_label": ("string", "The intervention, in words (interventions.label)."),
    "outcome_label": ("string", "The outcome, in words (outcomes.label)."),
}


def _export_schema(source: dict, columns: list[str], derived: dict | None = None) -> dict:
    """A Table Schema for exported ``columns``: the source schema's field definitions (constraints dropped: an
    export is a selection, not the curated table), plus the ``derived`` fields."""
    by_name = {f["name"]: f for f in source["fields"]}
    fields = []
    for column in columns:
        if column in by_name:
            spec = {k: v for k, v in by_name[column].items() if k in ("name", "title", "type", "format", "description")}
        else:
            kind, description = (derived or {})[column]
            spec = {"name": column, "type": kind, "description": description}
        fields.append(spec)
    return {"fields": fields, "missingValues": [""]}


def findings_package(
    view: pd.DataFrame, package, selection: dict | None = None, exported_at: str | None = None
) -> bytes:
    """The findings in view as a small Frictionless data package, zipped: ``findings.csv`` and ``studies.csv``
    with every number as the source reported it, and ``datapackage.json`` recording the source data package and
    its version, the selection (filters) and the export time. ``frictionless validate datapackage.json`` passes.
    """
    import datetime as dt
    import io
    import json
    import zipfile

    exported_at = exported_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    findings = findings_export_frame(view)
    studies_schema = package.schema("studies")
    study_columns = [f["name"] for f in studies_schema["fields"]]
    studies = package.studies[package.studies["study_id"].isin(set(findings["study_id"]))]
    reported = package.as_reported.get("studies")
    studies_text = pd.DataFrame(index=studies.index)
    for column in study_columns:
        values = reported.loc[studies.index, column] if reported is not None and column in reported else studies[column]
        studies_text[column] = values.astype("object").where(values.notna(), "").astype(str)
    findings_schema = _export_schema(package.schema("findings"), FINDINGS_EXPORT_COLUMNS, _DERIVED_FIELDS)
    findings_schema["primaryKey"] = ["finding_id"]
    findings_schema["foreignKeys"] = [
        {"fields": ["study_id"], "reference": {"resource": "studies", "fields": ["study_id"]}}
    ]
    studies_out = _export_schema(studies_schema, study_columns)
    studies_out["primaryKey"] = ["study_id"]
    source = package.descriptor
    descriptor = {
        "profile": "tabular-data-package",
        "name": "exercise-inflammation-findings-export",
        "title": f"Findings exported from {source.get('title', 'the evidence explorer')}",
        "description": "A selection of the curated findings, numbers exactly as the sources reported them. "
        "Cite the studies (studies.csv) and the source data package.",
        "created": exported_at,
        "licenses": source.get("licenses", []),
        "sources": [{"title": source.get("title", ""), "path": source.get("name", ""), "version": package.version}],
        "exinf:export": {
            "data_package": source.get("name", ""),
            "data_version": package.version,
            "exported_at": exported_at,
            "selection": selection or {},
            "findings": len(findings),
            "studies": len(studies_text),
        },
        "resources": [
            {"name": "findings", "path": "findings.csv", "profile": "tabular-data-resource", "format": "csv",
             "encoding": "utf-8", "schema": findings_schema},
            {"name": "studies", "path": "studies.csv", "profile": "tabular-data-resource", "format": "csv",
             "encoding": "utf-8", "schema": studies_out},
        ],
    }  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("datapackage.json", json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n")
        archive.writestr("findings.csv", findings.to_csv(index=False, lineterminator="\n"))
        archive.writestr("studies.csv", studies_text.to_csv(index=False, lineterminator="\n"))
    return buffer.getvalue()


def selection_caption(selection_text: str, data_version: str, exported_at: str | None = None) -> str:
    """The caption every exported chart carries: what it shows and from which data."""
    import datetime as dt

    exported_at = exported_at or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{selection_text} Data package {data_version}, exported {exported_at}. "
        "Exercise & inflammation evidence explorer."
    )
