"""Render Altair charts with no network: the Vega libraries are inlined once per page, compressed.

Altair 6's default renderer loads Vega, Vega-Lite and vega-embed from a CDN, which breaks charts in
JupyterLab, Voilà and exported HTML on machines without internet (and leaks every page view).
:func:`enable` puts vl-convert's JavaScript bundle into the page once, gzipped and unpacked by the browser's
own ``DecompressionStream`` (0.43 MB instead of 1 MB: a report page stays one file that opens anywhere), and
every chart after it waits for that bundle, renders offline and keeps its interactivity (tooltips). Big chart
specs travel compressed too. ``renderer="svg"`` draws static SVG instead (deterministic).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import uuid
from functools import lru_cache
from pathlib import Path

from helpers.render import script_json

RENDERERS = ("html", "svg", "png")
#: Chart specs longer than this (characters of JSON) are embedded gzipped (see :func:`compress`).
COMPRESS_SPEC_OVER = 2_000
#: Altair renderer name of :func:`render_chart`.
RENDERER_NAME = "exinf_offline"
EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False, "compiled": False, "editor": False}}


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "exercise-inflammation-explorer"


@lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """vl-convert's bundle of vega, vega-lite and vega-embed (about 0.9 MB).

    Building it takes over a second, which every report kernel would pay again; it is cached on disk
    per vl-convert and Vega-Lite version (``~/.cache/exercise-inflammation-explorer``).
    """
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    vl_version = vl_version_for_vl_convert()
    cached = _cache_dir() / f"vega-bundle-{vlc.__version__}-{vl_version}.js"
    with contextlib.suppress(OSError):
        return cached.read_text(encoding="utf-8")
    bundle = vlc.javascript_bundle(vl_version=vl_version)
    with contextlib.suppress(OSError):  # a read-only home only costs the cache
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(bundle, encoding="utf-8")
        os.replace(temporary, cached)
    return bundle


def _vega_js() -> str:
    """vl-convert's bundle as a script that defines ``vegaEmbed``, also as an AMD module for require.js."""
    from altair.vegalite.v6 import display

    versions = {
        "vega_version": display.VEGA_VERSION,
        "vegalite_version": display.VEGALITE_VERSION,
        "vegaembed_version": display.VEGAEMBED_VERSION,
    }
    return (
        "(function(){" + javascript_bundle() + "})();\n"
        f"var VEGA_DEBUG = Object.assign(window.VEGA_DEBUG || {{}}, {json.dumps(versions)});\n"
        "if (typeof define === 'function' && define.amd && window.requirejs && !requirejs.defined('vega-embed')) {"
        " define('vega-embed', [], function () { return window.vegaEmbed; }); }\n"
    )


STATIC = Path(__file__).parent / "static"

#: Turns the page's long tables into sortable, searchable, paged tables with Grid.js (vendored, offline).
_TABLES_JS = """
window.exinfTables = function () {
  if (!window.gridjs) { return; }
  if (document.readyState === 'loading') {  // enhance once the page is parsed: Grid.js fails mid-parse
    if (!window.exinfTablesQueued) {
      window.exinfTablesQueued = true;
      document.addEventListener('DOMContentLoaded', function () { window.exinfTables(); });
    }
    return;
  }
  var tables = document.querySelectorAll('table[data-exinf-table="interactive"]:not([data-exinf-enhanced])');
  tables.forEach(function (table) {
    if (!table.isConnected || !table.tHead) { return; }  // not on the page yet: a later call enhances it
    table.setAttribute('data-exinf-enhanced', '1');
    var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      return {name: th.textContent, numeric: th.getAttribute('data-type') === 'number'};
    });
    function key(value, numeric) {
      var text = (value && typeof value === 'object') ? String((value.props && value.props.content) || '')
        : String(value == null ? '' : value);
      text = text.replace(/<[^>]*>/g, '');
      if (numeric) { var n = parseFloat(text.replace(/[^0-9eE.+-]/g, '')); return isNaN(n) ? -Infinity : n; }
      return text.toLowerCase();
    }
    var columns = heads.map(function (head) {
      return {name: head.name, sort: {compare: function (a, b) {
        var x = key(a, head.numeric), y = key(b, head.numeric); return x > y ? 1 : (x < y ? -1 : 0);
      }}};
    });
    var holder = document.createElement('div');
    holder.className = 'exinf-grid';
    table.parentNode.insertBefore(holder, table);
    var caption = null;
    if (table.caption) {
      caption = document.createElement('p');
      caption.className = 'exinf-caption';
      caption.textContent = table.caption.textContent;
      holder.parentNode.insertBefore(caption, holder);
    }
    function fallBack() { holder.remove(); if (caption) { caption.remove(); } }
    // Grid.js reads (and hides) a copy; the escaped table itself stays until the grid shows its rows. Grid.js
    // renders asynchronously and only logs its errors (seen while Voila streams a page on a busy machine), so a
    // grid without rows after a few seconds is removed and the plain table is what the reader gets.
    function settle(tries) {
      if (holder.querySelectorAll('.gridjs-tr').length > 1) { table.style.display = 'none'; return; }
      if (tries > 0) { setTimeout(function () { settle(tries - 1); }, 100); return; }
      fallBack();
    }
    try {
      new window.gridjs.Grid({from: table.cloneNode(true), columns: columns, search: true, sort: true,
        autoWidth: false, fixedHeader: true, height: table.tBodies[0].rows.length > 15 ? '560px' : 'auto'})
        .render(holder);
      settle(80);
    } catch (error) { fallBack(); console.error(error); }
  });
};
window.exinfTables();
"""


def _payload_js() -> str:
    """Everything a page's charts and tables run: Vega (vegaEmbed), Grid.js with its theme, the table enhancer."""
    gridjs = (STATIC / "gridjs" / "gridjs.umd.js").read_text(encoding="utf-8")
    theme = (STATIC / "gridjs" / "mermaid.css").read_text(encoding="utf-8")
    # "var define" hides an AMD loader (require.js) from the UMD wrapper, so that window.gridjs is always set.
    return (
        _vega_js()
        + "(function(){var define;"
        + gridjs
        + "}).call(window);\n"
        + f"(function(){{var s=document.createElement('style');s.textContent={json.dumps(theme)};"
        + "document.head.appendChild(s);})();\n"
        + _TABLES_JS
    )


def compress(text: str) -> str:
    """``text`` gzipped and base64-encoded: what :data:`LOADER_JS`'s ``exinfInflate`` turns back into text.

    Base64 has no character that HTML or a script could read as markup, so the result is safe anywhere in a page.
    """
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


#: Defines ``exinfInflate`` (base64 gzip -> text, with the browser's own DecompressionStream) and, once per page,
#: ``exinfAssets``: a promise that unpacks and runs the payload (Vega, Grid.js). Charts and tables wait for it.
LOADER_JS = """
(function () {
  if (window.exinfAssets) { return; }
  window.exinfInflate = function (data) {
    if (typeof DecompressionStream === 'undefined') {
      return Promise.reject(new Error('this browser cannot unpack the page (no DecompressionStream)'));
    }
    var bytes = Uint8Array.from(atob(data), function (c) { return c.charCodeAt(0); });
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text();
  };
  window.exinfAssets = window.exinfInflate(EXINF_PAYLOAD).then(function (code) {
    var script = document.createElement('script');
    script.text = code;
    document.head.appendChild(script);
  });
  window.exinfAssets.catch(function (error) { console.error('Charts and tables cannot be drawn: ' + error.message); });
})();
"""


@lru_cache(maxsize=1)
def page_assets() -> str:
    """What a page needs once, before its charts and tables: their styles and the compressed payload (Vega and
    Grid.js, about 0.43 MB instead of 1 MB) with its loader. Nothing is fetched from a network."""
    loader = LOADER_JS.replace("EXINF_PAYLOAD", json.dumps(compress(_payload_js())), 1)
    return f"<style>{PAGE_CSS}</style><script type='text/javascript'>{loader}</script>"


#: Styles for tables and charts wherever they appear (notebooks, reports, the app): tables scroll sideways on
#: phones instead of losing columns; charts scroll rather than being cut.
PAGE_CSS = """
.exinf-table-wrap, .exinf-grid { max-width: 100%; overflow-x: auto; }
table.exinf-table { border-collapse: collapse; font-size: 13px; }
table.exinf-table th, table.exinf-table td { text-align: left; vertical-align: top; padding: 4px 8px;
  border-bottom: 1px solid #e1e5ea; }
table.exinf-table caption, p.exinf-caption { caption-side: top; text-align: left; color: #555; font-size: 12px; }
.exinf-grid .gridjs-td, .exinf-grid .gridjs-th { font-size: 13px; padding: 6px 8px; vertical-align: top; }
.exinf-grid .gridjs-wrapper { overflow-x: auto; }
.exinf-grid table.gridjs-table { table-layout: auto; width: max-content; min-width: 100%; }
.exinf-grid .gridjs-th, .exinf-grid .gridjs-td { min-width: 4.5em; max-width: 22em; white-space: normal; }
.exinf-grid th.gridjs-th-sort { padding-right: 24px; }
.exinf-grid th.gridjs-th .gridjs-th-content { white-space: normal; overflow: visible; text-overflow: clip; }
.exinf-grid .gridjs-search-input { width: 16em; max-width: 100%; }
.exinf-chart { max-width: 100%; overflow-x: auto; }
.exinf-chart svg { max-width: none !important; height: auto; }  /* scroll a wide chart, never shrink its text */
"""


def render_chart(spec: dict, embed_options: dict | None = None, **_metadata) -> dict[str, str]:
    """Altair renderer: an element and a script that draws ``spec`` with the page's inlined ``vegaEmbed``.

    The spec is serialised with :func:`helpers.render.script_json`, so no string in the data (a title, a
    tooltip, a label) can end the ``<script>`` element or run as code. Nothing is loaded from a network:
    when the Vega bundle is missing the element says so instead of fetching it.
    """
    element_id = f"altair-viz-{uuid.uuid4().hex}"
    text = script_json(spec)
    if len(text) > COMPRESS_SPEC_OVER:  # a big chart's data travels compressed, like the libraries
        spec_js = f"window.exinfInflate({json.dumps(compress(text))}).then(JSON.parse)"
    else:
        spec_js = f"Promise.resolve({text})"
    script = (
        "(function(){"
        f"var el=document.getElementById({json.dumps(element_id)});"
        f"var opt={script_json(embed_options or EMBED_OPTIONS)};"
        "function fail(e){el.textContent='Chart error: '+e.message;console.error(e);}"
        f"function draw(embed){{{spec_js}.then(function(spec){{return embed(el,spec,opt);}}).catch(fail);}}"
        "function go(){if(typeof window.vegaEmbed==='function'){draw(window.vegaEmbed);}"
        "else if(window.requirejs&&window.requirejs.defined&&window.requirejs.defined('vega-embed'))"
        "{window.requirejs(['vega-embed'],draw);}"
        "else{el.textContent='The chart library is not loaded on this page: run the notebook from its first cell.';}}"
        "if(window.exinfAssets){window.exinfAssets.then(go,fail);}else{go();}"
        "})();"
    )
    html = f'<div id="{element_id}" class="exinf-chart"></div><script type="text/javascript">{script}</script>'
    return {"text/html": html}


def enable(renderer: str = "html") -> None:
    """Make every following Altair chart render offline in this notebook.

    Args:
        renderer: ``"html"`` (interactive, Vega inlined once), ``"svg"`` or ``"png"`` (static).
    """
    import altair as alt

    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}; got {renderer!r}")
    if renderer == "html":
        from IPython.display import HTML, display

        display(HTML(page_assets()))
        if RENDERER_NAME not in alt.renderers.names():
            alt.renderers.register(RENDERER_NAME, render_chart)
        alt.renderers.enable(RENDERER_NAME)
    else:
        alt.renderers.enable(renderer)
