"""Anthropic(base_url=…/anthropic_passthrough, api_key=VK) — DESIGN §8."""

import pytest
from anthropic import Anthropic

from conftest import ANTHROPIC, REPLY_TEXT, STREAM_TEXT, TIMEOUT, USAGE, check_upstream, expected_tokens, native_headers

INPUT, OUTPUT, _, CACHED, CACHE_CREATION, _ = USAGE["anthropic"]
MODEL = "claude-sonnet-4-6"
CREDENTIAL = ("x-api-key", ANTHROPIC.key)
MESSAGES = [{"role": "user", "content": "hi"}]
# What strait's access log and metrics must count: input 30 (21 + 5 cache reads
# + 4 cache writes), output 9, cached 5, cache_creation 4, reasoning 0.
TOKENS = expected_tokens("anthropic", USAGE["anthropic"])


@pytest.fixture
def client():
    return Anthropic(
        base_url=ANTHROPIC.base(),
        api_key=ANTHROPIC.client_key,
        # The SDK sends the api key as `Authorization: Bearer`; the gateway
        # replaces it with x-api-key. Direct to the mock we must add it ourselves.
        default_headers=native_headers("x-api-key", ANTHROPIC),
        max_retries=0,
        timeout=TIMEOUT,
    )


def check(req, client):
    check_upstream(req, path="/v1/messages", credential=CREDENTIAL, model=MODEL)
    # The client's anthropic-version is forwarded, not replaced.
    assert req.all("anthropic-version") == [client.default_headers["anthropic-version"]], req


def test_messages_create(client, observe):
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers=observe.headers
    )
    observe.check_response_id(raw.headers)
    m = raw.parse()
    assert m.content[0].text == REPLY_TEXT
    assert m.model == MODEL
    u = m.usage
    assert (u.input_tokens, u.output_tokens) == (INPUT, OUTPUT)
    assert (u.cache_read_input_tokens, u.cache_creation_input_tokens) == (CACHED, CACHE_CREATION)
    check(ANTHROPIC.only(), client)
    observe.check(ANTHROPIC, model=MODEL, tokens=TOKENS, streamed=False)


def test_messages_stream(client, observe):
    call = dict(model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers=observe.headers)
    with client.messages.stream(**call) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == STREAM_TEXT
    assert final.model == MODEL
    assert final.stop_reason == "end_turn"
    u = final.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_input_tokens) == (INPUT, OUTPUT, CACHED)
    req = ANTHROPIC.only()
    check(req, client)
    assert req.json()["stream"] is True
    observe.check(ANTHROPIC, model=MODEL, tokens=TOKENS, streamed=True)


def test_messages_create_stream_events(client, observe):
    call = dict(model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers=observe.headers)
    events = list(client.messages.create(**call, stream=True))
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert events[0].message.usage.input_tokens == INPUT
    assert [e.usage.output_tokens for e in events if e.type == "message_delta"] == [OUTPUT]
    check(ANTHROPIC.only(), client)
    # message_start says output_tokens 1; strait must keep message_delta's final 9.
    observe.check(ANTHROPIC, model=MODEL, tokens=TOKENS, streamed=True)
