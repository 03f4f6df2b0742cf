"""Helpers shared by the integration tests (run.py drives them).

Every test function receives a Ctx: it owns a temp dir, the medley processes
and mock backends the test starts, and cleans all of them up (kill, stop)
whatever happens. Medley is always the real binary on real sockets: a test
writes a YAML config, starts `medley run -c FILE --port P --workers 2
--admin-port A` on free ports with the mock ports in its environment, and
talks to it with http.client (normal calls) or RawConn (exact bytes,
pipelining, hostile input). In --sanitizer mode every medley exit is checked for ASan/LSan/UBSan
reports.

The expected /home document is computed here from the mock data with plain
Python (sort, slice, select) — never captured from medley.
"""

import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import mockbackend as mb

START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")

# Set by run.py before any test runs.
BINARY = None
WRAPPER = []        # e.g. valgrind and its options (run.py --valgrind)
SANITIZER = False
VERBOSE = False


class TestFailure(AssertionError):
    """A failed check; `details` is printed under the FAIL line."""

    def __init__(self, msg, details=""):
        super().__init__(msg)
        self.details = details


def check(cond, msg, details=""):
    if not cond:
        raise TestFailure(msg, details)


def _first_diff(a, b, path="$"):
    """Where two JSON-like values first differ, as (path, a_part, b_part)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return (f"{path}.{k}", a.get(k, "<absent>"), b.get(k, "<absent>"))
            d = _first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return (f"{path} length", len(a), len(b))
        return None
    return None if a == b else (path, a, b)


def eq(actual, expected, what):
    if actual == expected:
        return
    text = f"{what}: expected {expected!r}, got {actual!r}"
    if len(text) <= 400:
        raise TestFailure(text)
    where, exp, got = _first_diff(expected, actual) or ("$", expected, actual)
    raise TestFailure(f"{what}: differs at {where}: expected {exp!r:.150}, got {got!r:.150}",
                      f"expected: {expected!r}\ngot:      {actual!r}")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_port_other_than(taken):
    """A free port for medley's admin listener (never the default 9090,
    which parallel runs would fight over)."""
    port = free_port()
    while port == taken:
        port = free_port()
    return port


# --------------------------------------------------------------------------
# Expected outputs, computed independently from the mock data.

def _ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")


def _select(obj, keys):
    return {k: obj[k] for k in keys if k in obj}


def expected_news():
    items = sorted(mb.news_doc()["items"], key=lambda a: _ts(a["published"]), reverse=True)
    return [_select(a, ("id", "title", "url", "published")) for a in items[:5]]


def expected_events():
    evs = sorted(mb.events_doc()["events"], key=lambda e: _ts(e["starts"]))
    return [_select(e, ("id", "name", "starts", "location")) for e in evs[:5]]


def expected_home(user, vacation=True):
    doc = {"news": expected_news(), "events": expected_events()}
    if vacation:
        doc["cards"] = {"vacation": {"balance_days": ((user * 37) % 29) + 0.5}}
    return doc


# --------------------------------------------------------------------------
# Config.

LIMITS = ("limits: { max_header_bytes: 8k, max_body_bytes: 64k, header_timeout: 2s,"
          " idle_timeout: 5s, shutdown_timeout: 5s }")


def home_config(errors_field=True, news_timeout="1s", events_timeout="1s", hr_timeout="500ms",
                news_extra=""):
    """The spec's example config plus the /u/{id} injection endpoint."""
    ef = "    errors_field: _errors\n" if errors_field else ""
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  news:   {{ url: "http://127.0.0.1:${{NEWS_PORT}}", timeout: {news_timeout}{news_extra} }}
  events: {{ url: "http://127.0.0.1:${{EVENTS_PORT}}", timeout: {events_timeout} }}
  hr:     {{ url: "http://127.0.0.1:${{HR_PORT}}", timeout: {hr_timeout} }}
endpoints:
  - path: /home
    method: GET
{ef}    params: {{ user: {{ in: query, type: integer, required: true }} }}
    backends:
      - {{ upstream: news, path: /news, shape: {{ from: items, sort: -published, limit: 5, select: [id, title, url, published] }}, as: news }}
      - {{ upstream: events, path: /events, shape: {{ from: events, sort: starts, limit: 5, select: [id, name, starts, location] }}, as: events }}
      - {{ name: vacation, upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }}, as: cards.vacation, optional: true }}
  - path: /news-raw
    method: GET
    passthrough: {{ upstream: news, path: /news }}
  - path: /u/{{id}}
    method: GET
    params: {{ id: {{ in: path, type: string }} }}
    backends:
      - {{ upstream: hr, path: "/employees/{{id}}/vacation", headers: {{ X-User: "{{query.name}}" }}, as: vacation }}
"""


# --------------------------------------------------------------------------
# Responses and the raw client.

class Response:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.headers = headers      # lower-case name -> value (repeats joined)
        self.body = body
        self.reason = reason

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise TestFailure(f"body is not JSON ({e}): {self.body[:200]!r}")

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:200]!r}>"


class ConnectionClosed(Exception):
    """The peer closed (or reset) before a complete response was read."""


class RawConn:
    """A raw-socket HTTP/1.1 client: send exact bytes, read whole responses
    (Content-Length, chunked or close-delimited) in order."""

    def __init__(self, port, timeout=5.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect(), or the window scale no longer matches.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(("127.0.0.1", port))
        except OSError:
            self.sock.close()
            raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf.extend(data)
        return True

    def _need(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionClosed(f"closed after {len(self.buf)} of {n} bytes")

    def _line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 65536 or not self._fill():
                raise ConnectionClosed("closed in the middle of a line")
        i = self.buf.index(b"\r\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return line

    def _take(self, n):
        self._need(n)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_response(self, head_request=False):
        """Reads one response; raises ConnectionClosed if none comes."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionClosed(f"closed before a full head: {bytes(self.buf)[:200]!r}")
        status_line = self._line().decode("latin-1")
        parts = status_line.split(" ", 2)
        check(len(parts) >= 2 and parts[0].startswith("HTTP/1."),
              f"bad status line {status_line!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            key, value = name.strip().lower(), value.strip()
            headers[key] = value if key not in headers else headers[key] + ", " + value
        if head_request or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        else:
            while self._fill():
                pass
            body, self.buf = bytes(self.buf), bytearray()
        return Response(status, headers, body, parts[2] if len(parts) > 2 else "")

    def _read_chunked(self):
        body = bytearray()
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                while self._line():
                    pass
                return bytes(body)
            body.extend(self._take(size))
            check(self._take(2) == b"\r\n", "bad chunk terminator")

    def wait_closed(self, timeout):
        """True if the server closes the connection within timeout seconds
        (any bytes it sends before are kept in self.buf)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                if not self._fill():
                    return True
            except socket.timeout:
                return False


def http_get(port, path, method="GET", body=None, headers=None, timeout=5.0):
    """A normal HTTP call with http.client; returns a Response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            k = k.lower()
            hdrs[k] = v if k not in hdrs else hdrs[k] + ", " + v
        return Response(r.status, hdrs, data, r.reason)
    finally:
        conn.close()


def assert_json_error(resp, status, code=None):
    """Checks a medley error response: status, JSON content type, and
    {"error":{"status":S,"code":C,...}}; returns the "error" object."""
    eq(resp.status, status, f"status (body {resp.body[:300]!r})")
    ctype = resp.headers.get("content-type", "")
    check(ctype.startswith("application/json"), f"error content-type is {ctype!r}")
    doc = resp.json()
    check(isinstance(doc, dict) and isinstance(doc.get("error"), dict),
          f"error body has no 'error' object: {doc!r}")
    err = doc["error"]
    eq(err.get("status"), status, "error.status")
    if code is not None:
        eq(err.get("code"), code, "error.code")
    check(isinstance(err.get("message"), str) and err["message"],
          f"error.message missing: {err!r}")
    return err


# --------------------------------------------------------------------------
# Medley processes.

class Medley:
    """One medley process; stderr/stdout go to files in the test's dir."""

    def __init__(self, ctx, args, env=None, port=None):
        self.ctx = ctx
        self.args = WRAPPER + [BINARY] + list(args)
        self.port = port
        self.admin_port = None      # set by Ctx.start_medley / start_demo
        self.returncode = None
        self._checked = False
        n = len(ctx.medleys)
        self.out_path = os.path.join(ctx.dir, f"medley{n}.out")
        self.err_path = os.path.join(ctx.dir, f"medley{n}.err")
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=full_env)
        ctx.medleys.append(self)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=START_TIMEOUT):
        """Waits until the port accepts a connection; fails with medley's
        stderr if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self._exited(rc)
                raise TestFailure(f"medley exited with {rc} before accepting on {self.port}",
                                  self.stderr())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.02)
        raise TestFailure(f"medley did not accept on port {self.port} within {timeout}s",
                          self.stderr())

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for the exit; returns the exit code (negative = signal)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"medley did not exit within {timeout}s", self.stderr())
        self._exited(rc)
        return rc

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; asserts a clean exit 0 within timeout seconds."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        check(rc == 0, f"medley exited with {rc} after SIGTERM (expected 0)", self.stderr())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._exited(self.proc.returncode)

    def _exited(self, rc):
        self.returncode = rc
        if self._checked:
            return
        self._checked = True
        if SANITIZER:
            err = self.stderr()
            hits = [m for m in SANITIZER_MARKERS if m in err]
            if hits:
                raise TestFailure(f"sanitizer report in medley's stderr ({', '.join(hits)})",
                                  err)


class World:
    """The standard setup: news, events and hr mocks with good routes, and
    medley running home_config() against them."""

    def __init__(self, ctx, news_port=None, hr_port=None, config=None, **cfg):
        self.news = ctx.mock("news")
        self.events = ctx.mock("events")
        self.hr = ctx.mock("hr")
        self.news.route("/news", mb.Reply.json(mb.news_doc()))
        self.events.route("/events", mb.Reply.json(mb.events_doc()))
        self.hr.route("/employees/*/vacation", mb.vacation_route)
        self.env = {"NEWS_PORT": str(news_port or self.news.port),
                    "EVENTS_PORT": str(self.events.port),
                    "HR_PORT": str(hr_port or self.hr.port)}
        self.config_path = ctx.write_config(config or home_config(**cfg))
        self.medley = ctx.start_medley(self.config_path, env=self.env)
        self.port = self.medley.port

    def get(self, path, **kw):
        return http_get(self.port, path, **kw)

    def mock_calls(self):
        return self.news.calls() + self.events.calls() + self.hr.calls()

    def assert_home_ok(self, user=42):
        """GET /home?user=N answers exactly the expected document."""
        r = self.get(f"/home?user={user}")
        eq(r.status, 200, f"/home?user={user} status (body {r.body[:300]!r})")
        ctype = r.headers.get("content-type", "")
        check(ctype.startswith("application/json"), f"content-type is {ctype!r}")
        eq(r.json(), expected_home(user), f"/home?user={user} body")
        check("x-medley-incomplete" not in r.headers,
              f"unexpected X-Medley-Incomplete: {r.headers.get('x-medley-incomplete')}")
        return r


class Ctx:
    """Per-test resources; run.py calls cleanup() in a finally."""

    def __init__(self, name, workdir):
        self.name = name
        self.dir = workdir      # created and removed by run.py
        self.medleys = []
        self.mocks = []
        self.cleanups = []      # callables run last (e.g. a redis-server)

    def write_config(self, text, name="medley.yaml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def mock(self, name="mock"):
        m = mb.MockBackend(name)
        self.mocks.append(m)
        return m

    def start_medley(self, config_path, env=None, port=None, workers=2, wait=True):
        port = port or free_port()
        admin_port = free_port_other_than(port)
        m = Medley(self, ["run", "-c", config_path, "--port", str(port),
                          "--workers", str(workers), "--admin-port", str(admin_port)],
                   env=env, port=port)
        m.admin_port = admin_port
        if wait:
            m.wait_ready()
        return m

    def start_demo(self, port=None):
        port = port or free_port()
        admin_port = free_port_other_than(port)
        m = Medley(self, ["demo", "--port", str(port), "--admin-port", str(admin_port)], port=port)
        m.admin_port = admin_port
        m.wait_ready()
        return m

    def run_medley(self, args, env=None, timeout=STOP_TIMEOUT):
        """Runs a short medley command to completion; returns (rc, out, err)."""
        m = Medley(self, args, env=env)
        rc = m.wait(timeout)
        return rc, m.stdout(), m.stderr()

    def world(self, **kw):
        return World(self, **kw)

    def cleanup(self):
        """Kills leftover medleys and stops mocks; returns sanitizer
        failures found on the way (the test fails on them too)."""
        failures = []
        for m in self.medleys:
            try:
                m.kill()
            except TestFailure as e:
                failures.append(e)
        for mock in self.mocks:
            mock.stop()
        for fn in self.cleanups:
            fn()
        return failures

    def on_cleanup(self, fn):
        self.cleanups.append(fn)
