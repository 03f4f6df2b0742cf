"""Rate limits shared in Redis (issue 6, `rate_limits.NAME.store: redis`):
two medley processes share one bucket per key through a real redis-server
that this test starts on a free loopback port; Redis dying or hanging never
fails or stalls a request (each instance falls back to its own bucket, and
counts it); a client leaving while Redis is slow leaves nothing behind; the
429 counters in /metrics are exact.

Expected values are worked out by hand from the configured rate and burst
(docs/security.md explains the arithmetic): `shared` is 5 per minute with a
burst of 5, one token every 12 s, so nothing comes back during a test."""

import base64
import os
import time

import mockbackend as mb
from harness import LIMITS, RawConn, assert_json_error, check, eq, http_get
from test_auth import crypt_hash
from test_cache_redis import Redis
from test_telemetry import scrape_until, value

PASSWORD = "correct horse battery"


def _config(redis_port, users_file):
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  news: {{ url: "http://127.0.0.1:${{NEWS_PORT}}", timeout: 2s }}
cache: {{ redis: {{ url: "redis://127.0.0.1:{redis_port}", timeout: 100ms }} }}
auth:
  providers:
    staff: {{ type: basic, file: "{users_file}", realm: staff }}
rate_limits:
  shared: {{ rate: 5/1m, key: client, store: redis }}
  roomy:  {{ rate: 100/1m, key: client }}
  per_user: {{ rate: 2/1m, key: auth, store: redis }}
endpoints:
  - path: /news
    rate_limit: [ roomy, shared ]
    passthrough: {{ upstream: news, path: /news }}
  - path: /staff
    auth: staff
    rate_limit: per_user
    passthrough: {{ upstream: news, path: /news }}
"""


class Setup:
    """redis-server, the news mock and medley A (and B when asked), each
    with its two worker connections to Redis up."""

    def __init__(self, t, instances=2):
        self.redis = Redis(t)
        self.news = t.mock("news")
        self.news.route("/news", mb.Reply.json(mb.news_doc()))
        users = os.path.join(t.dir, "users")
        with open(users, "w") as f:
            f.write(f"alice:{crypt_hash(PASSWORD)}\n")
        path = t.write_config(_config(self.redis.port, users))
        env = {"NEWS_PORT": str(self.news.port)}
        self.medleys = [t.start_medley(path, env=env) for _ in range(instances)]
        self.redis.wait_clients(2 * instances)
        time.sleep(0.3)  # the PING that makes each connection usable

    def get(self, i, path="/news", **kw):
        return http_get(self.medleys[i].port, path, **kw)


def _limited(m, n, limit="shared", endpoint="/news", redis_ok=None, fallback=None):
    """Waits until m's /metrics shows exactly these counts."""
    def cond(s):
        ok = value(s, "medley_rate_limited_total", endpoint=endpoint, limit=limit) == n
        if redis_ok is not None:
            ok = ok and value(s, "medley_rate_limit_redis_total", outcome="ok") == redis_ok
        if fallback is not None:
            ok = ok and value(s, "medley_rate_limit_redis_total", outcome="fallback") == fallback
        return ok
    return scrape_until(m, cond, f"{limit}@{endpoint} 429s={n} ok={redis_ok} fallback={fallback}")


def _remaining(r):
    return int(r.headers["ratelimit-remaining"])


def test_two_instances_share_one_bucket(t):
    s = Setup(t)
    a, b = 0, 1
    seen = []
    for i in (a, a, a, b, b):
        r = s.get(i)
        eq(r.status, 200, f"request {len(seen) + 1} (to {'AB'[i]})")
        eq(r.headers.get("ratelimit-limit"), "5", "RateLimit-Limit is the burst")
        seen.append(_remaining(r))
    # roomy (100, in memory) has more left than shared: shared is the tightest.
    eq(seen, [4, 3, 2, 1, 0], "tokens left in the one shared bucket")
    r = s.get(b)
    err = assert_json_error(r, 429, "rate_limited")
    eq(err.get("limit"), "shared", "the limit that refused")
    retry = int(r.headers["retry-after"])
    check(10 <= retry <= 12, f"Retry-After {retry}: a token every 12 s")
    eq(r.headers.get("ratelimit-remaining"), "0", "nothing left")
    eq(assert_json_error(s.get(a), 429, "rate_limited").get("limit"), "shared", "A is out too")
    eq(s.news.calls(), 5, "the refused requests never reached the backend")
    # Each instance counts its own 429s and Redis decisions, exactly.
    _limited(s.medleys[a], 1, redis_ok=4, fallback=0)
    _limited(s.medleys[b], 1, redis_ok=3, fallback=0)
    # The bucket, under the documented key, expires when full again.
    pttl = int(s.redis.command("PTTL", "medley:rl:shared:@127.0.0.1")[1:].strip())
    check(50000 < pttl <= 60000, f"PTTL {pttl}: full again in one minute (5 tokens x 12 s)")
    for m in s.medleys:
        m.stop()


def test_limit_keyed_by_identity_after_basic_auth(t):
    s = Setup(t)
    auth = {"Authorization": "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()}
    eq(s.get(0, "/staff", headers=auth).status, 200, "alice on A")
    eq(s.get(1, "/staff", headers=auth).status, 200, "alice on B")
    r = s.get(0, "/staff", headers=auth)
    eq(assert_json_error(r, 429, "rate_limited").get("limit"), "per_user", "alice's third request")
    bad = {"Authorization": "Basic " + base64.b64encode(b"alice:wrong").decode()}
    eq(s.get(1, "/staff", headers=bad).status, 401, "a wrong password spends no token")
    _limited(s.medleys[0], 1, limit="per_user", endpoint="/staff", redis_ok=2, fallback=0)
    _limited(s.medleys[1], 0, limit="per_user", endpoint="/staff", redis_ok=1, fallback=0)
    for m in s.medleys:
        m.stop()


def test_redis_down_falls_back_to_local_buckets(t):
    s = Setup(t)
    eq(s.get(0).status, 200, "one request through Redis")
    s.redis.stop()
    for i in (0, 1):
        statuses = []
        for _ in range(6):
            t0 = time.monotonic()
            r = s.get(i)
            took = time.monotonic() - t0
            check(took < 1.0, f"a request took {took:.2f}s with Redis down (timeout 100ms)")
            statuses.append(r.status)
            if r.status == 429:
                check("retry-after" in r.headers, "a local 429 has Retry-After too")
        # Each instance now limits on its own, with a fresh local bucket.
        eq(statuses, [200] * 5 + [429], f"instance {'AB'[i]} alone")
    _limited(s.medleys[0], 1, redis_ok=1, fallback=6)
    _limited(s.medleys[1], 1, redis_ok=0, fallback=6)
    for m in s.medleys:
        m.stop()


def test_redis_hanging_never_stalls_a_request(t):
    s = Setup(t, instances=1)
    s.redis.pause()
    try:
        for n in range(3):
            t0 = time.monotonic()
            r = s.get(0)
            took = time.monotonic() - t0
            eq(r.status, 200, f"request {n + 1} with Redis stopped")
            check(took < 1.0, f"a request took {took:.2f}s while Redis hung (timeout 100ms)")
    finally:
        s.redis.resume()
    _limited(s.medleys[0], 0, fallback=3)
    s.medleys[0].stop()


def test_client_leaving_while_redis_is_slow(t):
    s = Setup(t, instances=1)
    s.redis.pause()
    try:
        for _ in range(4):
            c = RawConn(s.medleys[0].port)
            c.send(b"GET /news HTTP/1.1\r\nHost: x\r\n\r\n")
            c.close()  # gone before Redis answers: the call is cancelled
        time.sleep(0.5)
    finally:
        s.redis.resume()
    # Every call of the leavers ended without touching a finished request
    # (the sanitizer run checks). Reconnected (the backoff is at most 5 s),
    # Redis decides again.
    time.sleep(6)
    eq(s.get(0).status, 200, "after the pause")
    _limited(s.medleys[0], 0, redis_ok=1)
    s.medleys[0].stop()
