import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from saeprobe.probing import RESULT_COLUMNS, baseline_table, sae_probe_table, setting_cases
from saeprobe.splits import flip_labels, normal_split


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


def test_imbalance_trains_and_tests_at_each_fraction():
    X, y = make_problem(n=600)
    cases = setting_cases("imbalance", y, grid=[0.1, 0.5, 0.9])
    sizes = {(len(c.train), len(c.test)) for c in cases}
    assert len(sizes) == 1  # one train size for the whole grid
    for case in cases:
        assert case.train_labels.mean() == pytest.approx(case.value, abs=0.01)
        assert y[case.test].mean() == pytest.approx(case.value, abs=0.01)
        assert np.array_equal(case.train_labels, y[case.train])


def test_label_noise_flips_training_labels_only():
    X, y = make_problem()
    cases = setting_cases("label_noise", y, grid=[0.0, 0.3])
    train, test = normal_split(y)
    for case in cases:
        assert np.array_equal(case.train, train) and np.array_equal(case.test, test)
        assert np.array_equal(case.train_labels, flip_labels(y[train], case.value))
    assert (cases[1].train_labels != y[train]).sum() == int(0.3 * len(train))
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
        setting_cases("noisy", y)


def test_tables_are_identical_across_runs():
    X, y = make_problem(n=200)
    for method in ("xgboost", "mlp", "pca_logreg"):
        a = baseline_table(method, X, y, setting="scarcity", grid=[20, 100], layer=0)
        b = baseline_table(method, X, y, setting="scarcity", grid=[20, 100], layer=0)
        pd.testing.assert_frame_equal(a, b)
