/* json.h - a small JSON reader and writer (RFC 8259), for the catalog (outbox files,
 * the parameters column, --json) and the stream protocol's headers (acquire/wire.h).
 *
 * The reader takes any JSON text into a small tree and refuses, with a message that
 * says what and at which byte: trailing garbage, raw control characters in strings,
 * bad escapes, lone surrogates, NUL characters (strings become C strings) and nesting
 * deeper than a fixed limit (no unbounded recursion). Text from a file or a socket can
 * be given to it as it is.
 */
#ifndef TL_JSON_H
#define TL_JSON_H

#include <stddef.h>

#include "status.h"

typedef enum { TL_JSON_NULL, TL_JSON_BOOL, TL_JSON_NUMBER, TL_JSON_STRING, TL_JSON_ARRAY, TL_JSON_OBJECT } tl_json_type;

typedef struct tl_json {
    tl_json_type type;
    int boolean;
    double number;
    char *text;              /* STRING: the decoded string; NUMBER: the number as written */
    size_t n;                /* ARRAY, OBJECT: number of items */
    char **keys;             /* OBJECT: keys[n] */
    struct tl_json *items;   /* ARRAY, OBJECT: items[n] */
} tl_json;

/* Parse text (NUL-terminated) into *out; on failure, a message saying where and what into
 * why[why_size]. Caller frees with tl_json_free. */
int tl_json_parse(const char *text, tl_json *out, char *why, size_t why_size);
void tl_json_free(tl_json *v);
const tl_json *tl_json_get(const tl_json *object, const char *key);

/* A growing text buffer; on allocation failure it sets failed and stops growing. */
typedef struct tl_jbuf {
    char *data;
    size_t len, cap;
    int failed;
} tl_jbuf;

void tl_jbuf_raw(tl_jbuf *b, const char *text);
void tl_jbuf_printf(tl_jbuf *b, const char *fmt, ...) TL_PRINTF(2, 3);
void tl_jbuf_string(tl_jbuf *b, const char *s);         /* quoted and escaped; NULL -> null */
void tl_jbuf_number(tl_jbuf *b, double v);              /* non-finite -> null */
void tl_jbuf_value(tl_jbuf *b, const tl_json *v);       /* a parsed value, compact */
/* Hand over the text (caller frees); NULL when an allocation failed. */
char *tl_jbuf_take(tl_jbuf *b);

#endif
