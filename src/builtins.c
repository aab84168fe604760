/* builtins.c - the builtin tables, expanded from src/builtins.def. */
#include "builtins.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const Builtin builtins[FN__COUNT] = {
#define FN(id, name, mn, mx, args, ret, syn) {name, mn, mx, args, ret, syn},
#include "builtins.def"
#undef FN
};

const Conversion conversions[CV__COUNT] = {
#define CV(id, name, from, to, rev, syn) {name, from, to, rev, syn},
#include "builtins.def"
#undef CV
};

int builtin_lookup(const char *name) {
    for (int i = 0; i < FN__COUNT; i++)
        if (strcmp(builtins[i].name, name) == 0) return i;
    return -1;
}

int conversion_lookup(const char *name) {
    for (int i = 0; i < CV__COUNT; i++)
        if (strcmp(conversions[i].name, name) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------ run time */

/* UTF-8 decoding that never fails: a bad byte stands for itself. */
static uint32_t utf8_next(const unsigned char *p, size_t n, size_t *len) {
    unsigned c = p[0];
    int k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if ((size_t)k > n) k = 1;
    uint32_t v = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
    for (int i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) { *len = 1; return c; }
        v = v << 6 | (p[i] & 0x3F);
    }
    *len = (size_t)k;
    return v;
}

static size_t utf8_put(char *o, uint32_t c) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Case mapping for Latin (with Latin-1 and Extended-A), Greek and Cyrillic:
 * the scripts of the names these systems hold; other letters stay. */
static uint32_t to_lower(uint32_t c) {
    if (c < 0x80) return (uint32_t)tolower((int)c);
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) return 'i';
        if (c == 0x178) return 0xFF;
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static uint32_t to_upper(uint32_t c) {
    if (c < 0x80) return (uint32_t)toupper((int)c);
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F || c == 0x130) return c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) return c - 32;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

static Value map_case(Value v, Scratch *s, uint32_t (*f)(uint32_t)) {
    if (v.t != VT_STR) return v;
    char *o = scratch_alloc(s, (size_t)v.len * 2 + 1);
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)v.u.s;
    for (size_t i = 0; i < v.len;) {
        size_t len;
        uint32_t c = utf8_next(p + i, v.len - i, &len);
        if (len == 1 && c >= 0x80) o[k++] = (char)c; /* a stray byte stays */
        else k += utf8_put(o + k, f(c));
        i += len;
    }
    o[k] = 0;
    return v_str(o, k);
}

Value text_lower(Value v, Scratch *s) { return map_case(v, s, to_lower); }
Value text_upper(Value v, Scratch *s) { return map_case(v, s, to_upper); }

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

Value text_trim(Value v) {
    if (v.t != VT_STR) return v;
    const char *p = v.u.s;
    size_t n = v.len;
    while (n && is_space((unsigned char)*p)) { p++; n--; }
    while (n && is_space((unsigned char)p[n - 1])) n--;
    return v_str(p, n);
}

Value text_key(Value v, Scratch *s) {
    if (v.t != VT_STR) return v;
    return text_lower(text_trim(v), s);
}

Value value_as_text(Value v, Scratch *s) {
    if (v.t == VT_STR || v.t == VT_NULL || v.t == VT_NONE) return v;
    Buf b;
    buf_init(&b);
    value_format(v, &b);
    Value r = scratch_str(s, buf_str(&b), b.n);
    buf_free(&b);
    return r;
}

/* Characters (code points) of text, and the byte offset of character i. */
static size_t nchars(Value v) {
    size_t c = 0;
    for (uint32_t i = 0; i < v.len; i++) if (((unsigned char)v.u.s[i] & 0xC0) != 0x80) c++;
    return c;
}

static size_t char_offset(Value v, size_t i) {
    size_t c = 0;
    for (uint32_t k = 0; k < v.len; k++) {
        if (((unsigned char)v.u.s[k] & 0xC0) != 0x80) {
            if (c == i) return k;
            c++;
        }
    }
    return v.len;
}

static int whole(Value v, long *out) {
    if (v.t != VT_NUM || v.u.n != floor(v.u.n) || fabs(v.u.n) > 1e9) return 0;
    *out = (long)v.u.n;
    return 1;
}

static Value join_values(const Value *args, int n, Value sep, Scratch *s) {
    size_t total = 0;
    Value *t = (Value *)scratch_alloc(s, sizeof(Value) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        t[i] = value_as_text(args[i], s);
        total += t[i].t == VT_STR ? t[i].len + sep.len : 0;
    }
    char *o = scratch_alloc(s, total + 1);
    size_t k = 0;
    int first = 1;
    for (int i = 0; i < n; i++) {
        if (value_blank(t[i])) continue; /* concat: blank is empty; join: skipped */
        if (!first && sep.len) { memcpy(o + k, sep.u.s, sep.len); k += sep.len; }
        memcpy(o + k, t[i].u.s, t[i].len);
        k += t[i].len;
        first = 0;
    }
    o[k] = 0;
    return k ? v_str(o, k) : v_null();
}

/* The last blank-separated word of a full name, and what comes before it. */
static void split_name(Value v, Value *first, Value *last) {
    Value t = text_trim(v);
    *first = v_null();
    *last = v_null();
    if (value_blank(t)) return;
    size_t i = t.len;
    while (i > 0 && !is_space((unsigned char)t.u.s[i - 1])) i--;
    *last = v_str(t.u.s + i, t.len - i);
    if (i > 0) {
        Value f = text_trim(v_str(t.u.s, i));
        if (!value_blank(f)) *first = f;
    }
}

int builtin_call(int id, const Value *a, int n, Value *out, Scratch *s, const char **err) {
    *out = v_null();
    switch (id) {
    case FN_LOWER: *out = text_lower(a[0], s); return 0;
    case FN_UPPER: *out = text_upper(a[0], s); return 0;
    case FN_TRIM: *out = text_trim(a[0]); return 0;
    case FN_CONCAT: *out = join_values(a, n, v_str("", 0), s); return 0;
    case FN_JOIN: *out = join_values(a + 1, n - 1, value_as_text(a[0], s), s); return 0;
    case FN_REPLACE: {
        if (value_blank(a[0])) return 0;
        Value t = value_as_text(a[0], s), f = value_as_text(a[1], s), r = value_as_text(a[2], s);
        if (value_blank(f)) { *out = t; return 0; }
        size_t rl = r.t == VT_STR ? r.len : 0, cnt = 0;
        for (size_t i = 0; i + f.len <= t.len;) {
            if (memcmp(t.u.s + i, f.u.s, f.len) == 0) { cnt++; i += f.len; } else i++;
        }
        char *o = scratch_alloc(s, t.len + cnt * rl + 1);
        size_t k = 0;
        for (size_t i = 0; i < t.len;) {
            if (i + f.len <= t.len && memcmp(t.u.s + i, f.u.s, f.len) == 0) {
                if (rl) memcpy(o + k, r.u.s, rl);
                k += rl;
                i += f.len;
            } else {
                o[k++] = t.u.s[i++];
            }
        }
        o[k] = 0;
        *out = v_str(o, k);
        return 0;
    }
    case FN_LEFT: case FN_RIGHT: {
        long k;
        if (value_blank(a[0]) || value_blank(a[1])) return 0;
        if (!whole(a[1], &k) || k < 0) { *err = "the count must be a whole number, 0 or more"; return -1; }
        Value t = value_as_text(a[0], s);
        size_t c = nchars(t);
        if ((size_t)k >= c) { *out = t; return 0; }
        if (id == FN_LEFT) *out = v_str(t.u.s, char_offset(t, (size_t)k));
        else { size_t off = char_offset(t, c - (size_t)k); *out = v_str(t.u.s + off, t.len - off); }
        return 0;
    }
    case FN_SUBSTR: {
        long st, len = -1;
        if (value_blank(a[0]) || value_blank(a[1])) return 0;
        if (!whole(a[1], &st) || st < 1) { *err = "the start must be a whole number from 1"; return -1; }
        if (n > 2 && !value_blank(a[2]) && (!whole(a[2], &len) || len < 0)) { *err = "the length must be a whole number, 0 or more"; return -1; }
        Value t = value_as_text(a[0], s);
        size_t c = nchars(t);
        if ((size_t)(st - 1) >= c) return 0;
        size_t from = char_offset(t, (size_t)st - 1);
        size_t to = len < 0 || (size_t)(st - 1 + len) >= c ? t.len : char_offset(t, (size_t)(st - 1 + len));
        *out = v_str(t.u.s + from, to - from);
        return 0;
    }
    case FN_SPLIT: {
        long k;
        if (value_blank(a[0]) || value_blank(a[2])) return 0;
        if (!whole(a[2], &k) || k < 1) { *err = "the part number must be a whole number from 1"; return -1; }
        Value t = value_as_text(a[0], s), sep = value_as_text(a[1], s);
        if (value_blank(sep)) { if (k == 1) *out = t; return 0; }
        size_t start = 0;
        long part = 1;
        for (size_t i = 0; i + sep.len <= t.len;) {
            if (memcmp(t.u.s + i, sep.u.s, sep.len) == 0) {
                if (part == k) { *out = v_str(t.u.s + start, i - start); return 0; }
                part++;
                i += sep.len;
                start = i;
            } else {
                i++;
            }
        }
        if (part == k) *out = v_str(t.u.s + start, t.len - start);
        if (out->t == VT_STR && out->len == 0) *out = v_null();
        return 0;
    }
    case FN_FIRST_NAME: case FN_LAST_NAME: {
        Value f, l;
        split_name(value_as_text(a[0], s), &f, &l);
        *out = id == FN_FIRST_NAME ? f : l;
        return 0;
    }
    case FN_DIGITS: {
        if (value_blank(a[0])) return 0;
        Value t = value_as_text(a[0], s);
        char *o = scratch_alloc(s, t.len + 1);
        size_t k = 0;
        int seen = 0;
        for (uint32_t i = 0; i < t.len; i++) {
            char c = t.u.s[i];
            if (c >= '0' && c <= '9') { o[k++] = c; seen = 1; }
            else if (c == '+' && !seen && k == 0) o[k++] = c;
        }
        o[k] = 0;
        *out = k ? v_str(o, k) : v_null();
        return 0;
    }
    case FN_LENGTH:
        *out = v_num(value_blank(a[0]) ? 0 : (double)nchars(value_as_text(a[0], s)));
        return 0;
    case FN_COALESCE:
        for (int i = 0; i < n; i++) if (!value_blank(a[i])) { *out = a[i]; return 0; }
        return 0;
    case FN_IF:
        *out = (a[0].t == VT_BOOL && a[0].u.b) ? a[1] : a[2];
        return 0;
    case FN_ROUND: {
        if (value_blank(a[0])) return 0;
        long d = 0;
        if (n > 1 && !value_blank(a[1]) && (!whole(a[1], &d) || d < -12 || d > 12)) {
            *err = "round() takes -12 to 12 digits";
            return -1;
        }
        double f = pow(10, (double)d);
        *out = v_num(round(a[0].u.n * f) / f);
        return 0;
    }
    case FN_ABS:
        if (!value_blank(a[0])) *out = v_num(fabs(a[0].u.n));
        return 0;
    case FN_DATE_OF:
        if (a[0].t == VT_DATE) *out = a[0];
        else if (a[0].t == VT_DATETIME) {
            int64_t ms = a[0].u.i;
            *out = v_int(VT_DATE, ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL));
        }
        return 0;
    default:
        *err = "this function needs the run's context";
        return -1;
    }
}

/* ----------------------------------------------------------- conversions */

/* Writes |n| with the grouping and decimal marks asked for. */
static Value number_text(double n, const ConvParams *c, Scratch *s) {
    char digits[64];
    int dec = c->decimals;
    if (dec >= 0 && fabs(n) * pow(10, dec) < 9e15) {
        double scaled = round(fabs(n) * pow(10, dec));
        snprintf(digits, sizeof digits, "%.0f", scaled);
        /* put the decimal point back: digits holds int part and dec digits */
        size_t len = strlen(digits);
        char tmp[80];
        if ((int)len <= dec) {
            memset(tmp, '0', (size_t)dec - len + 1);
            memcpy(tmp + dec - len + 1, digits, len + 1);
            strcpy(digits, tmp);
            len = strlen(digits);
        }
        if (dec > 0) {
            memmove(digits + len - dec + 1, digits + len - dec, (size_t)dec + 1);
            digits[len - dec] = '.';
        }
    } else if (dec >= 0) {
        snprintf(digits, sizeof digits, "%.*f", dec > 12 ? 12 : dec, fabs(n));
    } else {
        Buf b;
        buf_init(&b);
        value_format(v_num(fabs(n)), &b);
        snprintf(digits, sizeof digits, "%s", buf_str(&b));
        buf_free(&b);
    }
    const char *th = c->thousands ? c->thousands : "";
    const char *dm = c->decimal ? c->decimal : ".";
    const char *pre = c->prefix ? c->prefix : "", *suf = c->suffix ? c->suffix : "";
    const char *dot = strchr(digits, '.');
    size_t ilen = dot ? (size_t)(dot - digits) : strlen(digits);
    size_t cap = strlen(pre) + strlen(suf) + strlen(digits) * (1 + strlen(th)) + strlen(dm) + 4;
    char *o = scratch_alloc(s, cap);
    size_t k = 0;
    int neg = n < 0 && (dot ? strspn(digits, "0.") != strlen(digits) : strspn(digits, "0") != strlen(digits));
    if (neg) o[k++] = '-';
    k += (size_t)sprintf(o + k, "%s", pre);
    for (size_t i = 0; i < ilen; i++) {
        if (i > 0 && (ilen - i) % 3 == 0 && *th) k += (size_t)sprintf(o + k, "%s", th);
        o[k++] = digits[i];
    }
    if (dot) {
        k += (size_t)sprintf(o + k, "%s", dm);
        size_t fl = strlen(dot + 1);
        memcpy(o + k, dot + 1, fl);
        k += fl;
    }
    k += (size_t)sprintf(o + k, "%s", suf);
    o[k] = 0;
    return v_str(o, k);
}

/* Reads a number written by a person: currency signs, codes and blanks
 * around it, grouping marks inside, a decimal mark, a minus or parentheses. */
static int parse_number(Value t, const ConvParams *c, double *out) {
    const char *p = t.u.s, *e = t.u.s + t.len;
    char dm = c->decimal && *c->decimal ? *c->decimal : '.';
    char tm = c->thousands && *c->thousands ? *c->thousands : (dm == ',' ? '.' : ',');
    int neg = 0, paren = 0;
    /* Strip what surrounds the digits: anything but digits, signs, marks. */
    while (p < e && !((*p >= '0' && *p <= '9') || *p == '-' || *p == '(' || *p == dm)) p++;
    while (e > p && !((e[-1] >= '0' && e[-1] <= '9') || e[-1] == ')' || e[-1] == dm)) e--;
    if (p < e && *p == '(') { paren = 1; p++; }
    if (p < e && *p == '-') { neg = 1; p++; }
    while (p < e && !(*p >= '0' && *p <= '9') && *p != dm) p++; /* "- $ 5" */
    if (paren) { if (e > p && e[-1] == ')') e--; else return -1; neg = 1; }
    while (e > p && !((e[-1] >= '0' && e[-1] <= '9') || e[-1] == dm)) e--;
    char buf[128];
    size_t k = 0;
    int seen_dm = 0, digits = 0;
    for (; p < e; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= '0' && ch <= '9') { if (k < sizeof buf - 2) buf[k++] = (char)ch; digits++; }
        else if (ch == (unsigned char)dm && !seen_dm) { seen_dm = 1; if (k < sizeof buf - 2) buf[k++] = '.'; }
        else if (ch == (unsigned char)tm || ch == ' ' || ch == '\'') continue;
        else if (ch == 0xC2 && p + 1 < e && (unsigned char)p[1] == 0xA0) { p++; continue; } /* no-break space */
        else return -1;
    }
    if (!digits) return -1;
    buf[k] = 0;
    *out = strtod(buf, NULL) * (neg ? -1 : 1);
    return 0;
}

static int text_is(Value t, const char *const *words) {
    for (; *words; words++) {
        size_t n = strlen(*words);
        if (t.len == n && strncasecmp(t.u.s, *words, n) == 0) return 1;
    }
    return 0;
}

int conversion_apply(const ConvParams *c, Value in, Value *out, Scratch *s, const char **err) {
    *out = v_null();
    if (value_blank(in)) return 0;
    static const char *const yes[] = {"true", "yes", "1", "on", "y", "t", NULL};
    static const char *const no[] = {"false", "no", "0", "off", "n", "f", NULL};
    switch (c->kind) {
    case CV_TEXT: case CV_PICKLIST:
        if (in.t == VT_NUM) *out = number_text(in.u.n, c, s);
        else *out = value_as_text(in, s);
        return 0;
    case CV_NUMBER: case CV_INTEGER: {
        double d;
        if (in.t == VT_NUM) d = in.u.n;
        else if (in.t == VT_STR) {
            if (parse_number(text_trim(in), c, &d) != 0) { *err = "is not a number"; return -1; }
        } else if (in.t == VT_BOOL) d = in.u.b;
        else { *err = "is not a number"; return -1; }
        *out = v_num(c->kind == CV_INTEGER ? round(d) : d);
        return 0;
    }
    case CV_DATE: case CV_DATETIME: {
        int64_t ms;
        if (in.t == VT_DATE) ms = in.u.i * 86400000LL;
        else if (in.t == VT_DATETIME) ms = in.u.i;
        else if (in.t == VT_STR) {
            Value t = text_trim(in);
            if (parse_datetime(t.u.s, t.len, &ms) != 0) { *err = "is not a date (YYYY-MM-DD, or ISO 8601)"; return -1; }
        } else { *err = "is not a date"; return -1; }
        if (c->kind == CV_DATE) *out = v_int(VT_DATE, ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL));
        else *out = v_int(VT_DATETIME, ms);
        return 0;
    }
    case CV_BOOLEAN:
        if (in.t == VT_BOOL) { *out = in; return 0; }
        if (in.t == VT_NUM) { *out = v_bool(in.u.n != 0); return 0; }
        if (in.t == VT_STR) {
            Value t = text_trim(in);
            if (text_is(t, yes)) { *out = v_bool(1); return 0; }
            if (text_is(t, no)) { *out = v_bool(0); return 0; }
        }
        *err = "is not true or false";
        return -1;
    case CV_PHONE: {
        Value t = value_as_text(in, s);
        char *o = scratch_alloc(s, t.len + 1);
        size_t k = 0;
        int digits = 0;
        for (uint32_t i = 0; i < t.len; i++) {
            char ch = t.u.s[i];
            if (ch >= '0' && ch <= '9') { o[k++] = ch; digits++; }
            else if (ch == '+' && digits == 0 && k == 0) o[k++] = ch;
            else if (ch == ' ' && k > 0 && o[k - 1] != ' ') o[k++] = ' ';
        }
        while (k && o[k - 1] == ' ') k--;
        o[k] = 0;
        if (!digits) { *err = "has no digits of a phone number"; return -1; }
        *out = v_str(o, k);
        return 0;
    }
    case CV_EMAIL: {
        Value t = text_lower(text_trim(value_as_text(in, s)), s);
        const char *at = memchr(t.u.s, '@', t.len);
        if (!at || at == t.u.s || at == t.u.s + t.len - 1 || memchr(t.u.s, ' ', t.len)) {
            *err = "is not an e-mail address";
            return -1;
        }
        *out = t;
        return 0;
    }
    case CV_URL: {
        Value t = text_trim(value_as_text(in, s));
        if (value_blank(t)) return 0;
        for (uint32_t i = 0; i + 3 <= t.len; i++)
            if (memcmp(t.u.s + i, "://", 3) == 0) { *out = t; return 0; }
        char *o = scratch_alloc(s, t.len + 9);
        memcpy(o, "https://", 8);
        memcpy(o + 8, t.u.s, t.len);
        o[t.len + 8] = 0;
        *out = v_str(o, t.len + 8);
        return 0;
    }
    case CV_LOWER: *out = text_lower(value_as_text(in, s), s); return 0;
    case CV_UPPER: *out = text_upper(value_as_text(in, s), s); return 0;
    case CV_TRIM: *out = text_trim(value_as_text(in, s)); return 0;
    default:
        *err = "unknown conversion";
        return -1;
    }
}
