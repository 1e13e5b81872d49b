/* SPDX-License-Identifier: MIT */
/*
 * interpolate.c - environment references inside configuration values:
 *   ${VAR}          the variable's value; an error naming VAR when unset
 *   ${VAR:-default} default when VAR is unset or empty (as the shell)
 *   ${VAR-default}  default only when VAR is unset (as the shell)
 *   $${             a literal "${" (any other '$' is literal as it is)
 * Defaults may themselves hold references; they are expanded only when
 * used, but their syntax is always checked. A variable's value is inserted
 * as it is, never expanded again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define INTERP_MAX_DEPTH 16
#define INTERP_MAX_NAME  255

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

typedef struct interp_ctx {
    const char *in;
    size_t len;
    size_t pos;
    rm_getenv_fn getenv_fn;
    rm_interp_t *r;
    int failed;
} interp_ctx_t;

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
fail(interp_ctx_t *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->r->err, sizeof(c->r->err), fmt, ap);
    va_end(ap);
}

/*
 * Expand from c->pos. With in_braces, stop before an unmatched '}' (the end
 * of a default); otherwise run to the end. When evaluate is 0 only the
 * syntax is checked (an unused default). Output goes to out (may be NULL).
 */
static void expand(interp_ctx_t *c, sbuf_t *out, int in_braces, int evaluate,
                   int depth)
{
    if (depth > INTERP_MAX_DEPTH) {
        fail(c, "defaults nested more than 16 deep; simplify the "
                "${VAR:-default} chain");
        return;
    }
    while (c->pos < c->len && !c->failed) {
        char ch = c->in[c->pos];
        if (in_braces && ch == '}')
            return;
        if (ch == '$' && c->pos + 2 < c->len && c->in[c->pos + 1] == '$' &&
            c->in[c->pos + 2] == '{') {
            if (out)
                sb_add(out, "${", 2);
            c->pos += 3;
            continue;
        }
        if (ch != '$' || c->pos + 1 >= c->len || c->in[c->pos + 1] != '{') {
            /* Plain text up to the next '$' or '}', in one piece. */
            size_t run = 1;
            while (c->pos + run < c->len && c->in[c->pos + run] != '$' &&
                   c->in[c->pos + run] != '}')
                run++;
            if (out)
                sb_add(out, &c->in[c->pos], run);
            c->pos += run;
            continue;
        }
        /* A reference: ${NAME...} */
        size_t start = c->pos;
        c->pos += 2;
        size_t name_at = c->pos;
        if (c->pos >= c->len || !is_name_start(c->in[c->pos])) {
            if (c->pos >= c->len || c->in[c->pos] == '}')
                fail(c, "'${' is not followed by a variable name; write "
                        "${NAME} (letters, digits and '_'), or '$${' for a "
                        "literal '${'");
            else
                fail(c, "'${' is not followed by a valid variable name; names "
                        "are letters, digits and '_' and do not start with a "
                        "digit; write '$${' for a literal '${'");
            return;
        }
        while (c->pos < c->len && is_name_char(c->in[c->pos]))
            c->pos++;
        size_t name_len = c->pos - name_at;
        char name[INTERP_MAX_NAME + 1];
        if (name_len > INTERP_MAX_NAME) {
            fail(c, "variable name longer than 255 characters; use a shorter "
                    "name");
            return;
        }
        memcpy(name, c->in + name_at, name_len);
        name[name_len] = '\0';
        if (c->pos >= c->len) {
            fail(c,
                 "unterminated '${%s' (no closing '}'); close it, or write "
                 "'$${' for a literal '${'",
                 name);
            return;
        }
        c->r->refs++;
        const char *value = NULL;
        if (evaluate)
            value = rm__getenv(c->getenv_fn, name);
        char op = c->in[c->pos];
        if (op == '}') {
            c->pos++;
            if (!evaluate)
                continue;
            if (value == NULL) {
                fail(c,
                     "environment variable %s is not set; set it, or give a "
                     "default with ${%s:-value}",
                     name, name);
                return;
            }
            if (out)
                sb_add(out, value, strlen(value));
            continue;
        }
        int colon = 0;
        if (op == ':' && c->pos + 1 < c->len && c->in[c->pos + 1] == '-') {
            colon = 1;
            c->pos += 2;
        } else if (op == '-') {
            c->pos += 1;
        } else {
            /* Show what was written, bounded. */
            char shown[48];
            size_t n = c->pos + 1 - start;
            if (n > sizeof(shown) - 4)
                n = sizeof(shown) - 4;
            memcpy(shown, c->in + start, n);
            shown[n] = '\0';
            for (char *p = shown; *p; p++)
                if ((unsigned char)*p < 0x20)
                    *p = '?';
            fail(c,
                 "unsupported form '%s...'; use ${NAME}, ${NAME:-default} "
                 "or ${NAME-default}, or '$${' for a literal '${'",
                 shown);
            return;
        }
        int use_default =
            evaluate && (value == NULL || (colon && value[0] == '\0'));
        expand(c, use_default ? out : NULL, 1, use_default, depth + 1);
        if (c->failed)
            return;
        if (c->pos >= c->len || c->in[c->pos] != '}') {
            fail(c,
                 "unterminated '${%s' (no closing '}'); close it, or write "
                 "'$${' for a literal '${'",
                 name);
            return;
        }
        c->pos++;
        if (evaluate && !use_default && out)
            sb_add(out, value, strlen(value));
    }
}

int rm__interpolate(const char *in, size_t len, rm_getenv_fn getenv_fn,
                    rm_interp_t *r)
{
    memset(r, 0, sizeof(*r));
    interp_ctx_t c = {.in = in, .len = len, .getenv_fn = getenv_fn, .r = r};
    sbuf_t out = {0};
    sb_add(&out, "", 0);
    expand(&c, &out, 0, 1, 0);
    if (out.oom) {
        free(out.p);
        return -2;
    }
    if (c.failed) {
        free(out.p);
        return -1;
    }
    r->value = out.p;
    r->len = out.len;
    return 0;
}
