"""The figure of the multi-token probes against the last-token probes."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_multitoken

log = job_logger(snakemake.log[0])
plot_multitoken(pd.read_csv(snakemake.input[0]), snakemake.output[0], model=snakemake.wildcards.model)
log.info("drawn from %s", snakemake.input[0])
