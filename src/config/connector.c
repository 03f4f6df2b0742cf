/*
 * connector.c - the configuration keys that only feed the Power Platform
 * connector export (src/connector/) and GET /openapi.json: the top-level
 * `public_url` and `connector:` block, and an endpoint's `response:` block.
 *
 * Microsoft's certification rules that can be checked on one value are
 * checked here, where an error can name FILE:LINE:COL, rather than left
 * for the packaged file: the title's length and forbidden words, the
 * description's length, the category list, the icon colour. Rules that
 * span several values (unique operationIds, summaries) belong to the
 * exporter.
 */
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_TITLE_CHARS 30
#define MIN_DESCRIPTION_CHARS 30
#define MAX_DESCRIPTION_CHARS 500
#define MAX_VERSION 32
#define MAX_SHORT 128              /* contact name, schema titles */
#define MAX_FORMAT 64
#define MAX_CATEGORIES 2
#define MAX_SCHEMA_DEPTH 32        /* segments of a response.schema path */

static const char *const connector_keys[] = { "title", "description", "version", "contact", "website",
                                              "privacy_policy", "categories", "brand_color", NULL };
static const char *const contact_keys[] = { "name", "url", "email", NULL };
static const char *const response_keys[] = { "description", "schema", NULL };
static const char *const prop_keys[] = { "type", "title", "description", "format", NULL };

/* Microsoft's categories for certified connectors. */
static const char *const categories[] = {
    "AI", "Business Management", "Business Intelligence", "Collaboration", "Commerce", "Communication",
    "Content and Files", "Finance", "Data", "Human Resources", "Internet of Things", "IT Operations",
    "Lifestyle and Entertainment", "Marketing", "Productivity", "Sales and CRM", "Security", "Social Media",
    "Website",
};

/* Words a connector title or description must not use (certification). */
static const char *const product_names[] = { "Power Apps", "PowerApps", "Power Automate", "Power BI",
                                             "Power Pages", "Power Platform", "Power Virtual Agents",
                                             "Copilot Studio", "Microsoft Flow" };

/* UTF-8 characters in s (continuation bytes not counted). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool is_alnum_byte(unsigned char ch)
{
    return isalnum(ch) || ch >= 0x80; /* non-ASCII: letters of other scripts */
}

/* Whether `phrase` appears in s as whole words, ignoring case. */
static bool has_words(const char *s, const char *phrase)
{
    size_t n = strlen(phrase);
    for (const char *p = s; *p; p++) {
        if (strncasecmp(p, phrase, n) != 0)
            continue;
        bool starts = p == s || !is_alnum_byte((unsigned char)p[-1]);
        bool ends = !is_alnum_byte((unsigned char)p[n]);
        if (starts && ends)
            return true;
    }
    return false;
}

static const char *product_name_in(const char *s)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(product_names); i++)
        if (has_words(s, product_names[i]))
            return product_names[i];
    return NULL;
}

/* ---- public_url -------------------------------------------------------- */

static bool is_dns_name(const char *s, size_t n)
{
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* A base path: segments of unreserved characters or %XX, none empty, "."
 * or "..". */
static bool is_base_path(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] != '/')
            return false;
        size_t seg = ++i;
        while (i < n && p[i] != '/') {
            unsigned char ch = (unsigned char)p[i];
            if (ch == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) && isxdigit((unsigned char)p[i + 2]))
                i += 2;
            else if (!isalnum(ch) && !strchr("-._~", ch))
                return false;
            i++;
        }
        size_t len = i - seg;
        if (len == 0 || (len == 1 && p[seg] == '.') || (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
            return false;
    }
    return true;
}

static int bad_public_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *why)
{
    char s[MD_CFG_SHOW];
    return md_cfg_fail(c, n->line, n->col, "public_url '%s' %s", md_cfg_show(s, n->str), why);
}

int md_cfg_public_url(md_cfg_ctx_t *c, const md_cfg_node_t *n)
{
    md_config_t *cfg = c->cfg;
    if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &cfg->public_url) != MD_OK)
        return MD_EINVAL;
    cfg->public_url_line = n->line;
    cfg->public_url_col = n->col;
    const char *s = cfg->public_url;
    if (strncasecmp(s, "https://", 8) != 0)
        return bad_public_url(c, n, "must start with https:// (Power Platform calls connectors over https)");
    s += 8;
    if (strpbrk(s, "?# "))
        return bad_public_url(c, n, "must not have a query, a fragment or spaces");
    size_t alen = strcspn(s, "/");
    if (memchr(s, '@', alen))
        return bad_public_url(c, n, "must not contain user info (user@)");
    if (s[0] == '[')
        return bad_public_url(c, n, "must name a host, not an IPv6 literal");
    const char *colon = memchr(s, ':', alen);
    size_t hlen = colon ? (size_t)(colon - s) : alen;
    if (!is_dns_name(s, hlen))
        return bad_public_url(c, n, "must be https://host[:port][/base-path]");
    if (colon) {
        size_t plen = alen - hlen - 1, v = 0;
        bool ok = plen >= 1 && plen <= 5;
        for (size_t i = 0; ok && i < plen; i++) {
            ok = isdigit((unsigned char)colon[1 + i]);
            v = v * 10 + (size_t)(colon[1 + i] - '0');
        }
        if (!ok || v < 1 || v > 65535)
            return bad_public_url(c, n, "has a bad port (1-65535)");
    }
    const char *path = s + alen;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (!is_base_path(path, plen))
        return bad_public_url(c, n, "has a base path that is not plain segments of A-Z a-z 0-9 - . _ ~ (or %XX)");
    cfg->public_host = md_strndup(s, alen);
    cfg->public_base_path = plen ? md_strndup(path, plen) : md_strdup("/");
    return MD_OK;
}

/* ---- connector --------------------------------------------------------- */

static int url_field(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out)
{
    if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, out) != MD_OK)
        return MD_EINVAL;
    const char *s = *out;
    size_t skip = strncasecmp(s, "https://", 8) == 0 ? 8 : strncasecmp(s, "http://", 7) == 0 ? 7 : 0;
    if (!skip || !s[skip] || s[skip] == '/' || strchr(s, ' '))
        return md_cfg_fail(c, n->line, n->col, "'%s' must be an http:// or https:// URL", n->key);
    return MD_OK;
}

static int parse_title(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_connector_conf_t *k)
{
    if (md_cfg_line(c, n, false, 256, &k->title) != MD_OK)
        return MD_EINVAL;
    const char *t = k->title, *bad;
    size_t len = strlen(t);
    if (utf8_chars(t) > MAX_TITLE_CHARS)
        return md_cfg_fail(c, n->line, n->col, "'title' must be at most %d characters (it has %zu)",
                           MAX_TITLE_CHARS, utf8_chars(t));
    if (has_words(t, "API") || has_words(t, "Connector"))
        return md_cfg_fail(c, n->line, n->col, "'title' must not contain the words 'API' or 'Connector'");
    if ((bad = product_name_in(t)))
        return md_cfg_fail(c, n->line, n->col, "'title' must not contain a product name ('%s')", bad);
    /* "(Independent Publisher)" is Microsoft's own suffix, hence ')'. */
    unsigned char last = (unsigned char)t[len - 1];
    if (!is_alnum_byte(last) && last != ')')
        return md_cfg_fail(c, n->line, n->col, "'title' must end with a letter or digit");
    return MD_OK;
}

static int parse_description(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_connector_conf_t *k)
{
    if (md_cfg_text(c, n, &k->description) != MD_OK)
        return MD_EINVAL;
    size_t chars = utf8_chars(k->description);
    const char *bad;
    if (chars < MIN_DESCRIPTION_CHARS || chars > MAX_DESCRIPTION_CHARS)
        return md_cfg_fail(c, n->line, n->col, "'description' must be %d-%d characters (it has %zu)",
                           MIN_DESCRIPTION_CHARS, MAX_DESCRIPTION_CHARS, chars);
    if ((bad = product_name_in(k->description)))
        return md_cfg_fail(c, n->line, n->col, "'description' must not contain a product name ('%s')", bad);
    return MD_OK;
}

static int parse_contact(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_connector_conf_t *k)
{
    if (md_cfg_check_keys(c, map, contact_keys, "connector 'contact'") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "name")) && md_cfg_line(c, n, false, MAX_SHORT, &k->contact_name) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "url")) && url_field(c, n, &k->contact_url) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "email"))) {
        if (md_cfg_line(c, n, false, 254, &k->contact_email) != MD_OK)
            return MD_EINVAL;
        const char *e = k->contact_email, *at = strchr(e, '@');
        if (!at || at == e || !at[1] || strchr(at + 1, '@') || strchr(e, ' ') || !strchr(at + 1, '.'))
            return md_cfg_fail(c, n->line, n->col, "'email' must be an address like support@example.com");
    }
    return MD_OK;
}

static int parse_categories(md_cfg_ctx_t *c, const md_cfg_node_t *seq, md_connector_conf_t *k)
{
    if (md_cfg_check_seq(c, seq, MAX_CATEGORIES, "categories") != MD_OK)
        return MD_EINVAL;
    k->categories = md_calloc(seq->count ? seq->count : 1, sizeof(char *));
    k->ncategories = seq->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++) {
        size_t j = 0;
        while (n->kind == MD_CFG_SCALAR && j < MD_ARRAY_LEN(categories) && strcmp(n->str, categories[j]) != 0)
            j++;
        if (j == MD_ARRAY_LEN(categories)) {
            char s[MD_CFG_SHOW];
            const char *hint = n->kind == MD_CFG_SCALAR
                                   ? md_cfg_suggest(n->str, categories, MD_ARRAY_LEN(categories)) : NULL;
            return md_cfg_fail(c, n->line, n->col, "unknown category '%s'%s%s%s (see docs/config.md)",
                               md_cfg_show(s, n->kind == MD_CFG_SCALAR ? n->str : "?"),
                               hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
        }
        for (size_t p = 0; p < i; p++)
            if (strcmp(k->categories[p], categories[j]) == 0)
                return md_cfg_fail(c, n->line, n->col, "category '%s' is listed twice", categories[j]);
        k->categories[i] = md_strdup(categories[j]);
    }
    return MD_OK;
}

static int parse_brand_color(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_connector_conf_t *k)
{
    if (md_cfg_line(c, n, false, 16, &k->brand_color) != MD_OK)
        return MD_EINVAL;
    char *s = k->brand_color;
    bool ok = strlen(s) == 7 && s[0] == '#';
    for (size_t i = 1; ok && i < 7; i++) {
        ok = isxdigit((unsigned char)s[i]);
        s[i] = (char)tolower((unsigned char)s[i]);
    }
    if (!ok)
        return md_cfg_fail(c, n->line, n->col, "'brand_color' must be a colour like \"#da3b01\" (#rrggbb)");
    if (strcmp(s, "#ffffff") == 0 || strcmp(s, "#007ee5") == 0)
        return md_cfg_fail(c, n->line, n->col, "'brand_color' must not be white or the portal's default "
                                               "#007ee5 (certification rule)");
    return MD_OK;
}

int md_cfg_connector(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    md_connector_conf_t *k = &c->cfg->connector;
    k->line = map->key_line;
    k->col = map->key_col;
    if (md_cfg_check_keys(c, map, connector_keys, "'connector'") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "title")) && parse_title(c, n, k) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "description")) && parse_description(c, n, k) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "version")) && md_cfg_line(c, n, false, MAX_VERSION, &k->version) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "contact")) && parse_contact(c, n, k) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "website")) && url_field(c, n, &k->website) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "privacy_policy")) && url_field(c, n, &k->privacy_policy) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "categories")) && parse_categories(c, n, k) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "brand_color")) && parse_brand_color(c, n, k) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

/* ---- response ---------------------------------------------------------- */

static int schema_path(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out)
{
    const char *s = n->key;
    size_t len = strlen(s), parts = 1;
    bool ok = len > 0 && len <= MD_CFG_MAX_PATH && s[0] != '.' && s[len - 1] != '.' && !strstr(s, "..");
    for (size_t i = 0; ok && i < len; i++) {
        ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
        parts += s[i] == '.';
    }
    char k[MD_CFG_SHOW];
    if (!ok)
        return md_cfg_fail(c, n->key_line, n->key_col, "response schema path '%s' must be a dotted path like "
                           "news.title (no empty parts, one line)", md_cfg_show(k, s));
    if (parts > MAX_SCHEMA_DEPTH)
        return md_cfg_fail(c, n->key_line, n->key_col, "response schema path '%s' is deeper than %d levels",
                           md_cfg_show(k, s), MAX_SCHEMA_DEPTH);
    *out = md_strdup(s);
    return MD_OK;
}

static int parse_prop(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_schema_prop_conf_t *p)
{
    static const char *const types[] = { "string", "integer", "number", "boolean", "object", "array" };
    char what[MD_CFG_SHOW + 32], k[MD_CFG_SHOW];
    snprintf(what, sizeof(what), "response schema '%s'", md_cfg_show(k, map->key));
    p->line = map->key_line;
    p->col = map->key_col;
    if (schema_path(c, map, &p->path) != MD_OK)
        return MD_EINVAL;
    if (map->null || map->kind != MD_CFG_MAP || map->count == 0)
        return md_cfg_fail(c, map->key_line, map->key_col, "%s must be a mapping with type, title, description "
                           "or format", what);
    if (md_cfg_check_keys(c, map, prop_keys, what) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "type"))) {
        size_t i = 0;
        while (n->kind == MD_CFG_SCALAR && i < MD_ARRAY_LEN(types) && strcmp(n->str, types[i]) != 0)
            i++;
        if (i == MD_ARRAY_LEN(types))
            return md_cfg_fail(c, n->line, n->col, "'type' must be one of string, integer, number, boolean, "
                                                   "object, array");
        p->type = (md_schema_type_t)(MD_SCHEMA_STRING + i);
    }
    if ((n = md_cfg_get(map, "title")) && md_cfg_line(c, n, false, MAX_SHORT, &p->title) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "description")) && md_cfg_text(c, n, &p->description) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "format")) && md_cfg_line(c, n, false, MAX_FORMAT, &p->format) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

int md_cfg_response(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, const char *ep)
{
    char what[MD_CFG_SHOW + 48];
    snprintf(what, sizeof(what), "the response of %s", ep);
    if (md_cfg_check_keys(c, map, response_keys, what) != MD_OK)
        return MD_EINVAL;
    md_response_conf_t *r = &e->response;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "description")) && md_cfg_text(c, n, &r->description) != MD_OK)
        return MD_EINVAL;
    if (!(n = md_cfg_get(map, "schema")))
        return MD_OK;
    if (md_cfg_check_map(c, n, MD_CFG_MAX_SHAPE_FIELDS, false, "response schema entries") != MD_OK)
        return MD_EINVAL;
    r->schema = md_calloc(n->count ? n->count : 1, sizeof(*r->schema));
    r->nschema = n->count;
    size_t i = 0;
    for (const md_cfg_node_t *p = n->first; p; p = p->next, i++)
        if (parse_prop(c, p, &r->schema[i]) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}
