/*
 * redis.c - the Redis cache tier (contract in redis.h): hiredis 0.14's async
 * API driven by medley's loop.
 *
 * The adapter is small: hiredis asks for read/write interest through its
 * ev.addRead/delRead/addWrite/delWrite hooks, which set the interest of one
 * md_io_t; on_io() hands readiness back to redisAsyncHandleRead/Write; the
 * ev.cleanup hook (called while hiredis frees the context) stops the io and
 * forgets the context. hiredis 0.14 has no timeouts, so two md_timer_t do
 * that work: `deadline` watches the oldest unanswered command (replies come
 * in order, so the head of our own FIFO of sent commands is the oldest; the
 * timer is re-armed lazily, not per reply) and `retry` reconnects with
 * backoff.
 *
 * Scripts (md_redis_eval): the client learns each script's SHA1 from one
 * SCRIPT LOAD sent with its first call, and remembers per script on which
 * connection (conn_id) the server has it: a new connection gets the text
 * once (EVAL, which also caches it server-side), EVALSHA after that. The
 * encoded keys and arguments stay with the op (`tail`) so that an EVALSHA
 * answered NOSCRIPT can be sent again as EVAL from the reply callback.
 *
 * Every command sent carries an op (hiredis privdata) taken from a free
 * list refilled in slabs, at most MAX_OPS alive. hiredis cannot take a sent
 * command back, so cancelling only sets a flag; the reply still comes and
 * frees the op without running the user's callback.
 *
 * Re-entrancy: reply callbacks run from inside redisAsyncHandleRead, and a
 * user callback may get, cancel or free the client from there. `depth`
 * counts our io/timer handlers on the stack; md_redis_free() inside one only
 * marks the client and the outermost handler destroys it on its way out
 * (leave()). When the connection breaks, hiredis runs every pending reply
 * callback with a NULL reply from inside its own teardown; those ops are
 * parked on `done` and their user callbacks run later from leave(), outside
 * hiredis, each exactly once.
 *
 * Broken or hostile servers: hiredis 0.14 asserts (aborts the process) when
 * a reply arrives that no command is waiting for, and buffers bulk replies of
 * any announced size. The reader's object functions are wrapped to count
 * top-level replies against commands sent and to refuse sizes no answer of
 * ours can have: hiredis then fails the read (as out of memory) and we drop
 * the connection. The unparsed read buffer is checked after every read.
 *
 * Subscribers (md_redis_subscribe) are clients of their own in subscribe
 * mode: after the handshake's PONG they send SUBSCRIBE straight to hiredis
 * (not as an op: hiredis keeps that callback for every message, and runs it
 * once more with NULL while freeing). Their deadline (`sub_due_ms`) shares
 * the `deadline` timer. Messages arrive unasked, so the reader wrappers
 * admit a top-level reply nobody waits for only on a subscriber, and only
 * in the one shape hiredis 0.14 handles without asserting: a 3-element
 * array "subscribe" or "message", then our channel (hiredis finds its
 * callback by that name), then an integer or string.
 *
 * hiredis writes with write(2): the process must ignore SIGPIPE (medley's
 * main does). A host name is resolved by a blocking getaddrinfo() on every
 * (re)connect; configure an address to keep the loop from waiting on DNS.
 */
#include "cache/redis.h"

#include "core/alloc.h"
#include "core/buf.h"

#include <assert.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#define MAX_KEY 8192                          /* key or purge pattern, prefix excluded */
#define MAX_VALUE ((size_t)64 << 20)          /* value sent or accepted */
#define MAX_OPS 65536                         /* ops alive (sent, parked or cancelled) */
#define OPS_PER_SLAB 256
#define MAX_QUEUED_BYTES ((size_t)256 << 20)  /* commands sent and not yet answered */
#define UNPARSED_SLACK ((size_t)1 << 20)      /* hiredis read buffer beyond max_value */
#define MAX_ARRAY 100000                      /* elements of one reply array */
#define CMD_MAX (MAX_VALUE + ((size_t)1 << 20))      /* one encoded command */
#define CMD_KEEP 65536                        /* command buffer kept between commands */
#define PURGE_COUNT "500"
#define PURGE_MAX_BATCHES 10000
#define MAX_CURSOR 20                         /* digits of a SCAN cursor (uint64) */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define DEFAULT_TIMEOUT_MS 50
#define MIN_CONNECT_TIMEOUT_MS 100
#define SUB_MAX_READ ((size_t)1 << 20)        /* a subscriber's largest accepted message */

enum { ST_DOWN, ST_CONNECTING, ST_UP, ST_CLOSING };
#define SHA_HEX 40                            /* a script's SHA1 in hex */

enum { OP_AUTH, OP_SELECT, OP_PING, OP_GET, OP_SET, OP_PURGE, OP_EVAL, OP_SCRIPT_LOAD, OP_PUBLISH };
enum { STEP_SCAN, STEP_UNLINK };

struct md_redis_op {
    md_redis_t *r;
    md_redis_op_t *next;        /* in the sent FIFO, the done list or the free list */
    uint64_t deadline_ms;       /* its command is late after this (md_now_us clock) */
    size_t bytes;               /* size of its command, for MAX_QUEUED_BYTES */
    uint8_t kind;
    uint8_t step;               /* purge: which command is in flight */
    bool cancelled;
    int status;                 /* result when parked on `done` */
    md_redis_get_cb get_cb;
    md_redis_count_cb count_cb;
    md_redis_ints_cb ints_cb;
    void *arg;
    uint64_t removed;           /* purge: keys unlinked so far */
    uint32_t batches;           /* purge: SCAN calls so far */
    char *match;                /* purge: escaped prefix + pattern */
    size_t match_len;
    char cursor[MAX_CURSOR + 1];
    char *tail;                 /* eval: numkeys, keys and args, RESP-encoded */
    size_t tail_len;
    uint32_t argc;              /* eval: arguments in the tail */
    uint8_t script;             /* eval, script load: index into r->scripts */
    bool retried;               /* eval: already sent again after NOSCRIPT */
};

/* A script the client runs (md_redis_eval), known by its text's address. */
typedef struct script_slot {
    const char *text;
    size_t len;
    char sha[SHA_HEX + 1];      /* from SCRIPT LOAD; "" until known */
    uint64_t loaded_conn;       /* the connection whose server has it cached */
    bool loading;               /* a SCRIPT LOAD is in flight */
} script_slot_t;

typedef struct op_slab {
    struct op_slab *next;
    md_redis_op_t ops[OPS_PER_SLAB];
} op_slab_t;

struct md_redis {
    md_loop_t *loop;
    const char *host;
    int port;
    const char *password;
    int db;
    const char *prefix;
    size_t prefix_len;
    uint32_t timeout_ms;
    uint32_t connect_timeout_ms;

    redisAsyncContext *ac;      /* NULL while down */
    md_io_t io;
    md_timer_t deadline;        /* oldest command's (or the handshake's) deadline */
    md_timer_t retry;           /* next connection attempt */
    int state;
    int fail_status;            /* what pending ops get when we break the connection */
    uint32_t backoff_ms;
    int depth;                  /* our handlers on the stack */
    bool freeing;

    md_redis_op_t *sent_head, *sent_tail;
    md_redis_op_t *done_head, *done_tail;
    md_redis_op_t *free_ops;
    op_slab_t *slabs;
    size_t nops;                /* ops alive */
    size_t queued_bytes;
    size_t expected;            /* top-level replies still owed by the server */

    uint64_t conn_id;           /* counts connection attempts: names the current one */
    script_slot_t scripts[MD_REDIS_SCRIPTS_MAX];
    size_t nscripts;

    md_buf_t cmd;               /* the command being encoded */
    size_t max_value;           /* largest string accepted from the server */

    /* subscriber only (md_redis_subscribe) */
    bool sub;
    bool sub_sent;              /* SUBSCRIBE sent on this connection */
    bool subscribed;            /* ... and confirmed */
    bool in_push;               /* the reply being read is a push (a message) */
    uint64_t sub_due_ms;        /* SUBSCRIBE unconfirmed and late after this; 0: none */
    char *channel;              /* without the prefix */
    size_t channel_len;
    size_t max_msg;
    md_redis_message_cb msg_cb;
    void *msg_arg;

    redisReplyObjectFunctions *hiredis_fns;
    redisReplyObjectFunctions fns;  /* hiredis's, wrapped (see admit_reply) */
    md_redis_stats_t stats;
};

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_io(md_io_t *io, unsigned events);

/* The deadline clock: read fresh, not the loop's per-iteration cache, so a
 * command queued late in a long iteration is not born already late. */
static uint64_t now_ms(void)
{
    return md_now_us() / 1000u;
}

/* ---- ops ---- */

static md_redis_op_t *op_new(md_redis_t *r, int kind)
{
    if (r->nops >= MAX_OPS)
        return NULL;
    if (!r->free_ops) {
        op_slab_t *s = md_calloc(1, sizeof(*s));
        s->next = r->slabs;
        r->slabs = s;
        for (size_t i = OPS_PER_SLAB; i-- > 0;) {
            s->ops[i].next = r->free_ops;
            r->free_ops = &s->ops[i];
        }
    }
    md_redis_op_t *op = r->free_ops;
    r->free_ops = op->next;
    memset(op, 0, sizeof(*op));
    op->r = r;
    op->kind = (uint8_t)kind;
    r->nops++;
    return op;
}

static void op_release(md_redis_t *r, md_redis_op_t *op)
{
    md_free(op->match);
    op->match = NULL;
    md_free(op->tail);
    op->tail = NULL;
    op->next = r->free_ops;
    r->free_ops = op;
    r->nops--;
}

static void sent_push(md_redis_t *r, md_redis_op_t *op)
{
    op->next = NULL;
    if (r->sent_tail)
        r->sent_tail->next = op;
    else
        r->sent_head = op;
    r->sent_tail = op;
    r->queued_bytes += op->bytes;
}

/* Replies come in the order commands were sent, so the op answered is always
 * the head. */
static void sent_pop(md_redis_t *r, md_redis_op_t *op)
{
    assert(op == r->sent_head);
    r->sent_head = op->next;
    if (!r->sent_head)
        r->sent_tail = NULL;
    r->queued_bytes -= op->bytes;
    op->next = NULL;
}

static void done_push(md_redis_t *r, md_redis_op_t *op)
{
    op->next = NULL;
    if (r->done_tail)
        r->done_tail->next = op;
    else
        r->done_head = op;
    r->done_tail = op;
}

static md_redis_op_t *done_pop(md_redis_t *r)
{
    md_redis_op_t *op = r->done_head;
    r->done_head = op->next;
    if (!r->done_head)
        r->done_tail = NULL;
    op->next = NULL;
    return op;
}

/* ---- RESP encoding into r->cmd (binary-safe: every argument has a length) ---- */

static int cmd_head(md_buf_t *b, char type, size_t n)
{
    char tmp[24], *p = tmp;
    *p++ = type;
    p = md_put_u64(p, n);
    *p++ = '\r';
    *p++ = '\n';
    return md_buf_append(b, tmp, (size_t)(p - tmp));
}

/* One argument made of two parts (prefix and key, or one part and ""). */
static int cmd_arg(md_buf_t *b, const char *x, size_t xl, const char *y, size_t yl)
{
    int rc = cmd_head(b, '$', xl + yl);
    if (rc == MD_OK)
        rc = md_buf_reserve(b, xl + yl + 2);
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(b);
    if (xl)
        memcpy(p, x, xl);
    if (yl)
        memcpy(p + xl, y, yl);
    memcpy(p + xl + yl, "\r\n", 2);
    md_buf_commit(b, xl + yl + 2);
    return MD_OK;
}

/* Encodes argv; argument `keyed` (SIZE_MAX: none) gets the prefix in front. */
static int cmd_build(md_redis_t *r, const md_str_t *argv, size_t argc, size_t keyed)
{
    md_buf_reset(&r->cmd);
    int rc = cmd_head(&r->cmd, '*', argc);
    for (size_t i = 0; i < argc && rc == MD_OK; i++) {
        if (i == keyed)
            rc = cmd_arg(&r->cmd, r->prefix, r->prefix_len, argv[i].ptr, argv[i].len);
        else
            rc = cmd_arg(&r->cmd, argv[i].ptr, argv[i].len, NULL, 0);
    }
    return rc;
}

/* ---- sending ---- */

/* The earliest deadline: the oldest command's or the SUBSCRIBE's. */
static uint64_t next_due(const md_redis_t *r)
{
    uint64_t due = r->sent_head ? r->sent_head->deadline_ms : UINT64_MAX;
    return r->sub_due_ms ? MD_MIN(due, r->sub_due_ms) : due;
}

static void arm_deadline(md_redis_t *r)
{
    uint64_t now = now_ms(), due = next_due(r);
    if (due != UINT64_MAX)
        md_timer_start(r->loop, &r->deadline, due > now ? due - now : 0);
}

/* Hands the command in r->cmd to hiredis for `op`. Never runs a callback. */
static int send_op(md_redis_t *r, md_redis_op_t *op, uint32_t timeout_ms)
{
    size_t len = r->cmd.len;
    int rc = MD_OK;
    if (!r->ac)
        rc = MD_ERESET;
    else if (r->queued_bytes + len > MAX_QUEUED_BYTES)
        rc = MD_ETOOBIG;
    else if (redisAsyncFormattedCommand(r->ac, on_reply, op, r->cmd.data, len) != REDIS_OK)
        rc = MD_ERESET;
    if (r->cmd.cap > CMD_KEEP)
        md_buf_free(&r->cmd);  /* a big SET or UNLINK must not pin its buffer */
    if (rc != MD_OK)
        return rc;
    op->bytes = len;
    op->deadline_ms = now_ms() + timeout_ms;
    sent_push(r, op);
    r->expected++;
    r->stats.commands++;
    if (!md_timer_active(&r->deadline))
        arm_deadline(r);
    return MD_OK;
}

/* Ready for commands: a subscriber never is. */
static bool ready(const md_redis_t *r)
{
    return r->state == ST_UP && r->ac && !r->freeing && !r->sub;
}

/* ---- scripts ---- */

/* The slot of `script`, added when new; NULL when the table is full or the
 * text too long. */
static script_slot_t *script_slot(md_redis_t *r, const char *script)
{
    for (size_t i = 0; i < r->nscripts; i++)
        if (r->scripts[i].text == script)
            return &r->scripts[i];
    size_t len = strnlen(script, MD_REDIS_SCRIPT_MAX + 1);
    if (r->nscripts == MD_REDIS_SCRIPTS_MAX || len == 0 || len > MD_REDIS_SCRIPT_MAX)
        return NULL;
    script_slot_t *s = &r->scripts[r->nscripts++];
    memset(s, 0, sizeof(*s));
    s->text = script;
    s->len = len;
    return s;
}

/* Sends SCRIPT LOAD to learn the script's SHA1. Best effort: without it
 * calls go on as EVAL. */
static void script_load(md_redis_t *r, script_slot_t *s)
{
    md_redis_op_t *op = op_new(r, OP_SCRIPT_LOAD);
    if (!op)
        return;
    op->script = (uint8_t)(s - r->scripts);
    md_str_t argv[3] = { MD_STR_LIT("SCRIPT"), MD_STR_LIT("LOAD"), { s->text, s->len } };
    if (cmd_build(r, argv, 3, SIZE_MAX) != MD_OK || send_op(r, op, r->timeout_ms) != MD_OK) {
        op_release(r, op);
        return;
    }
    s->loading = true;
}

/* numkeys, the prefixed keys and the args, encoded once into op->tail. */
static int eval_tail(md_redis_t *r, md_redis_op_t *op, const md_str_t *keys, size_t nkeys, const md_str_t *args,
                     size_t nargs)
{
    char num[24];
    size_t numlen = (size_t)(md_put_u64(num, nkeys) - num);
    md_buf_t t;
    md_buf_init(&t, CMD_MAX);
    int rc = cmd_arg(&t, num, numlen, NULL, 0);
    for (size_t i = 0; i < nkeys && rc == MD_OK; i++)
        rc = cmd_arg(&t, r->prefix, r->prefix_len, keys[i].ptr, keys[i].len);
    for (size_t i = 0; i < nargs && rc == MD_OK; i++)
        rc = cmd_arg(&t, args[i].ptr, args[i].len, NULL, 0);
    if (rc != MD_OK) {
        md_buf_free(&t);
        return rc;
    }
    op->argc = (uint32_t)(1 + nkeys + nargs);
    op->tail = md_buf_detach(&t, &op->tail_len);
    return MD_OK;
}

/* EVALSHA sha (when the server has the script) or EVAL text, then the
 * op's tail. */
static int eval_send(md_redis_t *r, md_redis_op_t *op, uint32_t timeout_ms)
{
    script_slot_t *s = &r->scripts[op->script];
    bool by_sha = s->sha[0] && s->loaded_conn == r->conn_id;
    md_buf_reset(&r->cmd);
    int rc = cmd_head(&r->cmd, '*', 2 + op->argc);
    if (rc == MD_OK)
        rc = by_sha ? cmd_arg(&r->cmd, "EVALSHA", 7, NULL, 0) : cmd_arg(&r->cmd, "EVAL", 4, NULL, 0);
    if (rc == MD_OK)
        rc = by_sha ? cmd_arg(&r->cmd, s->sha, SHA_HEX, NULL, 0) : cmd_arg(&r->cmd, s->text, s->len, NULL, 0);
    if (rc == MD_OK)
        rc = md_buf_append(&r->cmd, op->tail, op->tail_len);
    if (rc == MD_OK)
        rc = send_op(r, op, timeout_ms);
    /* EVAL caches the script: commands sent after it find it. */
    if (rc == MD_OK && !by_sha && s->sha[0])
        s->loaded_conn = r->conn_id;
    return rc;
}

/* ---- connection ---- */

/* Drops the connection. Outside a hiredis callback this frees the context at
 * once; inside one hiredis does it when the callback returns. Either way
 * every pending op ends with `status`, parked on `done`. */
static void conn_abort(md_redis_t *r, int status)
{
    if (!r->ac || r->state == ST_CLOSING)
        return;
    if (!r->fail_status)
        r->fail_status = status;
    r->state = ST_CLOSING;
    redisAsyncFree(r->ac);
}

static void conn_lost(md_redis_t *r)
{
    r->state = ST_DOWN;
    md_timer_stop(r->loop, &r->deadline);
    md_timer_start(r->loop, &r->retry, r->backoff_ms);
    r->backoff_ms = MD_MIN(r->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void ev_interest(void *data, unsigned bit, bool on)
{
    md_redis_t *r = data;
    if (!r->io.loop)
        return;
    md_io_set(&r->io, on ? (r->io.events | bit) : (r->io.events & ~bit));
}

static void ev_add_read(void *data) { ev_interest(data, MD_IO_READ, true); }
static void ev_del_read(void *data) { ev_interest(data, MD_IO_READ, false); }
static void ev_add_write(void *data) { ev_interest(data, MD_IO_WRITE, true); }
static void ev_del_write(void *data) { ev_interest(data, MD_IO_WRITE, false); }

/* hiredis is freeing the context (it closes the fd right after). */
static void ev_cleanup(void *data)
{
    md_redis_t *r = data;
    md_io_stop(&r->io);
    r->ac = NULL;
}

static md_redis_t *task_owner(const redisReadTask *t)
{
    while (t->parent)
        t = t->parent;
    return t->privdata;
}

static bool bytes_are(const char *s, size_t len, const char *x, size_t xl)
{
    return len == xl && memcmp(s, x, xl) == 0;
}

/* One part of a push on a subscriber (see the top of the file): `s` is a
 * string's bytes, NULL for another type. */
static bool push_ok(const md_redis_t *r, const redisReadTask *t, const char *s, size_t len)
{
    if (!t->parent)
        return t->type == REDIS_REPLY_ARRAY && len == 3;  /* len: the array's size */
    if (t->idx == 2)
        return t->type == REDIS_REPLY_INTEGER || t->type == REDIS_REPLY_STRING;
    if (t->type != REDIS_REPLY_STRING)
        return false;
    if (t->idx == 0)
        return bytes_are(s, len, "subscribe", 9) || bytes_are(s, len, "message", 7);
    return len == r->prefix_len + r->channel_len && memcmp(s, r->prefix, r->prefix_len) == 0 &&
           memcmp(s + r->prefix_len, r->channel, r->channel_len) == 0;
}

/* Called before hiredis builds each reply object. Refusing makes hiredis
 * fail the read and drop the connection, which is what we want for a reply
 * nobody asked for (hiredis 0.14 would assert) or a size we never use. */
static bool admit_reply(const redisReadTask *t, size_t size, size_t max, const char *s)
{
    md_redis_t *r = task_owner(t);
    if (size <= max) {
        if (t->parent && !r->in_push)
            return true;
        if (!t->parent && r->expected > 0) {
            r->expected--;
            r->in_push = false;
            return true;
        }
        if (!t->parent && r->sub_sent)
            r->in_push = true;
        if (r->in_push && push_ok(r, t, s, size))
            return true;
    }
    if (!r->fail_status)
        r->fail_status = MD_EINVAL;
    r->stats.errors++;
    return false;
}

static void *wrap_string(const redisReadTask *t, char *s, size_t len)
{
    if (!admit_reply(t, len, task_owner(t)->max_value, s))
        return NULL;
    return task_owner(t)->hiredis_fns->createString(t, s, len);
}

static void *wrap_array(const redisReadTask *t, int n)
{
    if (!admit_reply(t, n < 0 ? 0 : (size_t)n, MAX_ARRAY, NULL))
        return NULL;
    return task_owner(t)->hiredis_fns->createArray(t, n);
}

static void *wrap_integer(const redisReadTask *t, long long v)
{
    if (!admit_reply(t, 0, 0, NULL))
        return NULL;
    return task_owner(t)->hiredis_fns->createInteger(t, v);
}

static void *wrap_nil(const redisReadTask *t)
{
    if (!admit_reply(t, 0, 0, NULL))
        return NULL;
    return task_owner(t)->hiredis_fns->createNil(t);
}

static void attach_reader(md_redis_t *r, redisAsyncContext *ac)
{
    redisReader *rd = ac->c.reader;
    r->hiredis_fns = rd->fn;
    r->fns = *rd->fn;
    r->fns.createString = wrap_string;
    r->fns.createArray = wrap_array;
    r->fns.createInteger = wrap_integer;
    r->fns.createNil = wrap_nil;
    rd->fn = &r->fns;
    rd->privdata = r;
}

/* AUTH and SELECT when configured, then PING: "up" when PONG comes back. */
static int send_handshake(md_redis_t *r)
{
    char db[16];
    md_str_t auth[2] = { MD_STR_LIT("AUTH"), { r->password, r->password ? strlen(r->password) : 0 } };
    md_str_t select[2] = { MD_STR_LIT("SELECT"), { db, (size_t)snprintf(db, sizeof(db), "%d", r->db) } };
    md_str_t ping[1] = { MD_STR_LIT("PING") };
    struct { int kind; bool on; const md_str_t *argv; size_t argc; } steps[] = {
        { OP_AUTH, r->password != NULL, auth, 2 },
        { OP_SELECT, r->db != 0, select, 2 },
        { OP_PING, true, ping, 1 },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(steps); i++) {
        if (!steps[i].on)
            continue;
        md_redis_op_t *op = op_new(r, steps[i].kind);
        if (!op)
            return MD_ETOOBIG;
        int rc = cmd_build(r, steps[i].argv, steps[i].argc, SIZE_MAX);
        if (rc == MD_OK)
            rc = send_op(r, op, r->connect_timeout_ms);
        if (rc != MD_OK) {
            op_release(r, op);
            return rc;
        }
    }
    return MD_OK;
}

/* Starts a connection attempt. Runs no user callback; on failure the retry
 * timer is armed. */
static void conn_open(md_redis_t *r)
{
    r->stats.connects++;
    r->conn_id++;
    r->fail_status = MD_OK;
    r->expected = 0;
    r->sub_sent = r->subscribed = r->in_push = false;
    r->sub_due_ms = 0;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        conn_lost(r);
        return;
    }
    r->ac = ac;
    ac->ev.data = r;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    attach_reader(r, ac);
    r->state = ST_CONNECTING;
    if (md_io_start(r->loop, &r->io, ac->c.fd, 0, on_io, r) != MD_OK || send_handshake(r) != MD_OK) {
        conn_abort(r, MD_ECONNECT);  /* not in a callback: freed now, no user op pending */
        conn_lost(r);
    }
}

/* ---- replies ---- */

static int broken_status(const md_redis_t *r, const redisAsyncContext *ac)
{
    if (r->fail_status)
        return r->fail_status;
    if (!(ac->c.flags & REDIS_CONNECTED))
        return MD_ECONNECT;
    if (ac->c.err == REDIS_ERR_PROTOCOL || ac->c.err == REDIS_ERR_OOM)
        return MD_EINVAL;
    return MD_ERESET;
}

/* SUBSCRIBE prefix+channel, on a subscriber whose handshake is done. */
static void sub_send(md_redis_t *r)
{
    md_str_t argv[2] = { MD_STR_LIT("SUBSCRIBE"), { r->channel, r->channel_len } };
    if (cmd_build(r, argv, 2, 1) != MD_OK ||
        redisAsyncFormattedCommand(r->ac, on_sub_reply, r, r->cmd.data, r->cmd.len) != REDIS_OK) {
        conn_abort(r, MD_ECONNECT);
        return;
    }
    r->stats.commands++;
    r->sub_sent = true;
    r->sub_due_ms = now_ms() + r->timeout_ms;
    md_timer_stop(r->loop, &r->deadline);
    arm_deadline(r);
}

static void handshake_reply(md_redis_t *r, md_redis_op_t *op, const redisReply *rep)
{
    int kind = op->kind;
    op_release(r, op);
    const char *want = kind == OP_PING ? "PONG" : "OK";
    if (rep->type != REDIS_REPLY_STATUS || strcmp(rep->str, want) != 0) {
        if (rep->type != REDIS_REPLY_ERROR)
            r->stats.errors++;
        conn_abort(r, MD_ECONNECT);
        return;
    }
    if (kind == OP_PING && r->state == ST_CONNECTING) {
        r->state = ST_UP;
        r->backoff_ms = BACKOFF_MIN_MS;
        if (r->sub)
            sub_send(r);
    }
}

static void get_reply(md_redis_t *r, md_redis_op_t *op, const redisReply *rep)
{
    int status = MD_EINVAL;
    const char *val = NULL;
    size_t len = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        status = MD_OK;
        val = rep->str;
        len = rep->len;
    } else if (rep->type == REDIS_REPLY_NIL) {
        status = MD_ENOTFOUND;
    } else if (rep->type != REDIS_REPLY_ERROR) {
        r->stats.errors++;  /* errors were counted by on_reply */
    }
    if (!op->cancelled)
        op->get_cb(op->arg, status, val, len);
    op_release(r, op);
}

/* An integer array of at most MD_REDIS_EVAL_MAX_INTS elements into v. */
static bool ints_of(const redisReply *rep, int64_t *v, size_t *n)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements > MD_REDIS_EVAL_MAX_INTS)
        return false;
    for (size_t i = 0; i < rep->elements; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return false;
        v[i] = rep->element[i]->integer;
    }
    *n = rep->elements;
    return true;
}

static bool is_noscript(const redisReply *rep)
{
    return rep->type == REDIS_REPLY_ERROR && rep->len >= 8 && memcmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* NOSCRIPT: the server lost the script (SCRIPT FLUSH, a restart behind a
 * proxy, a failover). The text goes again, once, keeping the deadline. */
static bool eval_retry(md_redis_t *r, md_redis_op_t *op)
{
    if (op->retried || op->cancelled || !ready(r))
        return false;
    uint64_t due = op->deadline_ms, now = now_ms();
    r->scripts[op->script].loaded_conn = 0;
    op->retried = true;
    if (eval_send(r, op, due > now ? (uint32_t)MD_MIN(due - now, UINT32_MAX) : 0) != MD_OK)
        return false;
    op->deadline_ms = MD_MIN(op->deadline_ms, due);
    return true;
}

static void eval_reply(md_redis_t *r, md_redis_op_t *op, const redisReply *rep)
{
    if (is_noscript(rep) && eval_retry(r, op))
        return;
    int64_t v[MD_REDIS_EVAL_MAX_INTS];
    size_t n = 0;
    int status = MD_OK;
    if (!ints_of(rep, v, &n)) {
        status = MD_EINVAL;
        if (rep->type != REDIS_REPLY_ERROR || is_noscript(rep))
            r->stats.errors++;  /* other errors were counted by on_reply */
    }
    if (!op->cancelled)
        op->ints_cb(op->arg, status, status == MD_OK ? v : NULL, n);
    op_release(r, op);
}

static bool is_sha(const char *s, size_t len)
{
    if (len != SHA_HEX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (md_hex_value((unsigned char)s[i]) < 0)
            return false;
    return true;
}

static void script_load_reply(md_redis_t *r, md_redis_op_t *op, const redisReply *rep)
{
    script_slot_t *s = &r->scripts[op->script];
    op_release(r, op);
    s->loading = false;
    if (rep->type != REDIS_REPLY_STRING || !is_sha(rep->str, rep->len)) {
        if (rep->type != REDIS_REPLY_ERROR)
            r->stats.errors++;
        return;
    }
    memcpy(s->sha, rep->str, SHA_HEX);
    s->sha[SHA_HEX] = '\0';
    s->loaded_conn = r->conn_id;
}

static int send_scan(md_redis_t *r, md_redis_op_t *op)
{
    md_str_t argv[6] = {
        MD_STR_LIT("SCAN"), { op->cursor, strlen(op->cursor) }, MD_STR_LIT("MATCH"),
        { op->match ? op->match : "", op->match_len }, MD_STR_LIT("COUNT"), MD_STR_LIT(PURGE_COUNT),
    };
    if (!ready(r))
        return MD_ERESET;
    int rc = cmd_build(r, argv, MD_ARRAY_LEN(argv), SIZE_MAX);
    if (rc == MD_OK)
        rc = send_op(r, op, r->timeout_ms);
    op->step = STEP_SCAN;
    return rc;
}

/* The keys come back whole (prefix included): unlink them as they are. */
static int send_unlink(md_redis_t *r, md_redis_op_t *op, const redisReply *keys)
{
    if (!ready(r))
        return MD_ERESET;
    md_buf_reset(&r->cmd);
    int rc = cmd_head(&r->cmd, '*', keys->elements + 1);
    if (rc == MD_OK)
        rc = cmd_arg(&r->cmd, "UNLINK", 6, NULL, 0);
    for (size_t i = 0; i < keys->elements && rc == MD_OK; i++)
        rc = cmd_arg(&r->cmd, keys->element[i]->str, keys->element[i]->len, NULL, 0);
    if (rc == MD_OK)
        rc = send_op(r, op, r->timeout_ms);
    op->step = STEP_UNLINK;
    return rc;
}

static bool valid_scan_reply(const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        return false;
    const redisReply *cur = rep->element[0], *keys = rep->element[1];
    if (cur->type != REDIS_REPLY_STRING || cur->len == 0 || cur->len > MAX_CURSOR)
        return false;
    for (size_t i = 0; i < cur->len; i++)
        if (cur->str[i] < '0' || cur->str[i] > '9')
            return false;
    if (keys->type != REDIS_REPLY_ARRAY)
        return false;
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

/* After a batch: MD_AGAIN when the next SCAN is in flight, else the end. */
static int purge_advance(md_redis_t *r, md_redis_op_t *op)
{
    if (strcmp(op->cursor, "0") == 0)
        return MD_OK;
    if (op->batches >= PURGE_MAX_BATCHES)
        return MD_ETOOBIG;
    int rc = send_scan(r, op);
    return rc == MD_OK ? MD_AGAIN : rc;
}

static int purge_step(md_redis_t *r, md_redis_op_t *op, const redisReply *rep)
{
    if (op->step == STEP_UNLINK) {
        if (rep->type != REDIS_REPLY_INTEGER)
            return MD_EINVAL;
        op->removed += rep->integer > 0 ? (uint64_t)rep->integer : 0;
        return purge_advance(r, op);
    }
    if (!valid_scan_reply(rep))
        return MD_EINVAL;
    const redisReply *cur = rep->element[0], *keys = rep->element[1];
    memcpy(op->cursor, cur->str, cur->len);
    op->cursor[cur->len] = '\0';
    op->batches++;
    if (keys->elements == 0)
        return purge_advance(r, op);
    int rc = send_unlink(r, op, keys);
    return rc == MD_OK ? MD_AGAIN : rc;
}

static void purge_reply(md_redis_t *r, md_redis_op_t *op, const redisReply *rep)
{
    int rc = op->cancelled ? MD_ECANCELED : purge_step(r, op, rep);
    if (rc == MD_AGAIN)
        return;
    if (rc == MD_EINVAL && rep->type != REDIS_REPLY_ERROR)
        r->stats.errors++;
    if (!op->cancelled)
        op->count_cb(op->arg, rc, op->removed);
    op_release(r, op);
}

/* The connection broke before this op's reply (hiredis is tearing down). */
static void broken_off(md_redis_t *r, const redisAsyncContext *ac, md_redis_op_t *op)
{
    if (r->freeing) {
        op_release(r, op);
        return;
    }
    r->stats.errors++;
    if (op->kind == OP_SCRIPT_LOAD)
        r->scripts[op->script].loading = false;
    if (op->cancelled || (op->kind != OP_GET && op->kind != OP_PURGE && op->kind != OP_EVAL)) {
        op_release(r, op);
        return;
    }
    op->status = broken_status(r, ac);
    done_push(r, op);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    md_redis_op_t *op = privdata;
    md_redis_t *r = op->r;
    sent_pop(r, op);
    if (!reply) {
        broken_off(r, ac, op);
        return;
    }
    if (r->freeing) {
        op_release(r, op);
        return;
    }
    const redisReply *rep = reply;
    /* An eval's NOSCRIPT is counted only if it cannot be sent again. */
    if (rep->type == REDIS_REPLY_ERROR && !(op->kind == OP_EVAL && is_noscript(rep)))
        r->stats.errors++;
    switch (op->kind) {
    case OP_GET:
        get_reply(r, op, rep);
        break;
    case OP_SET:
    case OP_PUBLISH:
        op_release(r, op);
        break;
    case OP_PURGE:
        purge_reply(r, op, rep);
        break;
    case OP_EVAL:
        eval_reply(r, op, rep);
        break;
    case OP_SCRIPT_LOAD:
        script_load_reply(r, op, rep);
        break;
    default:
        handshake_reply(r, op, rep);
        break;
    }
}

/* A subscriber's push, shaped as admit_reply let it through; NULL when
 * hiredis frees the context (nothing to do: the loss is noticed in leave). */
static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    md_redis_t *r = privdata;
    const redisReply *rep = reply;
    (void)ac;
    if (!rep || r->freeing || r->state == ST_CLOSING)
        return;
    const redisReply *kind = rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 ? rep->element[0] : NULL;
    const redisReply *body = kind ? rep->element[2] : NULL;
    if (kind && bytes_are(kind->str, kind->len, "subscribe", 9) && body->type == REDIS_REPLY_INTEGER) {
        r->subscribed = true;
        r->sub_due_ms = 0;
        return;
    }
    if (!kind || !r->subscribed || !bytes_are(kind->str, kind->len, "message", 7) ||
        body->type != REDIS_REPLY_STRING) {
        r->stats.errors++;
        conn_abort(r, MD_EINVAL);
        return;
    }
    if (body->len > r->max_msg) {
        r->stats.ignored++;
        return;
    }
    r->stats.messages++;
    r->msg_cb(r->msg_arg, body->str, body->len);
}

/* ---- loop handlers ---- */

static void destroy(md_redis_t *r)
{
    md_timer_stop(r->loop, &r->deadline);
    md_timer_stop(r->loop, &r->retry);
    md_io_stop(&r->io);
    while (r->done_head)
        op_release(r, done_pop(r));
    while (r->sent_head) {  /* empty once hiredis is gone; kept for safety */
        md_redis_op_t *op = r->sent_head;
        sent_pop(r, op);
        op_release(r, op);
    }
    while (r->slabs) {
        op_slab_t *s = r->slabs;
        r->slabs = s->next;
        md_free(s);
    }
    md_buf_free(&r->cmd);
    md_free(r->channel);
    md_free(r);
}

/* Runs the callbacks of ops that ended when the connection broke. */
static void deliver(md_redis_t *r)
{
    r->depth++;
    while (r->done_head && !r->freeing) {
        md_redis_op_t *op = done_pop(r);
        if (!op->cancelled) {
            if (op->kind == OP_GET)
                op->get_cb(op->arg, op->status, NULL, 0);
            else if (op->kind == OP_EVAL)
                op->ints_cb(op->arg, op->status, NULL, 0);
            else
                op->count_cb(op->arg, op->status, op->removed);
        }
        op_release(r, op);
    }
    r->depth--;
}

static void enter(md_redis_t *r)
{
    r->depth++;
}

/* The way out of every handler: notices a lost connection, reports what it
 * broke off, and destroys the client if a callback freed it. */
static void leave(md_redis_t *r)
{
    if (--r->depth > 0)
        return;
    if (!r->freeing && !r->ac && r->state != ST_DOWN)
        conn_lost(r);
    if (!r->freeing && r->done_head)
        deliver(r);
    if (r->freeing)
        destroy(r);
}

/* The length announced by a bulk string still being read, or 0. While it
 * waits for the rest, hiredis 0.14 keeps the read position just after the
 * '$', at the digits, with the current task typed STRING. */
static size_t pending_bulk(const redisReader *rd)
{
    if (rd->ridx < 0 || rd->ridx >= (int)MD_ARRAY_LEN(rd->rstack) || rd->rstack[rd->ridx].type != REDIS_REPLY_STRING)
        return 0;
    size_t v = 0;
    for (size_t i = rd->pos; i < rd->len && i < rd->pos + 20 && rd->buf[i] >= '0' && rd->buf[i] <= '9'; i++)
        v = v * 10 + (size_t)(rd->buf[i] - '0');
    return v;
}

/* Refuses a reply too big for us before hiredis buffers all of it. */
static void check_reader(md_redis_t *r)
{
    if (!r->ac || r->freeing)
        return;
    const redisReader *rd = r->ac->c.reader;
    size_t max_unparsed = r->max_value + UNPARSED_SLACK;
    if ((rd->len > rd->pos && rd->len - rd->pos > max_unparsed) || pending_bulk(rd) > r->max_value) {
        r->stats.errors++;
        conn_abort(r, MD_ETOOBIG);
    }
}

static void on_io(md_io_t *io, unsigned events)
{
    md_redis_t *r = io->data;
    redisAsyncContext *ac = r->ac;
    if (!ac)
        return;
    enter(r);
    if (!(ac->c.flags & REDIS_CONNECTED)) {
        redisAsyncHandleWrite(ac);  /* completes (or fails) the connect, then flushes */
    } else {
        if (events & (MD_IO_READ | MD_IO_HUP)) {
            redisAsyncHandleRead(ac);
            check_reader(r);
        }
        if (r->ac && !r->freeing && (events & MD_IO_WRITE))
            redisAsyncHandleWrite(r->ac);
    }
    leave(r);
}

/* The oldest command, or the SUBSCRIBE, is late. */
static bool head_late(const md_redis_t *r)
{
    return r->ac && r->state != ST_CLOSING && next_due(r) <= now_ms();
}

static void on_deadline(md_timer_t *t)
{
    md_redis_t *r = t->data;
    enter(r);
    if (head_late(r) && (r->ac->c.flags & REDIS_CONNECTED)) {
        /* Maybe only unread because this loop was busy: read what is there. */
        redisAsyncHandleRead(r->ac);
        check_reader(r);
    }
    if (!r->freeing && head_late(r)) {
        r->stats.timeouts++;
        conn_abort(r, MD_ETIMEDOUT);
    }
    if (!r->freeing && r->ac && r->state != ST_CLOSING && !md_timer_active(&r->deadline))
        arm_deadline(r);
    leave(r);
}

static void on_retry(md_timer_t *t)
{
    md_redis_t *r = t->data;
    enter(r);
    if (!r->freeing && !r->ac)
        conn_open(r);
    leave(r);
}

/* ---- public API ---- */

static md_redis_t *redis_alloc(md_loop_t *loop, const md_cache_global_conf_t *conf)
{
    md_redis_t *r = md_calloc(1, sizeof(*r));
    r->loop = loop;
    r->host = conf->redis_host ? conf->redis_host : "127.0.0.1";
    r->port = conf->redis_port ? conf->redis_port : 6379;
    r->password = conf->redis_password;
    r->db = conf->redis_db;
    r->prefix = conf->redis_prefix ? conf->redis_prefix : "medley:";
    r->prefix_len = strlen(r->prefix);
    r->timeout_ms = conf->redis_timeout_ms ? conf->redis_timeout_ms : DEFAULT_TIMEOUT_MS;
    r->connect_timeout_ms = MD_MAX(2 * r->timeout_ms, MIN_CONNECT_TIMEOUT_MS);
    r->backoff_ms = BACKOFF_MIN_MS;
    r->io.fd = -1;
    md_timer_init(&r->deadline, on_deadline, r);
    md_timer_init(&r->retry, on_retry, r);
    md_buf_init(&r->cmd, CMD_MAX);
    r->max_value = MAX_VALUE;
    return r;
}

static void redis_start(md_redis_t *r)
{
    enter(r);
    conn_open(r);
    leave(r);
}

md_redis_t *md_redis_new(md_loop_t *loop, const md_cache_global_conf_t *conf)
{
    md_redis_t *r = redis_alloc(loop, conf);
    redis_start(r);
    return r;
}

md_redis_t *md_redis_subscribe(md_loop_t *loop, const md_cache_global_conf_t *conf, const char *channel,
                               size_t max_len, md_redis_message_cb cb, void *arg)
{
    size_t chlen = channel ? strnlen(channel, MAX_KEY + 1) : 0;
    if (!cb || chlen == 0 || chlen > MAX_KEY || max_len == 0 || max_len > MD_REDIS_MESSAGE_MAX)
        return NULL;
    md_redis_t *r = redis_alloc(loop, conf);
    r->sub = true;
    r->channel = md_strndup(channel, chlen);
    r->channel_len = chlen;
    r->max_msg = max_len;
    r->max_value = SUB_MAX_READ;
    r->msg_cb = cb;
    r->msg_arg = arg;
    redis_start(r);
    return r;
}

void md_redis_free(md_redis_t *r)
{
    if (!r || r->freeing)
        return;
    r->freeing = true;
    md_timer_stop(r->loop, &r->deadline);
    md_timer_stop(r->loop, &r->retry);
    if (r->ac)
        redisAsyncFree(r->ac);  /* inside a reply callback: when it returns */
    if (r->depth == 0)
        destroy(r);
}

bool md_redis_up(const md_redis_t *r)
{
    return r->sub ? r->state == ST_UP && r->ac && !r->freeing && r->subscribed : ready(r);
}

/* A new op of `kind` when Redis is ready and the op table has room; NULL
 * otherwise, counted as refused (the caller goes on without Redis). */
static md_redis_op_t *op_begin(md_redis_t *r, int kind)
{
    md_redis_op_t *op = ready(r) ? op_new(r, kind) : NULL;
    if (!op)
        r->stats.refused++;
    return op;
}

/* Sends a fire-and-forget command (SET, PUBLISH) on op; on failure op is
 * released. MD_OK, MD_ETOOBIG (the command is over the bounds) or MD_ERR. */
static int send_oneway(md_redis_t *r, md_redis_op_t *op, const md_str_t *argv, size_t argc)
{
    int rc = cmd_build(r, argv, argc, 1);
    if (rc == MD_OK)
        rc = send_op(r, op, r->timeout_ms);
    if (rc == MD_OK)
        return MD_OK;
    op_release(r, op);
    return rc == MD_ETOOBIG ? rc : MD_ERR;
}

md_redis_op_t *md_redis_get(md_redis_t *r, const char *key, size_t keylen, md_redis_get_cb cb, void *arg)
{
    if (!cb || (!key && keylen) || keylen > MAX_KEY)
        return NULL;
    md_redis_op_t *op = op_begin(r, OP_GET);
    if (!op)
        return NULL;
    md_str_t argv[2] = { MD_STR_LIT("GET"), { key, keylen } };
    if (cmd_build(r, argv, 2, 1) != MD_OK || send_op(r, op, r->timeout_ms) != MD_OK) {
        op_release(r, op);
        return NULL;
    }
    op->get_cb = cb;
    op->arg = arg;
    return op;
}

int md_redis_set(md_redis_t *r, const char *key, size_t keylen, const char *val, size_t len, uint64_t ttl_ms)
{
    if (ttl_ms == 0 || (!key && keylen) || (!val && len))
        return MD_EINVAL;
    if (keylen > MAX_KEY || len > MAX_VALUE)
        return MD_ETOOBIG;
    md_redis_op_t *op = op_begin(r, OP_SET);
    if (!op)
        return ready(r) ? MD_ETOOBIG : MD_ERR;
    char ttl[24];
    size_t ttl_len = (size_t)(md_put_u64(ttl, ttl_ms) - ttl);
    md_str_t argv[5] = {
        MD_STR_LIT("SET"), { key, keylen }, { val, len }, MD_STR_LIT("PX"), { ttl, ttl_len },
    };
    return send_oneway(r, op, argv, 5);
}

md_redis_op_t *md_redis_purge(md_redis_t *r, const char *pattern, size_t len, md_redis_count_cb cb, void *arg)
{
    if (!cb || (!pattern && len) || len > MAX_KEY)
        return NULL;
    md_redis_op_t *op = op_begin(r, OP_PURGE);
    if (!op)
        return NULL;
    md_buf_t m;
    md_buf_init(&m, 2 * r->prefix_len + len + 1);
    md_redis_glob_escape(r->prefix, r->prefix_len, &m);  /* the prefix matches itself */
    md_buf_append(&m, pattern, len);
    op->match = md_buf_detach(&m, &op->match_len);
    op->cursor[0] = '0';
    op->count_cb = cb;
    op->arg = arg;
    if (send_scan(r, op) != MD_OK) {
        op_release(r, op);
        return NULL;
    }
    return op;
}

int md_redis_publish(md_redis_t *r, const char *channel, size_t chlen, const char *msg, size_t len)
{
    if ((!channel && chlen) || (!msg && len))
        return MD_EINVAL;
    if (chlen > MAX_KEY || len > MD_REDIS_MESSAGE_MAX)
        return MD_ETOOBIG;
    md_redis_op_t *op = op_begin(r, OP_PUBLISH);
    if (!op)
        return ready(r) ? MD_ETOOBIG : MD_ERR;
    md_str_t argv[3] = { MD_STR_LIT("PUBLISH"), { channel, chlen }, { msg, len } };
    return send_oneway(r, op, argv, 3);
}

/* Keys and arguments: at most MD_REDIS_EVAL_MAX_ARGS, each MAX_KEY bytes. */
static bool eval_args_ok(const md_str_t *keys, size_t nkeys, const md_str_t *args, size_t nargs)
{
    if (nkeys > MD_REDIS_EVAL_MAX_ARGS || nargs > MD_REDIS_EVAL_MAX_ARGS - nkeys || (nkeys && !keys) ||
        (nargs && !args))
        return false;
    for (size_t i = 0; i < nkeys + nargs; i++) {
        const md_str_t *a = i < nkeys ? &keys[i] : &args[i - nkeys];
        if ((!a->ptr && a->len) || a->len > MAX_KEY)
            return false;
    }
    return true;
}

md_redis_op_t *md_redis_eval(md_redis_t *r, const char *script, const md_str_t *keys, size_t nkeys,
                             const md_str_t *args, size_t nargs, md_redis_ints_cb cb, void *arg)
{
    if (!cb || !script || !eval_args_ok(keys, nkeys, args, nargs))
        return NULL;
    script_slot_t *s = script_slot(r, script);
    if (!s)
        return NULL;
    md_redis_op_t *op = op_begin(r, OP_EVAL);
    if (!op)
        return NULL;
    op->script = (uint8_t)(s - r->scripts);
    if (eval_tail(r, op, keys, nkeys, args, nargs) != MD_OK) {
        op_release(r, op);
        return NULL;
    }
    if (!s->sha[0] && !s->loading)
        script_load(r, s);
    if (eval_send(r, op, r->timeout_ms) != MD_OK) {
        op_release(r, op);
        return NULL;
    }
    op->ints_cb = cb;
    op->arg = arg;
    return op;
}

void md_redis_cancel(md_redis_op_t *op)
{
    if (op)
        op->cancelled = true;
}

void md_redis_get_stats(const md_redis_t *r, md_redis_stats_t *st)
{
    *st = r->stats;
    st->up = md_redis_up(r);
}

static bool glob_meta(char c)
{
    return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\';
}

int md_redis_glob_escape(const char *s, size_t len, md_buf_t *out)
{
    if (!s && len)
        return MD_EINVAL;
    size_t extra = 0;
    for (size_t i = 0; i < len; i++)
        extra += glob_meta(s[i]);
    int rc = md_buf_reserve(out, len + extra);
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(out);
    for (size_t i = 0; i < len; i++) {
        if (glob_meta(s[i]))
            *p++ = '\\';
        *p++ = s[i];
    }
    md_buf_commit(out, len + extra);
    return MD_OK;
}
