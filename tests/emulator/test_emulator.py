#!/usr/bin/env python3
"""test_emulator.py - self-test of the API emulator (emulator.py).

Starts the emulator as a subprocess on a free port with a seed written
here, then exercises each system's endpoints, the auth failures, paging,
the control endpoints and every fault kind over real HTTP.  The last
line is "N passed, N failed", as tests/run.sh reads it; the exit status
is 1 when a test failed.

    python3 tests/emulator/test_emulator.py [-v]

ActiveCampaign allows 5 requests a second per key, so this client spaces
its /ac calls 200 ms apart, as tandem's does (the rate test itself
bursts on purpose).
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import emu_odata   # noqa: E402
import emu_soql    # noqa: E402
import emu_util    # noqa: E402

UTC = timezone.utc
SF = '/sf/services/data/v60.0'
D365 = '/d365/api/data/v9.2'
AC = '/ac/api/3'
GR = '/gr/v3'
L1, L2, L3 = '00Q000000000001AAA', '00Q000000000002AAA', '00Q000000000003AAA'
D1, D2 = '9f1c2a3e-7b1d-4c2e-8f00-000000000001', '9f1c2a3e-7b1d-4c2e-8f00-000000000002'


def acct_id(i):
    return '00000000-0000-0000-0000-%012d' % i


def opp_id(i):
    return '0000000a-0000-0000-0000-%012d' % i


SEED = {
    'credentials': {
        'salesforce': {'client_id': 'cid', 'client_secret': 'csecret', 'refresh_token': 'rtoken'},
        'dynamics365': {'tenant_id': 't1', 'client_id': 'cid', 'client_secret': 'csecret'},
        'activecampaign': {'api_key': 'ac-key'},
        'getresponse': {'api_key': 'gr-key'},
    },
    'salesforce': {
        'Lead': [
            {'Id': L1, 'FirstName': 'Ann', 'LastName': "O'Brien", 'Company': 'Acme', 'Email': 'Ann@Acme.example',
             'AnnualRevenue': 1250000.5, 'IsConverted': False, 'Description': 'line1\nline2', 'Title': 'say "hi"',
             'SystemModstamp': '2021-11-02T09:00:00.000+0000'},
            {'Id': L2, 'FirstName': 'Bo', 'LastName': 'Back\\slash', 'Company': 'Beta', 'Email': None,
             'AnnualRevenue': 10, 'ConvertedDate': '2021-11-01', 'SystemModstamp': '2021-11-02T07:00:00Z'},
            {'Id': L3, 'LastName': 'Gone', 'Company': 'X', 'IsDeleted': True,
             'SystemModstamp': '2021-11-02T10:00:00.000+0000'},
        ],
        'Contact': [{'Id': '003000000000001AAA', 'LastName': 'Lee', 'Email': 'lee@example.com'},
                    {'Id': '003000000000002AAA', 'LastName': 'Touchme', 'SystemModstamp': '2021-01-01T00:00:00Z'},
                    {'Id': '003000000000003AAA', 'LastName': 'Deleteme'}],
        'Account': [{'Id': '001%012dAAA' % (500000 + i), 'Name': 'Bulk %03d' % i,
                     'SystemModstamp': '2021-11-01T%02d:%02d:00.000+0000' % (i // 60, i % 60)} for i in range(450)],
        'Opportunity': [],
    },
    'dynamics365': {
        'leads': [
            {'leadid': D1, 'firstname': 'Ann', 'lastname': "O'Hara", 'subject': 'Web',
             'emailaddress1': 'Ann@Contoso.example', 'statecode': 0, 'revenue': 100.5,
             'modifiedon': '2021-11-02T09:00:00Z'},
            {'leadid': D2, 'firstname': 'Bob', 'lastname': 'Ray', 'subject': 'Web', 'emailaddress1': None,
             'statecode': 1, 'revenue': 5, 'modifiedon': '2021-11-02T07:00:00Z'},
        ],
        'contacts': [{'contactid': '9f1c2a3e-7b1d-4c2e-8f00-000000000011', 'lastname': 'Bianchi'}],
        'accounts': [{'accountid': acct_id(i), 'name': 'Acct %02d' % i,
                      'modifiedon': '2021-11-01T00:%02d:00Z' % i} for i in range(1, 26)],
        # only the change-tracking test touches these
        'opportunities': [{'opportunityid': opp_id(i), 'name': 'Opp %d' % i, 'stepname': 'qualify'}
                          for i in range(1, 7)],
        'untracked': ['contacts'],
    },
    'activecampaign': {
        'contacts': [
            {'id': '7', 'email': 'bob@example.com', 'firstName': 'Bob', 'lastName': 'Ray',
             'cdate': '2021-10-01T09:00:00-05:00', 'udate': '2021-11-02T05:00:00-05:00', 'deleted': '0'},
            {'id': '8', 'email': 'Kai@Example.com', 'firstName': 'Kai', 'lastName': 'Case',
             'udate': '2021-11-02T08:00:00-00:00', 'deleted': '0'},
            {'id': '9', 'email': 'gone@example.com', 'deleted': '1', 'udate': '2021-11-02T09:00:00-00:00'},
            {'id': '10', 'email': 'ann@example.com', 'firstName': 'Ann', 'udate': '2021-11-01T09:00:00-00:00',
             'deleted': '0'},
        ],
        'fields': [{'id': '1', 'title': 'Industry', 'type': 'text'}],
        'fieldValues': [{'id': '50', 'contact': '7', 'field': '1', 'value': 'Retail'}],
        'tags': [{'id': '20', 'tag': 'vip', 'tagType': 'contact'}],
        'contactTags': [{'id': '700', 'contact': '8', 'tag': '20'}],
        'lists': [{'id': '1', 'name': 'Main'}],
        'contactLists': [{'id': '60', 'contact': '7', 'list': '1', 'status': '1'}],
        'automations': [{'id': '3', 'name': 'Nurture'}],
        'contactAutomations': [],
        'deals': [{'id': '1', 'title': 'Old deal', 'value': '100', 'currency': 'usd', 'group': '1', 'stage': '1',
                   'owner': '1', 'contact': '7', 'cdate': '2020-10-01T00:00:00-00:00',
                   'mdate': '2020-10-01T00:00:00-00:00'}],
        'dealCustomFieldMeta': [{'id': 1, 'fieldLabel': 'Close Date', 'fieldType': 'date'}],
        'dealCustomFieldData': [],
        'accounts': [{'id': '1', 'name': 'Acme'}],
        'accountContacts': [{'id': '90', 'contact': '7', 'account': '1'}],
    },
    'getresponse': {
        'campaigns': [{'campaignId': 'n3wS', 'name': 'Newsletter'}, {'campaignId': 'cUst', 'name': 'Customers'}],
        'tags': [{'tagId': 'tg1', 'name': 'vip'}, {'tagId': 'tg2', 'name': 'lead'}],
        'custom-fields': [{'customFieldId': 'cf1', 'name': 'country_text', 'type': 'text'},
                          {'customFieldId': 'cf2', 'name': 'phone_text', 'type': 'text'}],
        'contacts': [
            {'contactId': 'pAnn', 'name': 'Ann Lee', 'email': 'ann@acme.example', 'origin': 'api',
             'changedOn': '2021-03-01T10:00:00+0000', 'createdOn': '2021-01-01T10:00:00+0000',
             'campaign': {'campaignId': 'n3wS'}, 'tags': [{'tagId': 'tg1'}],
             'customFieldValues': [{'customFieldId': 'cf1', 'value': ['Austria']}]},
            {'contactId': 'pBob', 'name': 'Bob', 'email': 'Bob@Example.com', 'changedOn': '2021-02-01T10:00:00+0000',
             'campaign': {'campaignId': 'n3wS'}},
            {'contactId': 'pCy', 'name': 'Cy', 'email': 'cy@example.com', 'changedOn': '2021-04-01T10:00:00+0000',
             'campaign': {'campaignId': 'cUst'}},
            {'contactId': 'pDo', 'name': 'Do', 'email': 'do@example.com', 'changedOn': '2021-05-01T10:00:00+0000',
             'campaign': {'campaignId': 'n3wS'}},
            {'contactId': 'pEd', 'name': 'Ed', 'email': 'ed@example.com', 'changedOn': '2021-01-15T10:00:00+0000',
             'campaign': {'campaignId': 'n3wS'}},
            {'contactId': 'pTch', 'name': 'Touch', 'email': 'touch@example.com', 'campaign': {'campaignId': 'cUst'},
             'changedOn': '2021-01-15T10:00:00+0000'},
        ],
    },
}


# ---------------------------------------------------------------- the client

class Resp:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw

    @property
    def json(self):
        return json.loads(self.raw.decode('utf-8'))

    def __repr__(self):
        return '<%d %s>' % (self.status, self.raw[:300])


class Client:
    """One kept-alive connection, as libcurl would hold."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.last_ac = 0.0

    def call(self, method, path, body=None, headers=None, pace=True):
        hdrs = dict(headers or {})
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault('Content-Type', 'application/json')
        elif isinstance(body, str):
            data = body.encode()
        if path.startswith('/ac/') and pace:
            wait = self.last_ac + 0.2 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.last_ac = time.monotonic()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=20)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)


def q(path, **params):
    return path + '?' + urlencode(params, quote_via=quote)


PORT = None
PROC = None
TMP = None
C = None          # the shared client


def setUpModule():
    global PORT, PROC, TMP, C
    TMP = tempfile.mkdtemp(prefix='emu-test-')
    seed = os.path.join(TMP, 'seed.json')
    with open(seed, 'w') as f:
        json.dump(SEED, f)
    port_file = os.path.join(TMP, 'port')
    PROC = subprocess.Popen([sys.executable, os.path.join(HERE, 'emulator.py'), '--seed', seed,
                             '--port-file', port_file], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if PROC.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError('the emulator did not start: %s' % PROC.stderr.read().decode())
        time.sleep(0.02)
    PORT = int(open(port_file).read())
    C = Client(PORT)


def tearDownModule():
    r = C.call('POST', '/__shutdown')
    assert r.status == 200, r
    rc = PROC.wait(10)
    err = PROC.stderr.read().decode()
    PROC.stderr.close()
    if C.conn is not None:
        C.conn.close()
    assert rc == 0, 'the emulator exited %d' % rc
    # nothing went wrong inside the emulator: no traceback was printed
    assert 'Traceback' not in err, err


def sf_token():
    r = C.call('POST', '/sf/services/oauth2/token',
               'grant_type=refresh_token&client_id=cid&client_secret=csecret&refresh_token=rtoken',
               {'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status == 200, r
    return r.json


def d365_token():
    r = C.call('POST', '/d365/login/t1/oauth2/v2.0/token',
               urlencode({'grant_type': 'client_credentials', 'client_id': 'cid', 'client_secret': 'csecret',
                          'scope': 'http://127.0.0.1:%d/d365/.default' % PORT}),
               {'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status == 200, r
    return r.json['access_token']


class Base(unittest.TestCase):
    def setUp(self):
        C.call('DELETE', '/__fault')     # no fault left over from another test

    def sf(self, method, path, body=None, headers=None, token=None):
        h = {'Authorization': 'Bearer ' + (token or self.sf_tok)}
        h.update(headers or {})
        return C.call(method, path, body, h)

    def soql(self, text, all_=False, headers=None):
        return self.sf('GET', q(SF + ('/queryAll' if all_ else '/query'), q=text), headers=headers)

    def ids(self, text, all_=False):
        r = self.soql(text, all_)
        self.assertEqual(r.status, 200, r)
        return [x['Id'] for x in r.json['records']]

    def d365(self, method, path, body=None, headers=None):
        h = {'Authorization': 'Bearer ' + self.d365_tok, 'Accept': 'application/json'}
        h.update(headers or {})
        return C.call(method, path, body, h)

    def ac(self, method, path, body=None, headers=None, key='ac-key'):
        h = {'Api-Token': key}
        h.update(headers or {})
        return C.call(method, path, body, h)

    def gr(self, method, path, body=None, headers=None, key='gr-key'):
        h = {'X-Auth-Token': 'api-key ' + key}
        h.update(headers or {})
        return C.call(method, path, body, h)

    @classmethod
    def setUpClass(cls):
        cls.sf_tok = sf_token()['access_token']
        cls.d365_tok = d365_token()

    def fault(self, **spec):
        r = C.call('POST', '/__fault', spec)
        self.assertEqual(r.status, 200, r)
        return r

    def state(self):
        return C.call('GET', '/__state').json


# ---------------------------------------------------------------- parsers

class TestParsing(unittest.TestCase):
    def test_time_formats(self):
        want = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
        for s in ('2026-11-02T08:00:00.000+0000', '2026-11-02T08:00:00Z', '2026-11-02T08:00:00.000Z',
                  '2026-11-02T08:00:00+00:00', '2026-11-02T08:00:00-00:00', '2026-11-02T08:00:00+0000',
                  '2026-11-02T08:00:00 0000', '2026-11-02T03:00:00-05:00', '2026-11-02T09:00:00+01:00',
                  '2026-11-02 08:00:00', '2026-11-02T08:00Z'):
            self.assertEqual(emu_util.parse_time(s), want, s)
        self.assertEqual(emu_util.parse_time('2026-11-02'), datetime(2026, 11, 2, tzinfo=UTC))
        for bad in ('garbage', '2026-13-01', '2026-11-02T25:00:00Z', '', None, 5):
            self.assertIsNone(emu_util.parse_time(bad), bad)
        t = datetime(2026, 11, 2, 8, 0, 0, 123000, tzinfo=UTC)
        self.assertEqual(emu_util.fmt_sf(t), '2026-11-02T08:00:00.123+0000')
        self.assertEqual(emu_util.fmt_d365(t), '2026-11-02T08:00:00Z')
        self.assertEqual(emu_util.fmt_ac(t), '2026-11-02T08:00:00-00:00')
        self.assertEqual(emu_util.fmt_gr(t), '2026-11-02T08:00:00+0000')

    def test_soql_parser(self):
        qu = emu_soql.parse("select Id, Owner.Name from Lead where (A = 'x\\'y' or B in (1, 2.5, null)) and not "
                            "C != true order by D desc nulls last, E limit 5 offset 2")
        self.assertEqual(qu.fields, ['Id', 'Owner.Name'])
        self.assertEqual(qu.obj, 'Lead')
        self.assertEqual(qu.order, [('D', True, False), ('E', False, None)])
        self.assertEqual((qu.limit, qu.offset), (5, 2))
        self.assertTrue(emu_soql.matches(qu.where, {'a': "X'Y", 'C': True}))
        self.assertTrue(emu_soql.matches(qu.where, {'B': 2.5, 'C': True}))
        self.assertFalse(emu_soql.matches(qu.where, {'B': 3, 'C': True}))
        for bad in ('', 'SELECT', 'SELECT Id', 'SELECT Id FROM', "SELECT Id FROM Lead WHERE A = 'open",
                    "SELECT Id FROM Lead WHERE A = 'bad\\q'", 'SELECT Id FROM Lead WHERE A =',
                    'SELECT Id FROM Lead WHERE (A = 1', 'SELECT Id FROM Lead LIMIT x', 'SELECT Id FROM Lead junk',
                    'SELECT Id FROM Lead WHERE A ~ 1', 'SELECT Id FROM Lead WHERE A NOT = 1'):
            with self.assertRaises(emu_soql.SoqlError, msg=bad):
                emu_soql.parse(bad)

    def test_odata_parser(self):
        n = emu_odata.parse_filter("(a eq 'it''s' or b eq 9F1C2A3E-7B1D-4C2E-8F00-000000000001) and not (c gt 5) "
                                   "and d ge 2026-11-02T08:00:00Z and e ne null and contains(f,'mid')")
        row = {'a': "IT'S", 'c': 3, 'd': '2026-11-02T09:00:00Z', 'e': 1, 'f': 'a MID b'}
        self.assertTrue(emu_odata.matches(n, row))
        self.assertTrue(emu_odata.matches(n, dict(row, a='no', b='9f1c2a3e-7b1d-4c2e-8f00-000000000001')))
        self.assertFalse(emu_odata.matches(n, dict(row, c=6)))
        self.assertFalse(emu_odata.matches(n, dict(row, e=None)))
        for bad in ('', 'a eq', "a equals 'x'", "(a eq 'x'", "a eq 'x", 'eq 1', "a eq 'x' and", 'a EQ 1'):
            with self.assertRaises(emu_odata.ODataError, msg=bad):
                emu_odata.parse_filter(bad)
        self.assertEqual(emu_odata.parse_orderby('modifiedon asc,leadid desc'),
                         [('modifiedon', False, None), ('leadid', True, None)])


# ---------------------------------------------------------------- Salesforce

class TestSalesforce(Base):
    def test_token_and_auth(self):
        tok = sf_token()
        self.assertEqual(tok['instance_url'], 'http://127.0.0.1:%d/sf' % PORT)
        self.assertEqual(tok['token_type'], 'Bearer')
        for k in ('id', 'issued_at', 'signature'):
            self.assertIn(k, tok)
        r = C.call('POST', '/sf/services/oauth2/token', 'grant_type=refresh_token&client_id=cid&client_secret=no'
                   '&refresh_token=rtoken', {'Content-Type': 'application/x-www-form-urlencoded'})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json, {'error': 'invalid_grant', 'error_description': 'expired access/refresh token'})
        for auth in (None, 'Bearer nope'):
            r = C.call('GET', q(SF + '/query', q='SELECT Id FROM Lead'),
                       headers={'Authorization': auth} if auth else {})
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json, [{'message': 'Session expired or invalid', 'errorCode': 'INVALID_SESSION_ID'}])
        r = self.sf('GET', q(SF + '/query', q='SELECT Id FROM Lead'), token=tok['access_token'])
        self.assertEqual(r.status, 200)
        self.assertRegex(r.headers['sforce-limit-info'], r'^api-usage=\d+/15000$')

    def test_query_where(self):
        cases = [
            ("LastName = 'o\\'brien'", [L1]),              # escaped quote, case-insensitive
            ("LastName = 'BACK\\\\SLASH'", [L2]),
            ("Description = 'LINE1\\nline2'", [L1]),
            ("Title = 'say \\\"hi\\\"'", [L1]),
            ('SystemModstamp > 2021-11-02T08:00:00Z', [L1]),  # instants, mixed stored formats
            ('SystemModstamp > 2021-11-02T08:00:00.000+0000', [L1]),
            ('SystemModstamp <= 2021-11-02T07:00:00.000Z', [L2]),
            ("Email IN ('ANN@acme.example', 'x@y.example')", [L1]),
            ("Email NOT IN ('ann@acme.example')", [L2]),
            ('Email = null', [L2]),
            ('Email != null', [L1]),
            ("NOT (Company = 'acme')", [L2]),
            ("(Company = 'Acme' OR Company = 'beta') AND AnnualRevenue >= 100", [L1]),
            ('AnnualRevenue < 100', [L2]),
            ('IsConverted = false', [L1]),
            ('ConvertedDate = 2021-11-01', [L2]),
            ("Company = 'Acme' AND LastName LIKE 'o%'", [L1]),
            ("Company = 'nobody'", []),
        ]
        for where, want in cases:
            text = "SELECT Id FROM Lead WHERE Id IN ('%s', '%s', '%s') AND (%s)" % (L1, L2, L3, where)
            self.assertEqual(sorted(self.ids(text)), want, where)
        r = self.soql('select id, lastname, Foo__c from lead where id = \'%s\'' % L1)
        rec = r.json['records'][0]
        self.assertEqual(rec['attributes'], {'type': 'Lead', 'url': '/services/data/v60.0/sobjects/Lead/' + L1})
        self.assertEqual((rec['Id'], rec['LastName'], rec['Foo__c']), (L1, "O'Brien", None))
        self.assertEqual(set(rec), {'attributes', 'Id', 'LastName', 'Foo__c'})
        seeded = "SELECT Id FROM Lead WHERE Id IN ('%s', '%s', '%s') " % (L1, L2, L3)
        self.assertEqual(self.ids(seeded + 'ORDER BY SystemModstamp DESC'), [L1, L2])
        self.assertEqual(self.ids(seeded + 'ORDER BY SystemModstamp ASC LIMIT 1'), [L2])
        r = self.soql(seeded)
        self.assertEqual((r.json['totalSize'], r.json['done']), (2, True))
        self.assertNotIn('nextRecordsUrl', r.json)

    def test_malformed_query(self):
        for text in ('SELECT FROM Lead', "SELECT Id FROM Lead WHERE Name = 'open", "SELECT Id FROM Lead WHERE A = "
                     "'bad\\q'", 'SELECT Id FROM Lead LIMIT x', 'DELETE FROM Lead'):
            r = self.soql(text)
            self.assertEqual(r.status, 400, text)
            self.assertEqual(r.json[0]['errorCode'], 'MALFORMED_QUERY', text)
            self.assertTrue(r.json[0]['message'])
        r = self.soql('SELECT Id FROM Nothing__c')
        self.assertEqual((r.status, r.json[0]['errorCode']), (400, 'INVALID_TYPE'))

    def test_query_all_and_deleted(self):
        self.assertEqual(self.ids("SELECT Id FROM Lead WHERE LastName = 'gone'"), [])
        r = self.soql("SELECT Id, IsDeleted FROM Lead WHERE LastName = 'gone'", all_=True)
        self.assertEqual([(x['Id'], x['IsDeleted']) for x in r.json['records']], [(L3, True)])
        # a delete through the API shows in queryAll and in deleted/
        r = self.sf('POST', SF + '/sobjects/Lead', {'LastName': 'Short', 'Company': 'Lived'})
        self.assertEqual(r.status, 201, r)
        new = r.json['id']
        before = emu_util.now()
        self.assertEqual(self.sf('DELETE', SF + '/sobjects/Lead/' + new).status, 204)
        self.assertEqual(self.ids("SELECT Id FROM Lead WHERE Id = '%s'" % new), [])
        self.assertEqual(self.ids("SELECT Id FROM Lead WHERE Id = '%s'" % new, all_=True), [new])
        start = emu_util.fmt_sf(before.replace(microsecond=0)).replace('.000+0000', '+00:00')
        r = self.sf('GET', q(SF + '/sobjects/Lead/deleted/', start=start, end='2099-01-01T00:00:00Z'))
        self.assertEqual(r.status, 200, r)
        self.assertIn(new, [d['id'] for d in r.json['deletedRecords']])
        self.assertNotIn(L3, [d['id'] for d in r.json['deletedRecords']])     # deleted before start
        self.assertIn('earliestDateAvailable', r.json)
        self.assertEqual(r.json['latestDateCovered'], '2099-01-01T00:00:00.000+0000')
        r = self.sf('GET', q(SF + '/sobjects/Lead/deleted', start='2021-11-02T00:00:00Z', end='2021-11-03T00:00:00Z'))
        self.assertEqual([d['id'] for d in r.json['deletedRecords']], [L3])
        self.assertEqual(self.sf('GET', SF + '/sobjects/Lead/deleted/').status, 400)
        self.assertIn(new, self.state()['salesforce']['deleted']['Lead'])

    def test_paging(self):
        r = self.soql("SELECT Id, Name FROM Account WHERE Name LIKE 'Bulk%' ORDER BY Name",
                      headers={'Sforce-Query-Options': 'batchSize=200'})
        got, pages = [], 0
        while True:
            self.assertEqual(r.status, 200, r)
            pages += 1
            self.assertEqual(r.json['totalSize'], 450)
            got += [x['Name'] for x in r.json['records']]
            if r.json['done']:
                self.assertNotIn('nextRecordsUrl', r.json)
                break
            url = r.json['nextRecordsUrl']
            self.assertRegex(url, r'^/services/data/v60\.0/query/\w+-%d$' % len(got))
            r = self.sf('GET', '/sf' + url)     # the client prefixes the instance URL
        self.assertEqual(pages, 3)
        self.assertEqual(got, ['Bulk %03d' % i for i in range(450)])
        r = self.soql("SELECT Id FROM Account WHERE Name LIKE 'Bulk%'")   # default page: 2000
        self.assertEqual((len(r.json['records']), r.json['done']), (450, True))
        r = self.sf('GET', SF + '/query/01gnosuchcursor-200')
        self.assertEqual((r.status, r.json[0]['errorCode']), (400, 'INVALID_QUERY_LOCATOR'))

    def test_composite_create(self):
        body = {'allOrNone': False, 'records': [
            {'attributes': {'type': 'Lead'}, 'LastName': 'Comp1', 'Company': 'C', 'OwnerId': '005000000000009AAA'},
            {'attributes': {'type': 'Lead'}, 'LastName': 'Comp2'},
            {'attributes': {'type': 'Opportunity'}, 'Name': 'Deal'},
            {'LastName': 'NoType'},
            {'attributes': {'type': 'Contact'}, 'LastName': 'Comp3', 'Custom__c': 'kept'},
        ]}
        r = self.sf('POST', SF + '/composite/sobjects', body, {'Sforce-Auto-Assign': 'TRUE'})
        self.assertEqual(r.status, 200, r)
        res = r.json
        self.assertEqual([x['success'] for x in res], [True, False, False, False, True])
        self.assertRegex(res[0]['id'], r'^00Q\d{12}AAA$')
        self.assertRegex(res[4]['id'], r'^003\d{12}AAA$')
        self.assertEqual(res[1]['errors'], [{'statusCode': 'REQUIRED_FIELD_MISSING', 'message':
                                             'Required fields are missing: [Company]', 'fields': ['Company']}])
        self.assertEqual(res[2]['errors'][0]['fields'], ['StageName', 'CloseDate'])
        self.assertEqual(res[0]['errors'], [])
        lead = self.sf('GET', SF + '/sobjects/Lead/' + res[0]['id']).json
        self.assertEqual(lead['OwnerId'], '00G000000000001AAA')          # assigned to the queue
        self.assertRegex(lead['SystemModstamp'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$')
        self.assertIs(lead['IsDeleted'], False)
        self.assertEqual(self.sf('GET', SF + '/sobjects/Contact/' + res[4]['id']).json['Custom__c'], 'kept')
        body = {'records': [{'attributes': {'type': 'Lead'}, 'LastName': 'Comp4', 'Company': 'C',
                             'OwnerId': '005000000000009AAA'}]}
        r = self.sf('POST', SF + '/composite/sobjects', body, {'Sforce-Auto-Assign': 'FALSE'})
        lead = self.sf('GET', SF + '/sobjects/Lead/' + r.json[0]['id']).json
        self.assertEqual(lead['OwnerId'], '005000000000009AAA')          # as sent
        # allOrNone: nothing is stored when one fails
        body = {'allOrNone': True, 'records': [{'attributes': {'type': 'Account'}, 'Name': 'AON ok'},
                                               {'attributes': {'type': 'Account'}}]}
        r = self.sf('POST', SF + '/composite/sobjects', body)
        self.assertEqual([x['success'] for x in r.json], [False, False])
        self.assertEqual(r.json[0]['errors'][0]['statusCode'], 'ALL_OR_NONE_OPERATION_ROLLED_BACK')
        self.assertEqual(self.ids("SELECT Id FROM Account WHERE Name = 'AON ok'"), [])
        # more than 200 records
        body = {'records': [{'attributes': {'type': 'Account'}, 'Name': 'n%d' % i} for i in range(201)]}
        r = self.sf('POST', SF + '/composite/sobjects', body)
        self.assertEqual((r.status, r.json[0]['errorCode']), (400, 'INVALID_BATCH_SIZE'))
        # audit fields are Salesforce's own
        r = self.sf('POST', SF + '/composite/sobjects', {'records': [
            {'attributes': {'type': 'Account'}, 'Name': 'x', 'SystemModstamp': '2021-01-01T00:00:00Z'}]})
        self.assertEqual(r.json[0]['errors'][0]['statusCode'], 'INVALID_FIELD_FOR_INSERT_UPDATE')

    def test_composite_update_delete(self):
        r = self.sf('POST', SF + '/composite/sobjects', {'records': [
            {'attributes': {'type': 'Lead'}, 'LastName': 'Up%d' % i, 'Company': 'U'} for i in range(3)]})
        a, b, c = [x['id'] for x in r.json]
        self.assertEqual(self.sf('DELETE', SF + '/sobjects/Lead/' + c).status, 204)
        before = self.sf('GET', SF + '/sobjects/Lead/' + a).json['SystemModstamp']
        time.sleep(0.01)
        r = self.sf('PATCH', SF + '/composite/sobjects', {'allOrNone': False, 'records': [
            {'attributes': {'type': 'Lead'}, 'id': a, 'Title': 'Boss'},
            {'attributes': {'type': 'Lead'}, 'id': '00Q999999999999AAA', 'Title': 'x'},
            {'attributes': {'type': 'Lead'}, 'id': c, 'Title': 'x'}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x['success'] for x in r.json], [True, False, False])
        self.assertEqual(r.json[0]['id'], a)
        self.assertEqual(r.json[1]['errors'][0]['statusCode'], 'INVALID_CROSS_REFERENCE_KEY')
        self.assertEqual(r.json[2]['errors'][0]['statusCode'], 'ENTITY_IS_DELETED')
        after = self.sf('GET', SF + '/sobjects/Lead/' + a).json
        self.assertEqual(after['Title'], 'Boss')
        self.assertGreater(emu_util.parse_time(after['SystemModstamp']), emu_util.parse_time(before))
        r = self.sf('DELETE', q(SF + '/composite/sobjects', ids='%s,%s,%s' % (a, b, c), allOrNone='false'))
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(x['id'], x['success']) for x in r.json], [(a, True), (b, True), (c, False)])
        self.assertEqual(self.ids("SELECT Id FROM Lead WHERE LastName LIKE 'Up%'"), [])
        self.assertEqual(sorted(self.ids("SELECT Id FROM Lead WHERE LastName LIKE 'Up%'", all_=True)),
                         sorted([a, b, c]))

    def test_single_records(self):
        r = self.sf('POST', SF + '/sobjects/Contact', {'LastName': 'Single', 'Email': 'single@example.com'})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json['success'], r.json['errors']), (True, []))
        cid = r.json['id']
        r = self.sf('POST', SF + '/sobjects/Contact', {'Email': 'x@example.com'})
        self.assertEqual((r.status, r.json[0]['errorCode'], r.json[0]['fields']), (400, 'REQUIRED_FIELD_MISSING',
                                                                                  ['LastName']))
        r = self.sf('PATCH', SF + '/sobjects/Contact/' + cid, {'Phone': '+1 555'}, {'Sforce-Auto-Assign': 'FALSE'})
        self.assertEqual((r.status, r.raw), (204, b''))
        self.assertEqual(r.headers['content-length'], '0')
        self.assertEqual(self.sf('GET', SF + '/sobjects/Contact/' + cid).json['Phone'], '+1 555')
        self.assertEqual(self.sf('PATCH', SF + '/sobjects/Contact/003999999999999AAA', {'Phone': '1'}).status, 404)
        self.assertEqual(self.sf('DELETE', SF + '/sobjects/Contact/' + cid).status, 204)
        r = self.sf('DELETE', SF + '/sobjects/Contact/' + cid)
        self.assertEqual((r.status, r.json[0]['errorCode']), (404, 'ENTITY_IS_DELETED'))
        self.assertEqual(self.sf('PATCH', SF + '/sobjects/Contact/' + cid, {'Phone': '1'}).status, 404)
        r = self.sf('GET', SF + '/sobjects/Contact/003000000000001AAA')
        u1 = int(re.search(r'=(\d+)/', r.headers['sforce-limit-info']).group(1))
        r = self.sf('GET', SF + '/sobjects/Contact/003000000000001AAA')
        u2 = int(re.search(r'=(\d+)/', r.headers['sforce-limit-info']).group(1))
        self.assertEqual(u2, u1 + 1)


# ---------------------------------------------------------------- Dynamics 365

def batch_body(boundary, items):
    """items: (method, url, body or None, headers) or ('changeset', boundary, [items])."""
    lines = []
    for it in items:
        lines.append('--' + boundary)
        if it[0] == 'changeset':
            lines += ['Content-Type: multipart/mixed; boundary=' + it[1], '', batch_body(it[1], it[2])]
            continue
        m, url, body, h = it
        lines += ['Content-Type: application/http', 'Content-Transfer-Encoding: binary', '',
                  '%s %s HTTP/1.1' % (m, url)]
        if body is not None:
            lines.append('Content-Type: application/json')
        lines += ['%s: %s' % kv for kv in h.items()]
        lines += ['', json.dumps(body) if body is not None else '']
    lines.append('--%s--' % boundary)
    return '\r\n'.join(lines)


def batch_parts(r):
    """[(status, json body or None)] of a $batch answer, change sets flattened."""
    out = []
    for chunk in re.split(r'HTTP/1\.1 (?=\d{3} )', r.raw.decode())[1:]:
        status = int(chunk[:3])
        head, _, rest = chunk.partition('\r\n\r\n')
        m = re.match(r'\s*(\{.*\})\s*\r\n--', rest, re.S)
        out.append((status, json.loads(m.group(1)) if m else None))
    return out


class TestDynamics(Base):
    def test_token_and_auth(self):
        base = {'grant_type': 'client_credentials', 'client_id': 'cid', 'client_secret': 'csecret',
                'scope': 'http://127.0.0.1:%d/d365/.default' % PORT}
        form = {'Content-Type': 'application/x-www-form-urlencoded'}
        r = C.call('POST', '/d365/login/t1/oauth2/v2.0/token', urlencode(base), form)
        self.assertEqual((r.status, r.json['token_type'], r.json['expires_in']), (200, 'Bearer', 3599))
        for path, body in (('/d365/login/t1/oauth2/v2.0/token', dict(base, client_secret='no')),
                           ('/d365/login/other/oauth2/v2.0/token', base)):
            r = C.call('POST', path, urlencode(body), form)
            self.assertEqual((r.status, r.json['error']), (401, 'invalid_client'))
            self.assertIn('error_description', r.json)
        for auth in ({}, {'Authorization': 'Bearer nope'}):
            r = C.call('GET', D365 + '/leads', headers=auth)
            self.assertEqual((r.status, r.json['error']['code']), (401, '0x80072182'))
            self.assertIn('message', r.json['error'])

    def filt(self, f, sel='leadid'):
        # only among the seeded leads, whatever other tests created
        f = '(leadid eq %s or leadid eq %s) and (%s)' % (D1, D2, f)
        r = self.d365('GET', q(D365 + '/leads', **{'$select': sel, '$filter': f}))
        self.assertEqual(r.status, 200, (f, r))
        return sorted(x['leadid'] for x in r.json['value'])

    def test_filter(self):
        cases = [("lastname eq 'o''hara'", [D1]), ("emailaddress1 eq 'ann@CONTOSO.example'", [D1]),
                 ('leadid eq %s' % D2.upper(), [D2]), ('modifiedon gt 2021-11-02T08:00:00Z', [D1]),
                 ('modifiedon ge 2021-11-02T07:00:00Z and statecode eq 1', [D2]), ('not (statecode eq 1)', [D1]),
                 ('statecode eq 1 or revenue gt 100', [D1, D2]), ('emailaddress1 eq null', [D2]),
                 ('emailaddress1 ne null', [D1]), ("(statecode eq 0 or statecode eq 1) and firstname ne 'ann'", [D2]),
                 ("startswith(lastname,'o''')", [D1]), ('revenue le 5.0', [D2])]
        for f, want in cases:
            self.assertEqual(self.filt(f), want, f)
        r = self.d365('GET', q(D365 + '/leads', **{'$select': 'firstname,lastname', '$filter': "leadid eq %s" % D1}))
        row = r.json['value'][0]
        self.assertEqual(set(row), {'@odata.etag', 'leadid', 'firstname', 'lastname'})
        self.assertRegex(row['@odata.etag'], r'^W/"\d+"$')
        self.assertEqual(r.json['@odata.context'],
                         'http://127.0.0.1:%d%s/$metadata#leads(firstname,lastname)' % (PORT, D365))
        r = self.d365('GET', q(D365 + '/leads', **{'$orderby': 'modifiedon desc', '$filter': "subject eq 'Web'"}))
        self.assertEqual([x['leadid'] for x in r.json['value']], [D1, D2])
        for bad in ('lastname eq', "lastname equals 'x'", "(lastname eq 'x'", "lastname eq 'x"):
            r = self.d365('GET', q(D365 + '/leads', **{'$filter': bad}))
            self.assertEqual((r.status, r.json['error']['code']), (400, '0x80060888'), bad)

    def test_paging(self):
        path = q(D365 + '/accounts', **{'$select': 'name', '$orderby': 'modifiedon asc',
                                        '$filter': "startswith(name,'Acct')"})
        r = self.d365('GET', path, headers={'Prefer': 'odata.maxpagesize=10'})
        self.assertEqual(r.headers.get('preference-applied'), 'odata.maxpagesize=10')
        got, pages = [], 0
        while True:
            self.assertEqual(r.status, 200, r)
            pages += 1
            got += [x['name'] for x in r.json['value']]
            link = r.json.get('@odata.nextLink')
            if not link:
                break
            prefix = 'http://127.0.0.1:%d/d365/api/data/v9.2/accounts?' % PORT
            self.assertTrue(link.startswith(prefix), link)
            self.assertIn('$skiptoken=', link)
            # the page size asked for on the first page holds without asking again
            r = self.d365('GET', link[len('http://127.0.0.1:%d' % PORT):])
        self.assertEqual(pages, 3)
        self.assertEqual(got, ['Acct %02d' % i for i in range(1, 26)])
        r = self.d365('GET', path)
        self.assertEqual(len(r.json['value']), 25)
        self.assertNotIn('@odata.nextLink', r.json)
        r = self.d365('GET', q(D365 + '/accounts', **{'$skiptoken': '<cookie pagingcookie="nope:10" />'}))
        self.assertEqual(r.status, 400)

    def test_create_update_delete(self):
        acct = acct_id(1)
        r = self.d365('POST', q(D365 + '/contacts', **{'$select': 'contactid'}),
                      {'lastname': 'New', 'firstname': 'N',
                       'parentcustomerid_account@odata.bind': '/accounts(%s)' % acct,
                       'originatingleadid@odata.bind': '/leads(%s)' % D1},
                      {'Prefer': 'return=representation'})
        self.assertEqual(r.status, 201, r)
        cid = r.json['contactid']
        self.assertRegex(cid, r'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')
        self.assertEqual(set(r.json), {'@odata.context', '@odata.etag', 'contactid'})
        r = self.d365('GET', q(D365 + '/contacts', **{'$filter': '_parentcustomerid_value eq %s' % acct}))
        rows = r.json['value']
        self.assertEqual([x['contactid'] for x in rows], [cid])
        self.assertEqual(rows[0]['_originatingleadid_value'], D1)
        self.assertNotIn('parentcustomerid_account@odata.bind', rows[0])
        self.assertRegex(rows[0]['modifiedon'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        r = self.d365('POST', D365 + '/leads', {'lastname': 'Plain', 'subject': 'S'})
        self.assertEqual((r.status, r.raw), (204, b''))
        m = re.fullmatch(r'http://127\.0\.0\.1:%d/d365/api/data/v9\.2/leads\(([0-9a-f-]{36})\)' % PORT,
                         r.headers['odata-entityid'])
        self.assertTrue(m, r.headers)
        lid = m.group(1)
        r = self.d365('POST', D365 + '/leads', {'lastname': 'NoSubject'})
        self.assertEqual((r.status, r.json['error']['code']), (400, '0x80040200'))
        r = self.d365('POST', D365 + '/contacts', {'lastname': 'X', 'parentcustomerid_account@odata.bind':
                                                   '/accounts(%s)' % acct_id(99)})
        self.assertEqual(r.status, 404)
        before = self.d365('GET', D365 + '/leads(%s)' % lid).json
        r = self.d365('PATCH', D365 + '/leads(%s)' % lid, {'firstname': 'Pat'}, {'If-Match': '*'})
        self.assertEqual(r.status, 204, r)
        after = self.d365('GET', D365 + '/leads(%s)' % lid).json
        self.assertEqual(after['firstname'], 'Pat')
        self.assertNotEqual(after['@odata.etag'], before['@odata.etag'])
        r = self.d365('PATCH', D365 + '/leads(00000000-0000-0000-0000-000000000999)', {'firstname': 'x'},
                      {'If-Match': '*'})
        self.assertEqual((r.status, r.json['error']['code']), (404, '0x80040217'))
        self.assertIn('Does Not Exist', r.json['error']['message'])
        self.assertEqual(self.d365('DELETE', D365 + '/leads(%s)' % lid).status, 204)
        self.assertEqual(self.d365('DELETE', D365 + '/leads(%s)' % lid).status, 404)
        self.assertIn(lid, self.state()['dynamics365']['deleted']['leads'])

    def test_batch(self):
        def run(items, prefer=None):
            h = {'Content-Type': 'multipart/mixed; boundary=batch_T1'}
            if prefer:
                h['Prefer'] = prefer
            r = self.d365('POST', D365 + '/$batch', batch_body('batch_T1', items), h)
            self.assertEqual(r.status, 200, r)
            self.assertRegex(r.headers['content-type'], r'^multipart/mixed; boundary=batchresponse_')
            return batch_parts(r)

        mine = re.search(r'\((.*)\)', self.d365('POST', D365 + '/leads', {'lastname': 'Mine', 'subject': 's'})
                         .headers['odata-entityid']).group(1)
        items = [('POST', 'http://127.0.0.1:%d%s/leads?$select=leadid' % (PORT, D365),
                  {'lastname': 'B1', 'subject': 's'}, {'Prefer': 'return=representation'}),
                 ('POST', '/api/data/v9.2/leads', {'lastname': 'B2'}, {}),
                 ('PATCH', 'leads(%s)' % mine, {'jobtitle': 'Batched'}, {'If-Match': '*'})]
        parts = run(items, 'odata.continue-on-error')
        self.assertEqual([p[0] for p in parts], [201, 400, 204])
        self.assertIn('leadid', parts[0][1])
        self.assertEqual(parts[1][1]['error']['code'], '0x80040200')
        self.assertEqual(self.d365('GET', D365 + '/leads(%s)' % mine).json['jobtitle'], 'Batched')
        parts = run(items)        # without continue-on-error it stops at the failure
        self.assertEqual([p[0] for p in parts], [201, 400])
        # a change set is all or nothing
        cs = ('changeset', 'changeset_C1', [('POST', 'leads', {'lastname': 'CS1', 'subject': 's'}, {}),
                                           ('POST', 'leads', {'lastname': 'CS2'}, {})])
        parts = run([cs], 'odata.continue-on-error')
        self.assertEqual([p[0] for p in parts], [400])
        r = self.d365('GET', q(D365 + '/leads', **{'$filter': "lastname eq 'CS1'"}))
        self.assertEqual(r.json['value'], [])
        doomed = re.search(r'\((.*)\)', self.d365('POST', D365 + '/leads', {'lastname': 'Doomed', 'subject': 's'})
                           .headers['odata-entityid']).group(1)
        cs = ('changeset', 'changeset_C2', [('POST', 'leads', {'lastname': 'CS3', 'subject': 's'}, {}),
                                           ('DELETE', 'leads(%s)' % doomed, None, {})])
        self.assertEqual([p[0] for p in run([cs])], [204, 204])
        self.assertEqual(self.d365('GET', D365 + '/leads(%s)' % doomed).status, 404)
        r = self.d365('POST', D365 + '/$batch', batch_body('b', [('GET', 'leads', None, {})] * 1001),
                      {'Content-Type': 'multipart/mixed; boundary=b'})
        self.assertEqual(r.status, 400)
        r = self.d365('POST', D365 + '/$batch', 'x', {'Content-Type': 'application/json'})
        self.assertEqual(r.status, 400)


    # ------------------------------------------------------------ change tracking

    def d365_prefers(self, path, *prefers):
        """A GET sending each of `prefers` as its own Prefer header line."""
        conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=10)
        try:
            conn.putrequest('GET', path, skip_accept_encoding=True)
            conn.putheader('Authorization', 'Bearer ' + self.d365_tok)
            for p in prefers:
                conn.putheader('Prefer', p)
            conn.endheaders()
            r = conn.getresponse()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def tracked_pages(self, first, between=None):
        """[(answer json)] of a tracked read followed through its nextLinks
        (the follow-up pages sent as a client would: the link as given,
        Prefer again); between(n) runs after page n."""
        pages = [first]
        origin = 'http://127.0.0.1:%d' % PORT
        while True:
            r = pages[-1]
            self.assertEqual(r.status, 200, r)
            if between:
                between(len(pages))
            link = r.json.get('@odata.nextLink')
            if not link:
                break
            self.assertNotIn('@odata.deltaLink', r.json)
            self.assertIn('istracking%3D%22True%22', link)
            self.assertTrue(link.startswith(origin + D365 + '/opportunities?'), link)
            pages.append(self.d365('GET', link[len(origin):], headers={'Prefer': 'odata.track-changes'}))
        self.assertIn('@odata.deltaLink', pages[-1].json)
        return [p.json for p in pages]

    def test_track_changes(self):
        sel_ctx = 'http://127.0.0.1:%d%s/$metadata#opportunities(name,stepname)' % (PORT, D365)
        link_re = (r'http://127\.0\.0\.1:%d/d365/api/data/v9\.2/opportunities\?\$select=name,stepname'
                   r'&\$deltatoken=([^&]+)' % PORT)
        origin = 'http://127.0.0.1:%d' % PORT
        path = D365 + '/opportunities?$select=name,stepname&$orderby=name%20desc'    # $orderby is ignored
        changed = {}

        def write_after_page(n):
            if n == 1:      # after the token's moment, though within the initial read
                r = self.d365('PATCH', D365 + '/opportunities(%s)' % opp_id(1), {'stepname': 'propose'})
                self.assertEqual(r.status, 204, r)
                changed[opp_id(1)] = 'propose'

        first = self.d365('GET', path, headers={'Prefer': 'odata.track-changes,odata.maxpagesize=2'})
        self.assertEqual(first.headers.get('preference-applied'), 'odata.maxpagesize=2,odata.track-changes')
        pages = self.tracked_pages(first, write_after_page)
        self.assertEqual([len(p['value']) for p in pages], [2, 2, 2])
        self.assertEqual(pages[0]['@odata.context'], sel_ctx)
        rows = [x for p in pages for x in p['value']]
        self.assertEqual([x['opportunityid'] for x in rows], [opp_id(i) for i in range(1, 7)])
        for x in rows:
            self.assertEqual(set(x), {'@odata.etag', 'opportunityid', 'name', 'stepname'})
        link = pages[-1]['@odata.deltaLink']
        self.assertRegex(link, '^' + link_re + '$')

        # the changes: an update (above), a create, a create then delete, a delete
        # through the API and through /__delete, a /__touch, a $batch part
        r = self.d365('POST', D365 + '/opportunities', {'name': 'Opp new', 'stepname': 'qualify'})
        new = re.search(r'\((.*)\)', r.headers['odata-entityid']).group(1)
        changed[new] = 'qualify'
        r = self.d365('POST', D365 + '/opportunities', {'name': 'Opp brief'})
        brief = re.search(r'\((.*)\)', r.headers['odata-entityid']).group(1)
        self.assertEqual(self.d365('DELETE', D365 + '/opportunities(%s)' % brief).status, 204)
        self.assertEqual(self.d365('DELETE', D365 + '/opportunities(%s)' % opp_id(2)).status, 204)
        r = C.call('POST', '/__delete', {'system': 'd365', 'object': 'opportunities', 'id': opp_id(3)})
        self.assertEqual(r.status, 200, r)
        r = C.call('POST', '/__touch', {'system': 'd365', 'object': 'opportunity', 'id': opp_id(4),
                                        'fields': {'stepname': 'close'}})
        self.assertEqual(r.status, 200, r)
        changed[opp_id(4)] = 'close'
        r = self.d365('POST', D365 + '/$batch', batch_body('batch_CT', [
            ('PATCH', 'opportunities(%s)' % opp_id(5), {'stepname': 'develop'}, {})]),
            {'Content-Type': 'multipart/mixed; boundary=batch_CT'})
        self.assertEqual([p[0] for p in batch_parts(r)], [204])
        changed[opp_id(5)] = 'develop'
        self.d365('PATCH', D365 + '/leads(%s)' % D1, {'jobtitle': 'elsewhere'})    # another set: not in this delta

        # the delta read: the deltaLink as given, Prefer in two header lines
        first = self.d365_prefers(link[len(origin):], 'odata.maxpagesize=2', 'odata.track-changes')
        self.assertEqual(first.headers.get('preference-applied'), 'odata.maxpagesize=2,odata.track-changes')
        pages = self.tracked_pages(first)
        self.assertEqual([len(p['value']) for p in pages], [2, 2, 2, 1])
        self.assertEqual(pages[0]['@odata.context'], sel_ctx + '/$delta')
        rows = [x for p in pages for x in p['value']]
        upserts, deletes = rows[:4], rows[4:]
        self.assertEqual([x['opportunityid'] for x in upserts], list(changed))     # in the order of the writes
        for x in upserts:
            self.assertEqual(set(x), {'@odata.etag', 'opportunityid', 'name', 'stepname'})
            self.assertRegex(x['@odata.etag'], r'^W/"\d+"$')
            self.assertEqual(x['stepname'], changed[x['opportunityid']])
        gone_ctx = 'http://127.0.0.1:%d%s/$metadata#opportunities/$deletedEntity' % (PORT, D365)
        self.assertEqual(deletes, [{'@odata.context': gone_ctx, 'id': i, 'reason': 'deleted'}
                                   for i in (brief, opp_id(2), opp_id(3))])
        link2 = pages[-1]['@odata.deltaLink']
        self.assertRegex(link2, '^' + link_re + '$')
        self.assertNotEqual(link2, link)

        # nothing changed since: an empty delta, with a fresh link
        r = self.d365('GET', link2[len(origin):], headers={'Prefer': 'odata.track-changes'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json['value'], [])
        self.assertNotIn('@odata.nextLink', r.json)
        self.assertRegex(r.json['@odata.deltaLink'], '^' + link_re + '$')

        # refused: $filter, a token not issued (or issued for another set), an untracked table
        r = self.d365('GET', q(D365 + '/opportunities', **{'$filter': "name eq 'Opp 1'"}),
                      headers={'Prefer': 'odata.track-changes'})
        self.assertEqual((r.status, r.json), (400, {'error': {
            'code': '0x80060888', 'message': 'The $filter query option is not supported with change tracking.'}}))
        token = re.fullmatch(link_re, link2).group(1)
        for bad in (q(D365 + '/opportunities', **{'$select': 'name', '$deltatoken': 'nope'}),
                    D365 + '/opportunities?$deltatoken=',
                    D365 + '/opportunities?$deltatoken=999999%2101%2f01%2f2021%2000%3a00%3a00',
                    D365 + '/accounts?$deltatoken=' + token):
            r = self.d365('GET', bad, headers={'Prefer': 'odata.track-changes'})
            self.assertEqual((r.status, r.json), (400, {'error': {'code': '0x80040203',
                                                                  'message': 'Invalid delta token.'}}), bad)
        for path in (D365 + '/contacts?$select=lastname', D365 + '/contacts?$deltatoken=' + token):
            r = self.d365('GET', path, headers={'Prefer': 'odata.track-changes'})
            self.assertEqual((r.status, r.json), (400, {'error': {
                'code': '0x80072491', 'message': "Entity 'contact' is not enabled for change tracking."}}))
        r = self.d365('GET', D365 + '/contacts?$select=lastname')      # an ordinary read of it is fine
        self.assertEqual(r.status, 200)
        self.assertNotIn('@odata.deltaLink', r.json)
        self.assertEqual(self.state()['dynamics365']['untracked'], ['contacts'])

        # faults apply to tracked reads as to any other
        self.fault(system='d365', kind='status', status=503, path='/opportunities$')
        r = self.d365('GET', link2[len(origin):], headers={'Prefer': 'odata.track-changes'})
        self.assertEqual((r.status, r.json['error']['code']), (503, '0x80072321'))
        r = self.d365('GET', link2[len(origin):], headers={'Prefer': 'odata.track-changes'})
        self.assertEqual((r.status, r.json['value']), (200, []))


# ---------------------------------------------------------------- ActiveCampaign

class TestActiveCampaign(Base):
    def cids(self, **params):
        r = self.ac('GET', AC + '/contacts?' + urlencode(params))
        self.assertEqual(r.status, 200, r)
        return [c['id'] for c in r.json['contacts']]

    def test_a_auth(self):
        for h in ({'Api-Token': 'wrong'}, {}):
            r = C.call('GET', AC + '/contacts', headers=h)
            self.assertEqual(r.status, 403)
            self.assertEqual(r.json, {'message': 'No Result found for Subscriber with id 0'})

    def test_b_contact_list(self):
        self.assertEqual(self.cids(**{'orders[id]': 'ASC'}), ['7', '8', '10'])      # 9 is deleted
        self.assertEqual(self.cids(**{'filters[updated_after]': '2021-11-02T07:00:00-00:00',
                                      'orders[udate]': 'ASC', 'orders[id]': 'ASC'}), ['8', '7'])
        self.assertEqual(self.cids(**{'filters[status]': '-1', 'orders[id]': 'DESC'}), ['10', '9', '8', '7'])
        self.assertEqual(self.cids(ids='7,9'), ['7'])
        self.assertEqual(self.cids(email='KAI@example.com'), ['8'])
        self.assertEqual(self.cids(**{'filters[email]': 'kai@EXAMPLE.com'}), ['8'])
        self.assertEqual(self.cids(tagid='20'), ['8'])
        r = self.ac('GET', AC + '/contacts?' + urlencode({'orders[id]': 'ASC', 'limit': 2, 'offset': 0}))
        self.assertEqual([c['id'] for c in r.json['contacts']], ['7', '8'])
        self.assertEqual(r.json['meta'], {'total': '3', 'page_input': {'limit': 2, 'offset': 0}})
        r = self.ac('GET', AC + '/contacts?' + urlencode({'orders[id]': 'ASC', 'limit': 500, 'offset': 2}))
        self.assertEqual([c['id'] for c in r.json['contacts']], ['10'])
        self.assertEqual(r.json['meta']['page_input'], {'limit': 100, 'offset': 2})
        c = r.json['contacts'][0]
        for k in ('id', 'email', 'firstName', 'udate', 'deleted', 'links'):
            self.assertIn(k, c)
        r = self.ac('GET', AC + '/contacts?ids=7&include=fieldValues,contactTags,contactLists,accountContacts')
        self.assertEqual([x['id'] for x in r.json['fieldValues']], ['50'])
        self.assertEqual(r.json['contactTags'], [])
        self.assertEqual([x['id'] for x in r.json['contactLists']], ['60'])
        self.assertEqual([x['id'] for x in r.json['accountContacts']], ['90'])
        r = self.ac('GET', AC + '/contacts?ids=7')
        self.assertNotIn('fieldValues', r.json)
        r = self.ac('GET', AC + '/contacts?ids=8&include=contactTags.tag')
        self.assertEqual([x['id'] for x in r.json['contactTags']], ['700'])
        self.assertEqual([x['tag'] for x in r.json['tags']], ['vip'])

    def test_c_contact_sync(self):
        body = {'contact': {'email': 'New1@Example.com', 'firstName': 'New', 'lastName': 'One', 'phone': '1',
                            'orgname': 'Org', 'fieldValues': [{'field': '1', 'value': 'Energy'}]}}
        r = self.ac('POST', AC + '/contact/sync', body)
        self.assertEqual(r.status, 201, r)
        c = r.json['contact']
        self.assertGreaterEqual(int(c['id']), 1000)
        self.assertEqual((c['email'], c['firstName'], c['deleted']), ('New1@Example.com', 'New', '0'))
        self.assertRegex(c['udate'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00$')
        fv = r.json['fieldValues']
        self.assertEqual([(x['contact'], x['field'], x['value']) for x in fv], [(c['id'], '1', 'Energy')])
        self.assertEqual(set(fv[0]), {'id', 'contact', 'field', 'value', 'cdate', 'udate'})
        r = self.ac('POST', AC + '/contact/sync', {'contact': {'email': 'new1@example.COM', 'lastName': 'Two',
                                                               'fieldValues': [{'field': '1', 'value': 'Oil'}]}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json['contact']['id'], r.json['contact']['lastName']), (c['id'], 'Two'))
        self.assertEqual([x['value'] for x in r.json['fieldValues']], ['Oil'])
        r = self.ac('POST', AC + '/contact/sync', {'contact': {'firstName': 'NoMail'}})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json, {'errors': [{'title': 'Contact Email Address is not valid.', 'detail': '',
                                              'code': 'email_invalid',
                                              'source': {'pointer': '/data/attributes/email'}}]})
        # PUT moves udate, custom values included
        old = '2021-11-02T08:00:00-00:00'
        r = self.ac('PUT', AC + '/contacts/8', {'contact': {'lastName': 'Put', 'fieldValues': [{'field': '1',
                                                                                             'value': 'Gas'}]}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json['contact']['lastName'], 'Put')
        self.assertGreater(emu_util.parse_time(r.json['contact']['udate']), emu_util.parse_time(old))
        r = self.ac('PUT', AC + '/contacts/99999', {'contact': {'lastName': 'x'}})
        self.assertEqual((r.status, r.json), (404, {'message': 'No Result found for Subscriber with id 99999'}))
        r = self.ac('DELETE', AC + '/contacts/' + c['id'])
        self.assertEqual((r.status, r.json), (200, {}))
        self.assertEqual(self.ac('GET', AC + '/contacts/' + c['id']).status, 404)
        self.assertIn(c['id'], self.state()['activecampaign']['deleted']['contacts'])

    def test_d_tags_fields_lists(self):
        r = self.ac('POST', AC + '/tags', {'tag': {'tag': 'new-tag', 'tagType': 'contact', 'description': ''}})
        self.assertEqual(r.status, 201, r)
        tag = r.json['tag']['id']
        self.assertEqual(r.json['tag']['tag'], 'new-tag')
        r = self.ac('POST', AC + '/contactTags', {'contactTag': {'contact': '10', 'tag': tag}})
        self.assertEqual(r.status, 201, r)
        ct = r.json['contactTag']
        self.assertEqual((ct['contact'], ct['tag']), ('10', tag))
        self.assertEqual(self.cids(tagid=tag), ['10'])
        self.assertEqual(self.ac('DELETE', AC + '/contactTags/' + ct['id']).json, {})
        self.assertEqual(self.ac('DELETE', AC + '/contactTags/' + ct['id']).status, 404)
        r = self.ac('POST', AC + '/fields', {'field': {'type': 'text', 'title': 'Region'}})
        self.assertEqual((r.status, r.json['field']['title']), (201, 'Region'))
        fid = r.json['field']['id']
        r = self.ac('GET', AC + '/fields?limit=100')
        self.assertEqual([f['title'] for f in r.json['fields']], ['Industry', 'Region'])
        self.assertEqual(r.json['meta']['total'], '2')
        # a custom value moves the contact's udate
        old = '2021-11-01T09:00:00-00:00'
        r = self.ac('POST', AC + '/fieldValues', {'fieldValue': {'contact': '10', 'field': fid, 'value': 'EMEA'}})
        self.assertEqual(r.status, 201, r)
        r = self.ac('POST', AC + '/fieldValues', {'fieldValue': {'contact': '10', 'field': fid, 'value': 'APAC'}})
        self.assertEqual((r.status, r.json['fieldValue']['value']), (200, 'APAC'))
        c = self.ac('GET', AC + '/contacts/10').json
        self.assertGreater(emu_util.parse_time(c['contact']['udate']), emu_util.parse_time(old))
        self.assertEqual([x['value'] for x in c['fieldValues']], ['APAC'])
        r = self.ac('POST', AC + '/contactLists', {'contactList': {'list': '1', 'contact': '10', 'status': 1}})
        self.assertEqual((r.status, r.json['contactList']['status']), (201, '1'))
        r = self.ac('POST', AC + '/contactLists', {'contactList': {'list': '1', 'contact': '10', 'status': 2}})
        self.assertEqual((r.status, r.json['contactList']['status']), (200, '2'))
        r = self.ac('POST', AC + '/contactAutomations', {'contactAutomation': {'contact': '10', 'automation': '3'}})
        self.assertEqual(r.status, 201, r)
        for plural in ('tags', 'lists', 'automations', 'dealCustomFieldMeta'):
            r = self.ac('GET', AC + '/%s?limit=100' % plural)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json['meta']['total'], str(len(r.json[plural])))

    def test_e_deals_accounts(self):
        r = self.ac('POST', AC + '/deals', {'deal': {'title': 'Half', 'contact': '7'}})
        self.assertEqual(r.status, 422)
        self.assertEqual([e['source']['pointer'].rsplit('/', 1)[1] for e in r.json['errors']],
                         ['value', 'currency', 'group', 'stage', 'owner'])
        deal = {'title': 'New deal', 'value': 45600, 'currency': 'usd', 'group': '1', 'stage': '1', 'owner': '1',
                'contact': '7', 'fields': [{'customFieldId': 1, 'fieldValue': '2026-12-15'}]}
        r = self.ac('POST', AC + '/deals', {'deal': deal})
        self.assertEqual(r.status, 201, r)
        did = r.json['deal']['id']
        r = self.ac('GET', AC + '/deals?' + urlencode({'filters[updated_after]': '2021-01-01T00:00:00-00:00',
                                                       'include': 'dealCustomFieldData', 'limit': 100}))
        self.assertEqual([d['id'] for d in r.json['deals']], [did])
        self.assertEqual([(str(x['dealId']), x['fieldValue']) for x in r.json['dealCustomFieldData']],
                         [(did, '2026-12-15')])
        r = self.ac('PUT', AC + '/deals/' + did, {'deal': {'stage': '2'}})
        self.assertEqual((r.status, r.json['deal']['stage']), (200, '2'))
        self.assertEqual(self.ac('PUT', AC + '/deals/9999', {'deal': {'stage': '2'}}).status, 404)
        r = self.ac('POST', AC + '/accounts', {'account': {'name': 'Globex', 'accountUrl': 'https://g.example'}})
        self.assertEqual(r.status, 201, r)
        aid = r.json['account']['id']
        self.assertEqual(self.ac('POST', AC + '/accounts', {'account': {'name': 'globex'}}).status, 422)
        r = self.ac('PUT', AC + '/accounts/' + aid, {'account': {'name': 'Globex Corp'}})
        self.assertEqual((r.status, r.json['account']['name']), (200, 'Globex Corp'))
        r = self.ac('GET', AC + '/accounts?limit=100&offset=0')
        self.assertEqual([a['name'] for a in r.json['accounts']], ['Acme', 'Globex Corp'])
        r = self.ac('POST', AC + '/accountContacts', {'accountContact': {'contact': '10', 'account': aid}})
        self.assertEqual(r.status, 201, r)
        r = self.ac('GET', AC + '/contacts?ids=10&include=accountContacts')
        self.assertEqual([x['account'] for x in r.json['accountContacts']], [aid])

    def test_f_rate_limit(self):
        time.sleep(1.0)     # a second without requests: the window is empty
        got = [C.call('GET', AC + '/tags', headers={'Api-Token': 'ac-key'}, pace=False) for _ in range(7)]
        statuses = [r.status for r in got]
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertIn(429, statuses[5:])
        refused = next(r for r in got if r.status == 429)
        self.assertEqual(refused.headers['retry-after'], '1')
        self.assertEqual(refused.json, {'message': 'Too Many Requests'})
        time.sleep(1.0)
        # a client spaced at 5 a second is never refused
        self.assertEqual([self.ac('GET', AC + '/tags').status for _ in range(7)], [200] * 7)


# ---------------------------------------------------------------- GetResponse

class TestGetResponse(Base):
    def test_auth(self):
        r = self.gr('GET', GR + '/contacts', key='wrong')
        self.assertEqual(r.status, 401)
        b = r.json
        self.assertEqual((b['httpStatus'], b['code'], b['context']), (401, 1014, {'sentToken': 'wrong'}))
        for k in ('codeDescription', 'message', 'moreInfo', 'uuid'):
            self.assertIn(k, b)
        self.assertEqual(C.call('GET', GR + '/contacts').status, 401)

    def test_list_and_paging(self):
        # bounded by time, so contacts other tests create do not count
        upto = 'query[changedOn][to]=2022-01-01T00:00:00%2B0000'
        r = self.gr('GET', GR + '/contacts?' + urlencode({'query[campaignId]': 'n3wS', 'sort[changedOn]': 'ASC',
                                                          'page': 1, 'perPage': 2}) + '&' + upto)
        self.assertEqual(r.status, 200)
        self.assertEqual([c['contactId'] for c in r.json], ['pEd', 'pBob'])
        self.assertEqual((r.headers['totalcount'], r.headers['totalpages'], r.headers['currentpage']), ('4', '2', '1'))
        for k in ('x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'):
            self.assertIn(k, r.headers)
        self.assertNotIn('tags', r.json[0])
        self.assertNotIn('customFieldValues', r.json[0])
        self.assertEqual(r.json[0]['campaign']['name'], 'Newsletter')
        r = self.gr('GET', GR + '/contacts?query[campaignId]=n3wS&sort[changedOn]=ASC&page=2&perPage=2&' + upto)
        self.assertEqual([c['contactId'] for c in r.json], ['pAnn', 'pDo'])
        r = self.gr('GET', GR + '/contacts?page=9&perPage=2')
        self.assertEqual((r.status, r.json), (200, []))
        # "+0000" percent-encoded, and sent bare (which form-decoding turns into a space)
        for v in ('2021-03-01T10:00:00%2B0000', '2021-03-01T10:00:00+0000', '2021-03-01T11:00:00%2B01:00'):
            r = self.gr('GET', GR + '/contacts?query[changedOn][from]=%s&sort[changedOn]=DESC&%s' % (v, upto))
            self.assertEqual([c['contactId'] for c in r.json], ['pDo', 'pCy', 'pAnn'], v)
        r = self.gr('GET', GR + '/contacts?' + urlencode({'query[changedOn][from]': '2021-02-01T00:00:00+0000',
                                                          'query[changedOn][to]': '2021-03-31T00:00:00+0000'}))
        self.assertEqual(sorted(c['contactId'] for c in r.json), ['pAnn', 'pBob'])
        r = self.gr('GET', GR + '/contacts?' + urlencode({'query[email]': 'bob@EXAMPLE.com'}))
        self.assertEqual([c['contactId'] for c in r.json], ['pBob'])
        r = self.gr('GET', GR + '/contacts?perPage=5000')
        self.assertEqual(len(r.json), int(r.headers['totalcount']))

    def test_get_by_id(self):
        r = self.gr('GET', GR + '/contacts/pAnn')
        self.assertEqual(r.status, 200)
        self.assertEqual([(t['tagId'], t['name']) for t in r.json['tags']], [('tg1', 'vip')])
        self.assertEqual([(v['customFieldId'], v['name'], v['value']) for v in r.json['customFieldValues']],
                         [('cf1', 'country_text', ['Austria'])])
        r = self.gr('GET', GR + '/contacts/nope')
        self.assertEqual((r.status, r.json['httpStatus'], r.json['code']), (404, 404, 1013))

    def test_create(self):
        body = {'email': 'new@example.com', 'name': 'New Person', 'campaign': {'campaignId': 'n3wS'},
                'customFieldValues': [{'customFieldId': 'cf2', 'value': ['+1 555']}], 'tags': [{'tagId': 'tg2'}]}
        r = self.gr('POST', GR + '/contacts', body)
        self.assertEqual((r.status, r.raw, r.headers['content-length']), (202, b'', '0'))
        r = self.gr('GET', GR + '/contacts?' + urlencode({'query[email]': 'NEW@example.com'}))
        self.assertEqual(len(r.json), 1)
        c = r.json[0]
        self.assertEqual((c['email'], c['name'], c['origin'], c['campaign']['campaignId'], c['campaign']['name']),
                         ('new@example.com', 'New Person', 'api', 'n3wS', 'Newsletter'))
        self.assertRegex(c['contactId'], r'^[A-Za-z0-9]{5}$')
        self.assertRegex(c['changedOn'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$')
        full = self.gr('GET', GR + '/contacts/' + c['contactId']).json
        self.assertEqual([t['tagId'] for t in full['tags']], ['tg2'])
        self.assertEqual(full['customFieldValues'][0]['value'], ['+1 555'])
        r = self.gr('POST', GR + '/contacts', dict(body, email='NEW@example.com'))
        self.assertEqual((r.status, r.json['code'], r.json['codeDescription']), (409, 1008, 'Contact already added'))
        r = self.gr('POST', GR + '/contacts', dict(body, campaign={'campaignId': 'cUst'}))
        self.assertEqual(r.status, 202)
        self.assertEqual(self.gr('POST', GR + '/contacts', dict(body, email='bad')).status, 400)
        self.assertEqual(self.gr('POST', GR + '/contacts', dict(body, campaign={'campaignId': 'none'})).status, 400)

    def test_update_tags_fields_delete(self):
        old = '2021-04-01T10:00:00+0000'
        r = self.gr('POST', GR + '/contacts/pCy', {'name': 'Cy Renamed', 'tags': [{'tagId': 'tg2'}],
                                                  'customFieldValues': [{'customFieldId': 'cf1', 'value': ['Peru']}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json['name'], [t['tagId'] for t in r.json['tags']]), ('Cy Renamed', ['tg2']))
        self.assertGreater(emu_util.parse_time(r.json['changedOn']), emu_util.parse_time(old))
        r = self.gr('POST', GR + '/contacts/pCy/tags', {'tags': [{'tagId': 'tg1'}]})
        self.assertEqual(r.status, 200, r)
        full = self.gr('GET', GR + '/contacts/pCy').json
        self.assertEqual(sorted(t['tagId'] for t in full['tags']), ['tg1', 'tg2'])
        r = self.gr('POST', GR + '/contacts/pCy/custom-fields',
                    {'customFieldValues': [{'customFieldId': 'cf1', 'value': ['Chile']},
                                           {'customFieldId': 'cf2', 'value': ['9']}]})
        self.assertEqual(r.status, 200, r)
        full = self.gr('GET', GR + '/contacts/pCy').json
        self.assertEqual(sorted((v['customFieldId'], v['value'][0]) for v in full['customFieldValues']),
                         [('cf1', 'Chile'), ('cf2', '9')])
        self.assertEqual(self.gr('POST', GR + '/contacts/nope', {'name': 'x'}).status, 404)
        r = self.gr('DELETE', GR + '/contacts/pCy')
        self.assertEqual((r.status, r.raw), (204, b''))
        self.assertEqual(self.gr('GET', GR + '/contacts/pCy').status, 404)
        self.assertIn('pCy', self.state()['getresponse']['deleted']['contacts'])

    def test_meta(self):
        for part, key in (('campaigns', 'campaignId'), ('tags', 'tagId'), ('custom-fields', 'customFieldId')):
            r = self.gr('GET', GR + '/' + part)
            self.assertEqual(r.status, 200)
            self.assertTrue(all(key in x and 'name' in x for x in r.json))
        r = self.gr('POST', GR + '/tags', {'name': 'fresh_tag'})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json['name'], 'fresh_tag')
        self.assertIn('tagId', r.json)
        self.assertEqual(self.gr('POST', GR + '/tags', {'name': 'fresh_tag'}).status, 409)


# ---------------------------------------------------------------- control and faults

class TestControl(Base):
    def test_state_shape(self):
        s = self.state()
        self.assertEqual(set(s), {'credentials', 'salesforce', 'dynamics365', 'activecampaign', 'getresponse'})
        self.assertEqual(s['credentials']['activecampaign'], {'api_key': 'ac-key'})
        for system in ('salesforce', 'dynamics365', 'activecampaign', 'getresponse'):
            self.assertIn('deleted', s[system])
        self.assertIn(L3, s['salesforce']['deleted']['Lead'])
        lead = next(x for x in s['salesforce']['Lead'] if x['Id'] == L1)
        self.assertEqual(lead['CreatedDate'], '2021-11-02T09:00:00.000+0000')
        self.assertEqual(len(s['salesforce']['Account']) >= 450, True)

    def test_log(self):
        C.call('POST', '/__log/clear')
        self.soql('SELECT Id FROM Lead LIMIT 1')
        body = {'records': [{'attributes': {'type': 'Account'}, 'Name': 'Logged'}]}
        self.sf('POST', SF + '/composite/sobjects', body)
        C.call('GET', '/__state')
        C.call('GET', '/nowhere')
        log = C.call('GET', '/__log').json
        self.assertEqual([(e['method'], e['path'], e['status']) for e in log],
                         [('GET', SF + '/query', 200), ('POST', SF + '/composite/sobjects', 200),
                          ('GET', '/nowhere', 404)])
        self.assertEqual(log[0]['query'], 'q=' + quote('SELECT Id FROM Lead LIMIT 1'))
        self.assertEqual(log[1]['body_size'], len(json.dumps(body)))
        self.assertNotIn('body_size', log[0])
        self.assertEqual([e['n'] for e in log], list(range(log[0]['n'], log[0]['n'] + 3)))

    def test_fault_status(self):
        self.fault(system='sf', kind='status', status=503, retry_after=2, method='GET', path=r'/query$', times=2)
        # not matching: another method, another path, a request failing auth first
        r = self.sf('POST', SF + '/composite/sobjects', {'records': []})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.sf('GET', SF + '/sobjects/Lead/' + L1).status, 200)
        self.assertEqual(self.soql('SELECT Id FROM Lead', headers={'Authorization': 'Bearer nope'}).status, 401)
        for _ in range(2):
            r = self.soql('SELECT Id FROM Lead')
            self.assertEqual((r.status, r.headers.get('retry-after')), (503, '2'))
            self.assertEqual(r.json[0]['errorCode'], 'SERVER_UNAVAILABLE')
        self.assertEqual(self.soql('SELECT Id FROM Lead').status, 200)
        # each system's own error body
        self.fault(system='d365', kind='status', status=429, retry_after=1)
        r = self.d365('GET', D365 + '/leads')
        self.assertEqual((r.status, r.headers['retry-after'], r.json['error']['code']), (429, '1', '0x80072322'))
        self.fault(system='ac', kind='status', status=500, path='^/api/3/contact/sync$')
        r = self.ac('POST', AC + '/contact/sync', {'contact': {'email': 'fault@example.com'}})
        self.assertEqual((r.status, set(r.json)), (500, {'message'}))
        self.fault(system='gr', kind='status', status=503)
        r = self.gr('GET', GR + '/tags')
        self.assertEqual((r.status, r.json['httpStatus']), (503, 503))
        self.assertEqual(self.gr('GET', GR + '/tags').status, 200)      # times: 1 by default
        log = C.call('GET', '/__log').json
        self.assertEqual(log[-2]['fault'], 'status')

    def test_fault_slow_and_malformed(self):
        self.fault(system='gr', kind='slow', seconds=0.4)
        t = time.monotonic()
        r = self.gr('GET', GR + '/campaigns')
        self.assertGreaterEqual(time.monotonic() - t, 0.4)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.json), 2)
        self.fault(system='d365', kind='malformed', method='GET')
        r = self.d365('GET', D365 + '/leads')
        self.assertEqual((r.status, r.raw, r.headers['content-type']), (200, b'{"records": [', 'application/json'))
        self.assertEqual(self.d365('GET', D365 + '/leads').status, 200)

    def test_fault_partial(self):
        self.fault(system='sf', kind='partial')
        self.assertEqual(self.soql('SELECT Id FROM Lead').status, 200)   # not a batch: not used up
        recs = [{'attributes': {'type': 'Account'}, 'Name': 'Part %d' % i} for i in range(4)]
        r = self.sf('POST', SF + '/composite/sobjects', {'allOrNone': False, 'records': recs})
        self.assertEqual([x['success'] for x in r.json], [True, False, True, False])
        self.assertEqual(r.json[1], {'success': False, 'errors': [{'statusCode': 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                                                                    'message': 'rejected by a validation rule',
                                                                    'fields': []}]})
        self.assertEqual(sorted(x['Name'] for x in self.soql("SELECT Name FROM Account WHERE Name LIKE 'Part%'")
                                .json['records']), ['Part 0', 'Part 2'])
        self.fault(system='d365', kind='partial', path=r'\$batch')
        items = [('POST', 'accounts', {'name': 'DPart %d' % i}, {}) for i in range(4)]
        r = self.d365('POST', D365 + '/$batch', batch_body('batch_P', items),
                      {'Content-Type': 'multipart/mixed; boundary=batch_P', 'Prefer': 'odata.continue-on-error'})
        parts = batch_parts(r)
        self.assertEqual([p[0] for p in parts], [204, 400, 204, 400])
        self.assertEqual(parts[1][1], {'error': {'code': '0x80040265', 'message': 'rejected by a business rule'}})
        r = self.d365('GET', q(D365 + '/accounts', **{'$filter': "startswith(name,'DPart')", '$orderby': 'name'}))
        self.assertEqual([x['name'] for x in r.json['value']], ['DPart 0', 'DPart 2'])

    def test_fault_tokens_and_limit(self):
        tok = sf_token()['access_token']
        self.assertEqual(self.soql('SELECT Id FROM Lead').status, 200)
        r = C.call('POST', '/__fault', {'system': 'sf', 'kind': 'expire-token'})
        self.assertEqual(r.status, 200)
        r = self.sf('GET', q(SF + '/query', q='SELECT Id FROM Lead'), token=tok)
        self.assertEqual((r.status, r.json[0]['errorCode']), (401, 'INVALID_SESSION_ID'))
        TestControl.sf_tok = sf_token()['access_token']
        self.assertEqual(self.soql('SELECT Id FROM Lead').status, 200)
        self.fault(system='d365', kind='expire-token')
        self.assertEqual(self.d365('GET', D365 + '/leads').status, 401)
        TestControl.d365_tok = d365_token()
        self.assertEqual(self.d365('GET', D365 + '/leads').status, 200)
        self.fault(system='sf', kind='limit')
        r = self.soql('SELECT Id FROM Lead')
        self.assertEqual((r.status, r.json), (403, [{'message': 'TotalRequests Limit exceeded.',
                                                     'errorCode': 'REQUEST_LIMIT_EXCEEDED'}]))
        for bad in ({'system': 'xx', 'kind': 'status', 'status': 500}, {'system': 'sf', 'kind': 'nope'},
                    {'system': 'sf', 'kind': 'status'}, {'system': 'sf', 'kind': 'status', 'status': 500, 'path': '('},
                    {'system': 'ac', 'kind': 'limit'}, {'system': 'gr', 'kind': 'expire-token'},
                    {'system': 'sf', 'kind': 'slow'}):
            self.assertEqual(C.call('POST', '/__fault', bad).status, 400, bad)

    def test_touch_and_delete(self):
        cid = '003000000000002AAA'
        r = C.call('POST', '/__touch', {'system': 'sf', 'object': 'Contact', 'id': cid, 'fields': {'Title': 'CEO'}})
        self.assertEqual(r.status, 200, r)
        rec = self.sf('GET', SF + '/sobjects/Contact/' + cid).json
        self.assertEqual(rec['Title'], 'CEO')
        self.assertGreater(emu_util.parse_time(rec['SystemModstamp']), emu_util.parse_time('2021-01-01T00:00:00Z'))
        self.assertEqual(self.ids("SELECT Id FROM Contact WHERE SystemModstamp > 2021-06-01T00:00:00Z AND Id = '%s'"
                                  % cid), [cid])
        before = self.ac('GET', AC + '/contacts/10').json['contact']['udate']
        r = C.call('POST', '/__touch', {'system': 'ac', 'object': 'contactTags', 'add': {'contact': '10', 'tag': '20'}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ac('GET', AC + '/contacts/10').json['contact']['udate'], before)
        self.assertIn('10', self.cids_tag('20'))
        r = C.call('POST', '/__touch', {'system': 'gr', 'object': 'contacts', 'id': 'pTch',
                                        'fields': {'name': 'Eddie'}})
        self.assertEqual(r.status, 200)
        c = self.gr('GET', GR + '/contacts/pTch').json
        self.assertEqual(c['name'], 'Eddie')
        self.assertGreater(emu_util.parse_time(c['changedOn']), emu_util.parse_time('2021-01-15T10:00:00+0000'))
        r = C.call('POST', '/__touch', {'system': 'd365', 'object': 'contacts',
                                        'id': '9f1c2a3e-7b1d-4c2e-8f00-000000000011', 'fields': {'jobtitle': 'X'}})
        self.assertEqual(r.status, 200)
        gone = '003000000000003AAA'
        self.assertEqual(C.call('POST', '/__delete', {'system': 'sf', 'object': 'Contact', 'id': gone}).status, 200)
        r = self.sf('GET', q(SF + '/sobjects/Contact/deleted/', start='2000-01-01T00:00:00Z',
                             end='2099-01-01T00:00:00Z'))
        self.assertIn(gone, [d['id'] for d in r.json['deletedRecords']])
        self.assertEqual(C.call('POST', '/__delete', {'system': 'gr', 'object': 'contacts', 'id': 'pTch'}).status, 200)
        self.assertEqual(self.gr('GET', GR + '/contacts/pTch').status, 404)
        self.assertEqual(C.call('POST', '/__touch', {'system': 'sf', 'object': 'Lead', 'id': 'nope'}).status, 404)
        self.assertEqual(C.call('POST', '/__touch', {'system': 'zz', 'object': 'x', 'id': '1'}).status, 400)

    def cids_tag(self, tag):
        return [c['id'] for c in self.ac('GET', AC + '/contacts?tagid=' + tag).json['contacts']]

    def test_robustness(self):
        # bad JSON bodies get each API's error, not a crash
        self.assertEqual(self.sf('POST', SF + '/composite/sobjects', '{nope').json[0]['errorCode'], 'JSON_PARSER_ERROR')
        self.assertEqual(self.d365('POST', D365 + '/leads', '{nope').status, 400)
        self.assertEqual(self.ac('POST', AC + '/contact/sync', '{nope').status, 400)
        self.assertEqual(self.gr('POST', GR + '/contacts', '\xff{').status, 400)
        self.assertEqual(self.sf('POST', SF + '/composite/sobjects', '[1,2]').status, 400)
        self.assertEqual(self.ac('POST', AC + '/contact/sync', '[]').status, 422)
        self.assertEqual(C.call('POST', '/__fault', 'not json').status, 400)
        # a chunked request body (libcurl sends one when it does not know the size)
        body = json.dumps({'records': [{'attributes': {'type': 'Account'}, 'Name': 'Chunked'}]}).encode()
        conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=10)
        conn.request('POST', SF + '/composite/sobjects', body=iter([body[:10], body[10:]]), encode_chunked=True,
                     headers={'Authorization': 'Bearer ' + self.sf_tok, 'Content-Type': 'application/json'})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(json.loads(r.read())[0]['success'])
        # keep-alive: the same connection serves on
        sock = conn.sock
        conn.request('GET', '/__state')
        r = conn.getresponse()
        r.read()
        self.assertIs(conn.sock, sock)
        self.assertIsNotNone(r.getheader('Content-Length'))
        conn.close()
        # garbage on the wire, a broken chunk: answered 400, and the server serves on
        for raw in (b'GET /sf HTTP/1.1 extra words\r\n\r\n',
                    b'POST /sf/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'):
            s = socket.create_connection(('127.0.0.1', PORT), timeout=5)
            s.sendall(raw)
            self.assertIn(b' 400 ', s.recv(200))
            s.close()
        r = self.gr('HEAD', GR + '/campaigns')      # HEAD: GET's headers, no body
        self.assertEqual((r.status, r.raw), (200, b''))
        self.assertGreater(int(r.headers['content-length']), 0)
        self.assertEqual(C.call('GET', '/elsewhere').status, 404)
        self.assertEqual(self.soql('SELECT Id FROM Lead').status, 200)


def main():
    t0 = time.monotonic()
    verbosity = 2 if '-v' in sys.argv else 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - len(result.failures) - len(result.errors) - len(result.skipped)
    print('emulator self-test took %.1f s' % (time.monotonic() - t0))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed or not result.wasSuccessful() else 0


if __name__ == '__main__':
    sys.exit(main())
