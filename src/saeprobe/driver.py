"""Recovering a working directory whose Snakemake driver was killed.

Snakemake locks a working directory with files in ``.snakemake/locks/`` and
never notices that the process that wrote them is gone (SIGKILL, an OOM kill,
a closed login session): the next run stops with a LockException. This
workflow's driver also holds an operating-system lock (``flock``) on
``.snakemake/saeprobe-driver.lock`` from the moment it reads the Snakefile;
the kernel drops it when the process dies, however it dies. So a driver that
obtains it knows that no other driver is alive here, and hence that

- any lock left in ``.snakemake/locks/`` is stale and can go, and
- SLURM jobs still queued or running from this directory were submitted by a
  dead driver (orphans): a new driver would submit them again, and two jobs
  would write the same outputs, so they are cancelled first.

Both make the user's usual command also the command that resumes a killed
run, with no manual ``--unlock``. A second driver started while one is alive
does not get the lock, touches nothing, and meets Snakemake's own lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

LOCK_NAME = "saeprobe-driver.lock"
# Snakemake's lock files (snakemake/persistence.py): <n>.input.lock, <n>.output.lock.
_SNAKEMAKE_LOCKS = "locks"
_held: dict[Path, int] = {}
# Slurm states of a job that may still run.
_LIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING",
                "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT"}


def claim_driver_lock(workdir: str | Path = ".") -> bool:
    """Take the driver lock of ``workdir`` for the life of this process.

    True if this process holds it (now or already), False if a live process
    elsewhere does. The file descriptor is not inherited by job processes.
    """
    metadata = _metadata(workdir)
    if metadata in _held:
        return True
    metadata.mkdir(exist_ok=True)
    fd = os.open(metadata / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[metadata] = fd
    return True


def remove_stale_locks(workdir: str | Path = ".") -> list[Path]:
    """Delete Snakemake's lock files in ``workdir``; call only while holding
    the driver lock, which proves that no driver that wrote them is alive."""
    metadata = _require_held(workdir, "remove_stale_locks")
    removed = sorted((metadata / _SNAKEMAKE_LOCKS).glob("*.lock"))
    for lock in removed:
        lock.unlink(missing_ok=True)
    return removed


def snakemake_slurm_jobs(workdir: str | Path = ".") -> list[dict]:
    """This user's Slurm jobs that Snakemake submitted from ``workdir``, in
    any state (finished ones while Slurm still lists them), oldest first;
    empty where there is no ``squeue``.

    The executor plugin submits with ``-D <workdir>`` and a comment
    ``rule_<name>_wildcards_...``. Each job is a dict of ``id``, ``state``,
    ``time_limit`` and ``comment``.
    """
    if shutil.which("squeue") is None:
        return []
    listing = subprocess.run(
        ["squeue", "--me", "--noheader", "--states=all", "--format=%i|%T|%l|%Z|%k"],
        capture_output=True, text=True, check=True,
    ).stdout
    here = Path(workdir).resolve()
    jobs = []
    for line in listing.splitlines():
        job_id, state, time_limit, job_dir, comment = line.split("|", 4)
        if comment.startswith("rule_") and Path(job_dir).resolve() == here:
            jobs.append({"id": job_id, "state": state, "time_limit": time_limit, "comment": comment})
    return sorted(jobs, key=lambda job: int(re.match(r"\d*", job["id"]).group() or 0))  # array ids: "12_3"


def orphan_slurm_jobs(workdir: str | Path = ".") -> list[str]:
    """Ids of ``snakemake_slurm_jobs`` that may still run, leaving out the
    job this process runs in, if any (a driver may itself run as a Slurm job
    in this directory)."""
    own = os.environ.get("SLURM_JOB_ID")
    return [job["id"] for job in snakemake_slurm_jobs(workdir)
            if job["state"] in _LIVE_STATES and job["id"] != own]


def cancel_orphan_slurm_jobs(workdir: str | Path = ".") -> list[str]:
    """Cancel the jobs ``orphan_slurm_jobs`` lists; call only while holding the driver lock."""
    _require_held(workdir, "cancel_orphan_slurm_jobs")
    orphans = orphan_slurm_jobs(workdir)
    if orphans:
        subprocess.run(["scancel", *orphans], check=True)
    return orphans


def _metadata(workdir: str | Path) -> Path:
    return Path(workdir).resolve() / ".snakemake"


def _require_held(workdir: str | Path, caller: str) -> Path:
    metadata = _metadata(workdir)
    if metadata not in _held:
        raise RuntimeError(f"{caller}: the driver lock of {metadata.parent} is not held by this process")
    return metadata
