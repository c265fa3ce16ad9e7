/* sha256.c - SHA-256 through OpenSSL's EVP interface (see sha256.h).
 *
 * Owns nothing beyond the call: one digest context and one 1 MiB read buffer,
 * both freed before returning.
 */
#define _POSIX_C_SOURCE 200809L
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BLOCK = 1 << 20 };

static void to_hex(const unsigned char *md, unsigned len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * len] = '\0';
}

/* Start a SHA-256 context; NULL when OpenSSL cannot (out of memory, or a
 * FIPS configuration without SHA-256, which we cannot fix here). */
static EVP_MD_CTX *begin(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

static int finish(EVP_MD_CTX *ctx, char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    int ok = EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == TL_SHA256_HEX_LEN / 2;
    if (ok)
        to_hex(md, len, hex);
    return ok;
}

tl_status tl_sha256_buffer(const void *data, size_t size, char hex[TL_SHA256_HEX_LEN + 1], tl_error *err)
{
    if (!hex || (!data && size > 0))
        return tl_error_set(err, TL_ERR_INVALID, "tl_sha256_buffer: no buffer given");
    hex[0] = '\0';
    EVP_MD_CTX *ctx = begin();
    if (!ctx)
        return tl_error_set(err, TL_ERR_INTERNAL, "cannot start a SHA-256 digest (OpenSSL)");
    int ok = (size == 0 || EVP_DigestUpdate(ctx, data, size) == 1) && finish(ctx, hex);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return tl_error_set(err, TL_ERR_INTERNAL, "cannot compute a SHA-256 digest (OpenSSL)");
    return TL_OK;
}

tl_status tl_sha256_file(const char *path, char hex[TL_SHA256_HEX_LEN + 1], tl_error *err)
{
    if (!hex)
        return tl_error_set(err, TL_ERR_INVALID, "tl_sha256_file: no output buffer");
    hex[0] = '\0';
    if (!path || !*path)
        return tl_error_set(err, TL_ERR_INVALID, "no file name given for the SHA-256 checksum");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return tl_error_set(err, TL_ERR_IO, "cannot open '%s' for its SHA-256 checksum: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(fd);
        return tl_error_set(err, TL_ERR_INVALID, "'%s' is a directory; a SHA-256 checksum needs a file", path);
    }
    tl_status st = TL_OK;
    unsigned char *buf = malloc(BLOCK);
    EVP_MD_CTX *ctx = begin();
    if (!buf) {
        st = tl_error_set(err, TL_ERR_NOMEM, "'%s': out of memory for the SHA-256 read buffer", path);
        goto done;
    }
    if (!ctx) {
        st = tl_error_set(err, TL_ERR_INTERNAL, "'%s': cannot start a SHA-256 digest (OpenSSL)", path);
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf, BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = tl_error_set(err, TL_ERR_IO, "cannot read '%s' for its SHA-256 checksum: %s", path,
                              strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            st = tl_error_set(err, TL_ERR_INTERNAL, "'%s': SHA-256 digest failed (OpenSSL)", path);
            goto done;
        }
    }
    if (!finish(ctx, hex))
        st = tl_error_set(err, TL_ERR_INTERNAL, "'%s': SHA-256 digest failed (OpenSSL)", path);
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    return st;
}
