/*
 * redis.h - the shared cache tier: an asynchronous Redis client on a
 * worker's event loop (hiredis's async API driven by md_loop_t).
 *
 * One md_redis_t per worker thread holds one connection, so commands
 * pipeline on it with no locks. Rate limits with `store: redis` use it too
 * (md_redis_eval, cache/redis_limit.h). Redis is an accelerator, never a
 * dependency: when it is down, slow or answering nonsense, a command fails
 * fast (the callback gets an error, or the call refuses to start) and the
 * caller carries on without it. The client reconnects by itself with a
 * backoff (100 ms doubling to 5 s) and counts what happened.
 *
 * Every key is sent with the configured prefix (default "medley:") in
 * front. A command not answered within timeout_ms marks the connection
 * broken: it is closed (every pending callback gets MD_ETIMEDOUT) and
 * reopened later, because a Redis that answers late answers everything
 * late.
 *
 * libuv's rule: a call that returns NULL never runs its callback; a call
 * that starts runs it exactly once unless md_redis_cancel() came first.
 * Callbacks never run from inside an md_redis_* call.
 */
#ifndef MD_CACHE_REDIS_H
#define MD_CACHE_REDIS_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/loop.h"

typedef struct md_redis md_redis_t;
typedef struct md_redis_op md_redis_op_t;

/* GET's answer: status MD_OK with the value, MD_ENOTFOUND (no such key),
 * or MD_ETIMEDOUT / MD_ERESET / MD_ECONNECT / MD_EINVAL (a reply that is
 * not a string). `val` is valid only during the callback. */
typedef void (*md_redis_get_cb)(void *arg, int status, const char *val, size_t len);

/* A count (purge): status MD_OK and how many keys were removed, or an error
 * and how many were removed before it. */
typedef void (*md_redis_count_cb)(void *arg, int status, uint64_t n);

/* EVAL's answer: status MD_OK with the script's reply, an array of n
 * integers (n <= MD_REDIS_EVAL_MAX_INTS; `v` valid only during the
 * callback), or MD_EINVAL (the script failed, or answered anything but such
 * an array), or MD_ETIMEDOUT / MD_ERESET / MD_ECONNECT / MD_ETOOBIG as GET
 * (v NULL, n 0). */
typedef void (*md_redis_ints_cb)(void *arg, int status, const int64_t *v, size_t n);

#define MD_REDIS_EVAL_MAX_INTS 16   /* integers in a script's answer */
#define MD_REDIS_EVAL_MAX_ARGS 16   /* keys + arguments of one call */
#define MD_REDIS_SCRIPTS_MAX 8      /* distinct scripts one client runs */
#define MD_REDIS_SCRIPT_MAX 65536   /* bytes of a script's text */

/* Counters (this worker's connection). */
typedef struct md_redis_stats {
    uint64_t commands;          /* sent */
    uint64_t errors;            /* answered with an error or broken off */
    uint64_t timeouts;          /* connection closed because a command (or the
                                   connect + handshake, allowed 2 x timeout_ms,
                                   at least 100 ms) was late */
    uint64_t refused;           /* calls that did not start because Redis was down */
    uint64_t connects;          /* connection attempts */
    uint64_t messages;          /* subscriber: messages handed to the callback */
    uint64_t ignored;           /* subscriber: messages over max_len, dropped */
    bool up;                    /* connected and usable now (a subscriber:
                                   and its SUBSCRIBE confirmed) */
} md_redis_stats_t;

/* Creates the worker's client and starts connecting (AUTH and SELECT are
 * sent first when the conf asks). Never NULL: an unreachable Redis is just
 * "down". `conf` must outlive the client. */
md_redis_t *md_redis_new(md_loop_t *loop, const md_cache_global_conf_t *conf);

/* Closes the connection; pending callbacks are NOT run (their owners must
 * be gone). Loop thread only. NULL is ignored. */
void md_redis_free(md_redis_t *r);

/* True when connected and ready for commands. */
bool md_redis_up(const md_redis_t *r);

/* GET prefix+key. NULL when Redis is down (counted as refused), and also
 * (not counted) when cb is NULL or the key is over 8 KB (prefix excluded).
 * Binary-safe. At most 65,536 calls may be in flight; more are refused. */
md_redis_op_t *md_redis_get(md_redis_t *r, const char *key, size_t keylen, md_redis_get_cb cb, void *arg);

/* SET prefix+key val PX ttl_ms, fire and forget. MD_OK when sent, MD_ERR
 * when Redis is down. ttl_ms 0 is refused (MD_EINVAL); a key over 8 KB, a
 * value over 64 MiB or a full op table gives MD_ETOOBIG. */
int md_redis_set(md_redis_t *r, const char *key, size_t keylen, const char *val, size_t len, uint64_t ttl_ms);

/* Removes every key matching the glob `pattern` (prefix added, so the
 * pattern covers the part after it) with SCAN MATCH ... COUNT 500 and
 * UNLINK, one batch after another, at most 10,000 batches (then the callback
 * gets MD_ETOOBIG and the count so far). NULL when down. */
md_redis_op_t *md_redis_purge(md_redis_t *r, const char *pattern, size_t len, md_redis_count_cb cb, void *arg);

/* Runs the Lua `script` with KEYS = prefix+keys[i] and ARGV = args[i]
 * (binary-safe: every key and argument travels with its length, none is
 * formatted into text). The script is sent whole (EVAL) the first time on
 * each connection and by its SHA1 (EVALSHA) after that; the SHA1 comes from
 * one SCRIPT LOAD sent with the first call. An EVALSHA answered NOSCRIPT
 * (the server lost its script cache) is sent again as EVAL, once, within
 * the same deadline. `script` is NUL-terminated text of at most
 * MD_REDIS_SCRIPT_MAX bytes that outlives the client (a string literal):
 * the client knows scripts by address, at most MD_REDIS_SCRIPTS_MAX.
 * NULL when Redis is down or the op table is full (counted as refused),
 * and also (not counted) when cb or script is NULL, a key or argument is
 * over 8 KB, there are more than MD_REDIS_EVAL_MAX_ARGS of them, or the
 * script table is full. Same timeout and callback rules as GET. */
md_redis_op_t *md_redis_eval(md_redis_t *r, const char *script, const md_str_t *keys, size_t nkeys,
                             const md_str_t *args, size_t nargs, md_redis_ints_cb cb, void *arg);

/* PUBLISH prefix+channel msg, fire and forget (the receiver count is not
 * reported). MD_OK when sent, MD_ERR when Redis is down (counted as
 * refused), MD_EINVAL for a NULL with a length, MD_ETOOBIG for a channel
 * over 8 KB, a message over MD_REDIS_MESSAGE_MAX or a full op table. */
int md_redis_publish(md_redis_t *r, const char *channel, size_t chlen, const char *msg, size_t len);

#define MD_REDIS_MESSAGE_MAX 65536  /* largest max_len of a subscriber */

/* One message of a subscription; `msg` is valid only during the call. */
typedef void (*md_redis_message_cb)(void *arg, const char *msg, size_t len);

/* A subscriber: its own connection (Redis allows no other command on a
 * subscribed one) that SUBSCRIBEs to prefix+channel after the handshake,
 * and again after every reconnect (same backoff as the client; messages
 * published while it is down are lost, Redis keeps none). Each message of
 * at most max_len bytes goes to cb on the loop; a longer one is dropped
 * and counted (stats.ignored); a message over 1 MiB, or any push that is
 * not a "subscribe" or "message" of this channel, is taken for a broken
 * server and drops the connection. Free it with md_redis_free; the command
 * calls (get, set, purge, eval, publish) refuse it. NULL when cb or
 * channel is NULL, the channel is empty or over 8 KB, or max_len is 0 or
 * over MD_REDIS_MESSAGE_MAX. cb never runs from inside an md_redis_* call,
 * nor after md_redis_free. */
md_redis_t *md_redis_subscribe(md_loop_t *loop, const md_cache_global_conf_t *conf, const char *channel,
                               size_t max_len, md_redis_message_cb cb, void *arg);

/* Cancels a pending call: its callback will not run. NULL is ignored. Op
 * records are recycled, so never cancel a call whose callback has run. */
void md_redis_cancel(md_redis_op_t *op);

void md_redis_get_stats(const md_redis_t *r, md_redis_stats_t *st);

/* Appends s to out with the glob metacharacters * ? [ ] \ escaped by a
 * backslash, so it matches itself literally in a SCAN MATCH pattern. */
int md_redis_glob_escape(const char *s, size_t len, md_buf_t *out);

#endif
