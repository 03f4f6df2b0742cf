/*
 * authfile.c - bounded line reading for the secrets files (contract in
 * authfile.h).
 */
#include "auth/authfile.h"

#include "core/common.h"

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
