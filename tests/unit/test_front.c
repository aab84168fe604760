/* test_front.c - unit tests of the front end's parts: lexer separator
 * insertion, keyword table, columns, symbol tables, suggestions, types,
 * and the formatter's refusals. */
#include <stdlib.h>

#include "arena.h"
#include "diag.h"
#include "fmt.h"
#include "lex.h"
#include "parse.h"
#include "symtab.h"
#include "tandem.h"
#include "types.h"
#include "unit_test.h"
#include "util.h"

/* Token codes of text as a compact string: names joined by spaces. */
static const char *codes(const char *text) {
    static char out[2048];
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, "t.sync", text, strlen(text));
    TokenList tl;
    lex_file(&d, f, &a, &tl);
    out[0] = 0;
    for (int i = 0; i < tl.ntok; i++) {
        const char *n = tl.tok[i].code == TK_SEMI ? ";" : lex_token_name(tl.tok[i].code);
        if (i) strcat(out, " ");
        strncat(out, n, sizeof out - strlen(out) - 1);
    }
    diags_fini(&d);
    arena_free(&a);
    return out;
}

static void test_separators(void) {
    CHECK_STR(codes("a\nb"), "identifier ; identifier ;");
    CHECK_STR(codes("a and\nb"), "identifier 'and' identifier ;");
    CHECK_STR(codes("f(a,\nb)\n"), "identifier '(' identifier ',' identifier ')' ;");
    CHECK_STR(codes("x { a }"), "identifier '{' identifier ; '}' ;");
    CHECK_STR(codes("x {\n}\n"), "identifier '{' '}' ;");
    CHECK_STR(codes("a; b"), "identifier ; identifier ;");
    CHECK_STR(codes("a # note\n"), "identifier ;");
    CHECK_STR(codes(""), "");
    CHECK_STR(codes("\n\n# only a comment\n"), "");
    CHECK_STR(codes("x <- y -> z <-> w"), "identifier '<-' identifier '->' identifier '<->' identifier ;");
    CHECK_STR(codes("4h 2026-01-02 2026-01-02T03:04:05Z 02:30 1.5"),
              "duration date date-time time of day number ;");
}

static void test_keywords(void) {
    /* Every keyword spelled alone lexes to itself, so the table is sorted. */
    static const char *const words[] = {
#define KW(T, S) S,
#include "keywords.def"
#undef KW
    };
    static const int toks[] = {
#define KW(T, S) TK_##T,
#include "keywords.def"
#undef KW
    };
    int n = (int)(sizeof words / sizeof words[0]);
    for (int i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s ;", lex_token_name(toks[i]));
        CHECK_STR(codes(words[i]), want);
        if (i > 0) CHECK(strcmp(words[i - 1], words[i]) < 0);
    }
    CHECK_STR(codes("maps user mapping"), "identifier identifier 'mapping' ;");
}

static void test_comments(void) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    const char *text = "# own\nx  # trailing\n  # own too\n";
    int f = diags_add_file(&d, "t.sync", text, strlen(text));
    TokenList tl;
    lex_file(&d, f, &a, &tl);
    CHECK(tl.ncomments == 3);
    CHECK(tl.comments[0].own_line == 1);
    CHECK(tl.comments[1].own_line == 0);
    CHECK(tl.comments[2].own_line == 1);
    CHECK(tl.comments[1].off == 9);
    diags_fini(&d);
    arena_free(&a);
}

static void test_columns(void) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    const char *text = "first\n  \xc3\xa9t\xc3\xa9 == x\n";
    int f = diags_add_file(&d, "t.sync", text, strlen(text));
    int line, col;
    src_linecol(diags_file(&d, f), 0, &line, &col);
    CHECK(line == 1 && col == 1);
    /* "x" after two accented letters: byte 17, character column 10 */
    src_linecol(diags_file(&d, f), 17, &line, &col);
    CHECK(line == 2 && col == 10);
    diag_error(&d, (Loc){f, 17, 1}, "bad \"x\"");
    Buf b;
    buf_init(&b);
    diags_render_json(&d, &b);
    CHECK_STR(buf_str(&b),
              "[{\"severity\":\"error\",\"file\":\"t.sync\",\"line\":2,\"column\":10,\"end_line\":2,"
              "\"end_column\":11,\"message\":\"bad \\\"x\\\"\",\"notes\":[]}]");
    buf_free(&b);
    diags_fini(&d);
    arena_free(&a);
}

static void test_symtab(void) {
    Arena a;
    arena_init(&a);
    Symtab t;
    symtab_init(&t, &a);
    char *keys[1000];
    for (int i = 0; i < 1000; i++) {
        keys[i] = arena_printf(&a, "field_%d", i);
        CHECK(symtab_put(&t, keys[i], keys[i]) == NULL || i < 0);
    }
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= symtab_get(&t, keys[i]) == keys[i];
    CHECK(ok);
    CHECK(symtab_get(&t, "field_1000") == NULL);
    CHECK(symtab_put(&t, keys[5], "other") == keys[5]);
    CHECK(t.n == 1000);
    CHECK(strcmp(t.order[999].key, "field_999") == 0);
    arena_free(&a);
}

static const char *best(const char *name, const char *const *cands) {
    Suggest s;
    suggest_init(&s, name);
    for (; *cands; cands++) suggest_try(&s, *cands);
    return s.best ? s.best : "-";
}

static void test_suggest(void) {
    static const char *const fields[] = {"Email", "FirstName", "LastName", "Company", NULL};
    CHECK_STR(best("Emial", fields), "Email");
    CHECK_STR(best("email", fields), "Email");
    CHECK_STR(best("lastname", fields), "LastName");
    CHECK_STR(best("Compnay", fields), "Company");
    CHECK_STR(best("Phone", fields), "-");
    CHECK_STR(best("Id", fields), "-");
}

static void test_types(void) {
    CHECK(type_assignable(TY_TEXT, TY_EMAIL));
    CHECK(type_assignable(TY_TEXT, TY_PICKLIST));
    CHECK(!type_assignable(TY_TEXT, TY_NUMBER));
    CHECK(!type_assignable(TY_PHONE, TY_TEXT));
    CHECK(type_assignable(TY_CURRENCY, TY_NUMBER));
    CHECK(!type_assignable(TY_INTEGER, TY_NUMBER));
    CHECK(type_assignable(TY_DATETIME, TY_DATE));
    CHECK(!type_assignable(TY_DATE, TY_DATETIME));
    CHECK(!type_assignable(TY_REFERENCE, TY_REFERENCE));
    CHECK(type_assignable(TY_BOOLEAN, TY_NULL));
    CHECK(type_comparable(TY_DATE, TY_DATETIME));
    CHECK(!type_comparable(TY_TEXT, TY_NUMBER));
    CHECK(type_lookup("picklist") == TY_PICKLIST);
    CHECK(type_lookup("texts") == -1);
}

static const char *fmt(const char *text, int *rc) {
    static char out[4096];
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, "t.sync", text, strlen(text));
    Buf b;
    buf_init(&b);
    *rc = fmt_file(&d, f, &a, &b);
    snprintf(out, sizeof out, "%s", buf_str(&b));
    buf_free(&b);
    diags_fini(&d);
    arena_free(&a);
    return out;
}

static void test_fmt(void) {
    int rc;
    CHECK_STR(fmt("paused ;schedule every 4h", &rc), "paused\nschedule every 4h\n");
    CHECK(rc == 0);
    fmt("sync x: {", &rc);
    CHECK(rc == -1);
    CHECK_STR(fmt("", &rc), "");
    CHECK(rc == 0);
    /* A comment glued to code keeps its text, gets two spaces. */
    CHECK_STR(fmt("paused#x\n", &rc), "paused  #x\n");
}

static void test_api(void) {
    char *diags = NULL, *out = NULL;
    int warnings = -1;
    const char *bad = "use salesforce\nsource sf = salesforce { instance = env(\"I\") }\n";
    int errors = tandem_check_text("api.sync", bad, strlen(bad), "stdlib", TANDEM_DIAG_JSON, &diags, &warnings);
    CHECK(errors == 1);
    CHECK(warnings == 1);
    CHECK(diags && strstr(diags, "\"message\":\"source 'sf' lacks required setting auth\""));
    free(diags);
    diags = NULL;
    CHECK(tandem_check_file("no/such/file.sync", "stdlib", 0, &diags, NULL) == -1);
    CHECK(diags && strstr(diags, "cannot read 'no/such/file.sync'"));
    free(diags);
    CHECK(tandem_format("f.sync", "paused;paused", 13, &out, NULL) == 0);
    CHECK_STR(out, "paused\npaused\n");
    free(out);
    CHECK(tandem_version()[0] != 0);
}

/* The tree and the messages of a parse, keeping its tokens or not. */
static char *parsed(const char *text, int keep) {
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d, &a);
    int f = diags_add_file(&d, "t.sync", text, strlen(text));
    TokenList tl;
    Node *root = parse_file(&d, f, &a, keep ? &tl : NULL, NULL);
    Buf b;
    buf_init(&b);
    ast_dump(root, &b, 0);
    diags_render(&d, &b, 0);
    diags_fini(&d);
    arena_free(&a);
    return buf_take(&b);
}

/* A parse for checking takes its tokens from the lexer one at a time and
 * keeps none; it reads as one over the kept list (what fmt does): the
 * same tree, the same errors, where a statement is skipped after a
 * syntax error, where a lexical error is past a parse given up. */
static void test_streamed_parse(void) {
    Buf chain;
    buf_init(&chain);
    buf_puts(&chain, "sync s: a.B -> c.D {\n    skip when x");
    for (int i = 0; i < 1100; i++) buf_puts(&chain, " or x");
    buf_puts(&chain, "\n}\nsync t: \"open\n");
    const char *texts[] = {
        "use a\nsync s: a.B <-> c.D {\n    map x <-> y\n    skip when p == \"q\" and (r or not s)\n}\n",
        "sync s: a.B -> c.D {\n    map x -> (y z { w }) q\n    match a = b\n}\nsync t: {\n",
        "source x = y { a = 2026-02-30 }\nsync s: a.B -> c.D { map x -> y }\n$\n",
        buf_str(&chain),
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *kept = parsed(texts[i], 1), *streamed = parsed(texts[i], 0);
        CHECK_STR(streamed, kept);
        free(kept);
        free(streamed);
    }
    buf_free(&chain);
}

void test_front(void) {
    test_api();
    test_separators();
    test_keywords();
    test_comments();
    test_columns();
    test_symtab();
    test_suggest();
    test_types();
    test_fmt();
    test_streamed_parse();
}
