"""Normalise the SAE-Probes master CSV (binary datasets) to parquet."""

from saeprobe.atomic import write_table
from saeprobe.datasets import reference_catalog
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
catalog = reference_catalog().drop(columns="file")  # the absolute path is machine-specific
write_table(snakemake.output[0], catalog)
log.info("%d binary datasets", len(catalog))
