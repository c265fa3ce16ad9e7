/* wire.h - the stream protocol, version 1: encoding and decoding of its headers.
 *
 * docs/protocol.md is the specification (every field, type, unit, what is
 * required, and what the receiver does with each error); ../shared/DESIGN.md
 * fixes the outline: ZeroMQ multipart messages, part 0 a UTF-8 JSON header,
 * part 1 (frames only) the raw little-endian pixels; `type` is scan-start,
 * frame, scan-end or abort; every header carries "protocol": 1; unknown fields
 * are ignored.
 *
 * These are pure functions: no sockets, no global state, no allocation beyond
 * the decoded message (which owns the angle list and the experiment text). A
 * header from a socket can be given to tl_wire_decode() as it came, whatever
 * its bytes: it is bounded by the limits, never trusted, and every refusal says
 * which message, which field, what was found and what is allowed.
 */
#ifndef TL_WIRE_H
#define TL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define TL_WIRE_PROTOCOL 1
#define TL_WIRE_SCAN_ID_MAX 128 /* bytes of a scan id, with the NUL */
#define TL_WIRE_TEXT_MAX 256    /* bytes of sample, name and abort reason, with the NUL */
#define TL_WIRE_MAX_COUNT 1000000 /* projections, flats or darks of one scan, at most (8 MB of angles) */

typedef enum { TL_WIRE_SCAN_START = 0, TL_WIRE_FRAME, TL_WIRE_SCAN_END, TL_WIRE_ABORT } tl_wire_type;
typedef enum { TL_WIRE_UINT16 = 0, TL_WIRE_UINT32, TL_WIRE_FLOAT32 } tl_wire_dtype;

/* "scan-start", ...; "uint16", ... */
const char *tl_wire_type_name(tl_wire_type type);
const char *tl_wire_dtype_name(tl_wire_dtype dtype);
size_t tl_wire_dtype_size(tl_wire_dtype dtype);

/* What a receiver accepts. Decoding refuses anything beyond these, before
 * allocating for it. */
typedef struct tl_wire_limits {
    size_t max_header_bytes; /* the JSON header (angles of a long scan make scan-start large) */
    size_t max_frame_bytes;  /* pixels of one frame: rows x cols x dtype size */
    double max_scan_bytes;   /* pixels of a whole scan: frames x frame bytes */
} tl_wire_limits;

/* 16 MiB headers, 256 MiB frames, 64 GiB scans. */
void tl_wire_limits_default(tl_wire_limits *limits);

typedef struct tl_wire_scan_start {
    size_t rows, cols;      /* detector rows and columns of every frame */
    size_t row_offset;      /* detector row of row 0 (a slab of a larger detector), default 0 */
    tl_wire_dtype dtype;
    size_t n_proj, n_flat, n_dark;
    double *angles;         /* [n_proj] degrees, owned; from "angles" or start_angle + i * angle_step */
    char name[TL_WIRE_TEXT_MAX];   /* output name (default: the scan id), as sent; sanitise before use */
    char sample[TL_WIRE_TEXT_MAX]; /* sample name, or "" */
    char *experiment;       /* the "experiment" object as compact JSON, owned, or NULL */
} tl_wire_scan_start;

typedef struct tl_wire_frame {
    uint64_t index;         /* 0-based over the frames of the scan, in the order they are sent */
    int image_key;          /* 0 projection, 1 flat, 2 dark (NXtomo's image_key) */
    double angle;           /* degrees; NAN when absent (flats and darks need none) */
    size_t rows, cols;
    tl_wire_dtype dtype;
} tl_wire_frame;

typedef struct tl_wire_msg {
    tl_wire_type type;
    char scan[TL_WIRE_SCAN_ID_MAX];  /* the scan id every message carries */
    tl_wire_scan_start start;        /* TL_WIRE_SCAN_START */
    tl_wire_frame frame;             /* TL_WIRE_FRAME */
    uint64_t frames_sent;            /* TL_WIRE_SCAN_END */
    char reason[TL_WIRE_TEXT_MAX];   /* TL_WIRE_ABORT (may be "") */
} tl_wire_msg;

/* Decode header[0..size) (not NUL-terminated; any bytes) into *out, checked
 * against limits. TL_ERR_DATA with the reason otherwise; *out is then empty
 * and need not be freed (freeing it is harmless). Caller frees a decoded
 * message with tl_wire_msg_free. */
tl_status tl_wire_decode(const void *header, size_t size, const tl_wire_limits *limits, tl_wire_msg *out,
                         tl_error *err) TL_MUST_CHECK;

/* The parts that must follow a decoded header: a frame has exactly one more
 * part of rows x cols x dtype size bytes; the other messages have none.
 * n_parts counts every part of the message (the header included). */
tl_status tl_wire_check_parts(const tl_wire_msg *msg, size_t n_parts, size_t payload_bytes,
                              tl_error *err) TL_MUST_CHECK;

/* The JSON header of msg (caller frees); NULL when out of memory. Angles of
 * scan-start are written as a list. */
char *tl_wire_encode(const tl_wire_msg *msg);

void tl_wire_msg_free(tl_wire_msg *msg);

/* A file name from a sent name: letters, digits, '-', '_' and '.' kept, any
 * other byte (path separators, spaces, controls) becomes '_', leading dots
 * become '_' (no hidden files, no ".."), empty becomes "scan"; at most
 * size - 1 bytes. */
void tl_wire_sanitize_name(const char *name, char *out, size_t size);

#endif
