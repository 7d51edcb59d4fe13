"""The paper's comparisons, from the combined results tables.

Every choice between probes is made on validation AUC, never on test AUC;
the test AUC of the chosen probe is what gets reported. A *case* is one
(setting, dataset, grid value). Baselines compete at the model's main layer,
where the SAEs are.

- ``comparison``: per case and SAE, that SAE's best probe (over k) against
  the best baseline (over methods), and whether the SAE probe's test AUC is
  higher. The SAE ``all`` is the best probe of any SAE.
- ``win_rates``: per setting and SAE, the fraction of cases the SAE wins.
- ``quiver``: the "quiver of arrows", widened: per case of every setting,
  the method with the best validation AUC among the baselines, and among the
  baselines plus every SAE probe (ties go to the SAE probe).
- ``reference_quiver``: the quiver as the reference draws it
  (plot_combined.ipynb, plot_normal.ipynb): only in the settings whose
  ``reference_quiver_ties`` is set (normal, scarcity, imbalance), only its
  five baselines (no ridge) and the SAE probes at k = 16 and 128, and ties
  as its notebooks break them.
"""

from __future__ import annotations

import pandas as pd

from saeprobe.methods import REFERENCE_BASELINES, SAE_METHOD
from saeprobe.settings import SETTINGS

CASE = ["setting", "dataset", "setting_value"]
ALL_SAES = "all"
QUIVER_COLUMNS = [*CASE, "baseline_choice", "baseline_test_auc", "with_sae_choice", "with_sae_test_auc"]
# The SAE probes of the reference's quiver (its k in every setting but normal).
REFERENCE_QUIVER_KS = (16, 128)


def fitted_rows(table: pd.DataFrame, main_layer: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fitted (not skipped) SAE probe rows, and the baseline rows at ``main_layer``."""
    table = table[table["skipped"].fillna("") == ""]
    is_sae = table["method"] == SAE_METHOD
    return table[is_sae], table[~is_sae & (table["layer"] == main_layer)]


def _best(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group, the first row with the highest validation AUC (rows keep their order)."""
    order = rows.reset_index(drop=True)
    picks = order.groupby(by, dropna=False, sort=True)["val_auc"].idxmax()
    return order.loc[picks.to_numpy()].reset_index(drop=True)


def method_labels(rows: pd.DataFrame) -> pd.Series:
    """A label per row: the baseline's name, or ``<sae> k=<k>``."""
    sae = rows["method"] == SAE_METHOD
    k = rows["k"].astype("string").fillna("")
    return rows["method"].where(~sae, rows["sae"] + " k=" + k)


def comparison(table: pd.DataFrame, main_layer: int) -> pd.DataFrame:
    """One row per case and SAE: the best probe of that SAE against the best baseline."""
    sae_rows, base_rows = fitted_rows(table, main_layer)
    if sae_rows.empty or base_rows.empty:
        return pd.DataFrame(columns=[*CASE, "sae", "sae_k", "sae_val_auc", "sae_test_auc", "baseline",
                                     "baseline_val_auc", "baseline_test_auc", "test_auc_gain", "sae_wins"])
    baseline = _best(base_rows, CASE)[[*CASE, "method", "val_auc", "test_auc"]].rename(
        columns={"method": "baseline", "val_auc": "baseline_val_auc", "test_auc": "baseline_test_auc"})
    per_sae = _best(sae_rows, [*CASE, "sae"])
    any_sae = _best(sae_rows, CASE).assign(sae=ALL_SAES)
    best_sae = pd.concat([per_sae, any_sae], ignore_index=True)[[*CASE, "sae", "k", "val_auc", "test_auc"]].rename(
        columns={"k": "sae_k", "val_auc": "sae_val_auc", "test_auc": "sae_test_auc"})
    frame = best_sae.merge(baseline, on=CASE, how="inner")
    frame["test_auc_gain"] = frame["sae_test_auc"] - frame["baseline_test_auc"]
    frame["sae_wins"] = frame["test_auc_gain"] > 0
    return frame.sort_values([*CASE, "sae"], kind="stable").reset_index(drop=True)


def win_rates(compared: pd.DataFrame) -> pd.DataFrame:
    """Per setting and SAE: cases, wins, and the fraction won (from ``comparison``)."""
    grouped = compared.groupby(["setting", "sae"], sort=True)
    frame = grouped.agg(cases=("sae_wins", "size"), wins=("sae_wins", "sum"),
                        mean_test_auc_gain=("test_auc_gain", "mean")).reset_index()
    frame["win_rate"] = frame["wins"] / frame["cases"]
    return frame[["setting", "sae", "cases", "wins", "win_rate", "mean_test_auc_gain"]]


def quiver(table: pd.DataFrame, main_layer: int) -> pd.DataFrame:
    """Per case, the validation-chosen method without and with the SAE probes, and their test AUCs."""
    sae_rows, base_rows = fitted_rows(table, main_layer)
    return _arrows(base_rows, pd.concat([sae_rows, base_rows], ignore_index=True))  # SAE rows first: ties go to them


def reference_quiver(table: pd.DataFrame, main_layer: int) -> pd.DataFrame:
    """``quiver`` as the reference defines it: its settings, baselines and ks.

    In its notebooks the first row of a tie wins (``groupby().idxmax()``):
    in normal the baselines come first, in scarcity and imbalance it sorts
    the SAE probes first. Among themselves the baselines come in the order
    of its tables (logreg, pca, knn, xgboost, mlp), the SAE probes in ours
    (its sort is not stable, so it has no fixed order there).
    """
    sae_rows, base_rows = fitted_rows(table, main_layer)
    base_rows = base_rows[base_rows["method"].isin(REFERENCE_BASELINES)].sort_values(
        "method", key=lambda methods: methods.map(REFERENCE_BASELINES.index), kind="stable")
    sae_rows = sae_rows[sae_rows["k"].isin(REFERENCE_QUIVER_KS)]
    frames = []
    for name, setting in SETTINGS.items():
        if setting.reference_quiver_ties is None:
            continue
        base, sae = base_rows[base_rows["setting"] == name], sae_rows[sae_rows["setting"] == name]
        candidates = [sae, base] if setting.reference_quiver_ties == "sae" else [base, sae]
        frames.append(_arrows(base, pd.concat(candidates, ignore_index=True)))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=QUIVER_COLUMNS)


def _arrows(without: pd.DataFrame, with_sae: pd.DataFrame) -> pd.DataFrame:
    """Per case, the best-validated row of ``without`` and of ``with_sae`` (first row wins a tie)."""
    if without.empty:
        return pd.DataFrame(columns=QUIVER_COLUMNS)
    without, with_sae = _best(without, CASE), _best(with_sae, CASE)
    frame = without[CASE].assign(baseline_choice=method_labels(without), baseline_test_auc=without["test_auc"]).merge(
        with_sae[CASE].assign(with_sae_choice=method_labels(with_sae), with_sae_test_auc=with_sae["test_auc"]), on=CASE)
    return frame[QUIVER_COLUMNS]
