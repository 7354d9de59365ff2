"""The three ways onto /azure_passthrough — DESIGN §8:
AzureOpenAI(azure_endpoint=…), OpenAI(base_url=…/openai/v1), Anthropic(base_url=…/anthropic)."""

import pytest
from anthropic import Anthropic
from openai import AzureOpenAI, OpenAI

from conftest import AZURE, REPLY_TEXT, STREAM_TEXT, TIMEOUT, USAGE, check_upstream, expected_tokens, native_headers

INPUT, OUTPUT, TOTAL, CACHED, CACHE_CREATION, _ = USAGE["azure"]
API_VERSION = "2024-10-21"
DEPLOYMENT = "gpt-4o-mini-deploy"
MESSAGES = [{"role": "user", "content": "hi"}]
API_KEY = ("api-key", AZURE.key)
# What strait's access log and metrics must count. One mock usage, two wire
# formats: OpenAI routes input 41, output 14, cached 6, cache_creation 0,
# reasoning 4; /anthropic/ input 50 (41 + 6 + 3), output 14, cached 6,
# cache_creation 3, reasoning 0.
OPENAI_TOKENS = expected_tokens("openai", USAGE["azure"])
ANTHROPIC_TOKENS = expected_tokens("anthropic", USAGE["azure"])


def stream_text_and_usage(stream):
    """Azure's first chunk has empty `choices` (prompt filter results) and the
    last one, with include_usage, too."""
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks[-1].usage, {c.model for c in chunks if c.choices}


# --- AzureOpenAI: /openai/deployments/{d}/…?api-version=, api-key ----------------


@pytest.fixture
def azure():
    return AzureOpenAI(
        azure_endpoint=AZURE.base(),
        api_version=API_VERSION,
        api_key=AZURE.client_key,
        max_retries=0,
        timeout=TIMEOUT,
    )


def check_deployment(req):
    path = f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    check_upstream(req, path=path, credential=API_KEY, model=DEPLOYMENT, query=[("api-version", API_VERSION)])


def test_azure_openai_chat(azure, observe):
    raw = azure.chat.completions.with_raw_response.create(
        model=DEPLOYMENT, messages=MESSAGES, extra_headers=observe.headers
    )
    observe.check_response_id(raw.headers)
    r = raw.parse()
    assert r.choices[0].message.content == REPLY_TEXT
    assert r.model == DEPLOYMENT
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (INPUT, OUTPUT, TOTAL)
    check_deployment(AZURE.only())
    # Azure reports the deployment as the model.
    observe.check(AZURE, model=DEPLOYMENT, tokens=OPENAI_TOKENS, streamed=False)


def test_azure_openai_chat_stream(azure, observe):
    stream = azure.chat.completions.create(
        model=DEPLOYMENT,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=observe.headers,
    )
    text, usage, models = stream_text_and_usage(stream)
    assert text == STREAM_TEXT
    assert models == {DEPLOYMENT}
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (INPUT, OUTPUT, TOTAL)
    check_deployment(AZURE.only())
    # The first chunk's model is "" (prompt filter results): not the one to log.
    observe.check(AZURE, model=DEPLOYMENT, tokens=OPENAI_TOKENS, streamed=True)


# --- OpenAI on the v1 API: /openai/v1/…, no api-version ---------------------------


@pytest.fixture
def openai_v1():
    return OpenAI(
        base_url=AZURE.base("/openai/v1"),
        api_key=AZURE.client_key,
        # Sent as `Authorization: Bearer`; the gateway turns it into api-key.
        default_headers=native_headers("api-key", AZURE),
        max_retries=0,
        timeout=TIMEOUT,
    )


def test_openai_v1_chat(openai_v1, observe):
    r = openai_v1.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=observe.headers)
    assert r.choices[0].message.content == REPLY_TEXT
    assert r.model == "gpt-4o-mini"
    assert r.usage.total_tokens == TOTAL
    check_upstream(AZURE.only(), path="/openai/v1/chat/completions", credential=API_KEY, model="gpt-4o-mini")
    observe.check(AZURE, model="gpt-4o-mini", tokens=OPENAI_TOKENS, streamed=False)


def test_openai_v1_chat_stream(openai_v1, observe):
    stream = openai_v1.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=observe.headers,
    )
    text, usage, models = stream_text_and_usage(stream)
    assert text == STREAM_TEXT
    assert models == {"gpt-4o-mini"}
    assert usage.total_tokens == TOTAL
    check_upstream(AZURE.only(), path="/openai/v1/chat/completions", credential=API_KEY, model="gpt-4o-mini")
    observe.check(AZURE, model="gpt-4o-mini", tokens=OPENAI_TOKENS, streamed=True)


# --- Anthropic on Azure: /anthropic/v1/messages, x-api-key ------------------------


@pytest.fixture
def claude():
    return Anthropic(
        base_url=AZURE.base("/anthropic"),
        api_key=AZURE.client_key,
        default_headers=native_headers("x-api-key", AZURE),
        max_retries=0,
        timeout=TIMEOUT,
    )


def check_claude(req):
    check_upstream(req, path="/anthropic/v1/messages", credential=("x-api-key", AZURE.key), model="claude-sonnet-4-6")


def test_anthropic_messages(claude, observe):
    call = dict(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, extra_headers=observe.headers)
    m = claude.messages.create(**call)
    assert m.content[0].text == REPLY_TEXT
    u = m.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_input_tokens) == (INPUT, OUTPUT, CACHED)
    assert u.cache_creation_input_tokens == CACHE_CREATION
    check_claude(AZURE.only())
    observe.check(AZURE, model="claude-sonnet-4-6", tokens=ANTHROPIC_TOKENS, streamed=False)


def test_anthropic_messages_stream(claude, observe):
    call = dict(model="claude-sonnet-4-6", max_tokens=64, messages=MESSAGES, extra_headers=observe.headers)
    with claude.messages.stream(**call) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == STREAM_TEXT
    assert (final.usage.input_tokens, final.usage.output_tokens) == (INPUT, OUTPUT)
    check_claude(AZURE.only())
    observe.check(AZURE, model="claude-sonnet-4-6", tokens=ANTHROPIC_TOKENS, streamed=True)
