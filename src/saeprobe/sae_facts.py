"""What a pretrained SAE checkpoint is, from its file names and config alone.

No torch and no weights are loaded, so the Snakefile can ask at every parse
(``saeprobe.saes.formats`` reads the weights). A checkpoint's format is told
by the files it holds; its input width ``d_in`` by its config (or, for Gemma
Scope, by the header of one array in ``params.npz``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from saeprobe.atomic import read_json

# Format -> the files that tell it, the first one being its config.
FORMAT_FILES = {
    "saelens": ("cfg.json", "sae_weights.safetensors"),
    "dictionary_learning": ("config.json", "ae.pt"),
    "gemma_scope": ("params.npz",),
    "llama_scope": ("hyperparams.json", "checkpoints/final.safetensors"),
    "saeprobe": ("cfg.json", "sae.safetensors"),
}


def checkpoint_format(folder: str | Path) -> str | None:
    """The format of the checkpoint in ``folder`` (a ``FORMAT_FILES`` key), or None."""
    folder = Path(folder)
    for name, files in FORMAT_FILES.items():
        if all((folder / f).is_file() for f in files):
            return name
    return None


def checkpoint_d_in(folder: str | Path) -> int | None:
    """The activation width the checkpoint in ``folder`` reads, or None where
    its config does not say (a dictionary_learning config without
    ``activation_dim``) or the folder holds no checkpoint."""
    folder = Path(folder)
    kind = checkpoint_format(folder)
    if kind in ("saelens", "saeprobe"):
        return int(read_json(folder / "cfg.json")["d_in"])
    if kind == "dictionary_learning":
        d_in = read_json(folder / "config.json").get("trainer", {}).get("activation_dim")
        return None if d_in is None else int(d_in)
    if kind == "gemma_scope":
        return _npz_array_shape(folder / "params.npz", "W_enc")[0]  # W_enc is [d_in, width]
    if kind == "llama_scope":
        return int(read_json(folder / "hyperparams.json")["d_model"])
    return None


def known_pretrained_d_in(pretrained: dict) -> int | None:
    """``checkpoint_d_in`` of a config's ``pretrained`` entry where it can be had
    without network: a local folder, or a hub folder whose config is already in
    the hub cache. None otherwise (the import job checks it once downloaded)."""
    if "path" in pretrained:
        folder = Path(pretrained["path"]).expanduser()
        return checkpoint_d_in(folder) if folder.is_dir() else None
    from huggingface_hub import try_to_load_from_cache

    hub_path = pretrained.get("hub_path", "").strip("/")
    for files in FORMAT_FILES.values():
        try:
            cached = try_to_load_from_cache(pretrained["hub_repo"], f"{hub_path}/{files[0]}" if hub_path else files[0])
        except ValueError:  # not a valid repo id: the import job names the problem
            return None
        if isinstance(cached, str):
            d_in = checkpoint_d_in(Path(cached).parent)
            if d_in is not None:
                return d_in
    return None


def known_sae_inputs(sae_entries: dict[str, dict]) -> dict[str, int]:
    """SAE name -> ``known_pretrained_d_in`` of each configured pretrained SAE whose width is known now."""
    widths = {name: known_pretrained_d_in(entry["pretrained"]) for name, entry in sae_entries.items()
              if "pretrained" in entry}
    return {name: d_in for name, d_in in widths.items() if d_in is not None}


def _npz_array_shape(path: Path, name: str) -> tuple[int, ...]:
    import numpy as np

    with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as member:
        major, _ = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, _ = read_header(member)
    return shape
