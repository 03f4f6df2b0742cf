/*
 * config.h - the demo's YAML configuration, embedded in the binary.
 *
 * `medley demo` loads this text exactly as it would load a user's file, so
 * the demo exercises the real config loader and doubles as a worked example
 * of the schema: three upstreams (news, events, hr) on the in-process mock
 * backends, a composite /home endpoint, and two passthrough routes (/news-raw
 * and / for the demo page).
 */
#ifndef MD_DEMO_CONFIG_H
#define MD_DEMO_CONFIG_H

#include <stdint.h>

/* Returns the demo YAML as a NUL-terminated heap string (free with md_free):
 * upstreams at http://127.0.0.1:<mock_port>, medley listening on
 * 127.0.0.1:<listen_port>. Never NULL (allocation failure aborts). */
char *md_demo_config(uint16_t mock_port, uint16_t listen_port);

#endif
