/*
 * config.c - the demo YAML text, see config.h.
 *
 * The ports are substituted with positional printf conversions (%1$u for the
 * mock, %2$u for medley) so the template reads like the file a user would
 * write; the template is a literal, so the compiler checks the conversions.
 */
#include "demo/config.h"
#include "core/buf.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>

#define DEMO_YAML                                                              \
    "# medley demo: composite endpoints over the built-in mock backends.\n"  \
    "listen: \"127.0.0.1:%2$u\"\n"                                             \
    "workers: 2\n"                                                             \
    "\n"                                                                       \
    "upstreams:\n"                                                             \
    "  news:\n"                                                                \
    "    url: \"http://127.0.0.1:%1$u\"\n"                                     \
    "    timeout: 2s\n"                                                        \
    "  events:\n"                                                              \
    "    url: \"http://127.0.0.1:%1$u\"\n"                                     \
    "    timeout: 2s\n"                                                        \
    "  hr:\n"                                                                  \
    "    url: \"http://127.0.0.1:%1$u\"\n"                                     \
    "    timeout: 1s\n"                                                        \
    "  site:\n"                                                                \
    "    url: \"http://127.0.0.1:%1$u\"\n"                                     \
    "    timeout: 2s\n"                                                        \
    "\n"                                                                       \
    "endpoints:\n"                                                             \
    "  - path: /home\n"                                                        \
    "    method: GET\n"                                                        \
    "    summary: Home feed for one employee\n"                                \
    "    description: >-\n"                                                   \
    "      The five latest news items, the next five events and the\n"       \
    "      employee's vacation balance, fetched concurrently and merged.\n"    \
    "      The balance is optional: if the HR backend fails the feed is\n"     \
    "      still served and the failure is listed in _errors.\n"              \
    "    params:\n"                                                            \
    "      user:\n"                                                            \
    "        in: query\n"                                                      \
    "        type: integer\n"                                                  \
    "        required: true\n"                                                 \
    "        description: Employee id (1-1000 exist in the demo data)\n"      \
    "    backends:\n"                                                          \
    "      - name: news\n"                                                     \
    "        upstream: news\n"                                                 \
    "        path: /news\n"                                                    \
    "        shape:\n"                                                         \
    "          from: items\n"                                                  \
    "          sort: -published\n"                                             \
    "          limit: 5\n"                                                     \
    "          select: [id, title, url, published]\n"                          \
    "        as: news\n"                                                       \
    "      - name: events\n"                                                   \
    "        upstream: events\n"                                               \
    "        path: /events\n"                                                  \
    "        shape:\n"                                                         \
    "          from: events\n"                                                 \
    "          sort: starts\n"                                                 \
    "          limit: 5\n"                                                     \
    "          select: [id, name, starts, location]\n"                         \
    "        as: events\n"                                                     \
    "      - name: vacation\n"                                                 \
    "        upstream: hr\n"                                                   \
    "        path: /employees/{user}/vacation\n"                               \
    "        shape:\n"                                                         \
    "          select: [balance_days]\n"                                       \
    "        as: cards.vacation\n"                                             \
    "        optional: true\n"                                                 \
    "    errors_field: _errors\n"                                              \
    "\n"                                                                       \
    "  - path: /news-raw\n"                                                    \
    "    method: GET\n"                                                        \
    "    summary: The news backend's document, unchanged\n"                   \
    "    passthrough:\n"                                                       \
    "      upstream: news\n"                                                   \
    "      path: /news\n"                                                      \
    "\n"                                                                       \
    "  - path: /\n"                                                            \
    "    method: GET\n"                                                        \
    "    summary: The demo page\n"                                             \
    "    passthrough:\n"                                                       \
    "      upstream: site\n"                                                   \
    "      path: /demo\n"

/* Comfortably above the rendered size (~1.7 KB); only the ports vary. */
#define DEMO_YAML_MAX_BYTES 8192

char *md_demo_config(uint16_t mock_port, uint16_t listen_port)
{
    md_buf_t b;
    md_buf_init(&b, DEMO_YAML_MAX_BYTES);
    /* The template plus two 5-digit ports is far below the cap, so a failure
     * is a sizing bug: treat it like allocation failure (common.h policy). */
    if (md_buf_printf(&b, DEMO_YAML, (unsigned)mock_port, (unsigned)listen_port) != MD_OK) {
        fprintf(stderr, "medley: demo config exceeds %d bytes\n", DEMO_YAML_MAX_BYTES);
        abort();
    }
    return md_buf_detach(&b, NULL);
}
