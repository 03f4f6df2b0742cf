"""https:// upstreams against the real binary: an endpoint composed from an
https backend and a plain http one; an https backend whose certificate no
trusted CA signed (the endpoint's usual backend-failure answer, the TLS
failure in the log and in the backend metrics); and an https OAuth2 token
endpoint trusted through the system store (SSL_CERT_FILE points OpenSSL's
default store at the test CA). The certificates are made per test with the
openssl command line in the test's temp dir."""

import os
import subprocess
import time

import mockbackend as mb
from harness import LIMITS, check, eq, http_get

SERVER_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:localhost,IP:127.0.0.1\n")


def openssl(d, *args):
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=30)


def make_ca(d, name):
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}")


def make_server_cert(d, ca, name):
    """A localhost / 127.0.0.1 server certificate signed by `ca`."""
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write(SERVER_EXT)
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost")
    openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-set_serial", "7", "-days", "2", "-extfile", "server.ext", "-out", f"{name}.pem")
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def pki(t):
    """(trusted CA file, good server cert+key, server cert+key from another CA)."""
    make_ca(t.dir, "ca")
    make_ca(t.dir, "rogue-ca")
    good = make_server_cert(t.dir, "ca", "good")
    rogue = make_server_cert(t.dir, "rogue-ca", "rogue")
    return os.path.join(t.dir, "ca.pem"), good, rogue


def config(ca_file):
    return f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  secure:
    url: "https://localhost:${{SECURE_PORT}}"
    timeout: 2s
    tls: {{ ca_file: "{ca_file}" }}
  plain: {{ url: "http://127.0.0.1:${{PLAIN_PORT}}", timeout: 2s }}
endpoints:
  - path: /both
    backends:
      - {{ upstream: secure, path: /news, shape: {{ from: items, sort: -published, limit: 5, select: [id, title, url, published] }}, as: news }}
      - {{ upstream: plain, path: /events, shape: {{ from: events, sort: starts, limit: 5, select: [id, name, starts, location] }}, as: events }}
"""


def start(t, server_cert):
    ca, _, _ = t.pki
    secure = mb.MockBackend("secure", tls=server_cert)
    t.mocks.append(secure)
    secure.route("/news", mb.Reply.gzip(mb.news_doc()))
    plain = t.mock("plain")
    plain.route("/events", mb.Reply.chunked(mb.events_doc()))
    env = {"SECURE_PORT": str(secure.port), "PLAIN_PORT": str(plain.port)}
    m = t.start_medley(t.write_config(config(ca)), env=env)
    return m, secure, plain


def backend_calls(m, backend):
    """{outcome: count} of medley_backend_calls_total for /both's backend."""
    r = http_get(m.admin_port, "/metrics")
    eq(r.status, 200, "/metrics status")
    out = {}
    for line in r.body.decode().splitlines():
        if line.startswith("medley_backend_calls_total{") and 'endpoint="/both"' in line \
                and f'backend="{backend}"' in line:
            labels, _, value = line.rpartition(" ")
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = out.get(outcome, 0) + float(value)
    return out


def test_https_and_http_backends_compose(t):
    from harness import expected_events, expected_news
    t.pki = pki(t)
    m, secure, plain = start(t, t.pki[1])
    for _ in range(3):
        r = http_get(m.port, "/both")
        eq(r.status, 200, f"/both status (body {r.body[:300]!r})")
        eq(r.json(), {"news": expected_news(), "events": expected_events()}, "/both body")
        check("x-medley-incomplete" not in r.headers, "no backend failed")
    eq(secure.calls("/news"), 3, "https backend calls")
    eq(plain.calls("/events"), 3, "http backend calls")
    host = secure.seen()[0].header("host")
    eq(host, f"localhost:{secure.port}", "Host header sent over https")
    check(secure.gzip_served == 3, f"gzip over TLS: {secure.gzip_served} of 3")
    # Keep-alive: at most one TLS connection per worker for three calls.
    check(1 <= secure.tls_handshakes <= 2, f"{secure.tls_handshakes} TLS handshakes for 3 calls")
    eq(secure.tls_failures, 0, "TLS handshake failures")
    check("TLS handshake" not in m.stderr(), "no TLS failure logged", m.stderr())
    m.stop()


def test_untrusted_certificate_fails_the_backend(t):
    t.pki = pki(t)
    m, secure, plain = start(t, t.pki[2])
    r = http_get(m.port, "/both")
    eq(r.status, 502, f"/both with an untrusted backend (body {r.body[:300]!r})")
    err = r.json()["error"]
    eq(err.get("code"), "backend_failed", "error code")
    eq(err.get("backend"), "news", "failed backend")
    eq(err.get("reason"), "tls", "failure kind")
    eq(secure.calls(), 0, "no request reached the untrusted server")
    # The server's thread notes the failed handshake on its own time, after
    # the client has already given up: wait for it (bounded).
    deadline = time.monotonic() + 5
    while secure.tls_failures < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    check(secure.tls_failures >= 1, "the server saw the client refuse its certificate")
    outcomes = backend_calls(m, "news")
    eq({k: v for k, v in outcomes.items() if v}, {"tls": 1.0}, "medley_backend_calls_total by outcome")
    r = http_get(m.port, "/both")
    eq(r.status, 502, "again")
    m.stop()
    log = m.stderr()
    want = ("upstream 'secure': TLS handshake with 'localhost' failed: certificate verify failed: "
            "unable to get local issuer certificate")
    check(want in log, "the verification error is logged", log)
    eq(log.count("TLS handshake"), 1, "logged once a minute at most")


def test_https_oauth2_token_endpoint_with_system_trust(t):
    ca, good, _ = pki(t)
    idp_mock = mb.MockBackend("idp", tls=good)
    t.mocks.append(idp_mock)
    idp = mb.TokenEndpoint("medley-client", "s3cr3t")
    idp_mock.route("/oauth2/token", idp)
    hr = t.mock("hr")
    hr.route("/employees/*/vacation", lambda req: mb.bearer_route(idp, mb.vacation_route(req))(req))
    text = f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  hr:
    url: "http://127.0.0.1:${{HR_PORT}}"
    oauth2:
      token_url: "https://localhost:${{IDP_PORT}}/oauth2/token"
      client_id: medley-client
      client_secret: "${{HR_SECRET}}"
endpoints:
  - path: /card
    backends:
      - {{ upstream: hr, path: /employees/7/vacation, shape: {{ select: [balance_days] }}, as: vacation }}
"""
    env = {"HR_PORT": str(hr.port), "IDP_PORT": str(idp_mock.port), "HR_SECRET": "s3cr3t",
           "SSL_CERT_FILE": ca, "SSL_CERT_DIR": t.dir}
    m = t.start_medley(t.write_config(text), env=env)
    r = http_get(m.port, "/card")
    eq(r.status, 200, f"/card (body {r.body[:300]!r}; stderr {m.stderr()[-500:]!r})")
    eq(r.json(), {"vacation": {"balance_days": ((7 * 37) % 29) + 0.5}}, "/card body")
    eq(idp.problems, [], "token request problems")
    check(idp_mock.tls_handshakes >= 1, "the token was fetched over TLS")
    m.stop()
    check("s3cr3t" not in m.stderr() + m.stdout(), "the secret never shows")


def test_https_jwks_url_with_system_trust(t):
    """Entra ID's keys are at an https URL: a jwt provider's jwks_url over
    TLS, trusted through the system store, verifies a token at start-up."""
    import test_auth as ta
    ca, good, rogue = pki(t)
    k1 = ta.Key(t.dir, "k1")
    jwks = mb.MockBackend("jwks", tls=good)
    t.mocks.append(jwks)
    jwks.route("/tenant/discovery/v2.0/keys", mb.Reply.json({"keys": [k1.jwk]}))
    hr = t.mock("hr")
    hr.route("/employees/*/vacation", mb.vacation_route)
    text = f"""\
listen: 127.0.0.1:0
workers: 2
{LIMITS}
upstreams:
  hr: {{ url: "http://127.0.0.1:${{HR_PORT}}", timeout: 2s }}
auth:
  providers:
    idp:
      type: jwt
      issuer: "{ta.ISSUER}"
      audience: "{ta.AUDIENCE}"
      algs: [ RS256 ]
      jwks_url: "https://localhost:${{JWKS_PORT}}/tenant/discovery/v2.0/keys"
endpoints:
  - path: /me/vacation
    auth: idp
    backends:
      - {{ name: vacation, upstream: hr, path: "/employees/{{jwt.oid}}/vacation", shape: {{ select: [balance_days] }} }}
"""
    env = {"HR_PORT": str(hr.port), "JWKS_PORT": str(jwks.port), "SSL_CERT_FILE": ca, "SSL_CERT_DIR": t.dir}
    m = t.start_medley(t.write_config(text), env=env)
    r = http_get(m.port, "/me/vacation", headers=ta.bearer(ta.token(k1, ta.claims("3"))))
    eq(r.status, 200, f"/me/vacation (body {r.body[:300]!r}; stderr {m.stderr()[-500:]!r})")
    eq(r.json(), {"balance_days": ta.balance(3)}, "the card of oid 3")
    check(jwks.tls_handshakes >= 1, "the keys were fetched over TLS")
    m.stop()

    # The same provider against a server whose certificate no trusted CA
    # signed: no keys, so the endpoint answers 503 auth_unavailable.
    bad = mb.MockBackend("jwks-rogue", tls=rogue)
    t.mocks.append(bad)
    bad.route("/tenant/discovery/v2.0/keys", mb.Reply.json({"keys": [k1.jwk]}))
    env["JWKS_PORT"] = str(bad.port)
    m = t.start_medley(t.write_config(text), env=env)
    r = http_get(m.port, "/me/vacation", headers=ta.bearer(ta.token(k1, ta.claims("3"))))
    eq(r.status, 503, f"untrusted JWKS server (body {r.body[:300]!r})")
    eq(r.json()["error"]["code"], "auth_unavailable", "error code")
    eq(bad.calls("/tenant/discovery/v2.0/keys"), 0, "no request reached the untrusted server")
    m.stop()
