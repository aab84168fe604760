"""emu_gr.py - GetResponse API v3 as tandem's connector uses it.

X-Auth-Token auth; contact lists with query[...] filters, sort[...] and
page/perPage paging counted in headers; a contact's tags and custom field
values (only when it is read by id); creates that answer 202 with no
body yet are readable at once; updates, tag and custom-field additions,
deletes; campaigns, tags and custom fields.  Every answer carries the
X-RateLimit-* headers.
"""
import fnmatch
import math
import re
import string
import time
import uuid

from emu_util import ApiError, Reply, deep, fmt_gr, json_reply, now, parse_time, random_token, sort_rows

API = '/v3'
MAX_PER_PAGE = 1000
RATE_LIMIT = 30000          # requests in a 10-minute window
# the keys a contact's create and update take as given
CONTACT_KEYS = ('name', 'email', 'dayOfCycle', 'note', 'scoring', 'ipAddress', 'timeZone')


def gr_error(status, code, description, message, context=None):
    return json_reply(status, {'httpStatus': status, 'code': code, 'codeDescription': description,
                               'message': message, 'moreInfo': 'https://apidocs.getresponse.com/v3/errors/%d' % code,
                               'context': context if context is not None else [], 'uuid': str(uuid.uuid4())})


def _invalid(message, field):
    return ApiError(gr_error(400, 1000, 'General error of validation process, more details should be in context '
                             'section', 'Some of the fields are invalid',
                             [{'fieldName': [field], 'errorDescription': message}]))


class GetResponse:
    name = 'getresponse'

    def __init__(self, emu, seed, creds):
        self.emu = emu
        self.creds = {'api_key': 'gr-key'}
        self.creds.update(creds or {})
        self.contacts = {}
        self.meta = {'campaigns': {}, 'tags': {}, 'custom-fields': {}}   # by their ids
        self.deleted = {}
        self.window = (0, 0)     # (10-minute window number, requests in it)
        seed = seed or {}
        for part, rows in seed.items():
            if part == 'deleted':
                continue
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ValueError("getresponse.%s must be a list of objects" % part)
            if part == 'contacts':
                for r in rows:
                    r = deep(r)
                    r['contactId'] = r.get('contactId') or self.new_id(self.contacts)
                    t = fmt_gr(now())
                    r.setdefault('changedOn', t)
                    r.setdefault('createdOn', r['changedOn'])
                    self.contacts[r['contactId']] = r
            elif part in self.meta:
                idk = self.id_key(part)
                for r in rows:
                    r = deep(r)
                    r[idk] = r.get(idk) or self.new_id(self.meta[part])
                    self.meta[part][r[idk]] = r
            else:
                raise ValueError("getresponse has no part '%s' (contacts, campaigns, tags, custom-fields)" % part)
        for part, ids in (seed.get('deleted') or {}).items():
            self.deleted.setdefault(part, []).extend(ids)

    # ------------------------------------------------------------ plumbing

    @staticmethod
    def id_key(part):
        return {'campaigns': 'campaignId', 'tags': 'tagId', 'custom-fields': 'customFieldId'}[part]

    def new_id(self, store):
        while True:
            i = random_token(5, string.ascii_letters + string.digits)
            if i not in store:
                return i

    def href(self, *parts):
        return '%s/gr%s/%s' % (self.emu.base_url, API, '/'.join(parts))

    def expire_tokens(self):
        return 0

    def authorize(self, req):
        sent = req.header('x-auth-token') or ''
        scheme, _, key = sent.strip().partition(' ')
        if scheme.lower() == 'api-key' and key.strip() == self.creds.get('api_key'):
            return None
        return json_reply(401, {'httpStatus': 401, 'code': 1014,
                                'codeDescription': 'Problem during authentication process, check headers!',
                                'message': 'Unable to authenticate request. Check credentials or authentication '
                                           'method details',
                                'moreInfo': 'https://apidocs.getresponse.com/v3/errors/1014',
                                'context': {'sentToken': key.strip() or sent}, 'uuid': str(uuid.uuid4())})

    def decorate(self, reply):
        w = int(time.time() // 600)
        n = self.window[1] + 1 if self.window[0] == w else 1
        self.window = (w, n)
        reset = int((w + 1) * 600 - time.time())
        reply.headers += [('X-RateLimit-Limit', str(RATE_LIMIT)),
                          ('X-RateLimit-Remaining', str(max(0, RATE_LIMIT - n))),
                          ('X-RateLimit-Reset', '%d seconds' % max(reset, 0))]

    def is_batch(self, req):
        return req.method == 'POST' and req.path.rstrip('/').endswith('/contacts/batch')

    def fault_reply(self, status, kind='status'):
        code, desc = {429: (1018, 'Your request limit has been exceeded'),
                      500: (1, 'Internal error'), 503: (1, 'Service unavailable')}.get(
            status, (1, 'The emulator was told to fail this request'))
        return gr_error(status, code, desc, desc)

    # ------------------------------------------------------------ routing

    def handle(self, req, partial=False):
        try:
            return self._route(req)
        except ApiError as e:
            return e.reply

    def _route(self, req):
        if not (req.path + '/').startswith(API + '/'):
            raise ApiError(self.not_found('resource'))
        parts = [p for p in req.path[len(API):].split('/') if p]
        m = req.method
        if parts and parts[0] == 'contacts':
            if len(parts) == 2 and parts[1] == 'batch' and m == 'POST':
                return self.create_batch(req)
            if len(parts) == 1:
                if m == 'GET':
                    return self.list_contacts(req)
                if m == 'POST':
                    return self.create(req)
            elif len(parts) == 2:
                if m == 'GET':
                    return self.get_contact(req, parts[1])
                if m == 'POST':
                    return self.update(req, parts[1])
                if m == 'DELETE':
                    return self.delete(parts[1])
            elif len(parts) == 3 and parts[2] == 'tags' and m == 'POST':
                return self.add_tags(req, parts[1])
            elif len(parts) == 3 and parts[2] == 'custom-fields' and m == 'POST':
                return self.add_values(req, parts[1])
        elif parts and parts[0] in self.meta:
            part = parts[0]
            if len(parts) == 1 and m == 'GET':
                return self.paged(req, [deep(r) for r in self.meta[part].values()])
            if len(parts) == 1 and m == 'POST' and part in ('tags', 'custom-fields'):
                return self.create_meta(req, part)
            if len(parts) == 2 and m == 'GET':
                r = self.meta[part].get(parts[1])
                if r is None:
                    raise ApiError(self.not_found(part[:-1]))
                return json_reply(200, deep(r))
        raise ApiError(self.not_found('resource'))

    def not_found(self, what):
        return gr_error(404, 1013, 'Resource not found', 'The requested %s was not found' % what)

    def body(self, req):
        try:
            b = req.json()
        except ValueError:
            raise ApiError(gr_error(400, 1000, 'General error of validation process, more details should be in '
                                    'context section', 'The request body is not valid JSON'))
        if not isinstance(b, dict):
            raise ApiError(gr_error(400, 1000, 'General error of validation process, more details should be in '
                                    'context section', 'The request body must be a JSON object'))
        return b

    def contact(self, cid):
        c = self.contacts.get(cid)
        if c is None:
            raise ApiError(self.not_found('contact'))
        return c

    # ------------------------------------------------------------ reading

    def paged(self, req, rows):
        """A page of rows as a JSON array, counted in TotalCount, TotalPages
        and CurrentPage; a page past the end is []."""
        try:
            page = max(1, int(req.param('page', '1')))
            per = int(req.param('perPage', '100'))
        except ValueError:
            raise _invalid('page and perPage must be whole numbers', 'page')
        per = max(1, min(per, MAX_PER_PAGE))
        chunk = rows[(page - 1) * per: page * per]
        return json_reply(200, chunk, headers=[('TotalCount', str(len(rows))),
                                               ('TotalPages', str(math.ceil(len(rows) / per))),
                                               ('CurrentPage', str(page))])

    def contact_out(self, c, full):
        out = deep(c)
        out['href'] = out.get('href') or self.href('contacts', c['contactId'])
        camp = out.get('campaign')
        if isinstance(camp, dict) and camp.get('campaignId'):
            meta = self.meta['campaigns'].get(camp['campaignId'], {})
            camp.setdefault('name', meta.get('name'))
            camp.setdefault('href', self.href('campaigns', camp['campaignId']))
        if not full:
            out.pop('tags', None)
            out.pop('customFieldValues', None)
            return out
        tags = []
        for t in c.get('tags') or []:
            meta = self.meta['tags'].get(t.get('tagId'), {})
            tags.append({'tagId': t.get('tagId'), 'name': meta.get('name', t.get('name')),
                         'href': self.href('tags', str(t.get('tagId'))), 'color': meta.get('color', '')})
        out['tags'] = tags
        values = []
        for v in c.get('customFieldValues') or []:
            meta = self.meta['custom-fields'].get(v.get('customFieldId'), {})
            values.append({'customFieldId': v.get('customFieldId'), 'name': meta.get('name', v.get('name')),
                           'value': deep(v.get('value')), 'values': deep(v.get('value')),
                           'type': meta.get('type', v.get('type', 'text')),
                           'fieldType': meta.get('fieldType', meta.get('type', 'text')),
                           'valueType': meta.get('valueType', 'string')})
        out['customFieldValues'] = values
        return out

    def list_contacts(self, req):
        rows = list(self.contacts.values())
        for field in ('email', 'name'):
            want = req.param('query[%s]' % field)
            if want is not None:
                # GetResponse searches with * as a wildcard; case does not matter
                pat = want.strip().casefold()
                rows = [c for c in rows if fnmatch.fnmatchcase(str(c.get(field) or '').casefold(), pat)]
        camp = req.param('query[campaignId]')
        if camp:
            ids = {i.strip() for i in camp.split(',')}
            rows = [c for c in rows if isinstance(c.get('campaign'), dict) and c['campaign'].get('campaignId') in ids]
        for field in ('changedOn', 'createdOn'):
            for end in ('from', 'to'):
                v = req.param('query[%s][%s]' % (field, end))
                if v is None:
                    continue
                t = parse_time(v)
                if t is None:
                    raise _invalid('query[%s][%s] is not a date: %s' % (field, end, v), field)
                # from and to are inclusive
                rows = [c for c in rows if parse_time(c.get(field)) is not None
                        and (parse_time(c.get(field)) >= t if end == 'from' else parse_time(c.get(field)) <= t)]
        keys = []
        for k, v in req.params:
            m = re.fullmatch(r'sort\[(\w+)\]', k)
            if m:
                field = {'campaignId': 'campaign'}.get(m.group(1), m.group(1))
                keys.append((field, v.strip().upper() == 'DESC', None))
        rows = sort_rows(rows, keys, lambda c, f: c['campaign'].get('campaignId')
                         if f == 'campaign' and isinstance(c.get('campaign'), dict) else c.get(f))
        out = [self.contact_out(c, False) for c in rows]
        fields = req.param('fields')
        if fields:
            keep = {f.strip() for f in fields.split(',')} | {'contactId'}
            out = [{k: v for k, v in c.items() if k in keep} for c in out]
        return self.paged(req, out)

    def get_contact(self, req, cid):
        return json_reply(200, self.contact_out(self.contact(cid), True))

    # ------------------------------------------------------------ writing

    def check_campaign(self, camp):
        if not isinstance(camp, dict) or not camp.get('campaignId') or not isinstance(camp['campaignId'], str):
            raise _invalid('campaign.campaignId is required', 'campaign')
        if camp['campaignId'] not in self.meta['campaigns']:
            raise _invalid('Campaign %s does not exist' % camp['campaignId'], 'campaign')
        return camp['campaignId']

    def duplicate(self, email, campaign, but=None):
        for c in self.contacts.values():
            if c['contactId'] != but and str(c.get('email', '')).casefold() == email.strip().casefold() \
                    and isinstance(c.get('campaign'), dict) and c['campaign'].get('campaignId') == campaign:
                raise ApiError(gr_error(409, 1008, 'Contact already added', 'Contact already added',
                                        ['Contact %s is already in campaign %s' % (email, campaign)]))

    def tag_list(self, tags):
        if not isinstance(tags, list) or not all(isinstance(t, dict) and t.get('tagId')
                                                 and isinstance(t['tagId'], str) for t in tags):
            raise _invalid('tags must be a list of {"tagId"}', 'tags')
        return [{'tagId': t['tagId']} for t in tags]

    def value_list(self, values):
        if not isinstance(values, list) or not all(
                isinstance(v, dict) and v.get('customFieldId') and isinstance(v['customFieldId'], str)
                and isinstance(v.get('value'), list) for v in values):
            raise _invalid('customFieldValues must be a list of {"customFieldId", "value": [...]}',
                           'customFieldValues')
        return [{'customFieldId': v['customFieldId'], 'value': deep(v['value'])} for v in values]

    def check_email(self, email):
        if not isinstance(email, str) or not re.fullmatch(r'[^@\s]+@[^@\s]+\.[^@\s]+', email.strip()):
            raise _invalid('email: invalid email address', 'email')

    def create(self, req):
        b = self.body(req)
        self.check_email(b.get('email'))
        camp = self.check_campaign(b.get('campaign'))
        self.duplicate(b['email'], camp)
        t = fmt_gr(now())
        cid = self.new_id(self.contacts)
        c = {'contactId': cid, 'href': self.href('contacts', cid), 'name': None, 'email': b['email'].strip(),
             'origin': 'api', 'createdOn': t, 'changedOn': t, 'campaign': {'campaignId': camp,
             'name': self.meta['campaigns'][camp].get('name'), 'href': self.href('campaigns', camp)}}
        for k in CONTACT_KEYS:
            if k in b and k != 'email':
                c[k] = deep(b[k])
        c['tags'] = self.tag_list(b['tags']) if 'tags' in b else []
        c['customFieldValues'] = self.value_list(b['customFieldValues']) if 'customFieldValues' in b else []
        self.contacts[cid] = c
        # GetResponse queues a create and names nothing; the emulator stores it at once
        return Reply(202)

    def create_batch(self, req):
        """POST /contacts/batch: up to 1000 contacts into one campaign,
        202 and no body; a contact already in the campaign is passed over
        (an import does not fail on it), a bad one fails the whole call."""
        b = self.body(req)
        camp = b.get('campaignId')
        if not isinstance(camp, str) or camp not in self.meta['campaigns']:
            raise _invalid('campaignId: no such campaign', 'campaignId')
        rows = b.get('contacts')
        if not isinstance(rows, list) or not rows or len(rows) > 1000:
            raise _invalid('contacts: 1 to 1000 contacts', 'contacts')
        for r in rows:
            if not isinstance(r, dict):
                raise _invalid('contacts: each contact is an object', 'contacts')
            self.check_email(r.get('email'))
        t = fmt_gr(now())
        for r in rows:
            email = r['email'].strip()
            if any(c.get('email', '').lower() == email.lower() and isinstance(c.get('campaign'), dict)
                   and c['campaign'].get('campaignId') == camp for c in self.contacts.values()):
                continue
            cid = self.new_id(self.contacts)
            c = {'contactId': cid, 'href': self.href('contacts', cid), 'name': r.get('name'), 'email': email,
                 'origin': 'import', 'createdOn': t, 'changedOn': t,
                 'campaign': {'campaignId': camp, 'name': self.meta['campaigns'][camp].get('name'),
                              'href': self.href('campaigns', camp)},
                 'tags': [], 'customFieldValues': self.value_list(r['customFieldValues'])
                 if 'customFieldValues' in r else []}
            self.contacts[cid] = c
        return Reply(202)

    def update(self, req, cid):
        c = self.contact(cid)
        b = self.body(req)
        camp = c['campaign'].get('campaignId') if isinstance(c.get('campaign'), dict) else None
        if 'campaign' in b:
            camp = self.check_campaign(b['campaign'])
        if 'email' in b:
            self.check_email(b['email'])
        self.duplicate(b.get('email', c.get('email', '')), camp, but=cid)
        tags = self.tag_list(b['tags']) if 'tags' in b else None
        values = self.value_list(b['customFieldValues']) if 'customFieldValues' in b else None
        for k in CONTACT_KEYS:
            if k in b:
                c[k] = deep(b[k])
        if 'campaign' in b:
            c['campaign'] = {'campaignId': camp, 'name': self.meta['campaigns'][camp].get('name'),
                             'href': self.href('campaigns', camp)}
        if tags is not None:       # given, they replace
            c['tags'] = tags
        if values is not None:
            c['customFieldValues'] = values
        c['changedOn'] = fmt_gr(now())
        return json_reply(200, self.contact_out(c, True))

    def add_tags(self, req, cid):
        c = self.contact(cid)
        tags = self.tag_list(self.body(req).get('tags'))
        have = c.setdefault('tags', [])
        for t in tags:
            if all(h.get('tagId') != t['tagId'] for h in have):
                have.append(t)
        c['changedOn'] = fmt_gr(now())
        return json_reply(200, self.contact_out(c, True)['tags'])

    def add_values(self, req, cid):
        c = self.contact(cid)
        values = self.value_list(self.body(req).get('customFieldValues'))
        have = c.setdefault('customFieldValues', [])
        for v in values:
            old = next((h for h in have if h.get('customFieldId') == v['customFieldId']), None)
            if old is None:
                have.append(v)
            else:
                old['value'] = v['value']
        c['changedOn'] = fmt_gr(now())
        return json_reply(200, self.contact_out(c, True))

    def delete(self, cid):
        self.contact(cid)
        del self.contacts[cid]
        self.deleted.setdefault('contacts', []).append(cid)
        return Reply(204)

    def create_meta(self, req, part):
        b = self.body(req)
        name = b.get('name')
        if not isinstance(name, str) or not name.strip():
            raise _invalid('name is required', 'name')
        if any(str(r.get('name', '')).casefold() == name.casefold() for r in self.meta[part].values()):
            raise ApiError(gr_error(409, 1008, 'Resource already exists', '%s "%s" already exists'
                                    % ('Tag' if part == 'tags' else 'Custom field', name)))
        idk = self.id_key(part)
        rid = self.new_id(self.meta[part])
        row = {idk: rid, 'href': self.href(part, rid), 'name': name}
        if part == 'tags':
            row.update({'color': b.get('color', ''), 'createdAt': fmt_gr(now())})
        else:
            typ = b.get('type', 'text')
            row.update({'type': typ, 'fieldType': typ, 'format': b.get('format', typ), 'valueType': 'string',
                        'hidden': b.get('hidden', 'false'), 'values': deep(b.get('values', []))})
        self.meta[part][rid] = row
        return json_reply(201, deep(row))

    # ------------------------------------------------------------ control

    def export(self):
        out = {'contacts': [deep(c) for c in self.contacts.values()]}
        for part, rows in self.meta.items():
            out[part] = [deep(r) for r in rows.values()]
        out['deleted'] = deep(self.deleted)
        return out

    def touch(self, obj, rid, fields):
        store = self.contacts if obj == 'contacts' else self.meta.get(obj)
        row = store.get(rid) if store is not None else None
        if row is None:
            return None
        for k, v in (fields or {}).items():
            if k != 'contactId':
                row[k] = deep(v)
        if obj == 'contacts':
            row['changedOn'] = fmt_gr(now())
        return row

    def add(self, obj, row):
        row = deep(row)
        if obj == 'contacts':
            row['contactId'] = row.get('contactId') or self.new_id(self.contacts)
            t = fmt_gr(now())
            row.setdefault('changedOn', t)
            row.setdefault('createdOn', t)
            self.contacts[row['contactId']] = row
            return row
        if obj not in self.meta:
            return None
        idk = self.id_key(obj)
        row[idk] = row.get(idk) or self.new_id(self.meta[obj])
        self.meta[obj][row[idk]] = row
        return row

    def delete_ui(self, obj, rid):
        store = self.contacts if obj == 'contacts' else self.meta.get(obj)
        row = store.get(rid) if store is not None else None
        if row is None:
            return None
        del store[rid]
        self.deleted.setdefault(obj, []).append(rid)
        return row
