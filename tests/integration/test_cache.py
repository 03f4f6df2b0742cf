"""Caching (issue 3) against the real binary and counting mock backends:
hits and misses, per-user isolation, TTL expiry, stale-while-revalidate,
stale-if-error, coalescing of concurrent misses, `ttl: upstream`, the
composed view cache, ETag/304, Cache-Control and Cache-Status, and purge on
the admin listener. The Redis tier has its own file (test_cache_redis.py)."""

import threading
import time

import mockbackend as mb
from harness import (LIMITS, assert_json_error, check, eq, expected_events, expected_home,
                     expected_news, http_get)

TOKEN = "purge-token-0123456789"


def cache_config(news="{ ttl: 30s }", events="{ ttl: 30s }", vacation="{ ttl: 30s }",
                 endpoint=None, top=f'cache: {{ purge_token: "{TOKEN}" }}', optional=True,
                 hr_timeout="1s", news_timeout="1s"):
    """home_config's /home with a cache block on each backend (None: not
    cached) and optionally on the endpoint."""
    def c(block):
        return f", cache: {block}" if block else ""
    ep = f"    cache: {endpoint}\n" if endpoint else ""
    opt = ", optional: true" if optional else ""
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
{top}
upstreams:
  news:   {{ url: "http://127.0.0.1:${{NEWS_PORT}}", timeout: {news_timeout} }}
  events: {{ url: "http://127.0.0.1:${{EVENTS_PORT}}", timeout: 1s }}
  hr:     {{ url: "http://127.0.0.1:${{HR_PORT}}", timeout: {hr_timeout} }}
endpoints:
  - path: /home
    method: GET
    errors_field: _errors
{ep}    params: {{ user: {{ in: query, type: integer, required: true }} }}
    backends:
      - {{ upstream: news, path: /news, shape: {{ from: items, sort: -published, limit: 5, select: [id, title, url, published] }}, as: news{c(news)} }}
      - {{ upstream: events, path: /events, shape: {{ from: events, sort: starts, limit: 5, select: [id, name, starts, location] }}, as: events{c(events)} }}
      - {{ name: vacation, upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }}, as: cards.vacation{opt}{c(vacation)} }}
"""


def cache_status(r):
    """{member name: parameter string} from the Cache-Status header."""
    out = {}
    for member in r.headers.get("cache-status", "").split(","):
        member = member.strip()
        if member:
            name, _, params = member.partition(";")
            out[name.strip()] = params.strip()
    return out


def home(w, user=42, headers=None):
    r = w.get(f"/home?user={user}", headers=headers)
    eq(r.status, 200, f"/home?user={user} status (body {r.body[:300]!r})")
    return r


def calls(w):
    return (w.news.calls("/news"), w.events.calls("/events"), w.hr.calls())


def post_purge(w, query, token=TOKEN):
    hdrs = {"Authorization": f"Bearer {token}"} if token else {}
    return http_get(w.medley.admin_port, f"/cache/purge?{query}", method="POST", headers=hdrs)


def test_cache_hit_after_miss(t):
    w = t.world(config=cache_config())
    r1 = home(w)
    eq(r1.json(), expected_home(42), "first body")
    eq(calls(w), (1, 1, 1), "backend calls after the first request")
    cs = cache_status(r1)
    check(cs.get("medley.news", "").startswith("fwd=miss"), f"first news Cache-Status: {cs}")
    check("stored" in cs.get("medley.news", ""), f"stored missing: {cs}")
    for _ in range(5):
        r = home(w)
        eq(r.json(), expected_home(42), "cached body")
    eq(calls(w), (1, 1, 1), "backend calls after 5 more requests")
    cs = cache_status(r)
    for name in ("medley.news", "medley.events", "medley.vacation"):
        check(cs.get(name, "").startswith("hit"), f"{name} not a hit: {cs}")
        ttl = int(cs[name].split("ttl=")[1].split(";")[0])
        check(25 <= ttl <= 30, f"{name} ttl {ttl} outside 25..30")
    w.medley.stop()


def test_cache_per_user_isolation(t):
    w = t.world(config=cache_config())
    eq(home(w, 42).json(), expected_home(42), "user 42")
    eq(home(w, 7).json(), expected_home(7), "user 7 (never 42's card)")
    eq(w.hr.calls(), 2, "hr calls: one per user")
    for _ in range(3):
        eq(home(w, 7).json()["cards"]["vacation"]["balance_days"], 27.5, "user 7 cached")
        eq(home(w, 42).json()["cards"]["vacation"]["balance_days"], 17.5, "user 42 cached")
    eq(calls(w), (1, 1, 2), "news/events shared, cards per user")
    w.medley.stop()


def test_cache_ttl_expiry(t):
    w = t.world(config=cache_config(news="{ ttl: 1s }"))
    home(w)
    home(w)
    eq(w.news.calls("/news"), 1, "news calls within the ttl")
    time.sleep(1.3)
    r = home(w)
    eq(w.news.calls("/news"), 2, "news calls after the ttl")
    check(cache_status(r).get("medley.news", "").startswith("fwd=miss"), f"after expiry: {cache_status(r)}")
    w.medley.stop()


def _changed_news():
    doc = mb.news_doc()
    for item in doc["items"]:
        item["title"] = "Changed " + item["title"]
    return doc


def test_cache_stale_while_revalidate(t):
    w = t.world(config=cache_config(news="{ ttl: 1s, stale_while_revalidate: 30s }", news_timeout="5s"))
    home(w)
    w.news.route("/news", mb.Reply.json(_changed_news(), delay_ms=1500))
    time.sleep(1.3)
    t0 = time.monotonic()
    r = home(w)
    took = time.monotonic() - t0
    eq(r.json()["news"], expected_news(), "the stale copy is served")
    cs = cache_status(r).get("medley.news", "")
    check(cs.startswith("hit") and "stale-while-revalidate" in cs, f"stale hit: {cs}")
    check(took < 1.0, f"a stale hit waited for the refresh ({took:.3f}s, refresh takes 1.5 s)")
    deadline = time.monotonic() + 5
    while w.news.calls("/news") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    eq(w.news.calls("/news"), 2, "one background refresh")
    time.sleep(1.8)  # the refresh answers after 1.5 s
    r = home(w)
    check(r.json()["news"][0]["title"].startswith("Changed "), f"refreshed copy: {r.json()['news'][0]}")
    check(cache_status(r).get("medley.news", "").startswith("hit;"), f"after refresh: {cache_status(r)}")
    eq(w.news.calls("/news"), 2, "no further calls")
    w.medley.stop()


def test_cache_stale_if_error(t):
    w = t.world(config=cache_config(news="{ ttl: 1s, stale_if_error: 1m }", events="{ ttl: 1s }"))
    home(w)
    w.news.route("/news", mb.Reply.with_status(503))
    w.events.route("/events", mb.Reply.with_status(503))
    time.sleep(1.3)
    r = w.get("/home?user=42")
    # news has a stale-if-error window, events does not: events fails the request.
    assert_json_error(r, 502, "backend_failed")
    w.events.route("/events", mb.Reply.json(mb.events_doc()))
    r = home(w)
    eq(r.json()["news"], expected_news(), "stale news served while the backend fails")
    cs = cache_status(r).get("medley.news", "")
    check("stale-if-error" in cs, f"news Cache-Status: {cs}")
    eq(r.headers.get("cache-control"), "no-cache", "Cache-Control with a part not freshly cached")
    w.medley.stop()


def test_cache_coalesces_concurrent_misses(t):
    w = t.world(config=cache_config(vacation=None))
    w.news.route("/news", mb.Reply.json(mb.news_doc(), delay_ms=400))
    results = [None] * 50
    statuses = [None] * 50
    barrier = threading.Barrier(50)

    def one(i):
        barrier.wait()
        r = w.get("/home?user=42", timeout=10)
        results[i] = r.status
        statuses[i] = cache_status(r).get("medley.news", "")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(15)
    eq(results, [200] * 50, "every request answered 200")
    eq(w.news.calls("/news"), 1, "news calls for 50 concurrent cold requests")
    collapsed = sum(1 for s in statuses if "collapsed" in s)
    check(collapsed >= 1, f"no request reported collapsed: {statuses}")
    eq(w.hr.calls(), 50, "the uncached vacation card is called per request")
    w.medley.stop()


def test_cache_etag_and_304(t):
    w = t.world(config=cache_config())
    r = home(w)
    etag = r.headers.get("etag", "")
    check(len(etag) == 18 and etag.startswith('"') and etag.endswith('"'), f"ETag {etag!r}")
    r2 = w.get("/home?user=42", headers={"If-None-Match": etag})
    eq(r2.status, 304, "If-None-Match with the current ETag")
    eq(r2.body, b"", "304 body")
    eq(r2.headers.get("etag"), etag, "304 ETag")
    r3 = w.get("/home?user=42", headers={"If-None-Match": 'W/"nope", ' + etag})
    eq(r3.status, 304, "a list containing the ETag (weak comparison)")
    r4 = w.get("/home?user=42", headers={"If-None-Match": '"0000000000000000"'})
    eq(r4.status, 200, "another ETag")
    check(home(w, 7).headers.get("etag") != etag, "user 7's document has another ETag")
    w.medley.stop()


def test_cache_control_from_parts(t):
    w = t.world(config=cache_config(news="{ ttl: 30s }", events="{ ttl: 10s }", vacation="{ ttl: 20s }"))
    r = home(w)
    cc = r.headers.get("cache-control", "")
    check(cc.startswith("public, max-age="), f"Cache-Control {cc!r}")
    age = int(cc.split("max-age=")[1])
    check(8 <= age <= 10, f"max-age {age}: the least fresh part has 10 s")
    w.hr.route("/employees/*/vacation", mb.Reply.with_status(500))
    r = w.get("/home?user=7")
    eq(r.status, 200, "incomplete answer")
    eq(r.headers.get("cache-control"), "no-store", "Cache-Control of an incomplete answer")
    check("etag" not in r.headers, "no ETag on an incomplete answer")
    w.medley.stop()


def test_cache_vary_header_is_private(t):
    w = t.world(config=cache_config(news="{ ttl: 30s, vary: [header.Accept-Language] }"))
    r = home(w, headers={"Accept-Language": "fr"})
    check(r.headers.get("cache-control", "").startswith("private, max-age="),
          f"Cache-Control {r.headers.get('cache-control')!r}")
    home(w, headers={"Accept-Language": "fr"})
    eq(w.news.calls("/news"), 1, "same language: one news call")
    home(w, headers={"Accept-Language": "de"})
    eq(w.news.calls("/news"), 2, "another language: its own entry")
    w.medley.stop()


def test_cache_ttl_upstream(t):
    w = t.world(config=cache_config(news="{ ttl: upstream }", events="{ ttl: upstream }",
                                    vacation="{ ttl: upstream }"))
    w.news.route("/news", mb.Reply.json(mb.news_doc(), headers=[("Cache-Control", "public, max-age=60")]))
    w.events.route("/events", mb.Reply.json(mb.events_doc(), headers=[("Cache-Control", "no-store")]))
    w.hr.route("/employees/*/vacation",
               lambda req: mb.Reply.json(mb.vacation_doc(int(req.target.split("/")[2])),
                                         headers=[("Cache-Control", "private, max-age=60")]))
    for _ in range(3):
        eq(home(w).json(), expected_home(42), "body")
    eq(calls(w), (1, 3, 3), "max-age cached; no-store and private not")
    w.medley.stop()


def test_cache_endpoint_view(t):
    w = t.world(config=cache_config(news=None, events=None, vacation=None, endpoint="{ ttl: 30s }"))
    r1 = home(w)
    r2 = home(w)
    eq(r2.json(), expected_home(42), "cached view")
    eq(calls(w), (1, 1, 1), "backend calls for two requests")
    cs = cache_status(r2)
    check(cs.get("medley", "").startswith("hit"), f"view Cache-Status: {cs}")
    eq(r2.headers.get("etag"), r1.headers.get("etag"), "same ETag from the cache")
    eq(home(w, 7).json(), expected_home(7), "another user's view")
    eq(w.hr.calls(), 2, "user 7 composed anew")
    r = w.get("/home?user=42", headers={"If-None-Match": r1.headers["etag"]})
    eq(r.status, 304, "304 from the cached view")
    w.medley.stop()


def test_cache_purge(t):
    w = t.world(config=cache_config())
    home(w, 42)
    home(w, 7)
    eq(calls(w), (1, 1, 2), "warm")
    r = post_purge(w, "backend=news")
    eq(r.status, 200, f"purge status ({r.body!r})")
    eq(r.json(), {"purged": {"memory": 1}}, "purge by backend")
    home(w, 42)
    eq(calls(w), (2, 1, 2), "news refetched, the rest cached")
    eq(post_purge(w, "input=user&value=42").json(), {"purged": {"memory": 1}}, "purge user 42")
    home(w, 42)
    home(w, 7)
    eq(calls(w), (2, 1, 3), "only user 42's card refetched")
    eq(post_purge(w, "endpoint=/home").json(), {"purged": {"memory": 4}}, "purge the endpoint")
    eq(post_purge(w, "all=true").json(), {"purged": {"memory": 0}}, "nothing left")
    assert_json_error(post_purge(w, "backend=news", token=None), 401, "unauthorized")
    assert_json_error(post_purge(w, "backend=news", token="wrong-token-0123456789"), 401)
    assert_json_error(post_purge(w, "backend=news&all=true"), 400, "bad_selector")
    assert_json_error(post_purge(w, ""), 400, "bad_selector")
    r = http_get(w.medley.admin_port, "/cache/purge?all=true", headers={"Authorization": f"Bearer {TOKEN}"})
    assert_json_error(r, 405)
    check(TOKEN not in w.medley.stderr() + w.medley.stdout(), "the purge token was logged")
    w.medley.stop()


def test_cache_purge_disabled_without_token(t):
    w = t.world(config=cache_config(top=""))
    assert_json_error(post_purge(w, "all=true"), 403, "purge_disabled")
    w.medley.stop()


def test_cache_uncached_backends_unchanged(t):
    """Without any cache block: every request calls every backend, no
    Cache-Status or Cache-Control, but an ETag."""
    w = t.world(config=cache_config(news=None, events=None, vacation=None, top=""))
    for _ in range(3):
        r = home(w)
    eq(calls(w), (3, 3, 3), "no caching")
    check("cache-status" not in r.headers and "cache-control" not in r.headers, f"headers {r.headers}")
    check(r.headers.get("etag"), "ETag on a complete composed answer")
    eq(r.json()["events"], expected_events(), "events")
    w.medley.stop()


def test_cache_metrics_and_access_log(t):
    """Cache outcomes are counted per backend; only real backend calls count
    as backend calls; the access log names each part's cache outcome."""
    import os
    from test_telemetry import read_log, scrape_until, value
    log_path = os.path.join(t.dir, "access.log")
    w = t.world(config=cache_config() + f"access_log: {{ path: {log_path} }}\n")
    for _ in range(3):
        home(w, 42)
    home(w, 7)

    def lookups(s, backend, outcome):
        return value(s, "medley_cache_lookups_total", endpoint="/home", backend=backend, outcome=outcome)

    s = scrape_until(w.medley, lambda s: lookups(s, "vacation", "hit") == 2, "4 requests' cache outcomes")
    eq(lookups(s, "news", "miss"), 1, "news misses")
    eq(lookups(s, "news", "hit"), 3, "news hits")
    eq(lookups(s, "vacation", "miss"), 2, "vacation misses")
    eq(value(s, "medley_backend_calls_total", endpoint="/home", backend="news", outcome="ok"), 1,
       "news backend calls (hits are not calls)")
    eq(value(s, "medley_backend_calls_total", endpoint="/home", backend="vacation", outcome="ok"), 2,
       "vacation backend calls")
    # Gauges are refreshed by each worker's own 1 s tick: wait for all of them.
    s = scrape_until(w.medley, lambda s: value(s, "medley_cache_entries") == 4 and
                     value(s, "medley_upstream_requests_total", upstream="news") == 1 and
                     value(s, "medley_upstream_requests_total", upstream="hr") == 2,
                     "4 entries, 1 news and 2 hr requests (1 s refresh)", timeout=5.0)
    check(value(s, "medley_cache_bytes") > 0, "medley_cache_bytes")
    w.medley.stop()
    _, lines = read_log(log_path)
    eq(len(lines), 4, "log lines")
    # Two workers write their own batches: count, do not rely on order.
    seen = {}
    for line in lines:
        for part in line["backends"]:
            key = (part["name"], part.get("cache"))
            seen[key] = seen.get(key, 0) + 1
    eq(seen, {("news", "miss"): 1, ("news", "hit"): 3, ("events", "miss"): 1, ("events", "hit"): 3,
              ("vacation", "miss"): 2, ("vacation", "hit"): 2}, "parts by cache outcome in the log")
