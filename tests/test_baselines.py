import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from saeprobe.baselines import KNNProbe, MLPProbe, PCALogisticProbe, RidgeProbe, XGBoostProbe
from saeprobe.probes import binary_metrics, positive_scores
from saeprobe.splits import validation_splits

BASELINES = [RidgeProbe, PCALogisticProbe, KNNProbe, XGBoostProbe, MLPProbe]


def make_problem(n=300, d=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("cls", BASELINES)
def test_each_baseline_learns_a_linear_rule(cls):
    X, y = make_problem()
    probe = cls().fit(X[:200], y[:200])
    assert binary_metrics(probe, X[200:], y[200:])["test_auc"] > 0.8
    assert probe.best_params_ in probe.candidates_ and len(probe.val_scores_) == len(probe.candidates_)
    assert probe.val_auc_ == probe.val_scores_.max()


@pytest.mark.parametrize("cls", BASELINES)
def test_each_baseline_is_reproducible(cls):
    X, y = make_problem(n=120, seed=1)
    a, b = cls().fit(X, y), cls().fit(X, y)
    assert a.best_params_ == b.best_params_
    assert np.array_equal(positive_scores(a, X), positive_scores(b, X))


@pytest.mark.parametrize("cls", BASELINES)
def test_each_baseline_fits_two_rows(cls):
    # Data scarcity starts at two training rows: no validation, first candidate, training AUC.
    X, y = make_problem(n=40, seed=2)
    rows = [np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]]
    probe = cls().fit(X[rows], y[rows])
    assert probe.best_params_ == probe.candidates_[0] and len(probe.val_scores_) == 0
    assert 0 <= probe.val_auc_ <= 1
    assert positive_scores(probe, X).shape == (40,)


def test_choice_is_the_best_mean_validation_auc():
    X, y = make_problem(n=90, seed=3)  # below 128 rows: six folds
    probe = KNNProbe().fit(X, y)
    splits = validation_splits(y)
    for params, score in zip(probe.candidates_, probe.val_scores_):
        expected = np.mean([
            roc_auc_score(y[val], positive_scores(probe._build(params).fit(X[fit], y[fit]), X[val]))
            for fit, val in splits
        ])
        assert score == pytest.approx(expected)
    assert probe.best_params_ == probe.candidates_[int(np.argmax(probe.val_scores_))]


def test_grids_follow_the_reference():
    # PCA dimensions and KNN k: unique(logspace(0, log2(max), 10, base 2)) cast to int,
    # which truncates 2**log2(100) to 99 as in the reference.
    assert [c["n_components"] for c in PCALogisticProbe()._candidates(900, 576)] == [1, 2, 4, 7, 12, 21, 35, 59, 99]
    assert [c["n_neighbors"] for c in KNNProbe()._candidates(50, 576)] == [1, 2, 3, 5, 8, 13, 20, 32, 49]
    assert len(XGBoostProbe()._candidates(900, 576)) == 10
    assert len(RidgeProbe()._candidates(900, 576)) == 10


def test_scaling_is_fitted_without_the_validation_rows():
    # A feature that is constant on the fit rows but not on the validation rows
    # would leak if the scaler saw the validation rows.
    probe = RidgeProbe()._build({"alpha": 1.0})
    X = np.zeros((10, 2))
    X[:, 0] = np.arange(10)
    probe.fit(X[:8], np.array([0, 1] * 4))
    assert probe[0].mean_[0] == pytest.approx(3.5)
