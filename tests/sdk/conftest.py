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

Observability (gateway mode only): the harness also exports STRAIT_ACCESS_LOG
(the file strait appends one JSON line per request to) and STRAIT_ADMIN_URL
(whose /metrics is Prometheus text). The `observe` fixture tags the test's SDK
call with its own x-request-id and then checks that call's access-log line and
the /metrics deltas against the token counts the mock sent.
"""

import json
import os
import re
import time
import urllib.request
import uuid

import pytest

GATEWAY = os.environ.get("STRAIT_URL", "").rstrip("/")
VIRTUAL_KEY = os.environ.get("STRAIT_VIRTUAL_KEY", "")
DIRECT = not GATEWAY
ACCESS_LOG = os.environ.get("STRAIT_ACCESS_LOG", "")
ADMIN_URL = os.environ.get("STRAIT_ADMIN_URL", "").rstrip("/")

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


@pytest.fixture(autouse=True)
def clean_mocks():
    """Every test starts with empty mock logs."""
    for upstream in (OPENAI, ANTHROPIC, GEMINI, AZURE, VERTEX):
        if upstream is not None:
            upstream.clear()


# --- Observability: access log and /metrics --------------------------------------

# Token kinds, as the access log's `{kind}_tokens` fields and the metric's `kind` label.
KINDS = ("input", "output", "cached", "cache_creation", "reasoning")
# The access-log writer is a background thread, and metrics may be bumped just
# after the log line is queued: both are polled for this long.
OBSERVE_WAIT = 3.0


def expected_tokens(wire, usage, shape=None):
    """The five counts strait logs for a reply in `wire` format ("openai",
    "anthropic", "gemini") carrying the mock `usage` tuple (see USAGE).

    strait normalises to OpenTelemetry GenAI semantics: input counts every prompt
    token, cached ones included; output counts every generated token, reasoning
    ones included. Only what the wire shape actually carries counts: the OpenAI
    shapes have no cache-creation field, Anthropic's no reasoning one, and the
    mock's embeddings send only prompt_tokens (shape="embeddings").
    """
    inp, out, _total, cached, creation, reasoning = usage
    if shape == "embeddings":
        counts = (inp, 0, 0, 0, 0)
    elif wire == "openai":
        counts = (inp, out, cached, 0, reasoning)
    elif wire == "anthropic":
        # Anthropic's input_tokens excludes cache reads and writes.
        counts = (inp + cached + creation, out, cached, creation, 0)
    elif wire == "gemini":
        # candidatesTokenCount excludes thoughtsTokenCount.
        counts = (inp, out + reasoning, cached, 0, reasoning)
    else:
        raise ValueError(f"unknown wire format {wire!r}")
    return dict(zip(KINDS, counts))


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_metrics(text):
    """Prometheus text format → [(name, {label: value}, float)]; comments skipped."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"unparseable /metrics line: {line!r}"
        name, labels, value = m.groups()
        parsed = {}
        for k, v in _LABEL.findall(labels or ""):
            parsed[k] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), v)
        samples.append((name, parsed, float(value)))
    return samples


def metric(samples, name, **labels):
    """Sum of `name` over the series whose labels include `labels`; 0 when none
    exists (strait adds no series for a zero count)."""
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items()))


def read_metrics():
    with urllib.request.urlopen(f"{ADMIN_URL}/metrics", timeout=TIMEOUT) as resp:
        return parse_metrics(resp.read().decode())


def find_log_lines(path, request_id, offset=0):
    """The access-log records (parsed) with this request_id, from byte `offset` on.
    A trailing line without its newline is still being written: ignored."""
    try:
        with open(path, "rb") as f:
            f.seek(offset if offset <= os.fstat(f.fileno()).st_size else 0)
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")[:-1]
    return [r for r in map(json.loads, filter(None, lines)) if r.get("request_id") == request_id]


def poll(fn, done, wait=OBSERVE_WAIT):
    """Calls fn() until done(result) or `wait` seconds passed; the last result."""
    deadline = time.monotonic() + wait
    while True:
        got = fn()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


class Observer:
    """One test's SDK call as strait records it.

    Send `headers` with the call (they tag it with a unique x-request-id), then
    `check(...)`. Everything is a no-op in direct mode: only strait logs.
    """

    def __init__(self, test_name):
        self.enabled = not DIRECT
        if self.enabled:
            # Never skipped silently: the gateway-mode harness must provide both.
            assert ACCESS_LOG and ADMIN_URL, "gateway mode needs STRAIT_ACCESS_LOG and STRAIT_ADMIN_URL"
        # Unique per call so the line is found among all others; strait keeps a
        # client id only if it is [A-Za-z0-9-_.:]{1,128}.
        tag = re.sub(r"[^A-Za-z0-9_.:-]", "-", test_name)[:80]
        self.request_id = f"sdk-{tag}-{uuid.uuid4().hex[:12]}"
        self.headers = {"x-request-id": self.request_id}
        if self.enabled:
            # Before the call: metrics are asserted as deltas (pytest runs tests one
            # at a time), and only log lines appended from here on are read.
            self._before = read_metrics()
            self._offset = os.path.getsize(ACCESS_LOG) if os.path.exists(ACCESS_LOG) else 0

    def check_response_id(self, headers):
        """The gateway echoes the request id to the client (any mapping of headers)."""
        if not self.enabled:
            return
        got = [v for k, v in headers.items() if k.lower() == "x-request-id"]
        assert got == [self.request_id], f"x-request-id in the response: {got}, sent {self.request_id}"

    def log_line(self):
        lines = poll(lambda: find_log_lines(ACCESS_LOG, self.request_id, self._offset), bool)
        assert len(lines) == 1, f"expected 1 access-log line with request_id {self.request_id}, got {lines}"
        return lines[0]

    def check(self, upstream, *, model, tokens, streamed):
        """The call's access-log line and metric deltas, for a 200 from `upstream`
        (its name is the provider strait logs). `tokens` is expected_tokens(…), or
        None for a call that carries no usage (e.g. listing models)."""
        if not self.enabled:
            return
        provider = upstream.name
        line = self.log_line()
        want = {
            "status": 200,
            "error": None,
            "provider": provider,
            "route": upstream.route_name,
            "streamed": streamed,
        }
        if model is not None:
            want["model"] = model
        if tokens is not None:
            want["usage"] = "reported"
            want.update({f"{k}_tokens": n for k, n in tokens.items()})
        got = {k: line.get(k) for k in want}
        assert got == want, f"access-log line differs: {got} != {want}\n{line}"
        if tokens is None:
            assert line.get("usage") != "reported", line
            assert all(line.get(f"{k}_tokens") in (None, 0) for k in KINDS), line
        self._check_metrics(line, tokens)

    def _check_metrics(self, line, tokens):
        """Deltas since __init__ of the request counter and of the token counters
        for the line's (provider, model), which must equal the line's counts."""
        requests = {"route": line["route"], "provider": line["provider"], "status_class": "2xx"}
        series = {"provider": line["provider"]}
        if tokens is not None:
            series["model"] = line["model"]
        # Without usage nothing may be counted for the provider, under any model.
        want = {"requests": 1, **(tokens or dict.fromkeys(KINDS, 0))}
        queries = {"requests": ("strait_requests_total", requests)}
        queries.update({k: ("strait_tokens_total", {**series, "kind": k}) for k in KINDS})

        def deltas(after):
            return {key: metric(after, n, **ls) - metric(self._before, n, **ls) for key, (n, ls) in queries.items()}

        got = deltas(poll(read_metrics, lambda after: deltas(after) == want))
        assert got == want, f"/metrics deltas for {series} differ: {got} != {want}\nlog line: {line}"


@pytest.fixture
def observe(request):
    return Observer(request.node.name)
