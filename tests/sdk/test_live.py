"""google-genai Live (`client.aio.live.connect`) through /genai_passthrough —
issue 15. The Live client dials wss:// only: strait's TLS listener.

Gemini API mode: the virtual key as the client's api_key (sent as
x-goog-api-key). Vertex mode: the client's own Google token (it selects Vertex)
and the virtual key in x-strait-key, as in test_vertex.py; strait mints the
token the provider sees.

One session each: setup, one turn (a text, then messages until the turn is
complete; the last carries the usage), a normal close.
"""

import asyncio
import os

import pytest
from google import genai
from google.oauth2.credentials import Credentials

from conftest import (
    DIRECT,
    GEMINI,
    STREAM_TEXT,
    TIMEOUT,
    USAGE,
    VERTEX,
    VIRTUAL_KEY,
    GoogleTokens,
    check_ws_upstream,
    expected_tokens,
    messages,
)

pytestmark = pytest.mark.skipif(DIRECT, reason="google-genai's Live client dials wss:// only: strait's TLS listener")

MODEL = "gemini-live-2.5-flash"
CLIENT_TOKEN = "ya29.client-own-token"
INPUT, OUTPUT, TOTAL, CACHED, _, THOUGHTS = USAGE["gemini"]
# Live output is `responseTokenCount` (Gemini API) or `candidatesTokenCount`
# (Vertex, which the SDK renames): neither includes thoughts, as for HTTP.
TOKENS = expected_tokens("gemini", USAGE["gemini"])


async def one_turn(client, headers):
    """The README's snippet: connect, send one text, read until the turn is
    complete, close. Returns the messages the SDK parsed."""
    config = {"response_modalities": ["TEXT"], "http_options": {"headers": headers}}
    received = []
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns={"parts": [{"text": "Hello"}]})
        async for message in session.receive():
            received.append(message)
    return received


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def check_turn(received):
    assert "".join(m.text or "" for m in received) == STREAM_TEXT
    last = received[-1]
    assert last.server_content.turn_complete, last
    u = last.usage_metadata
    assert (u.prompt_token_count, u.response_token_count, u.total_token_count) == (INPUT, OUTPUT, TOTAL)
    assert (u.cached_content_token_count, u.thoughts_token_count) == (CACHED, THOUGHTS)


def check_session(upstream, model_resource):
    """The mock received the setup (naming the model as the SDK does, which
    strait does not rewrite) and the turn, then a normal close."""
    session = upstream.only_session()
    setup, turn = messages(session)
    assert setup["setup"]["model"] == model_resource, setup
    assert setup["setup"]["generationConfig"]["responseModalities"] == ["TEXT"], setup
    # google-genai names the message's field as in the .proto (protobuf JSON
    # takes either spelling); the ones inside it in lowerCamelCase.
    assert turn["client_content"]["turns"][0]["parts"] == [{"text": "Hello"}], turn
    assert turn["client_content"]["turnComplete"] is True, turn
    assert session["client_close"] == 1000, session


def test_gemini_live(observe):
    client = genai.Client(api_key=GEMINI.client_key, http_options={"base_url": GEMINI.tls_base()})
    check_turn(run(one_turn(client, observe.headers)))
    check_session(GEMINI, f"models/{MODEL}")
    # google-genai 3.6 dials the v1 Live endpoint.
    path = "/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent"
    check_ws_upstream(GEMINI.only(), path=path, credential=("x-goog-api-key", GEMINI.key), query=[])
    observe.check_session(GEMINI, model=MODEL, tokens=TOKENS)


def test_vertex_live(observe):
    assert VERTEX is not None, "gateway mode: the harness must export MOCK_VERTEX_URL"
    tokens = GoogleTokens(os.environ["VERTEX_TOKEN_URL"])
    client = genai.Client(
        vertexai=True,
        project="client-project",
        location="europe-west4",
        credentials=Credentials(token=CLIENT_TOKEN),
        http_options={"base_url": VERTEX.tls_base(), "headers": {"x-strait-key": VIRTUAL_KEY}},
    )
    check_turn(run(one_turn(client, observe.headers)))
    # The client's own project and location: strait rewrites only URL paths.
    check_session(VERTEX, f"projects/client-project/locations/europe-west4/publishers/google/models/{MODEL}")
    req = VERTEX.only()
    path = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
    bearer = tokens.check_minted(req, CLIENT_TOKEN)
    check_ws_upstream(req, path=path, credential=("authorization", bearer), query=[])
    observe.check_session(VERTEX, model=MODEL, tokens=TOKENS)
