/* SPDX-License-Identifier: MIT */
/*
 * output.c - what the reports share: format names, CSV field quoting, JSON
 * printing and the JSON and time helpers of output.h.
 */
#include "output.h"

#include <stdlib.h>
#include <string.h>

int rm_format_parse(const char *text, rm_format_t *out)
{
    if (text == NULL)
        return -1;
    if (strcmp(text, "table") == 0)
        *out = RM_FORMAT_TABLE;
    else if (strcmp(text, "json") == 0)
        *out = RM_FORMAT_JSON;
    else if (strcmp(text, "csv") == 0)
        *out = RM_FORMAT_CSV;
    else
        return -1;
    return 0;
}

void rm_csv_field(FILE *out, const char *value, int is_null)
{
    size_t len;
    const char *p;

    if (is_null || value == NULL)
        return;
    len = strlen(value);
    if (len > 0 && strpbrk(value, ",\"\r\n") == NULL && value[0] != ' ' &&
        value[len - 1] != ' ') {
        fputs(value, out);
        return;
    }
    fputc('"', out);
    for (p = value; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

int rm_print_json(FILE *out, const json_t *doc, int precision)
{
    size_t flags = JSON_INDENT(2);

    if (precision > 0 && precision <= 31)
        flags |= JSON_REAL_PRECISION(precision);
    if (json_dumpf(doc, out, flags) != 0)
        return -1;
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}

void rm_json_put(json_t *obj, const char *key, json_t *value, int *oom)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        *oom = 1;
}

void rm_json_push(json_t *arr, json_t *value, int *oom)
{
    if (value == NULL || json_array_append_new(arr, value) != 0)
        *oom = 1;
}

json_t *rm_json_text(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

json_t *rm_json_string(const char *s)
{
    json_t *v = json_string(s);
    char *fixed;

    if (v != NULL || s == NULL)
        return v;
    fixed = rm_utf8_repair(s);
    if (fixed == NULL)
        return NULL;
    v = json_string(fixed);
    free(fixed);
    return v;
}

void rm_fmt_ms(int64_t us, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f ms", (double)us / 1000.0);
}
