"""Normalise one dataset (reference, OOD or user CSV) to parquet."""

from pathlib import Path

from saeprobe.atomic import write_table
from saeprobe.datasets import DatasetSource, duplicate_rows, load_dataset
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
source = DatasetSource(file=Path(snakemake.input[0]), **snakemake.params.source)
frame = load_dataset(source, max_rows=snakemake.params.max_rows, seed=snakemake.params.seed,
                     drop_duplicates=snakemake.params.drop_duplicates)
write_table(snakemake.output[0], frame)
log.info("%s: %d rows, class counts %s", source.name, len(frame), frame["label"].value_counts().sort_index().tolist())
repeats = duplicate_rows(frame)
log.info("%d rows repeat an earlier row's text; %d texts occur under both labels%s (the results tables count, "
         "per fit, the test rows whose text is also a training row's: n_test_in_train)",
         repeats["repeated_text"], repeats["texts_with_both_labels"],
         "" if snakemake.params.drop_duplicates else "; kept, as datasets.drop_duplicates is false")
