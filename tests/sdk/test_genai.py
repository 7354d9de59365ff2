"""genai.Client(api_key=VK, http_options={"base_url": …/genai_passthrough}) — DESIGN §8."""

import pytest
from google import genai

from conftest import GEMINI, REPLY_TEXT, STREAM_TEXT, TIMEOUT, USAGE, check_upstream

INPUT, OUTPUT, TOTAL, CACHED, _, THOUGHTS = USAGE["gemini"]
MODEL = "gemini-2.5-flash"
CREDENTIAL = ("x-goog-api-key", GEMINI.key)


@pytest.fixture
def client():
    http_options = {"base_url": GEMINI.base(), "timeout": TIMEOUT * 1000}
    return genai.Client(api_key=GEMINI.client_key, http_options=http_options)


def check_usage(meta):
    assert (meta.prompt_token_count, meta.candidates_token_count, meta.total_token_count) == (INPUT, OUTPUT, TOTAL)
    assert (meta.cached_content_token_count, meta.thoughts_token_count) == (CACHED, THOUGHTS)


def test_generate_content(client):
    r = client.models.generate_content(model=MODEL, contents="hi")
    assert r.text == REPLY_TEXT
    assert r.model_version == MODEL
    check_usage(r.usage_metadata)
    req = GEMINI.only()
    check_upstream(req, path=f"/v1/models/{MODEL}:generateContent", credential=CREDENTIAL, query=[])
    assert req.json()["contents"][0]["parts"][0]["text"] == "hi"


def test_generate_content_stream(client):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi"))
    assert "".join(c.text or "" for c in chunks) == STREAM_TEXT
    assert len(chunks) == 3
    check_usage(chunks[-1].usage_metadata)
    req = GEMINI.only()
    path = f"/v1/models/{MODEL}:streamGenerateContent"
    check_upstream(req, path=path, credential=CREDENTIAL, query=[("alt", "sse")])
