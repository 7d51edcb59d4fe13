"""The representation stage's job (``representation.analysis``) and tables on small synthetic datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from saeprobe.representation.analysis import LOGREG, RAW, DatasetRows, RepresentationSettings, analyse
from saeprobe.representation.tables import representation_tables
from saeprobe.splits import normal_split

SETTINGS = RepresentationSettings(logistic_top=5, salient_top=4, selectivity_top=3, cluster_positives=20)


def synthetic(n_datasets: int, dims: int = 12, rows: int = 300, sparse: bool = False, seed: int = 0):
    """Datasets whose label is carried by column ``i`` of dataset ``i`` (shifted by 3 for positives)."""
    rng = np.random.default_rng(seed)
    datasets = {}
    for i in range(n_datasets):
        y = np.tile([0, 1], rows // 2)
        x = rng.normal(size=(rows, dims))
        x[:, i] += 3.0 * y
        if sparse:
            x = np.maximum(x, 0.0)  # non-negative and often zero, as SAE latents
        datasets[f"d{i}"] = DatasetRows(x, y, *normal_split(y))
    return datasets


def test_residual_rows_find_the_informative_dimension_and_separate_it():
    per_dataset, clusters, pairwise = analyse("residual", synthetic(3), SETTINGS)
    assert list(per_dataset.groupby("dataset")["representation"].agg(list)) == [[RAW, LOGREG]] * 3
    logreg = per_dataset[per_dataset["representation"] == LOGREG].set_index("dataset")
    for i in range(3):
        assert logreg.loc[f"d{i}", "top_dims"][0] == i  # the label's column has the largest |coef|
    assert (per_dataset["auc"] > 0.9).all()  # a 3-sd shift: AUC 0.98 for the ideal direction
    assert (logreg["n_dims"] == 5).all() and (per_dataset[per_dataset["representation"] == RAW]["n_dims"] == 12).all()
    raw = per_dataset[per_dataset["representation"] == RAW].set_index("dataset")
    assert per_dataset["jss"].between(0, 1).all() and per_dataset["sno"].between(0, 1).all()
    assert raw["gini"].isna().all() and logreg["concept_gini"].between(0, 1).all()
    assert set(clusters["representation"]) == {RAW, LOGREG} and (clusters["n_concepts"] == 3).all()
    assert len(pairwise) == 2 * 3  # three pairs per representation


def test_sae_rows_filter_latents_that_rarely_fire():
    datasets = synthetic(3, sparse=True)
    for data in datasets.values():
        data.x[:, -1] = 0.0
        data.x[:3, -1] = 1.0  # fires on 1% of rows: below the 10% filter
    per_dataset, clusters, _ = analyse("sae-x", datasets, SETTINGS)
    assert (per_dataset["representation"] == "sae-x").all()
    assert (per_dataset["auc_dims"] == 11).all()  # the rare latent is not in the AUC's fit
    assert (per_dataset["frac_active"] > 0).all() and per_dataset["gini"].between(0, 1).all()
    assert list(clusters["representation"]) == ["sae-x"]


def test_fewer_than_three_datasets_give_no_cluster_table():
    per_dataset, clusters, pairwise = analyse("residual", synthetic(2), SETTINGS)
    assert len(per_dataset) == 4 and clusters.empty and pairwise.empty


def test_every_latent_that_fires_enters_the_sae_auc_when_asked():
    datasets = synthetic(3, sparse=True)
    # Half of a rectified noise column is zero; the label's column fires on ~3/4 of the rows.
    firing = RepresentationSettings(**{**SETTINGS.__dict__, "firing_filter": 0.6})
    every = RepresentationSettings(**{**SETTINGS.__dict__, "firing_filter": 0.6, "sae_auc_latents": "all"})
    assert (analyse("sae-x", datasets, firing)[0]["auc_dims"] == 1).all()
    assert (analyse("sae-x", datasets, every)[0]["auc_dims"] == 12).all()
    with pytest.raises(ValueError, match="lower representation.firing_filter"):
        analyse("sae-x", datasets, RepresentationSettings(**{**SETTINGS.__dict__, "firing_filter": 0.9}))


def job(representation, rows):
    frame = pd.DataFrame(rows).assign(layer=2)
    return frame


def test_feature_reuse_compares_each_sae_with_logreg_by_hand(tmp_path):
    groups = tmp_path / "groups.csv"
    groups.write_text("group,dataset\ng,a\ng,b\ng,c\n")
    residual = job("residual", [
        {"dataset": d, "representation": r, "jss": 0.5, "sno": 0.1, "auc": 0.9, "n_dims": 5,
         "gini": None if r == RAW else 0.3, "top_dims": None if r == RAW else dims}
        for d, dims in (("a", [1, 2, 3]), ("b", [1, 2, 4]), ("c", [7, 8, 9])) for r in (RAW, LOGREG)])
    sae = job("s", [{"dataset": d, "representation": "s", "jss": 0.4, "sno": 0.2, "auc": 0.8, "n_dims": 9,
                     "gini": 0.6, "top_dims": dims}
                    for d, dims in (("a", [5, 6, 7]), ("b", [5, 6, 7]), ("c", [5, 6, 8]))])
    tables = representation_tables([residual, sae], [pd.DataFrame()] * 2, [pd.DataFrame()] * 2, str(groups))
    reuse = tables["feature_reuse"].set_index(["representation", "dataset_a", "dataset_b"])
    assert reuse.loc[(LOGREG, "a", "b"), "jaccard"] == pytest.approx(2 / 4)
    assert reuse.loc[(LOGREG, "a", "c"), "jaccard"] == 0.0
    assert reuse.loc[("s", "a", "b"), "jaccard"] == 1.0
    assert reuse.loc[("s", "a", "b"), "delta_jaccard"] == pytest.approx(1.0 - 0.5)
    assert reuse.loc[("s", "b", "c"), "delta_jaccard"] == pytest.approx(2 / 4 - 0.0)
    assert reuse.loc[(LOGREG, "a", "b"), ["delta_jaccard"]].isna().all()
    selectivity = tables["selectivity"]
    assert set(selectivity["representation"]) == {LOGREG, "s"} and (selectivity["group"] == "g").all()
    assert len(tables["separability"]) == 9 and tables["cluster_separation"].empty
