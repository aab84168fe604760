"""emu_sf.py - Salesforce REST (API v60.0) as tandem's connector uses it.

OAuth2 refresh-token login; SOQL query/queryAll with nextRecordsUrl
cursors; getDeleted; sObject rows created, updated and deleted one at a
time or through /composite/sobjects.  There is no schema: any field is
stored, except the few each object requires on create and the system
audit fields, which Salesforce itself refuses to take from a client.
"""
import re
from datetime import timedelta

import emu_soql
from emu_util import (ApiError, Reply, blank, deep, dumps, fmt_sf, get_ci, json_reply, key_ci, now, parse_form,
                      parse_time, random_token, set_ci, sort_rows)

API = '/services/data/v60.0'
QUEUE_ID = '00G000000000001AAA'   # the lead assignment queue Sforce-Auto-Assign: TRUE assigns to

KEY_PREFIXES = {'Lead': '00Q', 'Contact': '003', 'Account': '001', 'Opportunity': '006', 'User': '005',
                'Group': '00G', 'Task': '00T', 'Event': '00U', 'Campaign': '701', 'CampaignMember': '00v',
                'Case': '500'}
REQUIRED = {'Lead': ['LastName', 'Company'], 'Contact': ['LastName'], 'Account': ['Name'],
            'Opportunity': ['Name', 'StageName', 'CloseDate']}
# Set by Salesforce alone; a write naming one fails as it does in a real org.
AUDIT_FIELDS = ('CreatedDate', 'LastModifiedDate', 'SystemModstamp', 'IsDeleted', 'CreatedById',
                'LastModifiedById')
MAX_BATCH = 200


def _err(status, code, message, fields=None):
    e = {'message': message, 'errorCode': code}
    if fields is not None:
        e['fields'] = fields
    return ApiError(json_reply(status, [e]))


def _rec_err(code, message, fields=None):
    return {'statusCode': code, 'message': message, 'fields': fields or []}


class Salesforce:
    name = 'salesforce'

    def __init__(self, emu, seed, creds):
        self.emu = emu
        self.creds = {'client_id': 'cid', 'client_secret': 'csecret', 'refresh_token': 'rtoken'}
        self.creds.update(creds or {})
        self.objects = {t: {} for t in ('Lead', 'Contact', 'Account', 'Opportunity')}
        self.deleted = {}          # type -> [{"id", "deletedDate"}]
        self.tokens = set()
        self.usage = 0             # API requests, shown in Sforce-Limit-Info
        self.counter = 0
        self.cursors = {}          # query locator -> (rows, page size)
        seed = seed or {}
        for typ, rows in seed.items():
            if typ == 'deleted':
                continue
            if not isinstance(rows, list):
                raise ValueError("salesforce.%s must be a list of records" % typ)
            store = self.objects.setdefault(typ, {})
            for row in rows:
                if not isinstance(row, dict):
                    raise ValueError("salesforce.%s holds a record that is not an object" % typ)
                rec = {k: v for k, v in row.items() if k != 'attributes'}
                if not rec.get('Id'):
                    rec['Id'] = self.new_id(typ)
                rec['Id'] = str(rec['Id'])
                t = fmt_sf(now())
                rec.setdefault('SystemModstamp', t)
                rec.setdefault('CreatedDate', rec['SystemModstamp'])
                rec.setdefault('LastModifiedDate', rec['SystemModstamp'])
                rec.setdefault('IsDeleted', False)
                store[rec['Id']] = rec
                if rec['IsDeleted'] is True:
                    self.deleted.setdefault(typ, []).append({'id': rec['Id'], 'deletedDate': rec['SystemModstamp']})
        for typ, ids in (seed.get('deleted') or {}).items():
            have = {d['id'] for d in self.deleted.get(typ, [])}
            for i in ids:
                i = i.get('id') if isinstance(i, dict) else i
                if i not in have:
                    rec = self.objects.get(typ, {}).get(i)
                    when = rec['SystemModstamp'] if rec else fmt_sf(now())
                    self.deleted.setdefault(typ, []).append({'id': i, 'deletedDate': when})

    # ------------------------------------------------------------ plumbing

    def new_id(self, typ):
        """18 characters: the key prefix, a counter, 'AAA'; never one in use."""
        prefix = KEY_PREFIXES.get(typ, 'a0' + (typ[:1].upper() or 'X'))
        while True:
            self.counter += 1
            i = '%s%012dAAA' % (prefix, self.counter)
            if not any(i in s for s in self.objects.values()):
                return i

    def type_of(self, name):
        """The object's own spelling, or None: type names are case-insensitive."""
        for t in self.objects:
            if t.lower() == (name or '').lower():
                return t
        return None

    def find(self, typ, rid):
        """(type, record) by id, within typ when given; 15-character ids match
        their 18-character form."""
        if not isinstance(rid, str):
            return None, None
        types = [typ] if typ else list(self.objects)
        for t in types:
            store = self.objects.get(t, {})
            if rid in store:
                return t, store[rid]
            if isinstance(rid, str) and len(rid) == 15:
                for k, r in store.items():
                    if k[:15] == rid:
                        return t, r
        return None, None

    def expire_tokens(self):
        n = len(self.tokens)
        self.tokens.clear()
        return n

    def authorize(self, req):
        if req.path == '/services/oauth2/token':
            return None
        auth = req.header('authorization') or ''
        scheme, _, token = auth.partition(' ')
        if scheme.lower() in ('bearer', 'oauth') and token.strip() in self.tokens:
            self.usage += 1
            return None
        return json_reply(401, [{'message': 'Session expired or invalid', 'errorCode': 'INVALID_SESSION_ID'}],
                          headers=[('WWW-Authenticate', 'Token')])

    def decorate(self, reply):
        reply.headers.append(('Sforce-Limit-Info', 'api-usage=%d/15000' % self.usage))

    def is_batch(self, req):
        return req.path.rstrip('/') == API + '/composite/sobjects'

    def fault_reply(self, status, kind='status'):
        if kind == 'limit':
            return json_reply(403, [{'message': 'TotalRequests Limit exceeded.',
                                     'errorCode': 'REQUEST_LIMIT_EXCEEDED'}])
        code = {400: 'BAD_REQUEST', 401: 'INVALID_SESSION_ID', 403: 'FORBIDDEN', 404: 'NOT_FOUND',
                429: 'REQUEST_LIMIT_EXCEEDED', 500: 'UNKNOWN_EXCEPTION', 502: 'SERVER_UNAVAILABLE',
                503: 'SERVER_UNAVAILABLE'}.get(status, 'UNKNOWN_EXCEPTION')
        msg = {500: 'An unexpected error occurred. Please include this ErrorId if you contact support: 1-2-3',
               503: 'Server temporarily unavailable, please retry',
               429: 'Request limit exceeded, please retry'}.get(status, 'The emulator was told to fail this request')
        return json_reply(status, [{'message': msg, 'errorCode': code}])

    # ------------------------------------------------------------ routing

    def handle(self, req, partial=False):
        try:
            return self._route(req, partial)
        except ApiError as e:
            return e.reply

    def _route(self, req, partial):
        p, m = req.path, req.method
        if p == '/services/oauth2/token':
            if m != 'POST':
                raise _err(405, 'METHOD_NOT_ALLOWED', "HTTP Method '%s' not allowed. Allowed are POST" % m)
            return self.token(req)
        if not (p + '/').startswith(API + '/'):
            raise _err(404, 'NOT_FOUND', 'The requested resource does not exist')
        parts = [x for x in p[len(API):].split('/') if x]

        def allow(*methods):
            if m not in methods:
                raise _err(405, 'METHOD_NOT_ALLOWED',
                           "HTTP Method '%s' not allowed. Allowed are %s" % (m, ','.join(methods)))

        if parts and parts[0] in ('query', 'queryAll'):
            allow('GET')
            if len(parts) == 1:
                return self.query(req, parts[0] == 'queryAll')
            if len(parts) == 2:
                return self.more(req, parts[1])
        elif parts == ['composite', 'sobjects']:
            allow('POST', 'PATCH', 'DELETE')
            return self.composite(req, partial)
        elif len(parts) >= 2 and parts[0] == 'sobjects':
            typ = self.type_of(parts[1])
            if not typ:
                raise _err(404, 'NOT_FOUND', "The requested resource does not exist: sObject type '%s'" % parts[1])
            if len(parts) == 2:
                allow('POST')
                return self.create_one(req, typ)
            if len(parts) == 3 and parts[2] == 'deleted':
                allow('GET')
                return self.get_deleted(req, typ)
            if len(parts) == 3:
                allow('GET', 'PATCH', 'DELETE')
                return {'GET': self.get_one, 'PATCH': self.update_one, 'DELETE': self.delete_one}[m](req, typ, parts[2])
        raise _err(404, 'NOT_FOUND', 'The requested resource does not exist')

    def body(self, req):
        try:
            return req.json()
        except ValueError as e:
            raise _err(400, 'JSON_PARSER_ERROR', 'Unexpected character in the request body: %s' % e)

    # ------------------------------------------------------------ auth

    def token(self, req):
        form = {**dict(req.params), **parse_form(req.body)}
        if form.get('grant_type') != 'refresh_token':
            return json_reply(400, {'error': 'unsupported_grant_type', 'error_description': 'grant type not supported'})
        if any(form.get(k) != self.creds.get(k) for k in ('client_id', 'client_secret', 'refresh_token')):
            return json_reply(400, {'error': 'invalid_grant', 'error_description': 'expired access/refresh token'})
        token = '00D000000000001!' + random_token(96)
        self.tokens.add(token)
        t = now()
        return json_reply(200, {
            'access_token': token,
            'instance_url': self.emu.base_url + '/sf',
            'id': self.emu.base_url + '/sf/id/00D000000000001AAA/005000000000001AAA',
            'token_type': 'Bearer',
            'issued_at': str(int(t.timestamp() * 1000)),
            'signature': random_token(43) + '=',
            'scope': 'api refresh_token',
        })

    # ------------------------------------------------------------ reading

    def batch_size(self, req, default=2000):
        opts = req.header('sforce-query-options') or ''
        m = re.search(r'batchSize\s*=\s*(\d+)', opts, re.I)
        return max(200, min(2000, int(m.group(1)))) if m else default

    def query(self, req, include_deleted):
        q = req.param('q')
        if q is None:
            raise _err(400, 'MALFORMED_QUERY', "The query parameter 'q' is required")
        try:
            qu = emu_soql.parse(q)
        except emu_soql.SoqlError as e:
            raise _err(400, 'MALFORMED_QUERY', str(e))
        typ = self.type_of(qu.obj)
        if not typ:
            raise _err(400, 'INVALID_TYPE', "sObject type '%s' is not supported. If you are attempting to use a "
                       "custom object, be sure to append the '__c' after the entity name." % qu.obj)
        rows = [r for r in self.objects[typ].values()
                if (include_deleted or r.get('IsDeleted') is not True) and emu_soql.matches(qu.where, r)]
        rows = sort_rows(rows, qu.order, emu_soql.field_value)
        rows = rows[qu.offset:]
        if qu.limit is not None:
            rows = rows[:qu.limit]
        # the answer is a snapshot, as a real query cursor is
        rows = [self.project(typ, r, qu.fields) for r in rows]
        return self.page(rows, 0, self.batch_size(req), None)

    def project(self, typ, rec, fields):
        out = {'attributes': {'type': typ, 'url': '%s/sobjects/%s/%s' % (API, typ, rec.get('Id'))}}
        for f in fields:
            head, _, rest = f.partition('.')
            k = key_ci(rec, head) or head
            if not rest:
                out[k] = deep(rec.get(k))
                continue
            # a relationship field: {"Owner": {"Name": ...}}, null when absent
            parent = rec.get(k)
            if not isinstance(parent, dict):
                out.setdefault(k, None)
                continue
            sub = out.get(k) if isinstance(out.get(k), dict) else {}
            sk = key_ci(parent, rest.split('.')[0]) or rest
            sub[sk] = deep(emu_soql.field_value(parent, rest))
            out[k] = sub
        return out

    def page(self, rows, offset, size, cursor):
        chunk = rows[offset:offset + size]
        done = offset + size >= len(rows)
        ans = {'totalSize': len(rows), 'done': done}
        if not done:
            if cursor is None:
                cursor = '01g' + random_token(15)
                self.cursors[cursor] = (rows, size)
            ans['nextRecordsUrl'] = '%s/query/%s-%d' % (API, cursor, offset + size)
        ans['records'] = chunk
        return json_reply(200, ans, ctype='application/json;charset=UTF-8')

    def more(self, req, locator):
        cursor, _, off = locator.rpartition('-')
        if cursor not in self.cursors or not off.isdigit():
            raise _err(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator')
        rows, size = self.cursors[cursor]
        return self.page(rows, int(off), self.batch_size(req, size), cursor)

    def get_one(self, req, typ, rid):
        _, rec = self.find(typ, rid)
        if rec is None:
            raise _err(404, 'NOT_FOUND', 'The requested resource does not exist')
        if rec.get('IsDeleted') is True:
            raise _err(404, 'ENTITY_IS_DELETED', 'entity is deleted')
        out = {'attributes': {'type': typ, 'url': '%s/sobjects/%s/%s' % (API, typ, rec['Id'])}}
        out.update(deep(rec))
        return json_reply(200, out, ctype='application/json;charset=UTF-8')

    def get_deleted(self, req, typ):
        start_s, end_s = req.param('start'), req.param('end')
        if not start_s or not end_s:
            raise _err(400, 'MISSING_ARGUMENT', 'The start and end parameters are required')
        start, end = parse_time(start_s), parse_time(end_s)
        if not start or not end:
            raise _err(400, 'INVALID_REPLICATION_DATE', 'start and end must be ISO 8601 date-times')
        if end < start:
            raise _err(400, 'INVALID_REPLICATION_DATE', 'end date cannot be before start date')
        rows = [dict(d) for d in self.deleted.get(typ, []) if start <= parse_time(d['deletedDate']) <= end]
        earliest = now() - timedelta(days=15)
        for d in self.deleted.get(typ, []):
            earliest = min(earliest, parse_time(d['deletedDate']))
        return json_reply(200, {'deletedRecords': rows,
                                'earliestDateAvailable': fmt_sf(earliest.replace(second=0, microsecond=0)),
                                'latestDateCovered': fmt_sf(end)}, ctype='application/json;charset=UTF-8')

    # ------------------------------------------------------------ writing
    #
    # check_* find what is wrong with one write and return its error (a
    # result's errors entry) or None; apply_* then store it.  Composite
    # requests check every record before storing any, which allOrNone needs.

    def audit_error(self, fields):
        bad = [k for k in fields if any(k.lower() == a.lower() for a in AUDIT_FIELDS)]
        if bad:
            return _rec_err('INVALID_FIELD_FOR_INSERT_UPDATE',
                            'Unable to create/update fields: %s. Please check the security settings of this '
                            'field and verify that it is read/write for your profile or permission set.'
                            % ', '.join(bad), bad)
        return None

    def check_create(self, typ, fields):
        if not typ:
            return _rec_err('INVALID_TYPE', 'Must specify a type for each sObject (attributes.type)')
        if key_ci(fields, 'Id'):
            return _rec_err('INVALID_FIELD_FOR_INSERT_UPDATE', 'cannot specify Id in an insert call', ['Id'])
        err = self.audit_error(fields)
        if err:
            return err
        missing = [f for f in REQUIRED.get(typ, []) if blank(get_ci(fields, f))]
        if missing:
            return _rec_err('REQUIRED_FIELD_MISSING', 'Required fields are missing: [%s]' % ', '.join(missing), missing)
        return None

    def apply_create(self, typ, fields, auto_assign):
        rid = self.new_id(typ)
        t = fmt_sf(now())
        rec = {'Id': rid}
        rec.update(deep(fields))
        if typ == 'Lead' and auto_assign:
            set_ci(rec, 'OwnerId', QUEUE_ID)
        rec.update({'IsDeleted': False, 'CreatedDate': t, 'LastModifiedDate': t, 'SystemModstamp': t})
        self.objects[typ][rid] = rec
        return rid

    def check_update(self, typ, rid, fields):
        if not typ:
            return _rec_err('INVALID_TYPE', 'Must specify a type for each sObject (attributes.type)')
        if not rid:
            return _rec_err('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id'])
        if not isinstance(rid, str):
            return _rec_err('MALFORMED_ID', 'id value of incorrect type: %s' % dumps(rid), ['Id'])
        _, rec = self.find(typ, rid)
        if rec is None:
            return _rec_err('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id')
        if rec.get('IsDeleted') is True:
            return _rec_err('ENTITY_IS_DELETED', 'entity is deleted')
        return self.audit_error(fields)

    def apply_update(self, typ, rid, fields):
        _, rec = self.find(typ, rid)
        for k, v in fields.items():
            if k.lower() != 'id':
                set_ci(rec, k, deep(v))
        t = fmt_sf(now())
        rec['LastModifiedDate'] = rec['SystemModstamp'] = t
        return rec['Id']

    def check_delete(self, typ, rid):
        _, rec = self.find(typ, rid)
        if rec is None:
            return _rec_err('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id')
        if rec.get('IsDeleted') is True:
            return _rec_err('ENTITY_IS_DELETED', 'entity is deleted')
        return None

    def apply_delete(self, typ, rid):
        typ, rec = self.find(typ, rid)
        t = fmt_sf(now())
        rec['IsDeleted'] = True
        rec['LastModifiedDate'] = rec['SystemModstamp'] = t
        self.deleted.setdefault(typ, []).append({'id': rec['Id'], 'deletedDate': t})
        return rec['Id']

    def auto_assign(self, req):
        # Salesforce's documented default is TRUE; only FALSE (or 0) turns it off
        return (req.header('sforce-auto-assign') or 'TRUE').strip().lower() not in ('false', '0')

    def composite(self, req, partial):
        m = req.method
        if m == 'DELETE':
            ids = [i for i in (req.param('ids') or '').split(',') if i]
            all_or_none = (req.param('allOrNone') or 'false').lower() == 'true'
            if not ids:
                raise _err(400, 'MISSING_ARGUMENT', 'ids parameter is required')
            items = [(None, i, None) for i in ids]
        else:
            body = self.body(req)
            if not isinstance(body, dict) or not isinstance(body.get('records'), list):
                raise _err(400, 'JSON_PARSER_ERROR', 'The request body needs a "records" array')
            all_or_none = body.get('allOrNone') is True
            items = []
            for r in body['records']:
                if not isinstance(r, dict):
                    raise _err(400, 'JSON_PARSER_ERROR', 'Each of "records" must be a JSON object')
                attrs = r.get('attributes') if isinstance(r.get('attributes'), dict) else {}
                fields = {k: v for k, v in r.items() if k != 'attributes'}
                rid = None
                if m == 'PATCH':
                    idk = key_ci(fields, 'id')
                    rid = fields.pop(idk) if idk else None
                items.append((self.type_of(attrs.get('type')), rid, fields))
        if len(items) > MAX_BATCH:
            raise _err(400, 'INVALID_BATCH_SIZE',
                       'The number of records in a batch must be at most %d; %d were sent' % (MAX_BATCH, len(items)))

        errors = []
        for n, (typ, rid, fields) in enumerate(items):
            if partial and n % 2 == 1:
                errors.append(_rec_err('FIELD_CUSTOM_VALIDATION_EXCEPTION', 'rejected by a validation rule'))
            elif m == 'POST':
                errors.append(self.check_create(typ, fields))
            elif m == 'PATCH':
                errors.append(self.check_update(typ, rid, fields))
            else:
                errors.append(self.check_delete(None, rid))
        if all_or_none and any(errors):
            rolled = _rec_err('ALL_OR_NONE_OPERATION_ROLLED_BACK', 'Record rolled back because not all records '
                              'were valid and the request was using AllOrNone header')
            return json_reply(200, [{'success': False, 'errors': [e or rolled]} for e in errors])
        out = []
        assign = self.auto_assign(req)
        for (typ, rid, fields), e in zip(items, errors):
            if e:
                res = {'success': False, 'errors': [e]}
                if m == 'DELETE' or rid:
                    res = {'id': rid, **res}
                out.append(res)
                continue
            if m == 'POST':
                new = self.apply_create(typ, fields, assign)
            elif m == 'PATCH':
                new = self.apply_update(typ, rid, fields)
            else:
                new = self.apply_delete(None, rid)
            out.append({'id': new, 'success': True, 'errors': []})
        return json_reply(200, out)

    def _one_error(self, e, status=400):
        out = {'message': e['message'], 'errorCode': e['statusCode'], 'fields': e['fields']}
        return ApiError(json_reply(status, [out]))

    def create_one(self, req, typ):
        fields = self.body(req)
        if not isinstance(fields, dict):
            raise _err(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object')
        fields = {k: v for k, v in fields.items() if k != 'attributes'}
        e = self.check_create(typ, fields)
        if e:
            raise self._one_error(e)
        rid = self.apply_create(typ, fields, self.auto_assign(req))
        return json_reply(201, {'id': rid, 'success': True, 'errors': []},
                          headers=[('Location', '%s/sobjects/%s/%s' % (API, typ, rid))])

    def update_one(self, req, typ, rid):
        fields = self.body(req)
        if not isinstance(fields, dict):
            raise _err(400, 'JSON_PARSER_ERROR', 'The request body must be a JSON object')
        fields = {k: v for k, v in fields.items() if k != 'attributes'}
        idk = key_ci(fields, 'Id')
        if idk and fields[idk] == rid:
            del fields[idk]
        e = self.check_update(typ, rid, fields)
        if e:
            raise self._one_error(e, 404 if e['statusCode'] in ('INVALID_CROSS_REFERENCE_KEY', 'ENTITY_IS_DELETED')
                                  else 400)
        self.apply_update(typ, rid, fields)
        return Reply(204)

    def delete_one(self, req, typ, rid):
        _, rec = self.find(typ, rid)
        if rec is None:
            raise _err(404, 'NOT_FOUND', 'The requested resource does not exist')
        if rec.get('IsDeleted') is True:
            raise _err(404, 'ENTITY_IS_DELETED', 'entity is deleted')
        self.apply_delete(typ, rid)
        return Reply(204)

    # ------------------------------------------------------------ control

    def export(self):
        out = {t: [deep(r) for r in store.values()] for t, store in self.objects.items()}
        out['deleted'] = {t: [d['id'] for d in ds] for t, ds in self.deleted.items()}
        return out

    def touch(self, obj, rid, fields):
        typ = self.type_of(obj)
        _, rec = self.find(typ, rid) if typ else (None, None)
        if rec is None:
            return None
        for k, v in (fields or {}).items():
            set_ci(rec, k, deep(v))
        t = fmt_sf(now())
        rec['LastModifiedDate'] = rec['SystemModstamp'] = t
        return rec

    def add(self, obj, row):
        typ = self.type_of(obj) or obj
        store = self.objects.setdefault(typ, {})
        rec = deep(row)
        rec.pop('attributes', None)
        rec.setdefault('Id', self.new_id(typ))
        t = fmt_sf(now())
        for k in ('CreatedDate', 'LastModifiedDate', 'SystemModstamp'):
            rec.setdefault(k, t)
        rec.setdefault('IsDeleted', False)
        store[rec['Id']] = rec
        return rec

    def delete_ui(self, obj, rid):
        typ = self.type_of(obj)
        _, rec = self.find(typ, rid) if typ else (None, None)
        if rec is None or rec.get('IsDeleted') is True:
            return None
        self.apply_delete(typ, rid)
        return rec
