/*
 * merge.h - assembling one response object from several JSON fragments,
 * each the shaped output of one backend call, placed at its `as:` path.
 *
 * Merge rule: the response is what you get by wrapping each fragment in
 * its path ({"cards":{"vacation":FRAG}}; a NULL path means the fragment's
 * own members) and merging the wrapped objects in declaration order:
 *   - objects meeting at the same key merge recursively, members of the
 *     earlier one first, in their order;
 *   - when at least one side is not an object, the fragment declared
 *     LATER wins, whichever backend answered first (the result depends
 *     only on the config and the fragments, never on timing);
 *   - where an object is merged into, its own duplicate keys are treated
 *     like successive fragments (the later one wins, objects merge);
 *     values that nothing overlaps are copied as they are;
 *   - a missing fragment (failed optional backend) contributes nothing,
 *     as if it were not declared: its key is left out, and so are the
 *     intermediate objects of its path unless another fragment creates
 *     them (`cards` disappears when `cards.vacation` is its only content).
 * Keys come out in first-appearance order.
 *
 * Two implementations of that rule:
 *   - fast path, chosen at compile time when every path is non-NULL and
 *     no path equals or is a prefix of another (news, events,
 *     cards.vacation): a precomputed skeleton of encoded keys with the
 *     fragments spliced in as byte spans; fragments are NOT re-tokenized,
 *     so they must be valid JSON (md_shape_apply's output is);
 *   - general path (root merges, `cards` with `cards.vacation`, equal
 *     paths): fragments are tokenized into the thread's token scratch and
 *     merged into a key tree of at most MD_MERGE_MAX_NODES nodes, found
 *     through a hash index with a secret seed (linear time, also for a
 *     hostile 4096-key object), then written compactly. A fragment that
 *     nothing overlaps is still copied as one span.
 * The optional extra member (e.g. "_errors") is appended last at the root
 * as given; the caller picks a name no fragment uses.
 */
#ifndef MD_MERGE_H
#define MD_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Fragments in one merge. */
#define MD_MERGE_MAX_FRAGMENTS 64
/* Key-tree nodes of one general-path merge (one per distinct key). */
#define MD_MERGE_MAX_NODES 4096

typedef struct md_merge md_merge_t;

/* paths[i] = dotted key where fragment i goes ("news", "cards.vacation"),
 * or NULL: fragment i's members are merged into the root (it must be an
 * object at run time, else that fragment is reported MD_EINVAL). Fails
 * only on invalid paths (empty segment, deeper than 16) or n above
 * MD_MERGE_MAX_FRAGMENTS; NULL + message in err then. n == 0 is allowed
 * (the result is {} plus the extra member). */
md_merge_t *md_merge_compile(const char *const *paths, size_t n, char *err, size_t errlen);

/* Frees a compiled merge. NULL is ignored. */
void md_merge_free(md_merge_t *m);

/* Whether md_merge_write will take the precomputed fast path. */
bool md_merge_is_fast(const md_merge_t *m);

/* One backend's shaped output. json == NULL: missing (failed optional
 * backend), its key is left out. */
typedef struct md_fragment {
    const char *json;
    size_t len;
} md_fragment_t;

/* Writes the merged object (frags has as many entries as the compiled
 * paths). If extra_name != NULL, appends "extra_name": extra_json (raw
 * JSON, not checked) as the last root member.
 * MD_OK; MD_EINVAL a fragment is not valid JSON (general path) or a root
 * fragment is not an object, or an empty fragment/extra; MD_ETOOBIG out's
 * cap, the token cap or MD_MERGE_MAX_NODES. On error out is unchanged. */
int md_merge_write(const md_merge_t *m, const md_fragment_t *frags, const char *extra_name,
                   const char *extra_json, size_t extra_len, md_buf_t *out);

/* md_merge_write that also says which fragment was at fault: *bad gets
 * its index (or (size_t)-1 if none was) and err a message. Either may be
 * NULL. A caller may drop that fragment (json = NULL) and retry. */
int md_merge_write_ex(const md_merge_t *m, const md_fragment_t *frags, const char *extra_name,
                      const char *extra_json, size_t extra_len, md_buf_t *out, size_t *bad,
                      char *err, size_t errlen);

#endif
