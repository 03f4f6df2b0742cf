"""Rate limits and CORS end to end (src/gateway/guard.c): 429 with
Retry-After and RateLimit-* once a bucket is empty, separate buckets per
key, recovery after Retry-After seconds; CORS preflights answered by medley
(204 or 403), CORS headers on actual answers (errors included), and none at
all without a `cors:` block.

Expected values are worked out by hand from the configured rate and burst
(docs/security.md explains the arithmetic)."""

import math
import time

import mockbackend as mb
from harness import LIMITS, assert_json_error, check, eq, http_get

APPS = "https://apps.powerapps.com"
MAKE = "https://make.powerapps.com"

CORS = f"""\
cors:
  allow_origins: [ "{APPS}", "{MAKE}" ]
  allow_methods: [ GET ]
  allow_headers: [ Authorization, Content-Type ]
  expose_headers: [ Server-Timing, Cache-Status, X-Medley-Incomplete ]
  allow_credentials: false
  max_age: 10m
"""

# slow: 1 token per 3 s, burst 2. keyed: 1 per minute, burst 2, by X-Api-Key
# (slow enough that no token comes back during the test, even under valgrind).
LIMITS_BLOCK = """\
rate_limits:
  slow:  { rate: 1/3s, burst: 2, key: client }
  keyed: { rate: 1/1m, burst: 2, key: header.X-Api-Key }
"""


def _config(cors=True):
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  news: {{ url: "http://127.0.0.1:${{NEWS_PORT}}", timeout: 2s }}
{CORS if cors else ""}{LIMITS_BLOCK}
endpoints:
  - path: /news
    passthrough: {{ upstream: news, path: /news }}
  - path: /slow
    rate_limit: slow
    passthrough: {{ upstream: news, path: /news }}
  - path: /keyed
    rate_limit: [ keyed ]
    passthrough: {{ upstream: news, path: /news }}
  - path: /feed
    backends: [ {{ upstream: news, path: /news, shape: {{ from: items, select: [id] }}, as: news }} ]
  - path: /private
    cors: off
    passthrough: {{ upstream: news, path: /news }}
"""


def _start(t, cors=True):
    news = t.mock("news")
    news.route("/news", mb.Reply.json(mb.news_doc()))
    path = t.write_config(_config(cors))
    m = t.start_medley(path, env={"NEWS_PORT": str(news.port)})
    return m, news


def _preflight(port, path, origin=APPS, method="GET", headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return http_get(port, path, method="OPTIONS", headers=h)


def _no_cors(r, what):
    for name in ("access-control-allow-origin", "access-control-allow-methods",
                 "access-control-allow-headers", "access-control-expose-headers",
                 "access-control-max-age", "access-control-allow-credentials"):
        check(name not in r.headers, f"{what}: unexpected {name}: {r.headers.get(name)!r}")


def _vary_origin(r, what):
    vary = [v.strip().lower() for v in r.headers.get("vary", "").split(",")]
    check("origin" in vary, f"{what}: Vary does not name Origin: {r.headers.get('vary')!r}")


# ---- rate limits -------------------------------------------------------------

def test_rate_limit_429_retry_after_and_recovery(t):
    """burst 2: requests 1 and 2 pass, the 3rd is refused. One token comes
    back every 3000 ms, so Retry-After is ceil((3000 - elapsed) / 1000)
    seconds: 3 while less than 1 s has passed since the first request.
    RateLimit-Reset is the time until the bucket is full again:
    ceil((6000 - elapsed) / 1000) = 6. After Retry-After seconds a
    request passes again."""
    m, news = _start(t)
    t0 = time.monotonic()
    r1 = http_get(m.port, "/slow")
    eq(r1.status, 200, "1st request")
    eq(r1.headers.get("ratelimit-limit"), "2", "RateLimit-Limit")
    eq(r1.headers.get("ratelimit-remaining"), "1", "RateLimit-Remaining after 1")
    r2 = http_get(m.port, "/slow")
    eq(r2.status, 200, "2nd request")
    eq(r2.headers.get("ratelimit-remaining"), "0", "RateLimit-Remaining after 2")
    r3 = http_get(m.port, "/slow")
    elapsed_ms = (time.monotonic() - t0) * 1000
    err = assert_json_error(r3, 429, "rate_limited")
    eq(err.get("limit"), "slow", "error.limit")
    if elapsed_ms < 1000:
        eq(r3.headers.get("retry-after"), "3", "Retry-After")
        eq(r3.headers.get("ratelimit-reset"), "6", "RateLimit-Reset")
    else:  # a slow run (valgrind): the bucket refilled for up to elapsed_ms
        lo = math.ceil((3000 - elapsed_ms) / 1000)
        ra = int(r3.headers.get("retry-after", "-1"))
        check(max(lo, 1) <= ra <= 3, f"Retry-After {ra} not in [{max(lo, 1)}, 3]")
    eq(r3.headers.get("ratelimit-remaining"), "0", "RateLimit-Remaining on 429")
    eq(news.calls(), 2, "backend calls: the 429 must not reach the backend")
    time.sleep(int(r3.headers["retry-after"]))
    eq(http_get(m.port, "/slow").status, 200, "after waiting Retry-After seconds")
    eq(news.calls(), 3, "backend calls after recovery")
    # An endpoint without a limit is not affected and sends no RateLimit-*.
    r = http_get(m.port, "/news")
    eq(r.status, 200, "/news without a limit")
    check("ratelimit-limit" not in r.headers, "RateLimit-Limit on an unlimited endpoint")
    m.stop()


def test_rate_limit_separate_buckets_per_header(t):
    """key: header.X-Api-Key, burst 2 (1 token per minute): each key gets
    its own 2; requests without the header share the client address's.
    Retry-After is ceil((60000 - elapsed) / 1000): 60 within the first
    second after the key's first request."""
    m, _ = _start(t)
    for key in ("alpha", "beta"):
        t0 = time.monotonic()
        for i in range(2):
            r = http_get(m.port, "/keyed", headers={"X-Api-Key": key})
            eq(r.status, 200, f"{key} request {i + 1}")
        r = http_get(m.port, "/keyed", headers={"X-Api-Key": key})
        elapsed_ms = (time.monotonic() - t0) * 1000
        assert_json_error(r, 429, "rate_limited")
        ra = int(r.headers.get("retry-after", "-1"))
        lo = 60 if elapsed_ms < 1000 else math.ceil((60000 - elapsed_ms) / 1000)
        check(lo <= ra <= 60, f"Retry-After for {key}: {ra}, expected {lo}..60")
    # No header: the client address's bucket, still full.
    eq(http_get(m.port, "/keyed").status, 200, "no key, request 1")
    eq(http_get(m.port, "/keyed").status, 200, "no key, request 2")
    assert_json_error(http_get(m.port, "/keyed"), 429, "rate_limited")
    # A third key is unaffected by all of the above.
    eq(http_get(m.port, "/keyed", headers={"X-Api-Key": "gamma"}).status, 200, "gamma")
    m.stop()


# ---- CORS ----------------------------------------------------------------------

def test_cors_preflight_allowed(t):
    m, news = _start(t)
    r = _preflight(m.port, "/news", headers="authorization, Content-Type")
    eq(r.status, 204, f"preflight status (body {r.body[:200]!r})")
    eq(r.headers.get("access-control-allow-origin"), APPS, "Allow-Origin")
    methods = [x.strip() for x in r.headers.get("access-control-allow-methods", "").split(",")]
    check("GET" in methods, f"Allow-Methods lacks GET: {methods}")
    allowed = [x.strip().lower() for x in r.headers.get("access-control-allow-headers", "").split(",")]
    check("authorization" in allowed and "content-type" in allowed, f"Allow-Headers: {allowed}")
    eq(r.headers.get("access-control-max-age"), "600", "Max-Age (10m)")
    check("access-control-allow-credentials" not in r.headers, "credentials are off")
    _vary_origin(r, "preflight")
    # The other listed origin gets its own value back.
    eq(_preflight(m.port, "/news", origin=MAKE).headers.get("access-control-allow-origin"), MAKE,
       "Allow-Origin for the second origin")
    eq(news.calls(), 0, "a preflight never reaches the backend")
    m.stop()


def test_cors_preflight_refused(t):
    m, news = _start(t)
    r = _preflight(m.port, "/news", origin="https://evil.example")
    assert_json_error(r, 403, "cors_refused")
    _no_cors(r, "unlisted origin")
    r = _preflight(m.port, "/news", method="DELETE")
    assert_json_error(r, 403, "cors_refused")
    _no_cors(r, "method not allowed")
    r = _preflight(m.port, "/news", headers="X-Secret")
    assert_json_error(r, 403, "cors_refused")
    _no_cors(r, "header not allowed")
    # `cors: off` on the endpoint: no preflight answer, routing's 405.
    r = _preflight(m.port, "/private")
    assert_json_error(r, 405, "method_not_allowed")
    _no_cors(r, "cors: off endpoint")
    # No endpoint on the path: 404.
    assert_json_error(_preflight(m.port, "/nowhere"), 404, "not_found")
    eq(news.calls(), 0, "refused preflights never reach the backend")
    m.stop()


def test_cors_actual_requests(t):
    m, _ = _start(t)
    r = http_get(m.port, "/news", headers={"Origin": APPS})
    eq(r.status, 200, "GET with Origin")
    eq(r.headers.get("access-control-allow-origin"), APPS, "Allow-Origin on GET")
    _vary_origin(r, "GET with Origin")
    exposed = [x.strip().lower() for x in r.headers.get("access-control-expose-headers", "").split(",")]
    for h in ("server-timing", "cache-status", "x-medley-incomplete"):
        check(h in exposed, f"Expose-Headers lacks {h}: {exposed}")
    eq(r.json(), mb.news_doc(), "body")
    # A composed answer (compose.c, not streamed) carries them as well.
    r = http_get(m.port, "/feed", headers={"Origin": MAKE})
    eq(r.status, 200, "composite GET with Origin")
    eq(r.headers.get("access-control-allow-origin"), MAKE, "Allow-Origin on a composed answer")
    eq(r.json(), {"news": [{"id": a["id"]} for a in mb.news_doc()["items"]]}, "composed body")
    # Unlisted origin: served, but without Allow-Origin (the browser hides it).
    r = http_get(m.port, "/news", headers={"Origin": "https://evil.example"})
    eq(r.status, 200, "GET with an unlisted Origin")
    check("access-control-allow-origin" not in r.headers, "Allow-Origin for an unlisted origin")
    _vary_origin(r, "unlisted origin")
    # Errors carry the headers too, so that scripts can read them.
    r = http_get(m.port, "/nowhere", headers={"Origin": APPS})
    assert_json_error(r, 404, "not_found")
    eq(r.headers.get("access-control-allow-origin"), APPS, "Allow-Origin on a 404")
    for _ in range(2):
        http_get(m.port, "/slow", headers={"Origin": APPS})
    r = http_get(m.port, "/slow", headers={"Origin": APPS})
    assert_json_error(r, 429, "rate_limited")
    eq(r.headers.get("access-control-allow-origin"), APPS, "Allow-Origin on a 429")
    # `cors: off`: nothing.
    r = http_get(m.port, "/private", headers={"Origin": APPS})
    eq(r.status, 200, "cors: off endpoint")
    _no_cors(r, "cors: off endpoint")
    m.stop()


def test_no_cors_block_no_headers(t):
    m, _ = _start(t, cors=False)
    r = http_get(m.port, "/news", headers={"Origin": APPS})
    eq(r.status, 200, "GET with Origin, no cors block")
    _no_cors(r, "no cors block")
    check("origin" not in r.headers.get("vary", "").lower(), f"Vary: {r.headers.get('vary')!r}")
    r = _preflight(m.port, "/news")
    assert_json_error(r, 405, "method_not_allowed")
    _no_cors(r, "preflight without a cors block")
    m.stop()
