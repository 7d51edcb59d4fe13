"""Example windows of a seeded sample of an SAE's alive latents over the interpretation corpus."""

from functools import lru_cache
from pathlib import Path

import numpy as np
from transformers import AutoTokenizer

from saeprobe.atomic import write_table
from saeprobe.interpret.corpus import special_token_ids
from saeprobe.interpret.examples import sae_examples
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir
from saeprobe.paths import activation_file_name, corpus_tokens_file_name
from saeprobe.saes import load_sae

log = job_logger(snakemake.log[0], snakemake.threads)
sae = load_sae(Path(snakemake.input.sae).parent).eval()
corpus = Path(snakemake.input.corpus)
tokens = np.load(corpus / corpus_tokens_file_name())
activations = np.load(corpus / activation_file_name(snakemake.params.layer), mmap_mode="r")
tokenizer = AutoTokenizer.from_pretrained(checkpoint_dir(snakemake.input.model))
token_text = lru_cache(maxsize=None)(lambda token: tokenizer.decode([token]))
examples = sae_examples(sae, activations, tokens, special_token_ids(tokenizer), token_text,
                        snakemake.params.latents, snakemake.params.seed)
examples.insert(0, "sae", snakemake.wildcards.sae)
write_table(snakemake.output[0], examples)
log.info("%d latents sampled (of those firing on more than 15 of %d tokens), %d windows",
         examples["latent"].nunique(), tokens.size, len(examples))
