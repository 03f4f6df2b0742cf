#!/usr/bin/env python3
"""Cold-cache coalescing, measured: N clients (default 64) ask medley for
/home?user=42 at the same instant while its cache is empty; how many calls
does each backend see?

Starts three counting mock backends (tests/integration/mockbackend.py, each
answer delayed DELAY ms so the misses overlap), medley on
examples/home-feed/medley-cached.yaml with 2 workers, releases N threads
through a barrier, and prints the calls each backend received next to what
medley's /metrics says (medley_upstream_requests_total).

    python3 bench/coalesce.py [--clients 64] [--delay 50] [--users 1]

With --users K the clients are spread over K users: news and events still
see one call each, the cards one per user.
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import mockbackend as mb  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def metric(text, name, label):
    for line in text.splitlines():
        if line.startswith(name + "{") and label in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--delay", type=int, default=50, help="ms each backend answer is delayed")
    ap.add_argument("--users", type=int, default=1)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "medley"))
    a = ap.parse_args()

    news, events, hr = mb.MockBackend("news"), mb.MockBackend("events"), mb.MockBackend("hr")
    news.route("/news", mb.Reply.json(mb.news_doc(), delay_ms=a.delay))
    events.route("/events", mb.Reply.json(mb.events_doc(), delay_ms=a.delay))
    hr.route("/employees/*/vacation",
             lambda req: mb.Reply.json(mb.vacation_doc(int(req.target.split("/")[2])), delay_ms=a.delay))
    port, admin = free_port(), free_port()
    env = dict(os.environ, NEWS_URL=f"http://127.0.0.1:{news.port}", EVENTS_URL=f"http://127.0.0.1:{events.port}",
               HR_URL=f"http://127.0.0.1:{hr.port}", LISTEN_ADDR="127.0.0.1", PORT=str(port), WORKERS="2")
    conf = os.path.join(ROOT, "examples", "home-feed", "medley-cached.yaml")
    proc = subprocess.Popen([a.binary, "run", "-c", conf, "--admin-port", str(admin)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                get(f"http://127.0.0.1:{admin}/readyz", timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)
        barrier = threading.Barrier(a.clients)
        statuses = [None] * a.clients

        def one(i):
            barrier.wait()
            statuses[i] = get(f"http://127.0.0.1:{port}/home?user={1 + i % a.users}")[0]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(a.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        time.sleep(1.2)  # the upstream counters are refreshed every second
        text = get(f"http://127.0.0.1:{admin}/metrics")[1].decode()
        ok = sum(1 for s in statuses if s == 200)
        print(f"{a.clients} concurrent cold /home requests over {a.users} user(s), backends delayed {a.delay} ms: "
              f"{ok} x 200 in {took * 1000:.0f} ms")
        for name, mock, up in (("news", news, "news"), ("events", events, "events"), ("hr", hr, "hr")):
            m = metric(text, "medley_upstream_requests_total", f'upstream="{up}"')
            print(f"  {name:7s} calls seen by the backend: {mock.calls():3d}   medley_upstream_requests_total: {m}")
        bad = news.calls() != 1 or events.calls() != 1 or hr.calls() != a.users or ok != a.clients
        return 1 if bad else 0
    finally:
        proc.terminate()
        proc.wait(10)
        for m in (news, events, hr):
            m.stop()


if __name__ == "__main__":
    sys.exit(main())
