/*
 * lint.c - the offline connector lint, see lint.h for the output format.
 *
 * Both JSON files are read whole (capped), validated by the strict scanner
 * (json/scan.h) and checked by walking their tokens; nothing builds a
 * tree. Every walk is bounded: by the token count of a capped file, by
 * MD_LINT_MAX_OPERATIONS, by MD_LINT_MAX_SCHEMA_DEPTH, by a budget of
 * member lookups (WORK_BUDGET), and each #/definitions entry is walked
 * once, from a queue, however often it is referenced, so $ref cycles,
 * chains and fan-out cost nothing extra.
 *
 * The rules and their reasons, one block each: files, info, the document's
 * top level, operations (id, summary, description), parameters, responses
 * and their schemas, security against apiProperties.json, apiProperties
 * itself, the icon. Each rule name is what a finding prints; the list is
 * documented in docs/connector.md.
 */
#include "connector/lint.h"
#include "connector/lint_text.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "json/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SWAGGER_FILE "apiDefinition.swagger.json"
#define PROPS_FILE "apiProperties.json"
#define ICON_FILE "icon.png"

/* Longest key copied into a finding's path; longer ones are cut. */
#define PATH_KEY_MAX 128
/* Cap of a finding's path (depth is bounded by the scanner anyway). */
#define PATH_MAX_BYTES 16384

/* Object members visited by lookups in one run. Every lookup walks its
 * object's members, so a crafted file (thousands of $refs into a huge
 * #/definitions, say) could make the checks quadratic; past this budget
 * the lint stops and says the file is too complex. Real definitions use
 * well under 1% of it. */
#define WORK_BUDGET (1u << 26)

/* Bytes of a title or description searched for forbidden words (a text
 * longer than that is already too long). */
#define WORD_SCAN_MAX 4096

/* Power Platform's limits (string guidance, certification submission). */
#define TITLE_MAX 30
#define DESCRIPTION_MIN 30
#define DESCRIPTION_MAX 500
#define SUMMARY_MAX 80

typedef enum sev { SEV_ERROR, SEV_WARNING } sev_t;

/* One of the two JSON files of a package. */
typedef struct doc {
    const char *name;   /* file name, for findings about the whole file */
    const char *prefix; /* printed before a path into this file */
    md_buf_t text;
    md_json_toks_t toks;
    uint32_t root;
    bool ok;            /* read, valid JSON, and the root is an object */
    uint32_t *work;     /* the run's WORK_BUDGET, shared by both files */
} doc_t;

/* An operationId already seen, with where, for the duplicate message. */
typedef struct seen_id {
    const char *id;
    const char *where;
} seen_id_t;

typedef struct lint {
    FILE *out;
    const doc_t *doc;   /* the file the current path points into */
    md_buf_t path;      /* where the value being checked is */
    md_buf_t str;       /* decoded string being checked */
    md_buf_t summary;   /* the current operation's summary */
    md_pool_t *pool;    /* operationIds and their paths */
    md_lint_counts_t counts;
    unsigned shown;
    doc_t swagger, props;
    seen_id_t *ids;      /* MD_LINT_MAX_OPERATIONS entries */
    unsigned nids;
    unsigned operations; /* operations checked */
    uint8_t *defs_done;  /* bitmap over tokens: definitions already queued */
    uint32_t *queue;     /* definitions to walk, each once (see check_ref) */
    size_t nqueue, qcap;
    uint32_t work;       /* what is left of WORK_BUDGET */
} lint_t;


/* ---- findings and paths ---- */

/* Writes s[0..n) with control bytes as '?': one finding, one line. */
static void put_clean(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

/* Reports a finding at `file` or, when it is NULL, at the current path. */
__attribute__((format(printf, 5, 6)))
static void finding(lint_t *l, const char *file, sev_t sev, const char *rule, const char *fmt, ...)
{
    if (l->work == 0)
        return; /* lookups failed for want of budget: findings would be wrong */
    if (sev == SEV_ERROR)
        l->counts.errors++;
    else
        l->counts.warnings++;
    if (l->shown++ >= MD_LINT_MAX_FINDINGS)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (file) {
        fputs(file, l->out);
    } else if (l->path.len == 0) {
        fputs(l->doc->name, l->out);
    } else {
        fputs(l->doc->prefix, l->out);
        put_clean(l->out, l->path.data, l->path.len);
    }
    fprintf(l->out, ": %s: %s: ", rule, sev == SEV_ERROR ? "error" : "warning");
    put_clean(l->out, msg, strlen(msg));
    fputc('\n', l->out);
}

#define ERR(l, rule, ...) finding((l), NULL, SEV_ERROR, (rule), __VA_ARGS__)
#define WARN(l, rule, ...) finding((l), NULL, SEV_WARNING, (rule), __VA_ARGS__)

/* Appends a path segment; returns the length to pop back to. A segment
 * that does not fit is left out (the path is then less precise, no more). */
static size_t push(lint_t *l, const char *seg, size_t n)
{
    size_t old = l->path.len;
    if (old && md_buf_append_char(&l->path, '.') != MD_OK)
        return old;
    if (md_buf_append(&l->path, seg, MD_MIN(n, PATH_KEY_MAX)) != MD_OK)
        l->path.len = old;
    if (l->path.data)
        l->path.data[l->path.len] = '\0';
    return old;
}

static size_t push_str(lint_t *l, const char *seg)
{
    return push(l, seg, strlen(seg));
}

static size_t push_index(lint_t *l, uint32_t i)
{
    size_t old = l->path.len;
    if (md_buf_printf(&l->path, "[%u]", i) != MD_OK)
        l->path.len = old;
    return old;
}

static void pop(lint_t *l, size_t len)
{
    l->path.len = len;
    if (l->path.data)
        l->path.data[len] = '\0';
}


/* Power Platform product names: titles and descriptions cannot use them
 * (certification submission). */
#define PRODUCT_NAMES                                                                          \
    "Power Apps", "PowerApps", "Power Automate", "Microsoft Flow", "Logic Apps",               \
        "Power Platform", "Power BI", "Power Pages", "Power Virtual Agents", "Copilot Studio", \
        "Dataverse", "Dynamics 365", "Microsoft"

static const char *const title_words[] = { "API", "APIs", "Connector", "Connectors", PRODUCT_NAMES };
static const char *const description_words[] = { "API", "APIs", PRODUCT_NAMES };


/* ---- documents ---- */

/* The decoded string token i of d into out; false if absent or not a
 * string. */
static bool decode(const doc_t *d, uint32_t i, md_buf_t *out)
{
    md_buf_reset(out);
    if (i == MD_JSON_NONE)
        return false;
    return md_lint_decode(d->text.data, &d->toks.v[i], out);
}

/* The value of member key[0..n) of object obj, or NONE; charged to the
 * run's work budget (NONE for everything once it is spent). */
static uint32_t get_n(const doc_t *d, uint32_t obj, const char *key, size_t n)
{
    if (obj == MD_JSON_NONE || d->toks.v[obj].type != MD_JSON_OBJECT)
        return MD_JSON_NONE;
    uint32_t members = d->toks.v[obj].count;
    if (*d->work <= members) {
        *d->work = 0;
        return MD_JSON_NONE;
    }
    *d->work -= members;
    return md_json_member(d->text.data, d->toks.v, obj, key, n);
}

static uint32_t get(const doc_t *d, uint32_t obj, const char *key)
{
    return get_n(d, obj, key, strlen(key));
}

static bool is(const doc_t *d, uint32_t i, md_json_type_t type)
{
    return i != MD_JSON_NONE && d->toks.v[i].type == type;
}

static bool str_is(const doc_t *d, uint32_t i, const char *s)
{
    return is(d, i, MD_JSON_STRING) && md_json_str_equal(d->text.data, &d->toks.v[i], s, strlen(s));
}

/* Iterates the members of object `obj`: k is each key token, v its value. */
#define FOR_MEMBERS(d, obj, n, k, v)                                                  \
    for (uint32_t n = 0, k = (obj) + 1, v = k + 1; n < (d)->toks.v[obj].count;       \
         n++, k = (d)->toks.v[v].next, v = k + 1)

/* Iterates the elements of array `arr`. */
#define FOR_ELEMENTS(d, arr, n, e) \
    for (uint32_t n = 0, e = (arr) + 1; n < (d)->toks.v[arr].count; n++, e = (d)->toks.v[e].next)

/* Pushes the decoded key token k as a path segment. */
static size_t push_key(lint_t *l, uint32_t k)
{
    md_buf_t key;
    md_buf_init(&key, MD_LINT_MAX_FILE_BYTES);
    decode(l->doc, k, &key);
    size_t old = push(l, key.data ? key.data : "", key.len);
    md_buf_free(&key);
    return old;
}

/* Reads dir/name (a regular file of at most max bytes) into out, which
 * must be initialized with that cap. Problems are findings. */
static int read_file(lint_t *l, const char *dir, const char *name, md_buf_t *out)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        finding(l, name, SEV_ERROR, "file-missing", "the package path is too long");
        return MD_ETOOBIG;
    }
    /* O_NONBLOCK: a FIFO planted under the name must not hang the lint. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        finding(l, name, SEV_ERROR, "file-missing", "cannot open %s: %s", path, strerror(errno));
        return MD_ENOTFOUND;
    }
    struct stat st;
    int rc = MD_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        finding(l, name, SEV_ERROR, "file-missing", "%s is not a regular file", path);
        rc = MD_EINVAL;
    }
    while (rc == MD_OK) {
        size_t room = out->max - out->len;
        char probe;
        if (room == 0) { /* full: only a file larger than the cap has more */
            if (read(fd, &probe, 1) > 0) {
                finding(l, name, SEV_ERROR, "file-too-big", "larger than %zu bytes", out->max);
                rc = MD_ETOOBIG;
            }
            break;
        }
        size_t want = MD_MIN(room, (size_t)65536);
        md_buf_reserve(out, want);
        ssize_t got = read(fd, md_buf_tail(out), want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            finding(l, name, SEV_ERROR, "file-missing", "cannot read %s: %s", path, strerror(errno));
            rc = MD_ERR;
        } else if (got == 0) {
            break;
        } else {
            md_buf_commit(out, (size_t)got);
        }
    }
    close(fd);
    return rc;
}

/* Reads and scans one JSON file of the package; d->ok tells the outcome. */
static void load_doc(lint_t *l, doc_t *d, const char *dir)
{
    if (read_file(l, dir, d->name, &d->text) != MD_OK)
        return;
    char err[160];
    const char *json = d->text.data ? d->text.data : "";
    int rc = md_json_scan(&d->toks, json, d->text.len, &d->root, err, sizeof(err));
    if (rc == MD_ETOOBIG) {
        finding(l, d->name, SEV_ERROR, "file-too-big", "more than %u JSON values", MD_LINT_MAX_TOKENS);
    } else if (rc != MD_OK) {
        finding(l, d->name, SEV_ERROR, "json-invalid", "%s", err);
    } else if (d->toks.v[d->root].type != MD_JSON_OBJECT) {
        finding(l, d->name, SEV_ERROR, "json-not-object", "the top-level value must be an object");
    } else {
        d->ok = true;
    }
}

/* Decodes the string value v into out; reports `rule` when it is missing,
 * not a string or blank. `what` names it in the message. */
static bool want_string(lint_t *l, uint32_t v, const char *rule, const char *what, md_buf_t *out)
{
    if (v == MD_JSON_NONE) {
        ERR(l, rule, "%s is missing", what);
        return false;
    }
    if (!decode(l->doc, v, out)) {
        ERR(l, rule, "%s must be a string", what);
        return false;
    }
    if (md_lint_is_blank(out->data, out->len)) {
        ERR(l, rule, "%s is empty", what);
        return false;
    }
    return true;
}


/* ---- info ---- */

static void check_title(lint_t *l, uint32_t info)
{
    size_t p = push_str(l, "title");
    md_buf_t *s = &l->str;
    if (want_string(l, get(l->doc, info, "title"), "info-title", "the connector's title", s)) {
        size_t n = md_lint_chars(s->data, s->len);
        if (n > TITLE_MAX)
            ERR(l, "info-title-length", "title has %zu characters; at most %d", n, TITLE_MAX);
        const char *w = md_lint_find_word(s->data, MD_MIN(s->len, WORD_SCAN_MAX), title_words, MD_ARRAY_LEN(title_words));
        if (w)
            ERR(l, "info-title-word",
                "title contains \"%s\"; a title cannot say API or Connector or name a Power Platform product",
                w);
        /* ')' for Microsoft's own "Name (Independent Publisher)" pattern. */
        char last = s->data[s->len - 1];
        if (!md_lint_ends_well((unsigned char)last) && last != ')')
            ERR(l, "info-title-end", "title ends with '%c'; it must end with a letter or digit", last);
    }
    pop(l, p);
}

static void check_info_description(lint_t *l, uint32_t info)
{
    size_t p = push_str(l, "description");
    md_buf_t *s = &l->str;
    if (want_string(l, get(l->doc, info, "description"), "info-description", "the connector's description", s)) {
        size_t n = md_lint_chars(s->data, s->len);
        if (n < DESCRIPTION_MIN || n > DESCRIPTION_MAX)
            ERR(l, "info-description-length", "description has %zu characters; it needs %d to %d", n,
                DESCRIPTION_MIN, DESCRIPTION_MAX);
        const char *w = md_lint_find_word(s->data, MD_MIN(s->len, WORD_SCAN_MAX), description_words,
                                  MD_ARRAY_LEN(description_words));
        if (w)
            ERR(l, "info-description-word",
                "description contains \"%s\"; it cannot say API or name a Power Platform product", w);
    }
    pop(l, p);
}

/* Checks contact.email / contact.url when present. */
static void check_contact_format(lint_t *l, uint32_t c, const char *field)
{
    md_buf_t *s = &l->str;
    if (!decode(l->doc, get(l->doc, c, field), s))
        return;
    bool email = field[0] == 'e';
    if (email ? md_lint_is_email(s->data, s->len) : md_lint_is_url(s->data, s->len))
        return;
    size_t p = push_str(l, field);
    ERR(l, "info-contact", "\"%.60s\" is not %s", s->data, email ? "an email address" : "an http(s) URL");
    pop(l, p);
}

static void check_contact(lint_t *l, uint32_t info)
{
    size_t p = push_str(l, "contact");
    uint32_t c = get(l->doc, info, "contact");
    static const char *const fields[] = { "name", "email", "url" };
    if (c == MD_JSON_NONE) {
        ERR(l, "info-contact", "contact is missing (name, email and url of who supports the connector)");
    } else if (!is(l->doc, c, MD_JSON_OBJECT)) {
        ERR(l, "info-contact", "contact must be an object with name, email and url");
    } else {
        unsigned have = 0;
        for (size_t i = 0; i < MD_ARRAY_LEN(fields); i++)
            have += is(l->doc, get(l->doc, c, fields[i]), MD_JSON_STRING);
        for (size_t i = 0; have && i < MD_ARRAY_LEN(fields); i++)
            if (!is(l->doc, get(l->doc, c, fields[i]), MD_JSON_STRING))
                WARN(l, "info-contact", "contact has no %s", fields[i]);
        if (!have)
            ERR(l, "info-contact", "contact has none of name, email, url");
        check_contact_format(l, c, "email");
        check_contact_format(l, c, "url");
    }
    pop(l, p);
}

static void check_info(lint_t *l, uint32_t root)
{
    size_t p = push_str(l, "info");
    uint32_t info = get(l->doc, root, "info");
    if (!is(l->doc, info, MD_JSON_OBJECT)) {
        ERR(l, "info", info == MD_JSON_NONE ? "info is missing" : "info must be an object");
        pop(l, p);
        return;
    }
    check_title(l, info);
    check_info_description(l, info);
    size_t q = push_str(l, "version");
    want_string(l, get(l->doc, info, "version"), "info-version", "the version", &l->str);
    pop(l, q);
    check_contact(l, info);
    pop(l, p);
}


/* ---- top level: version, host, basePath, schemes, metadata ---- */

static void check_host(lint_t *l, uint32_t root)
{
    size_t p = push_str(l, "host");
    md_buf_t *s = &l->str;
    if (want_string(l, get(l->doc, root, "host"), "host", "host", s)) {
        const char *why = md_lint_host_problem(s->data, s->len);
        if (why)
            ERR(l, "host", "host \"%.80s\" %s", s->data, why);
    }
    pop(l, p);

    p = push_str(l, "basePath");
    uint32_t bp = get(l->doc, root, "basePath");
    if (bp != MD_JSON_NONE && (!decode(l->doc, bp, s) || s->len == 0 || s->data[0] != '/'))
        ERR(l, "base-path", "basePath must start with '/'");
    pop(l, p);
}

static void check_schemes(lint_t *l, uint32_t root)
{
    size_t p = push_str(l, "schemes");
    uint32_t sc = get(l->doc, root, "schemes");
    if (sc == MD_JSON_NONE) {
        ERR(l, "schemes", "schemes is missing; it must be [\"https\"]");
    } else if (!is(l->doc, sc, MD_JSON_ARRAY) || l->doc->toks.v[sc].count != 1 ||
               !str_is(l->doc, sc + 1, "https")) {
        ERR(l, "schemes", "schemes must be exactly [\"https\"]: Power Platform calls connectors over HTTPS only");
    }
    pop(l, p);
}

/* Certification's category names for x-ms-connector-metadata. */
static const char *const categories[] = {
    "AI", "Business Management", "Business Intelligence", "Collaboration", "Commerce",
    "Communication", "Content and Files", "Finance", "Data", "Human Resources",
    "Internet of Things", "IT Operations", "Lifestyle and Entertainment", "Marketing",
    "Productivity", "Sales and CRM", "Security", "Social Media", "Website",
};

static void check_categories(lint_t *l, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *e = semi ? semi : end;
        while (s < e && *s == ' ')
            s++;
        size_t len = (size_t)(e - s);
        while (len && s[len - 1] == ' ')
            len--;
        bool known = false;
        for (size_t i = 0; !known && i < MD_ARRAY_LEN(categories); i++)
            known = strlen(categories[i]) == len && memcmp(categories[i], s, len) == 0;
        if (!known)
            WARN(l, "connector-metadata", "category \"%.*s\" is not one of Power Platform's", (int)MD_MIN(len, 60), s);
        s = semi ? semi + 1 : end;
    }
}

/* x-ms-connector-metadata: [{propertyName, propertyValue}], with the three
 * entries certification asks for. */
static void check_metadata(lint_t *l, uint32_t root)
{
    static const char *const need[] = { "Website", "Privacy policy", "Categories" };
    size_t p = push_str(l, "x-ms-connector-metadata");
    uint32_t md = get(l->doc, root, "x-ms-connector-metadata");
    if (!is(l->doc, md, MD_JSON_ARRAY)) {
        ERR(l, "connector-metadata", "x-ms-connector-metadata must be a list with Website, Privacy policy and Categories");
        pop(l, p);
        return;
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(need); i++) {
        uint32_t value = MD_JSON_NONE;
        FOR_ELEMENTS(l->doc, md, n, e) {
            if (str_is(l->doc, get(l->doc, e, "propertyName"), need[i]))
                value = get(l->doc, e, "propertyValue");
        }
        md_buf_t *s = &l->str;
        if (!decode(l->doc, value, s) || md_lint_is_blank(s->data, s->len)) {
            ERR(l, "connector-metadata", "no \"%s\" entry with a propertyValue", need[i]);
        } else if (i < 2 && !md_lint_is_url(s->data, s->len)) {
            ERR(l, "connector-metadata", "%s must be a URL, not \"%.60s\"", need[i], s->data);
        } else if (i == 2) {
            check_categories(l, s->data, s->len);
        }
    }
    pop(l, p);
}


/* ---- operations: operationId, summary, description ---- */

static void check_operation_id(lint_t *l, uint32_t op)
{
    size_t p = push_str(l, "operationId");
    md_buf_t *s = &l->str;
    if (want_string(l, get(l->doc, op, "operationId"), "operation-id", "operationId", s)) {
        if (!md_lint_is_pascal_case(s->data, s->len))
            ERR(l, "operation-id-case",
                "operationId \"%.60s\" is not PascalCase (letters and digits, first one upper case, e.g. GetHomeFeed)",
                s->data);
        const seen_id_t *dup = NULL;
        for (unsigned i = 0; !dup && i < l->nids; i++)
            if (strcmp(l->ids[i].id, s->data) == 0)
                dup = &l->ids[i];
        if (dup) {
            ERR(l, "operation-id-unique", "operationId \"%.60s\" is also used at %.200s", s->data, dup->where);
        } else {
            /* nids < operations <= MD_LINT_MAX_OPERATIONS = ids' size */
            l->ids[l->nids].id = md_pool_strndup(l->pool, s->data, s->len);
            l->ids[l->nids].where = md_pool_strndup(l->pool, l->path.data, l->path.len);
            l->nids++;
        }
    }
    pop(l, p);
}

/* Sentence case, as far as a program can tell: the first letter is upper
 * case, and the words after it are not all capitalised ("Get Home Feed").
 * Words of three letters or fewer are left out of the count, as Title
 * Case keeps "of", "for", "the" low. */
static void check_summary_case(lint_t *l, const char *s, size_t n)
{
    if (s[0] >= 'a' && s[0] <= 'z') {
        ERR(l, "summary-case", "summary starts with a lower-case letter; use sentence case (\"Get the home feed\")");
        return;
    }
    unsigned words = 0, capitalised = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && s[i] != ' ')
            i++;
        if (start == 0 || i - start <= 3)
            continue;
        words++;
        capitalised += s[start] >= 'A' && s[start] <= 'Z';
    }
    if (words >= 2 && capitalised == words)
        WARN(l, "summary-case", "summary looks like Title Case; use sentence case (\"Get the home feed\")");
}

static void check_summary(lint_t *l, uint32_t op)
{
    size_t p = push_str(l, "summary");
    md_buf_t *s = &l->summary;
    if (want_string(l, get(l->doc, op, "summary"), "summary", "summary (the operation's name in the designer)", s)) {
        size_t n = md_lint_chars(s->data, s->len);
        if (n > SUMMARY_MAX)
            ERR(l, "summary-length", "summary has %zu characters; at most %d", n, SUMMARY_MAX);
        size_t bad = 0;
        while (bad < s->len && (!s->data[bad] || !strchr("/\\<>*%&?", s->data[bad])))
            bad++;
        if (bad < s->len)
            ERR(l, "summary-chars", "summary contains '%c'; none of / \\ < > * %% & ? is allowed", s->data[bad]);
        unsigned char last = (unsigned char)s->data[s->len - 1];
        if (!md_lint_ends_well(last))
            ERR(l, "summary-end", "summary ends with '%c'; no trailing punctuation or space", last);
        check_summary_case(l, s->data, s->len);
    } else {
        md_buf_reset(s);
    }
    pop(l, p);
}

static void check_operation_description(lint_t *l, uint32_t op)
{
    size_t p = push_str(l, "description");
    md_buf_t *s = &l->str;
    if (want_string(l, get(l->doc, op, "description"), "description", "description (the operation's help text)", s) &&
        l->summary.len && md_lint_same_text(s->data, s->len, l->summary.data, l->summary.len))
        ERR(l, "description-same-as-summary", "description repeats the summary; it should say more");
    pop(l, p);
}


/* ---- parameters ---- */

/* The parameter an element of a parameters list stands for: itself, or
 * the #/parameters/NAME entry its $ref names (NONE if that is missing). */
static uint32_t resolve_param(lint_t *l, uint32_t el)
{
    uint32_t ref = get(l->doc, el, "$ref");
    if (ref == MD_JSON_NONE)
        return el;
    static const char prefix[] = "#/parameters/";
    md_buf_t *s = &l->str;
    if (!decode(l->doc, ref, s) || strncmp(s->data, prefix, sizeof(prefix) - 1) != 0)
        return MD_JSON_NONE;
    uint32_t all = get(l->doc, l->doc->root, "parameters");
    if (!is(l->doc, all, MD_JSON_OBJECT))
        return MD_JSON_NONE;
    const char *name = s->data + sizeof(prefix) - 1;
    return get_n(l->doc, all, name, s->len - (sizeof(prefix) - 1));
}

static void check_param_type(lint_t *l, uint32_t prm)
{
    static const char *const types[] = { "string", "number", "integer", "boolean", "array", "file" };
    if (str_is(l->doc, get(l->doc, prm, "in"), "body")) {
        if (!is(l->doc, get(l->doc, prm, "schema"), MD_JSON_OBJECT))
            ERR(l, "param-type", "body parameter has no schema");
        return;
    }
    uint32_t t = get(l->doc, prm, "type");
    for (size_t i = 0; i < MD_ARRAY_LEN(types); i++)
        if (str_is(l->doc, t, types[i]))
            return;
    ERR(l, "param-type", "parameter needs a type: string, number, integer, boolean, array or file");
}

static void check_param(lint_t *l, uint32_t prm)
{
    const doc_t *d = l->doc;
    if (!is(d, prm, MD_JSON_OBJECT)) {
        ERR(l, "param", "a parameter must be an object");
        return;
    }
    size_t p = push_str(l, "x-ms-summary");
    want_string(l, get(d, prm, "x-ms-summary"), "param-summary", "x-ms-summary (the parameter's label)", &l->str);
    pop(l, p);
    p = push_str(l, "description");
    want_string(l, get(d, prm, "description"), "param-description", "the parameter's description", &l->str);
    pop(l, p);
    uint32_t vis = get(d, prm, "x-ms-visibility");
    p = push_str(l, "x-ms-visibility");
    if (vis != MD_JSON_NONE && !str_is(d, vis, "important") && !str_is(d, vis, "advanced") &&
        !str_is(d, vis, "internal"))
        ERR(l, "param-visibility", "x-ms-visibility must be important, advanced or internal");
    pop(l, p);
    check_param_type(l, prm);
}

static void check_params(lint_t *l, uint32_t list)
{
    if (list == MD_JSON_NONE)
        return;
    size_t p = push_str(l, "parameters");
    if (!is(l->doc, list, MD_JSON_ARRAY)) {
        ERR(l, "param", "parameters must be a list");
        pop(l, p);
        return;
    }
    FOR_ELEMENTS(l->doc, list, i, e) {
        size_t q = push_index(l, i);
        uint32_t prm = resolve_param(l, e);
        if (prm == MD_JSON_NONE)
            ERR(l, "param-ref", "$ref does not name an entry of #/parameters");
        else
            check_param(l, prm);
        pop(l, q);
    }
    pop(l, p);
}


/* ---- response schemas ---- */

static void check_schema(lint_t *l, uint32_t s, bool prop, unsigned depth);

/* A property needs a title (x-ms-summary or title) and a description:
 * they are the field's label and help in the designer. */
static void check_property_text(lint_t *l, uint32_t s)
{
    const doc_t *d = l->doc;
    uint32_t title = get(d, s, "x-ms-summary");
    if (title == MD_JSON_NONE)
        title = get(d, s, "title");
    if (!decode(d, title, &l->str) || md_lint_is_blank(l->str.data, l->str.len))
        ERR(l, "schema-summary", "property has no x-ms-summary (or title): makers see no label");
    if (!decode(d, get(d, s, "description"), &l->str) || md_lint_is_blank(l->str.data, l->str.len))
        ERR(l, "schema-description", "property has no description");
}

/* Queues definition token `target` to be walked, unless it already was. */
static void queue_definition(lint_t *l, uint32_t target)
{
    if (!l->defs_done)
        l->defs_done = md_calloc(l->swagger.toks.n / 8 + 1, 1);
    uint8_t bit = (uint8_t)(1u << (target % 8));
    if (l->defs_done[target / 8] & bit)
        return;
    l->defs_done[target / 8] |= bit;
    if (l->nqueue == l->qcap) {
        l->qcap = l->qcap ? 2 * l->qcap : 16;
        l->queue = md_realloc(l->queue, l->qcap * sizeof(*l->queue));
    }
    l->queue[l->nqueue++] = target;
}

/* Follows "$ref": "#/definitions/NAME". A property that is a $ref takes
 * its label from the definition, checked here; the definition itself is
 * queued and walked once, at its own path (definitions.NAME), however
 * many schemas refer to it. Queuing rather than recursing keeps $ref
 * chains and cycles off the C stack and out of the depth count. */
static void check_ref(lint_t *l, uint32_t ref, bool prop)
{
    static const char prefix[] = "#/definitions/";
    const size_t plen = sizeof(prefix) - 1;
    const doc_t *d = l->doc;
    md_buf_t *s = &l->str;
    uint32_t defs = get(d, d->root, "definitions"), target = MD_JSON_NONE;
    if (decode(d, ref, s) && strncmp(s->data, prefix, plen) == 0 && is(d, defs, MD_JSON_OBJECT))
        target = get_n(d, defs, s->data + plen, s->len - plen);
    if (target == MD_JSON_NONE) {
        ERR(l, "schema-ref", "$ref does not name an entry of #/definitions");
        return;
    }
    if (prop && is(d, target, MD_JSON_OBJECT))
        check_property_text(l, target);
    queue_definition(l, target);
}

/* Walks the queued definitions; walking one may queue more. */
static void check_definitions(lint_t *l)
{
    for (size_t i = 0; i < l->nqueue; i++) {
        uint32_t target = l->queue[i];
        size_t p = push_str(l, "definitions");
        push_key(l, target - 1); /* a member's key token precedes its value */
        check_schema(l, target, false, 0);
        pop(l, p);
    }
}

static void check_schema_children(lint_t *l, uint32_t s, unsigned depth)
{
    const doc_t *d = l->doc;
    uint32_t props = get(d, s, "properties");
    if (is(d, props, MD_JSON_OBJECT)) {
        size_t p = push_str(l, "properties");
        FOR_MEMBERS(d, props, n, k, v) {
            size_t q = push_key(l, k);
            check_schema(l, v, true, depth + 1);
            pop(l, q);
        }
        pop(l, p);
    }
    uint32_t items = get(d, s, "items");
    if (str_is(d, get(d, s, "type"), "array")) {
        size_t p = push_str(l, "items");
        if (items == MD_JSON_NONE)
            ERR(l, "schema-type", "an array schema needs items");
        else
            check_schema(l, items, false, depth + 1);
        pop(l, p);
    }
}

/* Checks a response schema: every schema has a type, every property also
 * a title and description, down through properties, items and $refs. */
static void check_schema(lint_t *l, uint32_t s, bool prop, unsigned depth)
{
    static const char *const types[] = { "object", "array", "string", "number", "integer", "boolean", "file" };
    const doc_t *d = l->doc;
    if (depth > MD_LINT_MAX_SCHEMA_DEPTH) {
        ERR(l, "schema-depth", "schema nested deeper than %d levels", MD_LINT_MAX_SCHEMA_DEPTH);
        return;
    }
    if (!is(d, s, MD_JSON_OBJECT)) {
        ERR(l, "schema-type", "a schema must be an object");
        return;
    }
    uint32_t ref = get(d, s, "$ref");
    if (ref != MD_JSON_NONE) {
        check_ref(l, ref, prop);
        return;
    }
    uint32_t t = get(d, s, "type");
    bool known = false;
    for (size_t i = 0; !known && i < MD_ARRAY_LEN(types); i++)
        known = str_is(d, t, types[i]);
    if (!known)
        ERR(l, "schema-type", t == MD_JSON_NONE ? "%s has no type" : "%s has no valid type",
            prop ? "property" : "schema");
    if (prop)
        check_property_text(l, s);
    check_schema_children(l, s, depth);
}


/* ---- responses ---- */

static void check_default_response(lint_t *l, uint32_t resps)
{
    uint32_t def = get(l->doc, resps, "default");
    if (def == MD_JSON_NONE) {
        WARN(l, "response-default", "no default response: errors are then undocumented");
        return;
    }
    size_t p = push_str(l, "default");
    if (is(l->doc, def, MD_JSON_OBJECT) && get(l->doc, def, "schema") != MD_JSON_NONE) {
        size_t q = push_str(l, "schema");
        ERR(l, "response-default-schema", "the default response must have a description and no schema");
        pop(l, q);
    }
    pop(l, p);
}

/* Every response has a description; returns the first success response
 * (200 preferred) and its code in code[4]. */
static uint32_t scan_responses(lint_t *l, uint32_t resps, char code[4])
{
    uint32_t ok = MD_JSON_NONE;
    md_buf_t *s = &l->str;
    FOR_MEMBERS(l->doc, resps, n, k, v) {
        size_t p = push_key(l, k);
        decode(l->doc, k, s);
        if (!is(l->doc, v, MD_JSON_OBJECT))
            ERR(l, "response-description", "a response must be an object with a description");
        else if (!is(l->doc, get(l->doc, v, "description"), MD_JSON_STRING))
            ERR(l, "response-description", "response has no description");
        if (md_lint_is_success_code(s->data, s->len) && (ok == MD_JSON_NONE || strcmp(s->data, "200") == 0)) {
            ok = v;
            memcpy(code, s->data, 4);
        }
        pop(l, p);
    }
    return ok;
}

static void check_responses(lint_t *l, uint32_t op)
{
    size_t p = push_str(l, "responses");
    uint32_t resps = get(l->doc, op, "responses");
    if (!is(l->doc, resps, MD_JSON_OBJECT)) {
        ERR(l, "response-success", "responses is missing");
        pop(l, p);
        return;
    }
    char code[4] = "";
    uint32_t ok = scan_responses(l, resps, code);
    if (ok == MD_JSON_NONE) {
        ERR(l, "response-success", "no 200 (2xx) response: makers get no typed result");
    } else if (strcmp(code, "204") != 0 && is(l->doc, ok, MD_JSON_OBJECT)) {
        size_t q = push_str(l, code);
        size_t r = push_str(l, "schema");
        uint32_t schema = get(l->doc, ok, "schema");
        if (schema == MD_JSON_NONE)
            ERR(l, "response-schema", "the %s response has no schema: makers get an untyped result", code);
        else
            check_schema(l, schema, false, 0);
        pop(l, r);
        pop(l, q);
    }
    check_default_response(l, resps);
    pop(l, p);
}


/* ---- paths ---- */

static bool is_method(const doc_t *d, uint32_t k)
{
    static const char *const methods[] = { "get", "put", "post", "delete", "options", "head", "patch" };
    for (size_t i = 0; i < MD_ARRAY_LEN(methods); i++)
        if (str_is(d, k, methods[i]))
            return true;
    return false;
}

static void check_requirement(lint_t *l, uint32_t list);

static void check_operation(lint_t *l, uint32_t op)
{
    if (!is(l->doc, op, MD_JSON_OBJECT)) {
        ERR(l, "operation", "an operation must be an object");
        return;
    }
    if (l->operations >= MD_LINT_MAX_OPERATIONS) {
        ERR(l, "operation-count", "more than %d operations; this one is not checked", MD_LINT_MAX_OPERATIONS);
        return;
    }
    l->operations++;
    check_operation_id(l, op);
    check_summary(l, op);
    check_operation_description(l, op);
    check_params(l, get(l->doc, op, "parameters"));
    check_requirement(l, get(l->doc, op, "security"));
    check_responses(l, op);
}

static void check_path_item(lint_t *l, uint32_t item)
{
    const doc_t *d = l->doc;
    if (!is(d, item, MD_JSON_OBJECT)) {
        ERR(l, "paths", "a path item must be an object");
        return;
    }
    check_params(l, get(d, item, "parameters"));
    FOR_MEMBERS(d, item, n, k, v) {
        if (!is_method(d, k))
            continue;
        size_t p = push_key(l, k);
        check_operation(l, v);
        pop(l, p);
    }
}

static void check_paths(lint_t *l, uint32_t root)
{
    const doc_t *d = l->doc;
    size_t p = push_str(l, "paths");
    uint32_t paths = get(d, root, "paths");
    if (!is(d, paths, MD_JSON_OBJECT)) {
        ERR(l, "paths", "paths is missing");
        pop(l, p);
        return;
    }
    FOR_MEMBERS(d, paths, n, k, v) {
        decode(d, k, &l->str);
        if (strncmp(l->str.data, "x-", 2) == 0)
            continue; /* a vendor extension, not a path */
        size_t q = push_key(l, k);
        if (l->str.data[0] != '/')
            ERR(l, "paths", "a path must start with '/'");
        else
            check_path_item(l, v);
        pop(l, q);
    }
    if (l->operations == 0)
        ERR(l, "paths", "the definition has no operations");
    pop(l, p);
}

static void check_swagger(lint_t *l)
{
    l->doc = &l->swagger;
    uint32_t root = l->swagger.root;
    size_t p = push_str(l, "swagger");
    if (!str_is(l->doc, get(l->doc, root, "swagger"), "2.0"))
        ERR(l, "swagger-version", "swagger must be \"2.0\": Power Platform reads OpenAPI 2.0 only");
    pop(l, p);
    check_info(l, root);
    check_host(l, root);
    check_schemes(l, root);
    check_metadata(l, root);
    check_paths(l, root);
    check_definitions(l);
}


/* ---- security: securityDefinitions against connectionParameters ---- */

typedef enum auth { AUTH_NONE, AUTH_APIKEY, AUTH_BASIC, AUTH_OAUTH2, AUTH_UNKNOWN } auth_t;

/* Checks one security definition's shape; returns its kind. */
static auth_t check_security_def(lint_t *l, uint32_t def)
{
    const doc_t *d = l->doc;
    uint32_t type = is(d, def, MD_JSON_OBJECT) ? get(d, def, "type") : MD_JSON_NONE;
    if (str_is(d, type, "basic"))
        return AUTH_BASIC;
    if (str_is(d, type, "apiKey")) {
        uint32_t in = get(d, def, "in");
        if (!str_is(d, in, "header") && !str_is(d, in, "query"))
            ERR(l, "security-definition", "an apiKey definition needs in: header or query");
        if (!decode(d, get(d, def, "name"), &l->str) || md_lint_is_blank(l->str.data, l->str.len))
            ERR(l, "security-definition", "an apiKey definition needs the name of its header or query parameter");
        return AUTH_APIKEY;
    }
    if (str_is(d, type, "oauth2")) {
        if (!str_is(d, get(d, def, "flow"), "accessCode"))
            ERR(l, "security-definition", "custom connectors use the OAuth 2.0 accessCode flow");
        if (!is(d, get(d, def, "authorizationUrl"), MD_JSON_STRING) || !is(d, get(d, def, "tokenUrl"), MD_JSON_STRING))
            ERR(l, "security-definition", "an oauth2 definition needs authorizationUrl and tokenUrl");
        return AUTH_OAUTH2;
    }
    ERR(l, "security-definition", "a security definition's type must be basic, apiKey or oauth2");
    return AUTH_UNKNOWN;
}

/* One requirement of a `security` list: each key names an entry of
 * securityDefinitions and maps to a list of scopes. */
static void check_requirement_entry(lint_t *l, uint32_t req, uint32_t defs)
{
    const doc_t *d = l->doc;
    if (!is(d, req, MD_JSON_OBJECT)) {
        ERR(l, "security-requirement", "a security requirement must be an object");
        return;
    }
    FOR_MEMBERS(d, req, n, k, v) {
        decode(d, k, &l->str);
        if (!is(d, defs, MD_JSON_OBJECT) || get_n(d, defs, l->str.data, l->str.len) == MD_JSON_NONE)
            ERR(l, "security-requirement", "requires \"%.60s\", which securityDefinitions does not define",
                l->str.data);
        else if (!is(d, v, MD_JSON_ARRAY))
            ERR(l, "security-requirement", "\"%.60s\" must map to a list of scopes", l->str.data);
    }
}

/* `security` (top level or an operation's): a list of requirements; an
 * empty list says "no authentication" (an open operation). */
static void check_requirement(lint_t *l, uint32_t list)
{
    const doc_t *d = l->doc;
    if (list == MD_JSON_NONE)
        return;
    size_t p = push_str(l, "security");
    if (!is(d, list, MD_JSON_ARRAY)) {
        ERR(l, "security-requirement", "security must be a list of requirements (or [] for none)");
    } else {
        uint32_t defs = get(d, d->root, "securityDefinitions");
        FOR_ELEMENTS(d, list, i, e) {
            size_t q = push_index(l, i);
            check_requirement_entry(l, e, defs);
            pop(l, q);
        }
    }
    pop(l, p);
}

/* The kind of authentication the definition declares (NONE: no entry). */
static auth_t swagger_auth(lint_t *l)
{
    l->doc = &l->swagger;
    const doc_t *d = l->doc;
    uint32_t sd = get(d, d->root, "securityDefinitions");
    auth_t kind = AUTH_NONE;
    size_t p = push_str(l, "securityDefinitions");
    if (sd != MD_JSON_NONE && !is(d, sd, MD_JSON_OBJECT)) {
        ERR(l, "security-definition", "securityDefinitions must be an object");
        kind = AUTH_UNKNOWN;
    } else if (sd != MD_JSON_NONE) {
        if (d->toks.v[sd].count > 1)
            ERR(l, "security-definition", "%u security definitions; a custom connector has one", d->toks.v[sd].count);
        FOR_MEMBERS(d, sd, n, k, v) {
            size_t q = push_key(l, k);
            auth_t a = check_security_def(l, v);
            if (n == 0)
                kind = a;
            pop(l, q);
        }
    }
    pop(l, p);
    check_requirement(l, get(d, d->root, "security"));
    return kind;
}

static bool cp_type_is(const doc_t *d, uint32_t cp, const char *type)
{
    return is(d, cp, MD_JSON_OBJECT) && str_is(d, get(d, cp, "type"), type);
}

/* The first connection parameter of the given type, or NONE. */
static uint32_t find_cp(const doc_t *d, uint32_t cps, const char *type)
{
    if (!is(d, cps, MD_JSON_OBJECT))
        return MD_JSON_NONE;
    FOR_MEMBERS(d, cps, n, k, v) {
        if (cp_type_is(d, v, type))
            return v;
    }
    return MD_JSON_NONE;
}

/* Whether string token i is present and not blank. */
static bool has_text(lint_t *l, uint32_t i)
{
    return decode(l->doc, i, &l->str) && !md_lint_is_blank(l->str.data, l->str.len);
}

/* An aad oauthSetting: Entra issues tokens for a resource, so one must be
 * named; a clientId still holding the exporter's placeholder (or none)
 * cannot sign anyone in until the maker fills it in. */
static void check_aad_settings(lint_t *l, uint32_t settings)
{
    const doc_t *d = l->doc;
    size_t p = push_str(l, "oAuthSettings");
    uint32_t res = get(d, get(d, settings, "properties"), "AzureActiveDirectoryResourceId");
    uint32_t uri = get(d, get(d, get(d, settings, "customParameters"), "resourceUri"), "value");
    if (!has_text(l, res) && !has_text(l, uri))
        ERR(l, "security-oauth", "no resource (properties.AzureActiveDirectoryResourceId or "
            "customParameters.resourceUri): Entra ID cannot issue a token for the service");
    size_t q = push_str(l, "clientId");
    if (!has_text(l, get(d, settings, "clientId")))
        WARN(l, "security-client-id", "no clientId: set the Entra app registration's client id before import");
    else if (memmem(l->str.data, l->str.len, "[[", 2) || memmem(l->str.data, l->str.len, "REPLACE", 7))
        WARN(l, "security-client-id", "clientId \"%.60s\" is a placeholder: set the Entra app registration's "
             "client id (medley: connector.client_id of the jwt provider)", l->str.data);
    pop(l, q);
    pop(l, p);
}

static void check_oauth_cp(lint_t *l, uint32_t cps)
{
    const doc_t *d = l->doc;
    uint32_t o = find_cp(d, cps, "oauthSetting");
    uint32_t settings = get(d, o, "oAuthSettings");
    if (o == MD_JSON_NONE) {
        ERR(l, "security-match", "securityDefinitions has oauth2: connectionParameters needs an oauthSetting");
    } else if (!str_is(d, get(d, settings, "identityProvider"), "aad")) {
        ERR(l, "security-match", "the oauthSetting's identityProvider must be aad (Microsoft Entra ID)");
    } else {
        size_t p = push_key(l, o - 1); /* a member's key token precedes its value */
        check_aad_settings(l, settings);
        pop(l, p);
    }
}

/* The package's two halves must agree on how a connection authenticates:
 * none <-> no parameters; apiKey <-> a securestring; basic <-> username
 * and password; oauth2 <-> an oauthSetting with identityProvider aad. */
static void check_security(lint_t *l)
{
    auth_t kind = swagger_auth(l);
    l->doc = &l->props;
    const doc_t *d = l->doc;
    uint32_t props = get(d, d->root, "properties"), cps = get(d, props, "connectionParameters");
    if (!l->props.ok || kind == AUTH_UNKNOWN || !is(d, props, MD_JSON_OBJECT) ||
        (cps != MD_JSON_NONE && !is(d, cps, MD_JSON_OBJECT)))
        return; /* nothing sound to compare (already reported) */
    size_t p = push_str(l, "properties");
    push_str(l, "connectionParameters");
    uint32_t count = cps == MD_JSON_NONE ? 0 : d->toks.v[cps].count;
    if (kind == AUTH_NONE && count)
        ERR(l, "security-match", "securityDefinitions is empty, so connectionParameters must be too");
    /* Power Platform sends the apiKey from the parameter named api_key. */
    if (kind == AUTH_APIKEY && !cp_type_is(d, get(d, cps, "api_key"), "securestring"))
        ERR(l, "security-match", "securityDefinitions has an apiKey: connectionParameters needs api_key, a securestring");
    if (kind == AUTH_BASIC) {
        uint32_t user = get(d, cps, "username"), pass = get(d, cps, "password");
        if (!cp_type_is(d, user, "string") && !cp_type_is(d, user, "securestring"))
            ERR(l, "security-match", "securityDefinitions has basic: connectionParameters needs username");
        if (!cp_type_is(d, pass, "securestring"))
            ERR(l, "security-match", "securityDefinitions has basic: connectionParameters needs password, a securestring");
    }
    if (kind == AUTH_OAUTH2)
        check_oauth_cp(l, cps);
    else if (kind != AUTH_NONE && find_cp(d, cps, "oauthSetting") != MD_JSON_NONE)
        ERR(l, "security-match", "connectionParameters has an oauthSetting but securityDefinitions has no oauth2");
    pop(l, p);
}


/* ---- apiProperties.json ---- */

static void check_connection_params(lint_t *l, uint32_t cps)
{
    static const char *const types[] = { "string", "securestring", "int", "bool", "oauthSetting", "gatewaySetting" };
    const doc_t *d = l->doc;
    if (!is(d, cps, MD_JSON_OBJECT)) {
        ERR(l, "connection-parameter", "connectionParameters must be an object");
        return;
    }
    FOR_MEMBERS(d, cps, n, k, v) {
        size_t p = push_key(l, k);
        bool known = false;
        for (size_t i = 0; !known && i < MD_ARRAY_LEN(types); i++)
            known = cp_type_is(d, v, types[i]);
        if (!known)
            ERR(l, "connection-parameter",
                "type must be string, securestring, int, bool, oauthSetting or gatewaySetting");
        else if (cp_type_is(d, v, "oauthSetting") &&
                 !is(d, get(d, get(d, v, "oAuthSettings"), "identityProvider"), MD_JSON_STRING))
            ERR(l, "connection-parameter", "an oauthSetting needs oAuthSettings.identityProvider");
        pop(l, p);
    }
}

static void check_props(lint_t *l)
{
    l->doc = &l->props;
    const doc_t *d = l->doc;
    uint32_t props = get(d, d->root, "properties");
    size_t p = push_str(l, "properties");
    if (!is(d, props, MD_JSON_OBJECT)) {
        ERR(l, "properties", "properties (iconBrandColor, connectionParameters) is missing");
        pop(l, p);
        return;
    }
    size_t q = push_str(l, "iconBrandColor");
    md_buf_t *s = &l->str;
    if (want_string(l, get(d, props, "iconBrandColor"), "icon-brand-color", "iconBrandColor", s)) {
        if (!md_lint_is_hex_colour(s->data, s->len))
            ERR(l, "icon-brand-color", "iconBrandColor \"%.20s\" must be #rrggbb", s->data);
        else if (strcasecmp(s->data, "#ffffff") == 0)
            WARN(l, "icon-brand-color", "white: certification asks for the icon's non-white background colour");
    }
    pop(l, q);
    uint32_t cps = get(d, props, "connectionParameters");
    if (cps != MD_JSON_NONE) {
        q = push_str(l, "connectionParameters");
        check_connection_params(l, cps);
        pop(l, q);
    }
    pop(l, p);
}


/* ---- icon.png ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG: the signature, then the IHDR chunk with the size. */
static void check_icon(lint_t *l, const char *dir)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    md_buf_t b;
    md_buf_init(&b, MD_LINT_MAX_ICON_BYTES);
    if (read_file(l, dir, ICON_FILE, &b) == MD_OK) {
        const unsigned char *p = (const unsigned char *)b.data;
        if (b.len < 24 || memcmp(p, sig, sizeof(sig)) != 0 || memcmp(p + 12, "IHDR", 4) != 0) {
            finding(l, ICON_FILE, SEV_ERROR, "icon-png", "not a PNG image");
        } else {
            uint32_t w = be32(p + 16), h = be32(p + 20);
            if (w == 0 || h == 0)
                finding(l, ICON_FILE, SEV_ERROR, "icon-png", "the PNG has no size");
            else if (w != h)
                finding(l, ICON_FILE, SEV_WARNING, "icon-square", "icon is %ux%u; use a square (about 230x230)", w, h);
        }
    }
    md_buf_free(&b);
}


/* ---- the run ---- */

static void doc_init(doc_t *d, const char *name, const char *prefix)
{
    memset(d, 0, sizeof(*d));
    d->name = name;
    d->prefix = prefix;
    md_buf_init(&d->text, MD_LINT_MAX_FILE_BYTES);
    md_json_toks_init(&d->toks, MD_LINT_MAX_TOKENS);
    d->root = MD_JSON_NONE;
}

static void doc_free(doc_t *d)
{
    md_buf_free(&d->text);
    md_json_toks_free(&d->toks);
}

int md_connector_lint_ex(const char *dir, FILE *out, md_lint_counts_t *counts)
{
    if (!dir || !out)
        return MD_EINVAL;
    lint_t l;
    memset(&l, 0, sizeof(l));
    l.out = out;
    md_buf_init(&l.path, PATH_MAX_BYTES);
    md_buf_init(&l.str, MD_LINT_MAX_FILE_BYTES);
    md_buf_init(&l.summary, MD_LINT_MAX_FILE_BYTES);
    l.pool = md_pool_new(0);
    l.ids = md_calloc(MD_LINT_MAX_OPERATIONS, sizeof(*l.ids));
    doc_init(&l.swagger, SWAGGER_FILE, "");
    doc_init(&l.props, PROPS_FILE, PROPS_FILE "#");
    l.doc = &l.swagger;
    l.work = WORK_BUDGET;
    l.swagger.work = l.props.work = &l.work;

    load_doc(&l, &l.swagger, dir);
    load_doc(&l, &l.props, dir);
    if (l.swagger.ok)
        check_swagger(&l);
    if (l.props.ok)
        check_props(&l);
    if (l.swagger.ok)
        check_security(&l);
    if (l.work == 0) {
        /* Printed even past MD_LINT_MAX_FINDINGS: it explains the rest. */
        l.work = 1; /* lets the icon's findings through; no lookup comes after */
        l.counts.errors++;
        fprintf(out, "%s: file-too-big: error: too complex to check (more than %u member lookups); "
                     "findings stop here\n", SWAGGER_FILE, WORK_BUDGET);
    }
    check_icon(&l, dir);
    if (l.shown > MD_LINT_MAX_FINDINGS) {
        put_clean(out, dir, strlen(dir));
        fprintf(out, ": findings-limit: note: %u more findings not shown\n", l.shown - MD_LINT_MAX_FINDINGS);
    }

    doc_free(&l.swagger);
    doc_free(&l.props);
    md_buf_free(&l.path);
    md_buf_free(&l.str);
    md_buf_free(&l.summary);
    md_pool_destroy(l.pool);
    md_free(l.ids);
    md_free(l.defs_done);
    md_free(l.queue);
    if (counts)
        *counts = l.counts;
    return l.counts.errors > INT_MAX ? INT_MAX : (int)l.counts.errors;
}

int md_connector_lint(const char *dir, FILE *out)
{
    return md_connector_lint_ex(dir, out, NULL);
}
