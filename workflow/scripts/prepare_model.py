"""Resolve a model source into a loadable local checkpoint (GGUF converted once)."""

from saeprobe.logs import job_logger
from saeprobe.models import prepare_model

log = job_logger(snakemake.log[0])
log.info("preparing %s", snakemake.params.source)
prepare_model(snakemake.params.source, snakemake.output[0])
log.info("done: %s", snakemake.output[0])
