"""The Power Platform connector package, checked three independent ways.

(a) `medley connector export` of a home-feed config passes `medley connector
    lint`, swagger-parser and spectral with the Power Platform ruleset
    (tests/npm, pinned by its lockfile; `make npm-deps` installs it);
(b) packages broken in one way each (title with "API", a summary too long,
    a parameter without x-ms-summary, a schema on the default response, a
    duplicate operationId, a host with a scheme) make `medley connector
    lint` exit non-zero naming the rule, and make spectral fail too;
(c) a contract test: every operation of the exported definition, called on
    the running binary with its example parameters (x-ms-test-value),
    answers 200 with a body that validates against the operation's declared
    200 schema, checked by the small JSON-schema validator below (type,
    properties, items, required, and no undeclared members: the schema
    claims to be exact);
(d) with inbound authentication (an API key in a header or the query,
    Basic, a JWT as OAuth 2.0 with Entra ID): each exported package passes
    the three checkers, and the contract test calls every operation with
    the credential the exported definition says to send (the header or
    query parameter named by securityDefinitions, Basic, a bearer token;
    keys and tokens made as tests/integration/test_auth.py makes them):
    protected operations answer 401 without it and 200 with it, the
    operation marked `security: []` answers without one.

The expected outcomes come from Power Platform's published rules, never
from medley's own output.
"""

import copy
import json
import os
import shutil
import subprocess
import urllib.parse

import harness
import test_auth as ta
from harness import World, check, eq

HERE = os.path.dirname(os.path.abspath(__file__))
NPM_DIR = os.path.normpath(os.path.join(HERE, "..", "npm"))
VALIDATE = os.path.join(NPM_DIR, "validate.js")
NODE_TIMEOUT = 60


def connector_config(declared=True, auth=""):
    """harness's home-feed config plus what a connector needs: public_url,
    the connector block and parameter examples. With `declared`, the types
    the config cannot know come from `response.schema` (written from the
    mock data in mockbackend.py); without, `export --sample` must find
    them."""
    home_schema = """\
    response:
      schema:
        news.id: { type: integer }
        news.title: { type: string }
        news.url: { type: string }
        news.published: { type: string, format: date-time }
        events.id: { type: string }
        events.name: { type: string }
        events.starts: { type: string, format: date-time }
        events.location: { type: object }
        events.location.city: { type: string }
        events.location.room: { type: integer }
        cards.vacation.balance_days: { type: number, title: Vacation days, description: Days of vacation left }
""" if declared else ""
    vacation_schema = """\
    response:
      schema:
        balance_days: { type: number }
""" if declared else ""
    return f"""\
listen: 127.0.0.1:0
workers: 2
{harness.LIMITS}
public_url: https://feed.example.com
connector:
  title: Home Feed
  description: The latest company news, the next events and an employee's vacation balance, in one call.
  version: 1.2.0
  contact: {{ name: Platform team, email: platform@example.com, url: "https://example.com/support" }}
  website: https://example.com
  privacy_policy: https://example.com/privacy
  categories: [Data, Productivity]
  brand_color: "#0a5fb4"
{auth}upstreams:
  news:   {{ url: "http://127.0.0.1:${{NEWS_PORT}}", timeout: 1s }}
  events: {{ url: "http://127.0.0.1:${{EVENTS_PORT}}", timeout: 1s }}
  hr:     {{ url: "http://127.0.0.1:${{HR_PORT}}", timeout: 500ms }}
endpoints:
  - path: /home
    method: GET
    summary: Home feed for one employee
    description: The five latest news, the next five events and the employee's vacation balance.
    params:
      user: {{ in: query, type: integer, required: true, description: Employee id, example: 42 }}
    backends:
      - {{ upstream: news, path: /news, shape: {{ from: items, sort: -published, limit: 5, select: [id, title, url, published] }}, as: news }}
      - {{ upstream: events, path: /events, shape: {{ from: events, sort: starts, limit: 5, select: [id, name, starts, location] }}, as: events }}
      - {{ name: vacation, upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }}, as: cards.vacation }}
{home_schema}  - path: /vacation/{{user}}
    method: GET
    summary: Vacation balance of one employee
    description: How many days of vacation the employee has left.
    params:
      user: {{ in: path, type: integer, description: Employee id, example: 7 }}
    backends:
      - {{ upstream: hr, path: "/employees/{{user}}/vacation", shape: {{ select: [balance_days] }} }}
{vacation_schema}"""


# --------------------------------------------------------------------------
# Helpers.

def need_export(t):
    """Fails clearly (rather than skipping) if this medley has no connector
    commands."""
    rc, out, err = t.run_medley(["connector", "export", "--help"])
    check(rc == 0, "`medley connector export --help` failed: the connector export is not built "
          "into this medley (issue 5)", out + err)


def need_node():
    """The validators must be installed (`make npm-deps`); never skipped."""
    check(shutil.which("node") is not None, "node is not installed (scripts/install-deps.sh adds it)")
    check(os.path.isdir(os.path.join(NPM_DIR, "node_modules", "@stoplight", "spectral-cli")),
          f"the validators are not installed in {NPM_DIR}: run `make npm-deps`")


def export(t, name="pkg", config=None, env=None, extra=()):
    """Exports the connector of `config` into t.dir/name; returns the dir."""
    cfg = t.write_config(config or connector_config(), name=f"{name}.yaml")
    out = os.path.join(t.dir, name)
    rc, so, se = t.run_medley(["connector", "export", "-c", cfg, "--out", out, *extra],
                              env=env or {"NEWS_PORT": "1", "EVENTS_PORT": "1", "HR_PORT": "1"})
    eq(rc, 0, f"`medley connector export` exit code (stderr: {se.strip()[:800]})")
    for f in ("apiDefinition.swagger.json", "apiProperties.json", "icon.png"):
        check(os.path.isfile(os.path.join(out, f)), f"export wrote no {f}")
    return out


def lint(t, pkg):
    """`medley connector lint DIR` -> (exit code, stdout lines)."""
    rc, out, err = t.run_medley(["connector", "lint", pkg])
    return rc, [ln for ln in out.splitlines() if ln.strip()], err


def validate(*pkgs):
    """tests/npm/validate.js --json over the packages -> (exit code, report)."""
    p = subprocess.run(["node", VALIDATE, "--json", *pkgs], capture_output=True, text=True,
                       timeout=NODE_TIMEOUT)
    try:
        report = json.loads(p.stdout)
    except ValueError:
        raise harness.TestFailure(f"validate.js printed no JSON report (exit {p.returncode})",
                                  p.stdout[-3000:] + p.stderr[-3000:])
    return p.returncode, report


def load(pkg, name="apiDefinition.swagger.json"):
    with open(os.path.join(pkg, name)) as f:
        return json.load(f)


def save(pkg, doc, name="apiDefinition.swagger.json"):
    with open(os.path.join(pkg, name), "w") as f:
        json.dump(doc, f, indent=2)


def operations(doc):
    """[(path, method, operation)] in document order."""
    verbs = ("get", "put", "post", "delete", "options", "head", "patch")
    return [(p, m, op) for p, item in doc["paths"].items() if p.startswith("/")
            for m, op in item.items() if m in verbs]


def errors_of(report_entry):
    """All spectral findings of one package in a validate.js report, as text."""
    sp = report_entry["spectral"]["findings"]
    return "\n".join(f"{f['path']}: {f['rule']}: {f['severity']}: {f['message']}" for f in sp)


# --------------------------------------------------------------------------
# (a) the exported package is clean for all three checkers.

def test_exported_package_passes_lint_and_validators(t):
    need_export(t)
    need_node()
    pkg = export(t)
    rc, lines, err = lint(t, pkg)
    eq(lines, [], "medley connector lint findings on the exported package (a complete config)")
    eq(rc, 0, f"medley connector lint exit code (stderr {err.strip()[:300]})")
    rc, report = validate(pkg)
    r = report[pkg]
    check(r["swaggerParser"]["ok"], f"swagger-parser: {r['swaggerParser']['message']}")
    check(r["spectral"]["ok"], "spectral found errors in the exported package", errors_of(r))
    check(r["package"]["ok"], f"package checks failed: {r['package']['problems']}")
    eq(rc, 0, "validate.js exit code")


# --------------------------------------------------------------------------
# (b) each broken package fails in medley's lint and in spectral.

def _break_title(doc):
    doc["info"]["title"] = "Home Feed API"


def _break_summary(doc):
    operations(doc)[0][2]["summary"] = "Get the home feed with " + "the latest company news " * 3


def _break_param_summary(doc):
    op = next(op for _, _, op in operations(doc) if op.get("parameters"))
    del op["parameters"][0]["x-ms-summary"]


def _break_default_schema(doc):
    op = operations(doc)[0][2]
    op["responses"]["default"] = {"description": "An error", "schema": {"type": "object"}}


def _break_duplicate_id(doc):
    ops = operations(doc)
    ops[1][2]["operationId"] = ops[0][2]["operationId"]


def _break_host(doc):
    doc["host"] = "https://" + doc["host"]


BROKEN = [
    # name, edit, rule medley's lint must name, spectral rule that must fire
    ("title-api", _break_title, "info-title-word", "pp-info-title"),
    ("summary-long", _break_summary, "summary-length", "pp-summary"),
    ("param-no-x-ms-summary", _break_param_summary, "param-summary", "pp-parameter"),
    ("default-with-schema", _break_default_schema, "response-default-schema", "pp-operation"),
    ("duplicate-operation-id", _break_duplicate_id, "operation-id-unique", "operation-operationId-unique"),
    ("host-with-scheme", _break_host, "host", "pp-host"),
]


def _broken(t, cases):
    need_export(t)
    need_node()
    base = export(t)
    good = load(base)
    check(len(operations(good)) >= 2, "the export should have two operations")
    dirs = []
    for name, edit, rule, _ in cases:
        d = os.path.join(t.dir, name)
        shutil.copytree(base, d)
        doc = copy.deepcopy(good)
        edit(doc)
        save(d, doc)
        rc, lines, err = lint(t, d)
        check(rc != 0, f"{name}: medley connector lint exited 0", "\n".join(lines))
        hits = [ln for ln in lines if f": {rule}: error: " in ln]
        check(hits, f"{name}: medley connector lint did not name rule {rule!r}", "\n".join(lines))
        dirs.append(d)
    rc, report = validate(*dirs)
    check(rc != 0, "validate.js passed broken packages")
    for (name, _, _, sprule), d in zip(cases, dirs):
        r = report[d]
        check(not r["spectral"]["ok"], f"{name}: spectral passed it", errors_of(r))
        check(any(f["rule"] == sprule and f["severity"] == "error" for f in r["spectral"]["findings"]),
              f"{name}: spectral did not report {sprule}", errors_of(r))


# Two tests of three packages each, so that one stays well inside the
# runner's timeout with medley under valgrind.
def test_broken_info_and_host_fail_lint_and_spectral(t):
    _broken(t, [BROKEN[0], BROKEN[5], BROKEN[1]])


def test_broken_operations_fail_lint_and_spectral(t):
    _broken(t, BROKEN[2:5])


# --------------------------------------------------------------------------
# (c) contract: answers validate against the declared 200 schemas.

def _resolve(doc, schema):
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        check(ref.startswith("#/definitions/"), f"unsupported $ref {ref!r}")
        schema = doc["definitions"][ref[len("#/definitions/"):]]
        seen += 1
        check(seen < 32, f"$ref loop at {ref!r}")
    return schema


def schema_errors(doc, schema, value, where="$"):
    """Where `value` breaks `schema` (a JSON-schema subset: type,
    properties, items, required; members the schema does not declare count
    as errors, since medley's schema is the exact shape)."""
    schema = _resolve(doc, schema)
    t = schema.get("type")
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        None: True,
    }.get(t, False)
    if not ok:
        return [f"{where}: expected {t}, got {type(value).__name__} {json.dumps(value)[:80]}"]
    errs = []
    if t == "object" or (isinstance(value, dict) and "properties" in schema):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{where}.{k}: required but absent")
        for k, v in value.items():
            if k in props:
                errs += schema_errors(doc, props[k], v, f"{where}.{k}")
            elif schema.get("additionalProperties") in (None, False) and props:
                errs.append(f"{where}.{k}: not declared in the schema")
    if t == "array":
        for i, v in enumerate(value):
            errs += schema_errors(doc, schema.get("items", {}), v, f"{where}[{i}]")
    return errs


def test_schema_validator_catches_mismatches(t):
    """The contract test's validator is itself tested: it must fail."""
    doc = {"definitions": {"C": {"type": "object", "properties": {"n": {"type": "integer"}},
                                 "required": ["n"]}}}
    s = {"type": "object", "properties": {"a": {"type": "array", "items": {"$ref": "#/definitions/C"}}}}
    eq(schema_errors(doc, s, {"a": [{"n": 1}]}), [], "a valid body")
    check(schema_errors(doc, s, {"a": [{"n": "1"}]}), "string for integer passed")
    check(schema_errors(doc, s, {"a": [{}]}), "missing required passed")
    check(schema_errors(doc, s, {"a": [{"n": True}]}), "boolean for integer passed")
    check(schema_errors(doc, s, {"a": {}}), "object for array passed")
    check(schema_errors(doc, s, {"a": [], "b": 1}), "undeclared member passed")


def _call(w, doc, path, method, op, cred_query=None, cred_headers=None):
    """Calls one operation on the running medley with its example
    parameters (and a credential, when given); returns the Response."""
    query, headers, url = dict(cred_query or {}), dict(cred_headers or {}), path
    for p in op.get("parameters", []):
        check("x-ms-test-value" in p, f"{method.upper()} {path}: parameter {p.get('name')!r} has no example")
        v = p["x-ms-test-value"]
        text = json.dumps(v) if not isinstance(v, str) else v
        if p["in"] == "query":
            query[p["name"]] = text
        elif p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", urllib.parse.quote(text, safe=""))
        elif p["in"] == "header":
            headers[p["name"]] = text
    eq(doc.get("basePath", "/"), "/", "basePath (public_url has no path)")
    target = url + ("?" + urllib.parse.urlencode(query) if query else "")
    return w.get(target, method=method.upper(), headers=headers)


def _contract(t, declared):
    need_export(t)
    cfg = connector_config(declared)
    w = World(t, config=cfg)
    extra = () if declared else ("--sample",)
    pkg = export(t, config=cfg, env=w.env, extra=extra)
    doc = load(pkg)
    ops = operations(doc)
    eq(len(ops), 2, "operations in the exported definition")
    for path, method, op in ops:
        r = _call(w, doc, path, method, op)
        eq(r.status, 200, f"{method.upper()} {path} status (body {r.body[:300]!r})")
        schema = op["responses"]["200"].get("schema")
        check(schema is not None, f"{op['operationId']}: the 200 response declares no schema")
        errs = schema_errors(doc, schema, r.json())
        check(not errs, f"{op['operationId']}: the answer does not match its schema: {errs[:5]}",
              json.dumps(r.json())[:2000])
    # The spec's own numbers, as a check that the examples were used.
    check(w.hr.calls("/employees/42/vacation") >= 1, "no hr call for the /home example user 42")
    check(w.hr.calls("/employees/7/vacation") >= 1, "no hr call for the /vacation example user 7")
    w.medley.stop()


def test_contract_with_declared_schemas(t):
    """Types from response.schema: every answer matches them."""
    _contract(t, declared=True)


def test_contract_with_sampled_schemas(t):
    """No declared types: `export --sample` infers them from one call."""
    _contract(t, declared=False)


# --------------------------------------------------------------------------
# (d) inbound authentication: each kind exports a clean package, and the
# definition says truthfully how to call medley.

TENANT = "11111111-2222-3333-4444-555555555555"
ENTRA_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
ENTRA_AUDIENCE = "api://medley-feed"
CLIENT_ID = "aaaabbbb-cccc-dddd-eeee-ffff00001111"
FEED_KEY = "feed-key-5d8e2a7c9b1f4e30"

# An endpoint that stays open inside an authenticated connector.
OPEN_ENDPOINT = """\
  - path: /open/{user}
    method: GET
    summary: Open vacation balance
    description: The vacation balance of one employee, for anyone.
    auth: none
    params:
      user: { in: path, type: integer, description: Employee id, example: 5 }
    backends:
      - { upstream: hr, path: "/employees/{user}/vacation", shape: { select: [balance_days] } }
    response:
      schema:
        balance_days: { type: number }
"""

AUTH_KINDS = ("api_key_header", "api_key_query", "basic", "jwt")


def _auth_setup(t, kind):
    """-> (the `auth:` block, what a client needs: a key, a password or a
    signing key), writing the users or JWKS file into t.dir."""
    if kind == "api_key_header":
        where = "header: X-Feed-Key"
    elif kind == "api_key_query":
        where = "query: code"
    if kind.startswith("api_key"):
        return (f"auth:\n  default: apps\n  providers:\n"
                f"    apps: {{ type: api_key, {where}, keys: {{ maker: \"{FEED_KEY}\" }} }}\n"), FEED_KEY
    if kind == "basic":
        users = os.path.join(t.dir, "users")
        with open(users, "w") as f:
            f.write(f"maker:{ta.crypt_hash(ta.PASSWORD)}\n")
        return (f"auth:\n  default: staff\n  providers:\n"
                f"    staff: {{ type: basic, file: \"{users}\" }}\n"), ta.PASSWORD
    key = ta.Key(t.dir, "k1")
    jwks = os.path.join(t.dir, "jwks.json")
    ta.write_jwks(jwks, [key])
    return (f"auth:\n  default: entra\n  providers:\n"
            f"    entra:\n      type: jwt\n      issuer: \"{ENTRA_ISSUER}\"\n"
            f"      audience: [ \"{ENTRA_AUDIENCE}\" ]\n      jwks_file: \"{jwks}\"\n"
            f"      connector: {{ client_id: {CLIENT_ID} }}\n"), key


def _auth_config(t, kind):
    block, secret = _auth_setup(t, kind)
    return connector_config(True, auth=block) + OPEN_ENDPOINT, secret


def _credential(doc, props, secret):
    """(query, headers) to send, read from the exported package the way a
    client (Power Platform) reads it; checks the package's two halves."""
    defs = doc["securityDefinitions"]
    eq(len(defs), 1, "one security definition")
    (scheme, sdef), = defs.items()
    eq(doc.get("security"), [{scheme: []}], "top-level security requirement")
    cps = props["properties"]["connectionParameters"]
    if sdef["type"] == "apiKey":
        eq(cps["api_key"]["type"], "securestring", "api_key connection parameter")
        if sdef["in"] == "header":
            return {}, {sdef["name"]: secret}
        eq(sdef["in"], "query", "apiKey in")
        return {sdef["name"]: secret}, {}
    if sdef["type"] == "basic":
        eq((cps["username"]["type"], cps["password"]["type"]), ("securestring", "securestring"),
           "username and password connection parameters")
        return {}, ta.basic("maker", secret)
    eq(sdef["type"], "oauth2", "security type")
    eq(sdef["flow"], "accessCode", "oauth2 flow")
    s = cps["token"]["oAuthSettings"]
    eq((s["identityProvider"], s["clientId"]), ("aad", CLIENT_ID), "oAuthSettings provider and client")
    eq(s["properties"]["AzureActiveDirectoryResourceId"], ENTRA_AUDIENCE, "the token's resource is the audience")
    eq(s["customParameters"]["tenantId"]["value"], TENANT, "tenant from the issuer")
    tok = ta.token(secret, ta.claims("42", iss=ENTRA_ISSUER, aud=ENTRA_AUDIENCE))
    return {}, ta.bearer(tok)


def test_auth_kinds_pass_lint_and_validators(t):
    need_export(t)
    need_node()
    pkgs = []
    for kind in AUTH_KINDS:
        cfg, _ = _auth_config(t, kind)
        pkg = export(t, name=kind, config=cfg)
        rc, lines, err = lint(t, pkg)
        eq(lines, [], f"{kind}: medley connector lint findings")
        eq(rc, 0, f"{kind}: lint exit code (stderr {err.strip()[:300]})")
        pkgs.append(pkg)
    rc, report = validate(*pkgs)
    for kind, pkg in zip(AUTH_KINDS, pkgs):
        r = report[pkg]
        check(r["swaggerParser"]["ok"], f"{kind}: swagger-parser: {r['swaggerParser']['message']}")
        check(r["spectral"]["ok"], f"{kind}: spectral found errors", errors_of(r))
        check(r["package"]["ok"], f"{kind}: package checks failed: {r['package']['problems']}")
    eq(rc, 0, "validate.js exit code")


def _auth_contract(t, kind):
    need_export(t)
    cfg, secret = _auth_config(t, kind)
    w = World(t, config=cfg)
    pkg = export(t, name=kind, config=cfg, env=w.env)
    doc = load(pkg)
    query, headers = _credential(doc, load(pkg, "apiProperties.json"), secret)
    ops = operations(doc)
    eq(len(ops), 3, "operations in the exported definition")
    open_ops = [p for p, _, op in ops if op.get("security") == []]
    eq(open_ops, ["/open/{user}"], "operations marked open (security: [])")
    for path, method, op in ops:
        if path not in open_ops:
            r = _call(w, doc, path, method, op)
            eq(r.status, 401, f"{kind}: {method.upper()} {path} without the credential")
            r = _call(w, doc, path, method, op, query, headers)
        else:
            r = _call(w, doc, path, method, op)
        eq(r.status, 200, f"{kind}: {method.upper()} {path} status (body {r.body[:300]!r})")
        errs = schema_errors(doc, op["responses"]["200"]["schema"], r.json())
        check(not errs, f"{kind}: {op['operationId']}: the answer does not match its schema: {errs[:5]}")
    check(w.hr.calls("/employees/42/vacation") >= 1, "no hr call for the /home example user 42")
    check(w.hr.calls("/employees/5/vacation") >= 1, "no hr call for the open endpoint's user 5")
    r = w.get("/openapi.json")
    eq(r.status, 200, "/openapi.json needs no credential")
    with open(os.path.join(pkg, "apiDefinition.swagger.json"), "rb") as f:
        check(r.body == f.read(), "GET /openapi.json differs from the exported definition")
    w.medley.stop()


def test_contract_with_api_key_in_a_header(t):
    _auth_contract(t, "api_key_header")


def test_contract_with_api_key_in_the_query(t):
    _auth_contract(t, "api_key_query")


def test_contract_with_basic(t):
    _auth_contract(t, "basic")


def test_contract_with_entra_id_token(t):
    _auth_contract(t, "jwt")
