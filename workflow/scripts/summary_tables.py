"""The paper's comparisons across settings: best SAE probe against best baseline, win rates, the quivers."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.summary import comparison, quiver, reference_quiver, win_rates

log = job_logger(snakemake.log[0])
table = pd.concat([pd.read_parquet(path) for path in snakemake.input], ignore_index=True)
compared = comparison(table, snakemake.params.main_layer)
rates = win_rates(compared)
write_table(snakemake.output.comparison, compared)
write_table(snakemake.output.win_rates, rates)
write_table(snakemake.output.quiver, quiver(table, snakemake.params.main_layer))
write_table(snakemake.output.quiver_reference, reference_quiver(table, snakemake.params.main_layer))
log.info("win rates:\n%s", rates.to_string())
