/* curve.h - CURVE encryption and client authentication for the stream sockets.
 *
 * ZeroMQ's CURVE mechanism (RFC 26, CurveZMQ: Curve25519 key exchange, then
 * every message encrypted and authenticated with XSalsa20-Poly1305) protects a
 * connection between `tomoline send` (or a detector) and `tomoline serve`: what
 * travels cannot be read or changed, and a client must prove it holds the secret
 * key whose public half the service allows. The service decides whom it admits
 * through a ZAP handler (RFC 27): libzmq asks it, over inproc://zeromq.zap.01 of
 * the socket's context, whether each client's public key may connect.
 * docs/security.md tells operators what this protects and how to deploy keys.
 *
 * Key files are small text files written by `tomoline keygen PREFIX`:
 *   PREFIX.public   `public-key = <40 Z85 characters>` (give it to the peers)
 *   PREFIX.secret   `public-key = ...` and `secret-key = ...`, mode 0600 (keep it)
 * with `#` comment lines. They are read strictly: a missing line, a key of the
 * wrong length, text that is not Z85 (ZeroMQ RFC 32), a secret file given where
 * a public one belongs, or a public key that is not the secret key's own is an
 * error naming the option and the file.
 *
 * Ownership: tl_curve_server_start returns a handle the caller destroys with
 * tl_curve_server_stop; the sockets stay the caller's.
 */
#ifndef TL_CURVE_H
#define TL_CURVE_H

#include <stddef.h>

#include "status.h"

#define TL_CURVE_KEY_BYTES 32 /* a Curve25519 key */
#define TL_CURVE_Z85_CHARS 40 /* the same key as Z85 text (5 characters per 4 bytes) */

/* 1 when this libzmq can do CURVE (it was built with libsodium or tweetnacl). */
int tl_curve_available(void);

typedef struct tl_curve_server tl_curve_server;

/* Make `sock` (not yet bound) a CURVE server with the key pair in
 * secret_key_file (--curve-secret-key) and start a ZAP handler (RFC 27,
 * inproc://zeromq.zap.01: a REP socket served by one thread) on ctx that admits
 * only clients whose public key is in a *.public file of allowed_dir
 * (--curve-allowed-keys; read once, here; an empty or missing directory is an
 * error). The handler is bound before this returns, so no client can connect
 * unchecked. Admissions are logged with tl_log_info, refusals with tl_log_warn
 * (client address and key) and counted. An admitted client's messages carry its
 * name (its .public file without the extension) as the ZAP user id:
 * zmq_msg_gets(msg, "User-Id"). One server per context (the ZAP
 * endpoint is the context's).
 *
 * Shutdown order: zmq_close(sock), then tl_curve_server_stop, then
 * zmq_ctx_term. (libzmq 4.3 admits CURVE clients without asking when no ZAP
 * handler is bound, so the handler must outlive the socket.) */
tl_status tl_curve_server_start(void *ctx, void *sock, const char *secret_key_file, const char *allowed_dir,
                                tl_curve_server **out, tl_error *err) TL_MUST_CHECK;

/* Clients refused so far: every refused handshake (a libzmq client that is
 * refused does not retry; one that connects again counts again). The log takes
 * one (address, key) at most once a minute and counts the rest. Thread-safe. */
size_t tl_curve_server_refused(const tl_curve_server *server);

/* Number of allowed client keys read from allowed_dir. */
size_t tl_curve_server_allowed(const tl_curve_server *server);

/* Stop the ZAP handler and join its thread; frees *server and sets it to NULL.
 * Call after closing the socket and before zmq_ctx_term. Accepts NULL. */
void tl_curve_server_stop(tl_curve_server **server);

/* Make `sock` a CURVE client of the server whose public key is in
 * server_public_file (--curve-server-key), with the key pair in
 * client_secret_file (--curve-client-key). Call before zmq_connect. */
tl_status tl_curve_client_setup(void *sock, const char *client_secret_file, const char *server_public_file,
                                tl_error *err) TL_MUST_CHECK;

/* Write a new key pair: PREFIX.secret (mode 0600: public and secret key) and
 * PREFIX.public (public key only). Refuses to replace existing files unless
 * overwrite; each file is written as NAME.partial and renamed when complete.
 * public_z85 gets the public key as Z85 text (40 characters and a NUL). */
tl_status tl_curve_keygen(const char *prefix, int overwrite, char public_z85[41], tl_error *err) TL_MUST_CHECK;

/* Read the public key of a key file (a .public file, or the public line of a
 * .secret one when allow_secret) as Z85 text; `option` names the option in
 * messages ("--curve-server-key"). */
tl_status tl_curve_read_public(const char *path, const char *option, int allow_secret, char public_z85[41],
                               tl_error *err) TL_MUST_CHECK;

#endif
