"""The paper's comparisons, from the combined results tables.

Every choice between probes is made on validation AUC, never on test AUC;
the test AUC of the chosen probe is what gets reported. A *case* is one
(setting, dataset, grid value). Baselines compete at the model's main layer,
where the SAEs are.

- ``comparison``: per case and SAE, that SAE's best probe (over k) against
  the best baseline (over methods), and whether the SAE probe's test AUC is
  higher. The SAE ``all`` is the best probe of any SAE.
- ``win_rates``: per setting and SAE, the fraction of cases the SAE wins.
- ``quiver``: the reference's "quiver of arrows": per case, the method with
  the best validation AUC among the baselines, and among the baselines plus
  the SAE probes (ties go to the SAE probe, as in the reference notebooks).
"""

from __future__ import annotations

import pandas as pd

from saeprobe.config import SAE_METHOD

CASE = ["setting", "dataset", "setting_value"]
ALL_SAES = "all"


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
    columns = [*CASE, "baseline_choice", "baseline_test_auc", "with_sae_choice", "with_sae_test_auc"]
    if base_rows.empty:
        return pd.DataFrame(columns=columns)
    without = _best(base_rows, CASE)
    with_sae = _best(pd.concat([sae_rows, base_rows], ignore_index=True), CASE)  # SAE rows first: ties go to them
    frame = without[CASE].assign(baseline_choice=method_labels(without), baseline_test_auc=without["test_auc"]).merge(
        with_sae[CASE].assign(with_sae_choice=method_labels(with_sae), with_sae_test_auc=with_sae["test_auc"]), on=CASE)
    return frame[columns]
