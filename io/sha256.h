/* sha256.h - SHA-256 of a file or a buffer, as 64 lower-case hex digits.
 *
 * Provenance records the SHA-256 of the input file, so a volume can be traced
 * to the exact bytes it came from. The digest comes from OpenSSL's EVP
 * interface (libcrypto), which uses the CPU's SHA extensions where present;
 * files are read in 1 MiB blocks, so memory stays constant for any file size.
 */
#ifndef TL_SHA256_H
#define TL_SHA256_H

#include <stddef.h>

#include "status.h"

#define TL_SHA256_HEX_LEN 64

/* SHA-256 of the file at `path` into hex (64 digits and a NUL). Errors name the
 * file: missing, unreadable, a directory, a read error. */
tl_status tl_sha256_file(const char *path, char hex[TL_SHA256_HEX_LEN + 1], tl_error *err) TL_MUST_CHECK;

/* SHA-256 of `size` bytes at data (data may be NULL when size is 0). */
tl_status tl_sha256_buffer(const void *data, size_t size, char hex[TL_SHA256_HEX_LEN + 1],
                           tl_error *err) TL_MUST_CHECK;

#endif
