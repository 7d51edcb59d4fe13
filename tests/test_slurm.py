"""The workflow on a real SLURM cluster (a single node on this machine,
tests/slurm/local_cluster.sh), through the shipped profile and the executor
plugin, while a preemption, an scancel and a killed driver interrupt it.

The cluster needs root to set up (Debian's slurm-wlm packages). Where it
cannot start, the tests skip, unless SAEPROBE_REQUIRE_SLURM=1 (as in CI):
then they fail.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from saeprobe.driver import snakemake_slurm_jobs
from workflow_helpers import (
    REPO,
    SMALL_SAE,
    make_small_workdir,
    result_tables,
    small_config,
    snakemake,
    start_run,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

CLUSTER = REPO / "tests/slurm/local_cluster.sh"
# The shipped profile, with what this 2-CPU, accounting-less cluster needs.
PROFILE_ARGS = (
    "--profile", str(REPO / "profiles/slurm"), "--cores", "2", "--slurm-no-account",
    "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5", "--latency-wait", "5",
)
SAE_NAME = SMALL_SAE["name"]


@pytest.fixture(scope="session")
def slurm_cluster():
    try:
        subprocess.run([str(CLUSTER), "start"], check=True, capture_output=True, text=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
        output = getattr(err, "stderr", "") or ""
        if os.environ.get("SAEPROBE_REQUIRE_SLURM") == "1":
            pytest.fail(f"the local SLURM cluster did not start: {err}\n{output}")
        pytest.skip(f"no local SLURM cluster (tests/slurm/local_cluster.sh start failed: {output.strip()[-300:]})")
    yield
    subprocess.run(["scancel", "--me"], check=False)
    subprocess.run([str(CLUSTER), "stop"], check=False, capture_output=True)


def running(workdir: Path, comment_prefix: str) -> list[dict]:
    return [j for j in snakemake_slurm_jobs(workdir) if j["state"] == "RUNNING" and j["comment"].startswith(comment_prefix)]


def show_job(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout


def test_profile_dry_run_requests_resources_from_config(tmp_path, tiny_model_dir):
    """No cluster needed: the profile parses, groups the probe fits and asks for the configured resources."""
    config = small_config(tiny_model_dir)
    config["resources"] = {"gpu": {"gres": "gpu:1", "mem_mb": 12000}, "rules": {"sae_train": {"runtime": 90}}}
    workdir = make_small_workdir(tmp_path, config)
    out = snakemake(workdir, "-n", "all_results", "--profile", str(REPO / "profiles/slurm")).stdout
    assert "Group job probe_fits" in out
    train = out[out.index("rule sae_train:"):]
    train = train[:train.index("\n\n")]
    assert "gres=gpu:1" in train and "mem_mb=12000" in train and "runtime=90" in train


def test_pipeline_on_slurm_survives_preemption_scancel_and_a_killed_driver(slurm_cluster, tmp_path, tiny_model_dir):
    # Long enough training (~15 s) for a preemption to land in the middle of it.
    config = small_config(tiny_model_dir, sae_steps=6000)
    config["models"]["tiny"]["saes"][0]["checkpoint_every"] = 200
    # The node has 2 cores and one (nominal) GPU: GPU jobs ask for it with
    # --gres=gpu:1, as on a GPU cluster, and run one at a time.
    config["resources"] = {"gpu": {"gres": "gpu:1", "threads": 1, "mem_mb": 1000, "runtime": 10},
                           "cpu": {"threads": 1, "mem_mb": 500, "runtime": 10}}
    reference = make_small_workdir(tmp_path / "local", config)
    snakemake(reference, "all_results")

    workdir = make_small_workdir(tmp_path / "slurm", config)
    checkpoint = workdir / f"results/tiny/checkpoints/{SAE_NAME}.pt"
    training_log = workdir / f"logs/tiny/saes/{SAE_NAME}.log"
    driver = start_run(workdir, *PROFILE_ARGS)
    try:
        # 1. Preemption: a job in the high-priority partition needs the whole
        # node, so Slurm requeues the training job; it resumes from its checkpoint.
        wait_for(checkpoint.exists, "the first training checkpoint", driver)
        [training] = running(workdir, "rule_sae_train")
        subprocess.run(["sbatch", "--partition=high", "--cpus-per-task=2", "--mem=1000", "--output=/dev/null",
                        "--wrap=sleep 2"], check=True, capture_output=True)
        wait_for(lambda: "Restarts=1" in show_job(training["id"]), "the training job to be requeued", driver)
        wait_for(lambda: training_log.exists() and "resuming from checkpoint" in training_log.read_text(),
                 "the requeued training to resume", driver)
        resumed_at = re.search(r"resuming from checkpoint \S+ at step (\d+)", training_log.read_text())
        assert 0 < int(resumed_at.group(1)) < 6000

        # 2. scancel of the running probe-fit group: Snakemake resubmits it
        # (retries: 2) with the runtime of attempt 2.
        wait_for(lambda: running(workdir, "rule_probe_fits"), "the probe-fit group to run", driver)
        [first] = running(workdir, "rule_probe_fits")
        subprocess.run(["scancel", first["id"]], check=True)
        wait_for(lambda: len([j for j in snakemake_slurm_jobs(workdir) if j["comment"].startswith("rule_probe_fits")]) == 2,
                 "the probe-fit group to be resubmitted", driver)
        second = [j for j in snakemake_slurm_jobs(workdir) if j["comment"].startswith("rule_probe_fits")][-1]
        assert _minutes(second["time_limit"]) == 2 * _minutes(first["time_limit"])

        # 3. SIGKILL to the driver while that job is queued or running: it
        # is orphaned, and Snakemake's lock stays behind.
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
        orphaned = {j["id"] for j in snakemake_slurm_jobs(workdir) if j["state"] in ("PENDING", "RUNNING")}
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert list((workdir / ".snakemake/locks").glob("*.lock"))

    # The same command again: no --unlock, the orphan is cancelled, the run completes.
    rerun = start_run(workdir, *PROFILE_ARGS)
    assert rerun.wait(timeout=900) == 0, _newest_driver_log(workdir)
    log = _newest_driver_log(workdir)
    assert "a lock left by a run whose driver was killed" in log
    if orphaned:
        cancelled = re.search(r"Cancelled Slurm jobs ([\d, ]+),", log)
        assert cancelled and set(cancelled.group(1).split(", ")) == orphaned, log[-3000:]
    assert not [j for j in snakemake_slurm_jobs(workdir) if j["state"] in ("PENDING", "RUNNING")]

    expected, got = result_tables(reference), result_tables(workdir)
    assert set(got) == set(expected) >= {"normal.parquet", "label_noise.parquet", "sae_metrics.csv"}
    for name in expected:
        pd.testing.assert_frame_equal(got[name], expected[name], obj=name)


def _minutes(time_limit: str) -> int:
    """Minutes of a squeue time limit, [days-]hours:minutes:seconds or minutes:seconds."""
    days, _, clock = time_limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, _ = parts
    return (int(days or 0) * 24 + hours) * 60 + minutes


def _newest_driver_log(workdir: Path) -> str:
    return sorted(workdir.glob("driver-*.log"))[-1].read_text()
