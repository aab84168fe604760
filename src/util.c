/* util.c - suggestions, hashing, file reading. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 8192, n = 0;
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

int str_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}
