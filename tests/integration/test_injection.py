"""SSRF and header injection through templates: a path parameter can never
add path segments or a query to the upstream URL, a query value can never
add a header line, and `..` as a path parameter is refused."""

import mockbackend as mb
from harness import assert_json_error, check, eq


def _hr_paths(w):
    return [r.target for r in w.hr.seen()]


def _assert_single_segment(w, encoded_marker):
    seen = w.hr.seen()
    check(seen, "the hr mock received no request at all")
    for req in seen:
        segs = req.path.split("/")
        check(len(segs) == 4 and segs[1] == "employees" and segs[3] == "vacation",
              f"upstream path is not /employees/<one segment>/vacation: {req.target!r}")
        check("/admin" not in req.target, f"upstream path escaped: {req.target!r}")
        check(encoded_marker in segs[2].lower(),
              f"segment {segs[2]!r} lacks {encoded_marker!r} (target {req.target!r})")
        eq(req.query, "", f"query smuggled into {req.target!r}")


def test_path_param_encoded_slashes_stay_one_segment(t):
    w = t.world()
    w.get("/u/..%2F..%2Fadmin?name=x")
    _assert_single_segment(w, "%2f")
    w.hr.clear()
    w.get("/u/%2E%2E%2Fadmin?name=x")
    _assert_single_segment(w, "%2f")
    w.medley.stop()


def test_path_param_query_and_fragment_chars_encoded(t):
    w = t.world()
    w.get("/u/a%3Fb%3Dc%23d?name=x")
    _assert_single_segment(w, "%3f")
    check("%23" in w.hr.seen()[0].path.lower(), f"'#' not encoded: {_hr_paths(w)}")
    w.medley.stop()


def test_path_param_dotdot_400(t):
    w = t.world()
    for path in ("/u/..?name=x", "/u/%2E%2E?name=x", "/u/%2e.?name=x"):
        assert_json_error(w.get(path), 400)
    eq(w.hr.calls(), 0, f"hr calls for '..' ids: {_hr_paths(w)}")
    w.medley.stop()


def test_header_template_value_forwarded(t):
    w = t.world()
    r = w.get("/u/42?name=alice")
    eq(r.status, 200, f"status (body {r.body[:300]!r})")
    eq(r.json(), {"vacation": mb.vacation_doc(42)}, "body of /u/42")
    seen = w.hr.seen()
    eq(len(seen), 1, "hr requests")
    eq(seen[0].path, "/employees/42/vacation", "upstream path")
    eq(seen[0].header("x-user"), "alice", "X-User header at the upstream")
    w.medley.stop()


def test_header_injection_crlf(t):
    w = t.world()
    for q in ("a%0D%0AX-Evil:%201", "a%0AX-Evil:%201", "a%0DX-Evil:%201", "a%00b",
              "a%0D%0A%0D%0AGET%20/admin%20HTTP/1.1"):
        w.hr.clear()
        r = w.get(f"/u/42?name={q}")
        check(r.status in (200, 400), f"status {r.status} for name={q}")
        for req in w.hr.seen():
            names = [n.strip().lower() for n, _ in req.header_lines]
            check("x-evil" not in names,
                  f"X-Evil header reached the upstream for name={q}: {req.raw_head!r}")
            for name, value in req.header_lines:
                check(not any(ch in value for ch in "\r\n\x00"),
                      f"control character in upstream header {name}: {value!r}")
            eq(req.path, "/employees/42/vacation", "upstream path")
        if r.status == 200:
            eq(len(w.hr.seen()), 1, f"hr requests for name={q}")
    # The gateway and its upstream connection are still healthy.
    w.hr.clear()
    eq(w.get("/u/42?name=bob").status, 200, "status after injection attempts")
    eq(w.hr.seen()[0].header("x-user"), "bob", "X-User after injection attempts")
    w.medley.stop()
