"""emu_odata.py - the OData v4 $filter and $orderby subset the Dynamics 365
emulator answers.

    filter := or ;  or := and ('or' and)* ;  and := unary ('and' unary)*
    unary  := 'not' unary | '(' filter ')' | field op literal
            | contains|startswith|endswith '(' field ',' 'text' ')'
    op     := eq | ne | gt | ge | lt | le

Literals: 'text' with '' for a quote, numbers, true/false/null, and
unquoted date-times (2026-11-02T08:00:00Z), dates and GUIDs.  Operators
and keywords are lower case, as OData has them.  Errors raise
ODataError carrying the position, answered as 0x80060888.
"""
import re
from datetime import date

from emu_util import compare, parse_time


class ODataError(Exception):
    pass


_DATETIME_RE = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})')
_GUID_RE = re.compile(r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])')
_DATE_RE = re.compile(r'\d{4}-\d{2}-\d{2}(?![\dT])')
_NUM_RE = re.compile(r'-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w.])')
_IDENT_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*')

_OPS = {'eq': '=', 'ne': '!=', 'gt': '>', 'ge': '>=', 'lt': '<', 'le': '<='}
_FUNCS = ('contains', 'startswith', 'endswith')


def tokenize(s):
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if c == "'":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise ODataError("Syntax error: unterminated string literal at position %d in '%s'." % (i, s))
                if s[j] == "'":
                    if j + 1 < n and s[j + 1] == "'":   # '' is one quote
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(s[j])
                j += 1
            out.append(('str', ''.join(buf), i))
            i = j + 1
            continue
        m = _DATETIME_RE.match(s, i)
        if m:
            t = parse_time(m.group())
            if t is None:
                raise ODataError("Syntax error: invalid date-time at position %d in '%s'." % (i, s))
            out.append(('datetime', t, i))
            i = m.end()
            continue
        m = _GUID_RE.match(s, i)
        if m:
            out.append(('guid', m.group().lower(), i))
            i = m.end()
            continue
        m = _DATE_RE.match(s, i)
        if m:
            try:
                out.append(('date', date.fromisoformat(m.group()), i))
            except ValueError:
                raise ODataError("Syntax error: invalid date at position %d in '%s'." % (i, s))
            i = m.end()
            continue
        m = _NUM_RE.match(s, i)
        if m:
            out.append(('num', float(m.group().rstrip('mMdDfFlL')), i))
            i = m.end()
            continue
        if c in '(),':
            out.append(('punct', c, i))
            i += 1
            continue
        m = _IDENT_RE.match(s, i)
        if m:
            out.append(('ident', m.group(), i))
            i = m.end()
            continue
        raise ODataError("Syntax error: character '%s' is not valid at position %d in '%s'." % (c, i, s))
    return out


class _Parser:
    def __init__(self, s):
        self.s = s
        self.toks = tokenize(s)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, len(self.s))

    def fail(self, what):
        _, _, pos = self.peek()
        raise ODataError("Syntax error at position %d in '%s': %s." % (pos, self.s, what))

    def word(self, w):
        k, v, _ = self.peek()
        if k == 'ident' and v == w:
            self.i += 1
            return True
        return False

    def punct(self, c):
        k, v, _ = self.peek()
        if k == 'punct' and v == c:
            self.i += 1
            return True
        return False

    def parse(self):
        node = self.or_()
        if self.i != len(self.toks):
            self.fail("expected the end of the expression")
        return node

    def or_(self):
        node = self.and_()
        while self.word('or'):
            node = ('or', node, self.and_())
        return node

    def and_(self):
        node = self.unary()
        while self.word('and'):
            node = ('and', node, self.unary())
        return node

    def unary(self):
        if self.word('not'):
            return ('not', self.unary())
        if self.punct('('):
            node = self.or_()
            if not self.punct(')'):
                self.fail("')' expected")
            return node
        k, v, _ = self.peek()
        if k != 'ident' or v in _OPS or v in ('and', 'or', 'not', 'true', 'false', 'null'):
            self.fail("a property name expected")
        self.i += 1
        if v in _FUNCS:
            if not self.punct('('):
                self.fail("'(' expected after %s" % v)
            fk, field, _ = self.peek()
            if fk != 'ident':
                self.fail("a property name expected")
            self.i += 1
            if not self.punct(','):
                self.fail("',' expected")
            sk, text, _ = self.peek()
            if sk != 'str':
                self.fail("a text literal expected")
            self.i += 1
            if not self.punct(')'):
                self.fail("')' expected")
            return ('func', v, field, text)
        k2, op, _ = self.peek()
        if k2 != 'ident' or op not in _OPS:
            self.fail("an operator (eq, ne, gt, ge, lt, le) expected")
        self.i += 1
        return ('cmp', v, _OPS[op], self.literal())

    def literal(self):
        k, v, _ = self.peek()
        self.i += 1
        if k == 'str' or k == 'guid':
            return ('str', v)
        if k in ('num', 'datetime', 'date'):
            return (k, v)
        if k == 'ident' and v in ('true', 'false'):
            return ('bool', v == 'true')
        if k == 'ident' and v == 'null':
            return ('null', None)
        self.i -= 1
        self.fail("a literal expected")


def parse_filter(s):
    if not s.strip():
        raise ODataError("Syntax error: the $filter expression is empty.")
    return _Parser(s).parse()


def matches(node, rec):
    if node is None:
        return True
    op = node[0]
    if op == 'and':
        return matches(node[1], rec) and matches(node[2], rec)
    if op == 'or':
        return matches(node[1], rec) or matches(node[2], rec)
    if op == 'not':
        return not matches(node[1], rec)
    if op == 'func':
        v = rec.get(node[2])
        if not isinstance(v, str):
            return False
        v, t = v.casefold(), node[3].casefold()
        return {'contains': t in v, 'startswith': v.startswith(t), 'endswith': v.endswith(t)}[node[1]]
    return compare(rec.get(node[1]), node[2], node[3])


def parse_orderby(s):
    """'modifiedon asc, leadid desc' -> [(field, desc, None)]."""
    keys = []
    for item in s.split(','):
        parts = item.split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ('asc', 'desc')) \
                or not _IDENT_RE.fullmatch(parts[0]):
            raise ODataError("Syntax error in $orderby '%s'." % s)
        keys.append((parts[0], len(parts) == 2 and parts[1] == 'desc', None))
    return keys
