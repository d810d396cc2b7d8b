"""Results tables, written to fixed places, with the paper's value next to ours.

A notebook does::

    df = score_set(locator, "stgan")                            # one row per (predictor, image)
    rows = table_rows(df, by=["gan", "property"])                 # model + the 3 input-blind references
    save_table(to_wide(with_paper(rows, 3, on=["gan", "property"])), "table3",
               note=setting_note("cpu", table=3))

or in one call :func:`paper_table` (rows -> the wide table with the paper's value and our delta).

Places: ``results/tables/<name>.csv`` and ``<name>.md``, written atomically (temporary file in the
same folder, then rename). ``results_dir`` arguments default to :func:`fklib.paths.results_dir`.

Long format (what :func:`table_rows` -- :func:`fklib.metrics.groups.group_rows`, the one definition of a
cell -- returns and :func:`with_paper` takes): one row per (predictor, group, metric) with columns
``predictor``, the ``by`` keys, ``n`` (fakes), ``n_reals`` (reals of the cell's detection metrics),
``metric`` and ``value``; :func:`with_paper` adds ``paper`` and ``delta`` (= ours − paper).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..files import write_atomically
from ..metrics import REFERENCE_KINDS
from ..metrics.groups import LADDER, MODEL, REFERENCE_KNOWS, TABLE_METRICS, group_rows, mark_versus
from . import paper as _paper

#: Per-image rows -> long table rows: :func:`fklib.metrics.groups.group_rows`, the one grouping path.
table_rows = group_rows
__all__ = ["MODEL", "TABLE_METRICS", "table_rows", "reference_rows", "mark_versus", "with_paper", "to_wide",
           "format_cell", "fold_intervals", "markdown_table", "save_table", "paper_table"]


def reference_rows(df: pd.DataFrame, by: Sequence[str] = ("gan", "property"),
                   metrics: Sequence[str] | Mapping[str, str] = TABLE_METRICS, **kwargs) -> pd.DataFrame:
    """Table rows of the reference predictors only (:data:`fklib.metrics.REFERENCE_KINDS`).

    For tables whose model rows come from several checkpoints (Table 2, 5) but whose references
    are shared: ``pd.concat([table_rows(models, by, predictors=["model"]), reference_rows(df1, by)])``.
    Keyword arguments go to :func:`table_rows`.
    """
    return table_rows(df, by, metrics, predictors=REFERENCE_KINDS, **kwargs)


# --------------------------------------------------------------------------------------------
# the paper's cells next to ours

def with_paper(ours: pd.DataFrame, table: int, on: Sequence[str], predictor: str | None = MODEL,
               aliases: Mapping[str, Mapping[str, str]] | None = None,
               include_paper_only: bool = False) -> pd.DataFrame:
    """Add the paper's value of the same cell (``paper``) and ``delta = value - paper``.

    Args:
        ours: long-format rows with the ``on`` columns, ``metric`` and ``value``.
        table: the paper's table (2-5, :func:`fklib.report.paper.paper_table`).
        on: key columns to match (a subset of :data:`fklib.report.paper.TABLE_KEYS` ``[table]``), besides
            ``metric``. Keys the paper fixes but ``on`` leaves out (e.g. Table 3 has no
            ``method``) match any value of ours.
        predictor: when ``ours`` has a ``predictor`` column, only its rows of this predictor get the
            paper's value (the paper reports its model, not our input-blind references); ``None``
            matches every predictor.
        aliases: per key column, our value -> the paper's value used for matching only, e.g.
            ``{"gan": {"interfacegan": "pggan"}}``; the returned keys are ours, unchanged.
        include_paper_only: also append the paper's cells that ``ours`` lacks, for the metrics
            ``ours`` has (``value`` and ``delta`` NaN; ``predictor`` set to ``predictor``), so the
            table shows the paper's whole layout.

    Returns:
        ``ours`` (same row order, fresh index) with ``paper`` and ``delta``; NaN where the paper
        has no such cell.

    Raises:
        ValueError: a key is not a column of the paper's table or of ``ours``, or the keys do not
            identify one paper cell per metric.
    """
    on = list(on)
    ref = _paper.paper_table(table)
    bad = [k for k in on if k not in ref.columns or k == "metric"]
    if bad:
        raise ValueError(f"with_paper: table {table} has keys {_paper.TABLE_KEYS[table]}, not {bad}")
    lacking = [k for k in [*on, "metric", "value"] if k not in ours.columns]
    if lacking:
        raise ValueError(f"with_paper: our rows lack column(s) {lacking}")
    ref = ref[[*on, "metric", "value"]].rename(columns={"value": "paper"})
    dup = ref.duplicated([*on, "metric"], keep=False)
    if dup.any():
        raise ValueError(f"with_paper: keys {on} match several cells of table {table}, e.g. "
                         f"{ref[dup].iloc[0][[*on, 'metric']].to_dict()}; add keys from {_paper.TABLE_KEYS[table]}")
    left = ours.reset_index(drop=True).drop(columns=["paper", "delta"], errors="ignore")
    tmp = {k: f"__key_{i}" for i, k in enumerate([*on, "metric"])}
    keys = pd.DataFrame({tmp[k]: left[k].map(lambda v, k=k: (aliases or {}).get(k, {}).get(v, v))
                         if k in (aliases or {}) else left[k] for k in tmp})
    right = ref.rename(columns=tmp)
    merged = keys.merge(right, on=list(tmp.values()), how="left", validate="many_to_one")
    out = left.copy()
    out["paper"] = merged["paper"].to_numpy(dtype=float)
    if predictor is not None and "predictor" in out.columns:
        out.loc[out["predictor"] != predictor, "paper"] = math.nan
    out["delta"] = out["value"].astype(float) - out["paper"]
    if include_paper_only:
        have = out if predictor is None or "predictor" not in out.columns else out[out["predictor"] == predictor]
        have_keys = set(map(tuple, keys.loc[have.index].to_numpy().tolist()))
        extra = ref[[tuple(r) not in have_keys for r in ref[[*on, "metric"]].to_numpy().tolist()]]
        extra = extra[extra["metric"].isin(set(out["metric"]))]
        if len(extra):
            extra = extra.assign(value=math.nan, delta=math.nan)
            if "predictor" in out.columns:
                extra = extra.assign(predictor=predictor if predictor is not None else MODEL)
            ints = [c for c in out.columns if pd.api.types.is_integer_dtype(out[c])]
            out = pd.concat([out, extra[[c for c in out.columns if c in extra.columns]]], ignore_index=True)
            out = out.astype({c: "Int64" for c in ints})
    return out


def to_wide(df: pd.DataFrame, index: Sequence[str] | None = None,
            values: Sequence[str] = ("value", "lo", "hi", "paper", "delta")) -> pd.DataFrame:
    """Long rows -> one row per group, columns ``<metric>``, ``<metric>_lo``, ``<metric>_hi`` (the 95 %
    interval, with ``intervals``), ``<metric>_paper``, ``<metric>_delta``.

    ``index`` defaults to every column except ``metric`` and the value columns (``n`` included).
    Value columns absent from ``df`` (or all NaN ``paper``/``delta``) are left out. Row and metric
    order follow their first appearance.
    """
    values = [v for v in values if v in df.columns and (v == "value" or df[v].notna().any())]
    index = list(index) if index is not None else [c for c in df.columns
                                                   if c not in ("metric", *values, "lo", "hi", "paper", "delta")]
    metrics = list(dict.fromkeys(df["metric"]))
    keyed = df.assign(__row=df.groupby(index, sort=False, dropna=False).ngroup())
    first = keyed.drop_duplicates("__row").set_index("__row")[index]
    wide = first.copy()
    for m in metrics:
        sub = keyed[keyed["metric"] == m].drop_duplicates("__row").set_index("__row")
        for v in values:
            name = m if v == "value" else f"{m}_{v}"
            wide[name] = sub[v].reindex(wide.index)
    return wide.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# writing

def _atomic_write_text(path: Path, text: str) -> Path:
    """``text`` written to ``path`` as UTF-8, line ends as given, through a partial file (:func:`write_atomically`)."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))


def _decimals(column: str, metric: object) -> int:
    """2 for PSNR (dB), 3 for everything else."""
    tokens = set(re.split(r"[^a-z0-9]+", str(column).lower()))
    return 2 if "psnr" in tokens or str(metric).lower() == "psnr" else 3


def format_cell(value: object, column: str = "", metric: object = None) -> str:
    """Markdown text of one cell: floats to 3 decimals (PSNR 2), counts as integers, NaN empty."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if column == "n" or column.startswith("n_"):
            return str(int(round(value))) if float(value).is_integer() else f"{value:g}"
        return f"{value:.{_decimals(column, metric)}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def fold_intervals(df: pd.DataFrame) -> pd.DataFrame:
    """For Markdown: ``<m>``, ``<m>_lo``, ``<m>_hi`` (and ``<m>_vs_ref``) -> one text cell
    ``value [lo, hi]`` (``+`` appended where the paired difference to the best reference lies above 0, ``-`` below
    0, ``~`` where its interval contains 0: :func:`fklib.metrics.groups.mark_versus`, :data:`MARK_LEGEND`);
    long tables' ``value``/``lo``/``hi`` likewise."""
    df = df.copy()
    pairs = [(c[:-3], c) for c in df.columns if c.endswith("_lo") and f"{c[:-3]}_hi" in df.columns
             and c[:-3] in df.columns]
    if {"value", "lo", "hi"} <= set(df.columns):
        pairs.append(("value", "lo"))
    sign = {"overlaps": "~", "better": "+", "worse": "-"}
    for m, lo in pairs:
        hi = lo[:-2] + "hi"
        vs = f"{m}_vs_ref"
        metric_of = df["metric"] if m == "value" and "metric" in df.columns else pd.Series(m, index=df.index)
        cells = []
        for i in df.index:
            v, a, b = df.at[i, m], df.at[i, lo], df.at[i, hi]
            text = format_cell(v, m, metric_of[i])
            if text and not (pd.isna(a) or pd.isna(b)):
                text += f" [{format_cell(a, m, metric_of[i])}, {format_cell(b, m, metric_of[i])}]"
            if vs in df.columns and isinstance(df.at[i, vs], str):
                text += sign.get(df.at[i, vs], "")
            cells.append(text)
        df[m] = pd.Series(cells, index=df.index, dtype=object)
        df = df.drop(columns=[lo, hi, *([vs] if vs in df.columns else [])])
    return df


def markdown_table(df: pd.DataFrame) -> str:
    """The frame as a GitHub Markdown table (:func:`format_cell` per cell; a ``metric`` column
    decides the decimals of the numeric cells of its row; intervals folded by :func:`fold_intervals`)."""
    df = fold_intervals(_plain(df))
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    metric_col = "metric" in df.columns
    for _, row in df.iterrows():
        metric = row["metric"] if metric_col else None
        lines.append("| " + " | ".join(format_cell(row[c], str(c), metric) for c in df.columns) + " |")
    return "\n".join(lines) + "\n"


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Index folded into columns unless it is the default range index; column names as strings."""
    if not (isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
            and df.index.name is None):
        df = df.reset_index()
    df = df.copy()
    df.columns = ["/".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in df.columns]
    return df


def _table_number(name: str) -> int | None:
    m = re.fullmatch(r"table(\d+)", name)
    return int(m.group(1)) if m else None


def _legend(df: pd.DataFrame, table: int | None) -> list[str]:
    lines = []
    cols = [str(c) for c in df.columns]
    if any(c == "paper" or c.endswith("_paper") for c in cols):
        where = f"Table {table}" if table else "the same table"
        lines.append(f"`paper` (`<metric>_paper`): the paper's value of the same cell ({where}, typed in "
                     "`fklib.report.paper`); `delta` (`<metric>_delta`) = ours − paper; empty where the paper has no such cell.")
    preds = set(df["predictor"]) if "predictor" in df.columns else set()
    if preds & set(REFERENCE_KINDS):
        lines.append(reference_legend())
    if any(c.endswith("_lo") for c in cols) or "lo" in cols:
        lines.append(INTERVAL_LEGEND + (" " + MARK_LEGEND if any(c.endswith("_vs_ref") for c in cols) else ""))
    versus = [r for r in LADDER if any(c.endswith(f"_vs_{r}") for c in cols)]
    if versus:
        lines.append(versus_legend(versus))
    if "bacc" in cols or any(c.startswith("bacc") for c in cols) or ("metric" in cols and "bacc" in set(df["metric"])):
        lines.append("`bacc`: balanced ACC, (TPR + TNR) / 2: fakes and reals weigh the same, one answer to every "
                     "input scores 0.5.")
    return lines


def reference_legend() -> str:
    """The sentence that says what each reference row knows (:data:`fklib.metrics.groups.REFERENCE_KNOWS`)."""
    return ("Reference rows: " + "; ".join(f"`{k}`: {REFERENCE_KNOWS[k]}" for k in REFERENCE_KINDS)
            + ". They make no detection, so their ACC is empty; a locator is useful only where it beats them. In a "
            "table of one property `global_mean` and `property_mean` are the same map.")


#: What ``v [lo, hi]`` is (:func:`fold_intervals`), and the ``+`` / ``-`` / ``~`` marks (:func:`fklib.metrics.groups.mark_versus`).
INTERVAL_LEGEND = "`v [lo, hi]`: the value and its 95 % bootstrap interval over identities (1000 resamples, seeded)."
MARK_LEGEND = ("On model rows the mark after it is a paired verdict against the best reference row of the same "
                   "column (the reference with the highest value): the per-image difference model − reference over the "
                   "same images, averaged, with its 95 % interval (identities resampled, an image's two values drawn "
                   "together); `+` where that interval lies above 0, `-` below 0, `~` where it contains 0.")


def versus_legend(references) -> str:
    """The sentence of the ``<metric>_vs_<reference>`` columns."""
    return ("`<metric>_vs_<reference>` (" + ", ".join(f"`{r}`" for r in references) + "): that paired difference, "
            "model − reference over the same images, with its 95 % interval; above 0: the model beats that reference.")


def save_table(df: pd.DataFrame, name: str, note: str = "", results_dir: str | Path | None = None,
               title: str | None = None) -> dict[str, Path]:
    """Write ``<results>/tables/<name>.csv`` and ``<name>.md``; return ``{"csv": path, "md": path}``.

    The CSV holds the frame at full precision (a non-default index becomes columns). The Markdown
    has a title line (default for ``table<N>``: the paper's caption), the ``note`` (how our setting
    differs, see :func:`setting_note`), a legend for ``paper``/``delta`` columns and reference
    rows when present, then the table with floats to 3 decimals and PSNR to 2
    (:func:`format_cell`). Each file is written to a temporary file in the same folder and renamed.

    Raises:
        ValueError: ``name`` is empty or holds a path separator.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"save_table: {name!r} is not a plain file name")
    folder = Path(results_dir) if results_dir is not None else paths.results_dir()
    folder = folder / "tables"
    n = _table_number(name)
    if title is None:
        title = f"Table {n}: {_paper.CAPTIONS[n]} (ours)" if n in _paper.CAPTIONS else name
    flat = _plain(df)
    parts = [f"# {title}", ""]
    if note:
        parts += [note.strip(), ""]
    legend = _legend(flat, n)
    if legend:
        parts += [" ".join(legend), ""]
    parts.append(markdown_table(flat))
    csv_path = _atomic_write_text(folder / f"{name}.csv", flat.to_csv(index=False))
    md_path = _atomic_write_text(folder / f"{name}.md", "\n".join(parts))
    return {"csv": csv_path, "md": md_path}


def paper_table(df: pd.DataFrame, table: int, by, on, metrics=TABLE_METRICS, aliases=None,
                predictors=None, add_mean: bool = False, order: tuple[str, list] | None = None,
                intervals: bool = True) -> pd.DataFrame:
    """Per-image rows -> the wide table of paper table ``table`` with the paper's value and our delta per cell.

    :func:`table_rows` (``by``, ``metrics``, ``predictors``, ``add_mean``, ``intervals``: the 95 %
    bootstrap interval over identities, ``<metric>_lo`` / ``_hi``, and :func:`fklib.metrics.groups.mark_versus`:
    paired verdicts against the reference rows, from ``df``'s per-image rows), then :func:`with_paper` (``on``, ``aliases``), then :func:`to_wide`; columns
    the paper lacks (all-NaN) are dropped. ``order = (column, values)`` sorts the rows by that column's
    listed values (others last, stable).
    """
    long = table_rows(df, by=list(by), metrics=metrics, predictors=predictors, add_mean=add_mean,
                      intervals=intervals)
    wide = to_wide(with_paper(long, table, on=list(on), aliases=aliases))
    wide = wide.dropna(axis=1, how="all")  # e.g. paper/delta columns of metrics the paper lacks
    if intervals:
        # the references are per test group; ``method`` names the model (reference rows carry their own name)
        wide = mark_versus(wide, [k for k in by if k in wide.columns and k != "method"], df)
    if order is not None:
        key = wide[order[0]].map({v: i for i, v in enumerate(order[1])}).fillna(len(order[1]))
        wide = wide.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k").reset_index(drop=True)
    return wide


def read_table(tables: str | Path, name: str) -> pd.DataFrame | None:
    """``<tables>/<name>.csv`` as a frame, or ``None`` when the table is not there (the summary and the claims
    are written from whichever tables a run produced)."""
    path = Path(tables) / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None
