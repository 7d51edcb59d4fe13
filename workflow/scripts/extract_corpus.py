"""Token activations of one shard of a text corpus, for SAE training."""

import numpy as np

from saeprobe.activations import ResidualExtractor, drop_norm_outliers, write_activation_folder
from saeprobe.datasets import read_corpus_texts
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model

log = job_logger(snakemake.log[0], snakemake.threads)
settings = snakemake.params.model
shard = int(snakemake.wildcards.shard)
texts = read_corpus_texts(snakemake.params.source)[shard :: snakemake.params.num_shards]

model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
extractor = ResidualExtractor(model, tokenizer, snakemake.params.corpus_layers, snakemake.params.max_seq_len,
                              settings["batch_size"], settings["chat_template"])
result = extractor.extract(texts, token_mask=np.ones(len(texts), bool))
corpus = {layer: drop_norm_outliers(v, snakemake.params.max_norm_ratio) for layer, v in result.tokens.items()}
write_activation_folder(snakemake.output[0], {}, corpus,
                        meta={"documents": len(texts), "tokens": result.n_tokens,
                              "corpus_rows": {layer: len(v) for layer, v in corpus.items()}})
log.info("shard %d: %d documents, corpus rows %s", shard, len(texts), {k: len(v) for k, v in corpus.items()})
