"""Command line: --version, --help, `check` on good and bad configs, and the
built-in `demo`."""

import re

from harness import check, eq, home_config, http_get
from mockbackend import closed_port

PORT_ENV = {"NEWS_PORT": "18081", "EVENTS_PORT": "18082", "HR_PORT": "18083"}


def test_version(t):
    rc, out, err = t.run_medley(["--version"])
    eq(rc, 0, "--version exit code")
    check(re.match(r"^medley \d+\.\d+\.\d+\S*\s*$", out),
          f"--version printed {out!r} (expected 'medley X.Y.Z')", err)


def test_help(t):
    rc, out, err = t.run_medley(["--help"])
    eq(rc, 0, "--help exit code")
    check("run" in out and "check" in out, f"--help output lacks the commands: {out!r}", err)


def test_check_good_config(t):
    path = t.write_config(home_config(), "good.yaml")
    rc, out, err = t.run_medley(["check", "-c", path], env=PORT_ENV)
    eq(rc, 0, f"check on the spec's example config exit code (stderr {err!r})")


def test_check_unknown_key_reports_file_and_line(t):
    text = (
        "listen: 127.0.0.1:0\n"                                   # 1
        "workers: 2\n"                                            # 2
        "upstreams:\n"                                            # 3
        "  news:\n"                                               # 4
        "    url: \"http://127.0.0.1:${NEWS_PORT}\"\n"            # 5
        "    timout: 1s\n"                                        # 6
        "endpoints:\n"
        "  - path: /n\n"
        "    backends:\n"
        "      - { upstream: news, path: /news }\n")
    path = t.write_config(text, "typo.yaml")
    rc, out, err = t.run_medley(["check", "-c", path], env=PORT_ENV)
    eq(rc, 1, "check exit code on an unknown key")
    check(f"{path}:6:" in err, f"stderr lacks '{path}:6:': {err!r}")
    check("timout" in err, f"stderr does not name the key 'timout': {err!r}")


def test_check_rejects_hostile_configs(t):
    """Broken configs are errors (exit 1 with FILE:LINE), never crashes."""
    cases = {
        "notyaml.yaml": "listen: [unclosed\n  - {\n",
        "badtype.yaml": home_config().replace("workers: 2", "workers: many"),
        "badref.yaml": home_config().replace("upstream: events", "upstream: nosuch"),
        "badsize.yaml": home_config().replace("max_body_bytes: 64k", "max_body_bytes: 64q"),
    }
    for name, text in cases.items():
        path = t.write_config(text, name)
        rc, out, err = t.run_medley(["check", "-c", path], env=PORT_ENV)
        eq(rc, 1, f"check exit code for {name} (stderr {err!r})")
        check(path in err, f"{name}: stderr does not name the file: {err!r}")


def test_run_with_missing_config_fails(t):
    rc, out, err = t.run_medley(["run", "-c", t.dir + "/nope.yaml", "--port",
                                 str(closed_port())])
    check(rc > 0, f"run with a missing config exited {rc} (expected an error exit)", err)


def test_demo_serves_home(t):
    m = t.start_demo()
    r = http_get(m.port, "/home?user=42")
    eq(r.status, 200, f"demo /home status (body {r.body[:300]!r})")
    doc = r.json()
    for key in ("news", "events", "cards"):
        check(key in doc, f"demo /home lacks '{key}': {doc!r}")
    check(isinstance(doc["cards"], dict) and "vacation" in doc["cards"],
          f"demo /home lacks cards.vacation: {doc!r}")
    m.stop()
