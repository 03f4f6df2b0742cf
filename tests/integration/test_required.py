"""A required backend (news) fails: /home answers 502/504 with a JSON error
naming the backend and the reason, and medley keeps serving afterwards."""

import json
import time

import mockbackend as mb
from harness import assert_json_error, check, eq


def _assert_backend_error(r, status, code, reason):
    err = assert_json_error(r, status, code)
    eq(sorted(r.json()), ["error"], "top-level keys of the error body")
    eq(err.get("backend"), "news", "error.backend")
    eq(err.get("reason"), reason, "error.reason")
    check("news" in err["message"], f"error.message does not name news: {err['message']!r}")
    eq(sorted(err), ["backend", "code", "message", "reason", "status"], "error keys")


def _fail_then_recover(t, reply, status, code, reason):
    w = t.world()
    w.news.route("/news", reply)
    _assert_backend_error(w.get("/home?user=42"), status, code, reason)
    w.news.route("/news", mb.Reply.json(mb.news_doc()))
    w.assert_home_ok(42)
    w.medley.stop()


def test_required_news_500(t):
    _fail_then_recover(t, mb.Reply.with_status(500), 502, "backend_failed", "status")


def test_required_news_404_is_a_failure(t):
    _fail_then_recover(t, mb.Reply.with_status(404), 502, "backend_failed", "status")


def test_required_news_timeout_504(t):
    w = t.world()
    w.news.route("/news", mb.Reply.hang(5.0))
    t0 = time.monotonic()
    r = w.get("/home?user=42")
    took = time.monotonic() - t0
    _assert_backend_error(r, 504, "backend_timeout", "timeout")
    check(0.95 <= took < 2.5, f"504 after {took:.3f}s with a 1s news timeout")
    w.news.route("/news", mb.Reply.json(mb.news_doc()))
    w.assert_home_ok(42)
    w.medley.stop()


def test_required_news_down_connect(t):
    w = t.world(news_port=mb.closed_port())
    _assert_backend_error(w.get("/home?user=42"), 502, "backend_failed", "connect")
    # Still serving: an endpoint that does not need news.
    r = w.get("/u/42?name=ann")
    eq(r.status, 200, f"/u/42 after the failure (body {r.body[:300]!r})")
    w.medley.stop()


def test_required_news_html(t):
    _fail_then_recover(t, mb.Reply.html(), 502, "backend_failed", "invalid_json")


def test_required_news_truncated_json(t):
    _fail_then_recover(t, mb.Reply.truncated(), 502, "backend_failed", "invalid_json")


def test_required_news_short_body(t):
    _fail_then_recover(t, mb.Reply.short(), 502, "backend_failed", "reset")


def test_required_news_reset(t):
    _fail_then_recover(t, mb.Reply.reset(), 502, "backend_failed", "reset")


def test_required_failure_repeated(t):
    """Twenty failing requests in a row (connection pool churn), then good."""
    w = t.world()
    w.news.route("/news", mb.Reply.short())
    for i in range(20):
        r = w.get("/home?user=42")
        eq(r.status, 502, f"request {i} status")
    w.news.route("/news", mb.Reply.json(mb.news_doc()))
    w.assert_home_ok(42)
    w.medley.stop()


def test_required_news_too_big(t):
    """An answer over max_response_bytes is a failure of kind too_big, for
    plain and for gzip bodies (the cap applies to the inflated size)."""
    doc = mb.news_doc()
    w = t.world(news_extra=", max_response_bytes: 2k")
    check(len(json.dumps(doc)) > 2048, "the news document must exceed the 2k cap")
    _assert_backend_error(w.get("/home?user=42"), 502, "backend_failed", "too_big")
    w.news.route("/news", mb.Reply.gzip(doc))
    _assert_backend_error(w.get("/home?user=42"), 502, "backend_failed", "too_big")
    w.medley.stop()
