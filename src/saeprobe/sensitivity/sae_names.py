"""SAE name strings of nathanhu0/sae-sensitivity, resolved to Hugging Face
repositories and checkpoint folders (``analysis-methods.md`` §3).

Standard library only: the Snakefile imports this while it is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REFERENCE_SAE_EXAMPLES = ("py_4k_btopk_s0", "gem_16k_topk_s3", "gscope_16k_l0_82")

PYTHIA = "EleutherAI/pythia-160m-deduped"
GEMMA = "google/gemma-2-2b"

# prefix -> (HF model id, short name used in the folder names, layer)
SAEBENCH_MODELS = {"py": (PYTHIA, "pythia-160m-deduped", 8), "gem": (GEMMA, "gemma-2-2b", 12)}
SAEBENCH_WIDTHS = {"4k": "2pow12", "16k": "2pow14", "65k": "2pow16"}
# code -> (our architecture, folder prefix in adamkarvonen repos, folder infix in canrager repos)
SAEBENCH_TYPES = {
    "btopk": ("batchtopk", "BatchTopK", "batch_top_k"),
    "matbtopk": ("matryoshka_batchtopk", "MatryoshkaBatchTopK", "matryoshka_batch_top_k"),
    "topk": ("topk", "TopK", "top_k"),
    "relu": ("relu", "Standard", "standard_new"),
    "jumprelu": ("jumprelu", "JumpRelu", "jump_relu"),
    "gated": ("gated", "GatedSAE", "gated"),
    "pan": ("relu", "PAnneal", "p_anneal"),  # P-anneal trains a plain ReLU SAE
}
SAEBENCH_SEEDS = tuple(f"s{n}" for n in range(6))  # s{N} selects trainer_{N}

GEMMASCOPE_REPO = "google/gemma-scope-2b-pt-res"
GEMMASCOPE_DEFAULT_LAYER = 12
# Layer-12 width -> average_l0 folders, as SAELens 6.18.0 lists them.
GEMMASCOPE_LAYER12_L0S = {
    "16k": (22, 41, 82, 176, 445),
    "32k": (12, 22, 40, 76, 155, 360),
    "65k": (21, 38, 72, 141, 297),
    "131k": (12, 20, 36, 67, 129, 264),
    "262k": (11, 21, 36, 67, 121, 243),
    "524k": (22, 29, 46, 65, 115, 227),
    "1m": (19, 26, 58, 73, 107, 207),
}
GEMMASCOPE_NAME = re.compile(r"gscope_(?:layer(\d+)_)?([^_]+)_l0_(\d+)")


class UnknownReferenceSae(ValueError):
    """An SAE name that names no SAE of the sae-sensitivity project."""


@dataclass(frozen=True)
class ReferenceSae:
    """Where the checkpoint of a named reference SAE lives, and what it is."""

    name: str
    model: str
    layer: int
    architecture: str
    hub_repo: str
    hub_path: str
    checkpoint_file: str


def _choices(values) -> str:
    return ", ".join(str(v) for v in values)


def _unknown(name: str, what: str, plural: str, choices) -> UnknownReferenceSae:
    return UnknownReferenceSae(f"SAE name {name!r}: {what}; {plural} are {_choices(choices)}")


def _wrong_shape(name: str) -> UnknownReferenceSae:
    return UnknownReferenceSae(
        f"SAE name {name!r} has neither accepted shape: '{{model}}_{{width}}_{{type}}_s{{N}}' "
        "(e.g. 'py_4k_btopk_s0') or 'gscope_[layer{N}_]{width}_l0_{L0}' (e.g. 'gscope_16k_l0_82')"
    )


def _resolve_saebench(name: str) -> ReferenceSae:
    parts = name.split("_")
    if len(parts) != 4:
        raise _wrong_shape(name)
    prefix, width, code, seed = parts
    if prefix not in SAEBENCH_MODELS:
        raise _unknown(name, f"unknown model prefix {prefix!r}", "the model prefixes", SAEBENCH_MODELS)
    if width not in SAEBENCH_WIDTHS:
        raise _unknown(name, f"unknown width {width!r}", "the widths", SAEBENCH_WIDTHS)
    if code not in SAEBENCH_TYPES:
        raise _unknown(name, f"unknown type {code!r}", "the types", SAEBENCH_TYPES)
    if seed not in SAEBENCH_SEEDS:
        raise _unknown(name, f"unknown sparsity {seed!r}", "the sparsities", SAEBENCH_SEEDS)
    model, model_short, layer = SAEBENCH_MODELS[prefix]
    architecture, folder_prefix, folder_infix = SAEBENCH_TYPES[code]
    pow2 = SAEBENCH_WIDTHS[width]
    # Gemma 16k/65k were published by canrager (date 0107) with another folder naming.
    if model == GEMMA and width != "4k":
        repo = f"canrager/saebench_{model_short}_width-{pow2}_date-0107"
        folder = f"{model_short}_{folder_infix}_width-{pow2}_date-0107"
    else:
        repo = f"adamkarvonen/saebench_{model_short}_width-{pow2}_date-0108"
        folder = f"{folder_prefix}_{model_short}__0108"
    path = f"{folder}/resid_post_layer_{layer}/trainer_{seed[1:]}"
    return ReferenceSae(name, model, layer, architecture, repo, path, "ae.pt")


def _resolve_gemmascope(name: str) -> ReferenceSae:
    match = GEMMASCOPE_NAME.fullmatch(name)
    if match is None:
        raise _wrong_shape(name)
    layer = int(match[1]) if match[1] is not None else GEMMASCOPE_DEFAULT_LAYER
    width, l0 = match[2], int(match[3])
    if width not in GEMMASCOPE_LAYER12_L0S:
        raise _unknown(name, f"unknown GemmaScope width {width!r}", "the widths", GEMMASCOPE_LAYER12_L0S)
    # Only layer 12's L0 folders are listed; other layers take any integer L0.
    if layer == 12 and l0 not in GEMMASCOPE_LAYER12_L0S[width]:
        what, plural = f"no average_l0 {l0} folder", f"the L0 values of width {width} at layer 12"
        raise _unknown(name, what, plural, GEMMASCOPE_LAYER12_L0S[width])
    path = f"layer_{layer}/width_{width}/average_l0_{l0}"
    return ReferenceSae(name, GEMMA, layer, "jumprelu", GEMMASCOPE_REPO, path, "params.npz")


def resolve_reference_sae(name: str) -> ReferenceSae:
    """The repository, folder, model, layer and architecture of an SAE named
    as in sae-sensitivity: ``{py|gem}_{width}_{type}_s{N}`` (SAEBench) or
    ``gscope_[layer{N}_]{width}_l0_{L0}`` (GemmaScope). Raises
    ``UnknownReferenceSae`` naming the wrong part and its valid choices."""
    if name.startswith("gscope_"):
        return _resolve_gemmascope(name)
    return _resolve_saebench(name)
