"""Outbound credentials (issue 6, item 3) against the real binary: OAuth 2.0
client credentials tokens on an upstream (fetched once, shared, refreshed
before expiry, a failing token endpoint giving kind "auth" and recovery),
and `forward_authorization` on a backend (the caller's header reaches the
backend, and callers with different tokens never share a cached fragment).
Secrets and tokens must never show in medley's logs."""

import time

import mockbackend as mb
from harness import LIMITS, check, eq

SECRET = "s3cr3t-value/with+specials&="
CLIENT = "medley-client"
SCOPE = "api://hr/.default"


def oauth_config(extra_upstream="", endpoint_extra=""):
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
access_log: {{ path: stdout }}
upstreams:
  news: {{ url: "http://127.0.0.1:${{NEWS_PORT}}", timeout: 1s }}
  hr:
    url: "http://127.0.0.1:${{HR_PORT}}"
    timeout: 1s
    oauth2:
      token_url: "http://127.0.0.1:${{IDP_PORT}}/oauth2/token"
      client_id: {CLIENT}
      client_secret: "${{HR_SECRET}}"
      scope: "{SCOPE}"
      timeout: 1s
{extra_upstream}endpoints:
  - path: /card
    params: {{ user: {{ in: query, type: integer, required: true }} }}
    backends:
      - {{ upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }}, as: vacation }}
  - path: /both
    errors_field: _errors
    backends:
      - {{ upstream: news, path: /news, shape: {{ from: items, limit: 1, select: [id] }}, as: news }}
      - {{ upstream: hr, path: /employees/7/vacation, shape: {{ select: [balance_days] }}, as: vacation, optional: true }}
  - path: /raw
    passthrough: {{ upstream: hr, path: /employees/7/vacation }}
{endpoint_extra}"""


class OAuthWorld:
    def __init__(self, t, expires_in=3600, down=False):
        self.idp_mock = t.mock("idp")
        self.idp = mb.TokenEndpoint(CLIENT, SECRET, SCOPE, expires_in)
        self.idp.down = down
        self.idp_mock.route("/oauth2/token", self.idp)
        self.hr = t.mock("hr")
        self.hr.route("/employees/*/vacation", lambda req: mb.bearer_route(self.idp, mb.vacation_route(req))(req))
        self.news = t.mock("news")
        self.news.route("/news", mb.Reply.json(mb.news_doc()))
        env = {"HR_PORT": str(self.hr.port), "IDP_PORT": str(self.idp_mock.port),
               "NEWS_PORT": str(self.news.port), "HR_SECRET": SECRET}
        self.medley = t.start_medley(t.write_config(oauth_config()), env=env)

    def get(self, path, **kw):
        from harness import http_get
        return http_get(self.medley.port, path, **kw)

    def assert_no_secrets(self):
        logs = self.medley.stdout() + self.medley.stderr()
        check(SECRET not in logs, "the client secret is in medley's output", logs[-2000:])
        for tok in self.idp.tokens():
            check(tok not in logs, f"token {tok} is in medley's output", logs[-2000:])


def bearers(mock):
    return [r.header("authorization") for r in mock.seen()]


def test_oauth2_token_sent_and_cached(t):
    w = OAuthWorld(t)
    for user in range(1, 21):
        r = w.get(f"/card?user={user}")
        eq(r.status, 200, f"/card?user={user} (body {r.body[:300]!r})")
        eq(r.json(), {"vacation": {"balance_days": mb.vacation_doc(user)["balance_days"]}}, "card body")
    eq(w.idp.problems, [], "token request problems")
    eq(w.idp_mock.calls("/oauth2/token"), 1, "token endpoint calls for 20 requests")
    tok = w.idp.tokens()[0]
    eq(set(bearers(w.hr)), {f"Bearer {tok}"}, "Authorization seen by the backend")
    r = w.get("/raw")
    eq(r.status, 200, f"passthrough with a token (body {r.body[:200]!r})")
    eq(bearers(w.hr)[-1], f"Bearer {tok}", "passthrough Authorization")
    w.medley.stop()
    w.assert_no_secrets()


def test_oauth2_refreshed_before_expiry(t):
    w = OAuthWorld(t, expires_in=2)
    end = time.monotonic() + 4.5
    n = 0
    while time.monotonic() < end:
        r = w.get("/card?user=5")
        eq(r.status, 200, f"request {n} at a token boundary (body {r.body[:300]!r})")
        n += 1
        time.sleep(0.1)
    calls = w.idp_mock.calls("/oauth2/token")
    # 2 s tokens refreshed at 80% (1.6 s): 3 or 4 fetches in 4.5 s, never an expired one.
    check(3 <= calls <= 4, f"token endpoint calls in 4.5 s with 2 s tokens: {calls}")
    eq(len(set(bearers(w.hr))), calls, "distinct tokens the backend saw")
    at = [r.received_at for r in w.idp_mock.seen()]
    gaps = [b - a for a, b in zip(at, at[1:])]
    check(all(1.3 <= g <= 1.85 for g in gaps), f"refreshes not at 80% of a 2 s life: gaps {gaps}")
    eq(w.idp.problems, [], "token request problems")
    w.medley.stop()
    w.assert_no_secrets()


def test_oauth2_token_endpoint_down_then_recovers(t):
    w = OAuthWorld(t, down=True)
    r = w.get("/card?user=5")
    eq(r.status, 502, f"required backend without a token (body {r.body[:300]!r})")
    err = r.json()["error"]
    eq(err.get("reason"), "auth", "error reason")
    eq(err.get("backend"), "vacation", "error backend")
    r = w.get("/both")
    eq(r.status, 200, f"optional backend without a token (body {r.body[:300]!r})")
    doc = r.json()
    eq(doc["_errors"]["vacation"]["error"], "auth", "_errors kind")
    check("vacation" not in doc, "the failed optional backend's key is left out")
    eq(r.headers.get("x-medley-incomplete"), "vacation", "X-Medley-Incomplete")
    r = w.get("/raw")
    eq(r.status, 502, "passthrough without a token")
    eq(r.json()["error"].get("reason"), "auth", "passthrough reason")
    eq(w.hr.calls(), 0, "the backend is never called without a token")
    check("cannot get an OAuth2 token" in w.medley.stderr(), "the failure is logged", w.medley.stderr())
    w.idp.down = False
    deadline = time.monotonic() + 8
    while True:
        r = w.get("/card?user=5")
        if r.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    eq(r.status, 200, f"after the token endpoint came back (body {r.body[:300]!r})")
    eq(w.idp.problems, [], "token request problems")
    w.medley.stop()
    w.assert_no_secrets()


def test_oauth2_bad_credentials_logged_without_secret(t):
    w = OAuthWorld.__new__(OAuthWorld)
    w.idp_mock = t.mock("idp")
    w.idp = mb.TokenEndpoint(CLIENT, "another-secret", SCOPE)
    w.idp_mock.route("/oauth2/token", w.idp)
    w.hr = t.mock("hr")
    w.news = t.mock("news")
    env = {"HR_PORT": str(w.hr.port), "IDP_PORT": str(w.idp_mock.port),
           "NEWS_PORT": str(w.news.port), "HR_SECRET": SECRET}
    w.medley = t.start_medley(t.write_config(oauth_config()), env=env)
    r = w.get("/card?user=5")
    eq(r.status, 502, "wrong client secret")
    eq(r.json()["error"].get("reason"), "auth", "reason")
    check("status 401 (invalid_client)" in w.medley.stderr(), "the OAuth error code is logged",
          w.medley.stderr())
    w.medley.stop()
    w.assert_no_secrets()


# ---- forward_authorization ----

def forward_config(cache=""):
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  me: {{ url: "http://127.0.0.1:${{ME_PORT}}", timeout: 1s }}
endpoints:
  - path: /me
    backends:
      - {{ upstream: me, path: /whoami, as: me, forward_authorization: true{cache} }}
  - path: /view
    cache: {{ ttl: 30s }}
    backends:
      - {{ upstream: me, path: /whoami, as: me, forward_authorization: true }}
"""


def whoami(req):
    auth = req.header("authorization")
    return mb.Reply.json({"auth": auth, "n": len(req.header_lines)})


def start_forward(t, cache=""):
    me = t.mock("me")
    me.route("/whoami", whoami)
    m = t.start_medley(t.write_config(forward_config(cache)), env={"ME_PORT": str(me.port)})
    return me, m


def test_forward_authorization_sent_as_is(t):
    from harness import http_get
    me, m = start_forward(t)
    r = http_get(m.port, "/me", headers={"Authorization": "Bearer caller-token.A"})
    eq(r.status, 200, "with Authorization")
    eq(r.json()["me"]["auth"], "Bearer caller-token.A", "what the backend saw")
    r = http_get(m.port, "/me")
    eq(r.status, 200, "without Authorization")
    eq(r.json()["me"]["auth"], None, "no Authorization is invented")
    eq([x.header("authorization") for x in me.seen()], ["Bearer caller-token.A", None], "backend requests")
    m.stop()
    check("caller-token.A" not in m.stdout() + m.stderr(), "the caller's token is not logged")


def test_forward_authorization_never_shares_cache(t):
    from harness import http_get
    me, m = start_forward(t, cache=", cache: { ttl: 30s }")
    seq = ["Bearer AAA", "Bearer BBB", None, "Bearer AAA", "Bearer BBB", None, "Basic QUFBOkJCQg=="]
    for auth in seq:
        hdrs = {"Authorization": auth} if auth else {}
        for path in ("/me", "/view"):
            r = http_get(m.port, path, headers=hdrs)
            eq(r.status, 200, f"{path} with {auth}")
            eq(r.json()["me"]["auth"], auth, f"{path} answered for {auth}")
            check("private" in r.headers.get("cache-control", ""),
                  f"{path} Cache-Control {r.headers.get('cache-control')!r} is not private")
    # /me: one call per distinct credential (4), then hits; /view likewise (4).
    eq(me.calls("/whoami"), 8, "backend calls: one per distinct caller and cache")
    m.stop()
