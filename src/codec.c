/* codec.c - the codec registry and the names-behind-ids tables they share. */
#include "codec.h"

#include <string.h>

void meta_init(Meta *m, Arena *a) {
    memset(m, 0, sizeof *m);
    m->a = a;
    for (int k = 0; k < META__COUNT; k++) {
        symtab_init(&m->by_id[k], a);
        symtab_init(&m->by_name[k], a);
    }
}

void meta_put(Meta *m, MetaKind k, const char *id, const char *name, const char *type) {
    MetaEntry *e = symtab_get(&m->by_id[k], id);
    if (!e) {
        e = arena_alloc(m->a, sizeof *e);
        e->id = arena_strdup(m->a, id);
        symtab_put(&m->by_id[k], e->id, e);
    }
    e->name = arena_strdup(m->a, name);
    e->type = type ? arena_strdup(m->a, type) : NULL;
    /* A renamed entry keeps its old name too: harmless, since names come
     * from the same answer that gave the ids. */
    MetaEntry *old = symtab_get(&m->by_name[k], e->name);
    if (!old) symtab_put(&m->by_name[k], e->name, e);
}

const MetaEntry *meta_by_id(const Meta *m, MetaKind k, const char *id) {
    return id ? symtab_get(&m->by_id[k], id) : NULL;
}

const MetaEntry *meta_by_name(const Meta *m, MetaKind k, const char *name) {
    return name ? symtab_get(&m->by_name[k], name) : NULL;
}

void request_add(RequestList *l, Arena *a, const char *method, const char *path, const char *body, const char *headers) {
    if (l->n == l->cap) l->v = arena_grow(a, l->v, l->n, &l->cap, 4, sizeof *l->v);
    Request *r = &l->v[l->n++];
    r->method = arena_strdup(a, method);
    r->path = arena_strdup(a, path);
    r->body = body ? arena_strdup(a, body) : NULL;
    r->headers = headers ? arena_strdup(a, headers) : NULL;
}

extern const Codec codec_salesforce, codec_dynamics365, codec_activecampaign, codec_getresponse;

const char *codec_what(CodecCtx *cx, const Change *c, const char *id) {
    const char *obj = program_str(cx->p, cx->p->objects[c->object].name);
    if (c->kind > CH_AUTOMATE) return arena_printf(cx->a, "change of kind %d on %s", c->kind, obj);
    if (c->kind >= CH_TAG)
        return arena_printf(cx->a, "%s \"%s\" on %s %s", plan_action_name(c->kind), c->name ? c->name : "", obj, id ? id : "(new)");
    return id ? arena_printf(cx->a, "%s %s %s", plan_action_name(c->kind), obj, id) : arena_printf(cx->a, "%s %s", plan_action_name(c->kind), obj);
}

int codec_field_at(const Program *p, uint32_t object, CodecShape *sh, int i, const char *k, size_t n, int keep) {
    if (i < CODEC_SHAPE && sh->key[i] && sh->len[i] == n && !memcmp(sh->key[i], k, n)) return sh->fid[i];
    int fid = program_field_n(p, object, k, n);
    if (i < CODEC_SHAPE) {
        sh->key[i] = keep ? k : NULL;
        sh->len[i] = n;
        sh->fid[i] = fid;
    }
    return fid;
}

int codec_id_ok(const char *id) {
    size_t n = id ? strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") : 0;
    return n > 0 && n <= 128 && !id[n] && strcmp(id, ".") && strcmp(id, "..");
}

const Codec *codec_for(const char *system) {
    static const Codec *const all[] = {&codec_salesforce, &codec_dynamics365, &codec_activecampaign, &codec_getresponse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->system, system)) return all[i];
    return NULL;
}
