"""Shared fixtures for the SDK conformance suite.

Gateway mode (the real suite): the Rust harness starts strait in front of the
strait-mock providers and exports STRAIT_URL, STRAIT_VIRTUAL_KEY, MOCK_*_URL and
*_KEY. Each SDK client points at a strait route with the virtual key; each test
checks what the SDK parsed and what reached the mock provider.

Direct mode (validating the mock itself): without STRAIT_URL the clients talk to
the mocks directly with the provider keys (`cargo run -p strait-mock --example
serve` prints the MOCK_*_URL / *_KEY lines). Checks that only make sense through
the gateway (credential replacement, accept-encoding) are skipped.

Vertex AI (gateway mode only): the harness also exports MOCK_VERTEX_URL (a
Gemini-flavor mock accepting only tokens the Google token mock issued),
VERTEX_TOKEN_URL (that token mock's token_uri), and VERTEX_PROJECT /
VERTEX_REGION (what the gateway's vertex key is configured with).

TLS (gateway mode only): STRAIT_TLS_URL is strait's TLS listener
(`https://127.0.0.1:PORT`), for the clients that dial `wss://` only; its
certificate's CA is in SSL_CERT_FILE, which both SDKs' SSL contexts read.

Observability (gateway mode only): the `observe` fixture tags the test's SDK
call or WebSocket session with its own x-request-id and then checks its
access-log line and the /metrics deltas (observability.py).
"""

import json
import os
import re
import urllib.request

import pytest

from observability import Observer, expected_tokens, poll  # noqa: F401 (expected_tokens: for the tests)

GATEWAY = os.environ.get("STRAIT_URL", "").rstrip("/")
TLS_GATEWAY = os.environ.get("STRAIT_TLS_URL", "").rstrip("/")
VIRTUAL_KEY = os.environ.get("STRAIT_VIRTUAL_KEY", "")
DIRECT = not GATEWAY

# Token counts each mock flavor reports: mirror of the consts in mock/src/lib.rs.
# (input, output, total, cached, cache_creation, reasoning)
USAGE = {
    "openai": (11, 7, 18, 2, 0, 3),
    "anthropic": (21, 9, 30, 5, 4, 0),
    "gemini": (31, 12, 49, 8, 0, 6),
    "azure": (41, 14, 55, 6, 3, 4),
}
REPLY_TEXT = "Hello from strait-mock."
# Three content deltas unless x-mock-events says otherwise: "delta0 delta1 delta2 ".
STREAM_TEXT = "".join(f"delta{i} " for i in range(3))
EMBEDDING = [0.25, -0.5, 0.75, 1.0]

# Every header that can carry a credential (DESIGN §2), plus strait's own.
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "cookie"}

TIMEOUT = 30


class Upstream:
    """One mock provider and the strait route in front of it."""

    def __init__(self, name, route, keyed=True):
        self.name = name
        self.route = route
        # How strait's access log and metrics name the route: its path is the
        # route name plus `_passthrough` (`/genai_passthrough` → `genai`).
        # The route as logged and labelled: its prefix without the slash.
        self.route_name = route.strip("/")
        self.mock_url = os.environ[f"MOCK_{name.upper()}_URL"].rstrip("/")
        # Vertex has no provider key: the gateway mints OAuth tokens instead.
        self.key = os.environ[f"{name.upper()}_KEY"] if keyed else None

    def base(self, suffix=""):
        """The base URL a client uses: strait's route, or the mock itself."""
        return (GATEWAY + self.route if GATEWAY else self.mock_url) + suffix

    def tls_base(self, suffix=""):
        """strait's route on its TLS listener (gateway mode only)."""
        assert TLS_GATEWAY, "gateway mode: the harness must export STRAIT_TLS_URL"
        return TLS_GATEWAY + self.route + suffix

    @property
    def client_key(self):
        return self.key if DIRECT else VIRTUAL_KEY

    def _control(self, method):
        return mock_control(self.mock_url, "requests", method)

    def clear(self):
        self._control("DELETE")

    def requests(self):
        return self._control("GET")

    def only(self):
        """The single request this mock received during the test."""
        got = self.requests()
        assert len(got) == 1, f"{self.name} mock: expected exactly 1 request, got {len(got)}: {got}"
        return Received(got[0])

    def only_session(self):
        """The single WebSocket session this mock served during the test, once
        its client's close frame arrived: {path, messages, client_close}."""
        got = poll(lambda: mock_control(self.mock_url, "ws"), lambda s: len(s) == 1 and s[0]["client_close"])
        assert len(got) == 1, f"{self.name} mock: expected exactly 1 WebSocket session, got {got}"
        return got[0]


def mock_control(mock_url, name, method="GET"):
    """A strait-mock test-control route: `/__mock/requests`, `/__mock/issued`."""
    req = urllib.request.Request(f"{mock_url}/__mock/{name}", method=method)
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        return json.load(resp)


class Received:
    """A request as recorded by the mock (GET /__mock/requests)."""

    def __init__(self, raw):
        self.raw = raw
        self.method = raw["method"]
        self.path = raw["path"]
        self.query = raw["query"]
        self.headers = [(n, v) for n, v in raw["headers"]]
        self.body = raw["body"]

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)

    def query_pairs(self):
        from urllib.parse import parse_qsl

        return parse_qsl(self.query or "", keep_blank_values=True)

    def __repr__(self):
        return f"Received({json.dumps(self.raw, indent=1)})"


def check_upstream(req, *, method="POST", path, credential, model=None, query=None):
    """What reached the provider: method, path, query, credential, body model.

    Through the gateway also: the configured credential is the only credential
    header, the virtual key appears nowhere, and no compressed encoding is asked for.
    """
    assert req.method == method, req
    assert req.path == path, req
    if query is not None:
        assert req.query_pairs() == query, req
    name, value = credential
    assert req.all(name) == [value], f"expected exactly one {name}: {value!r}; {req}"
    if model is not None:
        assert req.json()["model"] == model, req
    if DIRECT:
        return
    others = {n for n, _ in req.headers if n in CREDENTIAL_HEADERS or n.startswith("x-strait-")} - {name}
    assert not others, f"credential headers leaked upstream: {others}; {req}"
    assert all(VIRTUAL_KEY not in v for _, v in req.headers), f"virtual key forwarded; {req}"
    assert VIRTUAL_KEY not in (req.query or ""), f"virtual key in query; {req}"
    assert VIRTUAL_KEY not in req.body, f"virtual key in body; {req}"
    codings = []
    for enc in req.all("accept-encoding"):
        for item in enc.split(","):
            coding, _, params = item.strip().partition(";")
            if coding and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
                codings.append(coding.strip().lower())
    assert set(codings) <= {"identity"}, f"upstream asked for compressed body {codings}; {req}"


def check_ws_upstream(req, *, path, credential, query):
    """What reached the provider for a WebSocket handshake: check_upstream's
    rules, and no compression extension (strait takes the offer out)."""
    check_upstream(req, method="GET", path=path, credential=credential, query=query)
    assert req.header("upgrade") == "websocket", req
    if not DIRECT:
        assert req.header("sec-websocket-extensions") is None, req


def messages(session):
    """The JSON messages a mock session received from its client."""
    return [json.loads(m) for m in session["messages"]]


def native_headers(header, upstream):
    """Direct mode only: the provider's own credential header, for SDKs that send
    another one (e.g. `Authorization: Bearer` where the mock wants `x-api-key`)."""
    return {header: upstream.key} if DIRECT else {}


OPENAI = Upstream("openai", "/openai_passthrough")
ANTHROPIC = Upstream("anthropic", "/anthropic_passthrough")
GEMINI = Upstream("gemini", "/genai_passthrough")
AZURE = Upstream("azure", "/azure_passthrough")
# Only the gateway-mode harness starts a Vertex mock; test_vertex.py says why it
# is missing otherwise.
VERTEX = Upstream("vertex", "/genai_passthrough", keyed=False) if os.environ.get("MOCK_VERTEX_URL") else None


class GoogleTokens:
    """The Google token mock the gateway mints its Vertex tokens from."""

    def __init__(self, token_url):
        # VERTEX_TOKEN_URL is the token_uri (…/token); the controls sit at the root.
        self.token_url = token_url
        self.url = token_url.rstrip("/").removesuffix("/token")

    def issued(self):
        """Access tokens issued so far, oldest first."""
        return mock_control(self.url, "issued")

    def check_minted(self, req, client_token):
        """The request carries a token the gateway minted here in place of the
        client's; neither the client's token nor another credential went along.
        Returns the Authorization value."""
        bearer = req.header("authorization") or ""
        assert re.fullmatch(r"Bearer ya29\.mock-\d+", bearer), f"not a minted token: {bearer!r}; {req}"
        token = bearer.removeprefix("Bearer ")
        assert token in self.issued(), f"{token} was not issued by the token mock; {req}"
        assert client_token not in str(req.raw), f"client's Google token forwarded; {req}"
        assert req.header("x-goog-api-key") is None, req
        assert req.header("x-strait-key") is None, req
        return bearer


@pytest.fixture(autouse=True)
def clean_mocks():
    """Every test starts with empty mock logs."""
    for upstream in (OPENAI, ANTHROPIC, GEMINI, AZURE, VERTEX):
        if upstream is not None:
            upstream.clear()


@pytest.fixture
def observe(request):
    return Observer(request.node.name, enabled=not DIRECT)
