#!/usr/bin/env python3
"""Correctness checks of bench/run.sh, made before any load (python3 stdlib only).

  check.py upstreams --data DIR --news P --events P --hr P
  check.py peer NAME --port P --data DIR [--endpoints home,raw|raw|news] [--delay MS]

A peer passes when
  - GET /home?user=42 is 200, JSON content type, and equals home_expected_42.json by
    value (numbers by value, no missing and no extra key at any level);
  - GET /home?user=7 likewise equals home_expected_7.json (balance_days 27.5), which
    catches a peer that ignores the user or caches one answer;
  - GET /news-raw is 200, JSON content type, byte-identical to news.json;
  - with --delay D > 0, the fastest of 5 sequential /home requests takes < 2*D ms
    (concurrent upstream calls take about D, sequential ones about 3D);
  - it keeps the connection open (HTTP/1.1 keep-alive), since wrk relies on it.
Error handling (bad user, unknown user) is reported as "note", never as a failure.
One line per check on stdout; exit status 0 when all passed, 1 otherwise.
"""

import argparse
import http.client
import json
import os
import sys
import time

TIMEOUT_S = 10
MAX_BODY = 4 << 20  # no valid answer comes near this; a runaway peer is cut off


class Fetcher:
    """One keep-alive connection to 127.0.0.1:port, reopened if the peer closed it."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.closed_by_peer = False

    def get(self, path):
        """Returns (status, content_type, body bytes, seconds); raises OSError/HTTPException."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT_S)
        t0 = time.monotonic()
        try:
            self.conn.request("GET", path)
            resp = self.conn.getresponse()
            body = resp.read(MAX_BODY + 1)
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        elapsed = time.monotonic() - t0
        if resp.will_close:
            self.closed_by_peer = True
            self.close()
        if len(body) > MAX_BODY:
            self.close()
            raise http.client.HTTPException("body larger than %d bytes" % MAX_BODY)
        return resp.status, resp.getheader("Content-Type", ""), body, elapsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def json_diff(want, got, path="$"):
    """First difference between two JSON values as a string, or None when equal.

    bool is not a number here, although Python says True == 1."""
    if isinstance(want, bool) or isinstance(got, bool):
        same = isinstance(want, bool) and isinstance(got, bool) and want == got
        return None if same else "%s: want %s, got %s" % (path, _short(want), _short(got))
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return None if want == got else "%s: want %r, got %r" % (path, want, got)
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if key not in got:
                return "%s: missing key %r" % (path, key)
        for key in got:
            if key not in want:
                return "%s: unexpected key %r" % (path, key)
        for key in want:
            d = json_diff(want[key], got[key], "%s.%s" % (path, key))
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return "%s: want %d elements, got %d" % (path, len(want), len(got))
        for i, (w, g) in enumerate(zip(want, got)):
            d = json_diff(w, g, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if type(want) is type(got) and want == got:
        return None
    return "%s: want %s, got %s" % (path, _short(want), _short(got))


def _short(v):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 60 else s[:57] + "..."


def load(path):
    with open(path, "rb") as f:
        return f.read()


def check_json_answer(f, path, want):
    """'' when GET path answers 200 application/json equal to `want`, else the reason."""
    status, ctype, body, _ = f.get(path)
    if status != 200:
        return "HTTP %d: %s" % (status, body[:120].decode("utf-8", "replace"))
    if not ctype.startswith("application/json"):
        return "content-type %r, want application/json" % ctype
    try:
        got = json.loads(body)
    except ValueError as e:
        return "body is not JSON (%s): %r" % (e, body[:80])
    return json_diff(want, got) or ""


def check_bytes_answer(f, path, want):
    status, ctype, body, _ = f.get(path)
    if status != 200:
        return "HTTP %d" % status
    if not ctype.startswith("application/json"):
        return "content-type %r, want application/json" % ctype
    if body != want:
        n = next((i for i, (a, b) in enumerate(zip(want, body)) if a != b), min(len(want), len(body)))
        return "body differs from news.json at byte %d (%d bytes, want %d)" % (n, len(body), len(want))
    return ""


def check_fanout(f, delay_ms):
    best = None
    for _ in range(5):
        status, _, _, secs = f.get("/home?user=42")
        if status != 200:
            return "HTTP %d during the fan-out check" % status, None
        best = secs if best is None else min(best, secs)
    best_ms = best * 1000
    if best_ms >= 2 * delay_ms:
        return ("upstream calls look sequential: best of 5 took %.1f ms with %d ms upstream delay"
                % (best_ms, delay_ms)), best_ms
    return "", best_ms


def report(name, what, msg, kind="ok"):
    if msg:
        print("   %-13s %-18s %s: %s" % (name, what, "FAIL" if kind == "ok" else kind, msg))
    else:
        print("   %-13s %-18s %s" % (name, what, kind))
    sys.stdout.flush()


def run_check(name, what, fn, *args):
    """Runs one check; a connection error is that check's failure, not a crash."""
    try:
        msg = fn(*args)
    except (OSError, http.client.HTTPException, ValueError) as e:
        msg = "%s: %s" % (type(e).__name__, e)
    report(name, what, msg)
    return not msg


def notes(name, f):
    """Error handling the contract recommends; informative only."""
    for path, want in (("/home?user=abc", (400,)), ("/home?user=4242", (502, 504))):
        try:
            status, ctype, _, _ = f.get(path)
        except (OSError, http.client.HTTPException) as e:
            report(name, path, "%s: %s" % (type(e).__name__, e), "note")
            continue
        msg = "" if status in want else "HTTP %d (recommended %s)" % (status, "/".join(map(str, want)))
        report(name, path, msg, "note" if msg else "ok")


def cmd_peer(a):
    f = Fetcher(a.port)
    ok = True
    kinds = a.endpoints.split(",")
    if "home" in kinds:
        for user in (42, 7):
            want = json.loads(load(os.path.join(a.data, "home_expected_%d.json" % user)))
            ok &= run_check(a.name, "/home?user=%d" % user, check_json_answer,
                            f, "/home?user=%d" % user, want)
    if "raw" in kinds or "news" in kinds:
        path = "/news" if "news" in kinds else "/news-raw"
        ok &= run_check(a.name, path, check_bytes_answer, f, path,
                        load(os.path.join(a.data, "news.json")))
    if "home" in kinds and a.delay > 0:
        try:
            msg, best = check_fanout(f, a.delay)
        except (OSError, http.client.HTTPException) as e:
            msg, best = "%s: %s" % (type(e).__name__, e), None
        if not msg:
            print("   %-13s %-18s ok (best of 5: %.1f ms at %d ms upstream delay)"
                  % (a.name, "fan-out", best, a.delay))
        else:
            report(a.name, "fan-out", msg)
        ok &= not msg
    if f.closed_by_peer:
        report(a.name, "keep-alive", "the peer closed an HTTP/1.1 connection after a 200")
        ok = False
    if "home" in kinds:
        notes(a.name, f)
    f.close()
    return 0 if ok else 1


def cmd_upstreams(a):
    ok = True
    news = load(os.path.join(a.data, "news.json"))
    events = load(os.path.join(a.data, "events.json"))
    hr42 = json.loads(load(os.path.join(a.data, "hr", "42.json")))
    ok &= run_check("upstream", "news /news", check_bytes_answer, Fetcher(a.news), "/news", news)
    ok &= run_check("upstream", "events /events", check_bytes_answer,
                    Fetcher(a.events), "/events", events)
    ok &= run_check("upstream", "hr /employees/42", check_json_answer,
                    Fetcher(a.hr), "/employees/42/vacation", hr42)

    def unknown_employee():
        status, _, body, _ = Fetcher(a.hr).get("/employees/4242/vacation")
        return "" if status == 404 and json.loads(body) == {"error": "no such employee"} \
            else "HTTP %d %r, want 404 no such employee" % (status, body[:60])
    ok &= run_check("upstream", "hr /employees/4242", unknown_employee)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("upstreams")
    u.add_argument("--data", required=True)
    for n in ("news", "events", "hr"):
        u.add_argument("--" + n, type=int, required=True)
    q = sub.add_parser("peer")
    q.add_argument("name")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--data", required=True)
    q.add_argument("--endpoints", default="home,raw")
    q.add_argument("--delay", type=int, default=0)
    a = p.parse_args()
    return cmd_upstreams(a) if a.cmd == "upstreams" else cmd_peer(a)


if __name__ == "__main__":
    sys.exit(main())
