/* http.c - libcurl behind http.h: retries, rate spacing, Retry-After. */
#include "http.h"
#include "util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct Http {
    CURL *curl;
    HttpOptions o;
    HttpStats stats;
    int64_t last_ms;       /* when the last request started */
    uint64_t rng;          /* jitter */
};

static void sleep_ms(int64_t ms) {
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int curl_ready;

Http *http_new(const HttpOptions *o) {
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return NULL;
        curl_ready = 1;
    }
    Http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    if (o) h->o = *o;
    if (!h->o.timeout_ms) h->o.timeout_ms = 60000;
    if (!h->o.connect_ms) h->o.connect_ms = 10000;
    if (!h->o.max_retries) h->o.max_retries = 5;
    if (!h->o.backoff_ms) h->o.backoff_ms = 500;
    if (!h->o.backoff_max_ms) h->o.backoff_max_ms = 30000;
    if (!h->o.max_wait_ms) h->o.max_wait_ms = 120000;
    h->rng = (uint64_t)mono_ms() * 6364136223846793005ULL + 1442695040888963407ULL;
    return h;
}

void http_free(Http *h) {
    if (!h) return;
    curl_easy_cleanup(h->curl);
    free(h);
}

const HttpStats *http_stats(const Http *h) { return &h->stats; }

void http_response_init(HttpResponse *r) {
    r->status = 0;
    buf_init(&r->body);
    buf_init(&r->headers);
}

void http_response_free(HttpResponse *r) {
    buf_free(&r->body);
    buf_free(&r->headers);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    buf_putn(ctx, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
    Buf *b = ctx;
    size_t len = size * n;
    /* a new status line starts a new set (redirects, 100-continue) */
    if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
        buf_reset(b);
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon) return len;
    for (const char *c = p; c < colon; c++) buf_putc(b, (char)tolower((unsigned char)*c));
    buf_puts(b, ":");
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    buf_putn(b, v, (size_t)(end - v));
    buf_putc(b, '\n');
    return len;
}

const char *http_header(const HttpResponse *r, const char *name, Buf *scratch) {
    size_t n = strlen(name);
    for (const char *s = buf_str(&r->headers); *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > n && s[n] == ':' && !strncmp(s, name, n)) {
            buf_reset(scratch);
            buf_putn(scratch, s + n + 1, len - n - 1);
            return buf_str(scratch);
        }
        s += len + (e ? 1 : 0);
    }
    return NULL;
}

/* Retry-After: seconds, or an HTTP date; -1 when absent or unreadable. */
static long retry_after_ms(const HttpResponse *r) {
    Buf b;
    buf_init(&b);
    const char *v = http_header(r, "retry-after", &b);
    long ms = -1;
    if (v) {
        char *end;
        double s = strtod(v, &end);
        if (end != v && s >= 0) ms = (long)(s * 1000);
        else {
            time_t t = curl_getdate(v, NULL);
            if (t > 0) {
                long d = (long)(t - time(NULL));
                ms = d > 0 ? d * 1000 : 0;
            }
        }
    }
    buf_free(&b);
    return ms;
}

static long jitter(Http *h, long ms) {
    h->rng = h->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    long j = ms / 2 ? (long)((h->rng >> 33) % (uint64_t)(ms / 2 + 1)) : 0;
    return ms / 2 + j;   /* between half and the whole */
}

/* Plain http only to this machine: the emulator the tests run. */
static int allowed_url(const char *url) {
    if (!strncmp(url, "https://", 8)) return 1;
    if (strncmp(url, "http://", 7) != 0) return 0;
    const char *host = url + 7;
    return !strncmp(host, "127.0.0.1", 9) || !strncmp(host, "localhost", 9) || !strncmp(host, "[::1]", 5);
}

/* Test hook (tests/live/soak.py): TANDEM_TEST_KILL_AFTER_WRITE=N kills
 * the process with SIGKILL, as kill -9 would, the moment the answer to
 * its Nth request other than a read arrives: that write is made, nothing
 * after it is, not even tandem's record of it. */
static void kill_point(const char *method) {
    static long at = -1, seen;
    if (at < 0) {
        const char *e = getenv("TANDEM_TEST_KILL_AFTER_WRITE");
        at = e ? strtol(e, NULL, 10) : 0;
        if (at < 0) at = 0;
    }
    if (at && strcmp(method, "GET") && strcmp(method, "HEAD") && ++seen == at) raise(SIGKILL);
}

int http_send(Http *h, const char *method, const char *url, const char *const *headers, const char *body, int flags,
              const char *what, HttpResponse *out, Buf *err) {
    if (!allowed_url(url)) {
        buf_printf(err, "%s: only https URLs are used (plain http only to this machine)", what);
        return -1;
    }
    struct curl_slist *hl = NULL;
    for (const char *const *hp = headers; hp && *hp; hp++) hl = curl_slist_append(hl, *hp);
    hl = curl_slist_append(hl, "Expect:");
    long wait = h->o.backoff_ms;
    int rc = -1;
    for (int attempt = 0;; attempt++) {
        /* space requests to the API's rate */
        int64_t now = mono_ms();
        if (h->o.min_interval_ms && h->last_ms && now - h->last_ms < h->o.min_interval_ms) {
            int64_t d = h->o.min_interval_ms - (now - h->last_ms);
            sleep_ms(d);
            h->stats.waited_ms += d;
        }
        h->last_ms = mono_ms();
        buf_reset(&out->body);
        buf_reset(&out->headers);
        out->status = 0;
        CURL *c = h->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_ms);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_USERAGENT, "tandem/" TD_VERSION);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        if (body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        }
        h->stats.requests++;
        CURLcode cc = curl_easy_perform(c);
        int retry = 0;
        long after = -1;
        if (cc == CURLE_OK) {
            kill_point(method);
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
            if (out->status == 429 || out->status == 503) {
                retry = 1;
                after = retry_after_ms(out);
            } else if (out->status >= 500) {
                retry = !(flags & HTTP_ONCE);
            } else {
                rc = 0;
                break;
            }
        } else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
            retry = 1;
        } else if (cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
                   cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE) {
            retry = !(flags & HTTP_ONCE);
        } else {
            buf_printf(err, "%s: %s", what, curl_easy_strerror(cc));
            break;
        }
        if (!retry || attempt >= h->o.max_retries) {
            if (cc != CURLE_OK) buf_printf(err, "%s: %s (after %d tries)", what, curl_easy_strerror(cc), attempt + 1);
            else {
                rc = 0; /* the caller reads the final 5xx or 429 */
            }
            break;
        }
        long ms = after >= 0 ? after : jitter(h, wait);
        if (ms > h->o.max_wait_ms) {
            buf_printf(err, "%s: the API asks to wait %ld s, longer than tandem waits", what, ms / 1000);
            break;
        }
        sleep_ms(ms);
        h->stats.waited_ms += ms;
        h->stats.retries++;
        if (after < 0) wait = wait * 2 > h->o.backoff_max_ms ? h->o.backoff_max_ms : wait * 2;
    }
    curl_slist_free_all(hl);
    return rc;
}

void http_escape(Buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') buf_putc(out, (char)*p);
        else {
            buf_putc(out, '%');
            buf_putc(out, hex[*p >> 4]);
            buf_putc(out, hex[*p & 15]);
        }
    }
}
