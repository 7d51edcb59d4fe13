"""Logging for workflow jobs: everything a job prints goes to its rule's log."""

from __future__ import annotations

import logging
import sys


def job_logger(log_path: str, threads: int | None = None) -> logging.Logger:
    """Send stderr (tracebacks included) and a timestamped logger to ``log_path``.

    ``threads`` caps the BLAS/OpenMP pools (and torch's, in jobs that use
    torch) at the job's Snakemake threads, so parallel jobs do not
    oversubscribe the cores.
    """
    stream = open(log_path, "a", buffering=1)
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, force=True,
        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
    )
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
        if "torch" in sys.modules:  # probe jobs run where torch is not installed
            sys.modules["torch"].set_num_threads(threads)
    return logging.getLogger("saeprobe")
