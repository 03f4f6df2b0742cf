/*
 * page.h - the demo's HTML page, embedded in the binary.
 *
 * One self-contained page (inline CSS and JS, no external resources) served
 * by the mock backend at GET /demo and, through medley's `/` passthrough, at
 * the gateway's root. It asks for a user id, fetches /home?user=ID from the
 * same origin and renders the merged news, events and vacation balance with
 * the response size and time, so the composition is visible at a glance.
 */
#ifndef MD_DEMO_PAGE_H
#define MD_DEMO_PAGE_H

#include <stddef.h>

/* The page's HTML (UTF-8, NUL-terminated, static storage); its length in
 * bytes goes to *len if len is not NULL. */
const char *md_demo_page(size_t *len);

/* The Content-Type to serve it with. */
#define MD_DEMO_PAGE_CONTENT_TYPE "text/html; charset=utf-8"

#endif
