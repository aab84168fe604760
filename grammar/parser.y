/* parser.y - the .sync grammar; lemon turns this into build/gen/parser.c.
 *
 * Statements end with TK_SEMI, which the lexer inserts at line ends (see
 * src/lex.h), so every list below is "items separated by SEMI".  Actions
 * only call builders from src/parse.c; the tree lives in the compilation's
 * arena, so no %destructor is needed.  On a syntax error the parser reports
 * what it expected (report_syntax_error below) and skips to the end of the
 * statement, so one run reports every broken statement.
 */

%name tdParser
%token_prefix TK_
%token_type {Token}
%default_type {Node*}
%extra_argument {ParseCtx *px}
%start_symbol file
%stack_size 400

%include {
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"

struct yyParser;
static void report_syntax_error(struct yyParser *p, int major, Token tok, ParseCtx *px);
}

%syntax_error { report_syntax_error(yypParser, yymajor, yyminor, px); }
%stack_overflow { px->too_deep = 1; }
%parse_failure { }
%token_destructor { (void)px; }

/* Token order fixes the TK_* codes; keywords come from src/keywords.def. */
%token SEMI LBRACE RBRACE LPAREN RPAREN LBRACKET RBRACKET COMMA DOT COLON EQ.
%token ID STRING NUMBER DATE DATETIME DURATION TIME.
%token BOTH RARROW LARROW.
%token USE SOURCE SCHEDULE EVERY DAILY AT INITIAL SYNC PAUSED
       MATCH SKIP WHEN UNLESS FROM SELECT NONE CREATED UPDATED SINCE FIRST RUN
       FLAGGED ALL ANY MAP AS VIA VALUES IF BLANK ALWAYS NEVER ACCOUNT NEW
       BECOME WITH ON CREATE UPDATE CONVERT DELETE REMOVE LIST TAG UNTAG SET
       KEEP ADD TO START AUTOMATION RESURRECT PREFER NEWEST AFTER TAGGED FIELD
       TRUE FALSE NULL OFF EXTEND SYSTEM OBJECT SETTING PLAN LIMIT MAPPING
       DEFAULTS TRACK STATUS LAST ELSE KIND KEY MODIFIED DELETED HAS CONVERTS BY.

%left OR.
%left AND.
%right NOT.
%nonassoc EQEQ NE LT LE GT GE IN IS CONTAINS STARTS ENDS.
%left PLUS MINUS.
%left STAR SLASH.
%right UMINUS.

/* A keyword the grammar does not expect at that point is an identifier. */
%fallback ID USE SOURCE SCHEDULE EVERY DAILY AT INITIAL SYNC PAUSED
       MATCH SKIP WHEN UNLESS FROM SELECT NONE CREATED UPDATED SINCE FIRST RUN
       FLAGGED ALL ANY MAP AS VIA VALUES IF BLANK ALWAYS NEVER ACCOUNT NEW
       BECOME WITH ON CREATE UPDATE CONVERT DELETE REMOVE LIST TAG UNTAG SET
       KEEP ADD TO START AUTOMATION RESURRECT PREFER NEWEST AFTER TAGGED FIELD
       TRUE FALSE NULL OFF EXTEND SYSTEM OBJECT SETTING PLAN LIMIT MAPPING
       DEFAULTS TRACK STATUS LAST ELSE KIND KEY MODIFIED DELETED HAS CONVERTS BY
       OR AND NOT IN IS CONTAINS STARTS ENDS.

%type stmts {NodeList}
%type items {NodeList}
%type settings {NodeList}
%type names {NodeList}
%type vitems {NodeList}
%type vlist {NodeList}
%type fielddecls {NodeList}
%type sysitems {NodeList}
%type objitems {NodeList}
%type limits {NodeList}
%type conds {NodeList}
%type elist {NodeList}
%type args {NodeList}
%type arglist {NodeList}
%type policies {NodeList}
%type actions {NodeList}
%type action_items {NodeList}
%type assigns {NodeList}
%type attrs {NodeList}
%type strlist {NodeList}
%type words {NodeList}
%type arrow {Token}
%type policy_word {Token}
%type onoff {Token}
%type since {Node*}

file ::= stmts(L). {
    Node *f = ast_new(px->arena, NODE_FILE, (Loc){px->file, 0, 0});
    p_list(f, L);
    px->root = f;
}

stmts(A) ::= . { A = nl_empty(); }
stmts(A) ::= stmts(A) SEMI.
stmts(A) ::= stmts(A) stmt(B) SEMI. { nl_push(&A, B); }
stmts(A) ::= stmts(A) error SEMI. { yypParser->yyerrcnt = -1; }

/* ---------------------------------------------------------------- top level */

stmt(A) ::= USE(K) names(L). {
    A = p_node(px, NODE_USE, K);
    p_list(A, L);
    if (L.tail) A->loc = loc_join(A->loc, L.tail->loc);
}
stmt(A) ::= SOURCE(K) ID(N) EQ ID(S) LBRACE settings(L) RBRACE(E). {
    A = p_named(px, NODE_SOURCE, K, N);
    A->a = p_named(px, NODE_NAME, S, S);
    p_list(A, L);
    p_extend(A, E, px);
}
stmt(A) ::= schedule(B). { A = B; }
stmt(A) ::= initial(B). { A = B; }
stmt(A) ::= PAUSED(K). { A = p_node(px, NODE_PAUSED, K); }
stmt(A) ::= SYNC(K) ID(N) COLON endpoint(L) arrow(R) endpoint(Rt) LBRACE items(I) RBRACE(E). {
    A = p_named(px, NODE_SYNC, K, N);
    A->a = L; A->op = R.code; A->b = Rt;
    p_list(A, I);
    p_extend(A, E, px);
}
stmt(A) ::= VALUES(K) ID(N) LBRACE vitems(L) RBRACE(E). {
    A = p_named(px, NODE_VALUES, K, N);
    p_list(A, L);
    p_extend(A, E, px);
}
stmt(A) ::= EXTEND(K) endpoint(O) LBRACE fielddecls(L) RBRACE(E). {
    A = p_node(px, NODE_EXTEND, K);
    A->a = O;
    p_list(A, L);
    p_extend(A, E, px);
}
stmt(A) ::= SYSTEM(K) ID(N) LBRACE sysitems(L) RBRACE(E). {
    A = p_named(px, NODE_SYSTEM, K, N);
    p_list(A, L);
    p_extend(A, E, px);
}
stmt(A) ::= MAPPING(K) ID(N) COLON endpoint(L) arrow(R) endpoint(Rt) LBRACE items(I) RBRACE(E). {
    A = p_named(px, NODE_MAPPING, K, N);
    A->a = L; A->op = R.code; A->b = Rt;
    p_list(A, I);
    p_extend(A, E, px);
}

names(A) ::= name(B). { A = nl_empty(); nl_push(&A, B); }
names(A) ::= names(A) COMMA name(B). { nl_push(&A, B); }

name(A) ::= ID(N). { A = p_named(px, NODE_NAME, N, N); }
name(A) ::= ID(Q) DOT ID(N). {
    A = p_node(px, NODE_NAME, Q);
    A->name = arena_printf(px->arena, "%s.%s", p_text(px, Q), p_text(px, N));
    A->loc = A->nloc = p_span(px, Q, N);
}

settings(A) ::= . { A = nl_empty(); }
settings(A) ::= settings(A) SEMI.
settings(A) ::= settings(A) setting(B) SEMI. { nl_push(&A, B); }
settings(A) ::= settings(A) error SEMI. { yypParser->yyerrcnt = -1; }

setting(A) ::= ID(N) EQ expr(V). {
    A = p_named(px, NODE_SETTING, N, N);
    A->a = V;
    A->loc = loc_join(A->loc, V->loc);
}

schedule(A) ::= SCHEDULE(K) EVERY(W) DURATION(D). {
    A = p_node(px, NODE_SCHEDULE, K); A->op = W.code; A->a = p_lit(px, D);
    A->loc = p_span(px, K, D);
}
schedule(A) ::= SCHEDULE(K) DAILY(W) AT TIME(T). {
    A = p_node(px, NODE_SCHEDULE, K); A->op = W.code; A->a = p_lit(px, T);
    A->loc = p_span(px, K, T);
}
schedule(A) ::= SCHEDULE(K) OFF(W). {
    A = p_node(px, NODE_SCHEDULE, K); A->op = W.code;
    A->loc = p_span(px, K, W);
}

initial(A) ::= INITIAL(K) SYNC onoff(V). {
    A = p_node(px, NODE_INITIAL, K); A->a = p_lit(px, V);
    A->loc = p_span(px, K, V);
}

onoff(A) ::= ON(B). { A = B; }
onoff(A) ::= OFF(B). { A = B; }
onoff(A) ::= TRUE(B). { A = B; }
onoff(A) ::= FALSE(B). { A = B; }

arrow(A) ::= BOTH(B). { A = B; }
arrow(A) ::= RARROW(B). { A = B; }
arrow(A) ::= LARROW(B). { A = B; }

endpoint(A) ::= ID(S) DOT ID(O). { A = p_endpoint(px, S, O, NULL, O); }
endpoint(A) ::= ID(S) DOT LIST(O) LPAREN STRING(L) RPAREN(E). { A = p_endpoint(px, S, O, &L, E); }
endpoint(A) ::= ID(S) DOT LIST(O). { A = p_endpoint(px, S, O, NULL, O); }

/* ------------------------------------------------------------ value maps */

vitems(A) ::= . { A = nl_empty(); }
vitems(A) ::= vlist(B). { A = B; }
vlist(A) ::= vsep. { A = nl_empty(); }
vlist(A) ::= vitem(B). { A = nl_empty(); nl_push(&A, B); }
vlist(A) ::= vlist(A) vsep.
vlist(A) ::= vlist(A) vsep vitem(B). { nl_push(&A, B); }
vsep ::= SEMI.
vsep ::= COMMA.

vitem(A) ::= vlit(K) EQ vlit(V). {
    A = ast_new(px->arena, NODE_VPAIR, loc_join(K->loc, V->loc));
    A->a = K; A->b = V;
}
vitem(A) ::= ELSE(K) vlit(V). {
    A = p_node(px, NODE_VELSE, K); A->a = V;
    A->loc = loc_join(A->loc, V->loc);
}

vlit(A) ::= STRING(T). { A = p_lit(px, T); }
vlit(A) ::= NUMBER(T). { A = p_lit(px, T); }
vlit(A) ::= MINUS(M) NUMBER(T). { A = p_lit(px, T); A->num = -A->num; A->loc = p_span(px, M, T); }
vlit(A) ::= TRUE(T). { A = p_lit(px, T); }
vlit(A) ::= FALSE(T). { A = p_lit(px, T); }

/* ------------------------------------------------ schemas (stdlib, extend) */

fielddecls(A) ::= . { A = nl_empty(); }
fielddecls(A) ::= fielddecls(A) SEMI.
fielddecls(A) ::= fielddecls(A) fielddecl(B) SEMI. { nl_push(&A, B); }
fielddecls(A) ::= fielddecls(A) error SEMI. { yypParser->yyerrcnt = -1; }

fielddecl(A) ::= ID(N) COLON typespec(T) attrs(L). {
    A = p_named(px, NODE_FIELDDECL, N, N);
    A->a = T; p_list(A, L);
    A->loc = loc_join(A->loc, L.tail ? L.tail->loc : T->loc);
}
fielddecl(A) ::= STRING(N) COLON typespec(T) attrs(L). {
    A = p_node(px, NODE_FIELDDECL, N);
    A->name = p_string(px, N); A->op = 1;
    A->a = T; p_list(A, L);
    A->loc = loc_join(A->loc, L.tail ? L.tail->loc : T->loc);
}

typespec(A) ::= ID(N). { A = p_named(px, NODE_TYPESPEC, N, N); }
typespec(A) ::= ID(N) LPAREN NUMBER(S) RPAREN(E). {
    A = p_named(px, NODE_TYPESPEC, N, N); A->num = p_lit(px, S)->num;
    A->loc = p_span(px, N, E);
}
typespec(A) ::= ID(N) LPAREN ID(R) RPAREN(E). {
    A = p_named(px, NODE_TYPESPEC, N, N); A->str = p_text(px, R); A->sloc = p_loc(px, R);
    A->loc = p_span(px, N, E);
}
typespec(A) ::= ID(N) LBRACKET strlist(L) RBRACKET(E). {
    A = p_named(px, NODE_TYPESPEC, N, N); p_list(A, L);
    A->loc = p_span(px, N, E);
}

strlist(A) ::= STRING(S). { A = nl_empty(); nl_push(&A, p_lit(px, S)); }
strlist(A) ::= strlist(A) COMMA STRING(S). { nl_push(&A, p_lit(px, S)); }

attrs(A) ::= . { A = nl_empty(); }
attrs(A) ::= attrs(A) ID(N). { nl_push(&A, p_named(px, NODE_ATTR, N, N)); }
attrs(A) ::= attrs(A) ID(N) EQ vlit(V). {
    Node *n = p_named(px, NODE_ATTR, N, N); n->a = V;
    n->loc = loc_join(n->loc, V->loc);
    nl_push(&A, n);
}

sysitems(A) ::= . { A = nl_empty(); }
sysitems(A) ::= sysitems(A) SEMI.
sysitems(A) ::= sysitems(A) sysitem(B) SEMI. { nl_push(&A, B); }
sysitems(A) ::= sysitems(A) error SEMI. { yypParser->yyerrcnt = -1; }

sysitem(A) ::= KIND(K) ID(V). {
    A = p_node(px, NODE_PROP, K); A->op = K.code;
    ast_append(A, p_named(px, NODE_NAME, V, V));
    A->loc = p_span(px, K, V);
}
sysitem(A) ::= SETTING(K) ID(N) COLON typespec(T) attrs(L). {
    A = p_named(px, NODE_SETTINGDECL, K, N);
    A->a = T; p_list(A, L);
    A->loc = loc_join(A->loc, L.tail ? L.tail->loc : T->loc);
}
sysitem(A) ::= OBJECT(K) ID(N) LBRACE objitems(L) RBRACE(E). {
    A = p_named(px, NODE_OBJECT, K, N); p_list(A, L); p_extend(A, E, px);
}
sysitem(A) ::= PLAN(K) ID(N) LBRACE limits(L) RBRACE(E). {
    A = p_named(px, NODE_PLAN, K, N); p_list(A, L); p_extend(A, E, px);
}

objitems(A) ::= . { A = nl_empty(); }
objitems(A) ::= objitems(A) SEMI.
objitems(A) ::= objitems(A) objitem(B) SEMI. { nl_push(&A, B); }
objitems(A) ::= objitems(A) error SEMI. { yypParser->yyerrcnt = -1; }

objitem(A) ::= fielddecl(B). { A = B; }
objitem(A) ::= objprop(K) ID(V). {
    A = p_node(px, NODE_PROP, K); A->op = K.code;
    ast_append(A, p_named(px, NODE_NAME, V, V));
    A->loc = p_span(px, K, V);
}
objitem(A) ::= objprop(K) STRING(V). {
    A = p_node(px, NODE_PROP, K); A->op = K.code;
    Node *n = p_node(px, NODE_NAME, V); n->name = p_string(px, V);
    ast_append(A, n);
    A->loc = p_span(px, K, V);
}
objitem(A) ::= HAS(K) names(L). {
    A = p_node(px, NODE_PROP, K); A->op = K.code; p_list(A, L);
    A->loc = loc_join(A->loc, L.tail->loc);
}
objitem(A) ::= CONVERTS(K) TO ID(O) WHEN cond(C) BY fieldref(F). {
    A = p_named(px, NODE_CONVERTS, K, O); A->a = C; A->b = F;
    A->loc = loc_join(A->loc, F->loc);
}

%type objprop {Token}
objprop(A) ::= KEY(B). { A = B; }
objprop(A) ::= CREATED(B). { A = B; }
objprop(A) ::= MODIFIED(B). { A = B; }
objprop(A) ::= DELETED(B). { A = B; }
objprop(A) ::= LIST(B). { A = B; }

limits(A) ::= . { A = nl_empty(); }
limits(A) ::= limits(A) SEMI.
limits(A) ::= limits(A) limit(B) SEMI. { nl_push(&A, B); }
limits(A) ::= limits(A) error SEMI. { yypParser->yyerrcnt = -1; }

limit(A) ::= LIMIT(K) words(W) LE NUMBER(N) limit_msg(M). {
    A = p_node(px, NODE_LIMIT, K); p_list(A, W); A->num = p_lit(px, N)->num; A->b = M;
    A->loc = p_span(px, K, N);
}
limit(A) ::= LIMIT(K) words(W) ON ID(O) LE NUMBER(N) limit_msg(M). {
    A = p_node(px, NODE_LIMIT, K); p_list(A, W); A->num = p_lit(px, N)->num; A->b = M;
    A->str = p_text(px, O); A->sloc = p_loc(px, O);
    A->loc = p_span(px, K, N);
}
limit_msg(A) ::= . { A = NULL; }
limit_msg(A) ::= STRING(S). { A = p_lit(px, S); }

words(A) ::= ID(N). { A = nl_empty(); nl_push(&A, p_named(px, NODE_NAME, N, N)); }
words(A) ::= words(A) ID(N). { nl_push(&A, p_named(px, NODE_NAME, N, N)); }

/* ------------------------------------------------------------ sync items */

items(A) ::= . { A = nl_empty(); }
items(A) ::= items(A) SEMI.
items(A) ::= items(A) item(B) SEMI. { nl_push(&A, B); }
items(A) ::= items(A) error SEMI. { yypParser->yyerrcnt = -1; }

item(A) ::= MATCH(K) expr(L) EQ expr(R). {
    A = p_node(px, NODE_MATCH, K); A->a = L; A->b = R;
    A->loc = loc_join(A->loc, R->loc);
}
item(A) ::= SKIP(K) WHEN(W) cond(C). {
    A = p_node(px, NODE_SKIP, K); A->op = W.code; A->a = C;
    A->loc = loc_join(A->loc, C->loc);
}
item(A) ::= SKIP(K) UNLESS(W) cond(C). {
    A = p_node(px, NODE_SKIP, K); A->op = W.code; A->a = C;
    A->loc = loc_join(A->loc, C->loc);
}
item(A) ::= FROM(K) ID(S) SELECT selector(B). {
    A = p_named(px, NODE_SELECT, K, S); A->a = B;
    A->loc = loc_join(A->loc, B->loc);
}
item(A) ::= USE(K) DEFAULTS(D). {
    A = p_node(px, NODE_USE, K); A->loc = p_span(px, K, D);
}
item(A) ::= USE(K) name(N). {
    A = p_node(px, NODE_USE, K); A->a = N; A->loc = loc_join(A->loc, N->loc);
}
item(A) ::= MAP(K) expr(L) arrow(R) expr(Rt) conv(C) policies(P). {
    A = p_node(px, NODE_MAP, K);
    A->a = L; A->op = R.code; A->b = Rt; A->c = C;
    p_list(A, P);
    A->loc = loc_join(A->loc, P.tail ? P.tail->loc : C ? C->loc : Rt->loc);
    A->nloc = p_loc(px, R);
}
item(A) ::= ON(K) event(E) guard(G) COLON actions(L). {
    A = p_node(px, NODE_ON, K); A->a = E; A->b = G; p_list(A, L);
    A->loc = loc_join(A->loc, L.tail->loc);
}
item(A) ::= ON(K) event(E) guard(G) LBRACE action_items(L) RBRACE(R). {
    A = p_node(px, NODE_ON, K); A->a = E; A->b = G; p_list(A, L);
    p_extend(A, R, px);
}
item(A) ::= RESURRECT(K) IN ID(S) WHEN cond(C). {
    A = p_named(px, NODE_RESURRECT, K, S); A->a = C;
    A->loc = loc_join(A->loc, C->loc);
}
item(A) ::= PREFER(K) ID(S). { A = p_named(px, NODE_PREFER, K, S); A->loc = p_span(px, K, S); }
item(A) ::= PREFER(K) NEWEST(N). { A = p_node(px, NODE_PREFER, K); A->op = N.code; A->loc = p_span(px, K, N); }
item(A) ::= AFTER(K) names(L). {
    A = p_node(px, NODE_AFTER, K); p_list(A, L);
    A->loc = loc_join(A->loc, L.tail->loc);
}
item(A) ::= NEW(K) IN ID(S) BECOME ID(O). {
    A = p_named(px, NODE_NEW, K, S); A->a = p_named(px, NODE_NAME, O, O);
    A->loc = p_span(px, K, O);
}
item(A) ::= NEW(K) IN ID(S) BECOME ID(O) WITH assigns(L). {
    A = p_named(px, NODE_NEW, K, S); A->a = p_named(px, NODE_NAME, O, O);
    p_list(A, L);
    A->loc = loc_join(p_loc(px, K), L.tail->loc);
}
item(A) ::= NEW(K) IN ID(S) NEVER(N). {
    A = p_named(px, NODE_NEW, K, S); A->op = N.code; A->loc = p_span(px, K, N);
}
item(A) ::= ACCOUNT(K) endpoint(L) arrow(R) endpoint(Rt) LBRACE items(I) RBRACE(E). {
    A = p_node(px, NODE_ACCOUNT, K);
    A->a = L; A->op = R.code; A->b = Rt;
    p_list(A, I);
    p_extend(A, E, px);
}
item(A) ::= TRACK(K) STATUS(W) IN fieldref(F). {
    A = p_node(px, NODE_TRACK, K); A->op = W.code; A->a = F;
    A->loc = loc_join(A->loc, F->loc);
}
item(A) ::= TRACK(K) LAST(W) SYNC IN fieldref(F). {
    A = p_node(px, NODE_TRACK, K); A->op = W.code; A->a = F;
    A->loc = loc_join(A->loc, F->loc);
}
item(A) ::= PAUSED(K). { A = p_node(px, NODE_PAUSED, K); }
item(A) ::= schedule(B). { A = B; }
item(A) ::= initial(B). { A = B; }

selector(A) ::= NONE(K). { A = p_node(px, NODE_SELNONE, K); }
selector(A) ::= ALL(K). { A = p_node(px, NODE_SELALL, K); }
selector(A) ::= CREATED(K) SINCE since(D). {
    A = p_node(px, NODE_SELSINCE, K); A->op = K.code; A->a = D;
    if (D) A->loc = loc_join(A->loc, D->loc);
}
selector(A) ::= UPDATED(K) SINCE since(D). {
    A = p_node(px, NODE_SELSINCE, K); A->op = K.code; A->a = D;
    if (D) A->loc = loc_join(A->loc, D->loc);
}
selector(A) ::= CREATED(K) OR(O) UPDATED SINCE since(D). {
    A = p_node(px, NODE_SELSINCE, K); A->op = O.code; A->a = D;
    if (D) A->loc = loc_join(A->loc, D->loc);
}
selector(A) ::= FLAGGED(K) fieldref(F) EQEQ expr(V). {
    A = p_node(px, NODE_SELFLAGGED, K); A->a = F; A->b = V;
    A->loc = loc_join(A->loc, V->loc);
}
selector(A) ::= WHEN(K) cond(C). {
    A = p_node(px, NODE_SELWHEN, K); A->a = C;
    A->loc = loc_join(A->loc, C->loc);
}

since(A) ::= DATE(D). { A = p_lit(px, D); }
since(A) ::= DATETIME(D). { A = p_lit(px, D); }
since(A) ::= FIRST RUN. { A = NULL; }

%type conv {Node*}
conv(A) ::= . { A = NULL; }
conv(A) ::= AS(K) ID(N). { A = p_named(px, NODE_CONV, K, N); A->op = K.code; A->loc = p_span(px, K, N); }
conv(A) ::= AS(K) ID(N) LPAREN args(L) RPAREN(E). {
    A = p_named(px, NODE_CONV, K, N); A->op = K.code; p_list(A, L);
    A->loc = p_span(px, K, E);
}
conv(A) ::= AS(K) VALUES(V) LBRACE vitems(L) RBRACE(E). {
    A = p_node(px, NODE_CONV, K); A->op = V.code; p_list(A, L);
    A->loc = p_span(px, K, E);
}
conv(A) ::= VIA(K) ID(N). { A = p_named(px, NODE_CONV, K, N); A->op = K.code; A->loc = p_span(px, K, N); }

policies(A) ::= . { A = nl_empty(); }
policies(A) ::= policy_word(W). {
    A = nl_empty();
    Node *n = p_node(px, NODE_POLICY, W); n->op = W.code;
    nl_push(&A, n);
}
policies(A) ::= policy_list(B). { A = B; }
%type policy_list {NodeList}
policy_list(A) ::= policy(B). { A = nl_empty(); nl_push(&A, B); }
policy_list(A) ::= policy_list(A) COMMA policy(B). { nl_push(&A, B); }

policy(A) ::= ID(F) RARROW ID(T) COLON policy_word(W). {
    A = p_named(px, NODE_POLICY, F, F);
    A->str = p_text(px, T); A->sloc = p_loc(px, T);
    A->op = W.code;
    A->loc = p_span(px, F, W);
}
policy_word(A) ::= ALWAYS(B). { A = B; }
policy_word(A) ::= NEVER(B). { A = B; }
policy_word(A) ::= IF(B) BLANK(E). { A = B; A.len = E.off + E.len - B.off; }

event(A) ::= CREATE(K) IN ID(S). { A = p_named(px, NODE_EVENT, K, S); A->op = K.code; A->loc = p_span(px, K, S); }
event(A) ::= UPDATE(K) IN ID(S). { A = p_named(px, NODE_EVENT, K, S); A->op = K.code; A->loc = p_span(px, K, S); }
event(A) ::= DELETE(K) IN ID(S). { A = p_named(px, NODE_EVENT, K, S); A->op = K.code; A->loc = p_span(px, K, S); }
event(A) ::= CONVERT(K). { A = p_node(px, NODE_EVENT, K); A->op = K.code; }
event(A) ::= CONVERT(K) TO ID(O). { A = p_named(px, NODE_EVENT, K, O); A->op = K.code; A->loc = p_span(px, K, O); }
event(A) ::= REMOVE(K) FROM LIST(E). { A = p_node(px, NODE_EVENT, K); A->op = K.code; A->loc = p_span(px, K, E); }

%type guard {Node*}
guard(A) ::= . { A = NULL; }
guard(A) ::= WHEN cond(C). { A = C; }

actions(A) ::= action(B). { A = nl_empty(); nl_push(&A, B); }
actions(A) ::= actions(A) COMMA action(B). { nl_push(&A, B); }

action_items(A) ::= . { A = nl_empty(); }
action_items(A) ::= action_items(A) SEMI.
action_items(A) ::= action_items(A) action(B) SEMI. { nl_push(&A, B); }
action_items(A) ::= action_items(A) error SEMI. { yypParser->yyerrcnt = -1; }

action(A) ::= TAG(K) STRING(S). { A = p_node(px, NODE_ACTION, K); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }
action(A) ::= TAG(K) ID(D) STRING(S). { A = p_named(px, NODE_ACTION, K, D); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }
action(A) ::= UNTAG(K) STRING(S). { A = p_node(px, NODE_ACTION, K); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }
action(A) ::= UNTAG(K) ID(D) STRING(S). { A = p_named(px, NODE_ACTION, K, D); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }
action(A) ::= SET(K) fieldref(F) EQ expr(V). {
    A = p_node(px, NODE_ACTION, K); A->op = K.code; A->a = F; A->b = V;
    A->loc = loc_join(A->loc, V->loc);
}
action(A) ::= DELETE(K). { A = p_node(px, NODE_ACTION, K); A->op = K.code; }
action(A) ::= DELETE(K) ID(D). { A = p_named(px, NODE_ACTION, K, D); A->op = K.code; A->loc = p_span(px, K, D); }
action(A) ::= KEEP(K). { A = p_node(px, NODE_ACTION, K); A->op = K.code; }
action(A) ::= REMOVE(K) FROM LIST(E). { A = p_node(px, NODE_ACTION, K); A->op = K.code; A->loc = p_span(px, K, E); }
action(A) ::= REMOVE(K) FROM LIST STRING(S). { A = p_node(px, NODE_ACTION, K); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }
action(A) ::= ADD(K) TO LIST STRING(S). { A = p_node(px, NODE_ACTION, K); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }
action(A) ::= START(K) AUTOMATION STRING(S). { A = p_node(px, NODE_ACTION, K); A->op = K.code; A->str = p_string(px, S); A->sloc = p_loc(px, S); A->loc = p_span(px, K, S); }

assigns(A) ::= assign(B). { A = nl_empty(); nl_push(&A, B); }
assigns(A) ::= assigns(A) COMMA assign(B). { nl_push(&A, B); }
assign(A) ::= fieldref(F) EQ expr(V). {
    A = ast_new(px->arena, NODE_ASSIGN, loc_join(F->loc, V->loc)); A->a = F; A->b = V;
}

/* ------------------------------------------------------------ expressions */

/* A condition: an expression, or a block of conditions that must all (or
 * any) hold, one per line. */
cond(A) ::= expr(B). { A = B; }
cond(A) ::= ALL(K) LBRACE conds(L) RBRACE(E). { A = p_node(px, NODE_ALL, K); p_list(A, L); p_extend(A, E, px); }
cond(A) ::= ANY(K) LBRACE conds(L) RBRACE(E). { A = p_node(px, NODE_ANY, K); p_list(A, L); p_extend(A, E, px); }

conds(A) ::= . { A = nl_empty(); }
conds(A) ::= conds(A) SEMI.
conds(A) ::= conds(A) cond(B) SEMI. { nl_push(&A, B); }
conds(A) ::= conds(A) error SEMI. { yypParser->yyerrcnt = -1; }

expr(A) ::= expr(L) OR(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) AND(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= NOT(O) expr(B). { A = p_unary(px, O, B); }
expr(A) ::= expr(L) EQEQ(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) NE(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) LT(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) LE(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) GT(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) GE(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) CONTAINS(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) STARTS(O) WITH expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) ENDS(O) WITH expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) PLUS(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) MINUS(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) STAR(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= expr(L) SLASH(O) expr(R). { A = p_binary(px, O.code, L, R); }
expr(A) ::= MINUS(O) expr(B). [UMINUS] { A = p_unary(px, O, B); }
expr(A) ::= expr(L) IN LBRACKET elist(E) RBRACKET(R). {
    A = ast_new(px->arena, NODE_INLIST, loc_join(L->loc, p_loc(px, R)));
    A->a = L; p_list(A, E);
}
expr(A) ::= expr(L) NOT IN LBRACKET elist(E) RBRACKET(R). [IN] {
    A = ast_new(px->arena, NODE_INLIST, loc_join(L->loc, p_loc(px, R)));
    A->a = L; A->op = 1; p_list(A, E);
}
expr(A) ::= expr(L) IS BLANK(R). {
    A = ast_new(px->arena, NODE_ISBLANK, loc_join(L->loc, p_loc(px, R))); A->a = L;
}
expr(A) ::= expr(L) IS NOT BLANK(R). {
    A = ast_new(px->arena, NODE_ISBLANK, loc_join(L->loc, p_loc(px, R))); A->a = L; A->op = 1;
}
expr(A) ::= LPAREN(L) expr(B) RPAREN(R). { A = B; A->loc = p_span(px, L, R); }
expr(A) ::= literal(B). { A = B; }
expr(A) ::= fieldref(B). { A = B; }
expr(A) ::= TAGGED(K) STRING(S). {
    A = p_node(px, NODE_TAGGED, K); A->str = p_string(px, S); A->sloc = p_loc(px, S);
    A->loc = p_span(px, K, S);
}
expr(A) ::= TAGGED(K) ID(D) STRING(S). {
    A = p_named(px, NODE_TAGGED, K, D); A->str = p_string(px, S); A->sloc = p_loc(px, S);
    A->loc = p_span(px, K, S);
}
expr(A) ::= ID(N) LPAREN args(L) RPAREN(E). {
    A = p_named(px, NODE_CALL, N, N); p_list(A, L); A->loc = p_span(px, N, E);
}

literal(A) ::= STRING(T). { A = p_lit(px, T); }
literal(A) ::= NUMBER(T). { A = p_lit(px, T); }
literal(A) ::= TRUE(T). { A = p_lit(px, T); }
literal(A) ::= FALSE(T). { A = p_lit(px, T); }
literal(A) ::= ON(T). { A = p_lit(px, T); }
literal(A) ::= OFF(T). { A = p_lit(px, T); }
literal(A) ::= NULL(T). { A = p_lit(px, T); }
literal(A) ::= DATE(T). { A = p_lit(px, T); }
literal(A) ::= DATETIME(T). { A = p_lit(px, T); }
literal(A) ::= DURATION(T). { A = p_lit(px, T); }
literal(A) ::= TIME(T). { A = p_lit(px, T); }

fieldref(A) ::= ID(N). { A = p_fieldref(px, NULL, N, 0, N); }
fieldref(A) ::= ID(Q) DOT ID(N). { A = p_fieldref(px, &Q, N, 0, N); }
fieldref(A) ::= FIELD LPAREN STRING(N) RPAREN(E). { A = p_fieldref(px, NULL, N, 1, E); }
fieldref(A) ::= ID(Q) DOT FIELD LPAREN STRING(N) RPAREN(E). { A = p_fieldref(px, &Q, N, 1, E); }

elist(A) ::= . { A = nl_empty(); }
elist(A) ::= expr(B). { A = nl_empty(); nl_push(&A, B); }
elist(A) ::= elist(A) COMMA expr(B). { nl_push(&A, B); }

args(A) ::= . { A = nl_empty(); }
args(A) ::= arglist(B). { A = B; }
arglist(A) ::= arg(B). { A = nl_empty(); nl_push(&A, B); }
arglist(A) ::= arglist(A) COMMA arg(B). { nl_push(&A, B); }
arg(A) ::= expr(V). { A = ast_new(px->arena, NODE_ARG, V->loc); A->a = V; }
arg(A) ::= ID(N) EQ expr(V). {
    A = p_named(px, NODE_ARG, N, N); A->a = V; A->loc = loc_join(A->loc, V->loc);
}

%code {

/* The action the parser takes for terminal tok in state stateno, without
 * keyword fallback: "expected" lists keywords only where they are keywords. */
static YYACTIONTYPE action_for(YYCODETYPE tok, YYACTIONTYPE stateno) {
    if (stateno > YY_MAX_SHIFT) return stateno;
    int i = yy_shift_ofst[stateno] + tok;
    if (i < 0 || i >= (int)YY_NLOOKAHEAD || yy_lookahead[i] != tok) return yy_default[stateno];
    return yy_action[i];
}

/* Would the parser, as it stands, shift tok (after any reductions)? */
static int would_shift(yyParser *p, YYCODETYPE tok) {
    enum { CAP = YYSTACKDEPTH + 16 };
    YYACTIONTYPE st[CAP];
    int top = (int)(p->yytos - p->yystack);
    if (top < 0 || top >= CAP - 2) return 0;
    for (int i = 0; i <= top; i++) st[i] = p->yystack[i].stateno;
    for (int guard = 0; guard < 10000; guard++) {
        YYACTIONTYPE act = action_for(tok, st[top]);
        if (act <= YY_MAX_SHIFTREDUCE || act == YY_ACCEPT_ACTION) return 1;
        if (act < YY_MIN_REDUCE || act > YY_MAX_REDUCE) return 0;
        int rule = act - YY_MIN_REDUCE;
        int base = top + yyRuleInfoNRhs[rule];
        if (base < 0) return 0;
        YYACTIONTYPE g = yy_find_reduce_action(st[base], (YYCODETYPE)yyRuleInfoLhs[rule]);
        top = base + 1;
        if (top >= CAP) return 0;
        st[top] = g;
    }
    return 0;
}

static void report_syntax_error(yyParser *p, int major, Token tok, ParseCtx *px) {
    int expected[YYNTOKEN];
    int n = 0;
    for (int t = 1; t < YYNTOKEN; t++) {
#ifdef YYERRORSYMBOL
        if (t == YYERRORSYMBOL) continue;
#endif
        if (would_shift(p, (YYCODETYPE)t)) expected[n++] = t;
    }
    parse_report_syntax_error(px, tok, major, expected, n);
}

}
