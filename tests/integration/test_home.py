"""The composite endpoint /home on the happy path: exact merged and shaped
document, concurrency of the backend calls, and chunked / gzip upstream
responses."""

import threading
import time

import mockbackend as mb
from harness import check, eq, expected_home


def test_home_user42_exact_document(t):
    w = t.world()
    w.assert_home_ok(42)
    eq(w.news.calls("/news"), 1, "news calls")
    eq(w.events.calls("/events"), 1, "events calls")
    eq(w.hr.calls("/employees/42/vacation"), 1, "hr calls for user 42")
    eq(expected_home(42)["cards"]["vacation"]["balance_days"], 17.5, "spec value for 42")
    w.medley.stop()


def test_home_user7_vacation_balance(t):
    w = t.world()
    r = w.assert_home_ok(7)
    eq(r.json()["cards"], {"vacation": {"balance_days": 27.5}}, "cards for user 7")
    w.medley.stop()


def test_home_backend_calls_are_concurrent(t):
    w = t.world()
    for m in (w.news, w.events, w.hr):
        m.delay_ms = 300   # hr's timeout is 500 ms
    t0 = time.monotonic()
    w.assert_home_ok(42)
    took = time.monotonic() - t0
    check(took >= 0.3, f"/home took {took:.3f}s: the 300 ms mock delay was not applied")
    # Called one after another, the three 300 ms backends would take 0.9 s
    # and arrive 0.6 s apart; together, every call reaches its backend before
    # any has answered (also true under valgrind on a busy machine).
    check(took < 0.85, f"/home took {took:.3f}s with three 300 ms backends: not concurrent")
    arrivals = [m.seen()[-1].received_at for m in (w.news, w.events, w.hr)]
    spread = max(arrivals) - min(arrivals)
    check(spread < 0.25, f"backend calls arrived {spread:.3f}s apart: not started together")
    w.medley.stop()


def test_home_chunked_backends(t):
    w = t.world()
    w.news.route("/news", mb.Reply.chunked(mb.news_doc(), chunk_size=5))
    w.events.route("/events", mb.Reply.chunked(mb.events_doc(), chunk_size=64))
    w.hr.route("/employees/*/vacation",
               lambda req: mb.Reply.chunked(mb.vacation_doc(int(req.path.split("/")[2])),
                                            chunk_size=1))
    w.assert_home_ok(42)
    w.assert_home_ok(7)
    w.medley.stop()


def test_home_gzip_backends(t):
    w = t.world()
    w.news.route("/news", mb.Reply.gzip(mb.news_doc()))
    w.events.route("/events", mb.Reply.gzip(mb.events_doc()))
    w.hr.route("/employees/*/vacation",
               lambda req: mb.Reply.gzip(mb.vacation_doc(int(req.path.split("/")[2]))))
    w.assert_home_ok(42)
    # Without this the test would pass on plain bodies: medley must ask for gzip.
    eq(w.news.gzip_served, 1, "gzip responses served by news (medley sent Accept-Encoding: gzip?)")
    eq(w.events.gzip_served, 1, "gzip responses served by events")
    w.medley.stop()


def test_home_parallel_clients(t):
    """16 clients at once, 3 requests each, distinct users: every answer is
    exactly right (no cross-talk between requests on a worker)."""
    w = t.world()
    for m in (w.news, w.events, w.hr):
        m.delay_ms = 20
    errors = []

    def client(i):
        for j in range(3):
            user = 1 + i * 3 + j
            try:
                r = w.get(f"/home?user={user}")
                if r.status != 200 or r.json() != expected_home(user):
                    errors.append(f"user {user}: {r.status} {r.body[:200]!r}")
            except Exception as e:  # noqa: BLE001
                errors.append(f"user {user}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    check(not errors, f"{len(errors)} wrong answers, first: {errors[:1]}", "\n".join(errors))
    eq(w.hr.calls(), 48, "hr calls")
    w.medley.stop()
