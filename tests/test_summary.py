import pandas as pd
import pytest

from saeprobe.summary import comparison, quiver, reference_quiver, win_rates


def row(method, val, test, dataset="d1", sae="", k=None, layer=5, setting="normal", value=None, skipped=""):
    return {"setting": setting, "dataset": dataset, "setting_value": value, "method": method, "layer": layer,
            "sae": sae, "k": k, "val_auc": val, "test_auc": test, "skipped": skipped}


def frame(rows):
    table = pd.DataFrame(rows)
    table["k"] = table["k"].astype("Int64")
    table["setting_value"] = table["setting_value"].astype("Float64")
    return table


TABLE = frame([
    # d1: the SAE's best-validated probe (k=16) wins on test; its k=128 has a higher test AUC but is not chosen.
    row("logreg_l2", 0.90, 0.85),
    row("knn", 0.80, 0.95),                      # best test AUC, but not chosen: validation decides
    row("logreg_l2", 0.99, 0.99, layer=9),       # another layer: not in the comparison
    row("sae_topk_l1", 0.92, 0.88, sae="a", k=16),
    row("sae_topk_l1", 0.91, 0.97, sae="a", k=128),
    row("sae_topk_l1", 0.85, 0.80, sae="b", k=16),
    # d2: a tie on validation between the baseline and SAE b
    row("logreg_l2", 0.90, 0.91, dataset="d2"),
    row("sae_topk_l1", 0.90, 0.70, dataset="d2", sae="b", k=16),
    row("sae_topk_l1", 0.60, 0.60, dataset="d2", sae="a", k=16),
    # scarcity: a skipped size is left out
    row("logreg_l2", 0.70, 0.70, setting="scarcity", value=2),
    row("sae_topk_l1", 0.75, 0.65, setting="scarcity", value=2, sae="a", k=16),
    row("logreg_l2", None, None, setting="scarcity", value=2048, skipped="too few rows"),
])


def test_comparison_picks_by_validation_and_reports_test():
    compared = comparison(TABLE, main_layer=5).set_index(["setting", "dataset", "sae"])
    d1a = compared.loc[("normal", "d1", "a")]
    assert (d1a["sae_k"], d1a["sae_test_auc"], d1a["baseline"], d1a["baseline_test_auc"]) == (16, 0.88, "logreg_l2", 0.85)
    assert bool(d1a["sae_wins"]) and d1a["test_auc_gain"] == pytest.approx(0.03)
    assert not compared.loc[("normal", "d1", "b"), "sae_wins"]
    assert compared.loc[("normal", "d1", "all"), "sae_k"] == 16  # SAE a's k=16 has the best validation AUC
    assert len(compared.loc["scarcity"]) == 2  # size 2 only (a and all); the skipped size is absent


def test_win_rates_per_setting_and_sae():
    rates = win_rates(comparison(TABLE, main_layer=5)).set_index(["setting", "sae"])
    assert rates.loc[("normal", "a"), ["cases", "wins"]].tolist() == [2, 1]
    assert rates.loc[("normal", "a"), "win_rate"] == 0.5
    assert rates.loc[("normal", "b"), "wins"] == 0
    assert rates.loc[("scarcity", "a"), "win_rate"] == 0.0


def test_quiver_chooses_on_validation_and_ties_go_to_the_sae():
    arrows = quiver(TABLE, main_layer=5).set_index(["setting", "dataset"])
    d1 = arrows.loc[("normal", "d1")]
    assert (d1["baseline_choice"], d1["baseline_test_auc"]) == ("logreg_l2", 0.85)
    assert (d1["with_sae_choice"], d1["with_sae_test_auc"]) == ("a k=16", 0.88)
    d2 = arrows.loc[("normal", "d2")]
    assert (d2["with_sae_choice"], d2["with_sae_test_auc"]) == ("b k=16", 0.70)


REFERENCE_TABLE = frame([
    # normal, d1: ridge and k=4 are not the reference's; knn and logreg_l2 tie, the SAE ties them too.
    row("knn", 0.90, 0.80),
    row("logreg_l2", 0.90, 0.85),
    row("ridge", 0.99, 0.99),
    row("sae_topk_l1", 0.99, 0.99, sae="a", k=4),
    row("sae_topk_l1", 0.90, 0.70, sae="a", k=16),
    # scarcity, size 2: the same tie between the baseline and the SAE probe
    row("pca_logreg", 0.80, 0.75, setting="scarcity", value=2),
    row("sae_topk_l1", 0.80, 0.60, setting="scarcity", value=2, sae="a", k=128),
    # label noise: the reference draws no quiver there
    row("logreg_l2", 0.80, 0.80, setting="label_noise", value=0.1),
    row("sae_topk_l1", 0.90, 0.90, setting="label_noise", value=0.1, sae="a", k=16),
])


def test_reference_quiver_keeps_its_settings_baselines_and_ks_and_breaks_ties_its_way():
    arrows = reference_quiver(REFERENCE_TABLE, main_layer=5).set_index(["setting", "dataset"])
    assert list(arrows.index.get_level_values("setting")) == ["normal", "scarcity"]
    normal = arrows.loc[("normal", "d1")]
    # logreg_l2 comes first in the reference's tables; in normal its baselines win a tie with an SAE probe.
    assert (normal["baseline_choice"], normal["with_sae_choice"], normal["with_sae_test_auc"]) == (
        "logreg_l2", "logreg_l2", 0.85)
    scarcity = arrows.loc[("scarcity", "d1")]
    assert (scarcity["baseline_choice"], scarcity["with_sae_choice"]) == ("pca_logreg", "a k=128")
    wide = quiver(REFERENCE_TABLE, main_layer=5).set_index(["setting", "dataset"])
    assert wide.loc[("normal", "d1"), "with_sae_choice"] == "a k=4" and ("label_noise", "d1") in wide.index


def test_reference_quiver_of_a_table_without_its_settings_is_empty():
    noise_only = REFERENCE_TABLE[REFERENCE_TABLE["setting"] == "label_noise"]
    assert reference_quiver(noise_only, main_layer=5).empty
    assert list(reference_quiver(noise_only, main_layer=5).columns) == list(quiver(TABLE, 5).columns)
