#!/usr/bin/env python3
"""Deterministic data set for medley's home-feed benchmark (bench/run.sh).

Writes, into the directory given as the only argument:
  news.json            {"items":[20 articles]}, about 25 KB, stored in no time order
  events.json          {"events":[15 events]}, about 6 KB, stored in no time order
  hr/<id>.json         one vacation record per employee id 1..1000, about 240 bytes
  home_expected_<u>.json  what GET /home?user=<u> must answer, for u = 42 and 7
  SHA256SUMS           sums of the files above, to compare with docs/benchmarks.md

Python 3 standard library only. The text comes from a small 32-bit xorshift
generator with a fixed seed rather than the random module, so the bytes are the
same on every Python 3 version. Some selected values hold an escaped double quote
or non-ASCII UTF-8, so a gateway that mangles strings fails the check.
"""

import hashlib
import json
import os
import sys

N_ARTICLES = 20
N_EVENTS = 15
N_EMPLOYEES = 1000
EXPECTED_USERS = (42, 7)
SEED = 0x6D65646C  # "medl"

WORDS = (
    "quarterly update team office launch customer platform release policy "
    "wellbeing hiring roadmap security training budget partner travel review "
    "support market product network cloud volunteer charity award milestone "
    "feedback survey onboarding mentoring kitchen parking garden library "
    "sustainability energy badge campus shuttle canteen workshop hackathon"
).split()
AUTHORS = ("Ana Souza", "Bjørn Lund", "Chloé Martin", "Dev Patel", "Eun-ji Kim",
           "Farah Haddad", "Gustavo Ruiz", "Hana Novak")
CITIES = ("Lisbon", "Zürich", "Kraków", "Austin", "Osaka", "Nairobi")
ROOMS = ("Atrium", "Room 3.14", "Main hall", "Roof terrace", "Studio B")
EVENT_KINDS = ("All-hands", "Lunch & Learn", "Town hall", "Coffee chat",
               "Security drill", "Book club", "Quarterly \"Demo Day\"")
POLICIES = ("standard-25", "standard-28", "part-time-pro-rata", "senior-30")


class Xorshift32:
    """Marsaglia's xorshift32: tiny, portable, and plenty for filler text."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFF or 1

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def shuffled(self, seq):
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):  # Fisher-Yates
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def words(rng, n):
    return " ".join(rng.pick(WORDS) for _ in range(n))


def sentence_text(rng, length):
    """Sentences of filler words until the text is at least `length` chars."""
    parts = []
    total = 0
    while total < length:
        s = words(rng, 6 + rng.below(8)).capitalize() + "."
        parts.append(s)
        total += len(s) + 1
    return " ".join(parts)


def stamp(minutes_since_epoch_base):
    """UTC timestamp YYYY-MM-DDTHH:MM:SSZ for minutes after 2024-05-01T00:00Z."""
    m = minutes_since_epoch_base
    day, rem = divmod(m, 24 * 60)
    hour, minute = divmod(rem, 60)
    # May has 31 days, June 30: enough room for every offset used here.
    if day < 31:
        month, dom = 5, day + 1
    else:
        month, dom = 6, day - 30
    return "2024-%02d-%02dT%02d:%02d:00Z" % (month, dom, hour, minute)


def make_news(rng):
    # Distinct publication times: distinct minute offsets, then stored shuffled.
    offsets = set()
    while len(offsets) < N_ARTICLES:
        offsets.add(rng.below(30 * 24 * 60))
    times = sorted(offsets)
    order = rng.shuffled(range(N_ARTICLES))
    when = rng.shuffled(times)
    items = []
    for n, idx in enumerate(order):
        aid = "news-%d" % (1001 + idx)
        title = words(rng, 4).capitalize()
        items.append({
            "id": aid,
            "title": title,
            "summary": sentence_text(rng, 140),
            "url": "https://intranet.example.com/news/%s" % aid,
            "published": stamp(when[n]),
            "author": rng.pick(AUTHORS),
            "tags": [rng.pick(WORDS) for _ in range(1 + rng.below(3))],
            "body": sentence_text(rng, 840),
        })
    _assert_distinct(items, "published")
    # The newest article is always selected: its title tests escaped quotes.
    newest = max(items, key=lambda a: a["published"])
    newest["title"] = 'Ask us anything: the "open door" week'
    return {"items": items}


def make_events(rng):
    offsets = set()
    while len(offsets) < N_EVENTS:
        offsets.add(rng.below(40 * 24 * 4) * 15)  # quarter-hour starts
    starts = rng.shuffled(sorted(offsets))
    events = []
    for i in range(N_EVENTS):
        city = rng.pick(CITIES)
        events.append({
            "id": "evt-%d" % (101 + i),
            "name": "%s #%d" % (rng.pick(EVENT_KINDS), i + 1),
            "starts": stamp(starts[i]),
            "ends": stamp(starts[i] + 30 + 15 * rng.below(8)),
            "location": "%s office, %s" % (city, rng.pick(ROOMS)),
            "description": sentence_text(rng, 170),
            "organizer": rng.pick(AUTHORS),
        })
    _assert_distinct(events, "starts")
    # The first event is always selected: its location tests non-ASCII UTF-8.
    first = min(events, key=lambda e: e["starts"])
    first["location"] = "Zürich office, Café Kraków"
    return {"events": events}


def make_hr(emp_id):
    """The vacation record; the balance formula is the benchmark's contract."""
    day = 1 + (emp_id * 11) % 27
    return {
        "employee": emp_id,
        "balance_days": ((emp_id * 37) % 29) + 0.5,
        "accrual_per_month": (2.0, 2.08, 2.25, 2.5)[emp_id % 4],
        "policy": POLICIES[emp_id % len(POLICIES)],
        "history": [
            {"date": "2024-01-%02d" % day, "days": 1 + emp_id % 3, "type": "vacation"},
            {"date": "2024-02-%02d" % day, "days": 0.5, "type": "personal"},
            {"date": "2024-03-%02d" % day, "days": 2 + emp_id % 4, "type": "vacation"},
        ],
    }


def expected_home(news, events, user):
    latest = sorted(news["items"], key=lambda a: a["published"], reverse=True)[:5]
    first = sorted(events["events"], key=lambda e: e["starts"])[:5]
    return {
        "news": [{k: a[k] for k in ("id", "title", "url", "published")} for a in latest],
        "events": [{k: e[k] for k in ("id", "name", "starts", "location")} for e in first],
        "cards": {"vacation": {"balance_days": make_hr(user)["balance_days"]}},
    }


def _assert_distinct(rows, key):
    if len({r[key] for r in rows}) != len(rows):
        raise SystemExit("gen_data: duplicate %s values" % key)


def dump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write(path, data, sums, root):
    with open(path, "wb") as f:
        f.write(data)
    sums.append((hashlib.sha256(data).hexdigest(), os.path.relpath(path, root)))


def main(argv):
    if len(argv) != 2:
        print("usage: gen_data.py OUTDIR", file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(os.path.join(out, "hr"), exist_ok=True)
    rng = Xorshift32(SEED)
    news = make_news(rng)
    events = make_events(rng)
    sums = []
    write(os.path.join(out, "news.json"), dump(news), sums, out)
    write(os.path.join(out, "events.json"), dump(events), sums, out)
    hr_digest = hashlib.sha256()
    for emp_id in range(1, N_EMPLOYEES + 1):
        body = dump(make_hr(emp_id))
        hr_digest.update(body)
        with open(os.path.join(out, "hr", "%d.json" % emp_id), "wb") as f:
            f.write(body)
    sums.append((hr_digest.hexdigest(), "hr/1..%d.json (concatenated)" % N_EMPLOYEES))
    for user in EXPECTED_USERS:
        write(os.path.join(out, "home_expected_%d.json" % user),
              dump(expected_home(news, events, user)), sums, out)
    with open(os.path.join(out, "SHA256SUMS"), "w", encoding="utf-8") as f:
        for digest, name in sums:
            f.write("%s  %s\n" % (digest, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
