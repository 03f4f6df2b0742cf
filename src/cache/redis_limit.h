/*
 * redis_limit.h - rate-limit buckets kept in Redis, so that several medley
 * processes share one limit (`rate_limits.NAME.store: redis`).
 *
 * The decision is the one md_ratelimit_bucket_take() makes (auth/ratelimit.h),
 * applied atomically by a Lua script on the server: the same exact integer
 * arithmetic over the same two integers, kept in a hash {level, last_ms}.
 * The clock is Redis's own (TIME), so every instance sees one clock. The
 * script sets the key to expire when the bucket would be full again: a full
 * bucket is the same as a missing one, so idle keys vanish by themselves.
 *
 * Key layout: PREFIX "rl:" NAME ":" VALUE, e.g. medley:rl:per_client:@10.0.0.7.
 * NAME has no ':' (checked here; the config allows [A-Za-z0-9_.-] only), so
 * the VALUE starts after the second ':' whatever bytes it holds; it travels
 * as a length-prefixed argument, never formatted into text.
 *
 * A call that cannot start (Redis down, op table full) returns NULL: the
 * caller then takes from its in-process bucket instead. Answers go through
 * md_redis_limit_result(), which also refuses a reply that is not a valid
 * decision for the limit (a broken or hostile server).
 */
#ifndef MD_CACHE_REDIS_LIMIT_H
#define MD_CACHE_REDIS_LIMIT_H

#include "auth/ratelimit.h"
#include "cache/redis.h"

#define MD_REDIS_LIMIT_NAME_MAX 64   /* bytes of a limit's name */

/* Takes one token from the bucket of (name, key) under limit lim, in Redis.
 * cb gets the script's integers: pass them to md_redis_limit_result(). The
 * op may be cancelled with md_redis_cancel(). NULL when the call does not
 * start: Redis down or busy (counted by the client as refused), or bad
 * arguments (lim out of range, name empty, over MD_REDIS_LIMIT_NAME_MAX or
 * holding ':', key empty or over MD_RATELIMIT_KEY_MAX). */
md_redis_op_t *md_redis_limit_take(md_redis_t *r, const md_ratelimit_limit_t *lim, const char *name,
                                   const char *key, size_t key_len, md_redis_ints_cb cb, void *arg);

/* Turns the callback's (status, v, n) into a decision for lim. MD_OK with
 * *out filled (out->limit is lim->burst); the callback's error status as
 * is; or MD_EINVAL when the reply is not {allowed, remaining,
 * retry_after_ms, reset_ms} within what lim makes possible. */
int md_redis_limit_result(const md_ratelimit_limit_t *lim, int status, const int64_t *v, size_t n,
                          md_ratelimit_result_t *out);

#endif
