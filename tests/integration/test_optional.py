"""An optional backend (hr, named `vacation`) fails in every way the spec
lists: /home still answers 200 with news and events, no `cards` key, the
X-Medley-Incomplete header, and an `_errors` entry with the right kind."""

import time

import mockbackend as mb
from harness import check, eq, expected_news, expected_events


def _assert_degraded(w, kind, user=42, errors_field=True):
    r = w.get(f"/home?user={user}")
    eq(r.status, 200, f"status with hr failing ({kind}) (body {r.body[:300]!r})")
    ctype = r.headers.get("content-type", "")
    check(ctype.startswith("application/json"), f"content-type is {ctype!r}")
    eq(r.headers.get("x-medley-incomplete"), "vacation", "X-Medley-Incomplete")
    doc = r.json()
    eq(doc.get("news"), expected_news(), "news")
    eq(doc.get("events"), expected_events(), "events")
    check("cards" not in doc, f"'cards' present although its only member failed: {doc.get('cards')!r}")
    if not errors_field:
        eq(sorted(doc), ["events", "news"], "top-level keys without errors_field")
        return r
    eq(sorted(doc), ["_errors", "events", "news"], "top-level keys")
    errs = doc["_errors"]
    check(isinstance(errs, dict) and list(errs) == ["vacation"], f"_errors is {errs!r}")
    entry = errs["vacation"]
    eq(entry.get("error"), kind, "_errors.vacation.error")
    check(isinstance(entry.get("message"), str) and entry["message"],
          f"_errors.vacation.message missing: {entry!r}")
    return r


def _fail_then_recover(t, reply, kind):
    w = t.world()
    w.hr.route("/employees/*/vacation", reply)
    _assert_degraded(w, kind)
    w.hr.route("/employees/*/vacation", mb.vacation_route)
    w.assert_home_ok(42)
    w.medley.stop()


def test_optional_hr_down_connect(t):
    w = t.world(hr_port=mb.closed_port())
    _assert_degraded(w, "connect")
    w.medley.stop()


def test_optional_hr_500_status(t):
    _fail_then_recover(t, mb.Reply.with_status(500), "status")


def test_optional_hr_timeout(t):
    w = t.world()
    w.hr.route("/employees/*/vacation", mb.Reply.hang(4.0))
    t0 = time.monotonic()
    _assert_degraded(w, "timeout")
    took = time.monotonic() - t0
    check(0.45 <= took < 1.5, f"answer after {took:.3f}s with hr timeout 500ms")
    w.hr.route("/employees/*/vacation", mb.vacation_route)
    w.assert_home_ok(42)
    w.medley.stop()


def test_optional_hr_html_invalid_json(t):
    _fail_then_recover(t, mb.Reply.html(), "invalid_json")


def test_optional_hr_truncated_json(t):
    _fail_then_recover(t, mb.Reply.truncated(), "invalid_json")


def test_optional_hr_reset(t):
    _fail_then_recover(t, mb.Reply.reset(), "reset")


def test_optional_hr_short_body(t):
    _fail_then_recover(t, mb.Reply.short(), "reset")


def test_optional_unknown_user_404_status(t):
    w = t.world()
    _assert_degraded(w, "status", user=4242)
    eq(w.hr.calls("/employees/4242/vacation"), 1, "hr calls for 4242")
    w.assert_home_ok(42)
    w.medley.stop()


def test_optional_without_errors_field(t):
    w = t.world(errors_field=False)
    w.hr.route("/employees/*/vacation", mb.Reply.with_status(500))
    _assert_degraded(w, "status", errors_field=False)
    w.medley.stop()
