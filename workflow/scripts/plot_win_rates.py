"""Figure: per setting, how often each SAE's best probe beats the best baseline."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_win_rates

log = job_logger(snakemake.log[0])
rates = pd.read_csv(snakemake.input[0])
plot_win_rates(rates, snakemake.output[0], title=f"{snakemake.wildcards.model}: SAE probe win rates")
log.info("plotted %d rows", len(rates))
