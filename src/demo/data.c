/*
 * data.c - generates the demo documents, see data.h.
 *
 * The text is assembled from fixed word lists picked by a small xorshift64
 * PRNG with a fixed seed; times are fixed epochs offset by PRNG-chosen slots,
 * formatted in UTC. Nothing depends on the clock, the locale or the host, so
 * the bytes are identical on every run and every machine.
 *
 * Writing goes through a sticky-error writer (jw_t): after the first failure
 * every further append is a no-op and the error is reported once at the end,
 * which keeps the generators free of per-call error plumbing. Strings are
 * escaped by json/write.h, so the output is valid JSON whatever the lists
 * hold.
 */
#include "demo/data.h"
#include "core/common.h"
#include "json/write.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- PRNG ---------------------------------------------------------------- */

typedef struct rng {
    uint64_t s; /* never 0 */
} rng_t;

static void rng_seed(rng_t *r, uint64_t seed)
{
    r->s = seed ? seed : 0x6d65646c6579ull; /* "medley" */
}

/* xorshift64: tiny, and good enough to pick words. */
static uint32_t rng_next(rng_t *r)
{
    return md_xorshift32(&r->s);
}

static size_t rng_below(rng_t *r, size_t n)
{
    return n ? rng_next(r) % n : 0;
}

/* Fisher-Yates over 0..n-1. */
static void rng_permute(rng_t *r, size_t *perm, size_t n)
{
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

#define PICK(r, list) ((list)[rng_below((r), MD_ARRAY_LEN(list))])

/* ---- sticky-error JSON writer -------------------------------------------- */

typedef struct jw {
    md_buf_t *b;
    int rc;
} jw_t;

static void jw_raw(jw_t *w, const char *s)
{
    if (w->rc == MD_OK)
        w->rc = md_buf_append_str(w->b, s);
}

static void jw_fmt(jw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jw_fmt(jw_t *w, const char *fmt, ...)
{
    if (w->rc != MD_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->rc = md_buf_vprintf(w->b, fmt, ap);
    va_end(ap);
}

/* Appends s as a JSON string literal. */
static void jw_str(jw_t *w, const char *s)
{
    if (w->rc == MD_OK)
        w->rc = md_json_write_string(w->b, s, strlen(s));
}

/* Appends `"key":"value"`, preceded by a comma unless `first`. */
static void jw_member(jw_t *w, bool first, const char *key, const char *value)
{
    if (!first)
        jw_raw(w, ",");
    if (w->rc == MD_OK)
        w->rc = md_json_write_key(w->b, key, strlen(key));
    jw_str(w, value);
}

/* ---- time ---------------------------------------------------------------- */

#define NEWS_NEWEST_EPOCH 1716709920   /* 2024-05-26T07:52:00Z */
#define EVENTS_FIRST_DAY_EPOCH 1717372800 /* 2024-06-03T00:00:00Z */
#define VACATION_YEAR_EPOCH 1704067200 /* 2024-01-01T00:00:00Z */

static void format_utc(char out[32], int64_t epoch, const char *fmt)
{
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 32, fmt, &tm) == 0)
        out[0] = '\0';
}

/* ---- word lists ---------------------------------------------------------- */

static const char *const subjects[] = {
    "Platform team", "Finance", "The Berlin office", "People Ops", "Security",
    "Facilities", "The data team", "Customer Success", "Engineering", "Legal",
    "Design", "Sales EMEA", "The Lisbon office", "IT Support",
};

static const char *const verbs[] = {
    "ships", "announces", "opens", "launches", "rolls out", "completes",
    "pilots", "publishes", "celebrates", "updates",
};

/* One per article (shuffled), so that titles are distinct. */
static const char *const objects[MD_DEMO_NEWS_COUNT] = {
    "a new expense tool", "the Q3 roadmap", "hybrid work guidelines",
    "on-call rotation changes", "a bike-to-work programme",
    "the 2024 engagement survey", "single sign-on for all apps",
    "a quieter floor plan", "its first carbon report", "a mentoring circle",
    "faster CI pipelines", "the travel policy refresh", "a new parental leave policy",
    "the internal API catalogue", "a company-wide hack week", "the laptop refresh cycle",
    "a learning budget for everyone", "the new meeting room booking system",
    "a 24/7 help desk", "the customer advisory board",
};

static const char *const summary_tails[] = {
    "Here is what changes for you and when.",
    "The rollout starts next Monday and takes about two weeks.",
    "Questions are welcome in the usual channel.",
    "A short FAQ and the timeline are below.",
    "Nothing changes for most teams; a few will notice right away.",
};

static const char *const body_sentences[] = {
    "The work started as a small experiment in one team and grew once the first results came in.",
    "Feedback from the pilot group was clear: fewer steps, fewer surprises and less waiting.",
    "We measured the old process for a month before changing anything, so the gains are real numbers.",
    "If you rely on the current setup, nothing breaks today; the old path stays available until the end of the quarter.",
    "Team leads received a short briefing last week and can answer most questions.",
    "The budget for this comes from savings elsewhere, not from team allowances.",
    "A recording of the kickoff session is on the intranet for anyone who missed it.",
    "We will review the results in three months and publish them here.",
    "Special thanks go to everyone who volunteered for early testing and wrote detailed notes.",
    "Accessibility was part of the plan from the first day rather than an afterthought.",
    "The change follows the guidance agreed with the works council in spring.",
    "You can opt out during the first month if it does not fit the way your team works.",
    "Most of the effort went into the boring parts: migration, documentation and support.",
    "Help desk hours are extended during the transition, including early mornings.",
    "The decision was made after comparing three options against cost, effort and risk.",
    "Remote colleagues get the same access and the same support as those in the office.",
};

static const char *const authors[] = {
    "Amira Haddad", "Jonas Weber", "Lucia Ferreira", "Kenji Tanaka", "Sofia Rossi",
    "Daniel Okafor", "Marta Nowak", "Liam O'Brien", "Priya Nair", "Erik Lindqvist",
};

static const char *const tags[] = {
    "company", "engineering", "people", "security", "office", "finance",
    "tools", "wellbeing", "sustainability", "travel", "learning", "it",
};

static const char *const event_kinds[] = {
    "Brown-bag", "Workshop", "Town hall", "Meetup", "Training", "Panel",
};

/* One per event (shuffled), so that names are distinct. */
static const char *const event_topics[MD_DEMO_EVENTS_COUNT] = {
    "Observability 101", "Writing good design docs", "Quarterly results",
    "Accessibility in practice", "Negotiation basics", "Incident reviews without blame",
    "Our cloud bill explained", "Career paths in engineering", "Mental health at work",
    "Threat modelling for everyone", "Customer stories", "Public speaking",
    "Data privacy essentials", "Pairing and mob programming", "The product roadmap",
};

static const char *const locations[] = {
    "Berlin / Spree room", "Berlin / Tempelhof hall", "Lisbon / Atlantico",
    "Lisbon / Rooftop", "Online (video call)", "Amsterdam / Canal room",
};

static const char *const organizers[] = {
    "People Ops", "Platform team", "Finance", "Security", "Engineering Guild",
    "Product", "Learning and Development",
};

static const char *const event_pitches[] = {
    "Bring your questions; there is time for discussion at the end.",
    "No preparation needed, slides are shared afterwards.",
    "Seats are limited, so please register on the intranet.",
    "Snacks provided for those on site; the session is also streamed.",
    "Aimed at beginners, but experienced colleagues are welcome to join.",
};

static const char *const history_types[] = {
    "taken", "taken", "carry_over", "adjustment",
};

/* ---- news ---------------------------------------------------------------- */

#define NEWS_BODY_MIN_CHARS 880
#define NEWS_BODY_MAX_CHARS 2048

/* Joins "Subject verb object" into out. */
static void headline(char *out, size_t outlen, const char *s, const char *v, const char *o)
{
    snprintf(out, outlen, "%s %s %s", s, v, o);
}

static void write_tags(jw_t *w, rng_t *r)
{
    size_t perm[MD_ARRAY_LEN(tags)];
    rng_permute(r, perm, MD_ARRAY_LEN(tags));
    size_t n = 2 + rng_below(r, 2);
    jw_raw(w, ",\"tags\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            jw_raw(w, ",");
        jw_str(w, tags[perm[i]]);
    }
    jw_raw(w, "]");
}

/* The body opens with the headline, then distinct sentences in a shuffled
 * order until it reaches ~900 characters (the list holds well over that). */
static void write_body(jw_t *w, rng_t *r, const char *head)
{
    size_t perm[MD_ARRAY_LEN(body_sentences)];
    md_buf_t body;
    md_buf_init(&body, NEWS_BODY_MAX_CHARS);
    rng_permute(r, perm, MD_ARRAY_LEN(body_sentences));
    int rc = md_buf_printf(&body, "%s.", head);
    for (size_t i = 0; i < MD_ARRAY_LEN(perm) && rc == MD_OK && body.len < NEWS_BODY_MIN_CHARS; i++)
        rc = md_buf_printf(&body, " %s", body_sentences[perm[i]]);
    if (w->rc == MD_OK)
        w->rc = rc;
    jw_raw(w, ",\"body\":");
    jw_str(w, body.data);
    md_buf_free(&body);
}

static void write_article(jw_t *w, rng_t *r, size_t i, const char *object, size_t slot)
{
    char id[32], head[160], summary[320], url[96], when[32];
    const char *subject = PICK(r, subjects);
    const char *verb = PICK(r, verbs);
    snprintf(id, sizeof id, "news-%zu", MD_DEMO_NEWS_FIRST_ID + i);
    headline(head, sizeof head, subject, verb, object);
    snprintf(summary, sizeof summary, "%s. %s", head, PICK(r, summary_tails));
    snprintf(url, sizeof url, "https://intranet.example.com/news/%s", id);
    /* Slots are 9 h apart and the jitter stays under 8 h: times never collide.
     * The newest article is exactly NEWS_NEWEST_EPOCH. */
    size_t jitter = rng_below(r, 480);
    int64_t minutes = slot ? (int64_t)slot * 540 + (int64_t)jitter : 0;
    format_utc(when, NEWS_NEWEST_EPOCH - minutes * 60, "%Y-%m-%dT%H:%M:%SZ");

    jw_raw(w, i ? ",{" : "{");
    jw_member(w, true, "id", id);
    jw_member(w, false, "title", head);
    jw_member(w, false, "summary", summary);
    jw_member(w, false, "url", url);
    jw_member(w, false, "published", when);
    jw_member(w, false, "author", PICK(r, authors));
    write_tags(w, r);
    write_body(w, r, head);
    jw_raw(w, "}");
}

static int build_news(md_buf_t *out)
{
    rng_t r;
    size_t slots[MD_DEMO_NEWS_COUNT], objs[MD_DEMO_NEWS_COUNT];
    jw_t w = { out, MD_OK };
    rng_seed(&r, 0x6e657773ull); /* "news" */
    rng_permute(&r, slots, MD_DEMO_NEWS_COUNT);
    rng_permute(&r, objs, MD_DEMO_NEWS_COUNT);
    jw_raw(&w, "{\"items\":[");
    for (size_t i = 0; i < MD_DEMO_NEWS_COUNT; i++)
        write_article(&w, &r, i, objects[objs[i]], slots[i]);
    jw_raw(&w, "]}");
    return w.rc;
}

/* ---- events -------------------------------------------------------------- */

static void write_event(jw_t *w, rng_t *r, size_t i, const char *topic, size_t slot)
{
    char id[32], name[128], starts[32], ends[32], desc[256];
    const char *kind = PICK(r, event_kinds);
    snprintf(id, sizeof id, "evt-%zu", MD_DEMO_EVENTS_FIRST_ID + i);
    snprintf(name, sizeof name, "%s: %s", kind, topic);
    /* One event per day (slot), starting on the hour between 09:00 and 16:00. */
    int64_t start = EVENTS_FIRST_DAY_EPOCH + (int64_t)slot * 86400 +
                    (int64_t)(9 + rng_below(r, 8)) * 3600;
    int64_t end = start + (int64_t)(1 + rng_below(r, 4)) * 1800;
    format_utc(starts, start, "%Y-%m-%dT%H:%M:%SZ");
    format_utc(ends, end, "%Y-%m-%dT%H:%M:%SZ");
    snprintf(desc, sizeof desc, "A %s on %s. %s", kind, topic, PICK(r, event_pitches));

    jw_raw(w, i ? ",{" : "{");
    jw_member(w, true, "id", id);
    jw_member(w, false, "name", name);
    jw_member(w, false, "starts", starts);
    jw_member(w, false, "ends", ends);
    jw_member(w, false, "location", PICK(r, locations));
    jw_member(w, false, "description", desc);
    jw_member(w, false, "organizer", PICK(r, organizers));
    jw_raw(w, "}");
}

static int build_events(md_buf_t *out)
{
    rng_t r;
    size_t slots[MD_DEMO_EVENTS_COUNT], topics[MD_DEMO_EVENTS_COUNT];
    jw_t w = { out, MD_OK };
    rng_seed(&r, 0x6576656e7473ull); /* "events" */
    rng_permute(&r, slots, MD_DEMO_EVENTS_COUNT);
    rng_permute(&r, topics, MD_DEMO_EVENTS_COUNT);
    jw_raw(&w, "{\"events\":[");
    for (size_t i = 0; i < MD_DEMO_EVENTS_COUNT; i++)
        write_event(&w, &r, i, event_topics[topics[i]], slots[i]);
    jw_raw(&w, "]}");
    return w.rc;
}

/* ---- public -------------------------------------------------------------- */

int md_demo_data_init(md_demo_data_t *d)
{
    md_buf_init(&d->news, MD_DEMO_NEWS_MAX_BYTES);
    md_buf_init(&d->events, MD_DEMO_EVENTS_MAX_BYTES);
    int rc = build_news(&d->news);
    if (rc == MD_OK)
        rc = build_events(&d->events);
    if (rc != MD_OK)
        md_demo_data_free(d);
    return rc;
}

void md_demo_data_free(md_demo_data_t *d)
{
    md_buf_free(&d->news);
    md_buf_free(&d->events);
}

/* Three history entries, one per four-month stretch of 2024, so the dates are
 * distinct and ascending. Seeded by the id: the same employee always gets the
 * same history. */
static void write_history(jw_t *w, long id)
{
    rng_t r;
    rng_seed(&r, (uint64_t)id * 0x9e3779b97f4a7c15ull);
    jw_raw(w, ",\"history\":[");
    for (int i = 0; i < 3; i++) {
        char date[32];
        int64_t day = (int64_t)i * 121 + (int64_t)rng_below(&r, 120);
        format_utc(date, VACATION_YEAR_EPOCH + day * 86400, "%Y-%m-%d");
        unsigned halves = 1 + (unsigned)rng_below(&r, 10);
        jw_raw(w, i ? ",{" : "{");
        jw_member(w, true, "date", date);
        jw_fmt(w, ",\"days\":%u.%u", halves / 2, halves % 2 ? 5u : 0u);
        jw_member(w, false, "type", PICK(&r, history_types));
        jw_raw(w, "}");
    }
    jw_raw(w, "]");
}

int md_demo_vacation(long id, md_buf_t *out)
{
    if (id < MD_DEMO_EMPLOYEE_MIN || id > MD_DEMO_EMPLOYEE_MAX)
        return MD_ENOTFOUND;
    size_t mark = out->len;
    jw_t w = { out, MD_OK };
    jw_fmt(&w, "{\"employee\":%ld,\"balance_days\":%ld.5", id, (id * 37) % 29);
    jw_raw(&w, ",\"accrual_per_month\":2.08");
    jw_raw(&w, ",\"policy\":\"standard-25\"");
    write_history(&w, id);
    jw_raw(&w, "}");
    if (w.rc != MD_OK) {
        out->len = mark; /* leave the caller's buffer as it was */
        if (out->data)
            out->data[mark] = '\0';
    }
    return w.rc;
}
