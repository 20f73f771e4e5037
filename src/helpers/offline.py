"""Render Altair charts with no network: the Vega libraries are inlined once per page.

Altair 6's default renderer loads Vega, Vega-Lite and vega-embed from a CDN, which breaks charts in
JupyterLab, Voilà and exported HTML on machines without internet (and leaks every page view).
:func:`enable` puts vl-convert's JavaScript bundle into the page once ("bundle-once") and tells
Altair's loader that the libraries are already there, so every chart after it renders offline and
keeps its interactivity (tooltips). ``renderer="svg"`` draws static SVG instead (deterministic).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from functools import lru_cache
from pathlib import Path

from helpers.render import script_json

RENDERERS = ("html", "svg", "png")
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


def bundle_script() -> str:
    """The ``<script>`` that defines ``vegaEmbed`` for the page, also as an AMD module for require.js."""
    from altair.vegalite.v6 import display

    versions = {
        "vega_version": display.VEGA_VERSION,
        "vegalite_version": display.VEGALITE_VERSION,
        "vegaembed_version": display.VEGAEMBED_VERSION,
    }
    return (
        "<script type='text/javascript'>(function(){" + javascript_bundle() + "})();\n"
        f"var VEGA_DEBUG = Object.assign(window.VEGA_DEBUG || {{}}, {json.dumps(versions)});\n"
        "if (typeof define === 'function' && define.amd && window.requirejs && !requirejs.defined('vega-embed')) {"
        " define('vega-embed', [], function () { return window.vegaEmbed; }); }</script>"
    )


def render_chart(spec: dict, embed_options: dict | None = None, **_metadata) -> dict[str, str]:
    """Altair renderer: an element and a script that draws ``spec`` with the page's inlined ``vegaEmbed``.

    The spec is serialised with :func:`helpers.render.script_json`, so no string in the data (a title, a
    tooltip, a label) can end the ``<script>`` element or run as code. Nothing is loaded from a network:
    when the Vega bundle is missing the element says so instead of fetching it.
    """
    element_id = f"altair-viz-{uuid.uuid4().hex}"
    script = (
        "(function(){"
        f"var el=document.getElementById({json.dumps(element_id)});"
        f"var spec={script_json(spec)};var opt={script_json(embed_options or EMBED_OPTIONS)};"
        "function draw(embed){embed(el,spec,opt).catch(function(e){el.textContent='Chart error: '+e.message;"
        "console.error(e);});}"
        "if(typeof window.vegaEmbed==='function'){draw(window.vegaEmbed);}"
        "else if(window.requirejs&&window.requirejs.defined&&window.requirejs.defined('vega-embed'))"
        "{window.requirejs(['vega-embed'],draw);}"
        "else{el.textContent='The chart library is not loaded on this page: run the notebook from its first cell.';}"
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

        display(HTML(bundle_script()))
        if RENDERER_NAME not in alt.renderers.names():
            alt.renderers.register(RENDERER_NAME, render_chart)
        alt.renderers.enable(RENDERER_NAME)
    else:
        alt.renderers.enable(renderer)
