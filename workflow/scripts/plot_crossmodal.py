"""The figure of cross-modal stitching: accuracy per text representation, with chance and the shuffled control."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_crossmodal

log = job_logger(snakemake.log[0])
plot_crossmodal(pd.read_csv(snakemake.input[0]), snakemake.output[0], model=snakemake.wildcards.model)
log.info("drawn from %s", snakemake.input[0])
