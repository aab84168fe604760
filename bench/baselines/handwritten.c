/* handwritten.c - the "ideal hand-written" baseline of issue 6 (case 3):
 * bench/leads.sync's selection and ten maps written by hand in C over
 * cJSON, what a careful programmer would write for this one job.
 *
 *   handwritten FILE...           query pages (DIR/sf/Lead/NNNNNN.json): each
 *                                 page parsed into one cJSON tree
 *   handwritten --lines FILE...   one lead a line (DIR/leads.jsonl): each
 *                                 line parsed on its own
 *
 * Prints one line per lead that would be created, in the benchmark's
 * canonical form (bench/README.md): a JSON object with sorted keys, "id"
 * plus each mapped ActiveCampaign field as tandem writes it, nulls left
 * out.  Strings are escaped as Python's json.dumps(ensure_ascii=False)
 * does, so the lines compare byte for byte with the other baselines.
 *
 * Build: cc -O2 $(pkg-config --cflags libcjson) handwritten.c -lcjson
 */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SOURCES[] = {"Web", "Partner Referral", "Purchased List", "Trade Show"};
static const char *const COUNTRIES[] = {"Germany", "France", "Italy", "Spain", "Portugal", "Austria",
                                        "Netherlands"};

/* lead field -> ActiveCampaign field, in the sorted order of the output
 * keys ("id" and "Annual Revenue" are handled apart) */
static const struct { const char *out, *in; } MAPS[] = {
    {"City", "City"},           {"Country", "Country"}, {"Industry", "Industry"},
    {"Lead Source", "LeadSource"}, {"email", "Email"},  {"firstName", "FirstName"},
};
static const struct { const char *out, *in; } MAPS2[] = {
    {"lastName", "LastName"}, {"orgname", "Company"}, {"phone", "Phone"},
};

/* the text of a string member, or NULL for null, missing or not text */
static const char *str(const cJSON *rec, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int in_list(const char *s, const char *const *list, size_t n) {
    if (!s) return 0; /* a blank is in no list */
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* a JSON string as json.dumps(ensure_ascii=False) writes it */
static void put_string(const char *s, FILE *out) {
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        default:
            if (*p < 0x20) fprintf(out, "\\u%04x", *p);
            else putc(*p, out);
        }
    }
    putc('"', out);
}

static void put_field(const char *name, const char *value, int *first, FILE *out) {
    if (!value) return; /* null fields are left out, as in tandem's plan */
    if (!*first) putc(',', out);
    *first = 0;
    put_string(name, out);
    putc(':', out);
    put_string(value, out);
}

/* one lead: the skip rule, the four criteria, then the create's line */
static void lead(const cJSON *rec, FILE *out) {
    const char *email = str(rec, "Email");
    const char *status = str(rec, "Status");
    if (!email || !*email) return; /* skip unless Email is not blank */
    if (status && strcmp(status, "Closed - Not Converted") == 0) return;
    if (!in_list(str(rec, "LeadSource"), SOURCES, sizeof SOURCES / sizeof *SOURCES)) return;
    if (!in_list(str(rec, "Country"), COUNTRIES, sizeof COUNTRIES / sizeof *COUNTRIES)) return;
    if (ends_with(email, "@example.invalid")) return;

    int first = 1;
    char revenue[64];
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(rec, "AnnualRevenue");
    putc('{', out);
    if (cJSON_IsNumber(rv)) { /* as text(decimals = 2) */
        snprintf(revenue, sizeof revenue, "%.2f", rv->valuedouble);
        put_field("Annual Revenue", revenue, &first, out);
    }
    for (size_t i = 0; i < sizeof MAPS / sizeof *MAPS; i++) put_field(MAPS[i].out, str(rec, MAPS[i].in), &first, out);
    put_field("id", str(rec, "Id"), &first, out);
    for (size_t i = 0; i < sizeof MAPS2 / sizeof *MAPS2; i++)
        put_field(MAPS2[i].out, str(rec, MAPS2[i].in), &first, out);
    fputs("}\n", out);
}

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
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
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
                lead(rec, stdout);
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
            const cJSON *rec;
            cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(page, "records")) lead(rec, stdout);
            cJSON_Delete(page);
            free(buf);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
