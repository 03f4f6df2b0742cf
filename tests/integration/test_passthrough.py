"""Passthrough endpoint /news-raw: the upstream's status, content type and
body bytes reach the client unchanged, whatever the upstream's framing."""

import time

import mockbackend as mb
from harness import RawConn, assert_json_error, check, eq

CTYPE = "application/json; charset=utf-8"
HEAD = b"Host: medley.test\r\n"


def test_passthrough_identical_body(t):
    w = t.world()
    w.news.route("/news", mb.Reply.json(mb.news_doc(), content_type=CTYPE))
    r = w.get("/news-raw")
    eq(r.status, 200, "status")
    eq(r.headers.get("content-type"), CTYPE, "content-type")
    eq(r.body, mb.dumps(mb.news_doc()), "body bytes")
    eq(w.news.calls("/news"), 1, "news calls")
    w.medley.stop()


def test_passthrough_chunked_upstream(t):
    w = t.world()
    w.news.route("/news", mb.Reply.chunked(mb.news_doc(), content_type=CTYPE, chunk_size=3))
    r = w.get("/news-raw")
    eq(r.status, 200, "status")
    eq(r.headers.get("content-type"), CTYPE, "content-type")
    eq(r.body, mb.dumps(mb.news_doc()), "body bytes")
    w.medley.stop()


def test_passthrough_404_passed_through(t):
    w = t.world()
    doc = {"error": "gone", "detail": "upstream said so"}
    w.news.route("/news", mb.Reply.with_status(404, doc))
    r = w.get("/news-raw")
    eq(r.status, 404, "status")
    eq(r.body, mb.dumps(doc), "body bytes")
    w.medley.stop()


def test_passthrough_upstream_down_502(t):
    w = t.world(news_port=mb.closed_port())
    assert_json_error(w.get("/news-raw"), 502)
    w.medley.stop()


def test_passthrough_large_body_streams(t):
    """2 MiB through a client that reads slowly: flow control, no loss."""
    w = t.world()
    body = b'{"blob":"' + bytes((65 + i % 26) for i in range(2 * 1024 * 1024)) + b'"}'
    w.news.route("/news", mb.Reply("json", body, content_type=CTYPE))
    with RawConn(w.port, timeout=10, rcvbuf=16384) as c:
        c.send(b"GET /news-raw HTTP/1.1\r\n" + HEAD + b"\r\n")
        time.sleep(0.5)  # let medley's send queue fill up before reading
        r = c.read_response()
        eq(r.status, 200, "status")
        check(r.body == body, f"body differs: {len(r.body)} bytes vs {len(body)}")
        # The connection is still usable afterwards.
        c.send(b"GET /news-raw HTTP/1.1\r\n" + HEAD + b"\r\n")
        eq(len(c.read_response().body), len(body), "second body length")
    w.medley.stop()


def test_passthrough_upstream_truncated_is_not_complete(t):
    """A short upstream body must never look complete to the client."""
    w = t.world()
    w.news.route("/news", mb.Reply.short())
    with RawConn(w.port, timeout=5) as c:
        c.send(b"GET /news-raw HTTP/1.1\r\n" + HEAD + b"\r\n")
        try:
            r = c.read_response()
        except Exception:  # noqa: BLE001 - truncated/closed is the right outcome
            r = None
    if r is not None:
        check(r.status == 502, f"got a complete-looking {r.status} response of "
                               f"{len(r.body)} bytes from a truncated upstream")
    w.medley.stop()
