"""OpenAI(base_url=…/openai_passthrough/v1, api_key=VK) — DESIGN §8."""

import pytest
from openai import OpenAI

from conftest import DIRECT, EMBEDDING, OPENAI, REPLY_TEXT, STREAM_TEXT, TIMEOUT, USAGE, check_upstream, expected_tokens

INPUT, OUTPUT, TOTAL, CACHED, _, REASONING = USAGE["openai"]
MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
CREDENTIAL = ("authorization", f"Bearer {OPENAI.key}")
# What strait's access log and metrics must count: input 11, output 7, cached 2,
# cache_creation 0, reasoning 3 (embeddings: input 11 only).
TOKENS = expected_tokens("openai", USAGE["openai"])
EMBEDDING_TOKENS = expected_tokens("openai", USAGE["openai"], shape="embeddings")


@pytest.fixture
def client():
    return OpenAI(base_url=OPENAI.base("/v1"), api_key=OPENAI.client_key, max_retries=0, timeout=TIMEOUT)


def test_chat(client, observe):
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_headers=observe.headers
    )
    observe.check_response_id(raw.headers)
    r = raw.parse()
    assert r.choices[0].message.content == REPLY_TEXT
    assert r.model == MODEL
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (INPUT, OUTPUT, TOTAL)
    assert r.usage.prompt_tokens_details.cached_tokens == CACHED
    check_upstream(OPENAI.only(), path="/v1/chat/completions", credential=CREDENTIAL, model=MODEL)
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=False)


def test_chat_stream_with_usage(client, observe):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=observe.headers,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == STREAM_TEXT
    assert {c.model for c in chunks} == {MODEL}
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (INPUT, OUTPUT, TOTAL)
    req = OPENAI.only()
    check_upstream(req, path="/v1/chat/completions", credential=CREDENTIAL, model=MODEL)
    assert req.json()["stream"] is True
    assert req.json()["stream_options"] == {"include_usage": True}
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=True)


def check_usage_asked_for(req, chunks):
    """The SDK's default stream sends no stream_options. Through the gateway the
    provider is asked for usage anyway (strait adds include_usage and changes
    nothing else), so the stream ends with the usage chunk; directly, the mock
    sends none, as OpenAI does."""
    sent = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    got = req.json()
    if DIRECT:
        assert got == sent
        assert all(c.usage is None for c in chunks)
        return
    assert got.pop("stream_options") == {"include_usage": True}
    assert got == sent
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (INPUT, OUTPUT, TOTAL)


def test_chat_stream_without_stream_options(client, observe):
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, extra_headers=observe.headers
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == STREAM_TEXT
    req = OPENAI.only()
    check_upstream(req, path="/v1/chat/completions", credential=CREDENTIAL, model=MODEL)
    check_usage_asked_for(req, chunks)
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=True)


def test_chat_stream_helper_without_stream_options(client, observe):
    # The SDK's own accumulator takes the usage chunk it did not ask for.
    with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_headers=observe.headers
    ) as stream:
        chunks = [e.chunk for e in stream if e.type == "chunk"]
        final = stream.get_final_completion()
    assert final.choices[0].message.content == STREAM_TEXT
    req = OPENAI.only()
    check_usage_asked_for(req, chunks)
    if not DIRECT:
        assert final.usage.total_tokens == TOTAL
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=True)


def test_embeddings(client, observe):
    # The SDK asks for base64 and decodes it to floats itself.
    r = client.embeddings.create(model=EMBEDDING_MODEL, input=["a", "b"], extra_headers=observe.headers)
    assert [d.embedding for d in r.data] == [EMBEDDING, EMBEDDING]
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (INPUT, INPUT)
    req = OPENAI.only()
    check_upstream(req, path="/v1/embeddings", credential=CREDENTIAL, model=EMBEDDING_MODEL)
    assert req.json()["encoding_format"] == "base64"
    observe.check(OPENAI, model=EMBEDDING_MODEL, tokens=EMBEDDING_TOKENS, streamed=False)


def test_models_list(client, observe):
    ids = [m.id for m in client.models.list(extra_headers=observe.headers)]
    assert MODEL in ids
    check_upstream(OPENAI.only(), method="GET", path="/v1/models", credential=CREDENTIAL)
    # No usage in a model list: logged, but no tokens counted.
    observe.check(OPENAI, model=None, tokens=None, streamed=False)


def test_responses_create(client, observe):
    r = client.responses.create(model=MODEL, input="hi", extra_headers=observe.headers)
    assert r.output_text == REPLY_TEXT
    assert r.model == MODEL
    u = r.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (INPUT, OUTPUT, TOTAL)
    assert (u.input_tokens_details.cached_tokens, u.output_tokens_details.reasoning_tokens) == (CACHED, REASONING)
    check_upstream(OPENAI.only(), path="/v1/responses", credential=CREDENTIAL, model=MODEL)
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=False)


def test_responses_create_stream(client, observe):
    events = list(client.responses.create(model=MODEL, input="hi", stream=True, extra_headers=observe.headers))
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == STREAM_TEXT
    u = events[-1].response.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (INPUT, OUTPUT, TOTAL)
    check_upstream(OPENAI.only(), path="/v1/responses", credential=CREDENTIAL, model=MODEL)
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=True)


def test_responses_stream_helper(client, observe):
    with client.responses.stream(model=MODEL, input="hi", extra_headers=observe.headers) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == STREAM_TEXT
    assert final.output_text == STREAM_TEXT
    assert final.usage.total_tokens == TOTAL
    req = OPENAI.only()
    check_upstream(req, path="/v1/responses", credential=CREDENTIAL, model=MODEL)
    assert req.json()["stream"] is True
    observe.check(OPENAI, model=MODEL, tokens=TOKENS, streamed=True)
