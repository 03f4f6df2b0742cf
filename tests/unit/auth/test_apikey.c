/*
 * Unit tests for auth/apikey: lookups (hit, miss, refused lengths), the
 * constant-time walk (comparison count equal for hit and miss), validation,
 * all-or-nothing loading and keys-file errors with line numbers.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth/apikey.h"
#include "core/common.h"

#define KEY_A "aaaaaaaaaaaaaaaa-alpha" /* 22 bytes */
#define KEY_B "bbbbbbbbbbbbbbbb-bravo"
#define KEY_C "cccccccccccccccc-charlie"

static char tmp_path[64];

/* Writes n bytes to a fresh temporary file; returns its path. */
static const char *write_file(const char *data, size_t n)
{
    strcpy(tmp_path, "/tmp/md_apikey_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return tmp_path;
}

static md_apikey_set_t *three_keys(void)
{
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    md_apikey_pair_t pairs[] = { { "alpha", KEY_A }, { "bravo", KEY_B }, { "charlie", KEY_C } };
    char err[256] = "";
    assert_int_equal(md_apikey_add_pairs(s, pairs, 3, err, sizeof(err)), MD_OK);
    assert_int_equal(md_apikey_count(s), 3);
    return s;
}

static void hit_returns_the_name(void **state)
{
    (void)state;
    md_apikey_set_t *s = three_keys();
    const char *name = NULL;
    assert_int_equal(md_apikey_lookup(s, KEY_B, strlen(KEY_B), &name), MD_OK);
    assert_string_equal(name, "bravo");
    assert_int_equal(md_apikey_lookup(s, KEY_C, strlen(KEY_C), &name), MD_OK);
    assert_string_equal(name, "charlie");
    assert_int_equal(md_apikey_lookup(s, KEY_A, strlen(KEY_A), &name), MD_OK);
    assert_string_equal(name, "alpha");
    md_apikey_set_free(s);
}

static void miss_prefix_and_extension_are_not_found(void **state)
{
    (void)state;
    md_apikey_set_t *s = three_keys();
    const char *name = "x";
    /* One byte changed, last byte dropped, one byte added: all misses. */
    assert_int_equal(md_apikey_lookup(s, "aaaaaaaaaaaaaaaa-alphA", 22, &name), MD_ENOTFOUND);
    assert_null(name);
    assert_int_equal(md_apikey_lookup(s, KEY_A, strlen(KEY_A) - 1, &name), MD_ENOTFOUND);
    assert_int_equal(md_apikey_lookup(s, KEY_A "x", strlen(KEY_A) + 1, &name), MD_ENOTFOUND);
    assert_null(name);
    md_apikey_set_free(s);
}

static void empty_short_and_overlong_keys_are_refused(void **state)
{
    (void)state;
    md_apikey_set_t *s = three_keys();
    char big[300];
    memset(big, 'k', sizeof(big));
    const char *name = "x";
    size_t compared = 99;
    assert_int_equal(md_apikey_lookup_counted(s, "", 0, &name, &compared), MD_EINVAL);
    assert_null(name);
    assert_int_equal(compared, 0);
    assert_int_equal(md_apikey_lookup_counted(s, big, 15, &name, &compared), MD_EINVAL);
    assert_int_equal(md_apikey_lookup_counted(s, big, 257, &name, &compared), MD_EINVAL);
    assert_int_equal(compared, 0);
    /* 16 and 256 bytes are inside the range: looked up, not refused. */
    assert_int_equal(md_apikey_lookup_counted(s, big, 16, &name, &compared), MD_ENOTFOUND);
    assert_int_equal(compared, 3);
    assert_int_equal(md_apikey_lookup_counted(s, big, 256, &name, &compared), MD_ENOTFOUND);
    md_apikey_set_free(s);
}

static void boundary_lengths_can_be_stored(void **state)
{
    (void)state;
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    char k256[256], k16[16];
    memset(k256, 'Z', sizeof(k256));
    memset(k16, 'Q', sizeof(k16));
    char err[256] = "";
    assert_int_equal(md_apikey_add(s, "long", k256, sizeof(k256), err, sizeof(err)), MD_OK);
    assert_int_equal(md_apikey_add(s, "short", k16, sizeof(k16), err, sizeof(err)), MD_OK);
    const char *name = NULL;
    assert_int_equal(md_apikey_lookup(s, k256, 256, &name), MD_OK);
    assert_string_equal(name, "long");
    assert_int_equal(md_apikey_lookup(s, k16, 16, &name), MD_OK);
    assert_string_equal(name, "short");
    assert_int_equal(md_apikey_lookup(s, k256, 255, &name), MD_ENOTFOUND);
    md_apikey_set_free(s);
}

/* The walk covers every key whether or not (and wherever) a key matches. */
static void every_lookup_compares_every_key(void **state)
{
    (void)state;
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    char err[256] = "", name_buf[16], key[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name_buf, sizeof(name_buf), "k%d", i);
        snprintf(key, sizeof(key), "key-number-%08d", i);
        assert_int_equal(md_apikey_add(s, name_buf, key, strlen(key), err, sizeof(err)), MD_OK);
    }
    const char *name = NULL;
    size_t compared = 0;
    assert_int_equal(md_apikey_lookup_counted(s, "key-number-00000000", 19, &name, &compared), MD_OK);
    assert_string_equal(name, "k0");
    assert_int_equal(compared, 50); /* a hit on the first key still walks all */
    assert_int_equal(md_apikey_lookup_counted(s, "key-number-00000049", 19, &name, &compared), MD_OK);
    assert_string_equal(name, "k49");
    assert_int_equal(compared, 50);
    assert_int_equal(md_apikey_lookup_counted(s, "key-number-00000050", 19, &name, &compared), MD_ENOTFOUND);
    assert_int_equal(compared, 50);
    md_apikey_set_free(s);
}

static void lookup_in_an_empty_set_misses(void **state)
{
    (void)state;
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    const char *name = NULL;
    size_t compared = 7;
    assert_int_equal(md_apikey_lookup_counted(s, KEY_A, strlen(KEY_A), &name, &compared), MD_ENOTFOUND);
    assert_int_equal(compared, 0);
    md_apikey_set_free(s);
}

static void add_refuses_bad_names_and_keys(void **state)
{
    (void)state;
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    char err[256];
    char long_name[66];
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    assert_int_equal(md_apikey_add(s, "", KEY_A, strlen(KEY_A), err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "empty key name"));
    assert_int_equal(md_apikey_add(s, long_name, KEY_A, strlen(KEY_A), err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "longer than 64"));
    assert_int_equal(md_apikey_add(s, "bad name", KEY_A, strlen(KEY_A), err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "may only contain"));
    assert_int_equal(md_apikey_add(s, "short", "0123456789abcde", 15, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "shorter than 16"));
    assert_int_equal(md_apikey_add(s, "spaced", "0123456789 abcdef", 17, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "visible ASCII"));
    assert_int_equal(md_apikey_add(s, "ctl", "0123456789\nabcdef", 17, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_apikey_add(s, "unset", NULL, 0, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "api key 'unset'"));
    assert_non_null(strstr(err, "environment variable"));
    long_name[64] = '\0'; /* exactly 64: fine */
    assert_int_equal(md_apikey_add(s, long_name, KEY_A, strlen(KEY_A), err, sizeof(err)), MD_OK);
    assert_int_equal(md_apikey_count(s), 1);
    md_apikey_set_free(s);
}

static void duplicates_are_refused(void **state)
{
    (void)state;
    md_apikey_set_t *s = three_keys();
    char err[256];
    assert_int_equal(md_apikey_add(s, "bravo", "a-brand-new-key-value", 21, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "duplicate key name"));
    assert_int_equal(md_apikey_add(s, "delta", KEY_C, strlen(KEY_C), err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "same key value as configured key 'charlie'"));
    assert_int_equal(md_apikey_count(s), 3);
    /* The refused entries left no trace. */
    const char *name = NULL;
    assert_int_equal(md_apikey_lookup(s, "a-brand-new-key-value", 21, &name), MD_ENOTFOUND);
    assert_int_equal(md_apikey_lookup(s, KEY_C, strlen(KEY_C), &name), MD_OK);
    assert_string_equal(name, "charlie");
    md_apikey_set_free(s);
}

static void pairs_are_all_or_nothing(void **state)
{
    (void)state;
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    md_apikey_pair_t pairs[] = { { "one", KEY_A }, { "two", "too-short" } };
    char err[256];
    assert_int_equal(md_apikey_add_pairs(s, pairs, 2, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "api key 'two'"));
    assert_int_equal(md_apikey_count(s), 0);
    const char *name = NULL;
    assert_int_equal(md_apikey_lookup(s, KEY_A, strlen(KEY_A), &name), MD_ENOTFOUND);
    /* The same name can be added afterwards: the index forgot it too. */
    assert_int_equal(md_apikey_add(s, "one", KEY_A, strlen(KEY_A), err, sizeof(err)), MD_OK);
    md_apikey_set_free(s);
}

static void file_loads_with_comments_crlf_and_colons(void **state)
{
    (void)state;
    const char text[] = "# service keys\n"
                        "\n"
                        "mobile-app:" KEY_A "\r\n"
                        "   # indented comment\n"
                        "partner_1.eu:with:colons:in-the-key\n"
                        "last:" KEY_C; /* no final newline */
    const char *path = write_file(text, sizeof(text) - 1);
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    char err[256] = "";
    assert_int_equal(md_apikey_load_file(s, path, err, sizeof(err)), MD_OK);
    assert_int_equal(md_apikey_count(s), 3);
    const char *name = NULL;
    assert_int_equal(md_apikey_lookup(s, KEY_A, strlen(KEY_A), &name), MD_OK);
    assert_string_equal(name, "mobile-app");
    assert_int_equal(md_apikey_lookup(s, "with:colons:in-the-key", 22, &name), MD_OK);
    assert_string_equal(name, "partner_1.eu");
    assert_int_equal(md_apikey_lookup(s, KEY_C, strlen(KEY_C), &name), MD_OK);
    assert_string_equal(name, "last");
    unlink(path);
    md_apikey_set_free(s);
}

/* Loads text into a set already holding one configured key; returns the
 * code, leaves the message in err and checks the load was all or nothing. */
static int load_text(const char *text, size_t n, char *err, size_t errlen)
{
    const char *path = write_file(text, n);
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    assert_int_equal(md_apikey_add(s, "env-key", KEY_B, strlen(KEY_B), err, errlen), MD_OK);
    err[0] = '\0';
    int rc = md_apikey_load_file(s, path, err, errlen);
    if (rc != MD_OK) {
        assert_int_equal(md_apikey_count(s), 1);
        const char *name = NULL;
        assert_int_equal(md_apikey_lookup(s, KEY_A, strlen(KEY_A), &name), MD_ENOTFOUND);
    }
    unlink(path);
    md_apikey_set_free(s);
    return rc;
}

static void file_errors_name_the_line(void **state)
{
    (void)state;
    char err[512], expect[256];
    const char no_colon[] = "ok:" KEY_A "\n# c\nbroken-line-without-colon\n";
    assert_int_equal(load_text(no_colon, sizeof(no_colon) - 1, err, sizeof(err)), MD_EINVAL);
    snprintf(expect, sizeof(expect), "%s:3: expected name:key", tmp_path);
    assert_string_equal(err, expect);

    const char dup_name[] = "x:" KEY_A "\n\ny:" KEY_C "\nx:0123456789abcdefXYZ\n";
    assert_int_equal(load_text(dup_name, sizeof(dup_name) - 1, err, sizeof(err)), MD_EINVAL);
    snprintf(expect, sizeof(expect), "%s:4: duplicate key name (first: 'x' on line 1)", tmp_path);
    assert_string_equal(err, expect);

    const char dup_value[] = "x:" KEY_A "\ny:" KEY_A "\n";
    assert_int_equal(load_text(dup_value, sizeof(dup_value) - 1, err, sizeof(err)), MD_EINVAL);
    snprintf(expect, sizeof(expect), "%s:2: same key value as 'x' on line 1", tmp_path);
    assert_string_equal(err, expect);

    const char dup_env[] = "x:" KEY_A "\ny:" KEY_B "\n"; /* KEY_B is env-key's */
    assert_int_equal(load_text(dup_env, sizeof(dup_env) - 1, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":2: same key value as configured key 'env-key'"));

    const char short_key[] = "x:" KEY_A "\ny:short\n";
    assert_int_equal(load_text(short_key, sizeof(short_key) - 1, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":2: key shorter than 16 bytes"));

    const char trailing_space[] = "x:" KEY_A " \n";
    assert_int_equal(load_text(trailing_space, sizeof(trailing_space) - 1, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":1: key may only contain visible ASCII"));

    const char nul[] = "x:" KEY_A "\ny:0123456789\0abcdefgh\n";
    assert_int_equal(load_text(nul, sizeof(nul) - 1, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":2: NUL byte"));
}

static void file_line_and_count_limits(void **state)
{
    (void)state;
    char err[512];
    char *longline = malloc(2100);
    strcpy(longline, "x:" KEY_A "\n# ");
    size_t n = strlen(longline);
    memset(longline + n, 'c', 1100);
    n += 1100;
    longline[n++] = '\n';
    assert_int_equal(load_text(longline, n, err, sizeof(err)), MD_ETOOBIG);
    assert_non_null(strstr(err, ":2: line longer than 1023 bytes"));
    free(longline);

    /* 10,000 keys fit; key number 10,001 is refused on its line. */
    size_t cap = 10001 * 40;
    char *many = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < 10001; i++)
        len += (size_t)snprintf(many + len, cap - len, "k%d:key-value-%08d\n", i, i);
    const char *path = write_file(many, len);
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    assert_int_equal(md_apikey_load_file(s, path, err, sizeof(err)), MD_ETOOBIG);
    assert_non_null(strstr(err, ":10001: more than 10000 keys"));
    assert_int_equal(md_apikey_count(s), 0);
    unlink(path);
    /* Without the last line the same file loads. */
    len -= strlen("k10000:key-value-00010000\n");
    path = write_file(many, len);
    assert_int_equal(md_apikey_load_file(s, path, err, sizeof(err)), MD_OK);
    assert_int_equal(md_apikey_count(s), 10000);
    const char *name = NULL;
    assert_int_equal(md_apikey_lookup(s, "key-value-00009999", 18, &name), MD_OK);
    assert_string_equal(name, "k9999");
    char extra[] = "key-value-extra!";
    assert_int_equal(md_apikey_add(s, "extra", extra, strlen(extra), err, sizeof(err)), MD_ETOOBIG);
    unlink(path);
    free(many);
    md_apikey_set_free(s);
}

static void missing_file_is_an_error(void **state)
{
    (void)state;
    md_apikey_set_t *s = NULL;
    assert_int_equal(md_apikey_set_new(&s), MD_OK);
    char err[256];
    assert_int_equal(md_apikey_load_file(s, "/nonexistent/keys.txt", err, sizeof(err)), MD_ERR);
    assert_non_null(strstr(err, "/nonexistent/keys.txt: cannot open"));
    md_apikey_set_free(s);
    md_apikey_set_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_returns_the_name),
        cmocka_unit_test(miss_prefix_and_extension_are_not_found),
        cmocka_unit_test(empty_short_and_overlong_keys_are_refused),
        cmocka_unit_test(boundary_lengths_can_be_stored),
        cmocka_unit_test(every_lookup_compares_every_key),
        cmocka_unit_test(lookup_in_an_empty_set_misses),
        cmocka_unit_test(add_refuses_bad_names_and_keys),
        cmocka_unit_test(duplicates_are_refused),
        cmocka_unit_test(pairs_are_all_or_nothing),
        cmocka_unit_test(file_loads_with_comments_crlf_and_colons),
        cmocka_unit_test(file_errors_name_the_line),
        cmocka_unit_test(file_line_and_count_limits),
        cmocka_unit_test(missing_file_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
