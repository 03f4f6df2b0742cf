"""Requests the HTTP server refuses itself (malformed request line, head
too large, too many headers, slowloris, unsupported version) are counted in
medley_requests_total under endpoint="(none)" and written to the access log
with a "reject" reason; idle connections and the admin listener are not
counted, and no header value reaches the log. Expected values are counted
from the traffic each test sends."""

import os

from harness import RawConn, check, eq, home_config
from test_telemetry import read_log, scrape, scrape_until, value

SECRETS = ("SECRET123", "SECRET456", "SECRET789", "Bearer", "token=")
FIELDS = ["time", "method", "path", "status", "bytes", "duration_ms", "client", "trace_id", "span_id",
          "endpoint", "backends", "incomplete", "reject"]


def _world(t):
    log_path = os.path.join(t.dir, "access.log")
    text = home_config().replace("header_timeout: 2s", "header_timeout: 500ms")
    text += f"access_log: {{ path: {log_path} }}\n"
    return t.world(config=text), log_path


def _refused(port, data, timeout=5.0):
    """Sends bytes on a fresh connection; returns the answer, after
    checking that the server closed the connection."""
    with RawConn(port, timeout=timeout) as c:
        c.send(data)
        r = c.read_response()
        check(c.wait_closed(timeout), f"the connection stayed open after {r.status}")
        return r


def _none(s, method, cls):
    return value(s, "medley_requests_total", endpoint="(none)", method=method, status_class=cls) or 0


def test_refused_requests_are_counted_and_logged(t):
    w, log_path = _world(t)
    port = w.port
    expect = {("other", "4xx"): 0, ("GET", "4xx"): 0, ("GET", "5xx"): 0}

    def after(method, cls, what):
        expect[(method, cls)] += 1
        total = sum(expect.values())
        s = scrape_until(w.medley, lambda x: value(x, "medley_request_duration_seconds_count",
                                                    endpoint="(none)") == total, what)
        got = {k: _none(s, *k) for k in expect}
        eq(got, expect, f"(none) requests after {what}")
        return s

    s = scrape(w.medley)
    check(value(s, "medley_request_duration_seconds_count", endpoint="(none)") in (None, 0),
          "a (none) request before any traffic")

    r = _refused(port, b"GE T /home?user=1&token=SECRET456 HTTP/1.1\r\nHost: x\r\n\r\n")
    eq(r.status, 400, "malformed request line")
    after("other", "4xx", "the malformed request line")

    big = b"X-Big: " + b"a" * (9 * 1024) + b"\r\n"
    r = _refused(port, b"GET /home?user=1&token=SECRET456 HTTP/1.1\r\nHost: x\r\n"
                       b"Authorization: Bearer SECRET123\r\nCookie: sid=SECRET789\r\n" + big + b"\r\n")
    eq(r.status, 431, "oversized head")
    after("GET", "4xx", "the oversized head")

    many = b"".join(b"X-H%d: v\r\n" % i for i in range(70))
    r = _refused(port, b"GET /home?user=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET123\r\n" + many
                 + b"\r\n")
    eq(r.status, 431, "too many headers")
    after("GET", "4xx", "too many headers")

    r = _refused(port, b"GET /home?user=1 HTTP/2.0\r\nHost: x\r\n\r\n")
    eq(r.status, 505, "HTTP/2.0 request line")
    after("GET", "5xx", "the HTTP/2.0 request")

    # Slowloris: the head starts, a header trickles in, then nothing.
    with RawConn(port, timeout=5.0) as c:
        c.send(b"GET /home?user=1 HTTP/1.1\r\nHost: x\r\n")
        c.send(b"Authorization: Bearer SECRET123\r\n")
        r = c.read_response()
        eq(r.status, 408, "slowloris head")
        check(c.wait_closed(5.0), "the connection stayed open after 408")
    s = after("GET", "4xx", "the slowloris head")
    # Only the slowloris head has a known start: about header_timeout ago.
    dur_sum = value(s, "medley_request_duration_seconds_sum", endpoint="(none)")
    check(0.45 <= dur_sum < 5.0, f"(none) duration sum {dur_sum} is not the slowloris head's ~0.5 s")
    eq(value(s, "medley_request_duration_seconds_bucket", endpoint="(none)", le="0.1"), 4,
       "(none) requests refused at once")

    # Not requests: a connection that never sends a byte, one idle after a
    # request, malformed bytes on the admin listener.
    with RawConn(port, timeout=5.0) as c:
        check(c.wait_closed(3.0), "a silent connection was not closed after header_timeout")
    with RawConn(w.medley.admin_port, timeout=5.0) as c:
        c.send(b"GE T /metrics HTTP/1.1\r\n\r\n")
        eq(c.read_response().status, 400, "malformed request to the admin listener")
    w.assert_home_ok(42)
    s = scrape_until(w.medley, lambda x: value(x, "medley_request_duration_seconds_count", endpoint="/home") == 1,
                     "the /home request")
    eq({k: _none(s, *k) for k in expect}, expect, "(none) requests after silent, idle and admin connections")
    eq(value(s, "medley_request_duration_seconds_count", endpoint="(none)"), 5, "(none) durations")

    w.medley.stop()  # the log is written out on exit
    text, lines = read_log(log_path)
    for secret in SECRETS:
        check(secret not in text, f"the access log contains {secret!r}", text)
    rejects = [x for x in lines if "reject" in x]
    eq(len(lines), 6, "log lines (5 refused, 1 /home)")
    # Two workers: their lines interleave by batch, so compare as sets.
    eq(sorted((x["reject"], x["status"], x["method"], x["path"]) for x in rejects),
       sorted([("bad_request", 400, "", ""), ("header_too_large", 431, "GET", "/home"),
               ("too_many_headers", 431, "GET", "/home"), ("version", 505, "GET", "/home"),
               ("header_timeout", 408, "GET", "/home")]), "refused requests in the log")
    for x in rejects:
        eq(sorted(x), sorted(FIELDS), "fields of a refused request's line")
        eq((x["endpoint"], x["backends"], x["incomplete"], x["client"]), (None, [], False, "127.0.0.1"),
           f"line {x}")
        eq((x["trace_id"], x["span_id"]), (None, None), "trace ids of a refused request")
        check(x["bytes"] > 0, f"no error body bytes in {x}")
    for x in rejects:
        if x["reject"] == "header_timeout":
            check(450.0 <= x["duration_ms"] < 5000.0, f"slowloris duration {x['duration_ms']} ms")
        else:
            # 0, or the moment between a big head's first and last read
            check(0.0 <= x["duration_ms"] < 100.0, f"duration of {x}")
    home = [x for x in lines if "reject" not in x]
    eq([(x["path"], x["status"]) for x in home], [("/home", 200)], "the normal request's line")


def test_error_level_log_keeps_refused_requests(t):
    log_path = os.path.join(t.dir, "errors.log")
    w = t.world(config=home_config() + f"access_log: {{ path: {log_path}, level: errors }}\n")
    w.assert_home_ok(42)
    eq(_refused(w.port, b"GET /home?user=1 HTTP/1.1\r\nX-Bad: \x01\r\n\r\n").status, 400, "bad header")
    w.medley.stop()
    _, lines = read_log(log_path)
    eq([(x["status"], x.get("reject"), x["method"], x["path"]) for x in lines],
       [(400, "bad_request", "GET", "/home")], "level errors keeps the refused request only")
