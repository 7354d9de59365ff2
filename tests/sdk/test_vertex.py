"""genai.Client(vertexai=True, project=P, location=L, credentials=…) through
/genai_passthrough — DESIGN §3 (GenAI → Vertex) and §8.

The client brings its own Google token (as a Vertex user's SDK does) and the
virtual key in `x-strait-key`. The gateway must detect Vertex from the path,
rewrite project and location to its key's, keep the SDK's API version segment,
and send a token it minted itself from the key's service account; the client's
token is never forwarded.
"""

import os

import pytest
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

from conftest import (
    DIRECT,
    REPLY_TEXT,
    STREAM_TEXT,
    TIMEOUT,
    USAGE,
    VERTEX,
    VIRTUAL_KEY,
    GoogleTokens,
    check_upstream,
    expected_tokens,
)

pytestmark = pytest.mark.skipif(
    DIRECT,
    reason="Vertex needs the gateway: it mints the OAuth token and rewrites project/location "
    "(no direct mode; the Rust harness runs this in gateway mode)",
)

INPUT, OUTPUT, TOTAL, CACHED, _, THOUGHTS = USAGE["gemini"]
MODEL = "gemini-2.5-flash"
CLIENT_TOKEN = "ya29.client-own-token"
# google-genai 3.6 defaults Vertex to v1beta1 (GOOGLE_GENAI_API_VERSION unset).
API_VERSION = "v1beta1"
# What strait's access log and metrics must count (the Vertex mock is
# Gemini-flavored): input 31, output 18 (12 + 6 thoughts), cached 8,
# cache_creation 0, reasoning 6.
TOKENS = expected_tokens("gemini", USAGE["gemini"])


def vertex_path(method):
    project, region = os.environ["VERTEX_PROJECT"], os.environ["VERTEX_REGION"]
    return f"/{API_VERSION}/projects/{project}/locations/{region}/publishers/google/models/{MODEL}:{method}"


@pytest.fixture
def tokens():
    assert VERTEX is not None, "gateway mode: the harness must export MOCK_VERTEX_URL"
    return GoogleTokens(os.environ["VERTEX_TOKEN_URL"])


@pytest.fixture
def client(tokens):
    # A static token with no expiry is `valid` and never refreshed: no network.
    credentials = Credentials(token=CLIENT_TOKEN)
    assert credentials.valid and not credentials.quota_project_id
    http_options = {
        "base_url": VERTEX.base(),
        "headers": {"x-strait-key": VIRTUAL_KEY},
        "timeout": TIMEOUT * 1000,
    }
    return genai.Client(
        vertexai=True,
        project="client-project",
        location="europe-west4",
        credentials=credentials,
        http_options=http_options,
    )


def tagged(observe):
    """Per-call config: google-genai merges these headers into the client's
    (x-strait-key stays)."""
    return types.GenerateContentConfig(http_options=types.HttpOptions(headers=observe.headers))


def check_usage(meta):
    assert (meta.prompt_token_count, meta.candidates_token_count, meta.total_token_count) == (INPUT, OUTPUT, TOTAL)
    assert (meta.cached_content_token_count, meta.thoughts_token_count) == (CACHED, THOUGHTS)


def check_vertex_upstream(req, tokens, method, query):
    """The gateway's minted token replaced the client's; nothing else leaked."""
    bearer = tokens.check_minted(req, CLIENT_TOKEN)
    check_upstream(req, path=vertex_path(method), credential=("authorization", bearer), query=query)
    assert req.json()["contents"][0]["parts"][0]["text"] == "hi"


def test_generate_content(client, tokens, observe):
    r = client.models.generate_content(model=MODEL, contents="hi", config=tagged(observe))
    observe.check_response_id(r.sdk_http_response.headers)
    assert r.text == REPLY_TEXT
    assert r.model_version == MODEL
    check_usage(r.usage_metadata)
    check_vertex_upstream(VERTEX.only(), tokens, "generateContent", query=[])
    observe.check(VERTEX, model=MODEL, tokens=TOKENS, streamed=False)


def test_generate_content_stream(client, tokens, observe):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="hi", config=tagged(observe)))
    assert "".join(c.text or "" for c in chunks) == STREAM_TEXT
    assert len(chunks) == 3
    check_usage(chunks[-1].usage_metadata)
    req = VERTEX.only()
    check_vertex_upstream(req, tokens, "streamGenerateContent", query=[("alt", "sse")])
    observe.check(VERTEX, model=MODEL, tokens=TOKENS, streamed=True)
