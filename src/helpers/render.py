"""Output encoding: the one place where text from the data becomes HTML, Markdown, a link or a script.

Data text is never code (OWASP's rule: encode at the point of output, for the output's context). Every
notebook, report page and widget that shows a value from the data passes it through one of these
functions:

- :func:`html` and :func:`html_text` — HTML text and attribute values (``&``, ``<``, ``>``, quotes escaped);
- :func:`markdown` — a Markdown template whose placeholders are filled with escaped data: no tag, link,
  image or heading can come out of a value;
- :func:`safe_url` and :func:`link` — only ``http(s)`` and ``doi:`` addresses become links, percent-encoded;
- :func:`script_json` — JSON that can sit inside a ``<script>`` element: no string can end the block.

Templates (the first argument of :func:`html` and :func:`markdown`) are code written in this project, never
data.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from markupsafe import Markup, escape

#: Schemes that may become a link. Everything else (javascript:, data:, vbscript:, file:) stays text.
LINK_SCHEMES = ("http", "https")
#: Characters that may appear in a URL or DOI we link to (RFC 3986 reserved + unreserved + '%').
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


def html_text(value: object) -> Markup:
    """``value`` as HTML text, safe in element content and in quoted attribute values.

    Examples:
        >>> str(html_text('<img src=x onerror="alert(1)">'))
        '&lt;img src=x onerror=&#34;alert(1)&#34;&gt;'
        >>> str(html_text(None))
        ''
    """
    return escape("" if value is None else value)


def html(template: str, /, **values: object) -> Markup:
    """Fill an HTML ``template`` (code) with ``values`` (data), each escaped for HTML.

    Values that are already :class:`markupsafe.Markup` (the output of these functions) are kept.

    Examples:
        >>> str(html("<b>{name}</b>", name="<script>x</script>"))
        '<b>&lt;script&gt;x&lt;/script&gt;</b>'
    """
    return Markup(template).format(**values)


_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
#: Markdown punctuation that starts emphasis, code, links, images, headings, tables, strike-through or maths.
_MARKDOWN_PUNCTUATION = set("\\`*_[]()!#|~$")
#: A value that starts a line must not start a list, quote or heading either.
_BLOCK_START = re.compile(r"^(\d+)([.)])|^([-+=])")


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text: it renders as the same characters, never as markup.

    HTML-significant characters become entities (so no tag survives any Markdown renderer), Markdown
    punctuation that makes markup is backslash-escaped (no emphasis, code, link, image, heading, table or
    maths), and line breaks become spaces (a value cannot start a new block).

    Examples:
        >>> markdown_text("![x](http://tracker) <b>*a*</b>")
        '\\\\!\\\\[x\\\\]\\\\(http://tracker\\\\) &lt;b&gt;\\\\*a\\\\*&lt;/b&gt;'
        >>> markdown_text("1. Systematic review")
        '1\\\\. Systematic review'
    """
    if value is None:
        return ""
    text = re.sub(r"[\r\n\t\f\v]+", " ", str(value))
    prefix = ""
    start = _BLOCK_START.match(text)
    if start:
        prefix = f"{start.group(1)}\\{start.group(2)}" if start.group(1) else "\\" + start.group(3)
        text = text[start.end() :]
    out = [prefix]
    for char in text:
        if char in _MARKDOWN_ENTITIES:
            out.append(_MARKDOWN_ENTITIES[char])
        elif char in _MARKDOWN_PUNCTUATION:
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


class SafeMarkdown(str):
    """Markdown produced by :func:`markdown`; shown as Markdown by IPython/Jupyter."""

    def _repr_markdown_(self) -> str:
        return str(self)


def markdown(template: str, /, **values: object) -> SafeMarkdown:
    """Fill a Markdown ``template`` (code) with ``values`` (data), each escaped with :func:`markdown_text`.

    Values that are :class:`SafeMarkdown` (already rendered) are inserted as they are.

    Examples:
        >>> markdown("## {label}", label="# <script>")
        '## \\\\# &lt;script&gt;'
    """
    escaped = {k: v if isinstance(v, SafeMarkdown) else markdown_text(v) for k, v in values.items()}
    return SafeMarkdown(template.format(**escaped))


def markdown_link(label: object, url: object) -> SafeMarkdown:
    """A Markdown link to ``url`` when it is a safe web address (see :func:`safe_url`), else the label alone.

    Examples:
        >>> markdown_link("PMID 1", "https://pubmed.ncbi.nlm.nih.gov/1/")
        '[PMID 1](https://pubmed.ncbi.nlm.nih.gov/1/)'
        >>> markdown_link("x", "javascript:alert(1)")
        'x'
    """
    href = safe_url(url)
    text = markdown_text(label)
    if href is None:
        return SafeMarkdown(text)
    # In a link destination only parentheses, spaces and angle brackets matter; safe_url percent-encodes them.
    href = href.replace("(", "%28").replace(")", "%29")
    return SafeMarkdown(f"[{text}]({href})")


def safe_url(value: object) -> str | None:
    """A web address that may become a link: ``http(s)://…`` or ``doi:10.…``, percent-encoded; else ``None``.

    Examples:
        >>> safe_url("https://doi.org/10.1000/a b<c>")
        'https://doi.org/10.1000/a%20b%3Cc%3E'
        >>> safe_url("doi:10.1186/s13075-018-1786-6")
        'https://doi.org/10.1186/s13075-018-1786-6'
        >>> safe_url("javascript:alert(1)") is None, safe_url(" JAVASCRIPT:alert(1)") is None
        (True, True)
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.lower().startswith("doi:"):
        return doi_url(text[4:])
    # Browsers drop tabs and newlines inside URLs ("java\tscript:"): refuse any control character.
    if not text or re.search(r"[\x00-\x1f\x7f]", text):
        return None
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return None
    return urllib.parse.quote(text, safe=_URL_SAFE)


def doi_url(doi: object) -> str | None:
    """The resolver address of a DOI (``https://doi.org/…``), or ``None`` when it is not a DOI.

    Examples:
        >>> doi_url("10.1016/j.bbi.2016.12.017")
        'https://doi.org/10.1016/j.bbi.2016.12.017'
        >>> doi_url('10.1000/x"><script>')
        'https://doi.org/10.1000/x%22%3E%3Cscript%3E'
    """
    if doi is None:
        return None
    text = str(doi).strip()
    if not _DOI.match(text):
        return None
    return "https://doi.org/" + urllib.parse.quote(text, safe="/:;()._-")


def pubmed_url(pmid: object) -> str | None:
    """The PubMed address of a PMID (digits only), or ``None``.

    Examples:
        >>> pubmed_url("28011264")
        'https://pubmed.ncbi.nlm.nih.gov/28011264/'
        >>> pubmed_url("1 onmouseover=x") is None
        True
    """
    if pmid is None:
        return None
    text = str(pmid).strip()
    return f"https://pubmed.ncbi.nlm.nih.gov/{text}/" if re.fullmatch(r"[1-9][0-9]{0,8}", text) else None


def link(label: object, url: object) -> Markup:
    """An HTML link to ``url`` when it is safe (:func:`safe_url`), else the escaped label alone.

    Examples:
        >>> str(link("PMID <1>", "https://pubmed.ncbi.nlm.nih.gov/1/"))
        '<a href="https://pubmed.ncbi.nlm.nih.gov/1/" rel="noopener noreferrer" target="_blank">PMID &lt;1&gt;</a>'
        >>> str(link("x", "javascript:alert(1)"))
        'x'
    """
    href = safe_url(url)
    if href is None:
        return html_text(label)
    return html('<a href="{href}" rel="noopener noreferrer" target="_blank">{label}</a>', href=href, label=label)


def link_local(label: object, path: object) -> Markup:
    """A link to a file of the same site (a relative path of letters, digits, ``_ . / -``; never ``..``).

    Examples:
        >>> str(link_local("Brief", "brief-hiit.html"))
        '<a href="brief-hiit.html">Brief</a>'
        >>> str(link_local("x", "javascript:alert(1)")), str(link_local("x", "../etc/passwd"))
        ('x', 'x')
    """
    text = "" if path is None else str(path)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./-]*", text) or ".." in text:
        return html_text(label)
    return html('<a href="{href}">{label}</a>', href=text, label=label)


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(value: object, **json_kwds) -> str:
    """``value`` as JSON that is safe inside ``<script>…</script>``: no string can close the element.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``-style escapes (still the same JSON value), and so are
    the two line separators that end a JavaScript string.

    Examples:
        >>> script_json({"title": "</script><script>alert(1)</script>"})
        '{"title": "\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, **json_kwds)
    return re.sub("[<>&\u2028\u2029]", lambda match: _SCRIPT_ESCAPES[match.group(0)], text)


def single_line(value: object) -> str:
    """``value`` on one line: each run of line breaks and control characters becomes one space (RIS, CSV).

    Examples:
        >>> single_line("title\\r\\nER  -")
        'title ER  -'
    """
    return _CONTROL.sub(" ", "" if value is None else str(value)).strip()


# ------------------------------------------------------------------------------------------ tables
class HtmlBlock(str):
    """Escaped HTML produced by these functions; shown as HTML by IPython/Jupyter."""

    def _repr_html_(self) -> str:
        return str(self)


#: Tables longer than this become sortable, searchable and paged in the browser (Grid.js); shorter ones stay plain.
INTERACTIVE_ROWS = 12


def table(
    frame,
    columns: dict[str, str] | None = None,
    *,
    links: dict[str, str] | None = None,
    numeric: set[str] | frozenset[str] = frozenset(),
    caption: str = "",
    max_rows: int = 500,
) -> HtmlBlock:
    """An HTML table of ``frame``: labels as headers, every cell escaped, no index, blank for unknown.

    Args:
        frame: the rows (a DataFrame).
        columns: ``{column: header}`` to show, in order (default: every column, its name as header).
        links: ``{column: url_column}``: the cell becomes a link to that row's URL when it is a safe address.
        numeric: columns sorted as numbers in the browser (their text is shown as it is: numbers as reported).
        caption: a caption (text).
        max_rows: at most this many rows; the caption then says how many there are.

    Long tables are enhanced in the browser (sort, search, pages) by the page's table script
    (:func:`helpers.offline.enable` puts it on the page once); without scripts they stay plain tables.

    Examples:
        >>> import pandas as pd
        >>> html = table(pd.DataFrame({"s": ["<b>x</b>"], "u": ["https://doi.org/10.1/x"]}), {"s": "Study"},
        ...              links={"s": "u"})
        >>> '<a href="https://doi.org/10.1/x"' in html and "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
        True
    """
    import pandas as pd

    columns = columns or {c: str(c) for c in frame.columns}
    links = links or {}
    total = len(frame)
    shown = frame.head(max_rows)
    head = "".join(
        str(
            html(
                '<th scope="col"{kind}>{label}</th>',
                label=label,
                kind=Markup(' data-type="number"') if c in numeric else "",
            )
        )
        for c, label in columns.items()
    )
    body = []
    for record in shown.to_dict("records"):
        cells = []
        for column in columns:
            value = record.get(column)
            text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else value
            cell = link(text, record.get(links[column])) if column in links and text != "" else html_text(text)
            cells.append(f"<td>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f"{caption} " if caption else ""
    if total > max_rows:
        note += f"First {max_rows} of {total} rows; the CSV export has all."
    caption_html = str(html("<caption>{text}</caption>", text=note.strip())) if note.strip() else ""
    interactive = ' data-exinf-table="interactive"' if len(shown) > INTERACTIVE_ROWS else ""
    return HtmlBlock(
        f'<div class="exinf-table-wrap"><table class="exinf-table"{interactive}>{caption_html}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        # Deferred: notebook front ends run an output's scripts before they attach it to the page.
        "<script>setTimeout(function () { window.exinfTables && window.exinfTables(); }, 0);</script>"
    )
