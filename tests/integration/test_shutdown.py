"""Graceful shutdown on SIGTERM: in-flight requests finish, new connections
are refused, idle keep-alive connections do not hold the exit, and the
drain is bounded by shutdown_timeout."""

import socket
import threading
import time

import mockbackend as mb
from harness import RawConn, check, eq, expected_home, home_config, http_get

HEAD = b"Host: medley.test\r\n"


def _wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _in_background(fn):
    box = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as e:  # noqa: BLE001
            box["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, box


def _refused_within(port, timeout):
    """Probes port until a connect is refused; returns (refused, log)."""
    t0 = time.monotonic()
    log = []
    while time.monotonic() - t0 < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            log.append(f"{time.monotonic() - t0:.3f}s accepted")
        except ConnectionRefusedError:
            return True, log
        except OSError as e:
            log.append(f"{time.monotonic() - t0:.3f}s {e!r}")
        time.sleep(0.03)
    return False, log


def test_graceful_shutdown_completes_inflight(t):
    # Upstream timeouts well above the 1 s backend delay.
    w = t.world(news_timeout="3s", events_timeout="3s", hr_timeout="3s")
    for m in (w.news, w.events, w.hr):
        m.delay_ms = 1000
    t0 = time.monotonic()
    th, box = _in_background(lambda: w.get("/home?user=42", timeout=10))
    _wait_for(lambda: w.mock_calls() == 3, 1.0, "the three backend calls to start")
    time.sleep(max(0.0, 0.2 - (time.monotonic() - t0)))
    w.medley.signal()
    refused, probes = _refused_within(w.port, 0.5)
    still_inflight = th.is_alive()
    th.join(10)
    check(not th.is_alive(), "in-flight request did not finish")
    check("error" not in box, f"in-flight request failed: {box.get('error')!r}")
    r = box["result"]
    eq(r.status, 200, f"in-flight status (body {r.body[:300]!r})")
    eq(r.json(), expected_home(42), "in-flight body")
    check(refused, "a new connection was still accepted 0.5s after SIGTERM", "\n".join(probes))
    check(still_inflight, "the request finished before the refusal check: test proves nothing")
    eq(w.medley.wait(), 0, "exit code after SIGTERM")


def test_shutdown_with_idle_keepalive_connection(t):
    w = t.world()
    with RawConn(w.port) as c:
        c.send(b"GET /home?user=42 HTTP/1.1\r\n" + HEAD + b"\r\n")
        eq(c.read_response().status, 200, "status before shutdown")
        t0 = time.monotonic()
        w.medley.signal()
        check(c.wait_closed(3.0), "idle keep-alive connection not closed on SIGTERM")
        eq(w.medley.wait(), 0, "exit code")
        took = time.monotonic() - t0
        check(took < 3.0, f"exit took {took:.2f}s with only an idle connection")


def test_shutdown_drain_is_bounded(t):
    """A request that cannot finish is cut at shutdown_timeout (1s here)."""
    cfg = home_config(news_timeout="20s").replace("shutdown_timeout: 5s", "shutdown_timeout: 1s")
    w = t.world(config=cfg)
    w.news.route("/news", mb.Reply.hang(20.0))
    th, box = _in_background(lambda: http_get(w.port, "/home?user=42", timeout=10))
    _wait_for(lambda: w.news.calls() == 1, 1.0, "the news call to start")
    t0 = time.monotonic()
    w.medley.signal()
    eq(w.medley.wait(), 0, "exit code")
    took = time.monotonic() - t0
    check(took < 3.0, f"exit took {took:.2f}s with shutdown_timeout 1s")
    th.join(5)
    check(not th.is_alive(), "client still waiting after medley exited")
