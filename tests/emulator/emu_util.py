"""emu_util.py - what the four API emulators share: time parsing and the
systems' time formats, replies, requests, value comparison and ordering.

Standard library only.  Nothing here knows a system's rules; it is the
plumbing the emulators in emu_sf, emu_d365, emu_ac and emu_gr stand on.
"""
import copy
import functools
import json
import random
import re
import string
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from urllib.parse import parse_qsl

UTC = timezone.utc


# ------------------------------------------------------------------ time

def now():
    """The emulator's clock: real UTC time cut to milliseconds, the finest
    precision any of the emulated APIs shows."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


# Every shape the four APIs and their clients write: a date alone, or a
# date and time with 'T' or a space, optional seconds and fraction, and a
# zone of Z, +HHMM, +HH:MM, +HH, or none (taken as UTC).  A space where the
# sign should be is a '+' that form-decoding of a query string turned into
# a space (GetResponse's "+0000" sent unencoded).
_TIME_RE = re.compile(
    r'(\d{4})-(\d{2})-(\d{2})'
    r'(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?'
    r'(Z|z|UTC|[+\- ]\d{2}(?::?\d{2})?)?)?')


def parse_time(s):
    """An aware datetime from any accepted time text, or None."""
    if not isinstance(s, str):
        return None
    m = _TIME_RE.fullmatch(s.strip())
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, zone = m.groups()
    try:
        micro = int((frac or '0')[:6].ljust(6, '0'))
        t = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0), micro, tzinfo=UTC)
    except ValueError:
        return None
    if zone and zone not in ('Z', 'z', 'UTC'):
        digits = zone[1:].replace(':', '')
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if offset >= timedelta(hours=24):
            return None
        t = t - offset if zone[0] != '-' else t + offset
    return t


def looks_like_time(s):
    return isinstance(s, str) and len(s) >= 10 and s[4:5] == '-' and parse_time(s) is not None


def fmt_sf(t):
    """Salesforce: 2026-11-02T08:00:00.000+0000"""
    t = t.astimezone(UTC)
    return t.strftime('%Y-%m-%dT%H:%M:%S.') + '%03d+0000' % (t.microsecond // 1000)


def fmt_d365(t):
    """Dynamics 365: 2026-11-02T08:00:00Z"""
    return t.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def fmt_ac(t):
    """ActiveCampaign: 2026-11-02T08:00:00-00:00"""
    return t.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S-00:00')


def fmt_gr(t):
    """GetResponse: 2026-11-02T08:00:00+0000"""
    return t.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S+0000')


# ------------------------------------------------------------------ ids

def random_token(n=40, alphabet=string.ascii_letters + string.digits):
    return ''.join(random.SystemRandom().choice(alphabet) for _ in range(n))


# ------------------------------------------------------------------ replies

class Reply:
    """An HTTP answer: status, body bytes, content type and extra headers.
    `after` runs once the answer has been written (used by /__shutdown)."""

    def __init__(self, status, body=b'', ctype=None, headers=None):
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode('utf-8')
        self.ctype = ctype
        self.headers = list(headers or [])
        self.after = None
        self.fault = None   # the fault kind that shaped this answer, for the log

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(',', ':'))


def json_reply(status, obj, headers=None, ctype='application/json'):
    return Reply(status, dumps(obj).encode('utf-8'), ctype, headers)


def empty_reply(status, headers=None):
    return Reply(status, b'', None, headers)


def reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return 'Unknown'


class ApiError(Exception):
    """Raised anywhere inside a system's handler to answer with `reply`."""

    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


# ------------------------------------------------------------------ requests

class Request:
    """One request as a system sees it: `path` is the part after the
    system's prefix (/sf, /d365, ...), percent-decoded; `query` the raw
    query string; `params` its pairs in order, form-decoded with blank
    values kept, so filters[updated_after] and query[changedOn][from]
    arrive as literal keys."""

    def __init__(self, method, path, query, headers, body, full_path=None):
        self.method = method
        self.path = path
        self.full_path = full_path or path
        self.query = query
        self.params = parse_qsl(query, keep_blank_values=True)
        self.headers = {k.lower(): v for k, v in headers.items()} if headers else {}
        self.body = body or b''

    def param(self, name, default=None):
        for k, v in self.params:
            if k == name:
                return v
        return default

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        """The body as JSON; ValueError when it is not."""
        text = self.body.decode('utf-8')   # UnicodeDecodeError is a ValueError
        return json.loads(text)


def parse_form(body):
    """An application/x-www-form-urlencoded body as a dict ({} when it is not text)."""
    try:
        return dict(parse_qsl(body.decode('utf-8'), keep_blank_values=True))
    except ValueError:
        return {}


def parse_prefer(value):
    """Prefer: odata.maxpagesize=100, return=representation -> dict."""
    out = {}
    for item in (value or '').split(','):
        item = item.strip()
        if not item:
            continue
        k, _, v = item.partition('=')
        out[k.strip().lower()] = v.strip().strip('"')
    return out


# ------------------------------------------------------------------ records

def get_ci(rec, name):
    """A record's value by a case-insensitive field name (SOQL's rule)."""
    if name in rec:
        return rec[name]
    low = name.lower()
    for k, v in rec.items():
        if k.lower() == low:
            return v
    return None


def key_ci(rec, name):
    """The record's own spelling of a field name, or None."""
    if name in rec:
        return name
    low = name.lower()
    for k in rec:
        if k.lower() == low:
            return k
    return None


def set_ci(rec, name, value):
    """Writes a field, replacing it under its existing spelling if any."""
    k = key_ci(rec, name)
    rec[k if k is not None else name] = value


def blank(v):
    return v is None or (isinstance(v, str) and not v.strip())


def deep(v):
    return copy.deepcopy(v)


# ------------------------------------------------------------------ comparison
#
# Literals are (kind, value) pairs from the SOQL and OData parsers:
# ('str', s), ('num', float), ('bool', b), ('null', None),
# ('datetime', aware datetime), ('date', date).

def _num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _cmp(a, b):
    return (a > b) - (a < b)


def compare(value, op, lit):
    """Whether `value` (a record's) `op` the literal.  op is one of
    = != < <= > >=.  Text compares case-insensitively, as both SOQL and
    Dataverse's default collation do; times compare as instants.  A null
    equals only null, and differs from everything else (so != 'x' holds
    for a null, as in SOQL and OData)."""
    kind, x = lit
    if kind == 'null':
        return {'=': value is None, '!=': value is not None}.get(op, False)
    if value is None:
        return op == '!='
    c = None
    if kind == 'str':
        if isinstance(value, str):
            c = _cmp(value.casefold(), x.casefold())
        elif isinstance(value, bool):
            c = _cmp('true' if value else 'false', x.casefold())
        elif isinstance(value, (int, float)):
            n = _num(x)
            c = _cmp(float(value), n) if n is not None else None
    elif kind == 'num':
        n = _num(value)
        c = _cmp(n, x) if n is not None else None
    elif kind == 'bool':
        v = value if isinstance(value, bool) else (
            value.lower() == 'true' if isinstance(value, str) and value.lower() in ('true', 'false') else None)
        if v is not None and op in ('=', '!='):
            c = 0 if v == x else 1
    elif kind == 'datetime':
        t = parse_time(value)
        c = _cmp(t, x) if t else None
    elif kind == 'date':
        t = parse_time(value)
        c = _cmp(t.astimezone(UTC).date(), x) if t else None
    if c is None:
        return op == '!='
    return {'=': c == 0, '!=': c != 0, '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0}[op]


_NUMERIC_RE = re.compile(r'-?\d+(\.\d+)?')


def sortable(v):
    """A key that orders mixed values sensibly: numbers (and numeric text,
    so ActiveCampaign's string ids order as numbers), then times as
    instants, then text case-insensitively."""
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (1, float(v))
    if isinstance(v, str):
        if _NUMERIC_RE.fullmatch(v):
            return (1, float(v))
        t = parse_time(v) if looks_like_time(v) else None
        if t:
            return (2, t.timestamp())
        return (3, v.casefold())
    return (4, dumps(v))


def sort_rows(rows, keys, getter):
    """rows ordered by keys [(field, desc, nulls_first or None)], getter(row,
    field) giving a value.  Nulls sort as the smallest value unless told
    otherwise.  The sort is stable, so unordered ties keep store order."""
    if not keys:
        return list(rows)
    decorated = [([sortable(getter(r, f)) if getter(r, f) is not None else None for f, _, _ in keys], r)
                 for r in rows]

    def cmp(a, b):
        for (va, vb, (_, desc, nulls_first)) in zip(a[0], b[0], keys):
            if va is None or vb is None:
                if va is None and vb is None:
                    continue
                first = nulls_first if nulls_first is not None else not desc
                r = -1 if va is None else 1
                return r if first else -r
            c = _cmp(va, vb) if va[0] == vb[0] else _cmp(va[0], vb[0])
            if c:
                return -c if desc else c
        return 0

    return [r for _, r in sorted(decorated, key=functools.cmp_to_key(cmp))]
