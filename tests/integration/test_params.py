"""Parameter validation (400 before any backend is called) and routing
(404 for unknown paths, 405 with Allow for a wrong method)."""

from harness import assert_json_error, check, eq


def _assert_invalid_user(w, query):
    before = w.mock_calls()
    err = assert_json_error(w.get("/home" + query), 400, "invalid_param")
    eq(err.get("param"), "user", f"error.param for {query!r}")
    check("user" in err["message"], f"message does not name 'user': {err['message']!r}")
    eq(w.mock_calls(), before, f"backend calls made for the rejected {query!r}")


def test_param_missing_user(t):
    w = t.world()
    _assert_invalid_user(w, "")
    _assert_invalid_user(w, "?other=1")
    w.medley.stop()


def test_param_user_not_integer(t):
    w = t.world()
    _assert_invalid_user(w, "?user=abc")
    w.medley.stop()


def test_param_user_hostile_values(t):
    """Integer parsing is strict and bounded: no partial numbers, no
    overflow, no embedded NUL or separators."""
    w = t.world()
    for q in ("?user=", "?user=4.5", "?user=12abc", "?user=0x10",
              "?user=1%20", "?user=99999999999999999999999999", "?user=" + "9" * 300):
        _assert_invalid_user(w, q)
    # A NUL byte is refused while decoding the query string, before params.
    before = w.mock_calls()
    assert_json_error(w.get("/home?user=%00"), 400, "bad_query")
    eq(w.mock_calls(), before, "backend calls made for a query with %00")
    w.assert_home_ok(42)
    w.medley.stop()


def test_param_valid_user_calls_backends(t):
    w = t.world()
    w.assert_home_ok(42)
    eq(w.mock_calls(), 3, "backend calls for one valid /home")
    w.medley.stop()


def test_route_unknown_path_404(t):
    w = t.world()
    for path in ("/nope", "/home/extra", "/", "/HOME?user=1"):
        before = w.mock_calls()
        assert_json_error(w.get(path), 404, "not_found")
        eq(w.mock_calls(), before, f"backend calls for {path}")
    w.medley.stop()


def test_route_wrong_method_405(t):
    w = t.world()
    for method in ("POST", "DELETE", "PUT"):
        r = w.get("/home?user=42", method=method, body=b"{}" if method != "DELETE" else None)
        assert_json_error(r, 405, "method_not_allowed")
        eq(r.headers.get("allow"), "GET", f"Allow header on {method}")
    eq(w.mock_calls(), 0, "backend calls for wrong methods")
    w.medley.stop()
