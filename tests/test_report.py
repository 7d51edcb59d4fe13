"""Figures are functions of their tables: drawn twice, the same pixels."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from saeprobe.methods import SAE_METHOD
from saeprobe.report import plot_auc_vs_k, plot_baselines_by_layer


@pytest.fixture
def normal_table():
    rng = np.random.default_rng(0)
    rows = []
    for dataset in range(8):
        for layer in (3, 6):
            for method in ("logreg_l2", "knn"):
                rows.append({"dataset": f"d{dataset}", "method": method, "layer": layer, "sae": "", "k": None,
                             "test_auc": rng.uniform(0.6, 0.9)})
        for sae in ("topk", "relu"):
            for k in (1, 4, 16):
                rows.append({"dataset": f"d{dataset}", "method": SAE_METHOD, "layer": 3, "sae": sae, "k": k,
                             "test_auc": rng.uniform(0.5, 0.9)})
    table = pd.DataFrame(rows)
    table["k"] = table["k"].astype("Int64")
    return table


@pytest.mark.parametrize("plot", [plot_auc_vs_k, plot_baselines_by_layer])
def test_a_figure_with_confidence_bands_is_drawn_the_same_twice(tmp_path, normal_table, plot):
    plot(normal_table, tmp_path / "first.png")
    plot(normal_table, tmp_path / "second.png")
    first, second = imread(tmp_path / "first.png"), imread(tmp_path / "second.png")
    assert first.shape == second.shape and np.array_equal(first, second)


@pytest.mark.parametrize("plot, value", [("plot_autointerp_scores", "score"),
                                         ("plot_sensitivity", "generated_sensitivity")])
def test_latent_scores_are_drawn_by_sae_the_same_twice(tmp_path, plot, value):
    import saeprobe.report

    rng = np.random.default_rng(1)
    latents = pd.DataFrame({"sae": np.repeat(["topk", "relu"], 5), "architecture": np.repeat(["topk", "relu"], 5),
                            value: rng.uniform(0, 1, 10), "original_sensitivity": rng.uniform(0.5, 1, 10),
                            "explainer": "offline:smollm2-135m"})
    latents.loc[3, value] = np.nan  # a latent without a score is left out, not drawn at 0
    draw = getattr(saeprobe.report, plot)
    draw(latents, tmp_path / "first.png", model="m")
    draw(latents, tmp_path / "second.png", model="m")
    first, second = imread(tmp_path / "first.png"), imread(tmp_path / "second.png")
    assert first.shape == second.shape and np.array_equal(first, second)
    draw(latents.assign(**{value: np.nan}), tmp_path / "empty.png")  # nothing to draw: a note, not a crash
    assert (tmp_path / "empty.png").stat().st_size > 5_000
