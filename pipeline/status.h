/* status.h - one table of status codes, and the error record that carries detail.
 *
 * Every fallible function in tomoline returns a tl_status and fills an optional
 * tl_error with a message that names the file, dataset, frame or option involved.
 * The table below (an X-macro, as libuv and curl do) generates the enum, the
 * symbolic names and the short descriptions, so they can never drift apart.
 *
 * Nothing a user or a detector sends may reach assert() or abort(): such input
 * is reported through a status and a message.
 */
#ifndef TL_STATUS_H
#define TL_STATUS_H

#include <stddef.h>

#if defined(__GNUC__)
#define TL_MUST_CHECK __attribute__((warn_unused_result))
#define TL_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define TL_MUST_CHECK
#define TL_PRINTF(fmt_idx, arg_idx)
#endif

/* X(enum name, short description) */
#define TL_STATUS_TABLE(X)                                              \
    X(TL_OK, "success")                                                 \
    X(TL_ERR_INVALID, "invalid argument")                               \
    X(TL_ERR_NOMEM, "out of memory")                                    \
    X(TL_ERR_IO, "input/output error")                                  \
    X(TL_ERR_FORMAT, "unrecognised or malformed file")                  \
    X(TL_ERR_DATA, "bad data")                                          \
    X(TL_ERR_UNSUPPORTED, "not supported by this build")                \
    X(TL_ERR_EXISTS, "output already exists")                           \
    X(TL_ERR_INTERNAL, "internal error")

typedef enum {
#define TL_X_ENUM(name, text) name,
    TL_STATUS_TABLE(TL_X_ENUM)
#undef TL_X_ENUM
    TL_STATUS_COUNT
} tl_status;

#define TL_ERROR_MSG_MAX 1024

/* Detail for a failed call. Callers may pass NULL where they do not want it. */
typedef struct tl_error {
    tl_status status;
    char message[TL_ERROR_MSG_MAX];
} tl_error;

/* Short description of a status ("bad data"); never NULL. */
const char *tl_strerror(tl_status status);
/* Symbolic name of a status ("TL_ERR_DATA"); never NULL. */
const char *tl_status_name(tl_status status);

/* Record status and a printf-style message in err (if not NULL); returns status,
 * so callers can write `return tl_error_set(err, TL_ERR_IO, "...")`. */
tl_status tl_error_set(tl_error *err, tl_status status, const char *fmt, ...) TL_PRINTF(3, 4);

/* Prefix the message already in err with more context ("reading slab 3: ..."). */
void tl_error_prefix(tl_error *err, const char *fmt, ...) TL_PRINTF(2, 3);

/* Reset err to TL_OK with an empty message. Accepts NULL. */
void tl_error_clear(tl_error *err);

#endif
