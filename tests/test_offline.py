"""Offline rendering helpers: the Vega bundle (cached on disk) and notebook tables."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import notebook, offline


def test_vega_bundle_is_cached_on_disk_per_version(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    offline.javascript_bundle.cache_clear()
    bundle = offline.javascript_bundle()
    cached = list((tmp_path / "exercise-inflammation-explorer").glob("vega-bundle-*.js"))
    assert len(cached) == 1 and cached[0].read_text(encoding="utf-8") == bundle
    assert "vegaEmbed" in bundle and len(bundle) > 500_000
    cached[0].write_text("/* marker */", encoding="utf-8")
    offline.javascript_bundle.cache_clear()
    assert offline.javascript_bundle() == "/* marker */", "the cached copy is used"
    offline.javascript_bundle.cache_clear()


def test_page_assets_carry_vega_and_gridjs_compressed_within_the_fixed_budget():
    import base64
    import gzip
    import re

    assets = offline.page_assets()
    assert len(assets.encode()) <= 450_000, "the fixed cost of a page: 0.45 MB at most"
    payload = re.search(r'window\.exinfInflate\("([A-Za-z0-9+/=]+)"\)', assets).group(1)
    code = gzip.decompress(base64.b64decode(payload)).decode()
    assert "vegaEmbed" in code and "VEGA_DEBUG" in code and "gridjs" in code and "window.exinfTables" in code
    assert offline.javascript_bundle() in code, "the whole Vega bundle, unchanged"
    assert "cdn.jsdelivr" not in assets and "https://" not in assets.split("<script", 1)[0]


def test_big_chart_specs_travel_compressed_and_small_ones_inline():
    import altair as alt

    small = offline.render_chart(alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x").to_dict())
    assert '"mark"' in small["text/html"] and "exinfInflate" not in small["text/html"]
    frame = pd.DataFrame({"x": range(3000), "label": [f"finding {i}" for i in range(3000)]})
    big = offline.render_chart(alt.Chart(frame).mark_point().encode(x="x", tooltip="label").to_dict())
    assert "exinfInflate" in big["text/html"] and "finding 2999" not in big["text/html"]


def test_enable_rejects_unknown_renderers():
    with pytest.raises(ValueError, match="renderer must be one of"):
        offline.enable("pdf")


def test_show_table_caps_rows_and_says_so():
    frame = pd.DataFrame({"a": range(250), "b": ["x"] * 250})
    html = str(notebook.show_table(frame, {"a": "A"}))
    assert html.count("<tr>") == notebook.TABLE_MAX_ROWS + 1  # the header row and 200 rows
    assert "First 200 of 250 rows" in html and ">A<" in html and 'data-type="number"' in html
    assert 'data-exinf-table="interactive"' in html, "a long table is sortable and searchable in the browser"
    small = str(notebook.show_table(frame.head(3)))
    assert "First" not in small and "data-exinf-table" not in small


def test_show_table_links_studies_escapes_text_and_hides_helper_columns():
    frame = pd.DataFrame(
        {
            "Study": ["<i>Doe</i> 2020", "Roe 2021"],
            "N": ["12", ""],
            "_link": ["https://doi.org/10.1000/x", "javascript:x"],
        }
    )
    html = str(notebook.show_table(frame))
    assert (
        '<a href="https://doi.org/10.1000/x" rel="noopener noreferrer" target="_blank">&lt;i&gt;Doe&lt;/i&gt; 2020</a>'
        in html
    )
    assert "javascript" not in html and "_link" not in html and "<td>Roe 2021</td>" in html
    assert "<td></td>" in html, "unknown N is blank, never 0"
