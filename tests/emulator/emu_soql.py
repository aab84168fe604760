"""emu_soql.py - the SOQL subset the Salesforce emulator answers.

    SELECT f1, f2 FROM Obj [WHERE cond] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
           [LIMIT n] [OFFSET n]
    cond := term ((AND|OR) term)*          (AND binds tighter than OR)
    term := '(' cond ')' | NOT term | field op literal
          | field [NOT] IN '(' literal, ... ')' | field LIKE 'pattern'
    op   := = | != | <> | < | <= | > | >=

Literals: 'text' with backslash escapes, numbers, true/false/null,
date-times (2026-11-02T08:00:00Z, .000Z, +0000, +00:00) and dates.
Keywords are case-insensitive, as field names are.  Anything else raises
SoqlError, which the emulator answers as MALFORMED_QUERY.
"""
import re
from datetime import date

from emu_util import compare, get_ci, parse_time


class SoqlError(Exception):
    pass


_ESCAPES = {"'": "'", '\\': '\\', 'n': '\n', 't': '\t', '"': '"', 'r': '\r', 'b': '\b', 'f': '\f',
            # LIKE's own escapes keep their backslash for the pattern
            '%': '\\%', '_': '\\_'}

_DATETIME_RE = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})')
_DATE_RE = re.compile(r'\d{4}-\d{2}-\d{2}(?![\dT])')
_NUM_RE = re.compile(r'-?\d+(?:\.\d+)?(?![\w.])')
_IDENT_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*')
_OPS = ('!=', '<>', '<=', '>=', '=', '<', '>')

KEYWORDS = {'select', 'from', 'where', 'and', 'or', 'not', 'in', 'order', 'by', 'asc', 'desc', 'nulls',
            'first', 'last', 'limit', 'offset', 'like', 'true', 'false', 'null'}


def tokenize(q):
    """(kind, value, position) triples: ident, str, num, datetime, date, op, punct."""
    out, i, n = [], 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c == "'":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise SoqlError("unterminated string literal at position %d" % i)
                ch = q[j]
                if ch == '\\':
                    if j + 1 >= n or q[j + 1] not in _ESCAPES:
                        raise SoqlError("Invalid string literal '%s'. Illegal escape sequence at position %d"
                                        % (q[i:j + 2], j))
                    buf.append(_ESCAPES[q[j + 1]])
                    j += 2
                    continue
                if ch == "'":
                    break
                buf.append(ch)
                j += 1
            out.append(('str', ''.join(buf), i))
            i = j + 1
            continue
        m = _DATETIME_RE.match(q, i)
        if m:
            t = parse_time(m.group())
            if t is None:
                raise SoqlError("invalid date-time %s" % m.group())
            out.append(('datetime', t, i))
            i = m.end()
            continue
        m = _DATE_RE.match(q, i)
        if m:
            try:
                d = date.fromisoformat(m.group())
            except ValueError:
                raise SoqlError("invalid date %s" % m.group())
            out.append(('date', d, i))
            i = m.end()
            continue
        m = _NUM_RE.match(q, i)
        if m:
            out.append(('num', float(m.group()), i))
            i = m.end()
            continue
        op = next((o for o in _OPS if q.startswith(o, i)), None)
        if op:
            out.append(('op', '!=' if op == '<>' else op, i))
            i += len(op)
            continue
        if c in '(),':
            out.append(('punct', c, i))
            i += 1
            continue
        m = _IDENT_RE.match(q, i)
        if m:
            out.append(('ident', m.group(), i))
            i = m.end()
            continue
        raise SoqlError("unexpected character '%s' at position %d" % (c, i))
    return out


class Query:
    def __init__(self):
        self.fields = []      # as written
        self.obj = None
        self.where = None     # a node, see _Parser
        self.order = []       # (field, desc, nulls_first or None)
        self.limit = None
        self.offset = 0


class _Parser:
    def __init__(self, q):
        self.q = q
        self.toks = tokenize(q)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, len(self.q))

    def kw(self, word):
        """Consumes the keyword if it is next."""
        k, v, _ = self.peek()
        if k == 'ident' and v.lower() == word:
            self.i += 1
            return True
        return False

    def need_kw(self, word):
        if not self.kw(word):
            self.fail("expecting %s" % word.upper())

    def fail(self, what):
        k, v, pos = self.peek()
        got = "end of query" if k is None else "'%s'" % (v if k not in ('datetime', 'date') else self.q[pos:pos + 10])
        raise SoqlError("%s, unexpected token: %s at position %d" % (what, got, pos))

    def field(self):
        k, v, _ = self.peek()
        if k != 'ident' or v.lower() in KEYWORDS:
            self.fail("expecting a field name")
        self.i += 1
        return v

    def punct(self, c):
        k, v, _ = self.peek()
        if k == 'punct' and v == c:
            self.i += 1
            return True
        return False

    def parse(self):
        qu = Query()
        self.need_kw('select')
        qu.fields.append(self.field())
        while self.punct(','):
            qu.fields.append(self.field())
        self.need_kw('from')
        qu.obj = self.field()
        if self.kw('where'):
            qu.where = self.cond()
        if self.kw('order'):
            self.need_kw('by')
            while True:
                f = self.field()
                desc = False
                if self.kw('desc'):
                    desc = True
                else:
                    self.kw('asc')
                nulls = None
                if self.kw('nulls'):
                    if self.kw('first'):
                        nulls = True
                    elif self.kw('last'):
                        nulls = False
                    else:
                        self.fail("expecting FIRST or LAST")
                qu.order.append((f, desc, nulls))
                if not self.punct(','):
                    break
        if self.kw('limit'):
            qu.limit = self.count('LIMIT')
        if self.kw('offset'):
            qu.offset = self.count('OFFSET')
        if self.i != len(self.toks):
            self.fail("expecting end of query")
        return qu

    def count(self, what):
        k, v, _ = self.peek()
        if k != 'num' or v < 0 or v != int(v):
            self.fail("%s needs a whole number" % what)
        self.i += 1
        return int(v)

    # cond := and_cond (OR and_cond)*
    def cond(self):
        node = self.and_cond()
        while self.kw('or'):
            node = ('or', node, self.and_cond())
        return node

    def and_cond(self):
        node = self.term()
        while self.kw('and'):
            node = ('and', node, self.term())
        return node

    def term(self):
        if self.kw('not'):
            return ('not', self.term())
        if self.punct('('):
            node = self.cond()
            if not self.punct(')'):
                self.fail("expecting ')'")
            return node
        f = self.field()
        negate = self.kw('not')
        if self.kw('in'):
            if not self.punct('('):
                self.fail("expecting '('")
            lits = [self.literal()]
            while self.punct(','):
                lits.append(self.literal())
            if not self.punct(')'):
                self.fail("expecting ')'")
            node = ('in', f, lits)
            return ('not', node) if negate else node
        if negate:
            self.fail("expecting IN after NOT")
        if self.kw('like'):
            k, v, _ = self.peek()
            if k != 'str':
                self.fail("LIKE needs a text pattern")
            self.i += 1
            return ('like', f, _like_regex(v))
        k, op, _ = self.peek()
        if k != 'op':
            self.fail("expecting an operator")
        self.i += 1
        return ('cmp', f, op, self.literal())

    def literal(self):
        k, v, _ = self.peek()
        if k == 'str':
            self.i += 1
            return ('str', v)
        if k == 'num':
            self.i += 1
            return ('num', v)
        if k in ('datetime', 'date'):
            self.i += 1
            return (k, v)
        if k == 'ident' and v.lower() in ('true', 'false'):
            self.i += 1
            return ('bool', v.lower() == 'true')
        if k == 'ident' and v.lower() == 'null':
            self.i += 1
            return ('null', None)
        self.fail("expecting a literal")


def _like_regex(pattern):
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == '\\' and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append('.*' if c == '%' else '.' if c == '_' else re.escape(c))
        i += 1
    return re.compile(''.join(out), re.I | re.S)


def parse(q):
    if not isinstance(q, str) or not q.strip():
        raise SoqlError("the query is empty")
    return _Parser(q).parse()


def field_value(rec, name):
    """A field by case-insensitive name; Owner.Name follows nested objects."""
    cur = rec
    for part in name.split('.'):
        if not isinstance(cur, dict):
            return None
        cur = get_ci(cur, part)
    return cur


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
    v = field_value(rec, node[1])
    if op == 'in':
        return any(compare(v, '=', lit) for lit in node[2])
    if op == 'like':
        return isinstance(v, str) and node[2].fullmatch(v) is not None
    return compare(v, node[2], node[3])
