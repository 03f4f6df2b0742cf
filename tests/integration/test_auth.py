"""Inbound authentication (issue 6) against the real binary: JWT (RS256 and
ES256 keys made at test time with the openssl CLI, JWKS built here from the
public keys, tokens signed here with `openssl dgst`), API keys in a header
or the query, Basic users with crypt(3) hashes. Checks the answers (200,
401 + WWW-Authenticate, 403), that identity reaches templates ({jwt.oid},
{auth.name}) and never crosses users through the cache, that the JWKS file
is re-read for an unknown kid (at most once per 10 s), and that no token,
key or password ever shows up in the access log or on stderr. No private
key is committed: all of them live in the test's temp dir."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import warnings

import mockbackend as mb
from harness import LIMITS, assert_json_error, check, eq, http_get

ISSUER = "https://login.example.test/tenant-1/v2.0"
AUDIENCE = "api://medley"
APPS_KEY = "apps-key-7f3c9a1e5b2d4f60"        # 24 characters
FILE_KEY = "file-key-0a1b2c3d4e5f6789abcd"
FLOW_KEY = "flow-key-q-1234567890abcdef"
PASSWORD = "correct horse battery staple"


# --------------------------------------------------------------------------
# Keys, JWKS and tokens (openssl CLI + plain Python).

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


class Key:
    """A private key in the test dir and its public JWK."""

    def __init__(self, d, kid, kind="RSA"):
        self.kid, self.kind = kid, kind
        self.path = os.path.join(d, f"{kid}.pem")
        if kind == "RSA":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.path)
            hexmod = openssl("rsa", "-in", self.path, "-noout", "-modulus").decode().strip().split("=", 1)[1]
            n = bytes.fromhex(hexmod)
            self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64u(n), "e": "AQAB"}
            self.alg = "RS256"
        else:
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.path)
            der = openssl("pkey", "-in", self.path, "-pubout", "-outform", "DER")
            point = der[-65:]          # SubjectPublicKeyInfo ends with 04 || X || Y
            check(point[0] == 4, "EC public key is not an uncompressed point")
            self.jwk = {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64u(point[1:33]), "y": b64u(point[33:])}
            self.alg = "ES256"
        self.public_pem = openssl("pkey", "-in", self.path, "-pubout")

    def sign(self, data):
        sig = openssl("dgst", "-sha256", "-sign", self.path, data=data)
        return sig if self.kind == "RSA" else der_to_raw(sig)


def der_to_raw(sig):
    """ECDSA DER SEQUENCE { INTEGER r, INTEGER s } -> r || s (32 bytes each)."""
    check(sig[0] == 0x30, "not a DER sequence")
    i = 2 if sig[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        check(sig[i] == 0x02, "not a DER integer")
        n = sig[i + 1]
        v = sig[i + 2:i + 2 + n].lstrip(b"\x00")
        out += v.rjust(32, b"\x00")
        i += 2 + n
    return out


def write_jwks(path, keys):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"keys": [k.jwk for k in keys]}, f)
    os.replace(tmp, path)


def claims(oid="42", **kw):
    now = int(time.time())
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": f"sub-{oid}", "oid": oid, "iat": now, "nbf": now - 5,
         "exp": now + 600}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def token(key, payload=None, header=None, alg=None):
    h = {"alg": alg or key.alg, "typ": "JWT", "kid": key.kid}
    h.update(header or {})
    signing = (b64u(json.dumps(h).encode()) + "." + b64u(json.dumps(payload or claims()).encode())).encode()
    return signing.decode() + "." + b64u(key.sign(signing))


def bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def crypt_hash(password):
    """A SHA-512 crypt(3) hash: python's crypt module where it exists, else
    `openssl passwd -6`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    except ImportError:
        return openssl("passwd", "-6", "-stdin", data=password.encode()).decode().strip()


# --------------------------------------------------------------------------
# The world: an hr mock and medley with every kind of provider.

def auth_config():
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  hr: {{ url: "http://127.0.0.1:${{HR_PORT}}", timeout: 2s }}
auth:
  providers:
    entra:
      type: jwt
      issuer: "{ISSUER}"
      audience: [ "api://other", "{AUDIENCE}" ]
      algs: [ RS256, ES256 ]
      jwks_file: "${{JWKS_FILE}}"
      leeway: 5s
    apps:  {{ type: api_key, header: X-Api-Key, keys: {{ powerapps: "${{APPS_KEY}}" }}, file: "${{KEYS_FILE}}" }}
    appsq: {{ type: api_key, query: api_key, keys: {{ flow: "${{FLOW_KEY}}" }} }}
    staff: {{ type: basic, file: "${{USERS_FILE}}", realm: staff }}
endpoints:
  - path: /me/vacation
    auth: entra
    backends:
      - {{ name: vacation, upstream: hr, path: "/employees/{{jwt.oid}}/vacation", shape: {{ select: [balance_days] }}, cache: {{ ttl: 30s }} }}
  - path: /feed
    auth: {{ provider: entra, scopes: [ Feed.Read ] }}
    backends: [ {{ upstream: hr, path: /employees/1/vacation, as: one }} ]
  - path: /app
    auth: apps
    backends: [ {{ upstream: hr, path: /employees/2/vacation, headers: {{ X-Who: "{{auth.name}}" }}, as: two }} ]
  - path: /appq
    auth: appsq
    backends: [ {{ upstream: hr, path: /employees/3/vacation, as: three }} ]
  - path: /staff
    auth: staff
    backends: [ {{ upstream: hr, path: /employees/4/vacation, headers: {{ X-User: "{{auth.name}}" }}, as: four }} ]
  - path: /open
    backends: [ {{ upstream: hr, path: /employees/5/vacation, as: five }} ]
"""


class AuthWorld:
    def __init__(self, t, ec=False):
        self.t = t
        self.hr = t.mock("hr")
        self.hr.route("/employees/*/vacation", mb.vacation_route)
        self.rsa = Key(t.dir, "k1")
        self.keys = [self.rsa]
        if ec:
            self.ec = Key(t.dir, "e1", "EC")
            self.keys.append(self.ec)
        self.jwks = os.path.join(t.dir, "jwks.json")
        write_jwks(self.jwks, self.keys)
        self.keys_file = os.path.join(t.dir, "keys")
        with open(self.keys_file, "w") as f:
            f.write(f"# api keys\nfilekey:{FILE_KEY}\n")
        self.users = os.path.join(t.dir, "users")
        with open(self.users, "w") as f:
            f.write(f"alice:{crypt_hash(PASSWORD)}\nbob:{crypt_hash('another password')}\n")
        env = {"HR_PORT": str(self.hr.port), "JWKS_FILE": self.jwks, "APPS_KEY": APPS_KEY,
               "KEYS_FILE": self.keys_file, "FLOW_KEY": FLOW_KEY, "USERS_FILE": self.users}
        self.medley = t.start_medley(t.write_config(auth_config()), env=env)

    def get(self, path, headers=None):
        return http_get(self.medley.port, path, headers=headers)

    def logs(self):
        """Stops medley (flushing the access log); returns (stdout, stderr)."""
        self.medley.stop()
        return self.medley.stdout(), self.medley.stderr()


def balance(user):
    return ((user * 37) % 29) + 0.5


def expect_401(r, challenge_start, error=None):
    assert_json_error(r, 401, "unauthorized")
    ch = r.headers.get("www-authenticate", "")
    check(ch.startswith(challenge_start), f"WWW-Authenticate {ch!r} should start with {challenge_start!r}")
    if error:
        check(f'error="{error}"' in ch, f"WWW-Authenticate {ch!r} lacks error={error}")
    else:
        check("error=" not in ch, f"WWW-Authenticate {ch!r} should carry no error code")
    return ch


def assert_no_secret(text, secrets, where):
    for s in secrets:
        check(s not in text, f"{where} contains a secret ({s[:12]}...)", text[-2000:])


# --------------------------------------------------------------------------
# JWT.

def test_jwt_valid_token_and_per_user_cache(t):
    w = AuthWorld(t, ec=True)
    t42, t7 = token(w.rsa, claims("42")), token(w.ec, claims("7"))
    r = w.get("/me/vacation", bearer(t42))
    eq(r.status, 200, f"RS256 token status (body {r.body[:200]!r})")
    eq(r.json(), {"balance_days": balance(42)}, "oid 42's card")
    check("private" in r.headers.get("cache-control", ""), f"Cache-Control {r.headers.get('cache-control')!r}")
    r = w.get("/me/vacation", bearer(t7))
    eq(r.status, 200, f"ES256 token status (body {r.body[:200]!r})")
    eq(r.json(), {"balance_days": balance(7)}, "oid 7's card, never 42's")
    for _ in range(3):
        eq(w.get("/me/vacation", bearer(t42)).json(), {"balance_days": balance(42)}, "42 again (cached)")
        eq(w.get("/me/vacation", bearer(t7)).json(), {"balance_days": balance(7)}, "7 again (cached)")
    eq(w.hr.calls(), 2, "hr calls: one per user, then the cache")
    paths = sorted(req.path for req in w.hr.seen())
    eq(paths, ["/employees/42/vacation", "/employees/7/vacation"], "paths the backend saw")
    # The endpoint without auth stays open.
    eq(w.get("/open").status, 200, "open endpoint")
    out, err = w.logs()
    assert_no_secret(out + err, [t42, t7, t42.split(".")[2][:40]], "access log / stderr")
    check('"auth":"entra:sub-42"' in out, "access log line without the caller's sub", out[-2000:])


def test_jwt_refusals(t):
    w = AuthWorld(t)
    other = Key(t.dir, "k1-forged")
    other.kid = "k1"                      # same kid, different key: a forged signature
    now = int(time.time())
    bad = {
        "expired": token(w.rsa, claims(exp=now - 60, iat=now - 700, nbf=now - 700)),
        "not yet valid": token(w.rsa, claims(nbf=now + 300)),
        "wrong issuer": token(w.rsa, claims(iss="https://evil.example/v2.0")),
        "wrong audience": token(w.rsa, claims(aud="api://someone-else")),
        "no exp": token(w.rsa, claims(exp=None)),
        "wrong signature": token(other),
    }
    head = b64u(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    body = b64u(json.dumps(claims()).encode())
    bad["alg none"] = f"{head}.{body}."
    hs_head = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    mac = hmac.new(w.rsa.public_pem, f"{hs_head}.{body}".encode(), hashlib.sha256).digest()
    bad["HS256 with the public key"] = f"{hs_head}.{body}.{b64u(mac)}"
    good = token(w.rsa)
    h, p, s = good.split(".")
    bad["malformed base64"] = f"{h}.{p[:-2]}*!.{s}"
    bad["padded base64"] = f"{h}.{p}==.{s}"
    bad["two segments"] = f"{h}.{p}"
    bad["JSON that is not"] = b64u(b"{not json") + f".{p}.{s}"
    for what, tok in bad.items():
        r = w.get("/me/vacation", bearer(tok))
        ch = expect_401(r, 'Bearer realm="medley"', "invalid_token")
        want = "the token has expired" if what == "expired" else "the token is invalid"
        check(f'error_description="{want}"' in ch, f"{what}: challenge {ch!r}")
        eq(r.json()["error"]["message"], want, f"{what}: message")
    # No credentials, or another scheme: a challenge without an error code.
    expect_401(w.get("/me/vacation"), 'Bearer realm="medley"')
    expect_401(w.get("/me/vacation", basic("alice", PASSWORD)), 'Bearer realm="medley"')
    eq(w.hr.calls(), 0, "no refused token reached the backend")
    # A token without the claim the backend path needs: 403, no call.
    r = w.get("/me/vacation", bearer(token(w.rsa, claims(oid=None))))
    assert_json_error(r, 403, "forbidden")
    r = w.get("/me/vacation", bearer(token(w.rsa, claims(oid=["42", "7"]))))
    assert_json_error(r, 403, "forbidden")
    eq(w.hr.calls(), 0, "no call without the claim")
    # Scopes: missing -> 403 insufficient_scope; in scp (space-separated) -> 200.
    r = w.get("/feed", bearer(good))
    assert_json_error(r, 403, "forbidden")
    ch = r.headers.get("www-authenticate", "")
    check('error="insufficient_scope"' in ch and 'scope="Feed.Read"' in ch, f"403 challenge {ch!r}")
    r = w.get("/feed", bearer(token(w.rsa, claims(scp="User.Read Feed.Read"))))
    eq(r.status, 200, f"/feed with the scope (body {r.body[:200]!r})")
    r = w.get("/feed", bearer(token(w.rsa, claims(scp="Feed.ReadAll"))))
    eq(r.status, 403, "a scope is matched as a whole word")
    out, err = w.logs()
    assert_no_secret(out + err, list(bad.values()) + [good], "access log / stderr")


def test_jwt_duplicate_authorization_header(t):
    w = AuthWorld(t)
    good = token(w.rsa)
    req = (f"GET /me/vacation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {good}\r\n"
           f"Authorization: Bearer {good}\r\nConnection: close\r\n\r\n").encode()
    from harness import RawConn
    with RawConn(w.medley.port) as c:
        c.send(req)
        r = c.read_response()
    expect_401(r, 'Bearer realm="medley"', "invalid_token")
    eq(w.hr.calls(), 0, "no backend call")
    w.medley.stop()


def test_jwks_reread_for_unknown_kid(t):
    w = AuthWorld(t)
    k2 = Key(t.dir, "k2")
    eq(w.get("/me/vacation", bearer(token(w.rsa))).status, 200, "k1 token")
    # The file gains k2 while medley runs: the first token naming k2 makes
    # medley re-read it.
    write_jwks(w.jwks, [w.rsa, k2])
    r = w.get("/me/vacation", bearer(token(k2, claims("9"))))
    eq(r.status, 200, f"k2 token after the file changed (body {r.body[:200]!r})")
    eq(r.json(), {"balance_days": balance(9)}, "k2 token's card")
    reread_at = time.monotonic()
    # A third key within 10 s of that re-read: not re-read yet.
    k3 = Key(t.dir, "k3")
    write_jwks(w.jwks, [w.rsa, k2, k3])
    expect_401(w.get("/me/vacation", bearer(token(k3))), 'Bearer realm="medley"', "invalid_token")
    time.sleep(max(0.0, 10.3 - (time.monotonic() - reread_at)))
    r = w.get("/me/vacation", bearer(token(k3, claims("11"))))
    eq(r.status, 200, f"k3 token once 10 s have passed (body {r.body[:200]!r})")
    # A broken file keeps the keys medley has.
    with open(w.jwks, "w") as f:
        f.write("{ not json")
    eq(w.get("/me/vacation", bearer(token(w.rsa))).status, 200, "k1 still accepted")
    w.medley.stop()


# --------------------------------------------------------------------------
# API keys.

def test_api_key_header_and_query(t):
    w = AuthWorld(t)
    r = w.get("/app", {"X-Api-Key": APPS_KEY})
    eq(r.status, 200, f"configured key (body {r.body[:200]!r})")
    eq(r.json(), {"two": mb.vacation_doc(2)}, "body")
    eq(w.hr.seen()[-1].header("X-Who"), "powerapps", "{auth.name} is the key's name")
    r = w.get("/app", {"X-Api-Key": FILE_KEY})
    eq(r.status, 200, "a key from the keys file")
    eq(w.hr.seen()[-1].header("X-Who"), "filekey", "the file key's name")
    ch = expect_401(w.get("/app", {"X-Api-Key": APPS_KEY[:-1] + "x"}), 'ApiKey realm="medley"')
    eq(w.get("/app", {"X-Api-Key": "short"}).status, 401, "a too-short key")
    expect_401(w.get("/app"), 'ApiKey realm="medley"')
    eq(w.get("/app", {"X-Api-Key": FLOW_KEY}).status, 401, "another provider's key")
    eq(w.get(f"/app?api_key={APPS_KEY}").status, 401, "the header provider ignores the query")
    check(ch, "challenge")
    # The query variant.
    eq(w.get(f"/appq?api_key={FLOW_KEY}").status, 200, "query key")
    eq(w.get(f"/appq?api_key={FLOW_KEY[:-1]}Z").status, 401, "wrong query key")
    expect_401(w.get("/appq"), 'ApiKey realm="medley"')
    eq(w.get(f"/appq?api_key={FLOW_KEY}&api_key={FLOW_KEY}").status, 401, "a repeated key is refused")
    eq(w.get("/appq", {"X-Api-Key": FLOW_KEY}).status, 401, "the query provider ignores headers")
    eq(w.hr.calls(), 3, "only the accepted requests reached the backend")
    out, err = w.logs()
    assert_no_secret(out + err, [APPS_KEY, FILE_KEY, FLOW_KEY, APPS_KEY[:-1]], "access log / stderr")
    check('"auth":"apps:powerapps"' in out and '"auth":"appsq:flow"' in out,
          "access log lines carry the key names", out[-2000:])


# --------------------------------------------------------------------------
# Basic.

def test_basic_users(t):
    w = AuthWorld(t)
    r = w.get("/staff", basic("alice", PASSWORD))
    eq(r.status, 200, f"good credentials (body {r.body[:200]!r})")
    eq(r.json(), {"four": mb.vacation_doc(4)}, "body")
    eq(w.hr.seen()[-1].header("X-User"), "alice", "{auth.name} is the user")
    eq(w.get("/staff", basic("alice", PASSWORD)).status, 200, "again (verified-credentials cache)")
    ch = expect_401(w.get("/staff", basic("alice", "wrong password")), 'Basic realm="staff"')
    check('charset="UTF-8"' in ch, f"challenge {ch!r}")
    expect_401(w.get("/staff", basic("mallory", PASSWORD)), 'Basic realm="staff"')
    expect_401(w.get("/staff"), 'Basic realm="staff"')
    expect_401(w.get("/staff", {"Authorization": "Basic !!!not-base64"}), 'Basic realm="staff"')
    expect_401(w.get("/staff", {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}),
               'Basic realm="staff"')
    expect_401(w.get("/staff", bearer("abc.def.ghi")), 'Basic realm="staff"')
    eq(w.hr.calls(), 2, "only the accepted requests reached the backend")
    # A client that leaves while its credentials are checked: medley goes on.
    from harness import RawConn
    cred = basic("bob", "another password")["Authorization"]
    with RawConn(w.medley.port) as c:
        c.send(f"GET /staff HTTP/1.1\r\nHost: x\r\nAuthorization: {cred}\r\n\r\n".encode())
    eq(w.get("/staff", basic("bob", "another password")).status, 200, "bob after an abandoned request")
    out, err = w.logs()
    b64 = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert_no_secret(out + err, [PASSWORD, b64, "another password"], "access log / stderr")
    check('"auth":"staff:alice"' in out, "access log names the user", out[-2000:])


# --------------------------------------------------------------------------
# Startup.

def test_bad_auth_files_fail_the_start(t):
    hr = t.mock("hr")
    cfg = t.write_config(auth_config())
    key = Key(t.dir, "k1")
    jwks = os.path.join(t.dir, "jwks.json")
    write_jwks(jwks, [key])
    users = os.path.join(t.dir, "users")
    with open(users, "w") as f:
        f.write("alice:plaintext-password\n")
    keys = os.path.join(t.dir, "keys")
    with open(keys, "w") as f:
        f.write(f"filekey:{FILE_KEY}\n")
    env = {"HR_PORT": str(hr.port), "JWKS_FILE": jwks, "APPS_KEY": APPS_KEY, "KEYS_FILE": keys,
           "FLOW_KEY": FLOW_KEY, "USERS_FILE": users}
    rc, out, err = t.run_medley(["run", "-c", cfg, "--port", "0"], env=env)
    check(rc != 0, "medley started with a plain-text password in the users file")
    check("staff" in err and "users:1" in err, f"message should name the provider and file:line: {err!r}")
    check("plaintext-password" not in err + out, "the bad hash is echoed", err)
    env["USERS_FILE"] = os.devnull
    env["JWKS_FILE"] = os.path.join(t.dir, "missing.json")
    rc, out, err = t.run_medley(["run", "-c", cfg, "--port", "0"], env=env)
    check(rc != 0 and "entra" in err and "missing.json" in err, f"missing jwks_file: rc {rc}, {err!r}")
    env["JWKS_FILE"] = jwks
    env["APPS_KEY"] = "tiny"
    rc, out, err = t.run_medley(["run", "-c", cfg, "--port", "0"], env=env)
    check(rc != 0 and "api key 'powerapps'" in err, f"short key: rc {rc}, {err!r}")
    check("tiny" not in err, "the key value is echoed", err)
