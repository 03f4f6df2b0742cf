"""The Redis tier (issue 3): two medley instances share fragments through a
real redis-server that this test starts on a free loopback port; Redis
dying or hanging never fails a request; purge reaches Redis and, through
Redis pub/sub, the other instances' in-process stores."""

import os
import shutil
import signal
import subprocess
import time

import mockbackend as mb
from harness import check, eq, expected_home, free_port, http_get
from test_cache import TOKEN, cache_config, cache_status, calls, home, post_purge
from test_telemetry import scrape, scrape_until, value


class Redis:
    """A redis-server child on 127.0.0.1:port, no persistence."""

    def __init__(self, ctx, port=None):
        exe = shutil.which("redis-server")
        check(exe is not None, "redis-server is not installed (scripts/install-deps.sh installs it)")
        self.exe = exe
        self.port = port or free_port()
        self.dir = ctx.dir
        self.proc = None
        ctx.on_cleanup(self.stop)
        self.start()

    def start(self):
        log = open(os.path.join(self.dir, f"redis-{self.port}.log"), "ab")
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", self.dir],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def command(self, *args):
        """One RESP command over a fresh socket; returns the raw reply."""
        import socket
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        try:
            req = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
            s.sendall(req.encode())
            return s.recv(65536)
        finally:
            s.close()

    def ping(self):
        try:
            return self.command("PING").startswith(b"+PONG")
        except OSError:
            return False

    def clients(self):
        """connected_clients, not counting the connection asking."""
        info = self.command("INFO", "clients").decode()
        for line in info.split("\r\n"):
            if line.startswith("connected_clients:"):
                return int(line.split(":")[1]) - 1
        return 0

    def wait_clients(self, n, timeout=10):
        """Waits until at least n clients are connected (each medley
        connects once per worker, once for its admin thread and once for
        its purge subscriber)."""
        deadline = time.monotonic() + timeout
        while self.clients() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        check(self.clients() >= n, f"{self.clients()} Redis clients connected, expected {n}")

    def numsub(self, channel="medley:purge"):
        """Subscribers of channel (PUBSUB NUMSUB's count)."""
        return int(self.command("PUBSUB", "NUMSUB", channel).split(b"\r\n")[-2][1:])

    def wait_numsub(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while self.numsub() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(self.numsub(), n, "instances subscribed to medley:purge")

    def dbsize(self):
        return int(self.command("DBSIZE")[1:].strip())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


def redis_top(port):
    return (f'cache: {{ store: redis, purge_token: "{TOKEN}", '
            f'redis: {{ url: "redis://127.0.0.1:{port}", timeout: 100ms }} }}')


def second_medley(t, w, config):
    path = t.write_config(config, name="medley2.yaml")
    return t.start_medley(path, env=w.env)


def _wait_redis_up(w, user=1):
    """medley connects to Redis in the background (2 workers, the admin
    thread, the purge subscriber): wait for the connections, then warm news
    and events."""
    w.redis.wait_clients(4)
    home(w, user)
    deadline = time.monotonic() + 5
    while w.redis.dbsize() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    eq(w.redis.dbsize(), 3, "news, events and the card written to Redis")


def test_redis_shared_between_instances(t):
    redis = Redis(t)
    config = cache_config(top=redis_top(redis.port))
    w = t.world(config=config)
    w.redis = redis
    _wait_redis_up(w)
    base = calls(w)
    eq(home(w, 42).json(), expected_home(42), "instance A")
    eq(calls(w), (base[0], base[1], base[2] + 1), "A: news and events cached, user 42's card fetched")
    m2 = second_medley(t, w, config)
    redis.wait_clients(8)
    r = http_get(m2.port, "/home?user=42")
    eq(r.status, 200, "instance B status")
    eq(r.json(), expected_home(42), "instance B body")
    cs = cache_status(r)
    check("detail=redis" in cs.get("medley.vacation", ""), f"B's card came from Redis: {cs}")
    eq(w.hr.calls(), base[2] + 1, "B did not call hr for user 42")
    m2.stop()
    w.medley.stop()


def test_redis_down_never_fails_requests(t):
    redis = Redis(t)
    w = t.world(config=cache_config(news="{ ttl: 1s }", top=redis_top(redis.port)))
    w.redis = redis
    _wait_redis_up(w)
    redis.stop()
    for user in range(100, 120):
        eq(home(w, user).json(), expected_home(user), f"user {user} with Redis down")
    redis.start()
    time.sleep(6)  # the client's reconnect backoff is at most 5 s
    before = redis.dbsize()
    home(w, 500)
    deadline = time.monotonic() + 5
    while redis.dbsize() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    check(redis.dbsize() > before, "medley wrote to Redis again after it came back")
    w.medley.stop()


def test_redis_hanging_never_blocks_requests(t):
    redis = Redis(t)
    w = t.world(config=cache_config(top=redis_top(redis.port)))
    w.redis = redis
    _wait_redis_up(w)
    redis.pause()
    try:
        for user in range(200, 205):
            t0 = time.monotonic()
            eq(home(w, user).json(), expected_home(user), f"user {user} with Redis stopped")
            took = time.monotonic() - t0
            check(took < 2.0, f"a request took {took:.2f}s while Redis hung (timeout 100ms)")
    finally:
        redis.resume()
    w.medley.stop()


def test_redis_purge(t):
    redis = Redis(t)
    w = t.world(config=cache_config(top=redis_top(redis.port)))
    w.redis = redis
    _wait_redis_up(w, user=42)
    home(w, 7)
    deadline = time.monotonic() + 5
    while redis.dbsize() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    eq(redis.dbsize(), 4, "news, events, two cards in Redis")
    r = post_purge(w, "input=user&value=42")
    eq(r.status, 200, f"purge ({r.body!r})")
    eq(r.json(), {"purged": {"memory": 1, "redis": 1}}, "purge user 42 in both tiers")
    eq(redis.dbsize(), 3, "keys left in Redis")
    eq(post_purge(w, "all=true").json(), {"purged": {"memory": 3, "redis": 3}}, "purge all")
    eq(redis.dbsize(), 0, "Redis empty")
    redis.stop()
    r = post_purge(w, "all=true")
    eq(r.status, 502, "purge with Redis down says so")
    w.medley.stop()


def test_redis_purge_reaches_other_instances(t):
    redis = Redis(t)
    config = cache_config(top=redis_top(redis.port))
    w = t.world(config=config)
    w.redis = redis
    _wait_redis_up(w)
    m2 = second_medley(t, w, config)
    redis.wait_clients(8)
    redis.wait_numsub(2)
    home(w, 42)
    http_get(m2.port, "/home?user=42")  # B fills from Redis
    base = w.hr.calls()
    for name, get in (("A", lambda: home(w, 42)), ("B", lambda: http_get(m2.port, "/home?user=42"))):
        cs = cache_status(get())
        check(cs.get("medley.vacation", "").startswith("hit"), f"{name}'s card is an in-process hit: {cs}")
    eq(w.hr.calls(), base, "both instances warm: hr not called")

    redis.command("PUBLISH", "medley:purge", "garbage")
    redis.command("PUBLISH", "medley:purge", "v1 0123456789abcdef input 4:user 2:4")  # truncated
    time.sleep(0.2)
    cs = cache_status(http_get(m2.port, "/home?user=42"))
    check(cs.get("medley.vacation", "").startswith("hit"), f"malformed messages purge nothing: {cs}")

    r = post_purge(w, "input=user&value=42")
    eq(r.status, 200, f"purge on A ({r.body!r})")
    eq(r.json(), {"purged": {"memory": 1, "redis": 1}}, "A purged its store and Redis")
    t0 = time.monotonic()
    while True:
        r = http_get(m2.port, "/home?user=42")
        eq(r.status, 200, "B status after the purge")
        if w.hr.calls() > base:
            break
        check(time.monotonic() - t0 < 1.0, "B still served user 42 from memory 1 s after A's purge")
        time.sleep(0.02)
    eq(r.json(), expected_home(42), "B's body after the purge")
    cs = cache_status(r)
    check("miss" in cs.get("medley.vacation", ""), f"B's card was a miss: {cs}")
    eq(w.hr.calls(), base + 1, "B called hr once")

    # B counts what it received: the purge applied, the two bad messages
    # ignored; A skips its own announcement and counts nothing.
    def purge_counts(s):
        return (value(s, "medley_cache_purge_messages_total", result="applied"),
                value(s, "medley_cache_purge_messages_total", result="ignored"))
    scrape_until(m2, lambda s: purge_counts(s) == (1, 2), "B: 1 purge message applied, 2 ignored")
    scrape_until(w.medley, lambda s: purge_counts(s) == (0, 2), "A: its own message skipped, 2 ignored")
    time.sleep(1.1)  # one more tick: nothing else arrives
    eq(purge_counts(scrape(m2)), (1, 2), "B's counts stay")
    eq(purge_counts(scrape(w.medley)), (0, 2), "A's counts stay")
    m2.stop()
    w.medley.stop()
