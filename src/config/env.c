/*
 * env.c - ${VAR} / ${VAR:-default} / $$ expansion inside config values.
 *
 * Secrets and per-host settings (API keys, upstream addresses) come from the
 * environment so one config file serves every deployment. Expansion is one
 * pass with no recursion: a variable's value is copied verbatim, never
 * expanded again, so the output is bounded by the caller's md_buf_t cap.
 */
#include "config/internal.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_name_start(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_';
}

static bool is_name_char(char ch)
{
    return is_name_start(ch) || (ch >= '0' && ch <= '9');
}

static int too_big(char *err, size_t errlen)
{
    snprintf(err, errlen, "value is longer than %d KiB (counted after ${} expansion)", MD_CFG_MAX_SCALAR_BYTES / 1024);
    return MD_ETOOBIG;
}

/* Expands the reference starting at in[*pos] == '$', in[*pos + 1] == '{'
 * and moves *pos past its closing '}'. */
static int expand_ref(const char *in, size_t len, size_t *pos, md_buf_t *out, char *err, size_t errlen)
{
    size_t i = *pos + 2, start = i;
    while (i < len && is_name_char(in[i]) && i - start < MD_CFG_MAX_VAR_NAME)
        i++;
    size_t nlen = i - start;
    if (nlen == 0 || !is_name_start(in[start]) || (i < len && is_name_char(in[i])))
        goto malformed;
    const char *def = NULL;
    size_t deflen = 0;
    if (i + 1 < len && in[i] == ':' && in[i + 1] == '-') {
        def = in + i + 2;
        const char *close = memchr(def, '}', len - (i + 2));
        if (!close)
            goto unterminated;
        deflen = (size_t)(close - def);
        i = (size_t)(close - in);
    }
    if (i >= len)
        goto unterminated;
    if (in[i] != '}')
        goto malformed;

    char name[MD_CFG_MAX_VAR_NAME + 1];
    memcpy(name, in + start, nlen);
    name[nlen] = '\0';
    const char *val = getenv(name);
    int rc;
    if (val && *val)
        rc = md_buf_append_str(out, val);
    else if (def)
        rc = md_buf_append(out, def, deflen);
    else if (val)
        rc = MD_OK; /* set but empty, no default: empty is what was asked for */
    else {
        snprintf(err, errlen, "environment variable '%s' is not set (write ${%s:-default} to allow that)", name,
                 name);
        return MD_ENOTFOUND;
    }
    if (rc != MD_OK)
        return too_big(err, errlen);
    *pos = i + 1;
    return MD_OK;

unterminated:
    snprintf(err, errlen, "unterminated ${ in value (missing '}')");
    return MD_EINVAL;
malformed:
    snprintf(err, errlen, "bad variable reference: expected ${NAME} or ${NAME:-default}, "
                          "NAME made of A-Z a-z 0-9 _ (write $$ for a literal '$')");
    return MD_EINVAL;
}

int md_cfg_env_expand(const char *in, size_t len, md_buf_t *out, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(in + i, '$', len - i);
        size_t lit = dollar ? (size_t)(dollar - (in + i)) : len - i;
        if (md_buf_append(out, in + i, lit) != MD_OK)
            return too_big(err, errlen);
        i += lit;
        if (i == len)
            break;
        if (i + 1 < len && in[i + 1] == '{') {
            int rc = expand_ref(in, len, &i, out, err, errlen);
            if (rc != MD_OK)
                return rc;
            continue;
        }
        /* "$$" is one literal '$'; a lone '$' stays as written. */
        if (md_buf_append_char(out, '$') != MD_OK)
            return too_big(err, errlen);
        i += (i + 1 < len && in[i + 1] == '$') ? 2 : 1;
    }
    return MD_OK;
}
