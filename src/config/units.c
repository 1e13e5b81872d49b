/* SPDX-License-Identifier: MIT */
/*
 * units.c - typing scalar text: whole numbers, decimal numbers, booleans,
 * durations ("500ms", "5s", "1m", "1h", "1m30s", "1.5s"; a plain number in
 * a caller-chosen unit) and sizes ("512", "1KB" .. "1TB", 1024-based,
 * KiB..TiB accepted as the same, case-insensitive; a plain number is
 * bytes) and listen addresses ("127.0.0.1:9187", "[::1]:9187"). Pure
 * functions, no allocation.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Trimmed bounds of text. */
static void trim(const char *text, const char **b, const char **e)
{
    const char *s = text;
    const char *t = text + strlen(text);
    while (s < t && is_space(*s))
        s++;
    while (t > s && is_space(t[-1]))
        t--;
    *b = s;
    *e = t;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Read "123", "1.5", ".5" at *p (not past e) into *v. 0 or -1. */
static int read_decimal(const char **p, const char *e, double *v)
{
    const char *s = *p;
    double acc = 0;
    int digits = 0;
    while (s < e && is_digit(*s)) {
        acc = acc * 10 + (*s - '0');
        s++;
        digits++;
    }
    if (s < e && *s == '.') {
        s++;
        double scale = 0.1;
        int frac = 0;
        while (s < e && is_digit(*s)) {
            acc += (*s - '0') * scale;
            scale /= 10;
            s++;
            frac++;
        }
        if (frac == 0)
            return -1;
        digits += frac;
    }
    if (digits == 0 || !isfinite(acc))
        return -1;
    *p = s;
    *v = acc;
    return 0;
}

/* Trimmed bounds of text after an optional sign: 1 when it was '-'. */
static int trim_sign(const char *text, const char **b, const char **e)
{
    trim(text, b, e);
    if (*b < *e && (**b == '-' || **b == '+'))
        return *(*b)++ == '-';
    return 0;
}

int rm__parse_int(const char *text, int64_t *out, const char **why)
{
    const char *s, *e;
    int neg = trim_sign(text, &s, &e);
    if (s == e) {
        *why = "not a whole number";
        return -1;
    }
    int64_t v = 0;
    for (const char *p = s; p < e; p++) {
        if (!is_digit(*p)) {
            *why = "not a whole number";
            return -1;
        }
        if (v > (INT64_MAX - 9) / 10) {
            *why = "number too large";
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

int rm__parse_number(const char *text, double *out, const char **why)
{
    const char *s, *e;
    int neg = trim_sign(text, &s, &e);
    double v;
    if (read_decimal(&s, e, &v) != 0 || s != e) {
        *why = "not a number";
        return -1;
    }
    if (v > 1e15) {
        *why = "number too large";
        return -1;
    }
    *out = neg ? -v : v;
    return 0;
}

int rm__parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    const char *s, *e;
    trim(text, &s, &e);
    size_t n = (size_t)(e - s);
    for (size_t i = 0; i < 3; i++) {
        if (n == strlen(yes[i]) && strncasecmp(s, yes[i], n) == 0) {
            *out = 1;
            return 0;
        }
        if (n == strlen(no[i]) && strncasecmp(s, no[i], n) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* What is wrong with a duration's or a size's text before its number. */
typedef struct quantity_words {
    const char *none, *empty, *negative;
} quantity_words_t;

/* Trimmed bounds of a duration's or a size's text, or -1 with *why when
 * there is none, it is empty or it is negative. */
static int quantity_text(const char *text, const quantity_words_t *words,
                         const char **b, const char **e, const char **why)
{
    if (text == NULL) {
        *why = words->none;
        return -1;
    }
    trim(text, b, e);
    if (*b == *e) {
        *why = words->empty;
        return -1;
    }
    if (**b == '-') {
        *why = words->negative;
        return -1;
    }
    return 0;
}

static const quantity_words_t duration_words = {
    "no duration given; write e.g. 500ms, 5s, 1m or 1h",
    "empty duration; write e.g. 500ms, 5s, 1m or 1h",
    "negative duration; use a positive one such as 5s"};

static const quantity_words_t size_words = {
    "no size given; write e.g. 512MB or 1GB",
    "empty size; write e.g. 512MB or 1GB",
    "negative size; use a positive one such as 1GB"};

int rm_config_parse_duration(const char *text, int64_t plain_unit_ms,
                             int64_t *ms_out, const char **why)
{
    const char *dummy, *s, *e;
    if (why == NULL)
        why = &dummy;
    if (quantity_text(text, &duration_words, &s, &e, why) != 0)
        return -1;
    double total = 0;
    int parts = 0;
    int seen[4] = {0, 0, 0, 0};
    const char *p = s;
    while (p < e) {
        double v;
        if (read_decimal(&p, e, &v) != 0) {
            *why = "not a duration; write e.g. 500ms, 5s, 1m or 1h";
            return -1;
        }
        while (p < e && is_space(*p))
            p++;
        const char *u = p;
        while (p < e && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            p++;
        size_t ulen = (size_t)(p - u);
        double mult;
        int slot;
        if (ulen == 0) {
            if (parts > 0 || p != e) {
                *why = "a number without a unit inside a duration; write "
                       "e.g. 1m30s";
                return -1;
            }
            mult = (double)plain_unit_ms;
            slot = -1;
        } else if (ulen == 2 && strncmp(u, "ms", 2) == 0) {
            mult = 1;
            slot = 3;
        } else if (ulen == 1 && *u == 's') {
            mult = 1000;
            slot = 2;
        } else if (ulen == 1 && *u == 'm') {
            mult = 60000;
            slot = 1;
        } else if (ulen == 1 && *u == 'h') {
            mult = 3600000;
            slot = 0;
        } else {
            *why = "unknown duration unit; use ms, s, m or h (lower case)";
            return -1;
        }
        if (slot >= 0) {
            if (seen[slot]) {
                *why = "a unit appears twice in a duration; write e.g. 1m30s";
                return -1;
            }
            seen[slot] = 1;
        }
        total += v * mult;
        if (total > 1e15) {
            *why = "duration too large";
            return -1;
        }
        parts++;
        while (p < e && is_space(*p))
            p++;
    }
    *ms_out = (int64_t)llround(total);
    return 0;
}

int rm_config_parse_size(const char *text, int64_t *bytes_out, const char **why)
{
    const char *dummy, *s, *e;
    if (why == NULL)
        why = &dummy;
    if (quantity_text(text, &size_words, &s, &e, why) != 0)
        return -1;
    const char *p = s;
    double v;
    if (read_decimal(&p, e, &v) != 0) {
        *why = "not a size; write e.g. 512MB, 1GB or 1TB";
        return -1;
    }
    while (p < e && is_space(*p))
        p++;
    size_t ulen = (size_t)(e - p);
    static const struct {
        const char *name;
        double mult;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024.0},
        {"kb", 1024.0},
        {"kib", 1024.0},
        {"m", 1024.0 * 1024},
        {"mb", 1024.0 * 1024},
        {"mib", 1024.0 * 1024},
        {"g", 1024.0 * 1024 * 1024},
        {"gb", 1024.0 * 1024 * 1024},
        {"gib", 1024.0 * 1024 * 1024},
        {"t", 1024.0 * 1024 * 1024 * 1024},
        {"tb", 1024.0 * 1024 * 1024 * 1024},
        {"tib", 1024.0 * 1024 * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
        if (ulen == strlen(units[i].name) &&
            strncasecmp(p, units[i].name, ulen) == 0) {
            double total = v * units[i].mult;
            if (total > 9.0e18) {
                *why = "size too large";
                return -1;
            }
            *bytes_out = (int64_t)llround(total);
            return 0;
        }
    }
    *why = "unknown size unit; use B, KB, MB, GB or TB (1024-based)";
    return -1;
}

int rm_config_parse_listen(const char *text, char *host_out, size_t host_len,
                           int *port_out, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (text == NULL || text[0] == '\0') {
        *why = "no address given; write ADDR:PORT such as 127.0.0.1:9187";
        return -1;
    }
    const char *host = text, *host_end, *colon;
    if (text[0] == '[') {
        host = text + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL || host_end[1] != ':') {
            *why = "an IPv6 address goes in brackets before the port, as "
                   "[::1]:9187";
            return -1;
        }
        colon = host_end + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            *why = "no port; write ADDR:PORT such as 127.0.0.1:9187";
            return -1;
        }
        host_end = colon;
        if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
            *why = "put an IPv6 address in brackets, as [::1]:9187";
            return -1;
        }
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0) {
        *why = "no address before the port; write 127.0.0.1:PORT for this "
               "machine only or 0.0.0.0:PORT for every interface";
        return -1;
    }
    for (const char *h = host; h < host_end; h++) {
        if ((unsigned char)*h <= 0x20 || *h == 0x7f || *h == '/') {
            *why = "the address holds a space, '/' or a control character";
            return -1;
        }
    }
    if (hlen >= host_len) {
        *why = "the address is too long";
        return -1;
    }
    int64_t port = 0;
    const char *p = colon + 1;
    for (; is_digit(*p) && port <= 65535; p++)
        port = port * 10 + (*p - '0');
    if (p == colon + 1 || *p != '\0' || port > 65535) {
        *why = "the port is not a number from 0 to 65535";
        return -1;
    }
    memcpy(host_out, host, hlen);
    host_out[hlen] = '\0';
    *port_out = (int)port;
    return 0;
}
