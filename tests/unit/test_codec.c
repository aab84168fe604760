/* test_codec.c - unit tests of the per-system codecs.  Decoding: sample
 * answers of each API (shapes from the vendors' references) decoded into
 * records, metadata through which custom fields, tags and lists are named,
 * next pages, bad records reported while the rest decode, answers of the
 * wrong shape refused, and odd JSON everywhere without a crash.  Encoding:
 * changes of a plan built by hand turned into the exact requests each API
 * takes (method, path, body, headers), names resolved through metadata or
 * the source's ensure callback, changes an API cannot express refused with
 * a message, and the ids of created records read from answers. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "codec.h"
#include "connectors/live.h"
#include "compile.h"
#include "unit.h"
#include "unit_test.h"

extern const Codec codec_salesforce, codec_dynamics365, codec_activecampaign, codec_getresponse;

static const char *rules =
    "use salesforce, dynamics365, activecampaign, getresponse\n"
    "source sf = salesforce { instance = env(\"I\"); auth = oauth2(client_id = env(\"C\"), refresh_token = secret(\"R\")) }\n"
    "source dy = dynamics365 { url = env(\"D\"); auth = oauth2(client_id = env(\"C\"), refresh_token = secret(\"R\")) }\n"
    "source ac = activecampaign { url = env(\"U\"); api_key = secret(\"K\") }\n"
    "source gr = getresponse { api_key = secret(\"G\") }\n"
    "extend ac.contact { \"Industry\": text; \"Interests\": multipicklist; \"Score\": number; \"Renewal\": date }\n"
    "extend ac.deal { \"Budget\": currency; \"Regions\": multipicklist }\n"
    "extend gr.contact { \"country\": text; \"hobbies\": multipicklist; \"age\": number }\n"
    "extend sf.Lead { \"Interests__c\": multipicklist }\n"
    "extend dy.contact { \"new_tiers\": multipicklist; \"new_partnerid\": reference(account) }\n"
    "sync leads: sf.Lead <-> ac.contact {\n"
    "    match Email = email\n"
    "    use defaults\n"
    "    prefer sf\n"
    "    map Industry <-> field(\"Industry\")\n"
    "    on create in ac: tag \"vip\"\n"
    "}\n"
    "sync accounts: sf.Account <-> ac.account {\n"
    "    match Name = name\n"
    "    prefer sf\n"
    "    map Name <-> name\n"
    "}\n"
    "sync deals: sf.Opportunity <-> ac.deal {\n"
    "    match Name = title\n"
    "    prefer sf\n"
    "    map Amount <-> value\n"
    "    new in sf never\n"
    "    new in ac never\n"
    "}\n"
    "sync people: dy.contact <-> gr.contact {\n"
    "    match emailaddress1 = email\n"
    "    prefer dy\n"
    "    map emailaddress1 <-> email\n"
    "    new in dy never\n"
    "    new in gr never\n"
    "}\n"
    "sync dl: dy.lead -> ac.contact {\n"
    "    match emailaddress1 = email\n"
    "    map emailaddress1 -> email\n"
    "}\n";

static Program *compile_rules(void) { return unit_compile("codec.sync", rules); }

static uint32_t object(const Program *p, const char *system, const char *name) {
    for (uint32_t i = 0; i < p->nobjects; i++)
        if (!strcmp(program_str(p, p->objects[i].system), system) && !strcmp(program_str(p, p->objects[i].name), name))
            return i;
    printf("FAIL: no object %s.%s in the test program\n", system, name);
    unit_failed++;
    return 0;
}

/* Sample answers are written with ' for " to keep them readable. */
static cJSON *js(const char *text) {
    char *s = strdup(text);
    for (char *c = s; *c; c++)
        if (*c == '\'') *c = '"';
    cJSON *j = cJSON_Parse(s);
    if (!j) { printf("FAIL: test JSON does not parse: %s\n", s); unit_failed++; }
    free(s);
    return j;
}

enum { MAXGOT = 16 };

typedef struct Got {
    Arena *a;
    Record *rec[MAXGOT];
    int n;
    const char *bad_id[MAXGOT], *bad_why[MAXGOT];
    int nbad;
} Got;

static void got_record(void *ctx, Record *r) {
    Got *g = ctx;
    if (g->n < MAXGOT) g->rec[g->n] = r;
    g->n++;
}

static void got_bad(void *ctx, const char *id, const char *why) {
    Got *g = ctx;
    if (g->nbad < MAXGOT) {
        g->bad_id[g->nbad] = id ? arena_strdup(g->a, id) : NULL;
        g->bad_why[g->nbad] = arena_strdup(g->a, why);
    }
    g->nbad++;
}

typedef struct T {
    Program *p;
    Arena a, scratch;
    Meta meta;
    CodecCtx cx;
    Buf next, err;
    Got got;
} T;

static void t_init(T *t, Program *p) {
    t->p = p;
    arena_init(&t->a);
    meta_init(&t->meta, &t->a);
    memset(&t->cx, 0, sizeof t->cx);
    arena_init(&t->scratch);
    t->cx.scratch = &t->scratch;
    t->cx.p = p;
    t->cx.a = &t->a;
    t->cx.meta = &t->meta;
    buf_init(&t->next);
    buf_init(&t->err);
}

static void t_free(T *t) {
    buf_free(&t->next);
    buf_free(&t->err);
    arena_free(&t->a);
    arena_free(&t->scratch);
}

/* Decodes one answer; the JSON is gone before the records are looked at,
 * so they must hold copies. */
static int page(T *t, const Codec *c, uint32_t obj, const char *text) {
    cJSON *j = text ? js(text) : NULL;
    memset(&t->got, 0, sizeof t->got);
    t->got.a = &t->a;
    t->next.n = 0;
    t->err.n = 0;
    RecordSink sink = {&t->got, got_record, got_bad, NULL};
    int rc = c->decode_page(&t->cx, obj, j, &sink, &t->next, &t->err);
    cJSON_Delete(j);
    return rc;
}

static int meta(T *t, const Codec *c, const char *what, const char *text) {
    cJSON *j = js(text);
    t->err.n = 0;
    int rc = c->decode_meta(&t->cx, what, j, &t->err);
    cJSON_Delete(j);
    return rc;
}

static Record *rec(T *t, const char *id) {
    for (int i = 0; i < t->got.n && i < MAXGOT; i++)
        if (t->got.rec[i]->vm.id && !strcmp(t->got.rec[i]->vm.id, id)) return t->got.rec[i];
    printf("FAIL: no record %s decoded\n", id);
    unit_failed++;
    return NULL;
}

static Value fv(T *t, const Record *r, const char *name) {
    int f = r ? program_field(t->p, r->object, name) : -1;
    if (f < 0) { printf("FAIL: no field %s\n", name); unit_failed++; return v_int(VT_NONE, 0); }
    return r->fields[f];
}

static const char *ftext(T *t, const Record *r, const char *name) {
    Value v = fv(t, r, name);
    return v.t == VT_STR ? v.u.s : NULL;
}

static double fnum(T *t, const Record *r, const char *name) {
    Value v = fv(t, r, name);
    return v.t == VT_NUM ? v.u.n : -999999;
}

static int fbool(T *t, const Record *r, const char *name) {
    Value v = fv(t, r, name);
    return v.t == VT_BOOL ? v.u.b : -1;
}

static int fnull(T *t, const Record *r, const char *name) { return fv(t, r, name).t == VT_NULL; }

static int64_t utc(int64_t y, unsigned mo, unsigned d, int h, int mi, int s) {
    return days_from_civil(y, mo, d) * 86400000LL + ((h * 60 + mi) * 60 + s) * 1000LL;
}

static const char *tag_ref(const Record *r, const char *name) {
    for (uint32_t i = 0; r && i < r->ntag_names; i++)
        if (!strcmp(r->tag_names[i], name)) return r->tag_refs[i] ? r->tag_refs[i] : "(no ref)";
    return NULL;
}

static int on_list(const Record *r, const char *name) {
    for (uint32_t i = 0; r && i < r->nlists; i++)
        if (!strcmp(r->lists[i], name)) return 1;
    return 0;
}

/* --------------------------------------------------------- Salesforce */

typedef struct Deleted {
    int n;
    char id[4][32];
    int64_t when[4];
} Deleted;

static void got_deleted(void *ctx, const char *id, int64_t when) {
    Deleted *d = ctx;
    if (d->n < 4) {
        snprintf(d->id[d->n], sizeof d->id[0], "%s", id);
        d->when[d->n] = when;
    }
    d->n++;
}

static void test_salesforce(Program *p) {
    const Codec *c = codec_for("salesforce");
    CHECK(c == &codec_salesforce && c->meta[0] == NULL && c->decode_deleted != NULL);
    T t;
    t_init(&t, p);
    uint32_t lead = object(p, "salesforce", "Lead");
    CHECK(page(&t, c, lead,
               "{'totalSize':3222,'done':false,'nextRecordsUrl':'/services/data/v60.0/query/01gRO0000016PIAYA2-2000',"
               "'records':["
               "{'attributes':{'type':'Lead','url':'/services/data/v60.0/sobjects/Lead/00Q5e00000AbCdEAAV'},"
               " 'Id':'00Q5e00000AbCdEAAV','FirstName':'Ada','LastName':'Lovelace','Company':'Analytical Engines',"
               " 'Email':'ada@example.com','AnnualRevenue':1500000.5,'NumberOfEmployees':120,'HasOptedOutOfEmail':true,"
               " 'IsDeleted':false,'ConvertedDate':null,'Industry':null,'Status':'Working - Contacted',"
               " 'CreatedDate':'2024-03-01T09:30:00.000+0000','SystemModstamp':'2024-03-05T17:45:10.000+0000',"
               " 'Owner':{'attributes':{'type':'User'},'Name':'Grace Hopper'},'Region__c':'EMEA'},"
               "{'attributes':{'type':'Lead'},'Id':'00Q5e00000BADAAA','LastName':'Babbage','AnnualRevenue':'lots'},"
               "{'attributes':{'type':'Lead'},'Id':'00Q5e00000GoneAAA','LastName':'Gone','Company':'X','IsDeleted':true,"
               " 'IsConverted':true,'ConvertedDate':'2024-02-29','SystemModstamp':'2024-03-06T08:00:00.000-05:00'}]}") == 0);
    CHECK(t.got.n == 2 && t.got.nbad == 1);
    CHECK_STR(t.next.p, "/services/data/v60.0/query/01gRO0000016PIAYA2-2000");
    Record *r = rec(&t, "00Q5e00000AbCdEAAV");
    CHECK_STR(ftext(&t, r, "LastName"), "Lovelace");
    CHECK_STR(ftext(&t, r, "Status"), "Working - Contacted");
    CHECK(fnum(&t, r, "AnnualRevenue") == 1500000.5);
    CHECK(fnum(&t, r, "NumberOfEmployees") == 120);
    CHECK(fbool(&t, r, "HasOptedOutOfEmail") == 1);
    CHECK(fnull(&t, r, "ConvertedDate") && fnull(&t, r, "Industry"));
    CHECK(r && r->vm.modified == utc(2024, 3, 5, 17, 45, 10) && r->created == utc(2024, 3, 1, 9, 30, 0));
    CHECK(r && !r->deleted);
    r = rec(&t, "00Q5e00000GoneAAA");
    CHECK(r && r->deleted && fbool(&t, r, "IsConverted") == 1);
    CHECK(r && r->vm.modified == utc(2024, 3, 6, 13, 0, 0));
    CHECK(fv(&t, r, "ConvertedDate").t == VT_DATE && fv(&t, r, "ConvertedDate").u.i == days_from_civil(2024, 2, 29));
    CHECK_STR(t.got.bad_id[0], "00Q5e00000BADAAA");
    CHECK_STR(t.got.bad_why[0], "field AnnualRevenue: expected a number");

    /* the last page; rows without an id, or not objects */
    CHECK(page(&t, c, lead, "{'totalSize':2,'done':true,'records':[{'attributes':{'type':'Lead'},'LastName':'Nobody'},7]}") == 0);
    CHECK(t.got.n == 0 && t.got.nbad == 2 && t.next.n == 0);
    CHECK(t.got.bad_id[0] == NULL);
    CHECK_STR(t.got.bad_why[0], "no Id");
    CHECK(t.got.bad_why[1] && strstr(t.got.bad_why[1], "not a JSON object"));

    /* answers of the wrong shape */
    CHECK(page(&t, c, lead, "{'totalSize':0,'done':true}") == -1);
    CHECK_STR(t.err.p, "a Salesforce query answer has a \"records\" array");
    CHECK(page(&t, c, lead, "[{'message':'Session expired or invalid','errorCode':'INVALID_SESSION_ID'}]") == -1 && t.err.n > 0);
    CHECK(page(&t, c, lead, "{'records':{'Id':'x'}}") == -1);
    CHECK(page(&t, c, lead, NULL) == -1);

    /* getDeleted */
    Deleted d = {0};
    cJSON *j = js("{'deletedRecords':[{'id':'00Q5e00000GoneAAA','deletedDate':'2024-03-06T13:00:00.000+0000'},"
                  "{'id':'00Q5e00000Gone2AA'},{'deletedDate':'2024-03-06T13:00:00.000+0000'},{'id':42}],"
                  "'earliestDateAvailable':'2024-02-20T00:00:00.000+0000','latestDateCovered':'2024-03-06T13:00:00.000+0000'}");
    t.err.n = 0;
    CHECK(c->decode_deleted(&t.cx, lead, j, &d, got_deleted, &t.err) == 0);
    cJSON_Delete(j);
    CHECK(d.n == 2);
    CHECK_STR(d.id[0], "00Q5e00000GoneAAA");
    CHECK(d.when[0] == utc(2024, 3, 6, 13, 0, 0));
    CHECK_STR(d.id[1], "00Q5e00000Gone2AA");
    CHECK(d.when[1] == INT64_MIN);
    j = js("{'records':[]}");
    CHECK(c->decode_deleted(&t.cx, lead, j, &d, got_deleted, &t.err) == -1 && strstr(buf_str(&t.err), "deletedRecords"));
    cJSON_Delete(j);
    t_free(&t);
}

/* -------------------------------------------------------- Dynamics 365 */

static void test_dynamics365(Program *p) {
    const Codec *c = codec_for("dynamics365");
    CHECK(c == &codec_dynamics365 && c->meta[0] == NULL && c->decode_deleted == NULL);
    T t;
    t_init(&t, p);
    uint32_t contact = object(p, "dynamics365", "contact"), lead = object(p, "dynamics365", "lead");
    CHECK(page(&t, c, contact,
               "{'@odata.context':'https://org.crm4.dynamics.com/api/data/v9.2/$metadata#contacts',"
               "'value':[{'@odata.etag':'W/\\'72201545\\'','contactid':'49b0be2e-d01c-ed11-b83e-000d3a572421',"
               " 'firstname':'Nancy','lastname':'Anderson','emailaddress1':'nancy@contoso.com',"
               " 'birthdate':'1985-04-12','donotemail':false,'statecode':0,'statecode@OData.Community.Display.V1.FormattedValue':'Active',"
               " '_parentcustomerid_value':'7a4814f9-b0b8-ea11-a812-000d3a122b89',"
               " '_parentcustomerid_value@OData.Community.Display.V1.FormattedValue':'Contoso Ltd',"
               " '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname':'account',"
               " '_ownerid_value':'a1b2c3d4-0000-0000-0000-000000000001','_createdby_value':'a1b2c3d4-0000-0000-0000-000000000002',"
               " 'versionnumber':72201545,'createdon':'2025-11-30T10:00:00Z','modifiedon':'2026-01-02T08:15:00Z',"
               " 'parentcustomerid_account':{'name':'Contoso Ltd'}}],"
               "'@odata.nextLink':'https://org.crm4.dynamics.com/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%3E'}") == 0);
    CHECK(t.got.n == 1 && t.got.nbad == 0);
    CHECK_STR(t.next.p, "https://org.crm4.dynamics.com/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%3E");
    Record *r = rec(&t, "49b0be2e-d01c-ed11-b83e-000d3a572421");
    CHECK_STR(ftext(&t, r, "parentcustomerid"), "7a4814f9-b0b8-ea11-a812-000d3a122b89");
    CHECK_STR(ftext(&t, r, "ownerid"), "a1b2c3d4-0000-0000-0000-000000000001");
    CHECK_STR(ftext(&t, r, "lastname"), "Anderson");
    CHECK(fbool(&t, r, "donotemail") == 0 && fnum(&t, r, "statecode") == 0 && fnum(&t, r, "versionnumber") == 72201545);
    CHECK(fv(&t, r, "birthdate").t == VT_DATE && fv(&t, r, "birthdate").u.i == days_from_civil(1985, 4, 12));
    CHECK(r && r->vm.modified == utc(2026, 1, 2, 8, 15, 0) && r->created == utc(2025, 11, 30, 10, 0, 0) && !r->deleted);

    /* a change-tracking page: a changed row, a deleted one, a bad one */
    CHECK(page(&t, c, lead,
               "{'@odata.context':'https://org.crm4.dynamics.com/api/data/v9.2/$metadata#leads(lastname,numberofemployees)',"
               "'value':[{'@odata.etag':'W/\\'9001\\'','leadid':'11111111-1111-1111-1111-111111111111','lastname':'Pike',"
               " 'numberofemployees':250,'revenue':1250000.75,'statecode':1,'modifiedon':'2026-01-03T09:00:00+01:00'},"
               " {'@odata.context':'https://org.crm4.dynamics.com/api/data/v9.2/$metadata#leads/$deletedEntity',"
               "  'id':'22222222-2222-2222-2222-222222222222','reason':'deleted'},"
               " {'leadid':'33333333-3333-3333-3333-333333333333','lastname':'Kirk','numberofemployees':'many'}],"
               "'@odata.deltaLink':'https://org.crm4.dynamics.com/api/data/v9.2/leads?$deltatoken=919042%2108%2f22%2f2017'}") == 0);
    CHECK(t.got.n == 2 && t.got.nbad == 1 && t.next.n == 0);
    r = rec(&t, "11111111-1111-1111-1111-111111111111");
    CHECK(fnum(&t, r, "numberofemployees") == 250 && fnum(&t, r, "revenue") == 1250000.75 && fnum(&t, r, "statecode") == 1);
    CHECK(r && r->vm.modified == utc(2026, 1, 3, 8, 0, 0) && !r->deleted);
    r = rec(&t, "22222222-2222-2222-2222-222222222222");
    CHECK(r && r->deleted);
    CHECK_STR(ftext(&t, r, "leadid"), "22222222-2222-2222-2222-222222222222");
    CHECK(fnull(&t, r, "lastname") && r && r->vm.modified == INT64_MIN);
    CHECK_STR(t.got.bad_id[0], "33333333-3333-3333-3333-333333333333");
    CHECK_STR(t.got.bad_why[0], "field numberofemployees: expected a number");

    CHECK(page(&t, c, lead, "{'error':{'code':'0x8006088a','message':'Resource not found'}}") == -1);
    CHECK_STR(t.err.p, "a Dynamics 365 answer has a \"value\" array");
    CHECK(page(&t, c, lead, "{'value':{'leadid':'x'}}") == -1);
    t_free(&t);
}

/* ----------------------------------------------------- ActiveCampaign */

/* The fieldValues of contacts 7, 8 and 9 that the decoder's and the
 * scanner's tests both read. */
#define AC_VALUES                                                                \
    "{'contact':'7','field':'1','value':'Retail','id':'11'},"                    \
    "{'contact':'7','field':'2','value':'||Golf||Sailing||','id':'12'},"         \
    "{'contact':'7','field':'3','value':'42.5','id':'13'},"                      \
    "{'contact':'7','field':'4','value':'2026-03-01','id':'14'},"                \
    "{'contact':'7','field':'5','value':'evil@example.com','id':'15'},"          \
    "{'contact':'7','field':'99','value':'unknown field','id':'16'},"            \
    "{'contact':'8','field':'1','value':'Banking','id':'17'},"                   \
    "{'contact':'9','field':'3','value':'n/a','id':'18'}"

static void test_activecampaign(Program *p) {
    const Codec *c = codec_for("activecampaign");
    CHECK(c == &codec_activecampaign && c->decode_deleted == NULL);
    int nmeta = 0;
    for (const char *const *m = c->meta; *m; m++) nmeta++;
    CHECK(nmeta == 5);
    T t;
    t_init(&t, p);
    CHECK(meta(&t, c, "fields",
               "{'fieldOptions':[],'fieldRels':[],'fields':["
               "{'title':'Industry','type':'text','perstag':'INDUSTRY','id':'1'},"
               "{'title':'Interests','type':'listbox','id':'2'},"
               "{'title':'Score','type':'number','id':'3'},"
               "{'title':'Renewal','type':'date','id':'4'},"
               "{'title':'email','type':'text','id':'5'},"
               "{'title':'Unused','type':'text','id':'6'},"
               "{'title':null,'id':'7'}],'meta':{'total':'7'}}") == 0);
    CHECK(meta(&t, c, "tags", "{'tags':[{'tagType':'contact','tag':'vip','id':'1'},{'tagType':'contact','tag':'newsletter','id':'2'}],'meta':{'total':'2'}}") == 0);
    CHECK(meta(&t, c, "lists", "{'lists':[{'stringid':'customers','name':'Customers','id':'1'},{'name':'Prospects','id':'2'}]}") == 0);
    CHECK(meta(&t, c, "automations", "{'automations':[{'name':'Welcome','status':'1','id':'3'}]}") == 0);
    CHECK(meta(&t, c, "dealCustomFieldMeta",
               "{'dealCustomFieldMeta':[{'id':'1','fieldLabel':'Budget','fieldType':'currency'},"
               "{'id':'2','fieldLabel':'Close Date','fieldType':'date'}]}") == 0);
    const MetaEntry *e = meta_by_id(&t.meta, META_FIELD, "2");
    CHECK(e && !strcmp(e->name, "Interests") && e->type && !strcmp(e->type, "listbox"));
    CHECK(meta_by_id(&t.meta, META_FIELD, "7") == NULL);
    e = meta_by_name(&t.meta, META_AUTOMATION, "Welcome");
    CHECK(e && !strcmp(e->id, "3"));
    e = meta_by_id(&t.meta, META_DEAL_FIELD, "1");
    CHECK(e && !strcmp(e->name, "Budget") && !strcmp(e->type, "currency"));
    CHECK(meta(&t, c, "fields", "{'field':{'title':'x'}}") == -1 && strstr(buf_str(&t.err), "\"fields\" array"));
    CHECK(meta(&t, c, "forms", "{'forms':[]}") == -1 && strstr(buf_str(&t.err), "forms"));

    uint32_t contact = object(p, "activecampaign", "contact");
    CHECK(page(&t, c, contact,
               "{'scoreValues':[],'contacts':["
               "{'cdate':'2018-09-12T16:53:50-05:00','email':'adam@example.com','phone':'+1 312 555 0100','firstName':'Adam',"
               " 'lastName':'Smith','orgid':'0','bounced_hard':'0','bounced_soft':'2','bounced_date':'0000-00-00',"
               " 'deleted':'0','anonymized':'0','udate':'2018-09-12T17:00:00-05:00','deleted_at':'0000-00-00 00:00:00',"
               " 'fieldValues':['11','12','13','14','15'],'scoreValues':[],'links':{'contactTags':'https://x/api/3/contacts/7/contactTags'},"
               " 'id':'7','organization':null},"
               "{'cdate':'2018-08-17T13:46:58-05:00','email':'old@example.com','deleted':'1','udate':'0000-00-00 00:00:00','id':'8'},"
               "{'cdate':'2018-08-17T13:46:58-05:00','email':'bad@example.com','deleted':'0','id':'9'}],"
               "'fieldValues':["
               AC_VALUES "],"
               "'contactTags':["
               "{'contact':'7','tag':'1','id':'101','cdate':'2018-09-12T16:54:00-05:00'},"
               "{'contact':'7','tag':'3','id':'103'},"
               "{'contact':'8','tag':'2','id':'104'},"
               "{'contact':'7','tag':'404','id':'105'}],"
               "'tags':[{'tag':'hot-lead','id':'3'}],"
               "'contactLists':["
               "{'contact':'7','list':'1','status':'1'},"
               "{'contact':'7','list':'2','status':'2'},"
               "{'contact':'8','list':'2','status':'1'}],"
               "'meta':{'total':'6','page_input':{'limit':3,'offset':0}}}") == 0);
    CHECK(t.got.n == 2 && t.got.nbad == 1);
    CHECK_STR(t.next.p, "offset=3&limit=3");
    Record *r = rec(&t, "7");
    CHECK_STR(ftext(&t, r, "email"), "adam@example.com");
    CHECK_STR(ftext(&t, r, "Industry"), "Retail");
    CHECK_STR(ftext(&t, r, "Interests"), "Golf;Sailing");
    CHECK(fnum(&t, r, "Score") == 42.5 && fnum(&t, r, "bounced_soft") == 2);
    CHECK(fv(&t, r, "Renewal").t == VT_DATE && fv(&t, r, "Renewal").u.i == days_from_civil(2026, 3, 1));
    CHECK(fbool(&t, r, "deleted") == 0 && fbool(&t, r, "anonymized") == 0 && r && !r->deleted);
    CHECK(r && r->vm.modified == utc(2018, 9, 12, 22, 0, 0) && r->created == utc(2018, 9, 12, 21, 53, 50));
    CHECK(r && r->ntag_names == 2);
    CHECK_STR(tag_ref(r, "vip"), "101");
    CHECK_STR(tag_ref(r, "hot-lead"), "103");
    CHECK(r && p->ntags == 1 && (r->tags[0] & 1));
    CHECK(on_list(r, "Customers") && !on_list(r, "Prospects") && r && r->nlists == 1);
    r = rec(&t, "8");
    CHECK(r && r->deleted && fbool(&t, r, "deleted") == 1);
    CHECK(r && r->vm.modified == INT64_MIN);   /* 0000-00-00 is no date */
    CHECK_STR(ftext(&t, r, "Industry"), "Banking");
    CHECK_STR(tag_ref(r, "newsletter"), "104");
    CHECK(on_list(r, "Prospects"));
    CHECK_STR(t.got.bad_id[0], "9");
    CHECK_STR(t.got.bad_why[0], "field Score: expected a number");

    /* the last page: total as a number, no sideloads */
    CHECK(page(&t, c, contact,
               "{'contacts':[{'id':'10','email':'x@example.com'},{'id':'11','email':'y@example.com'},{'id':'12','email':'z@example.com'}],"
               "'meta':{'total':6,'page_input':{'limit':3,'offset':3}}}") == 0);
    CHECK(t.got.n == 3 && t.got.nbad == 0 && t.next.n == 0);

    /* deals: cents in the API, units in tandem; custom fields by label */
    uint32_t deal = object(p, "activecampaign", "deal");
    CHECK(page(&t, c, deal,
               "{'deals':[{'owner':'1','contact':'39','organization':'20','group':'1','stage':'2','title':'Able Hyena',"
               " 'percent':'0','cdate':'2019-09-06T11:29:48-05:00','mdate':'2019-09-07T10:00:00-05:00','value':'1872151',"
               " 'currency':'usd','status':'0','edate':'0000-00-00 00:00:00','id':'46','isDisabled':false,'account':'20',"
               " 'links':{'dealCustomFieldData':'/api/3/deals/46/dealCustomFieldData'}},"
               " {'id':'47','title':'Free','value':'0','currency':'usd','stage':'1'}],"
               "'dealCustomFieldData':["
               "{'id':'3','dealCustomFieldMetumId':1,'dealId':46,'customFieldId':1,'fieldValue':'250000'},"
               "{'id':'4','dealCustomFieldMetumId':2,'dealId':46,'customFieldId':2,'fieldValue':'2026-06-30'},"
               "{'id':'5','dealCustomFieldMetumId':1,'dealId':47,'customFieldId':1,'fieldValue':'1999'}],"
               "'meta':{'total':2}}") == 0);
    CHECK(t.got.n == 2 && t.got.nbad == 0 && t.next.n == 0);
    r = rec(&t, "46");
    CHECK(fnum(&t, r, "value") == 18721.51);
    CHECK(fnum(&t, r, "Budget") == 2500);
    CHECK_STR(ftext(&t, r, "currency"), "usd");
    CHECK_STR(ftext(&t, r, "account"), "20");
    CHECK(fnum(&t, r, "status") == 0);
    CHECK(fv(&t, r, "Close Date").t == VT_DATE && fv(&t, r, "Close Date").u.i == days_from_civil(2026, 6, 30));
    CHECK(r && r->vm.modified == utc(2019, 9, 7, 15, 0, 0));
    r = rec(&t, "47");
    CHECK(fnum(&t, r, "value") == 0 && fnum(&t, r, "Budget") == 19.99);

    uint32_t account = object(p, "activecampaign", "account");
    CHECK(page(&t, c, account,
               "{'accounts':[{'name':'First Example Account','accountUrl':null,'createdTimestamp':'2019-04-29T07:51:31-05:00',"
               " 'updatedTimestamp':'2019-04-29T07:51:32-05:00','contactCount':'1','dealCount':'3','id':'1'}],"
               "'meta':{'total':'2'}}") == 0);
    CHECK(t.got.n == 1);
    CHECK_STR(t.next.p, "offset=1&limit=1");
    r = rec(&t, "1");
    CHECK_STR(ftext(&t, r, "name"), "First Example Account");
    CHECK(fnum(&t, r, "dealCount") == 3 && fnull(&t, r, "accountUrl"));
    CHECK(r && r->created == utc(2019, 4, 29, 12, 51, 31));

    CHECK(page(&t, c, contact, "{'contact':{'id':'7','email':'adam@example.com'}}") == -1);
    CHECK_STR(t.err.p, "an ActiveCampaign contact answer has a \"contacts\" array");
    CHECK(page(&t, c, deal, "{'errors':[{'title':'No Result found for Deal with id 1'}]}") == -1 && strstr(buf_str(&t.err), "\"deals\""));
    t_free(&t);
}

/* -------------------------------------------------------- GetResponse */

static void test_getresponse(Program *p) {
    const Codec *c = codec_for("getresponse");
    CHECK(c == &codec_getresponse && c->decode_deleted == NULL);
    CHECK(c->meta[0] && !strcmp(c->meta[0], "custom-fields") && c->meta[3] == NULL);
    T t;
    t_init(&t, p);
    CHECK(meta(&t, c, "custom-fields",
               "[{'customFieldId':'f1','name':'country','type':'country','format':'text','hidden':'false','values':[]},"
               "{'customFieldId':'f2','name':'hobbies','type':'multi_select','values':['chess','golf','sailing']},"
               "{'customFieldId':'f3','name':'age','type':'number','values':[]}]") == 0);
    CHECK(meta(&t, c, "tags", "[{'tagId':'t1','name':'vip'},{'tagId':'t2','name':'webinar_2024'}]") == 0);
    CHECK(meta(&t, c, "campaigns", "[{'campaignId':'C1','name':'Newsletter'},{'campaignId':'C2','name':'Customers'}]") == 0);
    const MetaEntry *e = meta_by_id(&t.meta, META_FIELD, "f2");
    CHECK(e && !strcmp(e->name, "hobbies") && e->type && !strcmp(e->type, "multi_select"));
    e = meta_by_name(&t.meta, META_LIST, "Customers");
    CHECK(e && !strcmp(e->id, "C2"));
    CHECK(meta(&t, c, "tags", "{'tags':[]}") == -1 && strstr(buf_str(&t.err), "JSON array"));
    CHECK(meta(&t, c, "fields", "[]") == -1);

    uint32_t contact = object(p, "getresponse", "contact");
    CHECK(page(&t, c, contact,
               "[{'contactId':'pV3r','name':'John Doe','email':'john.doe@example.com','origin':'import','dayOfCycle':'3',"
               "  'scoring':12.5,'note':null,'timeZone':'Europe/Rome','changedOn':'2024-01-16T11:00:00+0000',"
               "  'createdOn':'2023-12-01T08:30:00+0100','href':'https://api.getresponse.com/v3/contacts/pV3r',"
               "  'campaign':{'campaignId':'C1','name':'Newsletter','href':'https://api.getresponse.com/v3/campaigns/C1'},"
               "  'geolocation':{'city':'Rome','countryCode':'IT'},"
               "  'tags':[{'tagId':'t1','name':'vip','color':''},{'tagId':'t9','name':'early_bird'}],"
               "  'customFieldValues':[{'customFieldId':'f1','name':'country','value':['Italy'],'type':'country'},"
               "   {'customFieldId':'f2','name':'hobbies','value':['chess','sailing']},"
               "   {'customFieldId':'f3','value':['41']},"
               "   {'customFieldId':'f8','name':'email','value':['evil@example.com']},"
               "   {'customFieldId':'f9','name':'not_in_schema','value':['x']}]},"
               " {'contactId':'Qa7z','email':'mary@example.com','changedOn':'2024-01-17T09:15:00+0000',"
               "  'campaign':{'campaignId':'C2'},'tags':[{'tagId':'t2'}],'customFieldValues':[{'customFieldId':'f1','name':'country','value':[]}]},"
               " {'contactId':'Bd9x','email':'old@example.com','customFieldValues':[{'customFieldId':'f3','name':'age','value':['old']}]},"
               " {'email':'noid@example.com'}]") == 0);
    CHECK(t.got.n == 2 && t.got.nbad == 2 && t.next.n == 0);
    Record *r = rec(&t, "pV3r");
    CHECK_STR(ftext(&t, r, "name"), "John Doe");
    CHECK_STR(ftext(&t, r, "email"), "john.doe@example.com");
    CHECK_STR(ftext(&t, r, "campaign"), "C1");
    CHECK_STR(ftext(&t, r, "country"), "Italy");
    CHECK_STR(ftext(&t, r, "hobbies"), "chess;sailing");
    CHECK(fnum(&t, r, "age") == 41 && fnum(&t, r, "scoring") == 12.5 && fnum(&t, r, "dayOfCycle") == 3);
    CHECK(fnull(&t, r, "note"));
    CHECK(on_list(r, "Newsletter") && r && r->nlists == 1);
    CHECK_STR(tag_ref(r, "vip"), "t1");
    CHECK_STR(tag_ref(r, "early_bird"), "t9");
    CHECK(r && r->vm.modified == utc(2024, 1, 16, 11, 0, 0) && r->created == utc(2023, 12, 1, 7, 30, 0));
    r = rec(&t, "Qa7z");
    CHECK(on_list(r, "Customers"));
    CHECK_STR(tag_ref(r, "webinar_2024"), "t2");
    CHECK(fnull(&t, r, "country"));
    CHECK_STR(t.got.bad_id[0], "Bd9x");
    CHECK_STR(t.got.bad_why[0], "field age: expected a number");
    CHECK(t.got.bad_id[1] == NULL);
    CHECK_STR(t.got.bad_why[1], "no contactId");

    CHECK(page(&t, c, contact, "[]") == 0 && t.got.n == 0 && t.got.nbad == 0);
    CHECK(page(&t, c, contact, "{'httpStatus':401,'code':1014,'message':'Unable to authenticate'}") == -1);
    CHECK_STR(t.err.p, "a GetResponse contact answer is a JSON array");
    t_free(&t);
}

/* ------------------------------------------------------------ encoding */

/* The source's ensure callback: records what it is asked for and makes up
 * an id, except for names it cannot have ("nothing"). */
typedef struct Ensured {
    Arena *a;
    int n;
    MetaKind kind[8];
    const char *name[8];
} Ensured;

static const char *test_ensure(void *ctx, MetaKind k, const char *name) {
    Ensured *e = ctx;
    if (e->n < 8) {
        e->kind[e->n] = k;
        e->name[e->n] = arena_strdup(e->a, name);
    }
    e->n++;
    return strcmp(name, "nothing") ? arena_printf(e->a, "90%d", e->n) : NULL;
}

typedef struct E {
    T t;
    Plan pl;
    Ensured ens;
    RequestList out;
} E;

static void e_init(E *e, Program *p) {
    t_init(&e->t, p);
    plan_init(&e->pl, p, 0);
    memset(&e->ens, 0, sizeof e->ens);
    e->ens.a = &e->t.a;
    e->t.cx.ensure = test_ensure;
    e->t.cx.ensure_ctx = &e->ens;
}

static void e_free(E *e) {
    plan_free(&e->pl);
    t_free(&e->t);
}

/* A change of the first sync (the codecs do not look at it) on obj. */
static Change *change(E *e, ChangeKind kind, uint32_t obj, const char *name) {
    Change *c = plan_change(&e->pl, kind, 0, 0);
    c->object = obj;
    c->name = plan_str(&e->pl, name);
    return c;
}

static void set(E *e, Change *c, const char *field, Value v) {
    int f = program_field(e->t.p, c->object, field);
    if (f < 0) { printf("FAIL: no field %s\n", field); unit_failed++; return; }
    plan_set(&e->pl, c, (uint16_t)f, v_null(), v, UINT32_MAX);
}

static Value S(const char *s) { return v_str(s, strlen(s)); }

static int encode(E *e, const Codec *codec, const Change *c, const char *id) {
    memset(&e->out, 0, sizeof e->out);
    buf_reset(&e->t.err);
    return codec->encode(&e->t.cx, c, id, &e->out, &e->t.err);
}

/* Request i is exactly this; bodies are written with ' for ". */
static int req_is(E *e, uint32_t i, const char *method, const char *path, const char *body, const char *headers) {
    if (i >= e->out.n) { printf("  no request %u (%u made)\n", i, e->out.n); return 0; }
    const Request *r = &e->out.v[i];
    char *want = body ? strdup(body) : NULL;
    for (char *c = want; c && *c; c++)
        if (*c == '\'') *c = '"';
    int ok = 1;
    const char *got[4] = {r->method, r->path, r->body, r->headers}, *exp[4] = {method, path, want, headers};
    for (int k = 0; k < 4; k++)
        if (got[k] || exp[k] ? !got[k] || !exp[k] || strcmp(got[k], exp[k]) : 0) {
            printf("  request %u:\n    got:  %s\n    want: %s\n", i, got[k] ? got[k] : "(null)", exp[k] ? exp[k] : "(null)");
            ok = 0;
        }
    free(want);
    return ok;
}

static int created(E *e, const Codec *codec, const Change *c, int status, const char *answer, Buf *id) {
    cJSON *j = answer ? js(answer) : NULL;
    buf_reset(id);
    buf_reset(&e->t.err);
    int rc = codec->created_id(&e->t.cx, c, status, j, id, &e->t.err);
    cJSON_Delete(j);
    return rc;
}

static void test_salesforce_encode(Program *p) {
    const Codec *sf = codec_for("salesforce");
    E e;
    e_init(&e, p);
    uint32_t lead = object(p, "salesforce", "Lead"), opp = object(p, "salesforce", "Opportunity"), account = object(p, "salesforce", "Account");
    Change *c = change(&e, CH_CREATE, lead, NULL);
    set(&e, c, "FirstName", S("Ada"));
    set(&e, c, "LastName", S("Lovelace"));
    set(&e, c, "Company", S("Analytical Engines"));
    set(&e, c, "AnnualRevenue", v_num(1500000.5));
    set(&e, c, "NumberOfEmployees", v_num(120));
    set(&e, c, "HasOptedOutOfEmail", v_bool(1));
    set(&e, c, "DoNotCall", v_null());                 /* a checkbox cannot be empty: false */
    set(&e, c, "Industry", v_null());
    set(&e, c, "Title", v_int(VT_NONE, 0));            /* left out */
    set(&e, c, "Id", S("00Qread0nly"));                /* read-only: left out */
    set(&e, c, "EmailBouncedDate", v_int(VT_DATETIME, utc(2024, 3, 5, 17, 45, 10)));
    set(&e, c, "Interests__c", S("Golf;Sailing"));
    CHECK(encode(&e, sf, c, NULL) == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "POST", "/sobjects/Lead",
                 "{'FirstName':'Ada','LastName':'Lovelace','Company':'Analytical Engines','AnnualRevenue':1500000.5,"
                 "'NumberOfEmployees':120,'HasOptedOutOfEmail':true,'DoNotCall':false,'Industry':null,"
                 "'EmailBouncedDate':'2024-03-05T17:45:10Z','Interests__c':'Golf;Sailing'}",
                 "Sforce-Auto-Assign: FALSE"));
    e.t.cx.assign_leads = 1;
    CHECK(encode(&e, sf, c, NULL) == 0 && e.out.n == 1);
    CHECK_STR(e.out.v[0].headers, "Sforce-Auto-Assign: TRUE");

    /* an update never re-runs assignment; one that writes nothing sends nothing */
    c = change(&e, CH_UPDATE, lead, NULL);
    set(&e, c, "Status", S("Working - Contacted"));
    CHECK(encode(&e, sf, c, "00Q5e00000AbCdEAAV") == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "PATCH", "/sobjects/Lead/00Q5e00000AbCdEAAV", "{'Status':'Working - Contacted'}", "Sforce-Auto-Assign: FALSE"));
    c = change(&e, CH_UPDATE, lead, NULL);
    set(&e, c, "Title", v_int(VT_NONE, 0));
    CHECK(encode(&e, sf, c, "00Q5e00000AbCdEAAV") == 0 && e.out.n == 0);
    c = change(&e, CH_UPDATE, opp, NULL);
    set(&e, c, "CloseDate", v_int(VT_DATE, days_from_civil(2026, 6, 30)));
    set(&e, c, "Amount", v_num(18721.51));
    CHECK(encode(&e, sf, c, "006AAA") == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "PATCH", "/sobjects/Opportunity/006AAA", "{'CloseDate':'2026-06-30','Amount':18721.51}", NULL));
    c = change(&e, CH_DELETE, account, NULL);
    CHECK(encode(&e, sf, c, "001xyz") == 0 && e.out.n == 1 && req_is(&e, 0, "DELETE", "/sobjects/Account/001xyz", NULL, NULL));

    /* what Salesforce cannot do, and ids that cannot go into a path */
    c = change(&e, CH_TAG, lead, "vip");
    CHECK(encode(&e, sf, c, "00Q1") == -1 && e.out.n == 0);
    CHECK_STR(e.t.err.p, "tag \"vip\" on Lead 00Q1: Salesforce has no tags, lists or automations");
    c = change(&e, CH_LIST_ADD, lead, "Customers");
    CHECK(encode(&e, sf, c, "00Q1") == -1 && strstr(buf_str(&e.t.err), "no tags, lists or automations"));
    c = change(&e, CH_DELETE, lead, NULL);
    CHECK(encode(&e, sf, c, "../Account/001") == -1 && e.out.n == 0);
    CHECK_STR(e.t.err.p, "delete Lead ../Account/001: \"../Account/001\" is not a Salesforce id");
    CHECK(encode(&e, sf, c, NULL) == -1);
    CHECK_STR(e.t.err.p, "delete Lead: no record id");
    c = change(&e, CH_CREATE, object(p, "activecampaign", "contact"), NULL);
    CHECK(encode(&e, sf, c, NULL) == -1 && strstr(buf_str(&e.t.err), "not a Salesforce object"));

    /* created ids */
    Buf id;
    buf_init(&id);
    c = change(&e, CH_CREATE, lead, NULL);
    CHECK(created(&e, sf, c, 201, "{'id':'00Q5e00000NewAAA','success':true,'errors':[]}", &id) == 0);
    CHECK_STR(id.p, "00Q5e00000NewAAA");
    CHECK(created(&e, sf, c, 400, "[{'message':'Required fields are missing: [LastName]','errorCode':'REQUIRED_FIELD_MISSING','fields':['LastName']},"
                                  "{'message':'Bad email','errorCode':'INVALID_EMAIL_ADDRESS','fields':['Email']}]", &id) == -1 && id.n == 0);
    CHECK_STR(e.t.err.p, "REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]; INVALID_EMAIL_ADDRESS: Bad email");
    CHECK(created(&e, sf, c, 200, "{'id':null,'success':false,'errors':[{'statusCode':'DUPLICATE_VALUE','message':'duplicate value found'}]}", &id) == -1);
    CHECK_STR(e.t.err.p, "DUPLICATE_VALUE: duplicate value found");
    CHECK(created(&e, sf, c, 500, NULL, &id) == -1);
    CHECK_STR(e.t.err.p, "Salesforce answered HTTP 500 without the new record's id");
    buf_free(&id);
    e_free(&e);
}

static void test_dynamics365_encode(Program *p) {
    const Codec *dy = codec_for("dynamics365");
    E e;
    e_init(&e, p);
    uint32_t contact = object(p, "dynamics365", "contact"), lead = object(p, "dynamics365", "lead");
    Change *c = change(&e, CH_CREATE, contact, NULL);
    set(&e, c, "firstname", S("Nancy"));
    set(&e, c, "lastname", S("Anderson"));
    set(&e, c, "birthdate", v_int(VT_DATE, days_from_civil(1985, 4, 12)));
    set(&e, c, "donotemail", v_bool(0));
    set(&e, c, "statuscode", v_num(1));
    set(&e, c, "parentcustomerid", S("7a4814f9-b0b8-ea11-a812-000d3a122b89"));
    set(&e, c, "ownerid", S("a1b2c3d4-0000-0000-0000-000000000001"));
    set(&e, c, "new_tiers", S("100000000;100000002"));
    set(&e, c, "jobtitle", v_null());
    set(&e, c, "contactid", S("read-only"));
    CHECK(encode(&e, dy, c, NULL) == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "POST", "/contacts?$select=contactid",
                 "{'firstname':'Nancy','lastname':'Anderson','birthdate':'1985-04-12','donotemail':false,'statuscode':1,"
                 "'parentcustomerid_account@odata.bind':'/accounts(7a4814f9-b0b8-ea11-a812-000d3a122b89)',"
                 "'ownerid@odata.bind':'/systemusers(a1b2c3d4-0000-0000-0000-000000000001)',"
                 "'new_tiers':'100000000,100000002','jobtitle':null}",
                 "Prefer: return=representation"));

    /* an update: a lookup cleared, If-Match so a missing row is not created */
    c = change(&e, CH_UPDATE, lead, NULL);
    set(&e, c, "parentaccountid", v_null());
    set(&e, c, "revenue", v_num(1250000.75));
    set(&e, c, "estimatedclosedate", v_int(VT_DATE, days_from_civil(2026, 1, 31)));
    CHECK(encode(&e, dy, c, "11111111-1111-1111-1111-111111111111") == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "PATCH", "/leads(11111111-1111-1111-1111-111111111111)",
                 "{'parentaccountid@odata.bind':null,'revenue':1250000.75,'estimatedclosedate':'2026-01-31'}", "If-Match: *"));
    c = change(&e, CH_DELETE, lead, NULL);
    CHECK(encode(&e, dy, c, "22222222-2222-2222-2222-222222222222") == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "DELETE", "/leads(22222222-2222-2222-2222-222222222222)", NULL, NULL));

    /* refused: a lookup of unknown navigation, a bound id that is not one, actions */
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "new_partnerid", S("7a4814f9-b0b8-ea11-a812-000d3a122b89"));
    CHECK(encode(&e, dy, c, "49b0be2e") == -1 && e.out.n == 0);
    CHECK_STR(e.t.err.p, "update contact 49b0be2e: tandem does not know the navigation property of lookup new_partnerid");
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "parentcustomerid", S("x)/../accounts(y"));
    CHECK(encode(&e, dy, c, "49b0be2e") == -1);
    CHECK_STR(e.t.err.p, "update contact 49b0be2e: parentcustomerid is not a Dynamics 365 id");
    c = change(&e, CH_AUTOMATE, contact, "Welcome");
    CHECK(encode(&e, dy, c, "49b0be2e") == -1);
    CHECK_STR(e.t.err.p, "automation \"Welcome\" on contact 49b0be2e: Dynamics 365 has no tags, lists or automations");
    c = change(&e, CH_UPDATE, lead, NULL);
    set(&e, c, "revenue", v_num(NAN));
    CHECK(encode(&e, dy, c, "11111111") == -1 && strstr(buf_str(&e.t.err), "not a finite number"));

    Buf id;
    buf_init(&id);
    c = change(&e, CH_CREATE, contact, NULL);
    CHECK(created(&e, dy, c, 201, "{'@odata.context':'https://org.crm4.dynamics.com/api/data/v9.2/$metadata#contacts(contactid)/$entity',"
                                  "'@odata.etag':'W/\\'12345\\'','contactid':'33333333-3333-3333-3333-333333333333'}", &id) == 0);
    CHECK_STR(id.p, "33333333-3333-3333-3333-333333333333");
    CHECK(created(&e, dy, c, 400, "{'error':{'code':'0x80040217','message':'The specified lookup does not exist'}}", &id) == -1 && id.n == 0);
    CHECK_STR(e.t.err.p, "0x80040217: The specified lookup does not exist");
    CHECK(created(&e, dy, c, 204, NULL, &id) == -1);
    CHECK_STR(e.t.err.p, "Dynamics 365 answered HTTP 204 without contactid");
    buf_free(&id);
    e_free(&e);
}

static void test_activecampaign_encode(Program *p) {
    const Codec *ac = codec_for("activecampaign");
    E e;
    e_init(&e, p);
    CHECK(meta(&e.t, ac, "fields",
               "{'fields':[{'title':'Industry','type':'text','id':'1'},{'title':'Interests','type':'listbox','id':'2'},"
               "{'title':'Score','type':'number','id':'3'},{'title':'Renewal','type':'date','id':'4'}]}") == 0);
    CHECK(meta(&e.t, ac, "tags", "{'tags':[{'tag':'vip','id':'1'}]}") == 0);
    CHECK(meta(&e.t, ac, "lists", "{'lists':[{'name':'Customers','id':'1'}]}") == 0);
    CHECK(meta(&e.t, ac, "automations", "{'automations':[{'name':'Welcome','id':'3'}]}") == 0);
    CHECK(meta(&e.t, ac, "dealCustomFieldMeta",
               "{'dealCustomFieldMeta':[{'id':'1','fieldLabel':'Budget','fieldType':'currency'},"
               "{'id':'2','fieldLabel':'Close Date','fieldType':'date'},{'id':'5','fieldLabel':'Regions','fieldType':'multiselect'}]}") == 0);
    uint32_t contact = object(p, "activecampaign", "contact"), deal = object(p, "activecampaign", "deal"),
             account = object(p, "activecampaign", "account");

    /* a contact create: standard keys, custom fields by title, a blank one
     * "", a multi-select "||A||B||"; the list named waits for the id */
    Change *c = change(&e, CH_CREATE, contact, "Customers");
    set(&e, c, "email", S("adam@example.com"));
    set(&e, c, "firstName", S("Adam"));
    set(&e, c, "lastName", v_null());
    set(&e, c, "orgname", S("Acme"));
    set(&e, c, "Industry", S("Retail"));
    set(&e, c, "Interests", S("Golf;Sailing"));
    set(&e, c, "Score", v_num(42.5));
    set(&e, c, "Renewal", v_int(VT_DATE, days_from_civil(2026, 3, 1)));
    set(&e, c, "phone", v_int(VT_NONE, 0));
    set(&e, c, "account", S("20"));   /* linked by an update once the contact has an id */
    CHECK(encode(&e, ac, c, NULL) == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "POST", "/contact/sync",
                 "{'contact':{'email':'adam@example.com','firstName':'Adam','lastName':'','orgname':'Acme','fieldValues':["
                 "{'field':'1','value':'Retail'},{'field':'2','value':'||Golf||Sailing||'},{'field':'3','value':'42.5'},"
                 "{'field':'4','value':'2026-03-01'}]}}", NULL));
    CHECK(e.ens.n == 0);

    /* an update: a custom field unknown to the metadata is made by the
     * source once; the account link is its own request */
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "Interests", v_null());
    set(&e, c, "account", S("20"));
    CHECK(encode(&e, ac, c, "7") == 0 && e.out.n == 2);
    CHECK(req_is(&e, 0, "PUT", "/contacts/7", "{'contact':{'fieldValues':[{'field':'2','value':''}]}}", NULL));
    CHECK(req_is(&e, 1, "POST", "/accountContacts", "{'accountContact':{'contact':'7','account':'20'}}", NULL));
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "email", v_null());
    CHECK(encode(&e, ac, c, "7") == -1 && e.out.n == 0);
    CHECK_STR(e.t.err.p, "update contact 7: ActiveCampaign cannot clear a contact's email");
    c = change(&e, CH_CREATE, contact, NULL);
    set(&e, c, "firstName", S("Nobody"));
    CHECK(encode(&e, ac, c, NULL) == -1);
    CHECK_STR(e.t.err.p, "create contact: ActiveCampaign needs an email to create a contact");
    c = change(&e, CH_DELETE, contact, NULL);
    CHECK(encode(&e, ac, c, "7") == 0 && req_is(&e, 0, "DELETE", "/contacts/7", NULL, NULL));

    /* tags: by metadata, else ensured once; untag by the contactTag's id */
    c = change(&e, CH_TAG, contact, "vip");
    CHECK(encode(&e, ac, c, "7") == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "POST", "/contactTags", "{'contactTag':{'contact':'7','tag':'1'}}", NULL));
    c = change(&e, CH_TAG, contact, "webinar 2026");
    CHECK(encode(&e, ac, c, "7") == 0 && e.ens.n == 1 && e.ens.kind[0] == META_TAG);
    CHECK_STR(e.ens.name[0], "webinar 2026");
    CHECK(req_is(&e, 0, "POST", "/contactTags", "{'contactTag':{'contact':'7','tag':'901'}}", NULL));
    CHECK(encode(&e, ac, c, "8") == 0 && e.ens.n == 1);   /* kept: not made twice */
    CHECK(req_is(&e, 0, "POST", "/contactTags", "{'contactTag':{'contact':'8','tag':'901'}}", NULL));
    c = change(&e, CH_TAG, contact, "nothing");
    CHECK(encode(&e, ac, c, "7") == -1 && e.out.n == 0 && e.ens.n == 2);
    CHECK_STR(e.t.err.p, "tag \"nothing\" on contact 7: ActiveCampaign has no tag id for \"nothing\"");
    c = change(&e, CH_UNTAG, contact, "vip");
    c->ref = "101";
    CHECK(encode(&e, ac, c, "7") == 0 && req_is(&e, 0, "DELETE", "/contactTags/101", NULL, NULL));
    c = change(&e, CH_UNTAG, contact, "vip");
    CHECK(encode(&e, ac, c, "7") == -1);
    CHECK_STR(e.t.err.p, "untag \"vip\" on contact 7: ActiveCampaign removes a tag by its contactTag id, and the change has none");

    /* lists and automations */
    c = change(&e, CH_LIST_ADD, contact, "Customers");
    CHECK(encode(&e, ac, c, "7") == 0);
    CHECK(req_is(&e, 0, "POST", "/contactLists", "{'contactList':{'list':'1','contact':'7','status':1}}", NULL));
    c = change(&e, CH_LIST_REMOVE, contact, "Customers");
    CHECK(encode(&e, ac, c, "7") == 0);
    CHECK(req_is(&e, 0, "POST", "/contactLists", "{'contactList':{'list':'1','contact':'7','status':2}}", NULL));
    int asked = e.ens.n;
    c = change(&e, CH_LIST_REMOVE, contact, "Prospects");   /* not there: nothing to make */
    CHECK(encode(&e, ac, c, "7") == -1 && e.ens.n == asked);
    CHECK_STR(e.t.err.p, "list remove \"Prospects\" on contact 7: ActiveCampaign has no list id for \"Prospects\"");
    c = change(&e, CH_AUTOMATE, contact, "Welcome");
    CHECK(encode(&e, ac, c, "7") == 0);
    CHECK(req_is(&e, 0, "POST", "/contactAutomations", "{'contactAutomation':{'contact':'7','automation':'3'}}", NULL));
    c = change(&e, CH_TAG, deal, "vip");
    CHECK(encode(&e, ac, c, "46") == -1 && strstr(buf_str(&e.t.err), "acts only on contacts"));

    /* deals: units to cents, currency lower case, custom fields by label */
    c = change(&e, CH_CREATE, deal, NULL);
    set(&e, c, "title", S("Able Hyena"));
    set(&e, c, "value", v_num(18721.51));
    set(&e, c, "currency", S("USD"));
    set(&e, c, "contact", S("39"));
    set(&e, c, "stage", S("2"));
    set(&e, c, "percent", v_null());
    set(&e, c, "status", v_num(0));
    set(&e, c, "Budget", v_num(2500));
    set(&e, c, "Close Date", v_int(VT_DATE, days_from_civil(2026, 6, 30)));
    set(&e, c, "Regions", S("EMEA;APAC"));
    CHECK(encode(&e, ac, c, NULL) == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "POST", "/deals",
                 "{'deal':{'title':'Able Hyena','value':1872151,'currency':'usd','contact':'39','stage':'2','percent':null,'status':0,"
                 "'fields':[{'customFieldId':1,'fieldValue':250000,'fieldCurrency':'USD'},{'customFieldId':2,'fieldValue':'2026-06-30'},"
                 "{'customFieldId':5,'fieldValue':['EMEA','APAC']}]}}", NULL));
    c = change(&e, CH_UPDATE, deal, NULL);
    set(&e, c, "value", v_num(0.1 + 0.2));   /* 30.000000000000004 cents: whole cents */
    CHECK(encode(&e, ac, c, "46") == 0 && req_is(&e, 0, "PUT", "/deals/46", "{'deal':{'value':30}}", NULL));
    c = change(&e, CH_DELETE, deal, NULL);
    CHECK(encode(&e, ac, c, "46") == 0 && req_is(&e, 0, "DELETE", "/deals/46", NULL, NULL));

    /* accounts */
    c = change(&e, CH_CREATE, account, NULL);
    set(&e, c, "name", S("Example Account"));
    set(&e, c, "accountUrl", S("https://www.example.com"));
    CHECK(encode(&e, ac, c, NULL) == 0);
    CHECK(req_is(&e, 0, "POST", "/accounts", "{'account':{'name':'Example Account','accountUrl':'https://www.example.com'}}", NULL));
    c = change(&e, CH_UPDATE, account, NULL);
    set(&e, c, "name", S("Renamed"));
    CHECK(encode(&e, ac, c, "1") == 0 && req_is(&e, 0, "PUT", "/accounts/1", "{'account':{'name':'Renamed'}}", NULL));

    /* created ids, and 422 errors by their titles */
    Buf id;
    buf_init(&id);
    c = change(&e, CH_CREATE, contact, NULL);
    CHECK(created(&e, ac, c, 201, "{'fieldValues':[],'contact':{'email':'johndoe@example.com','cdate':'2022-04-14T10:03:23-05:00','id':'10'}}", &id) == 0);
    CHECK_STR(id.p, "10");
    CHECK(created(&e, ac, c, 422, "{'errors':[{'title':'Email address already exists in the system','detail':'','code':'duplicate'},"
                                  "{'title':'Second problem'}]}", &id) == -1 && id.n == 0);
    CHECK_STR(e.t.err.p, "Email address already exists in the system; Second problem");
    CHECK(created(&e, ac, c, 404, "{'message':'No Result found for Subscriber with id 1'}", &id) == -1);
    CHECK_STR(e.t.err.p, "No Result found for Subscriber with id 1");
    c = change(&e, CH_CREATE, deal, NULL);
    CHECK(created(&e, ac, c, 201, "{'contacts':[{'id':'51'}],'deal':{'title':'AC Deal','value':45600,'id':'51'},'dealStages':[]}", &id) == 0);
    CHECK_STR(id.p, "51");
    CHECK(created(&e, ac, c, 201, "{'deal':{'id':52}}", &id) == 0);
    CHECK_STR(id.p, "52");
    c = change(&e, CH_CREATE, account, NULL);
    CHECK(created(&e, ac, c, 201, "{'account':{'name':'Example Account','id':'1'}}", &id) == 0);
    CHECK_STR(id.p, "1");
    CHECK(created(&e, ac, c, 201, "{'contact':{'id':'1'}}", &id) == -1);
    CHECK_STR(e.t.err.p, "ActiveCampaign answered HTTP 201 without the new account's id");
    buf_free(&id);
    e_free(&e);
}

static void test_getresponse_encode(Program *p) {
    const Codec *gr = codec_for("getresponse");
    E e;
    e_init(&e, p);
    CHECK(meta(&e.t, gr, "custom-fields",
               "[{'customFieldId':'f1','name':'country','type':'text'},{'customFieldId':'f2','name':'hobbies','type':'multi_select'}]") == 0);
    CHECK(meta(&e.t, gr, "tags", "[{'tagId':'t1','name':'vip'}]") == 0);
    CHECK(meta(&e.t, gr, "campaigns", "[{'campaignId':'C1','name':'Newsletter'}]") == 0);
    uint32_t contact = object(p, "getresponse", "contact");

    /* a create goes on the list the sync names; "age" is made by the source */
    Change *c = change(&e, CH_CREATE, contact, "Newsletter");
    set(&e, c, "email", S("john.doe@example.com"));
    set(&e, c, "name", S("John Doe"));
    set(&e, c, "dayOfCycle", v_num(3));
    set(&e, c, "scoring", v_num(12.5));
    set(&e, c, "note", v_null());
    set(&e, c, "country", S("Italy"));
    set(&e, c, "hobbies", S("chess;sailing"));
    set(&e, c, "age", v_num(41));
    set(&e, c, "campaign", S("C9"));   /* the named list wins */
    CHECK(encode(&e, gr, c, NULL) == 0 && e.out.n == 1);
    CHECK(req_is(&e, 0, "POST", "/contacts",
                 "{'campaign':{'campaignId':'C1'},'email':'john.doe@example.com','name':'John Doe','dayOfCycle':'3','scoring':12.5,"
                 "'note':null,'customFieldValues':[{'customFieldId':'f1','value':['Italy']},"
                 "{'customFieldId':'f2','value':['chess','sailing']},{'customFieldId':'901','value':['41']}]}", NULL));
    CHECK(e.ens.n == 1 && e.ens.kind[0] == META_FIELD);
    CHECK_STR(e.ens.name[0], "age");

    /* without a named list, the campaign field; without either, refused */
    c = change(&e, CH_CREATE, contact, NULL);
    set(&e, c, "email", S("mary@example.com"));
    set(&e, c, "campaign", S("C2"));
    CHECK(encode(&e, gr, c, NULL) == 0 && req_is(&e, 0, "POST", "/contacts", "{'email':'mary@example.com','campaign':{'campaignId':'C2'}}", NULL));
    c = change(&e, CH_CREATE, contact, NULL);
    set(&e, c, "email", S("mary@example.com"));
    CHECK(encode(&e, gr, c, NULL) == -1);
    CHECK_STR(e.t.err.p, "create contact: GetResponse needs a list (campaign) to create a contact");
    c = change(&e, CH_CREATE, contact, "nothing");
    set(&e, c, "email", S("mary@example.com"));
    CHECK(encode(&e, gr, c, NULL) == -1);
    CHECK_STR(e.t.err.p, "create contact: GetResponse has no list (campaign) \"nothing\"");
    CHECK(e.ens.n == 2 && e.ens.kind[1] == META_LIST);

    /* an update: standard fields, then custom ones upserted on their own */
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "name", S("John Q. Doe"));
    set(&e, c, "dayOfCycle", v_null());
    set(&e, c, "hobbies", v_null());
    set(&e, c, "country", S("Malta"));
    CHECK(encode(&e, gr, c, "pV3r") == 0 && e.out.n == 2);
    CHECK(req_is(&e, 0, "POST", "/contacts/pV3r", "{'name':'John Q. Doe','dayOfCycle':null}", NULL));
    CHECK(req_is(&e, 1, "POST", "/contacts/pV3r/custom-fields",
                 "{'customFieldValues':[{'customFieldId':'f2','value':[]},{'customFieldId':'f1','value':['Malta']}]}", NULL));
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "name", v_null());   /* GetResponse keeps a name of one character at least */
    CHECK(encode(&e, gr, c, "pV3r") == 0 && e.out.n == 0);
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "campaign", S("C2"));   /* moves the contact */
    CHECK(encode(&e, gr, c, "pV3r") == 0 && req_is(&e, 0, "POST", "/contacts/pV3r", "{'campaign':{'campaignId':'C2'}}", NULL));
    c = change(&e, CH_UPDATE, contact, NULL);
    set(&e, c, "email", v_null());
    CHECK(encode(&e, gr, c, "pV3r") == -1);
    CHECK_STR(e.t.err.p, "update contact pV3r: a GetResponse contact always has an email");

    /* deletes, tags, and the list actions GetResponse has */
    c = change(&e, CH_DELETE, contact, NULL);
    CHECK(encode(&e, gr, c, "pV3r") == 0 && req_is(&e, 0, "DELETE", "/contacts/pV3r", NULL, NULL));
    c = change(&e, CH_LIST_REMOVE, contact, "Newsletter");
    CHECK(encode(&e, gr, c, "pV3r") == 0 && req_is(&e, 0, "DELETE", "/contacts/pV3r", NULL, NULL));
    c = change(&e, CH_TAG, contact, "vip");
    CHECK(encode(&e, gr, c, "pV3r") == 0 && req_is(&e, 0, "POST", "/contacts/pV3r/tags", "{'tags':[{'tagId':'t1'}]}", NULL));
    c = change(&e, CH_TAG, contact, "early_bird");
    CHECK(encode(&e, gr, c, "pV3r") == 0 && e.ens.n == 3 && e.ens.kind[2] == META_TAG);
    CHECK(req_is(&e, 0, "POST", "/contacts/pV3r/tags", "{'tags':[{'tagId':'903'}]}", NULL));
    c = change(&e, CH_UNTAG, contact, "vip");
    c->ref = "t1";
    CHECK(encode(&e, gr, c, "pV3r") == -1 && e.out.n == 0);
    CHECK_STR(e.t.err.p, "untag \"vip\" on contact pV3r: GetResponse cannot remove a single tag from a contact");
    c = change(&e, CH_LIST_ADD, contact, "Customers");
    CHECK(encode(&e, gr, c, "pV3r") == -1);
    CHECK_STR(e.t.err.p, "list add \"Customers\" on contact pV3r: a GetResponse contact is on exactly one list; "
                         "sync it into the other list with a second sync");
    c = change(&e, CH_AUTOMATE, contact, "Welcome");
    CHECK(encode(&e, gr, c, "pV3r") == -1 && strstr(buf_str(&e.t.err), "no automations"));

    /* creates are asynchronous: no id to read */
    Buf id;
    buf_init(&id);
    c = change(&e, CH_CREATE, contact, "Newsletter");
    CHECK(created(&e, gr, c, 202, NULL, &id) == -1 && id.n == 0);
    CHECK_STR(e.t.err.p, "GetResponse creates contacts asynchronously; the id is read on the next sync");
    CHECK(created(&e, gr, c, 409, "{'httpStatus':409,'code':1008,'codeDescription':'Contact already added','message':'Contact already added'}", &id) == -1);
    CHECK_STR(e.t.err.p, "GetResponse error 1008: Contact already added");
    CHECK(created(&e, gr, c, 500, NULL, &id) == -1);
    CHECK_STR(e.t.err.p, "GetResponse answered HTTP 500");
    buf_free(&id);
    e_free(&e);
}

/* Changes no rule would make: every codec refuses them with a message or
 * writes them, and never crashes. */
static void test_odd_changes(Program *p) {
    const char *systems[4] = {"salesforce", "dynamics365", "activecampaign", "getresponse"};
    const char *ids[] = {NULL, "", "7", "a/b", "x?y=1", "00Q5e00000AbCdEAAV", "1)"};
    Value odd[] = {v_null(), v_int(VT_NONE, 0), v_num(NAN), v_num(INFINITY), v_num(-1e300), v_bool(1), S(""), S(";;"),
                   S("a\"b\\\\c;"), v_int(VT_DATE, -800000), v_int(VT_DATETIME, INT64_MIN / 2), v_int(VT_DURATION, 5)};
    E e;
    e_init(&e, p);
    int ok = 1, refused = 0, written = 0;
    for (int s = 0; s < 4; s++) {
        const Codec *codec = codec_for(systems[s]);
        for (uint32_t o = 0; o < p->nobjects + 1; o++) {
            for (int kind = CH_CREATE; kind <= CH_AUTOMATE + 1; kind++) {
                for (size_t v = 0; v < sizeof odd / sizeof odd[0]; v++) {
                    Change *c = change(&e, (ChangeKind)(kind > CH_AUTOMATE ? CH_CREATE : kind), o, v % 3 ? "vip" : NULL);
                    c->kind = (uint8_t)kind;
                    c->ref = v % 2 ? "../x" : NULL;
                    for (uint32_t f = 0; o < p->nobjects && f < p->objects[o].nfields + 1; f++)
                        plan_set(&e.pl, c, (uint16_t)(f == p->objects[o].nfields ? 9999 : f), v_null(), odd[(v + f) % (sizeof odd / sizeof odd[0])], 0);
                    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
                        int rc = encode(&e, codec, c, ids[i]);
                        if (rc == -1 ? e.t.err.n == 0 || e.out.n != 0 : rc != 0) ok = 0;
                        rc == -1 ? refused++ : written++;
                        for (uint32_t r = 0; rc == 0 && r < e.out.n; r++)
                            if (strstr(e.out.v[r].path, "/x") || strchr(e.out.v[r].path, '?') ? !strstr(e.out.v[r].path, "$select") : 0) ok = 0;
                    }
                    /* without the field that cannot be, some do write */
                    c->nsets = o < p->nobjects ? p->objects[o].nfields : 0;
                    if (encode(&e, codec, c, "7") == 0) written++;
                    static const char *const answers[] = {"null", "[]", "{}", "[null,1,{'errorCode':7}]", "{'id':7}", "{'id':''}",
                                                          "{'error':'x'}", "{'errors':{'title':1}}", "{'contact':[]}", "{'message':5,'code':'x'}"};
                    for (size_t a = 0; a < sizeof answers / sizeof answers[0]; a++) {
                        Buf id;
                        buf_init(&id);
                        if (created(&e, codec, c, a % 2 ? 200 : 500, answers[a], &id) == -1 && e.t.err.n == 0) ok = 0;
                        buf_free(&id);
                    }
                }
            }
        }
    }
    CHECK(ok && refused > 0 && written > 0);
    e_free(&e);
}

/* ------------------------------------------------------ odd answers */

/* Nulls and wrong types where the APIs put objects, arrays, strings and
 * numbers: every codec must refuse or report, never crash. */
static void test_odd_json(Program *p) {
    static const char *const odd[] = {
        "null", "42", "'text'", "[]", "{}", "[null, 1, 'x', [], {}]",
        "{'records':[null, 1, 'x', [], {}, {'Id':null}, {'Id':{}}, {'Id':['a']}, {'Id':'a','AnnualRevenue':[1]},"
        " {'Id':'b','Email':{'x':1}}, {'Id':'c','CreatedDate':5}, {'Id':'d','IsDeleted':'maybe'}],"
        " 'done':'no','nextRecordsUrl':7,'deletedRecords':{'id':'x'}}",
        "{'records':[{'Id':'a'}],'done':false,'nextRecordsUrl':null}",
        "{'value':[null, 7, {'@odata.context':7}, {'@odata.context':'$deletedEntity'}, {'@odata.context':'x$deletedEntity','id':5},"
        " {'_value':'x','_':'y','__value':'z','leadid':'l1','_ownerid_value':{}}], '@odata.nextLink':[]}",
        "{'contacts':[null, {'id':7}, {'id':1e300}, {'id':'1','deleted':'perhaps'}, {'id':'2','cdate':'yesterday'}],"
        " 'fieldValues':[null, 3, {'contact':null,'field':null}, {'contact':'1','field':{},'value':[]}, {'contact':'2','field':'1','value':'||'}],"
        " 'contactTags':[{'contact':'1','tag':null,'id':null}, {'contact':'1','tag':'1','id':{}}], 'tags':'x',"
        " 'contactLists':[{'contact':'1','list':'1','status':null}, {'contact':'1','list':[],'status':1}],"
        " 'meta':{'total':'lots','page_input':{'limit':'x','offset':null}}}",
        "{'contacts':[{'id':'1'}],'meta':{'total':1e400,'page_input':[]}}",
        "{'deals':[{'id':46,'value':'abc'}, {'id':'47','value':null}],'dealCustomFieldData':[{'dealId':'47','customFieldId':1,'fieldValue':{}}]}",
        "[{'contactId':'a','campaign':'C1','tags':{'tagId':'t'},'customFieldValues':[null,{'value':null},{'name':7},"
        " {'name':'age','value':[[1]]},{'name':'hobbies','value':'chess'}]}, {'contactId':5}, {'contactId':'b','campaign':{'campaignId':{}}}]",
        "{'fields':[null, 1, {'id':null,'title':'x'}, {'id':'1','title':['x']}], 'tags':[{'id':[],'tag':'x'}], 'lists':{},"
        " 'automations':[{'id':'1','name':null}], 'dealCustomFieldMeta':[{'id':2.5,'fieldLabel':'x'}]}",
    };
    const char *systems[4] = {"salesforce", "dynamics365", "activecampaign", "getresponse"};
    T t;
    t_init(&t, p);
    int refused_or_read = 1;
    for (int s = 0; s < 4; s++) {
        const Codec *c = codec_for(systems[s]);
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
            for (uint32_t o = 0; o < p->nobjects; o++) {
                if (strcmp(program_str(p, p->objects[o].system), systems[s])) continue;
                int rc = page(&t, c, o, odd[i]);
                /* every row is either a record or reported, and a refusal says why */
                if (rc == -1 ? t.err.n == 0 : rc != 0) refused_or_read = 0;
                for (int k = 0; k < t.got.n && k < MAXGOT; k++)
                    if (!t.got.rec[k]->vm.id) refused_or_read = 0;
                if (c->decode_deleted) {
                    Deleted d = {0};
                    cJSON *j = js(odd[i]);
                    t.err.n = 0;
                    rc = c->decode_deleted(&t.cx, o, j, &d, got_deleted, &t.err);
                    if (rc == -1 && t.err.n == 0) refused_or_read = 0;
                    cJSON_Delete(j);
                }
            }
            for (const char *const *m = c->meta; *m; m++) {
                int rc = meta(&t, c, *m, odd[i]);
                if (rc == -1 && t.err.n == 0) refused_or_read = 0;
            }
        }
    }
    CHECK(refused_or_read);
    /* some of the odd rows above still read: their values stay typed */
    uint32_t lead = object(p, "salesforce", "Lead");
    CHECK(page(&t, codec_for("salesforce"), lead, odd[6]) == 0);
    CHECK(t.got.n == 0 && t.got.nbad == 12 && t.next.n == 0);
    uint32_t gc = object(p, "getresponse", "contact");
    CHECK(page(&t, codec_for("getresponse"), gc, odd[12]) == 0);
    CHECK(t.got.n == 1 && t.got.nbad == 2 && t.got.bad_why[0] && strstr(t.got.bad_why[0], "field age"));
    CHECK_STR(t.got.bad_id[1], "b");
    CHECK_STR(t.got.bad_why[1], "field campaign: expected text for a reference field");
    t_free(&t);
}

/* The scanner (scan_page) reads a page as decode_page does: the same
 * records, the same values, the same refusals, the same next page. */
static void scan_same_as(Program *p, const Codec *c, uint32_t obj, const char *text, void (*prep)(T *t)) {
    T a, b;
    t_init(&a, p);
    t_init(&b, p);
    if (prep) {
        prep(&a);
        prep(&b);
    }
    cJSON *j = js(text);
    char *raw = j ? cJSON_PrintUnformatted(j) : NULL;
    int ra = page(&a, c, obj, text);
    memset(&b.got, 0, sizeof b.got);
    b.got.a = &b.a;
    RecordSink sink = {&b.got, got_record, got_bad, NULL};
    int rb = raw ? c->scan_page(&b.cx, obj, raw, strlen(raw), &sink, &b.next, &b.err) : -1;
    CHECK(ra == rb);
    CHECK(a.got.n == b.got.n && a.got.nbad == b.got.nbad);
    CHECK_STR(buf_str(&a.next), buf_str(&b.next));
    for (int i = 0; i < a.got.n && i < b.got.n && i < MAXGOT; i++) {
        const Record *x = a.got.rec[i], *y = b.got.rec[i];
        CHECK_STR(x->vm.id ? x->vm.id : "", y->vm.id ? y->vm.id : "");
        CHECK(x->deleted == y->deleted && x->created == y->created && x->vm.modified == y->vm.modified);
        CHECK(x->tags_known == y->tags_known && x->ntag_names == y->ntag_names && x->nlists == y->nlists);
        for (uint32_t k = 0; k < x->ntag_names && k < y->ntag_names; k++) {
            CHECK_STR(x->tag_names[k], y->tag_names[k]);
            CHECK_STR(x->tag_refs[k] ? x->tag_refs[k] : "", y->tag_refs[k] ? y->tag_refs[k] : "");
        }
        for (uint32_t k = 0; k < x->nlists && k < y->nlists; k++) CHECK_STR(x->lists[k], y->lists[k]);
        for (uint32_t f = 0; f < x->vm.nf; f++)
            CHECK(((x->present[f / 64] >> (f % 64)) & 1) == ((y->present[f / 64] >> (f % 64)) & 1));
        for (uint32_t f = 0; f < x->vm.nf; f++) {
            Buf bx, by;
            buf_init(&bx);
            buf_init(&by);
            value_format(x->fields[f], &bx);
            value_format(y->fields[f], &by);
            CHECK(x->fields[f].t == y->fields[f].t);
            CHECK_STR(buf_str(&bx), buf_str(&by));
            buf_free(&bx);
            buf_free(&by);
        }
    }
    for (int i = 0; i < a.got.nbad && i < b.got.nbad && i < MAXGOT; i++) {
        CHECK_STR(a.got.bad_why[i], b.got.bad_why[i]);
        CHECK_STR(a.got.bad_id[i] ? a.got.bad_id[i] : "(none)", b.got.bad_id[i] ? b.got.bad_id[i] : "(none)");
    }
    cJSON_free(raw);
    cJSON_Delete(j);
    t_free(&a);
    t_free(&b);
}

/* A page the scanner must refuse: -1 with a reason (containing why, when
 * given), and, where nothing_read, no record or refusal before it. */
static void scan_fails(Program *p, const Codec *c, uint32_t obj, const char *text, size_t n, const char *why,
                       int nothing_read) {
    T t;
    t_init(&t, p);
    memset(&t.got, 0, sizeof t.got);
    t.got.a = &t.a;
    RecordSink sink = {&t.got, got_record, got_bad, NULL};
    CHECK(c->scan_page(&t.cx, obj, text, n, &sink, &t.next, &t.err) == -1 && t.err.n > 0);
    if (why) CHECK(strstr(buf_str(&t.err), why) != NULL);
    if (nothing_read) CHECK(t.got.n == 0 && t.got.nbad == 0);
    t_free(&t);
}

static void scan_same(Program *p, uint32_t obj, const char *text) { scan_same_as(p, &codec_salesforce, obj, text, NULL); }

static void test_salesforce_scan(Program *p) {
    uint32_t lead = object(p, "salesforce", "Lead");
    scan_same(p, lead,
              "{'totalSize':3,'done':false,'nextRecordsUrl':'/services/data/v60.0/query/01g-2000','records':["
              "{'attributes':{'type':'Lead','url':'/x'},'Id':'00Q1','FirstName':'Zo\\u00eb \\\"Z\\\" \\ud83d\\ude00',"
              " 'LastName':'O\\u2019Brien\\n','Company':'A/B','AnnualRevenue':1.5e6,'NumberOfEmployees':-0,"
              " 'HasOptedOutOfEmail':true,'IsDeleted':false,'ConvertedDate':null,'Owner':{'Name':'x','a':[1,{}]},"
              " 'SystemModstamp':'2024-03-05T17:45:10.000+0000','Unknown__c':[[],{}]},"
              "{'attributes':{'type':'Lead'},'Id':'00Q2','LastName':'Babbage','AnnualRevenue':'lots'},"
              "{'LastName':'no id'},"
              "{'Id':'00Q3','LastName':'Late','NumberOfEmployees':'12','HasOptedOutOfEmail':'false'}]}");
    /* keys out of the last record's order, a key with an escape, long
     * strings with escapes past the first eight bytes, dates that do not
     * read, numbers and flags where text is */
    scan_same(p, lead,
              "{'done':true,'records':[{'Id':'00Q4','LastName':'Order','FirstName':'A'},"
              "{'FirstName':'B','Id':'00Q5','LastName':'Swap'},"
              "{'Id':'00Q6','La\\u0073tName':'Escaped key','FirstName':'abcdefgh\\\"ijklmnop\\\\qrstuvwxyz0123\\u00e9'},"
              "{'Id':'00Q7','LastName':'Dates','ConvertedDate':'2024-02-30'},"
              "{'Id':'00Q8','LastName':'Stamp','SystemModstamp':'not a time'},"
              "{'Id':'00Q9','LastName':'Text','Company':12.5,'Phone':true,'ConvertedDate':'2024-02-29'}]}");
    /* a refused record named by its first Id; a key cut at a decoded \u0000, as cJSON cuts it */
    scan_same(p, lead,
              "{'done':true,'records':[{'Id':'00QA','AnnualRevenue':'lots','Id':'00QB'},"
              "{'Id':7,'AnnualRevenue':'lots','Id':'00QC'},"
              "{'Id':'00QD','LastName\\u0000tail':'cut key','FirstName':'x'}]}");
    scan_same(p, lead, "{'done':true,'records':[]}");
    scan_same(p, lead, "{'done':true,'totalSize':0}");
    scan_same(p, lead, "{'records':[7, 'x', null]}");
    /* nesting past cJSON's limit fails the page, not the stack */
    const Codec *c = &codec_salesforce;
    for (int deep = 0; deep < 2; deep++) {
        Buf b;
        buf_init(&b);
        buf_puts(&b, deep ? "{\"contacts\": [{\"id\": \"1\", \"x\": " : "{\"records\": [{\"Id\": \"1\", \"Owner\": ");
        for (int i = 0; i < 200000; i++) buf_putc(&b, '[');
        for (int i = 0; i < 200000; i++) buf_putc(&b, ']');
        buf_puts(&b, "}]}");
        scan_fails(p, deep ? &codec_activecampaign : c, deep ? object(p, "activecampaign", "contact") : lead, b.p, b.n,
                   "nested too deeply", 1);
        buf_free(&b);
    }
    /* text that is not JSON fails the scanner as it fails cJSON */
    static const char *const broken[] = {"{\"records\": [", "{\"records\": [{\"Id\": \"a\\q\"}]}", "{\"records\" [] }",
                                         "{\"records\": [{\"Id\": \"\\ud800\"}]}", "", "{\"records\": [1.]}"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) scan_fails(p, c, lead, broken[i], strlen(broken[i]), NULL, 0);
}

/* Numbers as text: the shortest that reads back (plans, bases, bodies). */
static void test_number_text(void) {
    static const struct { double n; const char *want; } cases[] = {
        {0.1, "0.1"}, {41537906.62, "41537906.62"}, {1.0 / 3, "0.3333333333333333"}, {-2.5, "-2.5"},
        {1e21, "1e+21"}, {1.5e16, "1.5e+16"}, {123456789012345.6, "123456789012345.6"}, {5e-324, "5e-324"},
        {0.1 + 0.2, "0.30000000000000004"}, {12, "12"}, {1e-7, "1e-07"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Buf b;
        buf_init(&b);
        value_format(v_num(cases[i].n), &b);
        CHECK_STR(buf_str(&b), cases[i].want);
        buf_free(&b);
    }
}

/* The metadata test_activecampaign reads, for the scanner's pages. */
static void ac_prep(T *t) {
    const Codec *c = &codec_activecampaign;
    meta(t, c, "fields",
         "{'fields':[{'title':'Industry','type':'text','id':'1'},{'title':'Interests','type':'listbox','id':'2'},"
         "{'title':'Score','type':'number','id':'3'},{'title':'Renewal','type':'date','id':'4'},"
         "{'title':'email','type':'text','id':'5'}]}");
    meta(t, c, "tags", "{'tags':[{'tag':'vip','id':'1'},{'tag':'newsletter','id':'2'}]}");
    meta(t, c, "lists", "{'lists':[{'name':'Customers','id':'1'},{'name':'Prospects','id':'2'}]}");
    meta(t, c, "dealCustomFieldMeta",
         "{'dealCustomFieldMeta':[{'id':'1','fieldLabel':'Budget','fieldType':'currency'},"
         "{'id':'2','fieldLabel':'Close Date','fieldType':'date'}]}");
}

static void test_activecampaign_scan(Program *p) {
    const Codec *c = &codec_activecampaign;
    uint32_t contact = object(p, "activecampaign", "contact"), deal = object(p, "activecampaign", "deal"),
             account = object(p, "activecampaign", "account");
    /* the rows, their sideloads (before and after them), refusals, ids as numbers */
    scan_same_as(p, c, contact,
                 "{'scoreValues':[],'contacts':["
                 "{'cdate':'2018-09-12T16:53:50-05:00','email':'adam@example.com','phone':'+1 312 555 0100','firstName':'Adam',"
                 " 'lastName':'Smith','orgid':'0','bounced_hard':'0','bounced_soft':'2','bounced_date':'0000-00-00',"
                 " 'deleted':'0','anonymized':'0','udate':'2018-09-12T17:00:00-05:00','deleted_at':'0000-00-00 00:00:00',"
                 " 'fieldValues':['11','12','13','14','15'],'links':{'contactTags':'https://x/api/3/contacts/7/contactTags'},"
                 " 'id':'7','organization':null},"
                 "{'cdate':'2018-08-17T13:46:58-05:00','email':'old@example.com','deleted':'1','udate':'0000-00-00 00:00:00','id':'8'},"
                 "{'cdate':'2018-08-17T13:46:58-05:00','email':'bad@example.com','deleted':'0','id':'9'},"
                 "{'email':'noid@example.com'}, 'not a row', {'id':12,'email':'num@example.com','firstName':true},"
                 "{'id':'13','id':'14','email':'twice@example.com','email':'last@example.com'},"
                 "{'i\\u0064':'15','em\\u0061il':'escaped@example.com','Industry':'own value'}],"
                 "'fieldValues':["
                 AC_VALUES ","
                 "{'contact':'12','field':'1','value':'Numbers','id':'19'},"
                 "{'contact':'13','field':'1','value':'First id','id':'20'},"
                 "{'contact':'15','field':'1','value':'Sideload','id':'21'}],"
                 "'meta':{'total':'9','page_input':{'limit':9,'offset':0}},"
                 "'contactTags':["
                 "{'contact':'7','tag':'1','id':'101'},{'contact':'7','tag':'3','id':'103'},"
                 "{'contact':'8','tag':'2','id':'104'},{'contact':'7','tag':'404','id':'105'}],"
                 "'tags':[{'tag':'hot-lead','id':'3'}],"
                 "'contactLists':[{'contact':'7','list':'1','status':'1'},{'contact':'7','list':'2','status':'2'},"
                 "{'contact':'8','list':'2','status':'1'}],"
                 "'accountContacts':[{'contact':'7','account':'20'}],"
                 "'fieldValues':[{'contact':'8','field':'1','value':'second sideload','id':'30'}]}",
                 ac_prep);
    scan_same_as(p, c, contact, "{'contacts':[],'meta':{'total':0}}", ac_prep);
    scan_same_as(p, c, contact, "{'meta':{'total':'1'},'contacts':[{'id':'1','email':'a@example.com'}]}", ac_prep);
    scan_same_as(p, c, contact, "{'contacts':{'id':'7'}}", ac_prep);
    scan_same_as(p, c, contact, "{'contact':{'id':'7','email':'adam@example.com'}}", ac_prep);
    scan_same_as(p, c, deal,
                 "{'deals':[{'owner':'1','contact':'39','title':'Able Hyena','cdate':'2019-09-06T11:29:48-05:00',"
                 " 'mdate':'2019-09-07T10:00:00-05:00','value':'1872151','currency':'usd','status':'0',"
                 " 'edate':'0000-00-00 00:00:00','id':'46','isDisabled':false,'account':'20'},"
                 " {'id':'47','title':'Free','value':'0','currency':'usd','stage':'1','Budget':'5'}],"
                 "'dealCustomFieldData':["
                 "{'id':'3','dealId':46,'customFieldId':1,'fieldValue':'250000'},"
                 "{'id':'4','dealId':46,'customFieldId':2,'fieldValue':'2026-06-30'},"
                 "{'id':'5','dealId':47,'customFieldId':1,'fieldValue':'1999'}],'meta':{'total':2}}",
                 ac_prep);
    scan_same_as(p, c, account,
                 "{'accounts':[{'name':'First Example Account','accountUrl':null,'createdTimestamp':'2019-04-29T07:51:31-05:00',"
                 " 'updatedTimestamp':'2019-04-29T07:51:32-05:00','contactCount':'1','dealCount':'3','id':'1'}],"
                 "'meta':{'total':'2'}}",
                 ac_prep);
    /* text that is not JSON fails before any record reaches the sink */
    static const char *const broken[] = {"{\"contacts\": [{\"id\": \"1\"}], \"meta\": {", "{\"contacts\": [{\"id\": \"1\",}]}",
                                         "{\"contacts\": [], \"fieldValues\": [{\"value\": \"\\x\"}]}", "",
                                         /* a byte no value starts with, in a sideload (once looped) */
                                         "{\"contacts\": [], \"fieldValues\": [\xf4\"contact\": \"12\"}]}"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) scan_fails(p, c, contact, broken[i], strlen(broken[i]), NULL, 1);
}

/* A count from an answer: what no API would give is none, never cast
 * (UBSan: a float-to-int overflow on 1e300). */
static void test_live_count(void) {
    const char *cases[][2] = {{"42", "42"}, {"\"42\"", "42"}, {"0", "0"}, {"1e300", "-1"}, {"-5", "-1"},
                              {"2.5", "-1"}, {"\"12x\"", "-1"}, {"\"\"", "-1"}, {"null", "-1"}, {"9007199254740993e3", "-1"},
                              {"\"99999999999999999999\"", "-1"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = cJSON_Parse(cases[i][0]);
        CHECK(j != NULL);
        CHECK(live_count(j) == strtol(cases[i][1], NULL, 10));
        cJSON_Delete(j);
    }
}

void test_codec_all(void) {
    test_live_count();
    test_number_text();
    Program *p = compile_rules();
    CHECK(p != NULL);
    if (!p) return;
    test_salesforce(p);
    test_salesforce_scan(p);
    test_dynamics365(p);
    test_activecampaign(p);
    test_activecampaign_scan(p);
    test_getresponse(p);
    test_odd_json(p);
    test_salesforce_encode(p);
    test_dynamics365_encode(p);
    test_activecampaign_encode(p);
    test_getresponse_encode(p);
    test_odd_changes(p);
    program_free(p);
}
