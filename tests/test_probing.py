import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from saeprobe.probing import BASELINES, RESULT_COLUMNS, baseline_table, sae_probe_table


def make_problem(n=300, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, int)
    y[rng.permutation(n)[: n // 2]] = 1
    X[:, 0] += 1.5 * y
    return X, y


def test_normal_table_has_the_documented_columns():
    X, y = make_problem()
    base = baseline_table("logreg_l2", X, y, model="m", dataset="d", layer=3)
    assert list(base.columns) == RESULT_COLUMNS and len(base) == 1
    row = base.iloc[0]
    assert (row["n_train"], row["n_test"], row["setting"], row["skipped"]) == (200, 100, "normal", "")
    assert row["test_auc"] > 0.8 and "C" in json.loads(row["params"])
    sae = sae_probe_table(sp.csr_matrix(np.abs(X)), y, ks=[1, 4, 64], model="m", dataset="d", layer=3, sae="s")
    assert sae["k"].tolist() == [1, 4]  # 64 exceeds the width of 20
    assert set(sae["method"]) == {"sae_topk_l1"} and list(sae.columns) == RESULT_COLUMNS


def test_scarcity_records_sizes_the_dataset_cannot_afford():
    X, y = make_problem()
    table = baseline_table("knn", X, y, setting="scarcity", grid=[2, 10, 200, 201], layer=0)
    assert table["setting_value"].tolist() == [2, 10, 200, 201]
    assert table["n_train"].tolist()[:3] == [2, 10, 200]
    skipped = table.iloc[3]
    assert "201 training rows need 301 rows" in skipped["skipped"] and pd.isna(skipped["test_auc"])
    assert (table["n_test"].iloc[:3] == 300 - table["n_train"].iloc[:3]).all()


def test_label_noise_tests_on_clean_labels():
    # The cases themselves: tests/test_settings.py.
    X, y = make_problem()
    table = baseline_table("logreg_l2", X, y, setting="label_noise", grid=[0.0, 0.5], layer=0)
    # Half the labels flipped leaves no signal; clean test labels show it.
    assert table["test_auc"].iloc[0] > 0.8 and table["test_auc"].iloc[1] < table["test_auc"].iloc[0]


def test_ood_trains_in_distribution_and_tests_on_the_ood_set():
    X, y = make_problem(n=400)
    X_ood, y_ood = make_problem(n=50, seed=9)
    X_ood[:, 0] -= 1.5 * y_ood  # the in-distribution rule fails out of distribution
    table = baseline_table("logreg_l2", X, y, setting="ood", ood=(X_ood, y_ood), layer=0)
    assert table["n_train"].tolist() == [400] and table["n_test"].tolist() == [50]
    assert table["test_auc"].iloc[0] < 0.7
    with pytest.raises(ValueError, match="OOD set's labels"):
        baseline_table("logreg_l2", X, y, setting="ood", layer=0)


def test_unknown_names_are_refused():
    X, y = make_problem()
    with pytest.raises(ValueError, match="unknown baseline 'svm'"):
        baseline_table("svm", X, y)
    with pytest.raises(ValueError, match="unknown setting 'noisy'"):
        baseline_table("logreg_l2", X, y, setting="noisy")


def test_tables_are_identical_across_runs():
    X, y = make_problem(n=200)
    for method in ("xgboost", "mlp", "pca_logreg"):
        a = baseline_table(method, X, y, setting="scarcity", grid=[20, 100], layer=0)
        b = baseline_table(method, X, y, setting="scarcity", grid=[20, 100], layer=0)
        pd.testing.assert_frame_equal(a, b)


def test_fits_without_validation_rows_are_flagged():
    # n <= 3: no validation split, so the reported val_auc is the training AUC.
    X, y = make_problem()
    table = baseline_table("logreg_l2", X, y, setting="scarcity", grid=[2, 3, 4, 20, 201], layer=0)
    assert table["val_auc_is_train_auc"].dtype == "boolean"
    assert table["val_auc_is_train_auc"].tolist()[:4] == [True, True, False, False]
    assert pd.isna(table["val_auc_is_train_auc"].iloc[4])  # skipped: nothing fitted
    sae = sae_probe_table(sp.csr_matrix(np.abs(X)), y, ks=[2], setting="scarcity", grid=[3, 20], sae="s")
    assert sae["val_auc_is_train_auc"].tolist() == [True, False]
    # The flag's threshold is the probes' own.
    from saeprobe.probes import ValidatedLogisticRegression
    from saeprobe.splits import MAX_UNVALIDATED_ROWS

    rows = np.flatnonzero(y == 0)[:2].tolist() + np.flatnonzero(y == 1)[:3].tolist()
    fit = lambda n: ValidatedLogisticRegression(engine="sklearn").fit(X[rows[:n]], y[rows[:n]])
    assert fit(MAX_UNVALIDATED_ROWS).val_scores_.size == 0 and fit(MAX_UNVALIDATED_ROWS + 1).val_scores_.size > 0


def test_baseline_factories_build_their_estimators():
    from saeprobe import baselines, probes

    expected = {"logreg_l2": probes.ValidatedLogisticRegression, "ridge": baselines.RidgeProbe,
                "pca_logreg": baselines.PCALogisticProbe, "knn": baselines.KNNProbe,
                "xgboost": baselines.XGBoostProbe, "mlp": baselines.MLPProbe}
    assert list(BASELINES) == list(expected)
    for name, cls in expected.items():
        assert type(BASELINES[name]("sklearn", 3)) is cls, name
    assert BASELINES["logreg_l2"]("sklearn", 3).engine == "sklearn"
    assert BASELINES["xgboost"]("batched", 3).n_jobs == 3


def test_importing_probing_leaves_the_estimators_unloaded():
    code = ("import sys, saeprobe.probing; "
            "print(sorted(m for m in ('torch', 'sklearn', 'xgboost', 'saeprobe.probes', 'saeprobe.baselines') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_test_rows_repeating_a_training_text_are_counted():
    from saeprobe.splits import normal_split

    X, y = make_problem()
    texts = np.array([f"prompt {i}" for i in range(len(y))], dtype=object)
    train, test = normal_split(y)
    texts[test[:7]] = texts[train[:7]]  # seven test prompts also in training
    table = baseline_table("ridge", X, y, texts=(texts, None), layer=0)
    assert table["n_test_in_train"].tolist() == [7]
    assert pd.isna(baseline_table("ridge", X, y, layer=0)["n_test_in_train"]).all()  # texts not given
    # OOD: the OOD set's texts against the training texts.
    ood_texts = texts[:100].copy()
    ood_texts[50:] = "unseen"
    sae = sae_probe_table(sp.csr_matrix(np.abs(X)), y, ks=[2], setting="ood", ood=(np.abs(X[:100]), y[:100]),
                          texts=(texts, ood_texts), sae="s")
    expected = np.isin(ood_texts, texts).sum()  # OOD tests on every row of the OOD set
    assert 0 < expected < 100 and sae["n_test_in_train"].tolist() == [expected]


def test_solver_converged_is_recorded_for_logistic_searches_only():
    X, y = make_problem()
    assert baseline_table("logreg_l2", X, y)["solver_converged"].tolist() == [True]
    assert sae_probe_table(sp.csr_matrix(np.abs(X)), y, ks=[4])["solver_converged"].tolist() == [True]
    assert pd.isna(baseline_table("ridge", X, y)["solver_converged"].iloc[0])
