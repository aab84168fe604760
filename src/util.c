/* util.c - suggestions, hashing, files, the clock. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

int make_dirs(const char *dir, Buf *err) {
    char *p = strdup(dir);
    if (!p) abort();
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            buf_printf(err, "cannot create '%s': %s", p, strerror(errno));
            free(p);
            return -1;
        }
        if (!c) break;
        *s = c;
    }
    free(p);
    return 0;
}

int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void suggest_init(Suggest *s, const char *name) {
    s->name = name;
    s->best = NULL;
    s->dist = 1 << 30;
}

/* Optimal string alignment distance, case-insensitive; -1 when the strings
 * are too long to bother. */
static int distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return -1;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[n][m];
}

void suggest_try(Suggest *s, const char *cand) {
    if (!cand || strcmp(cand, s->name) == 0) return;
    int dist = distance(s->name, cand);
    if (dist < 0) return;
    int limit = (int)strlen(s->name) / 3;
    if (limit < 1) limit = 1;
    if (dist > limit) return;
    if (dist < s->dist) {
        s->dist = dist;
        s->best = cand;
    }
}

uint32_t hash_str(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Reads f to its end and closes it. */
static char *read_all(FILE *f, size_t *len) {
    /* a regular file's size sizes the buffer, with room to meet its end:
     * a 2 MB page read by doubling from 8 KB was copied twice over */
    size_t cap = 8192, n = 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (unsigned long long)sb.st_size < (unsigned long long)(SIZE_MAX / 2))
        cap = (size_t)sb.st_size + 4097;
    char *p = malloc(cap);
    if (!p) { fclose(f); errno = ENOMEM; return NULL; }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap *= 2;
            char *q = realloc(p, cap);
            if (!q) { free(p); fclose(f); errno = ENOMEM; return NULL; }
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(p); errno = EIO; return NULL; }
    p[n] = 0;
    if (len) *len = n;
    return p;
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    return f ? read_all(f, len) : NULL;
}

int open_regular(const char *path, size_t *size) {
    /* O_NONBLOCK only for the open: a FIFO opens at once, to be refused;
     * a regular file's reads ignore it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat sb;
    int ok = fstat(fd, &sb) == 0, e = errno;
    if (!ok || !S_ISREG(sb.st_mode)) {
        close(fd);
        errno = ok ? EINVAL : e;
        return -1;
    }
    if (size) *size = (size_t)sb.st_size;
    return fd;
}

char *read_regular(const char *path, size_t *len) {
    int fd = open_regular(path, NULL);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    return read_all(f, len);
}

const char *map_file(const char *path, size_t *len) {
    int fd = open_regular(path, len);
    if (fd < 0) return NULL;
    if (!*len) {
        close(fd);
        return "";
    }
    void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) {
        errno = e;
        return NULL;
    }
    return p;
}

void unmap_file(const char *p, size_t len) {
    if (len) munmap((void *)p, len);
}

const char *file_error(int e) { return e == EINVAL ? "not a regular file" : strerror(e); }

int str_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static char **split_lines(const char *s, int *n) {
    int cap = 16, k = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    if (!v) abort();
    for (const char *p = s; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (k == cap) {
            cap *= 2;
            char **w = realloc(v, (size_t)cap * sizeof *v);
            if (!w) abort();
            v = w;
        }
        v[k] = malloc(len + 1);
        if (!v[k]) abort();
        memcpy(v[k], p, len);
        v[k][len] = 0;
        k++;
        p += len + (e ? 1 : 0);
    }
    *n = k;
    return v;
}

void text_diff(const char *expected, const char *actual, Buf *out) {
    int n, m;
    char **a = split_lines(expected, &n), **b = split_lines(actual, &m);
    if ((long)n * m > 4000000) {
        buf_puts(out, "  (outputs too long to diff)\n");
    } else {
        int *L = calloc((size_t)(n + 1) * (size_t)(m + 1), sizeof *L);
        if (!L) abort();
#define LL(i, j) L[(size_t)(i) * (size_t)(m + 1) + (size_t)(j)]
        for (int i = n - 1; i >= 0; i--)
            for (int j = m - 1; j >= 0; j--)
                LL(i, j) = strcmp(a[i], b[j]) == 0 ? LL(i + 1, j + 1) + 1
                           : (LL(i + 1, j) > LL(i, j + 1) ? LL(i + 1, j) : LL(i, j + 1));
        int i = 0, j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && strcmp(a[i], b[j]) == 0) { buf_printf(out, "   %s\n", a[i]); i++; j++; }
            else if (j < m && (i == n || LL(i, j + 1) >= LL(i + 1, j))) { buf_printf(out, "  +%s\n", b[j]); j++; }
            else { buf_printf(out, "  -%s\n", a[i]); i++; }
        }
#undef LL
        free(L);
    }
    for (int i = 0; i < n; i++) free(a[i]);
    for (int i = 0; i < m; i++) free(b[i]);
    free(a);
    free(b);
}
