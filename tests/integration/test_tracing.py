"""Tracing: W3C trace context from the client to every backend (passthrough
too), spans exported over OTLP/HTTP, as protobuf (the default) and as JSON,
to a collector that is a small HTTP/1.1 server thread in the test (it
decodes protobuf with its own wire-format reader below, standard library
only), the exporter keeping its connection, the access log's trace id, and
a dead or silent collector that must cost the requests nothing. Expected
ids come from what the test sent and what the mocks saw, never from
medley's own output."""

import http.client
import json
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness
import mockbackend as mb
from harness import check, eq, home_config, http_get
from test_telemetry import read_log, scrape, scrape_until, value

TP_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TP = f"00-{TRACE}-{PARENT}-01"
STATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"


# --------------------------------------------------------------------------
# OTLP protobuf, read with a wire-format decoder of its own and turned into
# the OTLP/HTTP JSON shape (hex ids, times and ints as strings), so the same
# span checks run on both protocols. Strict: minimal varints, and only the
# fields medley writes, each with its wire type (field numbers from
# opentelemetry-proto trace.proto, common.proto, resource.proto).

def _varint(b, i):
    v = 0
    for n in range(10):
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << (7 * n)
        if not c & 0x80:
            if n and c == 0:
                raise ValueError("varint not minimal")
            return v, i
    raise ValueError("varint longer than 10 bytes")


def pb_fields(b):
    """[(field number, wire type, value)] of one message: an int for wire
    types 0 (varint) and 1 (fixed64), bytes for 2 (length-delimited)."""
    out, i = [], 0
    while i < len(b):
        tag, i = _varint(b, i)
        num, wt = tag >> 3, tag & 7
        if num == 0:
            raise ValueError("field number 0")
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            if i + 8 > len(b):
                raise ValueError("truncated fixed64")
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ValueError("length past the end")
            v, i = b[i:i + n], i + n
        else:
            raise ValueError(f"wire type {wt}")
        out.append((num, wt, v))
    return out


def _only(fields, allowed, what):
    for num, wt, _ in fields:
        if allowed.get(num) != wt:
            raise ValueError(f"{what}: field {num} with wire type {wt}")
    return fields


def _key_value(b):
    kv = {}
    for num, _, v in _only(pb_fields(b), {1: 2, 2: 2}, "KeyValue"):
        if num == 1:
            kv["key"] = v.decode("utf-8")
            continue
        any_ = _only(pb_fields(v), {1: 2, 3: 0}, "AnyValue")
        if len(any_) != 1:
            raise ValueError(f"AnyValue with {len(any_)} fields")
        anum, _, av = any_[0]
        kv["value"] = {"stringValue": av.decode("utf-8")} if anum == 1 else {"intValue": str(av)}
    return kv


SPAN_WIRE = {1: 2, 2: 2, 4: 2, 5: 2, 6: 0, 7: 1, 8: 1, 9: 2, 15: 2}
SPAN_NAMES = {1: "traceId", 2: "spanId", 4: "parentSpanId", 5: "name", 6: "kind",
              7: "startTimeUnixNano", 8: "endTimeUnixNano"}


def _span(b):
    span = {}
    for num, _, v in _only(pb_fields(b), SPAN_WIRE, "Span"):
        if num in (1, 2, 4):
            span[SPAN_NAMES[num]] = v.hex()
        elif num == 5:
            span["name"] = v.decode("utf-8")
        elif num == 6:
            span["kind"] = v
        elif num in (7, 8):
            span[SPAN_NAMES[num]] = str(v)
        elif num == 9:
            span.setdefault("attributes", []).append(_key_value(v))
        else:
            code = _only(pb_fields(v), {3: 0}, "Status")
            span["status"] = {"code": code[0][2]} if code else {}
    return span


def otlp_from_protobuf(body):
    """An ExportTraceServiceRequest as the dict its OTLP/HTTP JSON would be."""
    doc = {"resourceSpans": []}
    for _, _, rsb in _only(pb_fields(body), {1: 2}, "ExportTraceServiceRequest"):
        rs = {}
        for num, _, v in _only(pb_fields(rsb), {1: 2, 2: 2}, "ResourceSpans"):
            if num == 1:
                attrs = _only(pb_fields(v), {1: 2}, "Resource")
                rs["resource"] = {"attributes": [_key_value(a) for _, _, a in attrs]}
                continue
            ss = {"spans": []}
            for snum, _, sv in _only(pb_fields(v), {1: 2, 2: 2}, "ScopeSpans"):
                if snum == 1:
                    scope = _only(pb_fields(sv), {1: 2, 2: 2}, "InstrumentationScope")
                    ss["scope"] = {("name" if n == 1 else "version"): x.decode("utf-8") for n, _, x in scope}
                else:
                    ss["spans"].append(_span(sv))
            rs.setdefault("scopeSpans", []).append(ss)
        doc["resourceSpans"].append(rs)
    return doc


# --------------------------------------------------------------------------
# A collector: collects every POSTed export request, JSON or protobuf, and
# answers on a kept-alive HTTP/1.1 connection (as collectors do) unless
# told to close.

class Collector:
    def __init__(self, status=200, close=False):
        self.status = status
        self.posts = []         # (path, content-type, parsed document, connection)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                ctype = self.headers.get("Content-Type")
                try:
                    doc = otlp_from_protobuf(body) if ctype == "application/x-protobuf" else json.loads(body)
                except (ValueError, UnicodeDecodeError) as e:
                    doc = {"unparsable": f"{e}: {body[:200]!r}"}
                with outer.lock:
                    outer.posts.append((self.path, ctype, doc, self.client_address))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                if close:
                    self.send_header("Connection", "close")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        out = []
        with self.lock:
            for _, _, doc, _ in self.posts:
                check("unparsable" not in doc, f"the collector could not read an export: {doc}")
                for rs in doc.get("resourceSpans", []):
                    for ss in rs.get("scopeSpans", []):
                        out.extend(ss.get("spans", []))
        return out

    def wait_spans(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.spans()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.spans()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SilentCollector:
    """Accepts connections, reads whatever comes, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)    # held open, never read to the end, never answered

    def stop(self):
        self.stopped = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()


def tracing_config(port, extra=""):
    return home_config() + (f"tracing: {{ otlp_endpoint: \"http://127.0.0.1:{port}/v1/traces\","
                            f" service_name: medley-it, interval: 100ms{extra} }}\n")


def parent_of(req):
    """The traceparent a mock request carried, parsed: (trace, span, flags)."""
    tp = req.header("traceparent")
    check(tp is not None, f"no traceparent reached {req.path}: {req.headers}")
    m = TP_RE.match(tp)
    check(m, f"{req.path} got a malformed traceparent {tp!r}")
    check(m.group(1) != "0" * 32 and m.group(2) != "0" * 16, f"all-zero id in {tp!r}")
    return m.group(1), m.group(2), m.group(3)


def home_backends(w):
    """The last request each of the three mocks saw."""
    reqs = [w.news.seen(), w.events.seen(), w.hr.seen()]
    for r in reqs:
        check(r, "a backend was not called")
    return [r[-1] for r in reqs]


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = v.get("stringValue", v.get("intValue"))
    return out


# --------------------------------------------------------------------------
# Propagation (no collector needed).

def test_incoming_context_reaches_every_backend(t):
    w = t.world()
    r = w.get("/home?user=42", headers={"traceparent": TP, "tracestate": STATE})
    eq(r.status, 200, "status")
    spans = set()
    for req in home_backends(w):
        trace, span, flags = parent_of(req)
        eq(trace, TRACE, f"trace id at {req.path}")
        eq(flags, "01", f"sampled flag at {req.path}")
        check(span != PARENT, f"{req.path} got the caller's own span id as parent")
        spans.add(span)
        eq(req.header("tracestate"), STATE, f"tracestate at {req.path}")
    eq(len(spans), 3, "one new span id per backend call")
    # A passthrough carries it too.
    w.news.clear()
    eq(w.get("/news-raw", headers={"traceparent": TP, "tracestate": STATE}).status, 200, "passthrough")
    req = w.news.seen()[-1]
    trace, span, _ = parent_of(req)
    eq(trace, TRACE, "passthrough trace id")
    check(span != PARENT and span not in spans, "passthrough parent span id is not new")
    eq(req.header("tracestate"), STATE, "passthrough tracestate")
    w.medley.stop()


def test_without_traceparent_a_new_trace_starts(t):
    w = t.world()
    traces = []
    for _ in range(2):
        w.assert_home_ok(42)
        got = [parent_of(req) for req in home_backends(w)]
        eq(len({g[0] for g in got}), 1, "one trace id for the request's backends")
        eq(len({g[1] for g in got}), 3, "distinct parent span ids")
        eq({g[2] for g in got}, {"01"}, "sampled by default (sample: 1)")
        for req in home_backends(w):
            eq(req.header("tracestate"), None, f"tracestate at {req.path}")
        traces.append(got[0][0])
    check(traces[0] != traces[1], "two requests got the same trace id")
    w.medley.stop()


def test_invalid_context_is_not_forwarded(t):
    w = t.world()
    bad = [TP.upper(), f"ff-{TRACE}-{PARENT}-01", f"00-{'0' * 32}-{PARENT}-01",
           f"00-{TRACE}-{PARENT}-01-extra", f"00-{TRACE}-{PARENT}", "garbage"]
    for value_ in bad:
        w.news.clear()
        w.events.clear()
        w.hr.clear()
        eq(w.get("/home?user=42", headers={"traceparent": value_, "tracestate": STATE}).status, 200,
           f"status with traceparent {value_!r}")
        for req in home_backends(w):
            trace, span, _ = parent_of(req)
            check(trace not in (TRACE, "0" * 32), f"{value_!r} was continued at {req.path}")
            check(req.header("traceparent") != value_, "forwarded as is")
            eq(req.header("tracestate"), None, f"tracestate without a valid traceparent at {req.path}")
    # A valid traceparent with an invalid tracestate: the state alone is dropped.
    w.news.clear()
    eq(w.get("/home?user=42", headers={"traceparent": TP, "tracestate": "Bad Key=1"}).status, 200, "status")
    req = w.news.seen()[-1]
    eq(parent_of(req)[0], TRACE, "trace id kept")
    eq(req.header("tracestate"), None, "invalid tracestate forwarded")
    w.medley.stop()


def test_sample_zero_marks_new_traces_unsampled(t):
    c = Collector()
    try:
        w = t.world(config=tracing_config(c.port, ", sample: 0"))
        w.assert_home_ok(42)
        for req in home_backends(w):
            eq(parent_of(req)[2], "00", f"flags at {req.path}")
        # The caller's decision wins over the rate.
        w.get("/home?user=42", headers={"traceparent": TP})
        for req in home_backends(w):
            eq(parent_of(req)[2], "01", f"caller-sampled flags at {req.path}")
        spans = c.wait_spans(4)
        w.medley.stop()
        spans = c.spans()
        eq(sorted({s["traceId"] for s in spans}), [TRACE], "only the caller-sampled trace is exported")
        eq(len(spans), 4, "spans of the one sampled request")
    finally:
        c.stop()


# --------------------------------------------------------------------------
# Export.

def _spans_reach_the_collector(t, extra, ctype):
    c = Collector()
    try:
        w = t.world(config=tracing_config(c.port, extra))
        sent = []
        for i in range(5):
            trace = f"{i + 1:032x}"
            parent = f"{0xabc0 + i:016x}"
            r = w.get("/home?user=42", headers={"traceparent": f"00-{trace}-{parent}-01",
                                                "Host": "gw.example:8088"})
            eq(r.status, 200, "status")
            seen = {req.path.split("/")[1]: parent_of(req)[1] for req in home_backends(w)}
            sent.append((trace, parent, seen))
        spans = c.wait_spans(20)
        eq(len(spans), 20, "spans: one server and three client spans per request")
        with c.lock:
            for path, got_ctype, doc, _ in c.posts:
                eq(path, "/v1/traces", "export path")
                eq(got_ctype, ctype, "export content type")
                res = doc["resourceSpans"][0]
                eq(attrs(res["resource"]), {"service.name": "medley-it"}, "resource")
                eq(res["scopeSpans"][0]["scope"]["name"], "medley", "scope name")
        names = {"news": "news", "events": "events", "employees": "vacation"}
        for trace, parent, seen in sent:
            mine = [s for s in spans if s["traceId"] == trace]
            eq(len(mine), 4, f"spans of trace {trace}")
            server = [s for s in mine if s["kind"] == 2]
            eq(len(server), 1, "one server span")
            sv = server[0]
            eq(sv.get("parentSpanId"), parent, "server span parent = the caller's span")
            eq(sv["name"], "GET /home", "server span name")
            a = attrs(sv)
            eq({k: a.get(k) for k in ("http.request.method", "url.path", "http.route",
                                      "http.response.status_code", "server.address", "server.port")},
               {"http.request.method": "GET", "url.path": "/home", "http.route": "/home",
                "http.response.status_code": "200", "server.address": "gw.example", "server.port": "8088"},
               "server span attributes")
            check("status" not in sv, f"a fine request has an error status: {sv}")
            start, end = int(sv["startTimeUnixNano"]), int(sv["endTimeUnixNano"])
            check(abs(start / 1e9 - time.time()) < 120, f"server span start {start} is not near now")
            clients = [s for s in mine if s["kind"] == 3]
            eq(sorted(s["name"] for s in clients), ["events", "news", "vacation"], "client span names")
            for path_seg, span_id in seen.items():
                k = [s for s in clients if s["name"] == names[path_seg]][0]
                eq(k["spanId"], span_id, f"{k['name']} span id = the parent id its backend saw")
                eq(k["parentSpanId"], sv["spanId"], f"{k['name']} client span parent = the server span")
                eq(attrs(k).get("http.response.status_code"), "200", f"{k['name']} status attribute")
                eq(attrs(k).get("server.address"), "127.0.0.1", f"{k['name']} server.address")
                check(start <= int(k["startTimeUnixNano"]) <= int(k["endTimeUnixNano"]) <= end,
                      f"{k['name']} span is not inside its request's span")
        s = scrape_until(w.medley, lambda x: value(x, "medley_trace_spans_exported_total") == 20,
                         "20 exported spans")
        eq(value(s, "medley_trace_spans_dropped_total"), 0, "dropped spans")
        eq(value(s, "medley_trace_export_failures_total"), 0, "export failures")
        w.medley.stop()
    finally:
        c.stop()


def test_spans_reach_the_collector(t):
    _spans_reach_the_collector(t, "", "application/x-protobuf")  # OTLP/HTTP's default


def test_spans_reach_the_collector_as_json(t):
    _spans_reach_the_collector(t, ", otlp_protocol: http/json", "application/json")


def _three_exports(t, c, extra=""):
    """Three requests, each exported in its own POST; returns the connections they came on."""
    w = t.world(config=tracing_config(c.port, extra))
    for i in range(3):
        w.assert_home_ok(42)
        eq(len(c.wait_spans(4 * (i + 1))), 4 * (i + 1), f"spans after request {i + 1}")
    w.medley.stop()
    with c.lock:
        return [conn for _, _, _, conn in c.posts]


def test_export_keeps_its_connection(t):
    for extra in ("", ", otlp_protocol: http/json"):
        c = Collector()
        try:
            conns = _three_exports(t, c, extra)
            check(len(conns) >= 3, f"{len(conns)} POSTs, expected one per request ({extra or 'protobuf'})")
            eq(len(set(conns)), 1, f"connections for {len(conns)} POSTs ({extra or 'protobuf'})")
        finally:
            c.stop()
    # A collector that says Connection: close gets a new connection each time.
    c = Collector(close=True)
    try:
        conns = _three_exports(t, c)
        eq(len(set(conns)), len(conns), "connections when the collector closes them")
    finally:
        c.stop()


def test_failed_backend_span_carries_the_error(t):
    c = Collector()
    try:
        w = t.world(config=tracing_config(c.port))
        w.hr.route("/employees/*/vacation", mb.Reply.with_status(503))
        eq(w.get("/home?user=7", headers={"traceparent": TP}).status, 200, "optional failure")
        w.news.route("/news", mb.Reply.with_status(500))
        eq(w.get("/home?user=7").status, 502, "required failure")
        c.wait_spans(8)
        w.medley.stop()
        spans = c.spans()
        vac = [s for s in spans if s["name"] == "vacation" and s["traceId"] == TRACE][0]
        eq(vac.get("status"), {"code": 2}, "failed call's span status")
        eq(attrs(vac).get("error.type"), "status", "failed call's error.type")
        bad = [s for s in spans if s["kind"] == 2 and s["traceId"] != TRACE][0]
        eq(attrs(bad).get("http.response.status_code"), "502", "502 server span status code")
        eq(bad.get("status"), {"code": 2}, "502 server span status")
    finally:
        c.stop()


# --------------------------------------------------------------------------
# A collector that is down or hangs.

def _run_requests(port, n):
    """n sequential keep-alive requests; returns the seconds they took."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    t0 = time.monotonic()
    for _ in range(n):
        conn.request("GET", "/home?user=42")
        r = conn.getresponse()
        r.read()
        check(r.status == 200, f"status {r.status}")
    took = time.monotonic() - t0
    conn.close()
    return took


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _load(w, n, warm):
    """Warms up, times `warm` requests, runs the rest of n; returns (the
    timed seconds, RSS growth in KiB after the warm-up)."""
    pid = w.medley.proc.pid
    _run_requests(w.port, warm)
    rss0 = _rss_kb(pid)
    took = _run_requests(w.port, warm)
    _run_requests(w.port, n - 2 * warm)
    return took, _rss_kb(pid) - rss0


def test_dead_collector_costs_the_requests_nothing(t):
    slow = bool(harness.WRAPPER)          # valgrind: fewer requests, same checks
    n, warm = (300, 100) if slow else (3000, 500)
    # The same load without tracing: its time and RSS growth are the
    # reference (allocator caches, ASan's quarantine, valgrind all add
    # their own growth).
    base = t.world()
    base_took, base_grew = _load(base, n, warm)
    base.medley.stop()
    silent = SilentCollector()
    try:
        for port, what in ((mb.closed_port(), "refused"), (silent.port, "silent")):
            w = t.world(config=tracing_config(port, ", queue: 100, batch: 50, timeout: 300ms"))
            took, grew = _load(w, n, warm)
            check(took < base_took * 3 + 0.5,
                  f"{what} collector: {warm} requests took {took:.2f}s vs {base_took:.2f}s without tracing")
            check(grew - base_grew < 2048,
                  f"{what} collector: RSS grew {grew} KiB over {n - warm} requests, {base_grew} KiB without tracing")
            s = scrape_until(w.medley, lambda x: (value(x, "medley_trace_spans_dropped_total") or 0) > 0,
                             f"dropped spans with a {what} collector")
            eq(value(s, "medley_trace_spans_exported_total"), 0, f"spans exported to a {what} collector")
            check((value(s, "medley_trace_export_failures_total") or 0) > 0, f"no export failure ({what})")
            t0 = time.monotonic()
            w.medley.stop()
            check(time.monotonic() - t0 < 5, f"stopping with a {what} collector took too long")
    finally:
        silent.stop()


# --------------------------------------------------------------------------
# The access log.

def test_access_log_carries_the_trace_id_the_backends_saw(t):
    log_path = os.path.join(t.dir, "access.log")
    w = t.world(config=home_config() + f"access_log: {{ path: {log_path} }}\n")
    eq(w.get("/home?user=42", headers={"traceparent": TP}).status, 200, "status")
    eq(parent_of(home_backends(w)[0])[0], TRACE, "the backend's trace id")
    w.assert_home_ok(42)
    new_trace = parent_of(home_backends(w)[0])[0]
    w.medley.stop()
    _, lines = read_log(log_path)
    eq(len(lines), 2, "log lines")
    # Two workers write their own lines: the order is not the requests'.
    eq(sorted(x["trace_id"] for x in lines), sorted([TRACE, new_trace]), "the lines' trace ids")
    for line in lines:
        check(re.match(r"^[0-9a-f]{16}$", line["span_id"]), f"span_id {line['span_id']!r}")
        check(line["span_id"] != PARENT, "the log's span id is the caller's")
