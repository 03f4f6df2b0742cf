/*
 * authfile.c - bounded line reading for the secrets files (contract in
 * authfile.h).
 */
#include "auth/authfile.h"

#include "core/common.h"

#include <errno.h>
#include <string.h>

int md_authfile_read_line(FILE *f, char *buf, size_t cap, size_t *len, unsigned *lineno)
{
    size_t n = 0;
    int c = getc_unlocked(f);
    if (c == EOF)
        return ferror(f) ? MD_ERR : MD_ENOTFOUND;
    (*lineno)++;
    for (; c != EOF && c != '\n'; c = getc_unlocked(f)) {
        if (c == '\0')
            return MD_EINVAL;
        if (n + 1 >= cap)
            return MD_ETOOBIG;
        buf[n++] = (char)c;
    }
    if (c == EOF && ferror(f))
        return MD_ERR;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return MD_OK;
}

bool md_authfile_is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '#')
            return true;
        if (line[i] != ' ' && line[i] != '\t')
            return false;
    }
    return true;
}

static int each_line(FILE *f, const char *path, const char *form, md_authfile_entry_cb cb, void *arg,
                     char *line, char *err, size_t errlen)
{
    char where[300];
    unsigned lineno = 0;
    size_t len = 0;
    for (;;) {
        int rc = md_authfile_read_line(f, line, MD_AUTHFILE_LINE_MAX, &len, &lineno);
        if (rc == MD_ENOTFOUND)
            return MD_OK;
        snprintf(where, sizeof(where), "%.256s:%u", path, lineno);
        if (rc != MD_OK) {
            md_seterr(err, errlen, "%s: %s", where,
                      rc == MD_ETOOBIG ? "line longer than 1023 bytes"
                      : rc == MD_EINVAL ? "NUL byte in line" : "read error");
            return rc;
        }
        if (md_authfile_is_blank(line, len))
            continue;
        const char *colon = memchr(line, ':', len);
        if (!colon) {
            md_seterr(err, errlen, "%s: expected %s", where, form);
            return MD_EINVAL;
        }
        size_t name_len = (size_t)(colon - line);
        rc = cb(arg, line, name_len, colon + 1, len - name_len - 1, lineno, where, err, errlen);
        if (rc != MD_OK)
            return rc;
    }
}

int md_authfile_load(const char *path, const char *form, md_authfile_entry_cb cb, void *arg, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        md_seterr(err, errlen, "%.256s: cannot open: %s", path, strerror(errno));
        return MD_ERR;
    }
    char line[MD_AUTHFILE_LINE_MAX];
    int rc = each_line(f, path, form, cb, arg, line, err, errlen);
    explicit_bzero(line, sizeof(line));
    fclose(f);
    return rc;
}
