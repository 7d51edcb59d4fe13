"""Logging for workflow jobs: everything a job prints goes to its rule's log."""

from __future__ import annotations

import logging
import sys


def job_logger(log_path: str, threads: int | None = None) -> logging.Logger:
    """Send stderr (tracebacks included) and a timestamped logger to ``log_path``.

    ``threads`` caps torch and BLAS thread pools at the job's Snakemake
    threads, so parallel jobs do not oversubscribe the cores.
    """
    stream = open(log_path, "a", buffering=1)
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, force=True,
        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
    )
    if threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)
    return logging.getLogger("saeprobe")
