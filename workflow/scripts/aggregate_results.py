"""Combine per-job probe tables into one results table (parquet + CSV twin)."""

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.report import combine_results

log = job_logger(snakemake.log[0])
table = combine_results(list(snakemake.input))
write_table(snakemake.output.table, table)
write_table(snakemake.output.csv, table)
log.info("%d rows from %d tables", len(table), len(snakemake.input))
