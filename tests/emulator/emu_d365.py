"""emu_d365.py - the Dataverse Web API (OData v4, v9.2) as tandem's
connector uses it.

Client-credentials login; entity-set reads with $select, $filter,
$orderby, $top and server-driven paging (Prefer: odata.maxpagesize,
@odata.nextLink); creates, updates and deletes of single rows, with
lookups bound through @odata.bind; multipart $batch, change sets
included; and change tracking (Prefer: odata.track-changes,
@odata.deltaLink, $deltatoken reads with $deletedEntity rows).  Rows are
stored as given; lookups are kept as the API shows them, _<column>_value.

Change tracking runs on a version counter, not on the clock: every write
to a row (create, update, delete, /__touch, /__delete, a $batch part)
takes the next version; a row remembers the version of its last write,
a delete is remembered per set with its version, and a delta token
stands for the version current when the read that issued it started.
"""
import re
import uuid
from urllib.parse import quote, unquote, urlsplit

import emu_odata
from emu_util import (ApiError, Reply, Request, blank, deep, fmt_d365, json_reply, now, parse_form,
                      parse_prefer, random_token, reason, sort_rows)

API = '/api/data/v9.2'
KEYS = {'leads': 'leadid', 'contacts': 'contactid', 'accounts': 'accountid'}
REQUIRED = {'leads': ['lastname', 'subject'], 'contacts': ['lastname'], 'accounts': ['name']}
# Lookups that can point at more than one table are bound through one
# navigation property per target: parentcustomerid_account sets
# _parentcustomerid_value.
POLYMORPHIC = ('parentcustomerid', 'customerid', 'ownerid', 'regardingobjectid')
DEFAULT_PAGE = 5000
MAX_BATCH = 1000
JSON = 'application/json; odata.metadata=minimal'
SET_RE = re.compile(r'/([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$')


def singular(s):
    if s.endswith('ies'):
        return s[:-3] + 'y'
    if s.endswith(('sses', 'xes', 'ches', 'shes')):
        return s[:-2]
    return s[:-1] if s.endswith('s') else s


def _err(status, code, message):
    return ApiError(json_reply(status, {'error': {'code': code, 'message': message}}, ctype=JSON))


class Dynamics:
    name = 'dynamics365'

    def __init__(self, emu, seed, creds):
        self.emu = emu
        self.creds = {'tenant_id': 't1', 'client_id': 'cid', 'client_secret': 'csecret'}
        self.creds.update(creds or {})
        self.sets = {s: {} for s in KEYS}   # set -> {id: row}
        self.deleted = {}                   # set -> [ids]
        self.versions = {}                  # id -> version of the row's last write, shown as the etag
        self.version = 1000                 # the latest write's version: the change-tracking clock
        self.deleted_at = {}                # set -> {id: version of its delete}, for delta reads
        self.delta_tokens = {}              # issued $deltatoken -> (set, version it stands for)
        self.tokens = set()
        self.cursors = {}                   # paging cookie -> the pages' rows and what ends them
        seed = seed or {}
        untracked = seed.get('untracked') or []
        if not isinstance(untracked, list) or not all(isinstance(x, str) for x in untracked):
            raise ValueError('dynamics365.untracked must be a list of entity set names')
        self.untracked = set(untracked)     # sets (or tables' logical names) not enabled for change tracking
        for s, rows in seed.items():
            if s in ('deleted', 'untracked'):
                continue
            if not isinstance(rows, list):
                raise ValueError("dynamics365.%s must be a list of rows" % s)
            store = self.sets.setdefault(s, {})
            key = self.key(s)
            for row in rows:
                if not isinstance(row, dict):
                    raise ValueError("dynamics365.%s holds a row that is not an object" % s)
                rec = {k: v for k, v in row.items() if k != '@odata.etag'}
                rec[key] = str(rec.get(key) or uuid.uuid4())
                t = fmt_d365(now())
                rec.setdefault('modifiedon', t)
                rec.setdefault('createdon', rec['modifiedon'])
                store[rec[key]] = rec
                self.bump(rec[key])
        for s, ids in (seed.get('deleted') or {}).items():
            self.deleted.setdefault(s, []).extend(ids)
            for rid in ids:       # deleted before any token this emulator can issue
                self.deleted_at.setdefault(s, {})[rid] = self.tick()

    # ------------------------------------------------------------ plumbing

    def key(self, s):
        return KEYS.get(s) or singular(s) + 'id'

    def tick(self):
        """The next version: one per write, never reused."""
        self.version += 1
        return self.version

    def bump(self, rid):
        self.versions[rid] = self.tick()

    def find(self, s, rid):
        """The row of set s with key rid (GUIDs compare case-insensitively)."""
        store = self.sets.get(s, {})
        if not isinstance(rid, str):
            return None
        if rid in store:
            return store[rid]
        low = (rid or '').lower()
        for k, r in store.items():
            if k.lower() == low:
                return r
        return None

    def service(self):
        return self.emu.base_url + '/d365' + API

    def expire_tokens(self):
        n = len(self.tokens)
        self.tokens.clear()
        return n

    def authorize(self, req):
        if re.fullmatch(r'/login/[^/]+/oauth2/v2\.0/token', req.path):
            return None
        scheme, _, token = (req.header('authorization') or '').partition(' ')
        if scheme.lower() == 'bearer' and token.strip() in self.tokens:
            return None
        return json_reply(401, {'error': {'code': '0x80072182',
                                          'message': 'Bearer token is missing, expired or invalid.'}},
                          headers=[('WWW-Authenticate', 'Bearer authorization_uri=%s/d365/login/%s/oauth2/authorize'
                                    % (self.emu.base_url, self.creds.get('tenant_id')))], ctype=JSON)

    def decorate(self, reply):
        reply.headers.append(('OData-Version', '4.0'))

    def is_batch(self, req):
        return req.path == API + '/$batch'

    def fault_reply(self, status, kind='status'):
        code, msg = {429: ('0x80072322',
                           'Number of requests exceeded the limit of 6000 over time window of 300 seconds.'),
                     500: ('0x80040216', 'An unexpected error occurred.'),
                     503: ('0x80072321', 'The service is temporarily unavailable.')}.get(
            status, ('0x80040216', 'The emulator was told to fail this request.'))
        return json_reply(status, {'error': {'code': code, 'message': msg}}, ctype=JSON)

    # ------------------------------------------------------------ routing

    def handle(self, req, partial=False):
        try:
            return self._route(req, partial)
        except ApiError as e:
            return e.reply

    def _route(self, req, partial):
        m = re.fullmatch(r'/login/([^/]+)/oauth2/v2\.0/token', req.path)
        if m:
            if req.method != 'POST':
                return json_reply(405, {'error': 'invalid_request', 'error_description': 'POST only'})
            return self.token(req, m.group(1))
        if not (req.path + '/').startswith(API + '/'):
            raise _err(404, '0x8006088a', "Resource not found for the segment '%s'." % req.path)
        sub = req.path[len(API):]
        if sub == '/$batch':
            if req.method != 'POST':
                raise _err(405, '0x8006088a', 'The $batch resource takes POST only.')
            return self.batch(req, partial)
        return self.data(req, sub)

    def data(self, req, sub):
        """One entity-set request; also what each $batch part runs."""
        if sub in ('/WhoAmI', '/WhoAmI()'):
            ctx = self.service() + '/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse'
            return json_reply(200, {'@odata.context': ctx,
                                    'BusinessUnitId': '00000000-0000-0000-0000-000000000001',
                                    'UserId': '00000000-0000-0000-0000-000000000002',
                                    'OrganizationId': '00000000-0000-0000-0000-000000000003'}, ctype=JSON)
        m = SET_RE.fullmatch(sub)
        if not m or m.group(1) not in self.sets:
            raise _err(404, '0x8006088a', "Resource not found for the segment '%s'." % sub.strip('/'))
        s, rid = m.group(1), m.group(2)
        if rid is not None:
            rid = rid.strip()
            if '=' in rid:                      # leads(leadid=...)
                rid = rid.split('=', 1)[1].strip()
            rid = rid.strip("'")
        meth = req.method
        if rid is None:
            if meth == 'GET':
                return self.list(req, s)
            if meth == 'POST':
                return self.create(req, s)
        else:
            if meth == 'GET':
                return self.get_one(req, s, rid)
            if meth == 'PATCH':
                return self.update(req, s, rid)
            if meth == 'DELETE':
                return self.delete(s, rid)
        raise _err(405, '0x80060888', "The HTTP method '%s' is not allowed on '%s'." % (meth, sub))

    def body(self, req):
        try:
            b = req.json()
        except ValueError as e:
            raise _err(400, '0x80040203', 'Invalid JSON in the request body: %s' % e)
        if not isinstance(b, dict):
            raise _err(400, '0x80040203', 'The request body must be a JSON object.')
        return b

    # ------------------------------------------------------------ auth

    def token(self, req, tenant):
        form = parse_form(req.body)
        ok = (tenant == self.creds.get('tenant_id') and form.get('grant_type') == 'client_credentials'
              and form.get('client_id') == self.creds.get('client_id')
              and form.get('client_secret') == self.creds.get('client_secret'))
        if not ok:
            return json_reply(401, {'error': 'invalid_client',
                                    'error_description': 'AADSTS7000215: Invalid client secret provided. Ensure the '
                                    'secret being sent in the request is the client secret value, not the client '
                                    'secret ID, for a secret added to app \'%s\'.' % form.get('client_id'),
                                    'error_codes': [7000215]})
        if not (form.get('scope') or '').endswith('/.default'):
            return json_reply(400, {'error': 'invalid_scope',
                                    'error_description': "AADSTS1002012: The provided value for scope '%s' is not "
                                    "valid. Client credential flows must have a scope value with /.default "
                                    "suffixed to the resource identifier." % form.get('scope', '')})
        token = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.' + random_token(120)
        self.tokens.add(token)
        return json_reply(200, {'token_type': 'Bearer', 'expires_in': 3599, 'ext_expires_in': 3599,
                                'access_token': token})

    # ------------------------------------------------------------ reading

    def select(self, req):
        sel = req.param('$select')
        return [f.strip() for f in sel.split(',') if f.strip()] if sel else None

    def shape(self, s, rec, sel):
        """A row as the API answers it: its etag, then the selected columns
        (the key always), null for a selected column the row lacks."""
        out = {'@odata.etag': 'W/"%d"' % self.versions.get(rec[self.key(s)], 0)}
        if sel is None:
            out.update(deep(rec))
        else:
            for f in [self.key(s)] + [f for f in sel if f != self.key(s)]:
                out[f] = deep(rec.get(f))
        return out

    def context(self, s, sel, entity=False):
        return '%s/$metadata#%s%s%s' % (self.service(), s, '(%s)' % ','.join(sel) if sel else '',
                                          '/$entity' if entity else '')

    def list(self, req, s):
        sel = self.select(req)
        prefer = parse_prefer(req.header('prefer'))
        size = None
        applied = []
        if 'odata.maxpagesize' in prefer:
            try:
                size = max(1, int(prefer['odata.maxpagesize']))
                applied.append('odata.maxpagesize=%d' % size)
            except ValueError:
                pass
        ctx = self.context(s, sel)
        delta = None        # the @odata.deltaLink that ends a tracked read's last page
        token = req.param('$skiptoken')
        if token is not None:
            m = re.search(r'pagingcookie="([^"]*)"', token)
            cookie = unquote(m.group(1)) if m else ''
            cursor, _, off = cookie.rpartition(':')
            if cursor not in self.cursors or not off.isdigit():
                raise _err(400, '0x80060888', 'The $skiptoken is not valid or has expired.')
            c, offset = self.cursors[cursor], int(off)
            rows, ctx, delta = c['rows'], c['context'], c['delta']
            size = size or c['size']      # a page size asked for once holds for the pages after
        elif 'odata.track-changes' in prefer or req.param('$deltatoken') is not None:
            rows, ctx, delta = self.tracked(req, s, sel)
            cursor, offset = None, 0
            size = size or DEFAULT_PAGE
        else:
            filt = req.param('$filter')
            try:
                node = emu_odata.parse_filter(filt) if filt is not None else None
                order = emu_odata.parse_orderby(req.param('$orderby')) if req.param('$orderby') else []
            except emu_odata.ODataError as e:
                raise _err(400, '0x80060888', str(e))
            rows = [r for r in self.sets[s].values() if emu_odata.matches(node, r)]
            rows = sort_rows(rows, order, lambda r, f: r.get(f))
            top = req.param('$top')
            if top is not None:
                if not top.isdigit():
                    raise _err(400, '0x80060888', "Invalid value '%s' for $top." % top)
                rows = rows[:int(top)]
            rows = [self.shape(s, r, sel) for r in rows]   # a snapshot for the pages that follow
            cursor, offset = None, 0
            size = size or DEFAULT_PAGE
        if delta is not None:
            applied.append('odata.track-changes')
        ans = {'@odata.context': ctx}
        if (req.param('$count') or '').lower() == 'true':
            ans['@odata.count'] = len(rows)
        ans['value'] = rows[offset:offset + size]
        if offset + size < len(rows):
            if cursor is None:
                cursor = random_token(16)
                self.cursors[cursor] = {'rows': rows, 'size': size, 'context': ctx, 'delta': delta}
            skip = '<cookie pagenumber="%d" pagingcookie="%s" istracking="%s" />' % (
                offset // size + 2, quote('%s:%d' % (cursor, offset + size)), delta is not None)
            kept = ['%s=%s' % (quote(k, safe='$'), quote(v, safe=",()$'")) for k, v in req.params if k != '$skiptoken']
            kept.append('$skiptoken=' + quote(skip, safe=''))
            ans['@odata.nextLink'] = '%s/%s?%s' % (self.service(), s, '&'.join(kept))
        elif delta is not None:
            ans['@odata.deltaLink'] = delta
        headers = [('Preference-Applied', ','.join(applied))] if applied else []
        return json_reply(200, ans, headers=headers, ctype=JSON)

    def tracked(self, req, s, sel):
        """The rows of a change-tracking read (first page and the ones
        after), its @odata.context and the @odata.deltaLink its last page
        carries.  Without $deltatoken: every row of the set.  With one:
        the rows created or updated since the token's version, oldest
        change first, then the rows deleted since, as $deletedEntity.
        $orderby and $top are ignored (the token must cover every row)."""
        if s in self.untracked or singular(s) in self.untracked:
            raise _err(400, '0x80072491', "Entity '%s' is not enabled for change tracking." % singular(s))
        if req.param('$filter') is not None:
            raise _err(400, '0x80060888', 'The $filter query option is not supported with change tracking.')
        start = self.version         # the state this read answers from
        dt = req.param('$deltatoken')
        key = self.key(s)
        if dt is None:
            rows = [self.shape(s, r, sel) for r in self.sets[s].values()]
            ctx = self.context(s, sel)
        else:
            issued = self.delta_tokens.get(dt)
            if issued is None or issued[0] != s:
                raise _err(400, '0x80040203', 'Invalid delta token.')
            since = issued[1]
            changed = [r for r in self.sets[s].values() if self.versions.get(r[key], 0) > since]
            changed.sort(key=lambda r: self.versions.get(r[key], 0))
            rows = [self.shape(s, r, sel) for r in changed]
            present = {k.lower() for k in self.sets[s]}
            gone = sorted((v, rid) for rid, v in self.deleted_at.get(s, {}).items()
                          if v > since and rid.lower() not in present)
            rows += [{'@odata.context': '%s/$metadata#%s/$deletedEntity' % (self.service(), s),
                      'id': rid, 'reason': 'deleted'} for _, rid in gone]
            ctx = self.context(s, sel) + '/$delta'
        new = '%d!%s' % (start, now().strftime('%m/%d/%Y %H:%M:%S'))
        self.delta_tokens[new] = (s, start)
        raw_sel = req.param('$select')
        keep = ('$select=%s&' % quote(raw_sel, safe=",()'")) if raw_sel else ''
        link = '%s/%s?%s$deltatoken=%s' % (self.service(), s, keep, quote(new, safe=''))
        return rows, ctx, link

    def get_one(self, req, s, rid):
        rec = self.find(s, rid)
        if rec is None:
            raise self.missing(s, rid)
        sel = self.select(req)
        out = {'@odata.context': self.context(s, sel, entity=True)}
        out.update(self.shape(s, rec, sel))
        return json_reply(200, out, ctype=JSON)

    def missing(self, s, rid):
        return _err(404, '0x80040217', '%s With Id = %s Does Not Exist' % (singular(s), rid))

    # ------------------------------------------------------------ writing

    def columns(self, s, body):
        """The body's columns as stored: binds become _<column>_value;
        system columns are not taken from a client."""
        out = {}
        for k, v in body.items():
            if k.endswith('@odata.bind'):
                nav = k[:-len('@odata.bind')]
                col = next((p for p in POLYMORPHIC if nav.startswith(p + '_')), nav)
                if v is None:
                    out['_%s_value' % col] = None
                    continue
                m = re.search(r'([A-Za-z_][A-Za-z0-9_]*)\(([^()]*)\)\s*$', v) if isinstance(v, str) else None
                if not m:
                    raise _err(400, '0x80060888', "The value of '%s' is not an entity reference like "
                               "/accounts(<guid>)." % k)
                target, tid = m.group(1), m.group(2).strip("'")
                if target in self.sets and self.find(target, tid) is None:
                    raise self.missing(target, tid)
                out['_%s_value' % col] = tid.lower() if re.fullmatch(r'[0-9A-Fa-f-]{36}', tid) else tid
            elif '@' in k or k.startswith('@'):
                continue        # annotations
            elif re.fullmatch(r'_.+_value', k):
                raise _err(400, '0x80060888', "An undeclared property '%s' which only has property annotations "
                           "in the payload but no property value was found; write lookups with @odata.bind." % k)
            elif k in ('createdon', 'modifiedon', 'versionnumber'):
                continue        # set by the system
            else:
                out[k] = deep(v)
        return out

    def representation(self, req, s, rec, status):
        sel = self.select(req)
        out = {'@odata.context': self.context(s, sel, entity=True)}
        out.update(self.shape(s, rec, sel))
        return json_reply(status, out, ctype=JSON, headers=[
            ('OData-EntityId', '%s/%s(%s)' % (self.service(), s, rec[self.key(s)])),
            ('Preference-Applied', 'return=representation')])

    def create(self, req, s):
        body = self.body(req)
        cols = self.columns(s, body)
        key = self.key(s)
        missing = [f for f in REQUIRED.get(s, []) if blank(cols.get(f))]
        if missing:
            raise _err(400, '0x80040200', "Required field(s) %s missing for a %s: a value must be provided."
                       % (', '.join("'%s'" % f for f in missing), singular(s)))
        rid = cols.get(key) or str(uuid.uuid4())
        if not isinstance(rid, str):
            raise _err(400, '0x80040203', "The key '%s' must be a GUID in text." % key)
        if self.find(s, rid) is not None:
            raise _err(412, '0x80040237', 'A record with matching key values already exists.')
        t = fmt_d365(now())
        rec = {key: rid}
        rec.update(cols)
        rec[key] = rid
        rec['createdon'] = rec['modifiedon'] = t
        self.sets[s][rid] = rec
        self.bump(rid)
        if parse_prefer(req.header('prefer')).get('return') == 'representation':
            return self.representation(req, s, rec, 201)
        return Reply(204, headers=[('OData-EntityId', '%s/%s(%s)' % (self.service(), s, rid))])

    def update(self, req, s, rid):
        rec = self.find(s, rid)
        if rec is None:
            raise self.missing(s, rid)
        cols = self.columns(s, self.body(req))
        cols.pop(self.key(s), None)
        rec.update(cols)
        rec['modifiedon'] = fmt_d365(now())
        self.bump(rec[self.key(s)])
        if parse_prefer(req.header('prefer')).get('return') == 'representation':
            return self.representation(req, s, rec, 200)
        return Reply(204, headers=[('OData-EntityId', '%s/%s(%s)' % (self.service(), s, rec[self.key(s)]))])

    def delete(self, s, rid):
        rec = self.find(s, rid)
        if rec is None:
            raise self.missing(s, rid)
        k = rec[self.key(s)]
        del self.sets[s][k]
        self.deleted.setdefault(s, []).append(k)
        self.deleted_at.setdefault(s, {})[k] = self.tick()
        return Reply(204)

    # ------------------------------------------------------------ $batch

    def batch(self, req, partial):
        ctype = req.header('content-type') or ''
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if not ctype.lower().startswith('multipart/mixed') or not m:
            raise _err(400, '0x80060888', 'A $batch request needs Content-Type: multipart/mixed; boundary=...')
        items = []     # a request, or a list of them (a change set)
        for headers, body in split_multipart(req.body, m.group(1)):
            pct = headers.get('content-type', '')
            cm = re.search(r'boundary="?([^";]+)"?', pct)
            if pct.lower().startswith('multipart/mixed') and cm:
                items.append([parse_part(h, b) for h, b in split_multipart(body, cm.group(1))])
            else:
                items.append(parse_part(headers, body))
        count = sum(len(i) if isinstance(i, list) else 1 for i in items)
        if count > MAX_BATCH:
            raise _err(400, '0x8006088a', 'The number of requests in a batch exceeds the maximum of %d: %d were sent.'
                       % (MAX_BATCH, count))
        go_on = 'odata.continue-on-error' in parse_prefer(req.header('prefer'))
        out, n = [], 0
        for item in items:
            if isinstance(item, list):
                saved = deep((self.sets, self.deleted, self.versions, self.deleted_at))
                res = []
                for r in item:
                    res.append(self.run_part(r, n, partial))
                    n += 1
                    if res[-1].status >= 400:
                        break
                if res and res[-1].status >= 400:    # a change set is all or nothing
                    self.sets, self.deleted, self.versions, self.deleted_at = saved
                    out.append(res[-1])
                else:
                    out.append(res)
                failed = bool(res) and res[-1].status >= 400
            else:
                res = self.run_part(item, n, partial)
                n += 1
                out.append(res)
                failed = res.status >= 400
            if failed and not go_on:
                break
        boundary = 'batchresponse_' + str(uuid.uuid4())
        return Reply(200, render_multipart(boundary, out), 'multipart/mixed; boundary=' + boundary)

    def run_part(self, part, n, partial):
        if isinstance(part, Reply):          # a part that could not be parsed
            return part
        if partial and n % 2 == 1:
            return json_reply(400, {'error': {'code': '0x80040265', 'message': 'rejected by a business rule'}},
                              ctype=JSON)
        method, url, headers, body = part
        u = urlsplit(url)
        path = unquote(u.path)
        for prefix in ('/d365', API):
            if path.startswith(prefix + '/'):
                path = path[len(prefix):]
        if not path.startswith('/'):
            path = '/' + path
        sub = Request(method, path, u.query, headers, body)
        try:
            return self.data(sub, path)
        except ApiError as e:
            return e.reply

    # ------------------------------------------------------------ control

    def export(self):
        out = {s: [deep(r) for r in store.values()] for s, store in self.sets.items()}
        out['deleted'] = deep(self.deleted)
        if self.untracked:       # configuration, echoed so the state can seed again
            out['untracked'] = sorted(self.untracked)
        return out

    def touch(self, obj, rid, fields):
        s = self.set_of(obj)
        rec = self.find(s, rid) if s else None
        if rec is None:
            return None
        rec.update(self.columns(s, fields or {}))
        rec['modifiedon'] = fmt_d365(now())
        self.bump(rec[self.key(s)])
        return rec

    def add(self, obj, row):
        s = self.set_of(obj) or obj
        store = self.sets.setdefault(s, {})
        rec = self.columns(s, row)
        key = self.key(s)
        rec[key] = rec.get(key) or str(uuid.uuid4())
        t = fmt_d365(now())
        rec['createdon'] = row.get('createdon', t)
        rec['modifiedon'] = row.get('modifiedon', t)
        store[rec[key]] = rec
        self.bump(rec[key])
        return rec

    def delete_ui(self, obj, rid):
        s = self.set_of(obj)
        rec = self.find(s, rid) if s else None
        if rec is None:
            return None
        self.delete(s, rid)
        return rec

    def set_of(self, obj):
        """A set by its name or its table's logical name (lead -> leads)."""
        if obj in self.sets:
            return obj
        for s in self.sets:
            if singular(s) == obj:
                return s
        return None


# ---------------------------------------------------------------- multipart

def split_multipart(body, boundary):
    """[(headers with lower-case names, body bytes)] of a multipart body.
    Line ends may be CRLF or LF; the line end before a delimiter belongs to it."""
    delim = b'--' + boundary.encode('latin-1')
    segs = body.split(delim)
    parts = []
    for seg in segs[1:]:
        if seg.startswith(b'--'):
            break
        if seg.startswith(b'\r\n'):
            seg = seg[2:]
        elif seg.startswith(b'\n'):
            seg = seg[1:]
        if seg.endswith(b'\r\n'):
            seg = seg[:-2]
        elif seg.endswith(b'\n'):
            seg = seg[:-1]
        head, body_ = split_head(seg)
        parts.append((head, body_))
    return parts


def split_head(seg):
    """Headers (dict, lower-case names) and the rest, split at the first blank line."""
    if seg.startswith(b'\r\n'):
        return {}, seg[2:]
    if seg.startswith(b'\n'):
        return {}, seg[1:]
    m = re.search(b'\r?\n\r?\n', seg)
    head, rest = (seg[:m.start()], seg[m.end():]) if m else (seg, b'')
    headers = {}
    for line in head.decode('utf-8', 'replace').splitlines():
        k, sep, v = line.partition(':')
        if sep:
            k, v = k.strip().lower(), v.strip()
            # a header sent twice (two Prefer lines) reads as one, comma-joined
            headers[k] = headers[k] + ', ' + v if k in headers else v
    return headers, rest


def parse_part(headers, body):
    """(method, url, headers, body) of an application/http part, or an
    error Reply for the part."""
    m = re.match(rb'\s*([A-Z]+) (\S+)(?: HTTP/\d\.\d)?\r?\n', body)
    if not m:
        return json_reply(400, {'error': {'code': '0x80060888',
                                          'message': 'A $batch part does not start with a request line.'}}, ctype=JSON)
    h, b = split_head(body[m.end():])
    return m.group(1).decode(), m.group(2).decode('utf-8', 'replace'), h, b.rstrip(b'\r\n')


def _render_one(r):
    lines = ['HTTP/1.1 %d %s' % (r.status, reason(r.status))]
    if r.body:
        lines.append('Content-Type: %s' % (r.ctype or JSON))
    lines.append('OData-Version: 4.0')
    for k, v in r.headers:
        lines.append('%s: %s' % (k, v))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8') + r.body


def render_multipart(boundary, items):
    out = []
    for item in items:
        if isinstance(item, list):
            cs = 'changesetresponse_' + str(uuid.uuid4())
            inner = render_multipart(cs, item)
            out.append(('--%s\r\nContent-Type: multipart/mixed; boundary=%s\r\n\r\n' % (boundary, cs)).encode() + inner)
        else:
            out.append(('--%s\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n'
                        % boundary).encode() + _render_one(item) + b'\r\n')
    out.append(('--%s--\r\n' % boundary).encode())
    return b''.join(out)

