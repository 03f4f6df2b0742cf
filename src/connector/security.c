/*
 * security.c - the connector's authentication shapes, see security.h.
 */
#include "connector/security.h"

#include "core/common.h"

void md_conn_auth_from_config(const md_config_t *cfg, md_conn_auth_t *out)
{
    MD_UNUSED(cfg); /* no inbound auth in the config yet */
    out->kind = MD_CONN_AUTH_NONE;
}

void md_conn_auth_write_definitions(const md_conn_auth_t *a, md_jw_t *w)
{
    switch (a->kind) {
    case MD_CONN_AUTH_NONE:
        /* An empty object, and no top-level `security`: the portal then
         * offers "No authentication". */
        md_jw_object(w, "securityDefinitions");
        md_jw_end(w);
        break;
    }
}

void md_conn_auth_write_parameters(const md_conn_auth_t *a, md_jw_t *w)
{
    switch (a->kind) {
    case MD_CONN_AUTH_NONE:
        md_jw_object(w, "connectionParameters");
        md_jw_end(w);
        break;
    }
}
