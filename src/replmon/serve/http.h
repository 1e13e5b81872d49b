/* SPDX-License-Identifier: MIT */
/*
 * http.h - the HTTP listener of replmon serve, on libmicrohttpd (no HTTP
 * parsing of our own): one listening address, GET and HEAD only, every
 * request handed to one handler that fills a response. Requests run on
 * libmicrohttpd's internal threads (a small pool), so a slow client does
 * not hold up the others; the handler must not block on a node.
 */
#ifndef REPLMON_HTTP_H
#define REPLMON_HTTP_H

#include <stddef.h>

typedef struct rm_http rm_http_t;

/* What the handler sees. */
typedef struct rm_http_request {
    const char *method; /* "GET" or "HEAD" */
    const char *path;   /* without the query string */
    void *conn;         /* for rm_http_query */
} rm_http_request_t;

/* What the handler fills: status, content type (static) and a malloc'd
 * body (freed by the listener). */
typedef struct rm_http_response {
    int status;
    const char *content_type;
    char *body;
    size_t len;
} rm_http_response_t;

typedef void (*rm_http_handler)(const rm_http_request_t *req,
                                rm_http_response_t *resp, void *user);

/* rm_http_query - the value of a query argument (?key=value, decoded), or
 * NULL. Valid during the handler call. */
const char *rm_http_query(const rm_http_request_t *req, const char *key);

/* rm_http_start - listen on host:port (an address or a name; port 0: a
 * free port) and answer with handler(user). Returns 0 and *out, or -1 with
 * "cannot listen on HOST:PORT: why" in err. */
int rm_http_start(const char *host, int port, rm_http_handler handler,
                  void *user, rm_http_t **out, char *err, size_t errlen);

/* rm_http_port - the port it listens on (the one chosen for port 0). */
int rm_http_port(const rm_http_t *h);

/* rm_http_stop - stop listening, wait for the requests being answered,
 * free h (NULL is fine). */
void rm_http_stop(rm_http_t *h);

/* rm_http_set_body - resp's body as a copy of text (content type
 * text/plain). Returns 0, or -1 when out of memory (then status 500). */
int rm_http_set_text(rm_http_response_t *resp, int status, const char *text);

#endif /* REPLMON_HTTP_H */
