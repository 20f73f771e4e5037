"""Render Altair charts with no network: the Vega libraries are inlined once per page.

Altair 6's default renderer loads Vega, Vega-Lite and vega-embed from a CDN, which breaks charts in
JupyterLab, Voilà and exported HTML on machines without internet (and leaks every page view).
:func:`enable` puts vl-convert's JavaScript bundle into the page once ("bundle-once") and tells
Altair's loader that the libraries are already there, so every chart after it renders offline and
keeps its interactivity (tooltips). ``renderer="svg"`` draws static SVG instead (deterministic).
"""

from __future__ import annotations

import json
from functools import lru_cache

RENDERERS = ("html", "svg", "png")


@lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """vl-convert's bundle of vega, vega-lite and vega-embed (about 0.9 MB), built once per process."""
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    return vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())


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
        alt.renderers.enable("html")
        alt.renderers.set_embed_options(
            renderer="svg", actions={"export": True, "source": False, "compiled": False, "editor": False}
        )
    else:
        alt.renderers.enable(renderer)
