"""Evidence explorer for exercise, inflammation and cytokines.

The package behind the notebooks: ``helpers.data`` loads and validates the curated data package,
``helpers.evidence`` derives evidence levels, filters and summaries, ``helpers.charts`` draws them.
Submodules are imported on use so that ``import helpers`` stays cheap in a kernel.
"""

__version__ = "0.1.0"
