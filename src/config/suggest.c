/* SPDX-License-Identifier: MIT */
/*
 * suggest.c - "did you mean ...?": the known key (or node, or cluster)
 * closest to a misspelt one, by edit distance (Levenshtein with adjacent
 * transpositions) that ignores case and treats '_' and '-' alike, and also
 * matches camelCase spellings of snake_case keys (healthCheckInterval ->
 * health_check_interval). The distance is computed 64 characters at a
 * time (Hyyrö's bit-vector algorithm), so that a search through the ids of
 * a few hundred thousand nodes stays in milliseconds.
 */
#include <stdint.h>
#include <string.h>

#include "config_internal.h"

#define SUGGEST_MAX_LEN 64

static char fold(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    if (c == '-')
        return '_';
    return c;
}

/* The pattern's bit masks: bit i of peq[c] is set when the i-th character
 * of the (folded) pattern is c. */
typedef struct pattern {
    uint64_t peq[256];
    size_t len;
} pattern_t;

static void pattern_init(pattern_t *p, const char *s, size_t len)
{
    memset(p->peq, 0, sizeof(p->peq));
    p->len = len;
    for (size_t i = 0; i < len; i++)
        p->peq[(unsigned char)fold(s[i])] |= UINT64_C(1) << i;
}

/*
 * The optimal-string-alignment distance between the pattern (at most 64
 * characters) and t[0..n), n <= 64: H. Hyyrö, "A bit-vector algorithm for
 * computing Levenshtein and Damerau edit distances" (2003), global form.
 * VP/VN hold the vertical deltas of the current column of the dynamic
 * programming table, one bit per pattern character; D0 its diagonal zero
 * deltas; PM_prev the previous text character's mask, for transpositions.
 */
static size_t pattern_distance(const pattern_t *p, const char *t, size_t n)
{
    size_t m = p->len;
    if (m == 0)
        return n;
    uint64_t last = UINT64_C(1) << (m - 1);
    uint64_t vp = ~UINT64_C(0), vn = 0, d0 = 0, pm_prev = 0;
    size_t dist = m;
    for (size_t j = 0; j < n; j++) {
        uint64_t pm = p->peq[(unsigned char)fold(t[j])];
        uint64_t tr = ((~d0 & pm) << 1) & pm_prev;
        d0 = (((pm & vp) + vp) ^ vp) | pm | vn | tr;
        uint64_t hp = vn | ~(d0 | vp);
        uint64_t hn = vp & d0;
        if (hp & last)
            dist++;
        else if (hn & last)
            dist--;
        uint64_t x = (hp << 1) | 1;
        vn = x & d0;
        vp = (hn << 1) | ~(x | d0);
        pm_prev = pm;
    }
    return dist;
}

size_t rm__levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return (size_t)-1 / 2;
    pattern_t p;
    pattern_init(&p, a, la);
    return pattern_distance(&p, b, lb);
}

/* Lower-case letters and digits only: "healthCheckInterval" and
 * "health_check_interval" both become "healthcheckinterval" (at most
 * SUGGEST_MAX_LEN characters are kept). */
static int squashed_out(char c)
{
    return c == '_' || c == ' ' || c == '.';
}

static void squash(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++) {
        char c = fold(*s);
        if (squashed_out(c))
            continue;
        out[n++] = c;
    }
    out[n] = '\0';
}

/* Whether the squashed form of c is sw, without building it. */
static int squash_equal(const char *sw, const char *c)
{
    size_t n = 0;
    for (; *c && n < SUGGEST_MAX_LEN; c++) {
        char f = fold(*c);
        if (squashed_out(f))
            continue;
        if (sw[n] != f)
            return 0;
        n++;
    }
    return sw[n] == '\0';
}

const char *rm__suggest(const char *word, const char *const *candidates,
                        size_t n)
{
    if (word == NULL || word[0] == '\0' || strlen(word) > SUGGEST_MAX_LEN)
        return NULL;
    char sw[SUGGEST_MAX_LEN + 1];
    squash(word, sw, sizeof(sw));
    size_t len = strlen(word);
    /* How far a suggestion may be. */
    size_t limit = len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 4)
        limit = 4;
    pattern_t p;
    pattern_init(&p, word, len);
    const char *best = NULL;
    size_t best_d = limit + 1; /* only closer ones count */
    for (size_t i = 0; i < n; i++) {
        const char *c = candidates[i];
        if (c == NULL)
            continue;
        if (sw[0] != '\0' && squash_equal(sw, c))
            return c; /* only case, '_' or '-' differ */
        /* The distance is at least the difference in length: a candidate
         * that cannot be closer than the best so far is not measured. */
        size_t lc = strnlen(c, SUGGEST_MAX_LEN + 1);
        if (lc > SUGGEST_MAX_LEN)
            continue;
        size_t gap = lc > len ? lc - len : len - lc;
        if (gap >= best_d)
            continue;
        size_t d = pattern_distance(&p, c, lc);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    /* Never suggest a word that shares nothing with what was written. */
    if (best == NULL)
        return NULL;
    size_t longest = len > strlen(best) ? len : strlen(best);
    return best_d < longest ? best : NULL;
}
