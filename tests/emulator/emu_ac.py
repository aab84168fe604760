"""emu_ac.py - ActiveCampaign API v3 as tandem's connector uses it.

Api-Token auth and the 5-requests-a-second limit per key; list reads with
filters, orders, include sideloads and limit/offset paging; contacts
upserted through /contact/sync, and the tags, custom field values, lists,
automations, deals and accounts around them.  Rows are stored as the API
shows them (string ids); a contact's custom values are fieldValues rows.
"""
import re
import time

from emu_util import ApiError, blank, deep, fmt_ac, json_reply, now, parse_time, sort_rows

API = '/api/3'
COLLECTIONS = ('contacts', 'fields', 'fieldValues', 'tags', 'contactTags', 'lists', 'contactLists', 'automations',
               'contactAutomations', 'deals', 'dealCustomFieldMeta', 'dealCustomFieldData', 'accounts',
               'accountContacts')
# (change field, creation field) of each collection that has them
STAMPS = {'contacts': ('udate', 'cdate'), 'deals': ('mdate', 'cdate'),
          'accounts': ('updatedTimestamp', 'createdTimestamp'), 'fieldValues': ('udate', 'cdate'),
          'fields': ('udate', 'cdate'), 'lists': ('udate', 'cdate'), 'tags': (None, 'cdate'),
          'contactTags': (None, 'cdate')}
SINGULAR = {'contacts': 'contact', 'fields': 'field', 'fieldValues': 'fieldValue', 'tags': 'tag',
            'contactTags': 'contactTag', 'lists': 'list', 'contactLists': 'contactList',
            'automations': 'automation', 'contactAutomations': 'contactAutomation', 'deals': 'deal',
            'dealCustomFieldMeta': 'dealCustomFieldMetum', 'dealCustomFieldData': 'dealCustomFieldDatum',
            'accounts': 'account', 'accountContacts': 'accountContact'}
# how "No Result found for X with id N" names each
ENTITY = {'contacts': 'Subscriber', 'deals': 'Deal', 'accounts': 'Account', 'tags': 'Tag',
          'contactTags': 'ContactTag', 'fields': 'Field', 'fieldValues': 'FieldValue', 'lists': 'List',
          'contactLists': 'ContactList', 'automations': 'Automation', 'contactAutomations': 'ContactAutomation',
          'accountContacts': 'AccountContact', 'dealCustomFieldMeta': 'DealCustomFieldMeta',
          'dealCustomFieldData': 'DealCustomFieldData'}
# orders[...] keys of /contacts and the fields they sort on
CONTACT_ORDERS = {'first_name': 'firstName', 'last_name': 'lastName', 'name': 'firstName'}
# what /contact/sync and PUT /contacts may not set from a body
CONTACT_SYSTEM = ('id', 'cdate', 'udate', 'links', 'fieldValues', 'deleted')
DEAL_REQUIRED = ('title', 'value', 'currency', 'group', 'stage', 'owner')
RATE = 5                # requests a second per key
RATE_WINDOW = 0.98      # one second, less 20 ms so scheduling jitter does not refuse a client spaced at 200 ms
MAX_LIMIT = 100


def _not_found(coll, rid):
    return ApiError(json_reply(404, {'message': 'No Result found for %s with id %s' % (ENTITY.get(coll, coll), rid)}))


def _invalid(title, code='field_missing', pointer=None, status=422):
    e = {'title': title, 'detail': '', 'code': code}
    if pointer:
        e['source'] = {'pointer': pointer}
    return ApiError(json_reply(status, {'errors': [e]}))


def _sid(v):
    """Ids compare as text: the API gives strings, some sideloads numbers."""
    if isinstance(v, float) and v == int(v):
        v = int(v)
    return None if v is None else str(v)


class ActiveCampaign:
    name = 'activecampaign'

    def __init__(self, emu, seed, creds):
        self.emu = emu
        self.creds = {'api_key': 'ac-key'}
        self.creds.update(creds or {})
        self.data = {c: {} for c in COLLECTIONS}   # collection -> {id (text): row}
        self.deleted = {}
        self.counter = 999
        self.calls = {}                            # key -> times of its recent requests
        seed = seed or {}
        for c, rows in seed.items():
            if c == 'deleted':
                continue
            if not isinstance(rows, list):
                raise ValueError("activecampaign.%s must be a list of rows" % c)
            for row in rows:
                if not isinstance(row, dict):
                    raise ValueError("activecampaign.%s holds a row that is not an object" % c)
                self.insert(c, deep(row))
        for c, ids in (seed.get('deleted') or {}).items():
            self.deleted.setdefault(c, []).extend(ids)

    # ------------------------------------------------------------ plumbing

    def new_id(self, coll):
        while True:
            self.counter += 1
            if str(self.counter) not in self.data.get(coll, {}):
                return str(self.counter)

    def insert(self, coll, row):
        """Stores a row under its id (a new one when it has none) with its
        stamps set to now when absent."""
        store = self.data.setdefault(coll, {})
        if row.get('id') in (None, ''):
            row['id'] = self.new_id(coll)
        changed, created = STAMPS.get(coll, (None, None))
        t = fmt_ac(now())
        if changed:
            row.setdefault(changed, t)
        if created:
            row.setdefault(created, row.get(changed, t) if changed else t)
        store[_sid(row['id'])] = row
        return row

    def get(self, coll, rid):
        return self.data.get(coll, {}).get(_sid(rid))

    def touch_row(self, coll, row):
        changed = STAMPS.get(coll, (None, None))[0]
        if changed:
            row[changed] = fmt_ac(now())

    def rows_of(self, coll, link, ids):
        """The rows of coll whose `link` column is one of ids, in store order."""
        return [r for r in self.data.get(coll, {}).values() if _sid(r.get(link)) in ids]

    def expire_tokens(self):
        return 0

    def authorize(self, req):
        key = req.header('api-token')
        if key != self.creds.get('api_key'):
            return json_reply(403, {'message': 'No Result found for Subscriber with id 0'})
        # more than RATE accepted requests within a second from one key: 429
        t = getattr(req, 'arrival', None) or time.monotonic()
        # filtered, not popped: requests on several connections may take the lock out of arrival order
        recent = self.calls[key] = [x for x in self.calls.get(key, []) if x > t - RATE_WINDOW]
        if len(recent) >= RATE:
            return json_reply(429, {'message': 'Too Many Requests'}, headers=[('Retry-After', '1')])
        recent.append(t)
        return None

    def decorate(self, reply):
        pass

    def is_batch(self, req):
        return False

    def fault_reply(self, status, kind='status'):
        msg = {429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway',
               503: 'Service Unavailable'}.get(status, 'The emulator was told to fail this request')
        return json_reply(status, {'message': msg})

    # ------------------------------------------------------------ routing

    def handle(self, req, partial=False):
        try:
            return self._route(req)
        except ApiError as e:
            return e.reply

    def _route(self, req):
        if not (req.path + '/').startswith(API + '/'):
            raise ApiError(json_reply(404, {'message': 'Not Found'}))
        parts = [p for p in req.path[len(API):].split('/') if p]
        m = req.method
        if parts == ['contact', 'sync'] and m == 'POST':
            return self.contact_sync(req)
        if not parts or parts[0] not in self.data:
            raise ApiError(json_reply(404, {'message': 'Not Found'}))
        coll = parts[0]
        if len(parts) == 1:
            if m == 'GET':
                return self.list_contacts(req) if coll == 'contacts' else self.list_rows(req, coll)
            if m == 'POST':
                return self.create(req, coll)
        elif len(parts) == 2:
            rid = parts[1]
            if m == 'GET':
                return self.get_one(coll, rid)
            if m == 'PUT':
                return self.update(req, coll, rid)
            if m == 'DELETE':
                return self.delete(coll, rid)
        elif len(parts) == 3 and m == 'GET' and coll == 'contacts':
            # /contacts/{id}/contactTags and the like
            if self.get('contacts', parts[1]) is None:
                raise _not_found('contacts', parts[1])
            sub = parts[2]
            if sub in self.data:
                return json_reply(200, {sub: [deep(r) for r in self.rows_of(sub, 'contact', {parts[1]})]})
        raise ApiError(json_reply(404, {'message': 'Not Found'}))

    def body(self, req, wrapper):
        try:
            b = req.json()
        except ValueError:
            raise ApiError(json_reply(400, {'message': 'The request body is not valid JSON'}))
        inner = b.get(wrapper) if isinstance(b, dict) else None
        if not isinstance(inner, dict):
            raise _invalid('The request body needs a "%s" object.' % wrapper, 'field_missing', '/data/attributes')
        return inner

    # ------------------------------------------------------------ reading

    def page(self, req, rows):
        try:
            limit = int(req.param('limit', '20'))
            offset = int(req.param('offset', '0'))
        except ValueError:
            raise ApiError(json_reply(400, {'message': 'limit and offset must be whole numbers'}))
        if limit <= 0:
            limit = 20
        limit, offset = min(limit, MAX_LIMIT), max(offset, 0)
        return rows[offset:offset + limit], limit, offset

    def time_filters(self, req, rows, changed, created):
        for name, field, after in (('updated_after', changed, True), ('updated_before', changed, False),
                                   ('created_after', created, True), ('created_before', created, False)):
            v = req.param('filters[%s]' % name)
            if v is None or not field:
                continue
            t = parse_time(v)
            if t is None:
                raise ApiError(json_reply(400, {'message': 'filters[%s] is not a date: %s' % (name, v)}))
            # "after" and "before" are strict: a row stamped at the instant given is not after it
            rows = [r for r in rows if parse_time(r.get(field)) is not None
                    and (parse_time(r.get(field)) > t if after else parse_time(r.get(field)) < t)]
        return rows

    def orders(self, req, mapping=None):
        keys = []
        for k, v in req.params:
            m = re.fullmatch(r'orders\[(\w+)\]', k)
            if m:
                f = (mapping or {}).get(m.group(1), m.group(1))
                keys.append((f, v.strip().upper() == 'DESC', None))
        return keys

    def contact_out(self, row):
        out = deep(row)
        if 'links' not in out:
            base = '%s/ac%s/contacts/%s/' % (self.emu.base_url, API, row['id'])
            out['links'] = {k: base + k for k in ('contactAutomations', 'contactData', 'contactLists', 'contactTags',
                                                  'contactDeals', 'deals', 'fieldValues', 'accountContacts')}
        return out

    def list_contacts(self, req):
        rows = list(self.data['contacts'].values())
        if req.param('filters[status]') != '-1':
            rows = [r for r in rows if _sid(r.get('deleted', '0')) != '1']
        ids = req.param('ids')
        if ids:
            want = {i.strip() for i in ids.split(',') if i.strip()}
            rows = [r for r in rows if _sid(r['id']) in want]
        for email in (req.param('email'), req.param('filters[email]')):
            if email is not None:
                rows = [r for r in rows if str(r.get('email', '')).casefold() == email.strip().casefold()]
        tagid = req.param('tagid')
        if tagid:
            tagged = {_sid(ct.get('contact')) for ct in self.data['contactTags'].values()
                      if _sid(ct.get('tag')) == tagid}
            rows = [r for r in rows if _sid(r['id']) in tagged]
        listid = req.param('listid')
        if listid:
            on = {_sid(cl.get('contact')) for cl in self.data['contactLists'].values()
                  if _sid(cl.get('list')) == listid}
            rows = [r for r in rows if _sid(r['id']) in on]
        search = req.param('search')
        if search:
            s = search.casefold()
            rows = [r for r in rows if any(s in str(r.get(f) or '').casefold()
                                           for f in ('email', 'firstName', 'lastName', 'phone', 'orgname'))]
        rows = self.time_filters(req, rows, 'udate', 'cdate')
        rows = sort_rows(rows, self.orders(req, CONTACT_ORDERS), lambda r, f: r.get(f))
        chunk, limit, offset = self.page(req, rows)
        ans = {'contacts': [self.contact_out(r) for r in chunk]}
        ans.update(self.sideloads(req.param('include'), {_sid(r['id']) for r in chunk}, 'contact'))
        ans['meta'] = {'total': str(len(rows)), 'page_input': {'limit': limit, 'offset': offset}}
        return json_reply(200, ans)

    def sideloads(self, include, ids, link):
        """The include=... sideloads of the rows with these ids; a dotted
        name (contactTags.tag) also loads what its rows point at (tags)."""
        out = {}
        for name in (include or '').split(','):
            name = name.strip()
            if not name:
                continue
            base, _, sub = name.partition('.')
            if base not in self.data or base in ('contacts',):
                continue
            rows = self.rows_of(base, 'dealId' if base == 'dealCustomFieldData' else link, ids)
            out[base] = [deep(r) for r in rows]
            if sub:
                target = {'tag': 'tags', 'list': 'lists', 'account': 'accounts', 'automation': 'automations',
                          'contact': 'contacts'}.get(sub, sub + 's')
                if target in self.data:
                    want = {_sid(r.get(sub)) for r in rows}
                    out[target] = [deep(r) for k, r in self.data[target].items() if k in want]
        return out

    def list_rows(self, req, coll):
        rows = list(self.data[coll].values())
        changed, created = STAMPS.get(coll, (None, None))
        rows = self.time_filters(req, rows, changed, created)
        for k, v in req.params:
            m = re.fullmatch(r'filters\[(\w+)\]', k)
            if m and m.group(1) not in ('updated_after', 'updated_before', 'created_after', 'created_before'):
                rows = [r for r in rows if str(r.get(m.group(1), '')).casefold() == v.casefold()]
        search = req.param('search')
        if search:
            name = {'tags': 'tag', 'fields': 'title', 'deals': 'title'}.get(coll, 'name')
            rows = [r for r in rows if search.casefold() in str(r.get(name) or '').casefold()]
        rows = sort_rows(rows, self.orders(req), lambda r, f: r.get(f))
        chunk, limit, offset = self.page(req, rows)
        ans = {coll: [deep(r) for r in chunk]}
        if coll == 'deals':
            ans.update(self.sideloads(req.param('include'), {_sid(r['id']) for r in chunk}, 'deal'))
        ans['meta'] = {'total': str(len(rows)), 'page_input': {'limit': limit, 'offset': offset}}
        return json_reply(200, ans)

    def get_one(self, coll, rid):
        row = self.get(coll, rid)
        if row is None:
            raise _not_found(coll, rid)
        if coll != 'contacts':
            return json_reply(200, {SINGULAR[coll]: deep(row)})
        ids = {_sid(row['id'])}
        ans = {'contact': self.contact_out(row)}
        for side in ('contactAutomations', 'contactLists', 'contactTags', 'fieldValues', 'accountContacts'):
            ans[side] = [deep(r) for r in self.rows_of(side, 'contact', ids)]
        return json_reply(200, ans)

    # ------------------------------------------------------------ writing

    def field_values(self, contact_id, values):
        """Upserts a contact's custom values by field; True when one changed."""
        if values is None:
            return False
        if not isinstance(values, list):
            raise _invalid('fieldValues must be a list of {"field", "value"}', 'invalid',
                           '/data/attributes/fieldValues')
        changed = False
        for fv in values:
            if not isinstance(fv, dict) or fv.get('field') in (None, ''):
                raise _invalid('Each field value needs a field id.', 'field_missing',
                               '/data/attributes/fieldValues/field')
            changed |= self.put_value(contact_id, _sid(fv['field']), fv.get('value'))[1]
        return changed

    def put_value(self, contact_id, field, value):
        """(row, changed) of a contact's value of one custom field."""
        for r in self.data['fieldValues'].values():
            if _sid(r.get('contact')) == contact_id and _sid(r.get('field')) == field:
                if r.get('value') == value:
                    return r, False
                r['value'] = value
                self.touch_row('fieldValues', r)
                return r, True
        t = fmt_ac(now())
        row = self.insert('fieldValues', {'contact': contact_id, 'field': field, 'value': value, 'cdate': t,
                                          'udate': t, 'id': None})
        return row, True

    def by_email(self, email, but=None):
        e = email.strip().casefold()
        for r in self.data['contacts'].values():
            if str(r.get('email', '')).strip().casefold() == e and _sid(r['id']) != but:
                return r
        return None

    def check_email(self, email):
        if not isinstance(email, str) or not re.fullmatch(r'[^@\s]+@[^@\s]+\.[^@\s]+', email.strip()):
            raise _invalid('Contact Email Address is not valid.', 'email_invalid', '/data/attributes/email')

    def contact_answer(self, row, status):
        ids = {_sid(row['id'])}
        return json_reply(status, {'fieldValues': [deep(r) for r in self.rows_of('fieldValues', 'contact', ids)],
                                   'contact': self.contact_out(row)})

    def write_contact(self, row, body):
        for k, v in body.items():
            if k not in CONTACT_SYSTEM:
                row[k] = deep(v)
        self.field_values(_sid(row['id']), body.get('fieldValues'))
        self.touch_row('contacts', row)   # any write, custom values included, moves udate

    def new_contact(self, body):
        t = fmt_ac(now())
        row = self.insert('contacts', {'email': body['email'].strip(), 'firstName': '', 'lastName': '', 'phone': '',
                                       'orgname': '', 'cdate': t, 'udate': t, 'deleted': '0', 'id': None})
        self.write_contact(row, body)
        return row

    def contact_sync(self, req):
        body = self.body(req, 'contact')
        self.check_email(body.get('email'))
        row = self.by_email(body['email'])
        if row is None:
            return self.contact_answer(self.new_contact(body), 201)
        self.write_contact(row, body)
        return self.contact_answer(row, 200)

    def create(self, req, coll):
        wrapper = SINGULAR[coll]
        body = self.body(req, wrapper)
        t = fmt_ac(now())
        if coll == 'contacts':
            self.check_email(body.get('email'))
            if self.by_email(body['email']):
                raise _invalid('Email address already exists in the system.', 'duplicate', '/data/attributes/email')
            return self.contact_answer(self.new_contact(body), 201)
        if coll == 'tags':
            if blank(body.get('tag')):
                raise _invalid('The tag name was not provided.', 'field_missing', '/data/attributes/tag')
            row = self.insert('tags', {'tagType': 'contact', 'description': '', **deep(body), 'cdate': t, 'id': None})
            return json_reply(201, {'tag': deep(row)})
        if coll == 'fields':
            if blank(body.get('title')):
                raise _invalid('The field title was not provided.', 'field_missing', '/data/attributes/title')
            row = self.insert('fields', {'type': 'text', **deep(body), 'cdate': t, 'udate': t, 'id': None})
            return json_reply(201, {'field': deep(row)})
        if coll == 'fieldValues':
            contact = self.need_contact(body)
            if body.get('field') in (None, ''):
                raise _invalid('The field id was not provided.', 'field_missing', '/data/attributes/field')
            field = _sid(body['field'])
            existed = any(_sid(r.get('contact')) == contact and _sid(r.get('field')) == field
                          for r in self.data['fieldValues'].values())
            row, changed = self.put_value(contact, field, body.get('value'))
            if changed:
                self.touch_row('contacts', self.get('contacts', contact))
            return json_reply(200 if existed else 201, {'fieldValue': deep(row)})
        if coll == 'contactTags':
            contact = self.need_contact(body)
            tag = _sid(body.get('tag'))
            if self.get('tags', tag) is None:
                raise _not_found('tags', tag)
            for r in self.data['contactTags'].values():
                if _sid(r.get('contact')) == contact and _sid(r.get('tag')) == tag:
                    return json_reply(201, {'contactTag': deep(r)})
            # a tag on a contact does not move the contact's udate, as in ActiveCampaign
            row = self.insert('contactTags', {'contact': contact, 'tag': tag, 'cdate': t, 'id': None})
            return json_reply(201, {'contactTag': deep(row)})
        if coll == 'contactLists':
            contact = self.need_contact(body)
            lst = _sid(body.get('list'))
            if self.get('lists', lst) is None:
                raise _not_found('lists', lst)
            status = _sid(body.get('status', 1))
            for r in self.data['contactLists'].values():
                if _sid(r.get('contact')) == contact and _sid(r.get('list')) == lst:
                    r['status'] = status
                    return json_reply(200, {'contactList': deep(r)})
            row = self.insert('contactLists', {'contact': contact, 'list': lst, 'status': status, 'id': None})
            return json_reply(201, {'contactList': deep(row)})
        if coll == 'contactAutomations':
            contact = self.need_contact(body)
            auto = _sid(body.get('automation'))
            if self.get('automations', auto) is None:
                raise _not_found('automations', auto)
            row = self.insert('contactAutomations', {'contact': contact, 'automation': auto, 'seriesid': auto,
                                                     'adddate': t, 'status': '1', 'id': None})
            return json_reply(201, {'contactAutomation': deep(row)})
        if coll == 'deals':
            missing = [f for f in DEAL_REQUIRED if blank(body.get(f))]
            if missing:
                raise ApiError(json_reply(422, {'errors': [
                    {'title': 'The deal %s was not provided.' % f, 'detail': '', 'code': 'field_missing',
                     'source': {'pointer': '/data/attributes/%s' % f}} for f in missing]}))
            row = self.insert('deals', {**{k: deep(v) for k, v in body.items() if k != 'fields'},
                                        'cdate': t, 'mdate': t, 'id': None})
            self.deal_fields(row, body.get('fields'))
            return json_reply(201, {'deal': deep(row)})
        if coll == 'accounts':
            if blank(body.get('name')):
                raise _invalid('The account name was not provided.', 'field_missing', '/data/attributes/name')
            self.unique_account(body['name'])
            row = self.insert('accounts', {**deep(body), 'createdTimestamp': t, 'updatedTimestamp': t, 'id': None})
            return json_reply(201, {'account': deep(row)})
        if coll == 'accountContacts':
            contact = self.need_contact(body)
            acc = _sid(body.get('account'))
            if self.get('accounts', acc) is None:
                raise _not_found('accounts', acc)
            for r in self.data['accountContacts'].values():
                if _sid(r.get('contact')) == contact:   # one account a contact
                    r.update({k: deep(v) for k, v in body.items() if k != 'contact'})
                    r['account'] = acc
                    return json_reply(200, {'accountContact': deep(r)})
            row = self.insert('accountContacts', {**deep(body), 'contact': contact, 'account': acc, 'id': None})
            return json_reply(201, {'accountContact': deep(row)})
        row = self.insert(coll, {**deep(body), 'id': None})
        return json_reply(201, {wrapper: deep(row)})

    def need_contact(self, body):
        contact = _sid(body.get('contact'))
        if contact is None:
            raise _invalid('The contact id was not provided.', 'field_missing', '/data/attributes/contact')
        if self.get('contacts', contact) is None:
            raise _not_found('contacts', contact)
        return contact

    def unique_account(self, name, but=None):
        for r in self.data['accounts'].values():
            if str(r.get('name', '')).casefold() == str(name).casefold() and _sid(r['id']) != but:
                raise _invalid('An account with this name already exists.', 'duplicate', '/data/attributes/name')

    def deal_fields(self, deal, fields):
        """A deal's custom values ({"customFieldId", "fieldValue"}) as
        dealCustomFieldData rows, upserted by field."""
        if fields is None:
            return
        if not isinstance(fields, list):
            raise _invalid('fields must be a list', 'invalid', '/data/attributes/fields')
        did = _sid(deal['id'])
        for f in fields:
            if not isinstance(f, dict) or f.get('customFieldId') in (None, ''):
                raise _invalid('Each deal field needs a customFieldId.', 'field_missing',
                               '/data/attributes/fields/customFieldId')
            row = next((r for r in self.data['dealCustomFieldData'].values()
                        if _sid(r.get('dealId')) == did and _sid(r.get('customFieldId')) == _sid(f['customFieldId'])),
                       None)
            if row is None:
                row = self.insert('dealCustomFieldData', {'dealId': int(did) if did.isdigit() else did,
                                                          'customFieldId': f['customFieldId'], 'id': None})
            row['fieldValue'] = deep(f.get('fieldValue'))
            if 'fieldCurrency' in f:
                row['fieldCurrency'] = f['fieldCurrency']

    def update(self, req, coll, rid):
        row = self.get(coll, rid)
        if row is None:
            raise _not_found(coll, rid)
        body = self.body(req, SINGULAR[coll])
        if coll == 'contacts':
            if 'email' in body:
                self.check_email(body.get('email'))
                if self.by_email(body['email'], but=_sid(rid)):
                    raise _invalid('Email address already exists in the system.', 'duplicate',
                                   '/data/attributes/email')
            self.write_contact(row, body)
            return self.contact_answer(row, 200)
        if coll == 'accounts' and 'name' in body:
            self.unique_account(body['name'], but=_sid(rid))
        changed, created = STAMPS.get(coll, (None, None))
        for k, v in body.items():
            if k not in ('id', 'fields', changed, created):
                row[k] = deep(v)
        if coll == 'deals':
            self.deal_fields(row, body.get('fields'))
        if coll == 'fieldValues':
            self.touch_row('contacts', self.get('contacts', row.get('contact')) or {})
        self.touch_row(coll, row)
        return json_reply(200, {SINGULAR[coll]: deep(row)})

    def delete(self, coll, rid):
        row = self.get(coll, rid)
        if row is None:
            raise _not_found(coll, rid)
        self.remove(coll, _sid(rid))
        return json_reply(200, {})

    def remove(self, coll, rid):
        del self.data[coll][rid]
        self.deleted.setdefault(coll, []).append(rid)
        if coll == 'contacts':   # what hangs off a contact goes with it
            for side in ('fieldValues', 'contactTags', 'contactLists', 'contactAutomations', 'accountContacts'):
                for k in [k for k, r in self.data[side].items() if _sid(r.get('contact')) == rid]:
                    del self.data[side][k]
        if coll == 'deals':
            for k in [k for k, r in self.data['dealCustomFieldData'].items() if _sid(r.get('dealId')) == rid]:
                del self.data['dealCustomFieldData'][k]

    # ------------------------------------------------------------ control

    def export(self):
        out = {c: [deep(r) for r in store.values()] for c, store in self.data.items()}
        out['deleted'] = deep(self.deleted)
        return out

    def touch(self, obj, rid, fields):
        row = self.get(obj, rid)
        if row is None:
            return None
        fields = dict(fields or {})
        values = fields.pop('fieldValues', None)
        for k, v in fields.items():
            if k != 'id':
                row[k] = deep(v)
        if obj == 'contacts' and values is not None:
            self.field_values(_sid(rid), values)
        self.touch_row(obj, row)
        return row

    def add(self, obj, row):
        return self.insert(obj, deep(row))

    def delete_ui(self, obj, rid):
        row = self.get(obj, rid)
        if row is None:
            return None
        self.remove(obj, _sid(rid))
        return row
