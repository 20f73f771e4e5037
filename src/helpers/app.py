"""The app: the evidence explorer as a page of its own, served by Voilà.

``notebooks/app.ipynb`` calls :func:`show`; ``make app`` (``exinf app``) serves it with the settings below:

- **Controls first.** Filters on the left, the chart beside them, the Summary of Findings, the findings and
  the exports in tabs underneath: nothing of a static report above the controls.
- **Preheated kernels.** Voilà runs the notebook in ``pool`` spare kernels before anyone asks, so a visitor
  gets a page whose controls are already there (Voilà's ``preheat_kernel``).
- **Idle kernels culled, kernels capped.** A kernel whose tab was closed is shut down after ``cull_idle``
  seconds (jupyter_server's culler); at most ``max_kernels`` run at once, and the next visitor gets a page
  saying so (HTTP 503) instead of an endless spinner.
- **Nothing from a network.** The ``exinf`` Voilà template (shared with class mode: :mod:`helpers.serving`).
"""

from __future__ import annotations

from pathlib import Path

from helpers import paths, serving

#: Defaults of ``exinf app``: one machine, a handful of readers at once.
DEFAULT_PORT = 8866
DEFAULT_MAX_KERNELS = 12
DEFAULT_CULL_IDLE_S = 600
DEFAULT_POOL = 1

APP_CSS = """
<style>
.exinf-app-head h1 { font-size: 22px; margin: 4px 0 2px; }
.exinf-app-head p { margin: 0 0 8px; color: #444; max-width: 900px; }
.exinf-app-chart { min-width: 0; overflow-x: auto; }
@media (max-width: 700px) {
  .exinf-app-filters { flex: 1 1 100% !important; }
  .exinf-app-head h1 { font-size: 19px; }
}
</style>
"""


def layout(panel):
    """The app's page (a widget) for an :class:`helpers.explorer.EvidenceExplorer`: controls first, then the chart."""
    import ipywidgets as widgets

    header = widgets.HTML(
        APP_CSS + "<div class='exinf-app-head'><h1>Exercise &amp; inflammation: what does the evidence say?</h1>"
        "<p>Pick an intervention, an outcome or a population. The chart shows each study's effect (hover for the "
        "study, its PMID/DOI and where the number was read); the Summary of Findings says how sure we are.</p></div>"
    )
    panel.chart_kind.style = {"button_width": "auto"}
    for control in panel.filter_controls:
        control.layout.width = "100%"  # the column's width, on a phone the screen's
    filters = widgets.VBox(
        [*panel.filter_controls],
        layout=widgets.Layout(flex="0 0 290px", min_width="0", grid_gap="2px"),
    )
    filters.add_class("exinf-app-filters")
    chart = widgets.VBox(
        [panel.chart_kind, panel.summary, panel.chart_output], layout=widgets.Layout(flex="1 1 560px", min_width="0")
    )
    chart.add_class("exinf-app-chart")
    main = widgets.Box(
        [filters, chart], layout=widgets.Layout(display="flex", flex_flow="row wrap", grid_gap="12px 20px")
    )
    exports = widgets.VBox(
        [
            widgets.HTML("What is in view, as files: findings with their numbers as reported, citations, the chart."),
            widgets.HBox(list(panel.export_buttons.values()), layout=widgets.Layout(flex_flow="row wrap")),
            panel.downloads,
        ]
    )
    tabs = widgets.Tab(
        [panel.sof_output, panel.table_output, exports],
        titles=["Summary of findings", "Findings in view", "Export"],
    )
    return widgets.VBox([header, main, tabs])


def show(package=None, chart: str = "forest", **initial) -> object:
    """Display the app in the current notebook (or Voilà page); returns the explorer behind it."""
    from IPython.display import display

    from helpers import data, explorer, offline

    offline.enable("html")  # the chart library and table styles, inlined once (nothing from a network)
    panel = explorer.EvidenceExplorer(package or data.load_package(), chart=chart, **initial)
    display(layout(panel))
    return panel


# ------------------------------------------------------------------------------------------ serving
def voila_command(
    notebook: Path | None = None,
    port: int = DEFAULT_PORT,
    *,
    max_kernels: int = DEFAULT_MAX_KERNELS,
    cull_idle_s: int = DEFAULT_CULL_IDLE_S,
    pool: int = DEFAULT_POOL,
    ip: str = "127.0.0.1",
) -> list[str]:
    """The ``voila`` command line that serves the app with the settings described in this module."""
    notebook = notebook or paths.notebooks_dir() / "app.ipynb"
    return serving.voila_command(
        notebook, port=port, max_kernels=max_kernels, cull_idle_s=cull_idle_s, pool=pool, ip=ip
    )


def serve(**options) -> int:
    """Run Voilà in the foreground (``exinf app``); returns its exit code."""
    command = voila_command(**options)
    print(f"Serving the app on http://127.0.0.1:{options.get('port', DEFAULT_PORT)}/ (Ctrl-C stops it)", flush=True)
    return serving.run(command, cwd=Path(command[1]).parent)
