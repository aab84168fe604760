/* parse.h - turning one source file into a syntax tree.
 *
 * parse_file() runs the lexer and the lemon parser (grammar/parser.y) and
 * returns the tree; syntax errors go to the Diags with what was expected.
 * The builder functions below are what the grammar actions call.
 */
#ifndef TD_PARSE_H
#define TD_PARSE_H

#include "ast.h"
#include "lex.h"
#include "symtab.h"

typedef struct NodeList { Node *head, *tail; } NodeList;

typedef struct ParseCtx {
    Arena *arena;       /* where nodes go */
    Diags *diags;       /* where errors go */
    int file;           /* file index in diags */
    const char *src;    /* the file's text */
    Node *root;         /* the FILE node once parsed */
    int syntax_errors;  /* syntax errors reported */
    int too_deep;       /* the parser stack overflowed */
    int too_long;       /* an expression chain went past AST_MAX_DEPTH (reported) */
    Symtab words;       /* identifiers so far, each kept once (p_text) */
} ParseCtx;

/* Parses file `file` (already registered in d).  Returns the FILE node, or
 * NULL if the file could not be parsed at all; tl, unless NULL, receives
 * the tokens and comments (for the formatter: a parse alone keeps none). */
Node *parse_file(Diags *d, int file, Arena *a, TokenList *tl, int *nerrors);

/* Builders used by the grammar actions. */
Loc p_loc(ParseCtx *px, Token t);
Loc p_span(ParseCtx *px, Token from, Token to);
const char *p_text(ParseCtx *px, Token t);
const char *p_string(ParseCtx *px, Token t);   /* decoded string literal */
Node *p_node(ParseCtx *px, NodeKind k, Token at);
Node *p_named(ParseCtx *px, NodeKind k, Token at, Token name);
Node *p_lit(ParseCtx *px, Token t);
Node *p_binary(ParseCtx *px, int op, Node *a, Node *b);
Node *p_unary(ParseCtx *px, Token op, Node *a);
Node *p_fieldref(ParseCtx *px, const Token *qual, Token name, int quoted, Token end);
Node *p_endpoint(ParseCtx *px, Token src, Token obj, const Token *list, Token end);
void p_extend(Node *n, Token end, ParseCtx *px);   /* widen n->loc to end */
void p_list(Node *n, NodeList l);                    /* n->list = l */
NodeList nl_empty(void);
/* Called by the grammar with the terminals the parser would have accepted. */
void parse_report_syntax_error(ParseCtx *px, Token tok, int major, const int *expected, int n);
void nl_push(NodeList *l, Node *n);

#endif
