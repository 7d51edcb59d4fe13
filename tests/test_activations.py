import random

import numpy as np
import pytest
import torch

from saeprobe.activations import (
    ResidualExtractor, drop_norm_outliers, first_token_positions, last_token_positions, position_ids,
)
from saeprobe.models import load_model
from conftest import random_prompt


def test_last_and_first_positions_for_both_padding_sides():
    right = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 1, 1, 1], [0, 0, 0, 1], [1, 1, 1, 1]])
    assert last_token_positions(right).tolist() == [2, 0, 3]
    assert last_token_positions(left).tolist() == [3, 3, 3]
    assert first_token_positions(left).tolist() == [1, 3, 0]
    assert position_ids(left)[0].tolist() == [0, 0, 1, 2]


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_padded_gather_matches_unpadded_forward(tiny_model_dir, padding_side):
    model, tokenizer = load_model(tiny_model_dir)
    rng = random.Random(1)
    prompts = [random_prompt(rng) for _ in range(9)]
    extractor = ResidualExtractor(model, tokenizer, layers=[1, 2], batch_size=4)
    tokenizer.padding_side = padding_side  # nnsight sets left; the gather must not care
    result = extractor.extract(prompts)
    for i, prompt in enumerate(prompts):
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            hidden = model(ids, output_hidden_states=True).hidden_states
        for layer in (1, 2):
            # hidden_states[L + 1] is the output of block L
            torch.testing.assert_close(
                torch.from_numpy(result.last_token[layer][i]), hidden[layer + 1][0, -1], atol=1e-4, rtol=1e-4
            )


def test_token_corpus_skips_first_token_and_padding(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    prompts = ["w1 w2 w3", "w4", "w5 w6 w7 w8 w9", "w10 w11"]
    extractor = ResidualExtractor(model, tokenizer, layers=[0], batch_size=4)
    result = extractor.extract(prompts, token_mask=np.array([True, True, False, True]))
    assert result.tokens[0].shape == (2 + 0 + 1, 32)  # lengths 3, 1, 2 minus the first token
    only_first = extractor.extract(prompts, token_mask=np.array([True, False, False, False]))
    ids = tokenizer(prompts[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        first_block = model(ids, output_hidden_states=True).hidden_states[1][0]
    torch.testing.assert_close(torch.from_numpy(only_first.tokens[0]), first_block[1:], atol=1e-4, rtol=1e-4)


def test_left_truncation_keeps_the_prompt_end(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    long_prompt = " ".join(f"w{i}" for i in range(40))
    extractor = ResidualExtractor(model, tokenizer, layers=[2], max_seq_len=8)
    result = extractor.extract([long_prompt])
    ids = tokenizer(" ".join(f"w{i}" for i in range(32, 40)), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = model(ids, output_hidden_states=True).hidden_states[3][0, -1]
    torch.testing.assert_close(torch.from_numpy(result.last_token[2][0]), expected, atol=1e-4, rtol=1e-4)


def test_out_of_range_layer_is_rejected(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    with pytest.raises(ValueError, match="the model has 4 blocks"):
        ResidualExtractor(model, tokenizer, layers=[4])


def test_drop_norm_outliers():
    vectors = np.ones((100, 4), np.float32)
    vectors[7] *= 50
    kept = drop_norm_outliers(vectors)
    assert len(kept) == 99 and np.linalg.norm(kept, axis=1).max() < 3


def test_forward_pass_stops_after_the_deepest_layer(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    calls = {}
    for index, block in enumerate(model.model.layers):
        block.register_forward_pre_hook(lambda module, args, index=index: calls.__setitem__(index, True))
    model.lm_head.register_forward_pre_hook(lambda *a: calls.__setitem__("lm_head", True))
    extractor = ResidualExtractor(model, tokenizer, layers=[1, 0], batch_size=4)
    extractor.extract(["w1 w2", "w3", "w4 w5 w6"])
    assert set(calls) == {0, 1}  # blocks 2, 3 and the LM head never ran


def test_chat_template_wraps_prompts(tiny_model_dir):
    model, tokenizer = load_model(tiny_model_dir)
    with pytest.raises(ValueError, match="no chat template"):
        ResidualExtractor(model, tokenizer, layers=[1], chat_template=True).extract(["w1"])
    tokenizer.chat_template = "{% for m in messages %}w7 {{ m['content'] }} w8{% endfor %}"
    wrapped = ResidualExtractor(model, tokenizer, layers=[1], chat_template=True).extract(["w1 w2"])
    plain = ResidualExtractor(model, tokenizer, layers=[1]).extract(["w7 w1 w2 w8"])
    np.testing.assert_allclose(wrapped.last_token[1], plain.last_token[1], atol=1e-5)
