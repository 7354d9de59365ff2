"""genai.Client(api_key=VK, http_options={"base_url": …/genai_passthrough}) — DESIGN §8."""

import pytest
from google import genai
from google.genai import types

from conftest import GEMINI, REPLY_TEXT, STREAM_TEXT, TIMEOUT, USAGE, check_upstream, expected_tokens

INPUT, OUTPUT, TOTAL, CACHED, _, THOUGHTS = USAGE["gemini"]
MODEL = "gemini-2.5-flash"
CREDENTIAL = ("x-goog-api-key", GEMINI.key)
# What strait's access log and metrics must count: input 31, output 18 (12
# candidates + 6 thoughts), cached 8, cache_creation 0, reasoning 6.
TOKENS = expected_tokens("gemini", USAGE["gemini"])


@pytest.fixture
def client():
    http_options = {"base_url": GEMINI.base(), "timeout": TIMEOUT * 1000}
    return genai.Client(api_key=GEMINI.client_key, http_options=http_options)


def tagged(observe):
    """Per-call config adding the observer's headers to the client's own."""
    return types.GenerateContentConfig(http_options=types.HttpOptions(headers=observe.headers))


def check_usage(meta):
    assert (meta.prompt_token_count, meta.candidates_token_count, meta.total_token_count) == (INPUT, OUTPUT, TOTAL)
    assert (meta.cached_content_token_count, meta.thoughts_token_count) == (CACHED, THOUGHTS)


def test_generate_content(client, observe):
    r = client.models.generate_content(model=MODEL, contents="hi", config=tagged(observe))
    observe.check_response_id(r.sdk_http_response.headers)
    assert r.text == REPLY_TEXT
    assert r.model_version == MODEL
    check_usage(r.usage_metadata)
    req = GEMINI.only()
    check_upstream(req, path=f"/v1/models/{MODEL}:generateContent", credential=CREDENTIAL, query=[])
    assert req.json()["contents"][0]["parts"][0]["text"] == "hi"
    observe.check(GEMINI, model=MODEL, tokens=TOKENS, streamed=False)


def test_generate_content_stream(client, observe):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi", config=tagged(observe)))
    assert "".join(c.text or "" for c in chunks) == STREAM_TEXT
    assert len(chunks) == 3
    check_usage(chunks[-1].usage_metadata)
    req = GEMINI.only()
    path = f"/v1/models/{MODEL}:streamGenerateContent"
    check_upstream(req, path=path, credential=CREDENTIAL, query=[("alt", "sse")])
    # Earlier chunks carry running candidate counts; strait must keep the last.
    observe.check(GEMINI, model=MODEL, tokens=TOKENS, streamed=True)
