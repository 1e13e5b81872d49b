/* SPDX-License-Identifier: MIT */
/*
 * suggest.c - "did you mean ...?": the known key (or node, or cluster)
 * closest to a misspelt one, by Levenshtein distance that ignores case and
 * treats '_' and '-' alike, and also matches camelCase spellings of
 * snake_case keys (healthCheckInterval -> health_check_interval).
 */
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

size_t rm__levenshtein(const char *a, const char *b)
{
    /* Optimal string alignment: Levenshtein plus adjacent transpositions
     * ("hots" -> "host" is one edit). */
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return (size_t)-1 / 2;
    size_t prev2[SUGGEST_MAX_LEN + 1], prev[SUGGEST_MAX_LEN + 1],
        cur[SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
                fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        memcpy(prev2, prev, (lb + 1) * sizeof(*prev));
        memcpy(prev, cur, (lb + 1) * sizeof(*cur));
    }
    return prev[lb];
}

/* Lower-case letters and digits only: "healthCheckInterval" and
 * "health_check_interval" both become "healthcheckinterval". */
static void squash(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size; s++) {
        char c = fold(*s);
        if (c == '_' || c == ' ' || c == '.')
            continue;
        out[n++] = c;
    }
    out[n] = '\0';
}

const char *rm__suggest(const char *word, const char *const *candidates,
                        size_t n)
{
    if (word == NULL || word[0] == '\0' || strlen(word) > SUGGEST_MAX_LEN)
        return NULL;
    char sw[SUGGEST_MAX_LEN + 1];
    squash(word, sw, sizeof(sw));
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        const char *c = candidates[i];
        if (c == NULL)
            continue;
        char sc[SUGGEST_MAX_LEN + 1];
        squash(c, sc, sizeof(sc));
        if (sw[0] != '\0' && strcmp(sw, sc) == 0)
            return c; /* only case, '_' or '-' differ */
        size_t d = rm__levenshtein(word, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    size_t len = strlen(word);
    size_t limit = len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 4)
        limit = 4;
    /* Never suggest a word that shares nothing with what was written. */
    if (best == NULL)
        return NULL;
    size_t longest = len > strlen(best) ? len : strlen(best);
    return best_d <= limit && best_d < longest ? best : NULL;
}
