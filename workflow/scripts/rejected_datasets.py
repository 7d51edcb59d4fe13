"""Write the table of datasets that failed their checks (found when the workflow was parsed)."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.datasets import REJECTED_COLUMNS
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
rejected = pd.DataFrame(snakemake.params.rejected, columns=list(REJECTED_COLUMNS))
write_table(snakemake.output[0], rejected)
log.info("%d dataset(s) rejected%s", len(rejected), "".join(f"\n{r}" for r in rejected["reason"]))
