"""`medley connector export` and GET /openapi.json on the real binary.

The home-feed config the harness uses, plus public_url, a connector block
and an example for `user`, is exported (with and without --sample against
the mock backends) and the files are read back with Python's json: the
Swagger structure, the operationId, the typed 200 schema of the shaped
output, the error responses, apiProperties.json and the icon's PNG
header. The running binary's /openapi.json must be byte for byte the
exported definition. With inbound authentication the export describes
the provider (an API key here; every kind is in test_connector_lint.py
and the unit tests), marks `auth: none` endpoints `security: []`, and
refuses endpoints guarded by two providers. Expected values come from the config, the mock data
and Power Platform's rules, never from medley's output.
"""

import json
import os
import struct
import zlib

import harness
import test_auth
from harness import check, eq, http_get

PUBLIC = """\
public_url: https://feed.example.com
connector:
  title: Home Feed
  description: The latest company news, the next events and an employee's vacation balance, in one call.
  contact: { name: Platform team, email: platform@example.com }
  website: https://example.com
  privacy_policy: https://example.com/privacy
  categories: [Data, Productivity]
  brand_color: "#0a5fb4"
"""


def connector_config(**kw):
    cfg = harness.home_config(**kw)
    cfg = cfg.replace("{ in: query, type: integer, required: true }",
                      "{ in: query, type: integer, required: true, example: \"42\" }")
    check("example" in cfg, "the harness config changed: no place for the example")
    return PUBLIC + cfg


def export(t, cfg_text, env, args=(), name="pkg", expect_rc=0):
    path = t.write_config(cfg_text, f"{name}.yaml")
    out = os.path.join(t.dir, name)
    rc, so, se = t.run_medley(["connector", "export", "-c", path, "--out", out, *args], env=env)
    eq(rc, expect_rc, f"export exit code (stderr {se.strip()[:1500]!r})")
    return out, so, se


def load(pkg, name="apiDefinition.swagger.json"):
    with open(os.path.join(pkg, name), "rb") as f:
        return json.loads(f.read())


def op200(doc, path="/home"):
    return doc["paths"][path]["get"]["responses"]["200"]


def test_export_with_sample_types_the_home_feed(t):
    w = t.world(config=connector_config())
    pkg, so, se = export(t, connector_config(), w.env, ["--sample"])
    doc = load(pkg)
    eq(doc["swagger"], "2.0", "swagger")
    eq(doc["info"]["title"], "Home Feed", "info.title")
    eq(doc["info"]["version"], "1.0.0", "info.version default")
    eq(doc["host"], "feed.example.com", "host (bare, no scheme)")
    check("://" not in doc["host"], f"host has a scheme: {doc['host']}")
    eq(doc["basePath"], "/", "basePath")
    eq(doc["schemes"], ["https"], "schemes")
    eq(doc["securityDefinitions"], {}, "securityDefinitions")
    check("security" not in doc, "no security requirement without inbound auth")
    meta = {m["propertyName"]: m["propertyValue"] for m in doc["x-ms-connector-metadata"]}
    eq(meta, {"Website": "https://example.com", "Privacy policy": "https://example.com/privacy",
              "Categories": "Data;Productivity"}, "x-ms-connector-metadata")

    op = doc["paths"]["/home"]["get"]
    eq(op["operationId"], "GetHome", "operationId")
    check(op["summary"] and op["description"] and op["summary"] != op["description"],
          f"summary/description: {op['summary']!r} / {op['description']!r}")
    user = op["parameters"][0]
    eq((user["name"], user["in"], user["type"], user["required"], user["x-ms-visibility"]),
       ("user", "query", "integer", True, "important"), "the user parameter")
    check(user.get("x-ms-summary"), "user has no x-ms-summary")

    schema = op200(doc)["schema"]
    news = schema["properties"]["news"]
    eq(news["type"], "array", "news type")
    item = news["items"]["properties"]
    eq(list(item), ["id", "title", "url", "published"], "news item properties, in select order")
    eq(item["title"]["type"], "string", "news[].title type")
    eq(item["id"]["type"], "integer", "news[].id type (sampled: ids are 100..107)")
    eq(item["published"].get("format"), "date-time", "news[].published format (RFC 3339 in the data)")
    for k, v in item.items():
        check(v.get("x-ms-summary") and v.get("description"), f"news[].{k} lacks x-ms-summary/description")
    ev = schema["properties"]["events"]["items"]["properties"]
    eq(ev["id"]["type"], "string", "events[].id (\"ev-0\"...)")
    eq(ev["location"]["type"], "object", "events[].location (an object in the data)")
    eq(ev["location"]["properties"]["room"]["type"], "integer", "events[].location.room")
    vac = schema["properties"]["cards"]["properties"]["vacation"]["properties"]
    eq(vac["balance_days"]["type"], "number", "cards.vacation.balance_days (17.5)")
    check("_errors" in schema["properties"], "errors_field is in the schema")

    responses = op["responses"]
    check("schema" not in responses["default"], "default response has a schema")
    check(responses["default"].get("description"), "default response has no description")
    for code in ("400", "404", "502", "504"):
        eq(responses[code]["schema"], {"$ref": "#/definitions/Error"}, f"{code} schema")
    err = doc["definitions"]["Error"]["properties"]["error"]["properties"]
    eq(err["code"]["type"], "string", "Error.error.code")

    ids = [o["operationId"] for item in doc["paths"].values() for o in item.values()]
    eq(len(ids), len(set(i.lower() for i in ids)), "operationIds unique")
    eq(sorted(ids), ["GetHome", "GetNewsRaw", "GetUById"], "operationIds")
    # The passthrough was sampled too: news_doc() is {"items": [...]}.
    raw = op200(doc, "/news-raw")["schema"]
    eq(raw["properties"]["items"]["items"]["properties"]["author"]["properties"]["id"]["type"], "integer",
       "/news-raw items[].author.id")
    # /u/{id} has no example for its required param: not sampled, and said so.
    check("warning: GET /u/{id}: not sampled: the required param 'id' has no example" in se,
          "no warning for the unsampled /u/{id}", se)
    eq(w.hr.calls("/employees/42/vacation"), 1, "the sample called hr with the example user")

    props = load(pkg, "apiProperties.json")["properties"]
    eq(props["iconBrandColor"], "#0a5fb4", "iconBrandColor")
    eq(props["connectionParameters"], {}, "connectionParameters")
    eq(props["publisher"], "Platform team", "publisher")
    with open(os.path.join(pkg, "icon.png"), "rb") as f:
        png = f.read()
    eq(png[:8], b"\x89PNG\r\n\x1a\n", "icon.png signature")
    length, ctype = struct.unpack(">I4s", png[8:16])
    eq((length, ctype), (13, b"IHDR"), "first chunk")
    eq(struct.unpack(">II", png[16:24]), (230, 230), "icon size")
    eq(struct.unpack(">I", png[29:33])[0], zlib.crc32(png[12:29]), "IHDR CRC")
    w.medley.stop()


def test_without_sample_fields_are_strings_with_warnings(t):
    env = {"NEWS_PORT": "1", "EVENTS_PORT": "1", "HR_PORT": "1"}
    pkg, so, se = export(t, connector_config(), env)
    item = op200(load(pkg))["schema"]["properties"]["news"]["items"]["properties"]
    eq(item["id"]["type"], "string", "unsampled news[].id")
    check("warning: GetHome: property 'news[].title' has no known type; typed string" in se,
          "no warning naming news[].title", se)
    check("wrote apiDefinition.swagger.json (3 operations)" in so, f"export said {so!r}")
    # A passthrough with nothing known has no schema.
    check("schema" not in op200(load(pkg), "/news-raw"), "unsampled passthrough has a schema")


def test_openapi_json_equals_the_export(t):
    cfg = connector_config()
    w = t.world(config=cfg)
    pkg, _, _ = export(t, cfg, w.env)
    with open(os.path.join(pkg, "apiDefinition.swagger.json"), "rb") as f:
        exported = f.read()
    r = w.get("/openapi.json")
    eq(r.status, 200, "GET /openapi.json status")
    check(r.headers.get("content-type", "").startswith("application/json"),
          f"content-type {r.headers.get('content-type')!r}")
    check(r.body == exported, "GET /openapi.json differs from the exported definition",
          f"served {len(r.body)} bytes, exported {len(exported)}")
    r = w.get("/openapi.json?x=1", method="HEAD")
    eq((r.status, r.body), (200, b""), "HEAD /openapi.json")
    harness.assert_json_error(w.get("/openapi.json", method="POST"), 405, "method_not_allowed")
    w.assert_home_ok(42)  # the endpoints still work
    w.medley.stop()


def test_no_public_url_no_openapi_json(t):
    w = t.world()
    harness.assert_json_error(w.get("/openapi.json"), 404, "not_found")
    w.medley.stop()


def test_an_endpoint_may_claim_the_path(t):
    cfg = connector_config().replace(
        "  - path: /news-raw\n", "  - path: /openapi.json\n    operation_id: GetOwnDefinition\n"
        "    passthrough: { upstream: news, path: /news }\n  - path: /news-raw\n")
    w = t.world(config=cfg)
    r = w.get("/openapi.json")
    eq(r.status, 200, "GET /openapi.json status")
    check("items" in r.json() and "swagger" not in r.json(), "the endpoint did not answer /openapi.json")
    w.medley.stop()


def test_refuses_a_non_empty_folder_unless_forced(t):
    env = {"NEWS_PORT": "1", "EVENTS_PORT": "1", "HR_PORT": "1"}
    pkg, _, _ = export(t, connector_config(), env)
    with open(os.path.join(pkg, "notes.txt"), "w") as f:
        f.write("keep me")
    _, _, se = export(t, connector_config(), env, expect_rc=1)
    check("is not empty (use --force" in se, "no message about the folder", se)
    export(t, connector_config(), env, ["--force"])
    with open(os.path.join(pkg, "notes.txt")) as f:
        eq(f.read(), "keep me", "--force touched another file")


def test_export_errors(t):
    env = {"NEWS_PORT": "1", "EVENTS_PORT": "1", "HR_PORT": "1"}
    # No public_url: nothing to export.
    _, _, se = export(t, harness.home_config(), env, name="nourl", expect_rc=1)
    check("'public_url' is required to export a connector" in se, "no public_url message", se)
    # Two endpoints deriving one operationId: an error, in `check` too.
    dup = connector_config() + ("  - path: /news_raw\n"
                                "    passthrough: { upstream: news, path: /news }\n")
    path = t.write_config(dup, "dup.yaml")
    _, _, se = export(t, dup, env, name="dup", expect_rc=1)
    check("operationId 'GetNewsRaw' of GET /news_raw is also the operationId of GET /news-raw" in se,
          "no duplicate operationId message", se)
    check(f"{path}:" in se or "dup.yaml:" in se, "the message does not name the file", se)
    rc, _, se = t.run_medley(["check", "-c", path], env=env)
    eq(rc, 1, f"check on duplicate operationIds (stderr {se!r})")
    # Usage errors.
    rc, _, se = t.run_medley(["connector", "export", "-c", path])
    eq(rc, 2, "export without --out")
    rc, _, se = t.run_medley(["connector", "frobnicate"])
    eq(rc, 2, "unknown connector command")
    rc, _, _ = t.run_medley(["connector", "lint"])
    eq(rc, 2, "lint without a folder")


KEY = "apps-key-7f3c9a1e5b2d4f60"


def auth_env(t):
    users = os.path.join(t.dir, "users")
    with open(users, "w") as f:
        f.write("alice:" + test_auth.crypt_hash("a password") + "\n")
    return {"NEWS_PORT": "1", "EVENTS_PORT": "1", "HR_PORT": "1", "USERS_FILE": users}
API_KEY_AUTH = f"""\
auth:
  default: apps
  providers:
    apps: {{ type: api_key, header: X-Feed-Key, keys: {{ powerapps: "{KEY}" }} }}
    staff: {{ type: basic, file: "${{USERS_FILE}}" }}
"""


def test_export_describes_the_api_key(t):
    env = auth_env(t)
    cfg = API_KEY_AUTH + connector_config().replace(
        "  - path: /news-raw\n", "  - path: /news-raw\n    auth: none\n")
    pkg, _, _ = export(t, cfg, env)
    doc = load(pkg)
    # Swagger 2.0 apiKey security, and the one requirement at the top.
    eq(doc["securityDefinitions"], {"api_key": {"type": "apiKey", "in": "header", "name": "X-Feed-Key"}},
       "securityDefinitions")
    eq(doc["security"], [{"api_key": []}], "security")
    eq(doc["paths"]["/news-raw"]["get"].get("security"), [], "the open endpoint's security")
    check("security" not in doc["paths"]["/home"]["get"], "a protected operation repeats the requirement")
    # The maker portal's API key parameter.
    props = load(pkg, "apiProperties.json")["properties"]
    eq(props["connectionParameters"], {"api_key": {
        "type": "securestring",
        "uiDefinition": {"displayName": "API Key", "description": "The API Key for this api",
                         "tooltip": "Provide your API Key",
                         "constraints": {"tabIndex": 2, "clearText": False, "required": "true"}}}},
       "connectionParameters")
    # This config lacks a passthrough schema and a contact url (lint's
    # business elsewhere); no finding may be about security.
    rc, out, err = t.run_medley(["connector", "lint", pkg])
    check("security" not in out and "connection-parameter" not in out, "lint found security problems", out)


def test_two_providers_are_refused(t):
    env = auth_env(t)
    cfg = API_KEY_AUTH + connector_config().replace(
        "  - path: /news-raw\n", "  - path: /news-raw\n    auth: staff\n")
    path = t.write_config(cfg, "two.yaml")
    line = cfg.splitlines().index("    auth: staff") + 1
    _, _, se = export(t, cfg, env, name="two", expect_rc=1)
    check(f"two.yaml:{line}:5: a custom connector has exactly one connection authentication" in se,
          "no error at the second provider's auth line", se)
    check("GET /home uses auth provider 'apps' (api_key)" in se and "GET /news-raw ('staff', basic)" in se,
          "the error does not name both endpoints and providers", se)
    check(not os.path.exists(os.path.join(t.dir, "two")), "a package was written")
    rc, _, se = t.run_medley(["check", "-c", path], env=env)
    eq(rc, 1, f"check with two providers and a public_url (stderr {se!r})")
