"""Residual-stream activations with nnsight.

For each prompt we read the residual stream after decoder block L (0-based,
the output of ``blocks[L]``, i.e. ``hidden_states[L + 1]`` in transformers),
at every configured layer, in one forward pass that stops after the deepest
layer needed.

Two products come from the same pass:

* the last real token's vector per prompt, for probing;
* optionally, every real token except the first, for SAE training corpora.
  The first token is an attention sink whose norm is ~100x the rest (measured
  on SmolLM2, see README), so it is left out, as SAELens and
  dictionary_learning leave out BOS.

nnsight reads the source of the ``with model.trace()`` block, so the trace
lives here, in a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from saeprobe.atomic import atomic_dir
from saeprobe.models import decoder_blocks_path, num_layers
from saeprobe.paths import activation_file_name, corpus_file_name


def format_prompts(tokenizer, texts: list[str], chat_template: bool) -> list[str]:
    """Optionally wrap each prompt as a single user turn of the model's chat template."""
    if not chat_template:
        return list(texts)
    if tokenizer.chat_template is None:
        raise ValueError("'chat_template: true' but this tokenizer has no chat template")
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True)
        for t in texts
    ]


def tokenize(tokenizer, texts: list[str], max_seq_len: int) -> dict[str, torch.Tensor]:
    """Pad a batch and truncate over-long prompts from the left, keeping the end.

    The reference truncates from the left to ``max_seq_len`` so the last
    token, the one probed, is always the prompt's own last token.
    """
    tokenizer.truncation_side = "left"
    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_seq_len)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def last_token_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last real token per row, for left or right padding alike."""
    seq_len = attention_mask.shape[1]
    return seq_len - 1 - attention_mask.flip(dims=[1]).int().argmax(dim=1)


def first_token_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the first real token per row."""
    return attention_mask.int().argmax(dim=1)


def position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """Positions counted over real tokens only, so padding never shifts them.

    Needed for absolute-position models under left padding; harmless for RoPE.
    """
    return (attention_mask.long().cumsum(dim=1) - 1).clamp(min=0)


class TracedModel:
    """A loaded causal LM wrapped for nnsight tracing, with its decoder blocks at hand.

    nnsight switches the tokenizer to left padding in place; callers handle
    either side.
    """

    def __init__(self, model, tokenizer):
        from nnsight.modeling.transformers import TransformersModel

        self.nn_model = TransformersModel(model, tokenizer=tokenizer, task="text-generation")
        self.device = next(model.parameters()).device
        self._blocks_path = decoder_blocks_path(model)

    def blocks(self):
        """The envoy of the decoder-block list (valid inside a trace)."""
        envoy = self.nn_model
        for part in self._blocks_path.split("."):
            envoy = getattr(envoy, part)
        return envoy


@dataclass
class ExtractionResult:
    """Activations by layer, as float32 arrays."""

    last_token: dict[int, np.ndarray]
    """``[n_prompts, d_model]``: the last real token of each prompt, in input order."""
    tokens: dict[int, np.ndarray] = field(default_factory=dict)
    """``[n_tokens, d_model]``: every real token but the first, of the prompts marked for it."""
    n_tokens: int = 0
    """Real tokens processed (for throughput figures)."""


class ResidualExtractor:
    """Extract residual activations from a loaded causal LM with nnsight."""

    def __init__(self, model, tokenizer, layers: list[int], max_seq_len: int = 1024,
                 batch_size: int = 32, chat_template: bool = False):
        n_layers = num_layers(model)
        bad = [layer for layer in layers if not 0 <= layer < n_layers]
        if bad:
            raise ValueError(f"layers {bad} out of range: the model has {n_layers} blocks (0..{n_layers - 1})")
        self.layers = sorted(set(layers))
        self.tokenizer = tokenizer
        self.max_seq_len = max_seq_len
        self.batch_size = batch_size
        self.chat_template = chat_template
        self.traced = TracedModel(model, tokenizer)

    def _trace(self, inputs: dict[str, torch.Tensor]) -> dict[int, torch.Tensor]:
        blocks = self.traced.blocks()
        saved = {}
        with self.traced.nn_model.trace(inputs) as tracer:
            for layer in self.layers:  # in execution order
                saved[layer] = blocks[layer].output.save()
            tracer.stop()  # the blocks after the deepest needed never run
        return {layer: (out[0] if isinstance(out, tuple) else out) for layer, out in saved.items()}

    @torch.inference_mode()
    def extract(self, texts: list[str], token_mask: np.ndarray | None = None) -> ExtractionResult:
        """Run all prompts; ``token_mask[i]`` marks prompt i for the token corpus.

        Prompts are batched in order of length, which cuts padding, and the
        results are put back in input order.
        """
        prompts = format_prompts(self.tokenizer, texts, self.chat_template)
        lengths = [len(ids) for ids in self.tokenizer(prompts, truncation=True, max_length=self.max_seq_len)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        want_tokens = np.zeros(len(prompts), bool) if token_mask is None else np.asarray(token_mask, bool)
        last = {layer: [None] * len(prompts) for layer in self.layers}
        tokens = {layer: [] for layer in self.layers}
        n_tokens = 0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            inputs = tokenize(self.tokenizer, [prompts[i] for i in batch], self.max_seq_len)
            mask = inputs["attention_mask"]
            inputs["position_ids"] = position_ids(mask)
            inputs = {k: v.to(self.traced.device) for k, v in inputs.items()}
            hidden = self._trace(inputs)
            rows = torch.arange(len(batch))
            last_pos = last_token_positions(mask)
            corpus_mask = mask.bool().clone()
            corpus_mask[rows, first_token_positions(mask)] = False
            corpus_mask &= torch.from_numpy(want_tokens[batch])[:, None]
            n_tokens += int(mask.sum())
            for layer, h in hidden.items():
                h = h.float().cpu()
                for row, idx in enumerate(batch):
                    last[layer][idx] = h[row, last_pos[row]].numpy()
                if corpus_mask.any():
                    tokens[layer].append(h[corpus_mask].numpy())
        d_model = next(iter(hidden.values())).shape[-1] if prompts else 0
        return ExtractionResult(
            last_token={layer: np.stack(v) if v else np.zeros((0, d_model), np.float32) for layer, v in last.items()},
            tokens={layer: np.concatenate(v) if v else np.zeros((0, d_model), np.float32) for layer, v in tokens.items()},
            n_tokens=n_tokens,
        )

    @torch.inference_mode()
    def pooled_activations(self, texts: list[str], encoders: dict[str, Callable] | None = None
                           ) -> dict[str, dict[str, np.ndarray]]:
        """Multi-token pooling (SAE-Probes): per prompt, the mean and the max
        over its real tokens but the first (the attention sink, whose norm is
        ~100x the others') of the residual at the extractor's single layer,
        and of each encoder's codes of those tokens (``encoders``: name ->
        a function of ``[tokens, d_model]`` returning ``[tokens, width]``).

        Returns ``{"residual" or name: {"mean": [n, dims], "max": [n, dims]}}``
        in input order. A prompt of one token pools nothing and gets zeros.
        Only the pooled vectors are kept, never the token tensor.
        """
        if len(self.layers) != 1:
            raise ValueError(f"pooling reads one layer, not {self.layers}")
        (layer,) = self.layers
        encoders = encoders or {}
        prompts = format_prompts(self.tokenizer, texts, self.chat_template)
        lengths = [len(ids) for ids in self.tokenizer(prompts, truncation=True, max_length=self.max_seq_len)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        pooled = {name: {"mean": [None] * len(prompts), "max": [None] * len(prompts)}
                  for name in ["residual", *encoders]}
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            inputs = tokenize(self.tokenizer, [prompts[i] for i in batch], self.max_seq_len)
            mask = inputs["attention_mask"]
            inputs["position_ids"] = position_ids(mask)
            hidden = self._trace({k: v.to(self.traced.device) for k, v in inputs.items()})[layer].float()
            kept = mask.bool().clone()
            kept[torch.arange(len(batch)), first_token_positions(mask)] = False
            kept = kept.to(hidden.device)
            counts = kept.sum(1, keepdim=True).clamp(min=1)
            tokens = hidden[kept]
            row_of_token = torch.arange(len(batch), device=hidden.device)[:, None].expand_as(kept)[kept]
            for name, codes in (("residual", tokens), *((n, encode(tokens)) for n, encode in encoders.items())):
                total = torch.zeros(len(batch), codes.shape[1], device=codes.device).index_add_(0, row_of_token, codes)
                peak = torch.full((len(batch), codes.shape[1]), -torch.inf, device=codes.device)
                peak = peak.scatter_reduce(0, row_of_token[:, None].expand_as(codes), codes, reduce="amax")
                peak = torch.where(torch.isinf(peak), torch.zeros_like(peak), peak)  # a prompt of one token
                for row, idx in enumerate(batch):
                    pooled[name]["mean"][idx] = (total[row] / counts[row]).cpu().numpy()
                    pooled[name]["max"][idx] = peak[row].cpu().numpy()
        return {name: {pooling: np.stack(rows).astype(np.float32) for pooling, rows in by_pooling.items()}
                for name, by_pooling in pooled.items()}

    @torch.inference_mode()
    def token_row_activations(self, token_rows: np.ndarray, dtype=np.float16,
                              attention_mask: np.ndarray | None = None) -> dict[int, np.ndarray]:
        """``[rows, ctx, d_model]`` activations at every layer of ``token_rows``
        ``[rows, ctx]``: token ids cut to one length (the interpretation
        corpus), or right-padded with ``attention_mask`` marking the real ones."""
        out = {layer: [] for layer in self.layers}
        for start in range(0, len(token_rows), self.batch_size):
            ids = torch.from_numpy(np.asarray(token_rows[start:start + self.batch_size], np.int64))
            mask = torch.ones_like(ids) if attention_mask is None else torch.from_numpy(
                np.asarray(attention_mask[start:start + self.batch_size], np.int64))
            inputs = {"input_ids": ids.to(self.traced.device), "attention_mask": mask.to(self.traced.device)}
            for layer, h in self._trace(inputs).items():
                out[layer].append(h.float().cpu().numpy().astype(dtype))
        return {layer: np.concatenate(v) for layer, v in out.items()}


def norm_outliers(vectors: np.ndarray, max_ratio: float = 10.0) -> np.ndarray:
    """Which vectors (``[..., d]``) have a norm above ``max_ratio`` x the median norm.

    After position 0 is gone, ~0.02% of SmolLM2's residual rows still hold
    most of the variance (README); left in, they dominate SAE training.
    """
    norms = np.linalg.norm(vectors, axis=-1)
    return norms > max_ratio * np.median(norms) if norms.size else np.zeros(norms.shape, bool)


def drop_norm_outliers(vectors: np.ndarray, max_ratio: float = 10.0) -> np.ndarray:
    """The rows of ``vectors`` that are not ``norm_outliers`` (a token corpus, whose order does not matter)."""
    return vectors[~norm_outliers(vectors, max_ratio)]


def write_activation_folder(folder: str | Path, last_token: dict[int, np.ndarray],
                            corpus: dict[int, np.ndarray], meta: dict) -> None:
    """Write one extraction job's output folder, atomically (staging dir + rename).

    ``activation_file_name(L)`` holds last-token vectors in dataset row
    order; ``corpus_file_name(L)`` holds token vectors for SAE training.
    """
    with atomic_dir(folder) as staging:
        for layer, array in last_token.items():
            np.save(staging / activation_file_name(layer), array.astype(np.float32))
        for layer, array in corpus.items():
            np.save(staging / corpus_file_name(layer), array.astype(np.float32))
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
