"""HTTP/1.1 front-end behaviour over raw sockets: limits (431, 413), bad
framing and syntax (400, 505), keep-alive, pipelining, slowloris."""

import socket
import time

import mockbackend as mb
from harness import (RawConn, ConnectionClosed, assert_json_error, check, eq,
                     expected_home)

HEAD = b"Host: medley.test\r\n"


def _raw(w, data, timeout=5.0):
    """Sends bytes on a fresh connection and reads one response."""
    with RawConn(w.port, timeout=timeout) as c:
        c.send(data)
        return c.read_response()


def test_header_too_large_431(t):
    w = t.world()
    big = b"X-Big: " + b"a" * (9 * 1024) + b"\r\n"
    r = _raw(w, b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + big + b"\r\n")
    assert_json_error(r, 431, "headers_too_large")
    eq(w.mock_calls(), 0, "backend calls")
    # Many small headers adding up past 8k are the same offence.
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(90))
    r = _raw(w, b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + many + b"\r\n")
    eq(r.status, 431, "status for 90 x 100-byte headers")
    w.assert_home_ok(42)
    w.medley.stop()


def test_malformed_request_line_400(t):
    w = t.world()
    for line in (b"GE T / HTTP/1.1", b"GET  /home HTTP/1.1", b"GET /home", b"GET /home HTTP/1.1 x",
                 b"\x00GET /home HTTP/1.1", b"GET /ho\x7fme HTTP/1.1"):
        r = _raw(w, line + b"\r\n" + HEAD + b"\r\n")
        assert_json_error(r, 400)
    w.assert_home_ok(42)
    w.medley.stop()


def test_malformed_headers_400(t):
    w = t.world()
    cases = (
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"No colon here\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"X-A: 1\r\n folded\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"X-A: a\rb\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"X-A: a\x00b\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"Content-Length: -1\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"Content-Length: 1x\r\n\r\n",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /home?user=42 HTTP/1.1\r\n" + HEAD +
        b"Content-Length: 99999999999999999999999999\r\n\r\n",
    )
    for data in cases:
        r = _raw(w, data)
        check(r.status in (400, 413) if b"9999999" in data else r.status == 400,
              f"status {r.status} for {data!r}")
        assert_json_error(r, r.status)
    eq(w.mock_calls(), 0, "backend calls")
    w.assert_home_ok(42)
    w.medley.stop()


def test_http2_version_505(t):
    w = t.world()
    r = _raw(w, b"GET /home?user=42 HTTP/2.0\r\n" + HEAD + b"\r\n")
    assert_json_error(r, 505)
    r = _raw(w, b"GET /home?user=42 HTTP/1.7\r\n" + HEAD + b"\r\n")
    check(r.status in (400, 505), f"status {r.status} for HTTP/1.7")
    eq(w.mock_calls(), 0, "backend calls")
    w.medley.stop()


def test_content_length_with_transfer_encoding_400(t):
    w = t.world()
    r = _raw(w, b"POST /home?user=42 HTTP/1.1\r\n" + HEAD +
             b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert_json_error(r, 400)
    r = _raw(w, b"POST /home?user=42 HTTP/1.1\r\n" + HEAD +
             b"Transfer-Encoding: gzip\r\n\r\n")
    check(r.status in (400, 501), f"status {r.status} for Transfer-Encoding: gzip")
    eq(w.mock_calls(), 0, "backend calls")
    w.medley.stop()


def test_body_too_large_413(t):
    w = t.world()
    # The limit is known from the head alone: no body needs to be sent.
    r = _raw(w, b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"Content-Length: 70000\r\n\r\n")
    assert_json_error(r, 413)
    r = _raw(w, b"GET /news-raw HTTP/1.1\r\n" + HEAD + b"Content-Length: 65537\r\n\r\n")
    assert_json_error(r, 413)
    eq(w.mock_calls(), 0, "backend calls")
    w.assert_home_ok(42)
    w.medley.stop()


def test_chunked_body_too_large_413(t):
    w = t.world()
    piece = b"x" * 4096
    chunks = b"".join(b"1000\r\n" + piece + b"\r\n" for _ in range(17)) + b"0\r\n\r\n"
    with RawConn(w.port) as c:
        c.send(b"POST /home?user=42 HTTP/1.1\r\n" + HEAD +
               b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            c.send(chunks)
        except (BrokenPipeError, ConnectionResetError):
            pass  # medley may answer and close before reading everything
        r = c.read_response()
    assert_json_error(r, 413)
    eq(w.mock_calls(), 0, "backend calls")
    w.assert_home_ok(42)
    w.medley.stop()


def test_keep_alive_three_requests(t):
    w = t.world()
    with RawConn(w.port) as c:
        for user in (42, 7, 42):
            c.send(b"GET /home?user=%d HTTP/1.1\r\n" % user + HEAD + b"\r\n")
            r = c.read_response()
            eq(r.status, 200, f"keep-alive request for user {user}")
            eq(r.json(), expected_home(user), f"body for user {user}")
            check(r.headers.get("connection", "").lower() != "close",
                  "medley asked to close a keep-alive connection")
    w.medley.stop()


def test_pipelined_three_requests_in_order(t):
    w = t.world()
    # The first request is the slowest, so answering out of order would show.
    w.hr.route("/employees/*/vacation",
               lambda req: mb.Reply.json(mb.vacation_doc(int(req.path.split("/")[2])),
                                         delay_ms=300 if "/42/" in req.path else 0))
    with RawConn(w.port) as c:
        c.send(b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"\r\n"
               b"GET /home?user=7 HTTP/1.1\r\n" + HEAD + b"\r\n"
               b"GET /nope HTTP/1.1\r\n" + HEAD + b"\r\n")
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
    eq((r1.status, r2.status, r3.status), (200, 200, 404), "pipelined statuses")
    eq(r1.json(), expected_home(42), "first pipelined body")
    eq(r2.json(), expected_home(7), "second pipelined body")
    assert_json_error(r3, 404, "not_found")
    w.medley.stop()


def test_connection_close_honoured(t):
    w = t.world()
    with RawConn(w.port) as c:
        c.send(b"GET /nope HTTP/1.1\r\n" + HEAD + b"Connection: close\r\n\r\n")
        r = c.read_response()
        eq(r.status, 404, "status")
        check(c.wait_closed(2.0), "connection not closed after Connection: close")
    with RawConn(w.port) as c:
        c.send(b"GET /nope HTTP/1.0\r\n\r\n")
        r = c.read_response()
        eq(r.status, 404, "HTTP/1.0 status")
        check(c.wait_closed(2.0), "HTTP/1.0 connection without keep-alive not closed")
    w.medley.stop()


def _assert_timed_out(c, t0, what):
    closed = c.wait_closed(3.0 - (time.monotonic() - t0))
    took = time.monotonic() - t0
    if c.buf:
        r = c.read_response()
        eq(r.status, 408, f"{what}: status")
    else:
        check(closed, f"{what}: connection still open after {took:.2f}s (header_timeout 2s)")
    check(took >= 1.5, f"{what}: gave up after {took:.2f}s, before header_timeout")


def test_slowloris_half_head(t):
    w = t.world()
    with RawConn(w.port, timeout=5) as c:
        t0 = time.monotonic()
        c.send(b"GET /home?user=42 HTTP/1.1\r\nHost: medley.test\r\nX-Slow: ")
        _assert_timed_out(c, t0, "half a head")
    w.assert_home_ok(42)
    w.medley.stop()


def test_slowloris_trickle(t):
    """A byte every 250 ms must not keep resetting the header timer."""
    w = t.world()
    data = b"GET /home?user=42 HTTP/1.1\r\nHost: medley.test\r\nX-Slow: " + b"a" * 100
    with RawConn(w.port, timeout=5) as c:
        t0 = time.monotonic()
        for byte in data:
            if time.monotonic() - t0 > 3.0:
                break
            try:
                c.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            c.sock.settimeout(0.25)
            try:
                got = c.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                got = b""
            c.buf.extend(got)
            if not got:
                c.eof = True
                break
        c.sock.settimeout(5)
        _assert_timed_out(c, t0, "trickled head")
    w.medley.stop()


def test_garbage_does_not_kill_server(t):
    w = t.world()
    blobs = (b"\r\n" * 50 + b"GET /nope HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),
             b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", bytes(range(256)) * 8)
    for blob in blobs:
        with RawConn(w.port) as c:
            try:
                c.send(blob)
                c.read_response()
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                pass
            except socket.timeout:
                raise AssertionError(f"no answer nor close for {blob[:20]!r}") from None
    w.assert_home_ok(42)
    w.medley.stop()
