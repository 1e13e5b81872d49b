/* SPDX-License-Identifier: MIT */
/*
 * replmon_json.h - what the tests of the replmon binary share besides
 * running it (replmon_run.h): writing a configuration file, reading its
 * JSON output, finding a node in it. Each failure fails the test (cmocka's
 * fail_msg): include <cmocka.h> and <jansson.h> first.
 */
#ifndef REPLMON_JSON_H
#define REPLMON_JSON_H

#include <stdio.h>
#include <string.h>

/* Write text to path (a configuration file). */
static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The JSON document replmon printed. */
static inline json_t *parse_json(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);

    if (doc == NULL)
        fail_msg("not JSON (line %d: %s): %.300s", jerr.line, jerr.text, text);
    return doc;
}

/* The element of doc's "nodes" whose member key is id. */
static inline json_t *node_by_id(json_t *doc, const char *key, const char *id)
{
    size_t i;
    json_t *n;

    json_array_foreach(json_object_get(doc, "nodes"), i, n)
    {
        if (strcmp(json_string_value(json_object_get(n, key)), id) == 0)
            return n;
    }
    fail_msg("no node %s in the output", id);
    return NULL;
}

#endif /* REPLMON_JSON_H */
