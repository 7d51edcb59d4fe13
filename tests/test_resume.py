"""Killing a run and rerunning the same command gives the uninterrupted run's results.

A small config (one model, two word datasets, a TopK SAE, two settings) runs
once without interruption, and once killed twice at different points (SIGKILL
during SAE training, SIGTERM while probes are being fitted) and rerun with
the same command each time: no --unlock, no cleanup by hand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import build_tiny_llama
from workflow_helpers import REPO, snakemake, write_config, write_word_dataset

pytestmark = pytest.mark.slow

SAE_NAME = "topk-w64-k4"


def resume_config(model_dir: Path) -> dict:
    sae = {"name": SAE_NAME, "layer": 2, "architecture": "topk", "width": 64, "k": 4, "steps": 400,
           "batch_size": 128, "lr": 0.003, "dead_tokens": 2000, "checkpoint_every": 20}
    return {
        "datasets": {"reference": [], "user_csv_dir": "data", "max_rows": 150},
        "models": {"tiny": {"source": str(model_dir), "layers": [1, 2], "batch_size": 16, "saes": [sae]}},
        "probes": {"settings": {
            "normal": {"ks": [1, 4], "baselines": ["logreg_l2", "ridge"]},
            "label_noise": {"grid": [0.0, 0.3], "ks": [4]},
            "scarcity": {"enabled": False},
            "imbalance": {"enabled": False},
            "ood": {"enabled": False},
        }},
    }


def make_workdir(path: Path, model_dir: Path) -> Path:
    (path / "data").mkdir(parents=True)
    write_word_dataset(path / "data" / "words_a.csv", 160, range(1, 4), range(100, 103), seed=1)
    write_word_dataset(path / "data" / "words_b.csv", 160, range(200, 203), range(300, 303), seed=2)
    write_config(path, resume_config(model_dir))
    return path


def start_run(workdir: Path) -> subprocess.Popen:
    """`snakemake --cores 2 all_results` in its own process group, as a shell runs it."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--cores", "2", "all_results"]
    log = open(workdir / f"driver-{time.time_ns()}.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def kill_when(run: subprocess.Popen, ready, sig: signal.Signals, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if run.poll() is not None:
            raise AssertionError(f"the run ended (rc {run.returncode}) before the kill point")
        if time.monotonic() > deadline:
            raise AssertionError("the kill point was not reached in time")
        time.sleep(0.2)
    os.killpg(run.pid, sig)
    run.wait(timeout=120)


def result_tables(workdir: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for path in sorted((workdir / "results/tiny/tables").iterdir()):
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        tables[path.name] = table.sort_values(list(table.columns[:8])).reset_index(drop=True)
    return tables


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


def test_killed_twice_and_rerun_matches_an_uninterrupted_run(tmp_path, model_dir):
    reference = make_workdir(tmp_path / "uninterrupted", model_dir)
    snakemake(reference, "all_results")

    workdir = make_workdir(tmp_path / "killed", model_dir)
    checkpoint = workdir / f"results/tiny/checkpoints/{SAE_NAME}.pt"
    probes = workdir / "results/tiny/probes"

    # 1. SIGKILL to the driver and its jobs in the middle of SAE training:
    # Snakemake's lock and incomplete markers stay behind.
    kill_when(start_run(workdir), checkpoint.exists, signal.SIGKILL)
    assert list((workdir / ".snakemake/locks").glob("*.lock")), "a SIGKILL leaves Snakemake's lock"
    assert not (workdir / f"results/tiny/saes/{SAE_NAME}/sae.safetensors").exists()

    # 2. The same command again, SIGTERM once the resumed SAE's first probe fit is written.
    kill_when(start_run(workdir), lambda: any(probes.rglob("sae_*.parquet")), signal.SIGTERM)
    training_log = (workdir / f"logs/tiny/saes/{SAE_NAME}.log").read_text()
    assert f"resuming from checkpoint results/tiny/checkpoints/{SAE_NAME}.pt at step" in training_log

    # 3. The same command again, to the end.
    snakemake(workdir, "all_results")
    assert "Nothing to be done" in snakemake(workdir, "-n", "all_results").stdout

    expected, got = result_tables(reference), result_tables(workdir)
    assert set(got) == set(expected) >= {"normal.parquet", "label_noise.parquet", "sae_metrics.csv", "win_rates.csv"}
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)
    metrics = [json.loads((w / f"results/tiny/saes/{SAE_NAME}/metrics.json").read_text()) for w in (reference, workdir)]
    assert metrics[0] == metrics[1]
    assert not checkpoint.exists()  # removed once the SAE is saved
