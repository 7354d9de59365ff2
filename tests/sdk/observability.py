"""The suite's view of strait's own records: the access-log line and the
/metrics deltas of one SDK call or WebSocket session (gateway mode only).

The harness exports STRAIT_ACCESS_LOG (the file strait appends one JSON line per
request or session to) and STRAIT_ADMIN_URL (whose /metrics is Prometheus text).
An Observer tags the call with its own x-request-id, then checks that call's
line and the metric deltas against the token counts the mock sent.
"""

import json
import os
import re
import time
import urllib.request
import uuid

ACCESS_LOG = os.environ.get("STRAIT_ACCESS_LOG", "")
ADMIN_URL = os.environ.get("STRAIT_ADMIN_URL", "").rstrip("/")
METRICS_TIMEOUT = 30

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
    mock's embeddings send only prompt_tokens (shape="embeddings"), Realtime's
    `response.done` usage has no reasoning count (shape="realtime").
    """
    inp, out, _total, cached, creation, reasoning = usage
    if shape == "embeddings":
        counts = (inp, 0, 0, 0, 0)
    elif shape == "realtime":
        counts = (inp, out, cached, 0, 0)
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
    with urllib.request.urlopen(f"{ADMIN_URL}/metrics", timeout=METRICS_TIMEOUT) as resp:
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

    def __init__(self, test_name, enabled):
        self.enabled = enabled
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
        self._check(upstream, model, tokens, {"status": 200, "streamed": streamed})

    def check_session(self, upstream, *, model, tokens):
        """The same for a WebSocket session the client closed normally: one line
        at its end, the usage summed over its responses, counted as a 1xx."""
        end = {"status": 101, "websocket": True, "ws_end": "client_close", "ws_close_code": 1000}
        line = self._check(upstream, model, tokens, end)
        if self.enabled:
            # Both directions carried frames: the client's messages, the provider's events.
            assert line["ws_frames_in"] > 0 and line["ws_frames_out"] > 0, line

    def _check(self, upstream, model, tokens, outcome):
        if not self.enabled:
            return None
        line = self.log_line()
        want = {"error": None, "provider": upstream.name, "route": upstream.route_name, **outcome}
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
        return line

    def _check_metrics(self, line, tokens):
        """Deltas since __init__ of the request counter and of the token counters
        for the line's (provider, model), which must equal the line's counts."""
        status_class = f"{line['status'] // 100}xx"
        requests = {"route": line["route"], "provider": line["provider"], "status_class": status_class}
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
