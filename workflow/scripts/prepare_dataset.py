"""Normalise one dataset (reference, OOD or user CSV) to parquet."""

from pathlib import Path

from saeprobe.atomic import write_table
from saeprobe.datasets import DatasetSource, load_dataset
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
source = DatasetSource(file=Path(snakemake.input[0]), **snakemake.params.source)
frame = load_dataset(source, max_rows=snakemake.params.max_rows, seed=snakemake.params.seed)
write_table(snakemake.output[0], frame)
log.info("%s: %d rows, class counts %s", source.name, len(frame), frame["label"].value_counts().sort_index().tolist())
