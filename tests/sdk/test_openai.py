"""OpenAI(base_url=…/openai_passthrough/v1, api_key=VK) — DESIGN §8."""

import pytest
from openai import OpenAI

from conftest import EMBEDDING, OPENAI, REPLY_TEXT, STREAM_TEXT, TIMEOUT, USAGE, check_upstream

INPUT, OUTPUT, TOTAL, CACHED, _, REASONING = USAGE["openai"]
MODEL = "gpt-4o-mini"
CREDENTIAL = ("authorization", f"Bearer {OPENAI.key}")


@pytest.fixture
def client():
    return OpenAI(base_url=OPENAI.base("/v1"), api_key=OPENAI.client_key, max_retries=0, timeout=TIMEOUT)


def test_chat(client):
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == REPLY_TEXT
    assert r.model == MODEL
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (INPUT, OUTPUT, TOTAL)
    assert r.usage.prompt_tokens_details.cached_tokens == CACHED
    check_upstream(OPENAI.only(), path="/v1/chat/completions", credential=CREDENTIAL, model=MODEL)


def test_chat_stream_with_usage(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
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


def test_embeddings(client):
    # The SDK asks for base64 and decodes it to floats itself.
    r = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [d.embedding for d in r.data] == [EMBEDDING, EMBEDDING]
    assert (r.usage.prompt_tokens, r.usage.total_tokens) == (INPUT, INPUT)
    req = OPENAI.only()
    check_upstream(req, path="/v1/embeddings", credential=CREDENTIAL, model="text-embedding-3-small")
    assert req.json()["encoding_format"] == "base64"


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids
    check_upstream(OPENAI.only(), method="GET", path="/v1/models", credential=CREDENTIAL)


def test_responses_create(client):
    r = client.responses.create(model=MODEL, input="hi")
    assert r.output_text == REPLY_TEXT
    assert r.model == MODEL
    u = r.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (INPUT, OUTPUT, TOTAL)
    assert (u.input_tokens_details.cached_tokens, u.output_tokens_details.reasoning_tokens) == (CACHED, REASONING)
    check_upstream(OPENAI.only(), path="/v1/responses", credential=CREDENTIAL, model=MODEL)


def test_responses_create_stream(client):
    events = list(client.responses.create(model=MODEL, input="hi", stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == STREAM_TEXT
    u = events[-1].response.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (INPUT, OUTPUT, TOTAL)
    check_upstream(OPENAI.only(), path="/v1/responses", credential=CREDENTIAL, model=MODEL)


def test_responses_stream_helper(client):
    with client.responses.stream(model=MODEL, input="hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == STREAM_TEXT
    assert final.output_text == STREAM_TEXT
    assert final.usage.total_tokens == TOTAL
    req = OPENAI.only()
    check_upstream(req, path="/v1/responses", credential=CREDENTIAL, model=MODEL)
    assert req.json()["stream"] is True
