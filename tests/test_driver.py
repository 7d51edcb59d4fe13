"""The driver lock: stale Snakemake locks and orphaned Slurm jobs of a killed driver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from saeprobe import driver


@pytest.fixture(autouse=True)
def forget_held_locks(monkeypatch):
    # Each test starts as a process that holds no driver lock.
    monkeypatch.setattr(driver, "_held", {})


def hold_lock_in_child(workdir: Path) -> subprocess.Popen:
    code = f"from saeprobe.driver import claim_driver_lock; import sys, time; " \
           f"print(claim_driver_lock({str(workdir)!r}), flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "True"
    return child


def test_a_live_driver_keeps_the_lock_and_a_killed_one_loses_it(tmp_path):
    child = hold_lock_in_child(tmp_path)
    try:
        assert not driver.claim_driver_lock(tmp_path)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert driver.claim_driver_lock(tmp_path)
    assert driver.claim_driver_lock(tmp_path)  # held already: still ours
    assert (tmp_path / ".snakemake" / driver.LOCK_NAME).read_text() == f"{os.getpid()}\n"


def test_stale_snakemake_locks_go_only_under_the_driver_lock(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x\n")
    with pytest.raises(RuntimeError, match="not held"):
        driver.remove_stale_locks(tmp_path)
    assert driver.claim_driver_lock(tmp_path)
    assert [p.name for p in driver.remove_stale_locks(tmp_path)] == ["0.input.lock", "0.output.lock"]
    assert not list(locks.iterdir())


def fake_slurm(bin_dir: Path, squeue_lines: list[str]) -> Path:
    """squeue prints the given lines; scancel records its arguments."""
    bin_dir.mkdir()
    listing = "\n".join(squeue_lines)
    (bin_dir / "squeue").write_text(f"#!/bin/sh\ncat <<'END'\n{listing}\nEND\n")
    record = bin_dir / "scancel.args"
    (bin_dir / "scancel").write_text(f'#!/bin/sh\necho "$@" >> {record}\n')
    for tool in ("squeue", "scancel"):
        (bin_dir / tool).chmod(0o755)
    return record


def test_orphans_are_this_directorys_live_snakemake_jobs(tmp_path, monkeypatch):
    here, elsewhere = tmp_path / "run", tmp_path / "other"
    here.mkdir()
    elsewhere.mkdir()
    record = fake_slurm(tmp_path / "bin", [
        f"101|RUNNING|10:00|{here}|rule_sae_train_wildcards_model=m,sae=s",
        f"102|PENDING|10:00|{here}|rule_probe_sae_wildcards_model=m",
        f"103|COMPLETED|10:00|{here}|rule_datasets_prepare_wildcards_dataset=d",
        f"104|RUNNING|10:00|{elsewhere}|rule_sae_train_wildcards_model=m,sae=s",
        f"105|RUNNING|10:00|{here}|(null)",              # an interactive job, not Snakemake's
        f"106|RUNNING|10:00|{here}|rule_all_drivers",    # the job the driver itself runs in
    ])
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "106")
    assert driver.orphan_slurm_jobs(here) == ["101", "102"]
    with pytest.raises(RuntimeError, match="not held"):
        driver.cancel_orphan_slurm_jobs(here)
    assert driver.claim_driver_lock(here)
    assert driver.cancel_orphan_slurm_jobs(here) == ["101", "102"]
    assert record.read_text() == "101 102\n"


def test_no_squeue_no_orphans(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert driver.orphan_slurm_jobs(tmp_path) == []
