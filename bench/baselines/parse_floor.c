/* parse_floor.c - the cJSON parse floor of issue 6 (case 3): read the leads,
 * parse them with cJSON, free the trees, nothing else.  No program that
 * builds cJSON trees of these records can be faster; the benchmark reports
 * every case as a ratio to this floor.
 *
 *   parse_floor FILE...           query pages (DIR/sf/Lead/NNNNNN.json): each
 *                                 page parsed into one tree ("page mode",
 *                                 the files tandem reads: the floor the
 *                                 ratios use)
 *   parse_floor --lines FILE...   one lead a line (DIR/leads.jsonl): each
 *                                 line parsed on its own ("line mode")
 *
 * Also takes ActiveCampaign contact pages (their "contacts"), for the floor
 * of the two-sided cases.  Prints "records N" (the records it parsed) so
 * the driver can check it read them all.
 *
 * Build: cc -O2 $(pkg-config --cflags libcjson) parse_floor.c -lcjson
 */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = 0; *len = (size_t)n; }
    return buf;
}

int main(int argc, char **argv) {
    int lines = argc > 1 && strcmp(argv[1], "--lines") == 0;
    long records = 0;
    for (int a = 1 + lines; a < argc; a++) {
        if (lines) {
            FILE *f = fopen(argv[a], "rb");
            if (!f) { perror(argv[a]); return 1; }
            char *ln = NULL;
            size_t cap = 0;
            ssize_t n;
            while ((n = getline(&ln, &cap, f)) > 0) {
                cJSON *rec = cJSON_ParseWithLength(ln, (size_t)n);
                if (!rec) { fprintf(stderr, "%s: bad JSON line\n", argv[a]); return 1; }
                records++;
                cJSON_Delete(rec);
            }
            free(ln);
            fclose(f);
        } else {
            size_t n;
            char *buf = slurp(argv[a], &n);
            if (!buf) { perror(argv[a]); return 1; }
            cJSON *page = cJSON_ParseWithLength(buf, n);
            if (!page) { fprintf(stderr, "%s: bad JSON\n", argv[a]); return 1; }
            /* Salesforce pages hold "records", ActiveCampaign pages
             * "contacts" (the two-sided cases parse both) */
            const cJSON *recs = cJSON_GetObjectItemCaseSensitive(page, "records");
            if (!recs) recs = cJSON_GetObjectItemCaseSensitive(page, "contacts");
            records += cJSON_GetArraySize(recs);
            cJSON_Delete(page);
            free(buf);
        }
    }
    printf("records %ld\n", records);
    return 0;
}
