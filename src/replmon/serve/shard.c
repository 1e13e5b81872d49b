/* SPDX-License-Identifier: MIT */
/*
 * shard.c - rendezvous hashing of node ids over N shards: FNV-1a of the
 * id, mixed with the shard number by SplitMix64's finalizer; the shard
 * with the highest score owns the node (ties, which need a 64-bit
 * collision, go to the lower shard).
 */
#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t rm_shard_score(const char *id, int shard)
{
    return mix(fnv1a(id) ^ mix((uint64_t)shard));
}

int rm_shard_of(const char *id, int n)
{
    uint64_t best = 0;
    int owner = 1, k;

    for (k = 1; k <= n; k++) {
        uint64_t s = rm_shard_score(id, k);

        if (k == 1 || s > best) {
            best = s;
            owner = k;
        }
    }
    return owner;
}

static int parse_count(const char *s, const char *end, long *out)
{
    long v = 0;

    if (s == end)
        return -1;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9' || v > RM_SHARD_MAX)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

int rm_shard_parse(const char *text, int *k, int *n, const char **why)
{
    const char *slash = text != NULL ? strchr(text, '/') : NULL;
    long kk, nn;

    if (slash == NULL) {
        *why = "write K/N, e.g. 1/3 for the first of three shards";
        return -1;
    }
    if (parse_count(text, slash, &kk) != 0 ||
        parse_count(slash + 1, slash + strlen(slash), &nn) != 0) {
        *why = "K and N must be whole numbers, e.g. 1/3";
        return -1;
    }
    if (nn < 1 || nn > RM_SHARD_MAX) {
        *why = "N must be from 1 to 1024";
        return -1;
    }
    if (kk < 1 || kk > nn) {
        *why = "K must be from 1 to N (shards are numbered from 1)";
        return -1;
    }
    *k = (int)kk;
    *n = (int)nn;
    return 0;
}
