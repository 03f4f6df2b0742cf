"""Mock upstream servers for medley's integration tests.

A MockBackend is a small HTTP/1.1 keep-alive server on 127.0.0.1 (port 0,
one thread per connection) written on raw sockets, so that it can also
misbehave on purpose: truncated bodies, resets, hangs. A test sets a route
table (path -> Reply, or path -> callable(request) -> Reply); the mock counts
calls per path and records every request it saw (method, raw target, header
lines, raw head bytes) so tests can assert what medley actually sent.

With `tls=(cert_file, key_file)` the mock speaks https (Python's ssl
module, TLS 1.2+): each connection's handshake runs in its own thread, and
`tls_handshakes` / `tls_failures` count how they ended (a client that
refuses the certificate is a failure here).

The deterministic documents the tests serve (news, events, vacation records)
live here too; expected outputs are computed from them by the tests.
"""

import gzip
import json
import socket
import ssl
import struct
import threading
import time
import urllib.parse

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
RECV_SIZE = 65536


# --------------------------------------------------------------------------
# Test data: deterministic, stored in a deliberately unsorted order.

_NEWS_ORDER = [3, 7, 1, 6, 0, 5, 2, 4]   # index -> rank by time, scrambled
_EVENT_ORDER = [4, 0, 6, 2, 5, 1, 3]


def news_doc():
    """{"items": [8 articles]} with distinct, unsorted `published` stamps."""
    items = []
    for i, rank in enumerate(_NEWS_ORDER):
        day = 10 + rank
        items.append({
            "id": 100 + i,
            "title": f"Headline number {i}",
            "summary": f"Summary of story {i}, with \"quotes\" and unicode \u00e9",
            "url": f"https://news.example/story/{100 + i}",
            "published": f"2024-03-{day:02d}T{(7 * i) % 24:02d}:{(13 * i) % 60:02d}:05Z",
            "author": {"name": f"Author {i % 3}", "id": i % 3},
            "tags": [f"tag{i % 4}", "medley"],
            "body": "Lorem ipsum " * (5 + i),
        })
    return {"items": items}


def events_doc():
    """{"events": [7 events]} with distinct, unsorted `starts` stamps."""
    events = []
    for i, rank in enumerate(_EVENT_ORDER):
        events.append({
            "id": f"ev-{i}",
            "name": f"Event {i}",
            "starts": f"2024-05-{1 + 3 * rank:02d}T09:30:00Z",
            "ends": f"2024-05-{1 + 3 * rank:02d}T17:00:00Z",
            "location": {"city": ["Oslo", "Lyon", "Porto"][i % 3], "room": i},
        })
    return {"events": events}


def vacation_doc(emp_id):
    """The vacation record the HR mock serves for an employee id <= 1000."""
    return {
        "employee": emp_id,
        "balance_days": ((emp_id * 37) % 29) + 0.5,
        "policy": "standard-25",
        "history": [
            {"from": "2023-07-01", "to": "2023-07-14", "days": 10},
            {"from": "2023-12-24", "to": "2023-12-31", "days": 5},
        ],
    }


def dumps(doc):
    """The exact bytes the mocks send for a document."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


# --------------------------------------------------------------------------
# Replies.

class Reply:
    """What a route answers. Build one with the constructors below."""

    def __init__(self, kind, body=b"", status=200, content_type="application/json",
                 delay_ms=0, hang_s=0.0, headers=None, chunk_size=7):
        self.kind = kind
        self.body = body if isinstance(body, bytes) else dumps(body)
        self.status = status
        self.content_type = content_type
        self.delay_ms = delay_ms
        self.hang_s = hang_s
        self.headers = list(headers or [])
        self.chunk_size = chunk_size

    @classmethod
    def json(cls, doc, status=200, **kw):
        """Body with Content-Length."""
        return cls("json", doc, status=status, **kw)

    @classmethod
    def chunked(cls, doc, status=200, **kw):
        """Body sent chunked, in small pieces written separately."""
        return cls("chunked", doc, status=status, **kw)

    @classmethod
    def gzip(cls, doc, status=200, **kw):
        """gzip-encoded body if the request accepts gzip, else plain."""
        return cls("gzip", doc, status=status, **kw)

    @classmethod
    def with_status(cls, status, doc=None, **kw):
        """Status N with a JSON body."""
        body = doc if doc is not None else {"error": f"mock status {status}"}
        return cls("json", body, status=status, **kw)

    @classmethod
    def html(cls, **kw):
        """200 text/html."""
        body = b"<!doctype html><html><body><h1>Maintenance</h1></body></html>"
        return cls("json", body, content_type="text/html; charset=utf-8", **kw)

    @classmethod
    def truncated(cls, **kw):
        """Valid framing, JSON cut off in the middle."""
        return cls("json", b'{"items":[{"id":1', **kw)

    @classmethod
    def short(cls, **kw):
        """Content-Length 1000, 10 bytes sent, then close."""
        return cls("short", b'{"items":[', **kw)

    @classmethod
    def reset(cls, **kw):
        """Read the request, then close with SO_LINGER 0 (RST)."""
        return cls("reset", **kw)

    @classmethod
    def hang(cls, seconds=8.0, **kw):
        """Read the request, say nothing for `seconds`, then close."""
        return cls("hang", hang_s=seconds, **kw)


class Request:
    """One request as the mock received it."""

    def __init__(self, method, target, version, header_lines, raw_head, body):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition("?")
        self.version = version
        self.header_lines = header_lines      # [(name, value)] as received
        self.raw_head = raw_head              # bytes, up to and including CRLFCRLF
        self.body = body
        self.received_at = time.monotonic()   # when the head was complete
        self.headers = {}
        for name, value in header_lines:
            key = name.lower()
            self.headers[key] = value if key not in self.headers else \
                self.headers[key] + ", " + value

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class _BadRequest(Exception):
    pass


# --------------------------------------------------------------------------
# The server.

class MockBackend:
    """A threaded HTTP/1.1 keep-alive mock on 127.0.0.1:<ephemeral>."""

    def __init__(self, name="mock", routes=None, tls=None):
        self.name = name
        self.routes = dict(routes or {})
        self.delay_ms = 0                     # added to every reply
        self.requests = []
        self.gzip_served = 0
        self.tls_handshakes = 0
        self.tls_failures = 0
        self._tls = None
        if tls:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.minimum_version = ssl.TLSVersion.TLSv1_2
            self._tls.load_cert_chain(tls[0], tls[1])
        self._counts = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns = set()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"mock-{name}")
        self._thread.start()

    # -- the test-facing API ------------------------------------------------

    def route(self, path, reply):
        """Sets what `path` answers. `path` may use '*' for one segment;
        `reply` is a Reply or a callable(Request) -> Reply."""
        with self._lock:
            self.routes[path] = reply

    def calls(self, path=None):
        """Calls seen for a path (without query), or in total."""
        with self._lock:
            if path is None:
                return sum(self._counts.values())
            return self._counts.get(path, 0)

    def seen(self):
        """A snapshot of the requests received so far."""
        with self._lock:
            return list(self.requests)

    def clear(self):
        with self._lock:
            self.requests.clear()
            self._counts.clear()
            self.gzip_served = 0

    def stop(self):
        """Stops accepting, wakes hung replies and closes every connection."""
        self._stop.set()
        try:
            # close() alone does not wake a thread blocked in accept().
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)

    # -- internals -------------------------------------------------------------

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _handshake(self, conn):
        """The TLS connection over conn, or None if the handshake failed."""
        try:
            conn.settimeout(10)
            tconn = self._tls.wrap_socket(conn, server_side=True)
            tconn.settimeout(None)
        except (OSError, ssl.SSLError):
            with self._lock:
                self.tls_failures += 1
            return None
        with self._lock:
            self._conns.discard(conn)
            self._conns.add(tconn)
            self.tls_handshakes += 1
        return tconn

    def _serve(self, conn):
        buf = bytearray()
        try:
            if self._tls:
                tconn = self._handshake(conn)
                if tconn is None:
                    return
                conn = tconn
            while not self._stop.is_set():
                req = self._read_request(conn, buf)
                if req is None:
                    return
                keep = self._answer(conn, req)
                if not keep:
                    return
        except (OSError, _BadRequest):
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _recv_more(self, conn, buf):
        data = conn.recv(RECV_SIZE)
        if not data:
            return False
        buf.extend(data)
        return True

    def _read_request(self, conn, buf):
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD_BYTES:
                raise _BadRequest("head too large")
            if not self._recv_more(conn, buf):
                return None
        end = buf.index(b"\r\n\r\n") + 4
        raw_head = bytes(buf[:end])
        del buf[:end]
        lines = raw_head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3:
            raise _BadRequest("bad request line")
        header_lines = []
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise _BadRequest("bad header line")
            header_lines.append((name, value.strip(" \t")))
        req = Request(parts[0], parts[1], parts[2], header_lines, raw_head, b"")
        req.body = self._read_body(conn, buf, req)
        with self._lock:
            self.requests.append(req)
            self._counts[req.path] = self._counts.get(req.path, 0) + 1
        return req

    def _read_body(self, conn, buf, req):
        if "chunked" in req.header("transfer-encoding", "").lower():
            return self._read_chunked(conn, buf)
        length = int(req.header("content-length", "0") or "0")
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BadRequest("bad content-length")
        while len(buf) < length:
            if not self._recv_more(conn, buf):
                raise _BadRequest("short body")
        body = bytes(buf[:length])
        del buf[:length]
        return body

    def _read_chunked(self, conn, buf):
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                if len(buf) > 1024 or not self._recv_more(conn, buf):
                    raise _BadRequest("bad chunk size line")
            line, _, rest = bytes(buf).partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            del buf[:len(line) + 2]
            if len(body) + size > MAX_BODY_BYTES:
                raise _BadRequest("body too large")
            while len(buf) < size + 2:
                if not self._recv_more(conn, buf):
                    raise _BadRequest("short chunk")
            body.extend(buf[:size])
            del buf[:size + 2]
            if size == 0:
                return bytes(body)

    def _lookup(self, req):
        with self._lock:
            routes = dict(self.routes)
        if req.path in routes:
            return routes[req.path]
        segs = req.path.split("/")
        for pattern, reply in routes.items():
            psegs = pattern.split("/")
            if len(psegs) == len(segs) and all(p in ("*", s) for p, s in zip(psegs, segs)):
                return reply
        return None

    def _answer(self, conn, req):
        reply = self._lookup(req)
        if callable(reply):
            reply = reply(req)
        if reply is None:
            reply = Reply.with_status(404, {"error": "no such route", "path": req.path})
        delay = (self.delay_ms + reply.delay_ms) / 1000.0
        if delay > 0 and self._stop.wait(delay):
            return False
        keep = req.version == "HTTP/1.1" and \
            req.header("connection", "").lower() != "close"
        return getattr(self, "_send_" + reply.kind)(conn, req, reply) and keep

    def _head(self, reply, extra):
        lines = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}",
                 f"Content-Type: {reply.content_type}"]
        lines += [f"{n}: {v}" for n, v in extra + reply.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_json(self, conn, req, reply):
        conn.sendall(self._head(reply, [("Content-Length", str(len(reply.body)))])
                     + reply.body)
        return True

    def _send_chunked(self, conn, req, reply):
        conn.sendall(self._head(reply, [("Transfer-Encoding", "chunked")]))
        body, n = reply.body, reply.chunk_size
        for i in range(0, len(body), n):
            piece = body[i:i + n]
            conn.sendall(b"%X\r\n" % len(piece) + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")
        return True

    def _send_gzip(self, conn, req, reply):
        if "gzip" not in req.header("accept-encoding", "").lower():
            return self._send_json(conn, req, reply)
        packed = gzip.compress(reply.body)
        with self._lock:
            self.gzip_served += 1
        conn.sendall(self._head(reply, [("Content-Encoding", "gzip"),
                                        ("Content-Length", str(len(packed)))]) + packed)
        return True

    def _send_short(self, conn, req, reply):
        conn.sendall(self._head(reply, [("Content-Length", "1000")]) + reply.body[:10])
        return False

    def _send_reset(self, conn, req, reply):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _send_hang(self, conn, req, reply):
        self._stop.wait(reply.hang_s)
        return False


def _reason(status):
    return {200: "OK", 404: "Not Found", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Status")


def closed_port():
    """A 127.0.0.1 port with nothing listening (bound once, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def vacation_route(req):
    """The HR route: /employees/{id}/vacation, 404 JSON for unknown ids."""
    segs = req.path.split("/")
    raw_id = segs[2] if len(segs) == 4 else ""
    if raw_id.isdigit() and 0 < int(raw_id) <= 1000:
        return Reply.json(vacation_doc(int(raw_id)))
    return Reply.with_status(404, {"error": "no such employee", "id": raw_id})


class TokenEndpoint:
    """An OAuth 2.0 token endpoint (client credentials grant, RFC 6749 4.4)
    to use as a route: checks that the request is a form POST with exactly
    grant_type=client_credentials, client_id, client_secret and scope, and
    answers a fresh token "tok-N-<suffix>" with `expires_in`. Bad requests
    get 401 invalid_client and are listed in `problems`. `down = True`
    makes it answer 503 (the provider is unavailable). `valid(token)` says
    whether a token was issued here and has not expired, for a backend
    route that checks the Bearer token."""

    def __init__(self, client_id, client_secret, scope=None, expires_in=3600):
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.expires_in = expires_in
        self.down = False
        self.problems = []
        self.issued = {}                      # token -> monotonic expiry
        self._lock = threading.Lock()

    def _check(self, req):
        if req.method != "POST":
            return f"method {req.method}"
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return f"content-type {ctype!r}"
        try:
            form = urllib.parse.parse_qs(req.body.decode("ascii"), keep_blank_values=True,
                                         strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as e:
            return f"form does not parse: {e}"
        want = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret}
        if self.scope is not None:
            want["scope"] = self.scope
        got = {k: v for k, v in form.items()}
        if set(got) != set(want):
            return f"form fields {sorted(got)} (want {sorted(want)})"
        for k, v in want.items():
            if got[k] != [v]:
                return f"form field {k} is wrong"
        return None

    def __call__(self, req):
        if self.down:
            return Reply.with_status(503, {"error": "temporarily_unavailable"})
        problem = self._check(req)
        with self._lock:
            if problem:
                self.problems.append(problem)
                return Reply.with_status(401, {"error": "invalid_client"})
            token = f"tok-{len(self.issued) + 1}-{int(time.monotonic() * 1000) % 100000}"
            self.issued[token] = time.monotonic() + self.expires_in
        return Reply.json({"access_token": token, "token_type": "Bearer",
                           "expires_in": self.expires_in})

    def valid(self, token):
        with self._lock:
            exp = self.issued.get(token)
        return exp is not None and time.monotonic() < exp

    def tokens(self):
        with self._lock:
            return list(self.issued)


def bearer_route(idp, reply):
    """A route that answers `reply` only to a valid Bearer token of `idp`
    (a TokenEndpoint), else 401."""
    def route(req):
        auth = req.header("authorization") or ""
        if not auth.startswith("Bearer ") or not idp.valid(auth[7:]):
            return Reply.with_status(401, {"error": "invalid_token", "got": auth[:20]})
        return reply
    return route


def _selftest():
    """Quick manual check: python3 mockbackend.py"""
    import http.client
    m = MockBackend("self")
    m.route("/news", Reply.json(news_doc()))
    m.route("/chunked", Reply.chunked(news_doc()))
    m.route("/gz", Reply.gzip(events_doc()))
    m.route("/employees/*/vacation", vacation_route)
    c = http.client.HTTPConnection("127.0.0.1", m.port, timeout=5)
    for path, hdrs in (("/news", {}), ("/chunked", {}), ("/gz", {"Accept-Encoding": "gzip"}),
                       ("/employees/42/vacation", {}), ("/employees/4242/vacation", {})):
        c.request("GET", path, headers=hdrs)
        r = c.getresponse()
        body = r.read()
        if r.getheader("content-encoding") == "gzip":
            body = gzip.decompress(body)
        print(path, r.status, len(body), body[:60])
    print("calls", m.calls(), "gzip", m.gzip_served, "news", m.calls("/news"))
    m.stop()


if __name__ == "__main__":
    _selftest()
