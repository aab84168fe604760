/* value.c - comparing, formatting and parsing run-time values. */
#include "value.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Value scratch_str(Scratch *s, const char *p, size_t n) {
    char *d = scratch_alloc(s, n + 1);
    memcpy(d, p, n);
    d[n] = 0;
    return v_str(d, n);
}

int value_blank(Value v) { return v.t == VT_NULL || v.t == VT_NONE || (v.t == VT_STR && v.len == 0); }

static int64_t as_ms(Value v) { return v.t == VT_DATE ? v.u.i * 86400000LL : v.u.i; }

int value_equal(Value a, Value b) {
    int ba = value_blank(a), bb = value_blank(b);
    if (ba || bb) return ba && bb;
    if ((a.t == VT_DATE || a.t == VT_DATETIME) && (b.t == VT_DATE || b.t == VT_DATETIME)) return as_ms(a) == as_ms(b);
    if (a.t != b.t) return 0;
    switch (a.t) {
    case VT_BOOL: return a.u.b == b.u.b;
    case VT_NUM: return a.u.n == b.u.n;
    case VT_STR: return a.len == b.len && memcmp(a.u.s, b.u.s, a.len) == 0;
    default: return a.u.i == b.u.i;
    }
}

int value_cmp(Value a, Value b) {
    if (value_blank(a) || value_blank(b)) return 2;
    if ((a.t == VT_DATE || a.t == VT_DATETIME) && (b.t == VT_DATE || b.t == VT_DATETIME)) {
        int64_t x = as_ms(a), y = as_ms(b);
        return (x > y) - (x < y);
    }
    if (a.t != b.t) return 2;
    switch (a.t) {
    case VT_NUM: return (a.u.n > b.u.n) - (a.u.n < b.u.n);
    case VT_STR: {
        size_t n = a.len < b.len ? a.len : b.len;
        int c = memcmp(a.u.s, b.u.s, n);
        if (c) return c > 0 ? 1 : -1;
        return (a.len > b.len) - (a.len < b.len);
    }
    case VT_DURATION: return (a.u.i > b.u.i) - (a.u.i < b.u.i);
    case VT_BOOL: return (a.u.b > b.u.b) - (a.u.b < b.u.b);
    default: return 2;
    }
}

Value value_arith(int op, Value a, Value b, const char **err) {
    if (value_blank(a) || value_blank(b)) return v_null();
    if (a.t == VT_NUM && b.t == VT_NUM) {
        switch (op) {
        case '+': return v_num(a.u.n + b.u.n);
        case '-': return v_num(a.u.n - b.u.n);
        case '*': return v_num(a.u.n * b.u.n);
        default:
            if (b.u.n == 0) { *err = "division by zero"; return v_null(); }
            return v_num(a.u.n / b.u.n);
        }
    }
    /* A date or date-time moved by a duration. */
    if (b.t == VT_DURATION && (a.t == VT_DATE || a.t == VT_DATETIME) && (op == '+' || op == '-')) {
        int64_t d = op == '+' ? b.u.i : -b.u.i;
        if (a.t == VT_DATE) return v_int(VT_DATE, a.u.i + d / 86400000LL);
        return v_int(VT_DATETIME, a.u.i + d);
    }
    if (a.t == VT_DURATION && (b.t == VT_DATE || b.t == VT_DATETIME) && op == '+') return value_arith(op, b, a, err);
    if (a.t == VT_DURATION && b.t == VT_DURATION && (op == '+' || op == '-'))
        return v_int(VT_DURATION, op == '+' ? a.u.i + b.u.i : a.u.i - b.u.i);
    *err = "these values cannot be combined";
    return v_null();
}

/* Howard Hinnant's civil calendar algorithms. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m) {
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dm[m - 1];
}

int parse_date(const char *s, size_t n, int64_t *days) {
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-') return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &m) || digits(s + 8, 2, &d)) return -1;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return -1;
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

int parse_datetime(const char *s, size_t n, int64_t *ms) {
    int64_t days;
    if (n < 10 || parse_date(s, 10, &days)) return -1;
    if (n == 10) { *ms = days * 86400000LL; return 0; }
    if (s[10] != 'T' && s[10] != ' ' && s[10] != 't') return -1;
    size_t i = 11;
    int h, mi, se = 0, frac = 0;
    if (n < i + 5 || digits(s + i, 2, &h) || s[i + 2] != ':' || digits(s + i + 3, 2, &mi)) return -1;
    i += 5;
    if (i < n && s[i] == ':') {
        if (n < i + 3 || digits(s + i + 1, 2, &se)) return -1;
        i += 3;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            int nd = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (nd < 3) frac = frac * 10 + (s[i] - '0');
                nd++;
                i++;
            }
            if (nd == 0) return -1;
            for (int k = nd; k < 3; k++) frac *= 10;
        }
    }
    if (h > 23 || mi > 59 || se > 60) return -1;
    int64_t off = 0;
    if (i < n) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int sign = s[i] == '-' ? -1 : 1, oh, om;
            const char *z = s + i + 1;
            size_t rest = n - i - 1;
            if (rest == 5 && z[2] == ':') { if (digits(z, 2, &oh) || digits(z + 3, 2, &om)) return -1; }
            else if (rest == 4) { if (digits(z, 2, &oh) || digits(z + 2, 2, &om)) return -1; }
            else if (rest == 2) { if (digits(z, 2, &oh)) return -1; om = 0; }
            else return -1;
            if (oh > 14 || om > 59) return -1;
            off = sign * (oh * 3600LL + om * 60LL) * 1000LL;
            i = n;
        } else {
            return -1;
        }
    }
    if (i != n) return -1;
    *ms = days * 86400000LL + (h * 3600LL + mi * 60LL + (se > 59 ? 59 : se)) * 1000LL + frac - off;
    return 0;
}

void format_date(int64_t days, Buf *out) {
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    buf_printf(out, "%04lld-%02u-%02u", (long long)y, m, d);
}

void format_datetime(int64_t ms, Buf *out) {
    int64_t days = ms >= 0 ? ms / 86400000LL : -((-ms + 86399999LL) / 86400000LL);
    int64_t rem = ms - days * 86400000LL;
    format_date(days, out);
    int64_t s = rem / 1000, f = rem % 1000;
    buf_printf(out, "T%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    if (f) buf_printf(out, ".%03d", (int)f);
    buf_putc(out, 'Z');
}

/* Shortest text that reads back as the same double, without exponent for
 * everyday magnitudes. */
static void format_number(double n, Buf *out) {
    if (isnan(n) || isinf(n)) { buf_puts(out, "null"); return; }
    if (n == floor(n) && fabs(n) < 1e15) { buf_printf(out, "%.0f", n); return; }
    /* The shortest text that reads back as n.  Where that has 15 digits or
     * fewer, %.15g is it: n lies within half an ulp (1.1e-16 relative) of
     * it, and 15-digit rounding steps are 1e-15 relative or more, so n
     * rounds to it, and %g drops the zeros after.  Else 16 or 17 digits.
     * A subnormal has fewer bits, so the argument fails: tried from 1. */
    char tmp[64];
    for (int prec = fabs(n) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, n);
        if (strtod(tmp, NULL) == n) break;
    }
    buf_puts(out, tmp);
}

void value_format(Value v, Buf *out) {
    switch (v.t) {
    case VT_NULL: case VT_NONE: break;
    case VT_BOOL: buf_puts(out, v.u.b ? "true" : "false"); break;
    case VT_NUM: format_number(v.u.n, out); break;
    case VT_STR: buf_putn(out, v.u.s, v.len); break;
    case VT_DATE: format_date(v.u.i, out); break;
    case VT_DATETIME: format_datetime(v.u.i, out); break;
    case VT_DURATION: buf_printf(out, "%llds", (long long)(v.u.i / 1000)); break;
    }
}

void value_json(Value v, Buf *out) {
    switch (v.t) {
    case VT_NULL: case VT_NONE: buf_puts(out, "null"); break;
    case VT_BOOL: case VT_NUM: value_format(v, out); break;
    case VT_STR: buf_json_str(out, v.u.s, v.len); break;
    default: {
        Buf t;
        buf_init(&t);
        value_format(v, &t);
        buf_json_str(out, buf_str(&t), t.n);
        buf_free(&t);
    }
    }
}
