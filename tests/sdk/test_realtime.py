"""OpenAI Realtime over WebSocket (the `openai[realtime]` extra) — issue 15:
AsyncOpenAI(websocket_base_url=ws://…/openai_passthrough/v1) and
AsyncAzureOpenAI(azure_endpoint=https://…/azure_passthrough), which dials
wss:// only and so goes through strait's TLS listener.

One session each: session.update, one response (its `response.done` carries the
usage), a normal close.
"""

import asyncio

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI

from conftest import (
    AZURE,
    DIRECT,
    OPENAI,
    STREAM_TEXT,
    TIMEOUT,
    USAGE,
    check_ws_upstream,
    expected_tokens,
    messages,
)

MODEL = "gpt-realtime"
SESSION = {"type": "realtime", "output_modalities": ["text"], "instructions": "Answer briefly."}
# Azure's GA realtime API version; AzureOpenAI sends it with the deployment.
API_VERSION = "2025-08-28"
DEPLOYMENT = "gpt-realtime-deploy"


async def converse(client, model, headers):
    """The README's snippet: update the session, ask for one response, read
    until it is done, close. Returns the events the SDK parsed."""
    events = []
    async with client.realtime.connect(model=model, extra_headers=headers) as conn:
        await conn.session.update(session=SESSION)
        await conn.response.create()
        async for event in conn:
            events.append(event)
            if event.type == "response.done":
                break
    return events


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def check_events(events, usage):
    """What the SDK parsed: the session, the text deltas, the response's usage."""
    types = [e.type for e in events]
    assert types[:2] == ["session.created", "session.updated"], types
    assert events[1].session.instructions == SESSION["instructions"]
    assert types[-1] == "response.done", types
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == STREAM_TEXT
    done = events[-1].response
    assert done.status == "completed"
    inp, out, total, cached, _, _ = usage
    u = done.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (inp, out, total)
    assert u.input_token_details.cached_tokens == cached


def check_session(upstream):
    """What the mock received over the socket: the two client events, then a
    normal close."""
    session = upstream.only_session()
    sent = messages(session)
    assert [m["type"] for m in sent] == ["session.update", "response.create"], sent
    assert sent[0]["session"] == SESSION
    assert session["client_close"] == 1000, session
    return session


def test_openai_realtime(observe):
    base = OPENAI.base("/v1")
    client = AsyncOpenAI(
        api_key=OPENAI.client_key,
        base_url=base,
        websocket_base_url=base.replace("http://", "ws://", 1),
        max_retries=0,
    )
    events = run(converse(client, MODEL, observe.headers))
    check_events(events, USAGE["openai"])
    assert events[0].session.model == MODEL
    check_session(OPENAI)
    credential = ("authorization", f"Bearer {OPENAI.key}")
    check_ws_upstream(OPENAI.only(), path="/v1/realtime", credential=credential, query=[("model", MODEL)])
    observe.check_session(OPENAI, model=MODEL, tokens=expected_tokens("openai", USAGE["openai"], shape="realtime"))


@pytest.mark.skipif(DIRECT, reason="AzureOpenAI's realtime client dials wss:// only: strait's TLS listener")
def test_azure_openai_realtime(observe):
    client = AsyncAzureOpenAI(
        azure_endpoint=AZURE.tls_base(),
        api_version=API_VERSION,
        api_key=AZURE.client_key,
        max_retries=0,
    )
    events = run(converse(client, DEPLOYMENT, observe.headers))
    check_events(events, USAGE["azure"])
    # The mock names the session's model after the deployment, as Azure does.
    assert events[0].session.model == DEPLOYMENT
    check_session(AZURE)
    query = [("api-version", API_VERSION), ("deployment", DEPLOYMENT)]
    req = AZURE.only()
    check_ws_upstream(req, path="/openai/realtime", credential=("api-key", AZURE.key), query=None)
    assert sorted(req.query_pairs()) == query, req
    observe.check_session(AZURE, model=DEPLOYMENT, tokens=expected_tokens("openai", USAGE["azure"], shape="realtime"))
