"""`medley explain`: one GET through the config, served inside the explain
process, against the three mock backends; per-backend bytes and the totals.

Expected figures are computed here from the mock documents:
- bytes_in is exactly what the mock wrote for that backend: the response
  head (status line, Content-Type, Content-Length, blank line, as
  mockbackend._head writes them) plus the JSON body. Exact equality, not a
  range: each backend call reads one response off its own connection.
- bytes_out is the length of the backend's part of the answer, i.e. the
  expected fragment (expected_news() ...) serialized compactly, which is
  how medley writes JSON; the response body is those parts plus the keys
  and braces around them.
"""

import json
import re

import mockbackend as mb
from harness import check, eq, expected_events, expected_home, expected_news, home_config

USER = 42


def compact(doc):
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def wire_size(doc, status=200, reason="OK"):
    """Bytes the mock sends for a JSON reply: head and body."""
    body = mb.dumps(doc)
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return len(head.encode()) + len(body)


def expected_parts(user=USER):
    """backend -> (bytes_in, bytes_out) for a healthy /home?user=N."""
    vacation = {"balance_days": mb.vacation_doc(user)["balance_days"]}
    return {
        "news": (wire_size(mb.news_doc()), len(compact(expected_news()))),
        "events": (wire_size(mb.events_doc()), len(compact(expected_events()))),
        "vacation": (wire_size(mb.vacation_doc(user)), len(compact(vacation))),
    }


class Mocks:
    """The three mocks with their good routes, and the home config; no
    medley is started (explain serves the config itself)."""

    def __init__(self, t, hr_port=None, config=None):
        self.news, self.events, self.hr = t.mock("news"), t.mock("events"), t.mock("hr")
        self.news.route("/news", mb.Reply.json(mb.news_doc()))
        self.events.route("/events", mb.Reply.json(mb.events_doc()))
        self.hr.route("/employees/*/vacation", mb.vacation_route)
        self.env = {"NEWS_PORT": str(self.news.port), "EVENTS_PORT": str(self.events.port),
                    "HR_PORT": str(hr_port or self.hr.port)}
        self.t = t
        self.path = t.write_config(config or home_config())

    def explain(self, *args):
        return self.t.run_medley(["explain", "-c", self.path] + list(args), env=self.env)


ROW_RE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([\d,]+)\s+([\d,]+)$")


def table(out):
    """backend -> (status, outcome, cache, time, bytes_in, bytes_out) from
    the text report, and its lines."""
    lines = out.splitlines()
    heads = [i for i, line in enumerate(lines) if line.split()[:2] == ["backend", "status"]]
    check(len(heads) == 1, f"no table header in {out!r}")
    rows = {}
    for line in lines[heads[0] + 1:]:
        if not line.strip():
            break
        m = ROW_RE.match(line)
        check(m, f"bad table row {line!r}")
        g = m.groups()
        rows[g[0]] = g[1:5] + (int(g[5].replace(",", "")), int(g[6].replace(",", "")))
    return rows, lines


def test_explain_table_shows_each_backend_and_the_totals(t):
    m = Mocks(t)
    rc, out, err = m.explain(f"/home?user={USER}")
    eq(rc, 0, f"exit code (stderr {err!r})")
    body_len = len(compact(expected_home(USER)))
    rows, lines = table(out)
    eq(lines[0], f"GET /home?user={USER} -> 200, {body_len:,} B (endpoint GET /home)", "first line")
    parts = expected_parts()
    eq(list(rows), ["news", "events", "vacation"], "backend rows in config order")
    for name, (b_in, b_out) in parts.items():
        status, outcome, cache, ms, got_in, got_out = rows[name]
        eq((status, outcome, cache), ("200", "ok", "-"), f"{name} status/outcome/cache")
        check(re.match(r"^\d+\.\d$", ms), f"{name} time {ms!r}")
        eq((got_in, got_out), (b_in, b_out), f"{name} bytes in/out")
    total_in = sum(b for b, _ in parts.values())
    want = f"shaped {total_in:,} B from 3 backends into {body_len:,} B: {total_in / body_len:.1f}x smaller"
    check(want in lines, f"no line {want!r} in {out!r}")
    check(any(re.match(r"^total time \d+\.\d ms$", x) for x in lines), f"no total time in {out!r}")
    # Nothing but the report on stdout: the access log is off while explaining.
    check('"method"' not in out, f"an access log line on stdout: {out!r}")
    eq([mk.calls() for mk in (m.news, m.events, m.hr)], [1, 1, 1], "backend calls")


def test_explain_json_matches_the_answer(t):
    m = Mocks(t)
    rc, out, err = m.explain("--json", f"/home?user={USER}")
    eq(rc, 0, f"exit code (stderr {err!r})")
    doc = json.loads(out)
    parts = expected_parts()
    body_len = len(compact(expected_home(USER)))
    eq((doc["method"], doc["target"], doc["endpoint"], doc["status"], doc["bytes"], doc["incomplete"]),
       ("GET", f"/home?user={USER}", "/home", 200, body_len, False), "request fields")
    eq([(b["name"], b["status"], b["outcome"], b["cache"], b["bytes_in"], b["bytes_out"]) for b in doc["backends"]],
       [(n, 200, "ok", None, i, o) for n, (i, o) in parts.items()], "backends")
    for b in doc["backends"]:
        check(0 <= b["duration_ms"] <= doc["duration_ms"], f"{b['name']} took longer than the request: {doc}")
    # The body is the parts plus {"news":..,"events":..,"cards":{"vacation":..}}.
    glue = len(b'{"news":') + len(b',"events":') + len(b',"cards":{"vacation":') + len(b"}}")
    eq(doc["bytes"], sum(o for _, o in parts.values()) + glue, "body = parts + keys")
    total_in = sum(i for i, _ in parts.values())
    eq((doc["bytes_in"], doc["bytes_out"], doc["backends_fetched"]),
       (total_in, sum(o for _, o in parts.values()), 3), "totals")
    eq(doc["ratio"], round(total_in / body_len, 2), "ratio")


def test_explain_passthrough_and_no_endpoint(t):
    m = Mocks(t)
    rc, out, err = m.explain("--json", "/news-raw")
    eq(rc, 0, f"exit code (stderr {err!r})")
    doc = json.loads(out)
    body = len(mb.dumps(mb.news_doc()))
    eq((doc["status"], doc["bytes"], [(b["bytes_in"], b["bytes_out"]) for b in doc["backends"]]),
       (200, body, [(body, body)]), "passthrough: the body streamed, in and out")
    rc, out, err = m.explain("/nowhere")
    eq(rc, 0, f"exit code for a 404 (stderr {err!r})")
    check(out.startswith("GET /nowhere -> 404, ") and "(no endpoint matched)" in out, f"404 report {out!r}")


def test_explain_sends_the_given_headers(t):
    config = home_config() + (
        "  - path: /who\n"
        "    method: GET\n"
        "    backends:\n"
        "      - { upstream: hr, path: /employees/7/vacation, headers: { X-User: \"{header.X-User}\" }, as: v }\n")
    m = Mocks(t, config=config)
    rc, out, err = m.explain("--header", "X-User: alice", "-H", "X-Other:  two words ", "/who")
    eq(rc, 0, f"exit code (stderr {err!r})")
    seen = m.hr.seen()
    eq(len(seen), 1, "hr calls")
    eq(seen[0].header("x-user"), "alice", "X-User passed on from --header")
    check("GET /who -> 200, " in out, f"report {out!r}")


def test_explain_unreachable_backend_is_a_row(t):
    m = Mocks(t, hr_port=mb.closed_port())
    rc, out, err = m.explain(f"/home?user={USER}")
    eq(rc, 0, f"exit code with hr down (stderr {err!r})")
    rows, lines = table(out)
    eq(rows["vacation"][:2] + rows["vacation"][4:], ("-", "connect", 0, 0), "vacation row")
    check("incomplete: an optional backend failed (X-Medley-Incomplete)" in lines, f"no incomplete line in {out!r}")
    parts = expected_parts()
    total_in = parts["news"][0] + parts["events"][0]
    check(any(x.startswith(f"shaped {total_in:,} B from 2 backends into ") for x in lines),
          f"totals line for 2 backends ({total_in:,} B) missing in {out!r}")


def test_explain_config_and_usage_errors_exit_1(t):
    text = ("listen: 127.0.0.1:0\n"             # 1
            "upstreams:\n"                       # 2
            "  news: { url: 5 }\n"               # 3: the value is at column 16
            "endpoints: []\n")
    path = t.write_config(text, "bad.yaml")
    rc, out, err = t.run_medley(["explain", "-c", path, "/home"])
    eq(rc, 1, f"exit code for a bad config (stderr {err!r})")
    check(err.startswith(f"{path}:3:16: "), f"stderr does not start with FILE:3:16: {err!r}")
    eq(out, "", "stdout on a config error")
    good = t.write_config(home_config(), "good.yaml")
    env = {"NEWS_PORT": "1", "EVENTS_PORT": "2", "HR_PORT": "3"}
    for args in (["explain"], ["explain", "-c", good], ["explain", "/home"],
                 ["explain", "-c", good, "--header", "no colon", "/home"],
                 ["explain", "-c", good, "home"], ["explain", "-c", good, "/a b"]):
        rc, out, err = t.run_medley(args, env=env)
        eq(rc, 1, f"exit code for {args} (stderr {err!r})")
        check(err.strip(), f"no message for {args}")
