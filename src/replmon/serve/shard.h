/* SPDX-License-Identifier: MIT */
/*
 * shard.h - scale-out by rendezvous hashing (S6): with --shard K/N an
 * instance monitors only the nodes whose id hashes to shard K, so N
 * instances split a fleet with no coordination. Rendezvous (highest random
 * weight) hashing gives each node the shard with the highest score
 * hash(id, shard): every node lands in exactly one shard, and going from
 * N to N+1 shards moves only the nodes the new shard wins (about 1/(N+1)
 * of them), never a node between two old shards. Pure functions.
 */
#ifndef REPLMON_SHARD_H
#define REPLMON_SHARD_H

#include <stdint.h>

#define RM_SHARD_MAX 1024

/* rm_shard_parse - "K/N" with 1 <= K <= N <= RM_SHARD_MAX. Returns 0, or
 * -1 with a static reason in *why. */
int rm_shard_parse(const char *text, int *k, int *n, const char **why);

/* rm_shard_score - the weight of node id for shard (1-based). */
uint64_t rm_shard_score(const char *id, int shard);

/* rm_shard_of - the shard (1..n) that owns node id; n < 1 counts as 1. */
int rm_shard_of(const char *id, int n);

#endif /* REPLMON_SHARD_H */
