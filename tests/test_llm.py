"""The LLM layer: the real anthropic client against a local Messages API, the cache, the offline explainer."""

from __future__ import annotations

import pytest

from fake_messages_api import FakeMessagesAPI, error, message
from saeprobe.llm import ClaudeProvider, Explainer, LLMError, LLMRequest, OfflineProvider, ResponseCache, check_api_key


def request(user: str = "Which latent fires on dates?", prompt: str = "test@1") -> LLMRequest:
    return LLMRequest(system="Answer in one word.", user=user, max_tokens=30, prompt=prompt)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


def claude(api: FakeMessagesAPI, max_retries: int = 3) -> ClaudeProvider:
    return ClaudeProvider(model="claude-test", timeout_s=10, max_retries=max_retries, base_url=api.url)


def test_a_reply_says_who_wrote_it_and_what_it_cost(key, tmp_path):
    with FakeMessagesAPI([(200, message("dates", 17, 2))]) as api:
        reply, = Explainer(claude(api), ResponseCache(tmp_path)).ask([request()])
    assert (reply.text, reply.explainer, reply.input_tokens, reply.output_tokens) == ("dates", "claude:claude-test", 17, 2)
    sent, = api.requests
    assert sent["model"] == "claude-test" and sent["system"] == "Answer in one word." and sent["max_tokens"] == 30
    assert sent["messages"] == [{"role": "user", "content": "Which latent fires on dates?"}]
    assert "temperature" not in sent  # the model's default unless a request sets one


@pytest.mark.parametrize("status, kind", [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error")])
def test_rate_limits_overload_and_server_errors_are_retried(key, tmp_path, status, kind):
    with FakeMessagesAPI([(status, error(kind, "try later")), (200, message("dates"))]) as api:
        reply, = Explainer(claude(api), ResponseCache(tmp_path)).ask([request()])
    assert reply.text == "dates" and len(api.requests) == 2


def test_retries_end(key, tmp_path):
    with FakeMessagesAPI([(529, error("overloaded_error", "busy"))] * 3) as api:
        with pytest.raises(LLMError, match="HTTP 529"):
            Explainer(claude(api, max_retries=2), ResponseCache(tmp_path)).ask([request()])
    assert len(api.requests) == 3


def test_a_refused_key_fails_at_once_and_says_what_to_do(key, tmp_path):
    with FakeMessagesAPI([(401, error("authentication_error", "invalid x-api-key"))]) as api:
        with pytest.raises(LLMError, match="refused the API key.*ANTHROPIC_API_KEY.*offline explainer"):
            Explainer(claude(api), ResponseCache(tmp_path)).ask([request()])
    assert len(api.requests) == 1  # never retried
    assert not list(tmp_path.rglob("*.json"))  # and nothing cached


def test_a_bad_request_is_not_retried(key, tmp_path):
    with FakeMessagesAPI([(400, error("invalid_request_error", "temperature is not supported"))]) as api:
        with pytest.raises(LLMError, match="HTTP 400 to a test@1 request"):
            Explainer(claude(api), ResponseCache(tmp_path)).ask([request()])
    assert len(api.requests) == 1


def test_a_reply_without_text_is_an_error(key, tmp_path):
    empty = {**message(""), "content": [], "stop_reason": "refusal"}
    with FakeMessagesAPI([(200, empty)]) as api:
        with pytest.raises(LLMError, match="holds no text .*refusal"):
            Explainer(claude(api), ResponseCache(tmp_path)).ask([request()])


def test_a_missing_key_is_named_before_any_call(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(LLMError, match="needs ANTHROPIC_API_KEY, which is not set.*offline"):
        check_api_key()
    with pytest.raises(LLMError, match="ANTHROPIC_API_KEY"):
        ClaudeProvider()


def test_a_second_run_makes_no_request(key, tmp_path):
    requests = [request(f"question {i}") for i in range(6)]
    with FakeMessagesAPI() as api:
        first = Explainer(claude(api), ResponseCache(tmp_path), max_concurrency=3)
        answers = first.ask(requests)
        assert len(api.requests) == 6 and first.stats["calls"] == 6
        again = Explainer(claude(api), ResponseCache(tmp_path))
        assert [r.text for r in again.ask(requests)] == [r.text for r in answers] == [
            f"echo: question {i}" for i in range(6)]
    assert len(api.requests) == 6
    assert again.stats == {"hits": 6, "calls": 0, "input_tokens": 0, "output_tokens": 0}
    assert all(r.cached for r in again.ask(requests))


def test_a_request_asked_twice_is_paid_once(key, tmp_path):
    with FakeMessagesAPI() as api:
        replies = Explainer(claude(api), ResponseCache(tmp_path)).ask([request("q"), request("r"), request("q")])
    assert [r.text for r in replies] == ["echo: q", "echo: r", "echo: q"] and len(api.requests) == 2


def test_the_cache_key_holds_everything_that_shapes_the_answer():
    base = request()
    assert base.cache_key("claude:a") == request().cache_key("claude:a")
    variants = [request(prompt="test@2"), request(user="Which latent fires on names?"),
                LLMRequest(base.system, base.user, 31, base.prompt),
                LLMRequest(base.system, base.user, 30, base.prompt, temperature=1.0),
                LLMRequest("Answer in two words.", base.user, 30, base.prompt)]
    keys = {v.cache_key("claude:a") for v in variants} | {base.cache_key("claude:b"), base.cache_key("claude:a")}
    assert len(keys) == len(variants) + 2


def test_the_offline_explainer_answers_the_same_requests(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    # The tiny test model, given a chat template, stands in for the shipped SmolLM2.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    tokenizer.save_pretrained(tmp_path / "model")
    for name in ("config.json", "model.safetensors"):
        (tmp_path / "model" / name).write_bytes((tiny_model_dir / name).read_bytes())
    explainer = Explainer(OfflineProvider(tmp_path / "model", name="tiny"), ResponseCache(tmp_path / "cache"))
    ask = [request("w1 w2 w3"), request("w4 w5")]
    replies = explainer.ask(ask)
    assert [r.explainer for r in replies] == ["offline:tiny"] * 2
    assert all(0 < r.output_tokens <= 30 for r in replies)
    assert [r.text for r in explainer.ask(ask)] == [r.text for r in replies] and explainer.stats["hits"] == 2


def test_the_offline_explainer_needs_a_chat_template(tiny_model_dir, tmp_path):
    with pytest.raises(LLMError, match="needs a tokenizer with a chat template"):
        Explainer(OfflineProvider(tiny_model_dir), ResponseCache(tmp_path)).ask([request()])
