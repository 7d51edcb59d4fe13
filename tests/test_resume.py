"""Killing a run and rerunning the same command gives the uninterrupted run's results, and two
fresh runs give the same results.

A small config runs once without interruption, and once killed three times
at different points (SIGKILL during SAE training, SIGTERM while the SAE
probes are being fitted, SIGKILL while the figures are drawn) and rerun with
the same command each time: no --unlock, no cleanup by hand.
"""

from __future__ import annotations

import json
import signal

import pandas as pd
import pytest

from workflow_helpers import (
    SMALL_SAE,
    differing_results,
    kill_when,
    make_small_workdir,
    result_tables,
    small_config,
    snakemake,
    start_run,
)

pytestmark = pytest.mark.slow

SAE_NAME = SMALL_SAE["name"]


def test_killed_three_times_and_rerun_matches_an_uninterrupted_run(tmp_path, tiny_model_dir):
    config = small_config(tiny_model_dir)
    reference = make_small_workdir(tmp_path / "uninterrupted", config)
    snakemake(reference, "all_results")

    workdir = make_small_workdir(tmp_path / "killed", config)
    checkpoint = workdir / f"results/tiny/checkpoints/{SAE_NAME}.pt"
    probes = workdir / "results/tiny/probes"

    # 1. SIGKILL to the driver and its jobs in the middle of SAE training:
    # Snakemake's lock and incomplete markers stay behind.
    kill_when(start_run(workdir, "--cores", "2"), checkpoint.exists, signal.SIGKILL, "the first checkpoint")
    assert list((workdir / ".snakemake/locks").glob("*.lock")), "a SIGKILL leaves Snakemake's lock"
    assert not (workdir / f"results/tiny/saes/{SAE_NAME}/sae.safetensors").exists()

    # 2. The same command again; SIGTERM once the resumed SAE's first probe fit is written.
    kill_when(start_run(workdir, "--cores", "2"), lambda: any(probes.rglob("sae_*.parquet")), signal.SIGTERM,
              "an SAE probe fit")
    training_log = (workdir / f"logs/tiny/saes/{SAE_NAME}.log").read_text()
    assert f"resuming from checkpoint results/tiny/checkpoints/{SAE_NAME}.pt at step" in training_log

    # 3. The same command again; SIGKILL once the first figure is drawn, while the others are being drawn.
    figures = workdir / "results/tiny/figures"
    kill_when(start_run(workdir, "--cores", "2"), lambda: any(figures.glob("*.png")), signal.SIGKILL, "a figure")
    assert len(list(figures.glob("*.png"))) < len(list((reference / "results/tiny/figures").glob("*.png")))

    # 4. The same command again, to the end.
    snakemake(workdir, "all_results")
    assert "Nothing to be done" in snakemake(workdir, "-n", "all_results").stdout

    expected, got = result_tables(reference), result_tables(workdir)
    assert set(got) == set(expected) >= {"normal.parquet", "label_noise.parquet", "sae_metrics.csv", "win_rates.csv"}
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)
    metrics = [json.loads((w / f"results/tiny/saes/{SAE_NAME}/metrics.json").read_text()) for w in (reference, workdir)]
    assert metrics[0] == metrics[1]
    assert not checkpoint.exists()  # removed once the SAE is saved
    # Every result, figures and activations included, as the README defines identical.
    assert differing_results(reference, workdir) == []


def test_two_fresh_runs_give_identical_results(tmp_path, tiny_model_dir):
    config = small_config(tiny_model_dir)
    first = make_small_workdir(tmp_path / "first", config)
    second = make_small_workdir(tmp_path / "second", config)
    for workdir in (first, second):
        snakemake(workdir, "all_results")
    assert any((first / "results/tiny/figures").glob("*.png"))
    assert differing_results(first, second) == []
