"""Downstream fidelity: splice an SAE's reconstruction into the model with nnsight.

The fraction of cross-entropy loss recovered (as in SAEBench's core eval and
SAELens' evals) compares the next-token loss of three forward passes over the
same tokens:

    clean     the model as is
    spliced   block L's output replaced by the SAE reconstruction
    ablated   block L's output replaced by zeros

    recovered = (CE_ablated - CE_spliced) / (CE_ablated - CE_clean)

The first real token of every prompt keeps its own activation in the spliced
and ablated passes: it is an attention sink with a ~100x norm that SAE
corpora leave out (README), as SAELens and SAEBench leave BOS out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from saeprobe.activations import TracedModel, first_token_positions, format_prompts, position_ids, tokenize
from saeprobe.saes.base import SparseAutoencoder
from saeprobe.splits import normal_split


# The SAE-free passes (clean, ablated) depend only on the model, layer and
# texts, so the pipeline computes them once per layer for all its SAEs.
PASSES = ("clean", "spliced", "ablated")
REFERENCE_PASSES = ("clean", "ablated")


class CrossEntropySplicer:
    """Next-token loss of a causal LM with block ``layer``'s output replaced."""

    def __init__(self, model, tokenizer, layer: int, max_seq_len: int = 128, batch_size: int = 16,
                 chat_template: bool = False):
        self.tokenizer = tokenizer
        self.layer = layer
        self.max_seq_len = max_seq_len
        self.batch_size = batch_size
        self.chat_template = chat_template
        self.traced = TracedModel(model, tokenizer)

    def _logits(self, inputs: dict, replace=None) -> torch.Tensor:
        """Logits of one batch; ``replace(hidden, keep_mask)`` gives the new block output."""
        keep = inputs.pop("_keep")
        with self.traced.nn_model.trace(inputs):
            if replace is not None:
                block = self.traced.blocks()[self.layer]
                out = block.output
                hidden = out[0] if isinstance(out, tuple) else out
                new_hidden = replace(hidden, keep)
                if isinstance(out, tuple):
                    block.output = (new_hidden, *out[1:])
                else:
                    block.output = new_hidden
            logits = self.traced.nn_model.output.logits.save()
        inputs["_keep"] = keep
        return logits

    @torch.inference_mode()
    def cross_entropies(self, texts: list[str], sae: SparseAutoencoder | None = None,
                        passes: tuple[str, ...] = PASSES) -> dict[str, float]:
        """Mean next-token CE (nats per predicted token) of each of ``passes``
        (``PASSES``), plus ``n_tokens``; the spliced pass needs ``sae``."""
        unknown = set(passes) - set(PASSES)
        if unknown:
            raise ValueError(f"unknown passes {sorted(unknown)}; choose from {PASSES}")
        if "spliced" in passes and sae is None:
            raise ValueError("the spliced pass needs an SAE")
        prompts = format_prompts(self.tokenizer, texts, self.chat_template)
        sums = dict.fromkeys(passes, 0.0)
        count = 0

        def spliced(hidden, keep):
            recon = sae(hidden.reshape(-1, hidden.shape[-1]).float()).reshape(hidden.shape).to(hidden.dtype)
            return torch.where(keep[..., None], hidden, recon)

        def ablated(hidden, keep):
            return torch.where(keep[..., None], hidden, torch.zeros_like(hidden))

        replacements = {"clean": None, "spliced": spliced, "ablated": ablated}
        for start in range(0, len(prompts), self.batch_size):
            inputs = tokenize(self.tokenizer, prompts[start:start + self.batch_size], self.max_seq_len)
            mask = inputs["attention_mask"]
            keep = ~mask.bool()  # padding keeps its own values
            keep[torch.arange(len(mask)), first_token_positions(mask)] = True
            inputs["position_ids"] = position_ids(mask)
            device = self.traced.device
            inputs = {k: v.to(device) for k, v in inputs.items()}
            inputs["_keep"] = keep.to(device)
            # next-token targets: real tokens that follow a real token
            targets = inputs["input_ids"][:, 1:]
            valid = (mask[:, 1:] & mask[:, :-1]).bool().to(device)
            for name in passes:
                logits = self._logits(inputs, replacements[name])[:, :-1].float()
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
                sums[name] += loss[valid.reshape(-1)].sum().item()
            count += int(valid.sum())
        if count == 0:
            raise ValueError("no next-token targets: every prompt is a single token")
        return {name: total / count for name, total in sums.items()} | {"n_tokens": count}


def loss_recovered(ce: dict[str, float]) -> float:
    """Fraction of the CE gap between zero-ablation and the clean model closed by the SAE."""
    gap = ce["ablated"] - ce["clean"]
    return float((ce["ablated"] - ce["spliced"]) / gap) if gap != 0 else float("nan")


def pick_eval_texts(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """A seeded sample of ``n`` texts (all of them if fewer)."""
    if len(texts) <= n:
        return list(texts)
    rng = np.random.default_rng(seed)
    return [texts[i] for i in sorted(rng.choice(len(texts), size=n, replace=False))]


def evaluation_texts(dataset_files: list[str | Path], n: int, seed: int) -> list[str]:
    """The CE evaluation's prompts: a seeded sample of the datasets' test-split
    prompts, which no SAE corpus built from the training splits holds."""
    test_texts = []
    for path in dataset_files:
        frame = pd.read_parquet(path, columns=["text", "label"])
        test_texts += frame["text"].iloc[normal_split(frame["label"].to_numpy())[1]].tolist()
    return pick_eval_texts(test_texts, n, seed)


def spliced_quality(reference: dict, spliced: dict) -> dict:
    """The quality fields of one SAE from the layer's reference passes and its
    own spliced pass, which must have scored the same tokens."""
    if spliced["n_tokens"] != reference["n_tokens"]:
        raise ValueError(f"the spliced pass scored {spliced['n_tokens']} tokens but the reference passes "
                         f"{reference['n_tokens']}: the reference file is stale; delete it and rerun")
    ce = {"clean": reference["clean"], "spliced": spliced["spliced"], "ablated": reference["ablated"]}
    return {"ce_clean": ce["clean"], "ce_spliced": ce["spliced"], "ce_ablated": ce["ablated"],
            "ce_tokens": spliced["n_tokens"], "ce_loss_recovered": loss_recovered(ce)}
