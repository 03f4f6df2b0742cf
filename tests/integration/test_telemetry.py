"""Telemetry: the admin listener (/metrics, /healthz, /readyz), exact
metrics after known traffic, access log lines that match the requests and
hold no secret, and the Server-Timing header. Expected values are counted
from the traffic each test sends, never read back from medley first."""

import json
import os
import re
import socket
import threading
import time

import mockbackend as mb
from harness import Medley, check, eq, expected_events, expected_news, free_port, home_config, http_get

LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(' + LABEL + r'(?:,' + LABEL + r')*)?\})? '
                       r'(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\+Inf|-Inf|NaN)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TIME_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$')
SECRETS = ("SECRET123", "SECRET456", "SECRET789", "SECRET000", "UPSTREAMSECRET777", "token=", "Bearer")


def _root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_exposition(text):
    """{(name, ((label, value), ...)): float} after checking every line
    against the text format 0.0.4: HELP/TYPE comments, a TYPE before the
    family's samples, no series twice, histograms with cumulative buckets
    ending in +Inf equal to _count."""
    check(text.endswith("\n"), "exposition does not end with a newline")
    types, series = {}, {}
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            check(re.match(r"^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S", line), f"bad HELP line {line!r}")
            continue
        if line.startswith("# TYPE "):
            m = re.match(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$", line)
            check(m, f"bad TYPE line {line!r}")
            check(m.group(1) not in types, f"TYPE twice for {m.group(1)}")
            types[m.group(1)] = m.group(2)
            continue
        m = SAMPLE_RE.match(line)
        check(m, f"line is not a valid sample: {line!r}")
        name, labels = m.group(1), tuple(LABEL_RE.findall(m.group(2) or ""))
        family = name
        for sfx in ("_bucket", "_sum", "_count"):
            if name.endswith(sfx) and types.get(name[:-len(sfx)]) == "histogram":
                family = name[:-len(sfx)]
        check(family in types, f"sample before its TYPE: {line!r}")
        if types[family] == "counter":
            check(name.endswith("_total"), f"counter sample without _total: {line!r}")
        key = (name, labels)
        check(key not in series, f"series twice: {line!r}")
        series[key] = float(m.group(3))
    _check_histograms(types, series)
    return series


def _check_histograms(types, series):
    for fam, kind in types.items():
        if kind != "histogram":
            continue
        groups = {}
        for (name, labels), v in series.items():
            if name == fam + "_bucket":
                rest = tuple(x for x in labels if x[0] != "le")
                le = dict(labels)["le"]
                groups.setdefault(rest, []).append((float("inf") if le == "+Inf" else float(le), v))
        for rest, buckets in groups.items():
            buckets.sort()
            values = [v for _, v in buckets]
            check(values == sorted(values), f"{fam}{rest}: buckets not cumulative: {buckets}")
            check(buckets[-1][0] == float("inf"), f"{fam}{rest}: no +Inf bucket")
            eq(values[-1], series.get((fam + "_count", rest)), f"{fam}{rest}: +Inf bucket vs _count")
            check((fam + "_sum", rest) in series, f"{fam}{rest}: no _sum")


def value(series, name, **labels):
    want = tuple(sorted(labels.items()))
    for (n, ls), v in series.items():
        if n == name and tuple(sorted(ls)) == want:
            return v
    return None


def scrape(m):
    r = http_get(m.admin_port, "/metrics")
    eq(r.status, 200, "/metrics status")
    eq(r.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8", "/metrics content type")
    return parse_exposition(r.body.decode("utf-8"))


def scrape_until(m, cond, what, timeout=3.0):
    """Scrapes until cond(series) holds: a response reaches the client a
    moment before its worker counts it."""
    deadline = time.monotonic() + timeout
    while True:
        s = scrape(m)
        if cond(s) or time.monotonic() > deadline:
            check(cond(s), f"metrics never showed {what}")
            return s
        time.sleep(0.05)


def log_world(t, extra="", name="access.log", **cfg):
    log_path = os.path.join(t.dir, name)
    text = home_config(news_extra=', headers: { X-Api-Key: "UPSTREAMSECRET777" }', **cfg)
    text += f"access_log: {{ path: {log_path}{extra} }}\n"
    return t.world(config=text), log_path


def read_log(path):
    if not os.path.exists(path):
        return "", []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError as e:
            raise AssertionError(f"access log line is not JSON ({e}): {line!r}")
    return text, lines


def test_metrics_count_known_traffic_exactly(t):
    w, _ = log_world(t)
    for _ in range(3):
        w.assert_home_ok(42)
    eq(w.get("/home?user=abc").status, 400, "bad param status")
    w.hr.route("/employees/*/vacation", mb.Reply.with_status(500))
    r = w.get("/home?user=42")
    eq((r.status, r.headers.get("x-medley-incomplete")), (200, "vacation"), "optional failure answer")

    def home(cls):
        return value(s, "medley_requests_total", endpoint="/home", method="GET", status_class=cls)

    s = scrape_until(w.medley, lambda x: value(x, "medley_request_duration_seconds_count", endpoint="/home") == 5,
                     "5 /home requests")
    eq([home(c) for c in ("1xx", "2xx", "3xx", "4xx", "5xx")], [0, 4, 0, 1, 0], "/home requests by class")
    eq(value(s, "medley_requests_total", endpoint="/news-raw", method="GET", status_class="2xx"), 0,
       "/news-raw requests")
    check(not any(dict(ls).get("endpoint") == "(none)" for _, ls in s), "a (none) series without such traffic")

    def calls(backend, outcome):
        return value(s, "medley_backend_calls_total", endpoint="/home", backend=backend, outcome=outcome)

    eq((calls("news", "ok"), calls("events", "ok")), (4, 4), "news and events ok calls")
    eq((calls("vacation", "ok"), calls("vacation", "status")), (3, 1), "vacation calls")
    for outcome in ("timeout", "connect", "reset", "invalid_json", "too_big", "overloaded", "shape"):
        eq(calls("news", outcome), 0, f"news {outcome} calls")
    eq(value(s, "medley_backend_duration_seconds_count", backend="news"), 4, "news duration count")
    eq(value(s, "medley_backend_duration_seconds_count", backend="vacation"), 4, "vacation duration count")
    eq(value(s, "medley_requests_in_flight"), 0, "requests in flight")
    check(value(s, "medley_connections_open") is not None, "no medley_connections_open")
    with open(os.path.join(_root(), "VERSION")) as f:
        version = f.read().strip()
    eq(value(s, "medley_build_info", version=version), 1, "build info")
    eq(value(s, "medley_access_log_dropped_total"), 0, "dropped log lines")
    # The pools' gauges are copied once a second by each worker.
    scrape_until(w.medley, lambda x: (value(x, "medley_upstream_connections", upstream="news", state="open") or 0) >= 1,
                 "an open news connection")
    w.medley.stop()


def test_unmatched_requests_count_under_none(t):
    w = t.world()
    eq(w.get("/nowhere?x=1").status, 404, "unknown path")
    eq(w.get("/home?user=1", method="POST").status, 405, "wrong method")
    s = scrape_until(w.medley, lambda x: value(x, "medley_requests_total", endpoint="(none)", method="POST",
                                                status_class="4xx") == 1, "the POST under (none)")
    eq(value(s, "medley_requests_total", endpoint="(none)", method="GET", status_class="4xx"), 1, "GET under (none)")
    eq(value(s, "medley_request_duration_seconds_count", endpoint="(none)"), 2, "(none) durations")
    eq(value(s, "medley_requests_total", endpoint="/home", method="GET", status_class="4xx"), 0, "/home 4xx")
    w.medley.stop()


def test_admin_health_and_readiness_through_a_drain(t):
    w = t.world(news_timeout="4s", events_timeout="4s", hr_timeout="4s")
    a = w.medley.admin_port
    r = http_get(a, "/healthz")
    eq((r.status, r.json()), (200, {"status": "ok"}), "/healthz")
    # Workers may still be starting (the port listens first): ready within 10 s.
    deadline = time.monotonic() + 10
    r = http_get(a, "/readyz")
    while r.status == 503 and r.json() == {"status": "starting"} and time.monotonic() < deadline:
        time.sleep(0.05)
        r = http_get(a, "/readyz")
    eq((r.status, r.json()), (200, {"status": "ready"}), "/readyz before the drain")
    eq(http_get(a, "/elsewhere").status, 404, "unknown admin path")
    eq(http_get(a, "/metrics", method="POST", body=b"").status, 405, "POST /metrics")
    for m in (w.news, w.events, w.hr):
        m.delay_ms = 1500
    box = {}
    th = threading.Thread(target=lambda: box.update(r=w.get("/home?user=42", timeout=10)), daemon=True)
    th.start()
    deadline = time.monotonic() + 2
    while w.mock_calls() < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    eq(w.mock_calls(), 3, "backend calls started")
    w.medley.signal()
    seen, deadline = None, time.monotonic() + 1.0
    while time.monotonic() < deadline:
        r = http_get(a, "/readyz")
        if r.status == 503:
            seen = r
            break
        time.sleep(0.02)
    check(seen is not None, "/readyz did not turn 503 within 1s of SIGTERM")
    eq(seen.json(), {"status": "draining"}, "/readyz body while draining")
    check(th.is_alive(), "the slow request finished before readiness was checked: the test proves nothing")
    r = http_get(a, "/healthz")
    eq(r.status, 200, "/healthz while draining")
    th.join(10)
    eq(box["r"].status, 200, "the in-flight request")
    eq(w.medley.wait(), 0, "exit code")


def _wire_size(doc, status=200, reason="OK"):
    """What the mock sends for a JSON reply: its head (as mockbackend
    writes it) and body; a backend's bytes_in."""
    body = mb.dumps(doc)
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return len(head.encode()) + len(body)


def _compact(doc):
    """A fragment as medley writes it (compact JSON); a backend's bytes_out."""
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())


def test_access_log_matches_requests_and_holds_no_secret(t):
    w, path = log_world(t)
    r1 = w.get("/home?user=42&token=SECRET456",
               headers={"Authorization": "Bearer SECRET123", "Cookie": "session=SECRET789"})
    eq(r1.status, 200, "/home status")
    r2 = w.get("/home?user=abc")
    eq(r2.status, 400, "bad param status")
    r3 = w.get("/nope?password=SECRET000")
    eq(r3.status, 404, "unknown path status")
    w.medley.stop()  # the log is written out on exit
    text, lines = read_log(path)
    for secret in SECRETS:
        check(secret not in text, f"the access log contains {secret!r}", text)
    eq(len(lines), 3, "access log lines")
    by_status = {x["status"]: x for x in lines}
    eq(sorted(by_status), [200, 400, 404], "statuses logged")
    for line in lines:
        eq(sorted(line), sorted(["time", "method", "path", "status", "bytes", "duration_ms", "client",
                                 "trace_id", "span_id", "endpoint", "backends", "incomplete"]), "log line fields")
        check(TIME_RE.match(line["time"]), f"time {line['time']!r} is not RFC 3339 UTC with ms")
        eq(line["method"], "GET", "method")
        eq(line["client"], "127.0.0.1", "client")
        check(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0, f"duration {line!r}")
        eq(line["incomplete"], False, "incomplete")
    ok, bad, none = by_status[200], by_status[400], by_status[404]
    eq((ok["path"], ok["endpoint"], ok["bytes"]), ("/home", "/home", len(r1.body)), "the 200 line")
    eq([(b["name"], b["status"], b["outcome"]) for b in ok["backends"]],
       [("news", 200, "ok"), ("events", 200, "ok"), ("vacation", 200, "ok")], "the 200 line's backends")
    for b in ok["backends"]:
        check(0 <= b["duration_ms"] <= ok["duration_ms"], f"backend {b} slower than its request {ok['duration_ms']}")
    vacation = {"balance_days": mb.vacation_doc(42)["balance_days"]}
    eq([(b["name"], b["bytes_in"], b["bytes_out"]) for b in ok["backends"]],
       [("news", _wire_size(mb.news_doc()), _compact(expected_news())),
        ("events", _wire_size(mb.events_doc()), _compact(expected_events())),
        ("vacation", _wire_size(mb.vacation_doc(42)), _compact(vacation))], "the 200 line's bytes in/out")
    glue = len('{"news":,"events":,"cards":{"vacation":}}')
    eq(sum(b["bytes_out"] for b in ok["backends"]) + glue, ok["bytes"], "the parts make up the body")
    eq((bad["path"], bad["endpoint"], bad["bytes"], bad["backends"]), ("/home", "/home", len(r2.body), []),
       "the 400 line")
    eq((none["path"], none["endpoint"], none["bytes"], none["backends"]), ("/nope", None, len(r3.body), []),
       "the 404 line")


def test_access_log_marks_incomplete_and_failed_backends(t):
    w, path = log_world(t)
    w.hr.route("/employees/*/vacation", mb.Reply.with_status(503))
    eq(w.get("/home?user=7").status, 200, "status with hr failing")
    w.medley.stop()
    _, lines = read_log(path)
    eq(len(lines), 1, "lines")
    eq(lines[0]["incomplete"], True, "incomplete")
    eq([(b["name"], b["status"], b["outcome"]) for b in lines[0]["backends"]],
       [("news", 200, "ok"), ("events", 200, "ok"), ("vacation", 503, "status")], "backends")
    # The failed call read its error answer; none of it reached the client.
    eq([(b["bytes_in"], b["bytes_out"]) for b in lines[0]["backends"]],
       [(_wire_size(mb.news_doc()), _compact(expected_news())),
        (_wire_size(mb.events_doc()), _compact(expected_events())),
        (_wire_size({"error": "mock status 503"}, 503, "Service Unavailable"), 0)], "bytes in/out")


def test_access_log_level_errors_and_sampling(t):
    w, path = log_world(t, extra=", level: errors")
    w.assert_home_ok(42)
    eq(w.get("/home?user=x").status, 400, "bad param")
    w.medley.stop()
    _, lines = read_log(path)
    eq([x["status"] for x in lines], [400], "level errors keeps only the error")

    w2, path2 = log_world(t, extra=", sample: 0", name="sampled.log")
    w2.assert_home_ok(42)
    w2.medley.stop()
    _, lines = read_log(path2)
    eq(lines, [], "sample 0 logs nothing")


def _timing(resp):
    v = resp.headers.get("server-timing")
    check(v, f"no Server-Timing header: {resp.headers}")
    out = []
    for part in v.split(", "):
        m = re.match(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+);dur=(\d+\.\d)$", part)
        check(m, f"bad Server-Timing entry {part!r} in {v!r}")
        out.append((m.group(1), float(m.group(2))))
    return out


def test_server_timing_names_every_backend(t):
    w = t.world()
    for m in (w.news, w.events, w.hr):
        m.delay_ms = 30
    timing = _timing(w.assert_home_ok(42))
    eq([n for n, _ in timing], ["news", "events", "vacation", "total"], "Server-Timing names")
    durs = dict(timing)
    for name in ("news", "events", "vacation"):
        check(30.0 <= durs[name] <= durs["total"] + 0.1, f"{name} took {durs[name]} ms of {durs['total']}")
    w.hr.route("/employees/*/vacation", mb.Reply.with_status(500))
    eq([n for n, _ in _timing(w.get("/home?user=42"))], ["news", "events", "vacation", "total"],
       "Server-Timing with a failed optional backend")
    w.news.route("/news", mb.Reply.with_status(500))
    r = w.get("/home?user=42")
    eq(r.status, 502, "required failure")
    check("news" in [n for n, _ in _timing(r)], "the failing backend is missing from Server-Timing")
    eq(w.get("/news-raw").headers.get("server-timing"), None, "Server-Timing on a passthrough")
    w.medley.stop()


def test_server_timing_can_be_turned_off(t):
    w = t.world(config=home_config() + "server_timing: false\n")
    r = w.assert_home_ok(42)
    eq(r.headers.get("server-timing"), None, "Server-Timing with server_timing: false")
    w.medley.stop()


def test_admin_listener_options(t):
    # `admin: { listen: off }` and no --admin-port: no admin listener at all.
    path = t.write_config(home_config() + "admin: { listen: off }\naccess_log: { path: off }\n", "off.yaml")
    port = free_port()
    env = {"NEWS_PORT": "1", "EVENTS_PORT": "2", "HR_PORT": "3"}
    m = Medley(t, ["run", "-c", path, "--port", str(port)], env=env, port=port)
    m.wait_ready()
    m.stop()
    check("admin on" not in m.stderr(), f"admin listener started although off: {m.stderr()!r}")
    eq(m.stdout(), "", "stdout with the access log off")
    # An admin port the user chose that is busy is fatal.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        rc, _, err = t.run_medley(["run", "-c", path, "--port", str(free_port()), "--admin-port",
                                   str(busy.getsockname()[1])], env=env)
    finally:
        busy.close()
    eq(rc, 1, f"exit code with a busy admin port (stderr {err!r})")
    check("Address already in use" in err, f"stderr does not say why: {err!r}")
    rc, _, err = t.run_medley(["run", "-c", path, "--admin-port", "70000"], env=env)
    eq(rc, 2, "exit code for --admin-port 70000")
