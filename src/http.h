/* http.h - the HTTP client every live connector sends through (libcurl).
 *
 * One Http per connector: it keeps the connection alive, spaces requests
 * to the API's rate (ActiveCampaign: 5 a second), honours Retry-After on
 * 429 and 503, and retries timeouts and 5xx answers with capped
 * exponential backoff and jitter.  TLS is always verified; plain http is
 * accepted only for a loopback host (the test emulator).  Proxies come
 * from the usual environment variables, as libcurl reads them.
 *
 * Nothing here prints: what happened is in the response, the error
 * buffer and the counters.  Request bodies and headers never reach an
 * error message, since they may carry credentials.
 */
#ifndef TD_HTTP_H
#define TD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct HttpOptions {
    long timeout_ms;       /* whole request; default 60 s */
    long connect_ms;       /* default 10 s */
    int max_retries;       /* default 5 */
    long backoff_ms;       /* first retry wait; doubles, capped at backoff_max_ms; default 500 */
    long backoff_max_ms;   /* default 30 s */
    long min_interval_ms;  /* at least this long between requests (rate); default 0 */
    long max_wait_ms;      /* the longest Retry-After honoured; longer gives up; default 120 s */
} HttpOptions;

typedef struct HttpStats {
    int64_t requests, retries, waited_ms;
} HttpStats;

typedef struct HttpResponse {
    long status;           /* 0 when no answer came */
    Buf body;
    Buf headers;           /* "name: value\n" lines, names lower-cased */
} HttpResponse;

typedef struct Http Http;

Http *http_new(const HttpOptions *o);
void http_free(Http *h);
const HttpStats *http_stats(const Http *h);

void http_response_init(HttpResponse *r);
void http_response_free(HttpResponse *r);
/* A header of the answer (name lower-case), or NULL. */
const char *http_header(const HttpResponse *r, const char *name, Buf *scratch);

/* A write that must not be sent twice (a create): after a timeout or a
 * 5xx it may have been done, so it is retried only when the API surely
 * did not take it (429, 503, no connection). */
#define HTTP_ONCE 1

/* Sends a request; headers is a NULL-terminated list of "Name: value".
 * Retries what is worth retrying; returns 0 with the last answer (any
 * status), -1 with err when no answer could be had (unreachable, TLS,
 * timeouts after the retries, a Retry-After too long).  `what` names the
 * request in messages ("GET /contacts"): never a credential. */
int http_send(Http *h, const char *method, const char *url, const char *const *headers, const char *body, int flags,
              const char *what, HttpResponse *out, Buf *err);

/* URL-encodes s (RFC 3986 unreserved kept) onto out. */
void http_escape(Buf *out, const char *s);

#endif
