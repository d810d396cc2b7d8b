"""Everything written under ``results/``: tables, notes, figures, the paper's values, the summary.

- :mod:`fklib.report.tables`  -- per-image rows -> table rows, the paper's value and our delta, ``save_table``.
- :mod:`fklib.report.notes`   -- :func:`setting_note`: how our setting differs from the paper's.
- :mod:`fklib.report.figures` -- every figure (:mod:`fklib.report.robustness_figures` for Figs. 8-10 and
  the upsampling study) and the one helper that saves them (``save_paper_figure``).
- :mod:`fklib.report.paper`   -- the paper's numbers, typed once.
- :mod:`fklib.report.summary` -- ``results/README.md`` from the tables; :mod:`fklib.report.claims` -- the paper's
  claims, each with its paired rule; :mod:`fklib.report.provenance` -- which model, command and commit made each output.
- :func:`setup_notebook` -- the display settings every notebook starts with.
"""

import pandas as pd

from .figures import figure_path, save_figure, save_paper_figure
from .notes import setting_note
from .tables import (MODEL, format_cell, markdown_table, paper_table, reference_rows, save_table, table_rows, to_wide,
                     with_paper)

#: pandas display options of the notebooks' tables (wide, 3 decimals): :func:`setup_notebook`.
NOTEBOOK_DISPLAY = {"display.width": 200, "display.max_columns": 40, "display.precision": 3}


def setup_notebook(**options) -> None:
    """Set the notebooks' pandas display options (:data:`NOTEBOOK_DISPLAY`, updated by ``options``, e.g.
    ``setup_notebook(**{"display.precision": 4})``); the one set-up call of every numbered notebook."""
    for key, value in {**NOTEBOOK_DISPLAY, **options}.items():
        pd.set_option(key, value)


__all__ = [
    "setup_notebook", "NOTEBOOK_DISPLAY",
    "save_table", "save_paper_figure", "save_figure", "figure_path", "setting_note", "table_rows", "reference_rows",
    "with_paper", "to_wide", "paper_table", "format_cell", "markdown_table", "MODEL",
]
