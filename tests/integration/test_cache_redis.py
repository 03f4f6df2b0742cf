"""The Redis tier (issue 3): two medley instances share fragments through a
real redis-server that this test starts on a free loopback port; Redis
dying or hanging never fails a request; purge reaches Redis."""

import os
import shutil
import signal
import subprocess
import time

import mockbackend as mb
from harness import check, eq, expected_home, free_port, http_get
from test_cache import TOKEN, cache_config, cache_status, calls, home, post_purge


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
        connects once per worker and once for its admin thread)."""
        deadline = time.monotonic() + timeout
        while self.clients() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        check(self.clients() >= n, f"{self.clients()} Redis clients connected, expected {n}")

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
    """medley connects to Redis in the background (2 workers + the admin
    thread): wait for the connections, then warm news and events."""
    w.redis.wait_clients(3)
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
    redis.wait_clients(6)
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
