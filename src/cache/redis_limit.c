/*
 * redis_limit.c - rate-limit buckets in Redis (contract in redis_limit.h):
 * the Lua script, the key layout and the check of its answers.
 *
 * Lua 5.1 numbers are doubles. Every value here is an integer below 2^53
 * (the capacity is at most 10^6 tokens x 8.64 * 10^7 ms, a refill is only
 * multiplied out when smaller than the capacity, times are milliseconds
 * since 1970), so sums and products are exact; only division rounds, which
 * is why the script divides with floor_div(), corrected to the exact integer
 * quotient. Values are written back with %d, never in exponent form.
 */
#include "cache/redis_limit.h"

#include <string.h>

/* KEYS[1]: the bucket. ARGV: count, period_ms, burst (checked by the caller).
 * Returns {allowed, remaining, retry_after_ms, reset_ms}. A hash holding
 * anything but two integers in range (another writer, an old format) counts
 * as a new, full bucket; a key of another type makes HMGET fail, and the
 * caller falls back to its local bucket. */
static const char script[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local count, period, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local cap = burst * period\n"
    "local function floor_div(a, b)\n"
    "  local q = math.floor(a / b)\n"
    "  while q * b > a do q = q - 1 end\n"
    "  while (q + 1) * b <= a do q = q + 1 end\n"
    "  return q\n"
    "end\n"
    "local function ceil_div(a, b)\n"
    "  local q = floor_div(a, b)\n"
    "  if q * b < a then q = q + 1 end\n"
    "  return q\n"
    "end\n"
    "local function whole(v, hi)\n"
    "  return v ~= nil and v >= 0 and v <= hi and v == math.floor(v)\n"
    "end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local s = redis.call('HMGET', KEYS[1], 'level', 'last_ms')\n"
    "local level, last = tonumber(s[1]), tonumber(s[2])\n"
    "if not whole(level, cap) or not whole(last, 4503599627370496) then\n"
    "  level, last = cap, now\n"
    "end\n"
    "if now > last then\n"
    "  local dt = now - last\n"
    "  last = now\n"
    "  if level < cap then\n"
    "    if dt >= ceil_div(cap - level, count) then level = cap else level = level + dt * count end\n"
    "  end\n"
    "end\n"
    "local allowed, retry = 0, 0\n"
    "if level >= period then\n"
    "  allowed, level = 1, level - period\n"
    "else\n"
    "  retry = ceil_div(period - level, count)\n"
    "end\n"
    "local reset = ceil_div(cap - level, count)\n"
    "redis.call('HSET', KEYS[1], 'level', string.format('%d', level), 'last_ms', string.format('%d', last))\n"
    "redis.call('PEXPIRE', KEYS[1], string.format('%d', math.max(reset, 1)))\n"
    "return { allowed, floor_div(level, period), retry, reset }\n";

static bool limit_ok(const md_ratelimit_limit_t *lim)
{
    return lim->count >= 1 && lim->count <= MD_RATELIMIT_COUNT_MAX && lim->period_ms >= 1 &&
           lim->period_ms <= MD_RATELIMIT_PERIOD_MAX && lim->burst >= 1 && lim->burst <= MD_RATELIMIT_BURST_MAX;
}

md_redis_op_t *md_redis_limit_take(md_redis_t *r, const md_ratelimit_limit_t *lim, const char *name,
                                   const char *key, size_t key_len, md_redis_ints_cb cb, void *arg)
{
    size_t nlen = name ? strnlen(name, MD_REDIS_LIMIT_NAME_MAX + 1) : 0;
    if (!limit_ok(lim) || nlen == 0 || nlen > MD_REDIS_LIMIT_NAME_MAX || memchr(name, ':', nlen) || !key ||
        key_len == 0 || key_len > MD_RATELIMIT_KEY_MAX)
        return NULL;
    char k[3 + MD_REDIS_LIMIT_NAME_MAX + 1 + MD_RATELIMIT_KEY_MAX];
    memcpy(k, "rl:", 3);
    memcpy(k + 3, name, nlen);
    k[3 + nlen] = ':';
    memcpy(k + 4 + nlen, key, key_len);
    char nums[3][24];
    md_str_t args[3];
    const uint32_t vals[3] = { lim->count, lim->period_ms, lim->burst };
    for (size_t i = 0; i < 3; i++)
        args[i] = (md_str_t){ nums[i], (size_t)(md_put_u64(nums[i], vals[i]) - nums[i]) };
    md_str_t keys[1] = { { k, 4 + nlen + key_len } };
    return md_redis_eval(r, script, keys, 1, args, 3, cb, arg);
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

int md_redis_limit_result(const md_ratelimit_limit_t *lim, int status, const int64_t *v, size_t n,
                          md_ratelimit_result_t *out)
{
    if (status != MD_OK)
        return status;
    if (!limit_ok(lim) || !v || n != 4)
        return MD_EINVAL;
    int64_t allowed = v[0], remaining = v[1], retry = v[2], reset = v[3];
    /* The level is 0..capacity units: these are the bounds it implies. */
    int64_t max_retry = (int64_t)ceil_div(lim->period_ms, lim->count);
    int64_t max_reset = (int64_t)ceil_div((uint64_t)lim->burst * lim->period_ms, lim->count);
    if ((allowed != 0 && allowed != 1) || remaining < 0 || remaining >= (int64_t)lim->burst ||
        reset < 1 || reset > max_reset)
        return MD_EINVAL;
    if (allowed ? retry != 0 : (retry < 1 || retry > max_retry || remaining != 0))
        return MD_EINVAL;
    *out = (md_ratelimit_result_t){
        .allowed = allowed == 1,
        .limit = lim->burst,
        .remaining = (uint32_t)remaining,
        .retry_after_ms = (uint64_t)retry,
        .reset_ms = (uint64_t)reset,
    };
    return MD_OK;
}
