"""Credentials fetched in the background and refreshed early (issue 6):
a jwt provider's `jwks_url` served by a mock (fetched at start, fetched
again when a token names an unknown kid, at most one forced fetch per 10 s,
503 auth_unavailable while no keys ever arrived, old keys kept when the
served JWKS breaks), and an OAuth2 token fetched again when a backend
answers 401 to it (at most once per 10 s). Keys and tokens are made at test
time with the openssl CLI through test_auth's helpers; every count is taken
at the mocks, and the fetch counters on /metrics (admin listener) must
show exactly what the mocks counted."""

import threading
import time

import mockbackend as mb
import test_auth as ta
from harness import LIMITS, RawConn, assert_json_error, check, eq, http_get
from test_telemetry import scrape, value

JWKS_PATH = "/tenant-1/discovery/v2.0/keys"
GARBAGE = b'{"keys": [{"kty": "RSA", "kid": "GARBAGE-MARKER-7f3c", "n": "AQAB", "e": "AQAB"}]}'


class JwksServer:
    """The issuer's JWKS endpoint: `mode` ok (the current `keys`), down
    (connection reset), garbage (a JWKS md_jwks_parse refuses), 500 or
    hang (no answer for 6 s)."""

    def __init__(self, t, keys, delay_ms=0):
        self.mock = t.mock("jwks")
        self.keys = list(keys)
        self.mode = "ok"
        self.delay_ms = delay_ms
        self.mock.route(JWKS_PATH, self)

    def __call__(self, req):
        if self.mode == "down":
            return mb.Reply.reset()
        if self.mode == "garbage":
            return mb.Reply("json", GARBAGE, delay_ms=self.delay_ms)
        if self.mode == "500":
            return mb.Reply.with_status(500, delay_ms=self.delay_ms)
        if self.mode == "hang":
            return mb.Reply.hang(6.0)
        return mb.Reply.json({"keys": [k.jwk for k in self.keys]}, delay_ms=self.delay_ms)

    def fetches(self):
        return self.mock.calls(JWKS_PATH)


def jwks_config(timeout="1s", limits=LIMITS):
    return f"""\
listen: 127.0.0.1:0
workers: 2
{limits}
upstreams:
  hr: {{ url: "http://127.0.0.1:${{HR_PORT}}", timeout: 2s }}
auth:
  providers:
    idp:
      type: jwt
      issuer: "{ta.ISSUER}"
      audience: "{ta.AUDIENCE}"
      algs: [ RS256 ]
      jwks_url: "http://127.0.0.1:${{JWKS_PORT}}{JWKS_PATH}"
      jwks_timeout: {timeout}
endpoints:
  - path: /me/vacation
    auth: idp
    backends:
      - {{ name: vacation, upstream: hr, path: "/employees/{{jwt.oid}}/vacation", shape: {{ select: [balance_days] }} }}
"""


class JwksWorld:
    def __init__(self, t, mode="ok", delay_ms=0, config=None):
        self.t = t
        self.hr = t.mock("hr")
        self.hr.route("/employees/*/vacation", mb.vacation_route)
        self.k1 = ta.Key(t.dir, "k1")
        self.jwks = JwksServer(t, [self.k1], delay_ms)
        self.jwks.mode = mode
        env = {"HR_PORT": str(self.hr.port), "JWKS_PORT": str(self.jwks.mock.port)}
        self.medley = t.start_medley(t.write_config(config or jwks_config()), env=env)

    def get(self, tok):
        return http_get(self.medley.port, "/me/vacation", headers=ta.bearer(tok))

    def warm(self):
        """One k1 request: once it is answered the start-up fetch is in
        (medley may accept before its workers serve), so a test may change
        what the JWKS server serves without racing that fetch."""
        expect_card(self.get(ta.token(self.k1, ta.claims("1"))), 1, "k1 request after start")
        eq(self.jwks.fetches(), 1, "JWKS fetches after start")


def expect_card(r, oid, what):
    eq(r.status, 200, f"{what} (body {r.body[:200]!r})")
    eq(r.json(), {"balance_days": ta.balance(int(oid))}, f"{what}: the card of oid {oid}")


def expect_metrics(m, want, what, within=3.0):
    """/metrics shows exactly `want`, [(name, labels, value)]. medley copies
    these process-wide counters into the metrics once a second, so scrape
    until all of them are in (or the time is up), then compare them all."""
    wanted = [v for _, _, v in want]
    deadline = time.monotonic() + within
    while True:
        series = scrape(m)
        got = [value(series, name, **labels) for name, labels, _ in want]
        if got == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    eq(got, wanted, f"{what}: {[f'{name}{labels}' for name, labels, _ in want]}")
    return series


def jwks_series(ok, failed, forced, keys):
    p = {"provider": "idp"}
    return [("medley_jwks_fetches_total", {**p, "result": "ok"}, ok),
            ("medley_jwks_fetches_total", {**p, "result": "failed"}, failed),
            ("medley_jwks_forced_fetches_total", p, forced),
            ("medley_jwks_keys", p, keys)]


def oauth_series(ok, failed, forced):
    u = {"upstream": "hr"}
    return [("medley_oauth2_token_fetches_total", {**u, "result": "ok"}, ok),
            ("medley_oauth2_token_fetches_total", {**u, "result": "failed"}, failed),
            ("medley_oauth2_forced_fetches_total", u, forced)]


def expect_invalid(r, what):
    check(r.status == 401, f"{what}: status {r.status}, want 401 (body {r.body[:200]!r})")
    ta.expect_401(r, 'Bearer realm="medley"', "invalid_token")


# --------------------------------------------------------------------------
# jwks_url.

def test_startup_fetch_verifies_the_first_request(t):
    w = JwksWorld(t)
    expect_card(w.get(ta.token(w.k1, ta.claims("42"))), 42, "first request after start")
    eq(w.jwks.fetches(), 1, "JWKS fetches: the one at start")
    req = w.jwks.mock.seen()[0]
    eq((req.method, req.path), ("GET", JWKS_PATH), "the JWKS request")
    check("json" in (req.header("accept") or ""), f"Accept {req.header('accept')!r}")
    for oid in ("1", "2", "3"):
        expect_card(w.get(ta.token(w.k1, ta.claims(oid))), oid, "known kid")
    eq(w.jwks.fetches(), 1, "known kids never fetch")
    w.medley.stop()


def test_new_key_verifies_on_first_try(t):
    w = JwksWorld(t)
    k2 = ta.Key(t.dir, "k2")
    w.warm()
    w.jwks.keys.append(k2)              # the issuer rotates: k2 appears after start
    expect_card(w.get(ta.token(k2, ta.claims("9"))), 9, "k2 token, first try")
    eq(w.jwks.fetches(), 2, "JWKS fetches: start + one for the unknown kid")
    expect_card(w.get(ta.token(k2, ta.claims("10"))), 10, "k2 again")
    expect_card(w.get(ta.token(w.k1, ta.claims("11"))), 11, "k1 still")
    eq(w.jwks.fetches(), 2, "no further fetch")
    # The start-up fetch and the forced one, both good; k1 and k2 now.
    series = expect_metrics(w.medley, jwks_series(w.jwks.fetches(), 0, 1, 2), "JWKS metrics")
    check(not any(name.startswith("medley_oauth2_") for name, _ in series), "no OAuth2 family without oauth2")
    w.medley.stop()


def test_waiting_requests_share_one_fetch(t):
    w = JwksWorld(t, delay_ms=400)
    k2 = ta.Key(t.dir, "k2")
    w.warm()
    w.jwks.keys.append(k2)
    toks = [ta.token(k2, ta.claims(str(i))) for i in range(1, 13)]
    results = [None] * len(toks)

    def call(i):
        results[i] = w.get(toks[i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(toks))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    for i, r in enumerate(results):
        check(r is not None, f"request {i} got no answer")
        expect_card(r, i + 1, f"concurrent k2 request {i}")
    eq(w.jwks.fetches(), 2, "12 requests with a new kid: one coalesced fetch")
    w.medley.stop()


def test_random_kids_fetch_at_most_once_per_10s(t):
    w = JwksWorld(t)
    w.warm()
    expect_invalid(w.get(ta.token(w.k1, header={"kid": "random-1"})), "unknown kid")
    first_at = time.monotonic()
    eq(w.jwks.fetches(), 2, "the first unknown kid fetches once")
    for i in range(2, 12):
        t0 = time.monotonic()
        expect_invalid(w.get(ta.token(w.k1, header={"kid": f"random-{i}"})), f"unknown kid {i}")
        check(time.monotonic() - t0 < 1.0, "a rate-limited unknown kid is refused at once")
    eq(w.jwks.fetches(), 2, "ten more random kids within 10 s: no extra fetch")
    expect_card(w.get(ta.token(w.k1, ta.claims("5"))), 5, "the real key still verifies")
    time.sleep(max(0.0, 10.3 - (time.monotonic() - first_at)))
    expect_invalid(w.get(ta.token(w.k1, header={"kid": "random-99"})), "unknown kid after 10 s")
    eq(w.jwks.fetches(), 3, "after 10 s one more forced fetch is allowed")
    expect_metrics(w.medley, jwks_series(w.jwks.fetches(), 0, 2, 1), "JWKS metrics: two forced fetches for 12 kids")
    w.medley.stop()


def test_jwks_down_at_start_answers_503_then_recovers(t):
    w = JwksWorld(t, mode="down")
    tok = ta.token(w.k1, ta.claims("42"))
    r = w.get(tok)
    assert_json_error(r, 503, "auth_unavailable")
    check("www-authenticate" not in r.headers, "a 503 carries no challenge")
    w.jwks.mode = "ok"
    deadline = time.monotonic() + 10
    while True:
        r = w.get(tok)
        if r.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    expect_card(r, 42, "once the JWKS server is up (retried with backoff)")
    w.medley.stop()
    err = w.medley.stderr()
    eq(err.count("cannot fetch the JWKS"), 1, f"failures of one reason are logged once: {err!r}")
    check("auth provider 'idp'" in err and JWKS_PATH in err, "the log names the provider and URL", err)
    check("JWKS fetched from" in err and "again" in err, "the recovery is logged", err)


def test_broken_jwks_keeps_the_old_keys(t):
    w = JwksWorld(t)
    k2 = ta.Key(t.dir, "k2")
    w.warm()
    w.jwks.mode = "garbage"
    expect_invalid(w.get(ta.token(k2, ta.claims("2"))), "k2 while the JWKS is garbage")
    eq(w.jwks.fetches(), 2, "the unknown kid fetched the garbage")
    expect_card(w.get(ta.token(w.k1, ta.claims("3"))), 3, "k1 kept after a garbage JWKS")
    w.jwks.mode = "ok"                   # the retry 1 s after the failure succeeds
    ok = [("medley_jwks_fetches_total", {"provider": "idp", "result": "ok"}, 2)]
    expect_metrics(w.medley, ok, "the retry after the failed fetch", within=5.0)
    failed = w.jwks.fetches() - 2        # 1, unless this test was slower than the first retry
    check(failed >= 1, f"{w.jwks.fetches()} JWKS fetches")
    expect_metrics(w.medley, jwks_series(2, failed, 1, 1), "JWKS metrics after a failed fetch and its retry")
    w.medley.stop()
    err = w.medley.stderr()
    check("not a usable JWKS" in err, "the parse error is logged", err)
    check("GARBAGE-MARKER" not in err, "the body is not dumped into the log", err)


def test_client_gone_while_waiting_for_keys(t):
    w = JwksWorld(t, delay_ms=700)
    k2 = ta.Key(t.dir, "k2")
    w.warm()
    w.jwks.keys.append(k2)
    head = (f"GET /me/vacation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            f"{ta.token(k2, ta.claims('4'))}\r\n\r\n").encode()
    for _ in range(3):
        c = RawConn(w.medley.port)
        c.send(head)
        time.sleep(0.05)
        c.close()                        # gone before the JWKS answer
    time.sleep(1.0)
    expect_card(w.get(ta.token(k2, ta.claims("6"))), 6, "after clients left mid-wait")
    eq(w.hr.calls(), 2, "the callers that left reached no backend (warm-up and the last call did)")
    w.medley.stop()


def test_shutdown_while_requests_wait_for_keys(t):
    limits = LIMITS.replace("shutdown_timeout: 5s", "shutdown_timeout: 500ms")
    check(limits != LIMITS, "LIMITS has no shutdown_timeout: 5s to replace")
    w = JwksWorld(t, config=jwks_config(timeout="4s", limits=limits))
    k2 = ta.Key(t.dir, "k2")
    w.warm()
    w.jwks.mode = "hang"                 # the forced fetch never answers in time
    head = (f"GET /me/vacation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            f"{ta.token(k2, ta.claims('4'))}\r\n\r\n").encode()
    conns = [RawConn(w.medley.port) for _ in range(3)]
    for c in conns:
        c.send(head)
    deadline = time.monotonic() + 3
    while w.jwks.fetches() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    eq(w.jwks.fetches(), 2, "one forced fetch for three waiting requests")
    t0 = time.monotonic()
    w.medley.stop()                      # exit 0, and clean under the sanitizers
    check(time.monotonic() - t0 < 3.0, "the waits do not hold the shutdown past its drain")
    for c in conns:
        c.close()
    eq(w.hr.calls(), 1, "no waiting request reached a backend (only the warm-up did)")


# --------------------------------------------------------------------------
# OAuth2: a backend's 401 fetches the token early.

SECRET = "s3cr3t-value-for-401-tests"
CLIENT = "medley-client"


def oauth_config():
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
cache: {{ store: memory }}
upstreams:
  hr:
    url: "http://127.0.0.1:${{HR_PORT}}"
    timeout: 1s
    oauth2:
      token_url: "http://127.0.0.1:${{IDP_PORT}}/oauth2/token"
      client_id: {CLIENT}
      client_secret: "${{HR_SECRET}}"
      timeout: 1s
endpoints:
  - path: /card
    params: {{ user: {{ in: query, type: integer, required: true }} }}
    backends:
      - {{ upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }}, as: vacation }}
  - path: /cached
    params: {{ user: {{ in: query, type: integer, required: true }} }}
    backends:
      - {{ upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }}, as: vacation,
          cache: {{ ttl: 30s }} }}
  - path: /raw
    params: {{ user: {{ in: query, type: integer, required: true }} }}
    passthrough: {{ upstream: hr, path: "/employees/{{user}}/vacation" }}
"""


class OAuthWorld:
    """hr answers 401 to revoked tokens (`revoke_first`: the first token
    issued is revoked as soon as it is seen) or to every token (`always`)."""

    def __init__(self, t, revoke_first=False, always=False):
        self.idp_mock = t.mock("idp")
        self.idp = mb.TokenEndpoint(CLIENT, SECRET, None, 3600)
        self.idp_mock.route("/oauth2/token", self.idp)
        self.revoked = set()
        self.revoke_first, self.always = revoke_first, always
        self.hr = t.mock("hr")
        self.hr.route("/employees/*/vacation", self.hr_route)
        env = {"HR_PORT": str(self.hr.port), "IDP_PORT": str(self.idp_mock.port), "HR_SECRET": SECRET}
        self.medley = t.start_medley(t.write_config(oauth_config()), env=env)

    def hr_route(self, req):
        auth = req.header("authorization") or ""
        tok = auth[7:] if auth.startswith("Bearer ") else ""
        first = self.idp.tokens()[:1]
        if self.revoke_first and tok in first:
            self.revoked.add(tok)
        if self.always or tok in self.revoked or not self.idp.valid(tok):
            return mb.Reply.with_status(401, {"error": "invalid_token"})
        return mb.vacation_route(req)

    def get(self, path):
        return http_get(self.medley.port, path)

    def token_fetches(self):
        return self.idp_mock.calls("/oauth2/token")

    def get_until_ok(self, path, within=5.0):
        """The token endpoint has answered; medley installs the token a
        moment later (much later under valgrind): calls until one is 200."""
        deadline = time.monotonic() + within
        while True:
            r = self.get(path)
            if r.status == 200 or time.monotonic() > deadline:
                return r
            time.sleep(0.05)

    def wait_fetches(self, n, within=3.0):
        deadline = time.monotonic() + within
        while self.token_fetches() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.token_fetches()


def revoked_token_refetched(t, path):
    w = OAuthWorld(t, revoke_first=True)
    eq(w.wait_fetches(1), 1, "token fetched at start")
    r = w.get(f"{path}?user=5")
    eq(r.status, 502, f"the backend's 401 is not retried (body {r.body[:200]!r})")
    eq(w.wait_fetches(2), 2, "a 401 to the current token fetches a new one at once")
    r = w.get_until_ok(f"{path}?user=5")
    eq(r.status, 200, f"with the new token (body {r.body[:200]!r})")
    eq(r.json(), {"vacation": {"balance_days": mb.vacation_doc(5)["balance_days"]}}, "card")
    toks = [req.header("authorization") for req in w.hr.seen()]
    check(len(toks) >= 2 and toks[-1] != toks[0], f"the last call carried a new token: {toks}")
    check(all(tk == toks[0] for tk in toks[:-1]), f"every refused call carried the old token: {toks}")
    eq(w.token_fetches(), 2, "no further token fetch")
    series = expect_metrics(w.medley, oauth_series(w.token_fetches(), 0, 1), "OAuth2 metrics")
    check(not any(name.startswith("medley_jwks_") for name, _ in series), "no JWKS family without jwks_url")
    w.medley.stop()
    logs = w.medley.stdout() + w.medley.stderr()
    check(SECRET not in logs and not any(tok in logs for tok in w.idp.tokens()), "no secret in the logs")


def test_oauth2_401_fetches_a_new_token(t):
    revoked_token_refetched(t, "/card")


def test_oauth2_401_fetches_a_new_token_cached_backend(t):
    revoked_token_refetched(t, "/cached")


def test_oauth2_401_fetches_a_new_token_passthrough(t):
    w = OAuthWorld(t, revoke_first=True)
    eq(w.wait_fetches(1), 1, "token fetched at start")
    r = w.get("/raw?user=5")
    eq(r.status, 401, f"a passthrough hands the backend's 401 on as it is (body {r.body[:200]!r})")
    eq(w.wait_fetches(2), 2, "a 401 to the current token fetches a new one at once")
    r = w.get_until_ok("/raw?user=5")
    eq(r.status, 200, f"with the new token (body {r.body[:200]!r})")
    eq(r.json(), mb.vacation_doc(5), "the backend's answer unchanged")
    w.medley.stop()


def test_oauth2_always_401_forces_once_per_10s(t):
    w = OAuthWorld(t, always=True)
    end = time.monotonic() + 3.0
    n = 0
    while time.monotonic() < end:
        eq(w.get(f"/card?user={n % 7}").status, 502, "backend always 401")
        eq(w.get(f"/cached?user={n % 7}").status, 502, "cached backend always 401")
        n += 1
        time.sleep(0.05)
    check(n >= 10, f"only {n} rounds in 3 s")
    eq(w.wait_fetches(2, within=0.5), 2, f"{2 * n} backend 401s in 3 s: one forced token fetch")
    w.medley.stop()
