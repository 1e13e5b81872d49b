/* SPDX-License-Identifier: MIT */
/*
 * http.c - libmicrohttpd glue: resolve and bind the listening address,
 * refuse methods other than GET and HEAD, call the handler once per
 * request and queue its response (no caching: every answer is current).
 */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"

#define HTTP_THREADS   2
#define HTTP_MAX_CONNS 64
#define HTTP_IDLE_SECS 30

struct rm_http {
    struct MHD_Daemon *daemon;
    rm_http_handler handler;
    void *user;
    int port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    rm_log(PGCM_LOG_WARN, "http_error", NULL, 0, NULL, "libmicrohttpd: %s",
           msg);
}

const char *rm_http_query(const rm_http_request_t *req, const char *key)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)req->conn,
                                       MHD_GET_ARGUMENT_KIND, key);
}

int rm_http_set_text(rm_http_response_t *resp, int status, const char *text)
{
    size_t len = strlen(text);

    free(resp->body);
    resp->content_type = "text/plain; charset=utf-8";
    resp->body = malloc(len + 1);
    if (resp->body == NULL) {
        resp->status = 500;
        resp->len = 0;
        return -1;
    }
    memcpy(resp->body, text, len + 1);
    resp->len = len;
    resp->status = status;
    return 0;
}

static enum MHD_Result queue(struct MHD_Connection *conn, int status,
                             const char *content_type, char *body, size_t len,
                             int head)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(len, body != NULL ? body : (char *)"",
                                        body != NULL ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    (void)head; /* libmicrohttpd leaves the body out of a HEAD answer */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, (unsigned int)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    static int first_call_marker;
    rm_http_t *h = cls;
    rm_http_request_t req;
    rm_http_response_t resp;
    int head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        /* Headers are in; the answer comes on the next call. */
        *con_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* a body on a GET is ignored */
        return MHD_YES;
    }
    if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
        static const char msg[] = "only GET and HEAD are served here\n";
        char *body = strdup(msg);

        return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                     "text/plain; charset=utf-8", body,
                     body != NULL ? strlen(body) : 0, head);
    }
    memset(&resp, 0, sizeof(resp));
    resp.status = 500;
    resp.content_type = "text/plain; charset=utf-8";
    req.method = method;
    req.path = url;
    req.conn = conn;
    h->handler(&req, &resp, h->user);
    return queue(conn, resp.status, resp.content_type, resp.body, resp.len,
                 head);
}

int rm_http_start(const char *host, int port, rm_http_handler handler,
                  void *user, rm_http_t **out, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char service[16];
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    rm_http_t *h;
    int rc;

    *out = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen,
                 "cannot listen on %s:%d: the address does not resolve (%s)",
                 host, port, gai_strerror(rc));
        if (res != NULL)
            freeaddrinfo(res);
        return -1;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        freeaddrinfo(res);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->handler = handler;
    h->user = user;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
        res->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)HTTP_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_SECS,
        MHD_OPTION_END);
    freeaddrinfo(res);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port,
                 errno != 0 ? strerror(errno) : "libmicrohttpd refused");
        free(h);
        return -1;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL && info->port != 0 ? info->port : port;
    *out = h;
    return 0;
}

int rm_http_port(const rm_http_t *h)
{
    return h->port;
}

void rm_http_stop(rm_http_t *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
