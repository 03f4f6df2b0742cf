/*
 * Unit tests for connector/package: apiProperties.json's content, the three
 * files written into a new folder, the refusal of a non-empty folder
 * without force, force overwriting only the package files, and the error
 * paths (not a directory, missing parent).
 */
#include "testutil.h"

#include "config/config.h"
#include "connector/package.h"
#include "core/common.h"
#include "json/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char yaml_full[] =
    "public_url: https://m.example\n"
    "connector: { title: Feed, description: A feed of everything an employee needs today.,\n"
    "             contact: { name: Contoso IT }, brand_color: \"#1F6F8B\" }\n"
    "upstreams: { hr: { url: \"http://127.0.0.1:9\" } }\n"
    "endpoints: [ { path: /a, backends: [ { upstream: hr, path: /x } ] } ]\n";

static const char yaml_bare[] =
    "upstreams: { hr: { url: \"http://127.0.0.1:9\" } }\n"
    "endpoints: [ { path: /a, backends: [ { upstream: hr, path: /x } ] } ]\n";

static md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "p.yaml", &d);
    if (!cfg)
        fail_msg("config: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

/* The raw JSON text at properties.KEY of an apiProperties document. */
static void expect_prop(const md_buf_t *b, const char *key, const char *raw)
{
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    uint32_t root;
    char err[100];
    assert_int_equal(md_json_scan(&t, b->data, b->len, &root, err, sizeof(err)), MD_OK);
    uint32_t props = md_json_member(b->data, t.v, root, "properties", 10);
    assert_int_not_equal(props, MD_JSON_NONE);
    uint32_t v = md_json_member(b->data, t.v, props, key, strlen(key));
    if (!raw) {
        assert_int_equal(v, MD_JSON_NONE);
    } else {
        if (v == MD_JSON_NONE)
            fail_msg("no properties.%s", key);
        if (t.v[v].len != strlen(raw) || memcmp(b->data + t.v[v].off, raw, t.v[v].len) != 0)
            fail_msg("properties.%s: expected %s, got %.*s", key, raw, (int)t.v[v].len, b->data + t.v[v].off);
    }
    md_json_toks_free(&t);
}

static void api_properties_content(void **state)
{
    (void)state;
    md_config_t *cfg = load(yaml_full);
    md_buf_t b;
    assert_int_equal(md_connector_api_properties(cfg, &b), MD_OK);
    expect_prop(&b, "connectionParameters", "{}");
    expect_prop(&b, "iconBrandColor", "\"#1f6f8b\"");
    expect_prop(&b, "capabilities", "[]");
    expect_prop(&b, "publisher", "\"Contoso IT\"");
    expect_prop(&b, "stackOwner", "\"Contoso IT\"");
    md_buf_free(&b);
    md_config_free(cfg);

    cfg = load(yaml_bare);
    assert_int_equal(md_connector_api_properties(cfg, &b), MD_OK);
    expect_prop(&b, "iconBrandColor", "\"" MD_CONNECTOR_DEFAULT_COLOR "\"");
    expect_prop(&b, "publisher", NULL);
    expect_prop(&b, "stackOwner", NULL);
    md_buf_free(&b);
    md_config_free(cfg);
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void writes_the_three_files(void **state)
{
    (void)state;
    char base[] = "/tmp/md-pkg-XXXXXX", dir[300], err[256];
    assert_non_null(mkdtemp(base));
    snprintf(dir, sizeof(dir), "%s/out", base); /* created by the package */
    md_config_t *cfg = load(yaml_full);
    md_buf_t def;
    md_buf_init(&def, 0);
    md_buf_append_str(&def, "{\"swagger\":\"2.0\"}\n");
    assert_int_equal(md_connector_package(dir, cfg, &def, false, err, sizeof(err)), MD_OK);
    size_t len;
    char *text = read_file(dir, "apiDefinition.swagger.json", &len);
    assert_non_null(text);
    assert_int_equal(len, def.len);
    assert_memory_equal(text, def.data, len);
    free(text);
    text = read_file(dir, "apiProperties.json", &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"iconBrandColor\": \"#1f6f8b\""));
    free(text);
    text = read_file(dir, "icon.png", &len);
    assert_non_null(text);
    assert_memory_equal(text, "\x89PNG\r\n\x1a\n", 8);
    free(text);
    /* No temporary file is left behind. */
    assert_null(read_file(dir, ".icon.png.tmp", &len));

    /* Again into the now non-empty folder: refused, files untouched. */
    md_buf_t other;
    md_buf_init(&other, 0);
    md_buf_append_str(&other, "{\"swagger\":\"2.0\",\"x\":1}\n");
    assert_int_equal(md_connector_package(dir, cfg, &other, false, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "is not empty (use --force"));
    text = read_file(dir, "apiDefinition.swagger.json", &len);
    assert_int_equal(len, def.len);
    free(text);
    /* With force: overwritten, other files left alone. */
    write_text(dir, "README.md", "mine");
    assert_int_equal(md_connector_package(dir, cfg, &other, true, err, sizeof(err)), MD_OK);
    text = read_file(dir, "apiDefinition.swagger.json", &len);
    assert_int_equal(len, other.len);
    assert_memory_equal(text, other.data, len);
    free(text);
    text = read_file(dir, "README.md", &len);
    assert_non_null(text);
    assert_int_equal(len, 4);
    free(text);
    md_buf_free(&other);
    md_buf_free(&def);
    md_config_free(cfg);
    remove_tree(base);
}

static void folder_errors(void **state)
{
    (void)state;
    char base[] = "/tmp/md-pkg-XXXXXX", path[300], err[256];
    assert_non_null(mkdtemp(base));
    md_config_t *cfg = load(yaml_full);
    md_buf_t def;
    md_buf_init(&def, 0);
    md_buf_append_str(&def, "{}\n");
    write_text(base, "file", "x");
    snprintf(path, sizeof(path), "%s/file", base);
    assert_int_equal(md_connector_package(path, cfg, &def, true, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "exists and is not a directory"));
    snprintf(path, sizeof(path), "%s/no/such", base);
    assert_int_equal(md_connector_package(path, cfg, &def, false, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "cannot create"));
    /* An empty existing folder is fine without force. */
    snprintf(path, sizeof(path), "%s/empty", base);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(md_connector_package(path, cfg, &def, false, err, sizeof(err)), MD_OK);
    md_buf_free(&def);
    md_config_free(cfg);
    remove_tree(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api_properties_content),
        cmocka_unit_test(writes_the_three_files),
        cmocka_unit_test(folder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
