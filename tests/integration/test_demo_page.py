"""The demo page, rendered by a real headless Chromium: the page's script
fetches /home through medley and draws the feed. We compare what the browser
drew with what /home answers (fetched separately), so the test fails if the
page, the passthrough of the page, or /home breaks."""
import html
import os
import shutil
import subprocess
import tempfile

from harness import check, eq, http_get

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _render(url):
    profile = tempfile.mkdtemp(prefix="medley-chromium-")
    try:
        p = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--user-data-dir=" + profile, "--virtual-time-budget=5000",
             "--dump-dom", url],
            capture_output=True, timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_demo_page_renders_home_feed(t):
    check(CHROMIUM is not None, "chromium is not installed (make test installs it: scripts/install-deps.sh)")
    m = t.start_demo()
    home = http_get(m.port, "/home?user=42").json()
    rc, dom, err = _render(f"http://127.0.0.1:{m.port}/")
    eq(rc, 0, f"chromium exit status (stderr: {err[-500:]!r})")
    text = html.unescape(dom)
    for item in home["news"]:
        check(item["title"] in text, f"news title {item['title']!r} not rendered")
    for ev in home["events"]:
        check(ev["name"] in text, f"event {ev['name']!r} not rendered")
    balance = home["cards"]["vacation"]["balance_days"]
    check(str(balance) in text, f"vacation balance {balance} not rendered")
    m.stop()
