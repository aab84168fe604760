/* diag.c - collecting and rendering diagnostics (GCC-style text, JSON). */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void diags_init(Diags *d, Arena *a) {
    memset(d, 0, sizeof *d);
    d->arena = a;
}

void diags_fini(Diags *d) {
    for (int i = 0; i < d->nfiles; i++) free(d->files[i]->lines);
    free(d->files);
    d->files = NULL;
    d->nfiles = d->capfiles = 0;
}

int diags_add_file(Diags *d, const char *path, const char *text, size_t len) {
    if (d->nfiles == d->capfiles) {
        int cap = d->capfiles ? d->capfiles * 2 : 8;
        SrcFile **f = realloc(d->files, (size_t)cap * sizeof *f);
        if (!f) { fputs("tandem: out of memory\n", stderr); abort(); }
        d->files = f;
        d->capfiles = cap;
    }
    SrcFile *f = arena_alloc(d->arena, sizeof *f);
    f->path = arena_strdup(d->arena, path);
    f->text = arena_strndup(d->arena, text, len);
    f->len = (uint32_t)len;
    d->files[d->nfiles] = f;
    return d->nfiles++;
}

SrcFile *diags_file(Diags *d, int file) {
    return (file >= 0 && file < d->nfiles) ? d->files[file] : NULL;
}

static Diag *add(Diags *d, DiagLevel level, Loc loc, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *msg = arena_alloc(d->arena, (size_t)(n < 0 ? 0 : n) + 1);
    if (n > 0) vsnprintf(msg, (size_t)n + 1, fmt, ap);
    Diag *g = arena_alloc(d->arena, sizeof *g);
    g->level = level;
    g->loc = loc;
    g->msg = msg;
    g->seq = d->seq++;
    if (level == DIAG_NOTE) {
        if (!d->last) { g->level = DIAG_NOTE; } else {
            Diag **p = &d->last->notes;
            while (*p) p = &(*p)->next;
            *p = g;
            return g;
        }
    }
    if (d->tail) d->tail->next = g; else d->head = g;
    d->tail = g;
    d->last = g;
    if (level == DIAG_ERROR) d->errors++;
    else if (level == DIAG_WARNING) d->warnings++;
    return g;
}

Diag *diag_error(Diags *d, Loc loc, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    Diag *g = add(d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    return g;
}

Diag *diag_warning(Diags *d, Loc loc, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    Diag *g = add(d, DIAG_WARNING, loc, fmt, ap);
    va_end(ap);
    return g;
}

Diag *diag_note(Diags *d, Loc loc, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    Diag *g = add(d, DIAG_NOTE, loc, fmt, ap);
    va_end(ap);
    return g;
}

static void build_lines(SrcFile *f) {
    uint32_t n = 1;
    for (uint32_t i = 0; i < f->len; i++) if (f->text[i] == '\n') n++;
    f->lines = malloc((size_t)n * sizeof *f->lines);
    if (!f->lines) { fputs("tandem: out of memory\n", stderr); abort(); }
    f->lines[0] = 0;
    uint32_t k = 1;
    for (uint32_t i = 0; i < f->len; i++) if (f->text[i] == '\n') f->lines[k++] = i + 1;
    f->nlines = n;
}

/* Characters, not bytes: a column counts UTF-8 code points. */
static int count_chars(const char *s, uint32_t n) {
    int c = 0;
    for (uint32_t i = 0; i < n; i++) if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

void src_linecol(SrcFile *f, uint32_t off, int *line, int *col) {
    if (!f->lines) build_lines(f);
    if (off > f->len) off = f->len;
    uint32_t lo = 0, hi = f->nlines;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (f->lines[mid] <= off) lo = mid; else hi = mid;
    }
    *line = (int)lo + 1;
    *col = count_chars(f->text + f->lines[lo], off - f->lines[lo]) + 1;
}

static int cmp_diag(const void *a, const void *b) {
    const Diag *x = *(Diag *const *)a, *y = *(Diag *const *)b;
    if (x->loc.file != y->loc.file) return x->loc.file < y->loc.file ? -1 : 1;
    if (x->loc.off != y->loc.off) return x->loc.off < y->loc.off ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void diags_sort(Diags *d) {
    int n = 0;
    for (Diag *g = d->head; g; g = g->next) n++;
    if (n < 2) return;
    Diag **v = malloc((size_t)n * sizeof *v);
    if (!v) return;
    int i = 0;
    for (Diag *g = d->head; g; g = g->next) v[i++] = g;
    qsort(v, (size_t)n, sizeof *v, cmp_diag);
    for (i = 0; i < n - 1; i++) v[i]->next = v[i + 1];
    v[n - 1]->next = NULL;
    d->head = v[0];
    d->tail = v[n - 1];
    free(v);
}

static const char *level_name[] = {"error", "warning", "note"};
static const char *level_color[] = {"\033[1;31m", "\033[1;35m", "\033[1;36m"};

static void render_one(Diags *d, const Diag *g, Buf *out, int flags) {
    int color = flags & RENDER_COLOR;
    SrcFile *f = diags_file(d, g->loc.file);
    int line = 0, col = 0;
    if (color) buf_puts(out, "\033[1m");
    if (f) {
        src_linecol(f, g->loc.off, &line, &col);
        buf_printf(out, "%s:%d:%d: ", f->path, line, col);
    } else {
        buf_puts(out, "tandem: ");
    }
    if (color) buf_printf(out, "%s%s:\033[0m ", level_color[g->level], level_name[g->level]);
    else buf_printf(out, "%s: ", level_name[g->level]);
    /* A message quotes the user's text; control characters would break the
     * one-line form or reach the terminal, so they are shown escaped. */
    for (const unsigned char *m = (const unsigned char *)g->msg; *m; m++) {
        if (*m == '\n') buf_puts(out, "\\n");
        else if (*m == '\t') buf_puts(out, "\\t");
        else if (*m < 0x20 || *m == 0x7f) buf_printf(out, "\\x%02x", *m);
        else buf_putc(out, (char)*m);
    }
    buf_putc(out, '\n');
    if (!f || (flags & RENDER_NO_SOURCE)) return;

    /* The source line, tabs shown as one space so the caret lines up. */
    uint32_t ls = f->lines[line - 1];
    uint32_t le = ls;
    while (le < f->len && f->text[le] != '\n' && f->text[le] != '\r') le++;
    buf_printf(out, "%5d | ", line);
    for (uint32_t i = ls; i < le; i++) {
        unsigned char c = (unsigned char)f->text[i];
        buf_putc(out, c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char)c);
    }
    buf_putc(out, '\n');
    buf_puts(out, "      | ");
    buf_indent(out, col - 1);
    uint32_t end = g->loc.off + g->loc.len;
    if (end > le) end = le;
    int width = end > g->loc.off ? count_chars(f->text + g->loc.off, end - g->loc.off) : 1;
    if (color) buf_puts(out, "\033[1;32m");
    buf_putc(out, '^');
    for (int i = 1; i < width; i++) buf_putc(out, '~');
    if (color) buf_puts(out, "\033[0m");
    buf_putc(out, '\n');
}

void diags_render(Diags *d, Buf *out, int flags) {
    diags_sort(d);
    for (Diag *g = d->head; g; g = g->next) {
        render_one(d, g, out, flags);
        for (Diag *n = g->notes; n; n = n->next) render_one(d, n, out, flags);
    }
}

static void json_one(Diags *d, const Diag *g, Buf *out) {
    SrcFile *f = diags_file(d, g->loc.file);
    buf_puts(out, "{\"severity\":");
    buf_json_str(out, level_name[g->level], strlen(level_name[g->level]));
    if (f) {
        int line, col, eline, ecol;
        src_linecol(f, g->loc.off, &line, &col);
        src_linecol(f, g->loc.off + g->loc.len, &eline, &ecol);
        buf_puts(out, ",\"file\":");
        buf_json_str(out, f->path, strlen(f->path));
        buf_printf(out, ",\"line\":%d,\"column\":%d,\"end_line\":%d,\"end_column\":%d",
                   line, col, eline, ecol);
    }
    buf_puts(out, ",\"message\":");
    buf_json_str(out, g->msg, strlen(g->msg));
    if (g->level != DIAG_NOTE) {
        buf_puts(out, ",\"notes\":[");
        for (Diag *n = g->notes; n; n = n->next) {
            json_one(d, n, out);
            if (n->next) buf_putc(out, ',');
        }
        buf_putc(out, ']');
    }
    buf_putc(out, '}');
}

void diags_render_json(Diags *d, Buf *out) {
    diags_sort(d);
    buf_putc(out, '[');
    for (Diag *g = d->head; g; g = g->next) {
        json_one(d, g, out);
        if (g->next) buf_putc(out, ',');
    }
    buf_putc(out, ']');
}
