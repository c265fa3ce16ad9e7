/* curve.c - CURVE key files, the client setup, and the ZAP handler of the service.
 *
 * Design. CurveZMQ (RFC 26) does the cryptography inside libzmq; what is ours is
 * (1) the key files: text, strict, checked before any socket sees a key, and
 * (2) the decision whom to admit. libzmq makes that decision by asking a "ZAP
 * handler" (ZeroMQ Authentication Protocol, RFC 27): during each CURVE handshake
 * the server socket sends a request (version, request id, domain, client address,
 * routing id, mechanism, the client's 32-byte public key) to whatever REP socket
 * is bound at inproc://zeromq.zap.01 in its context, and waits for the reply
 * (status 200 admits, 400 refuses). Our handler is that REP socket, served by one
 * thread that answers from a table of allowed keys read once at start, and a PAIR
 * socket on which tl_curve_server_stop tells the thread to leave. The thread
 * touches only its two sockets, the read-only key table, the refusal log below
 * and two atomic counters, so nothing else needs a lock.
 *
 * Why the order matters. libzmq 4.3 treats a missing ZAP handler as "admit
 * everyone" (the "Stonehouse" pattern: encryption without authentication). So
 * the handler is bound before tl_curve_server_start returns (before the caller
 * can bind the socket), ZMQ_ZAP_ENFORCE_DOMAIN is set where the library accepts
 * it (a draft option, present in Debian's libzmq5: with it a missing handler
 * refuses), and the caller closes the socket before stopping the handler.
 *
 * Every refused handshake is counted. A libzmq client that is refused does
 * not retry (the refusal is a protocol error, not a lost connection), but a
 * detector restarted in a loop, or another ZMTP implementation, may come back
 * at once; so the log takes each (address, key) at most once a minute and says
 * how many refusals it left out, remembering the last TL_CURVE_RECENT refused
 * pairs: one misconfigured client cannot flood the log.
 */
#include "curve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

#define TL_CURVE_ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
#define TL_CURVE_ZAP_DOMAIN "tomoline"
#define TL_CURVE_ZAP_ENFORCE_DOMAIN 93 /* ZMQ_ZAP_ENFORCE_DOMAIN, a draft option of libzmq 4.3 */
#define TL_CURVE_FILE_MAX 65536        /* bytes: a key file is about 300 */
#define TL_CURVE_LINE_MAX 512
#define TL_CURVE_NAME_MAX 128 /* a client's name (its .public file's stem), the ZAP user id */
#define TL_CURVE_RECENT 256   /* refused (address, key) pairs remembered, for the log */
#define TL_CURVE_LOG_INTERVAL 60.0 /* seconds between log lines about one refused (address, key) */
#define TL_CURVE_ZAP_FRAMES 8 /* a CURVE request has 7 */
#define TL_CURVE_ZAP_FRAME_MAX 256

static const char z85_alphabet_help[] = "0-9 a-z A-Z . - : + = ^ ! / * ? & < > ( ) [ ] { } @ % $ #";

int tl_curve_available(void) { return zmq_has("curve") != 0; }

static tl_status check_available(const char *option, const char *value, tl_error *err)
{
    if (tl_curve_available())
        return TL_OK;
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    return tl_error_set(err, TL_ERR_UNSUPPORTED,
                        "%s '%s': CURVE is not available: this libzmq (%d.%d.%d) was built without it (it needs "
                        "libsodium or tweetnacl; Debian's libzmq5 has it)",
                        option, value, major, minor, patch);
}

/* ---- key files --------------------------------------------------------------------------- */

typedef struct key_file {
    int has_public, has_secret;
    uint8_t public_key[TL_CURVE_KEY_BYTES];
    uint8_t secret_key[TL_CURVE_KEY_BYTES];
    mode_t mode;
} key_file;

static void key_file_wipe(key_file *k) { explicit_bzero(k, sizeof *k); }

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Parse one key file: '#' comments, blank lines, `public-key = Z85` and
 * `secret-key = Z85`, each at most once. Says nothing about which lines are
 * needed (the callers do). Never copies key text into a message. */
static tl_status read_key_file(const char *path, const char *option, key_file *k, tl_error *err)
{
    memset(k, 0, sizeof *k);
    FILE *f = fopen(path, "r");
    if (!f)
        return tl_error_set(err, TL_ERR_INVALID,
                            "%s '%s': cannot read: %s (allowed: a key file written by 'tomoline keygen')", option,
                            path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > TL_CURVE_FILE_MAX) {
        fclose(f);
        return tl_error_set(err, TL_ERR_INVALID,
                            "%s '%s': not a key file (allowed: a regular file of at most %d bytes, written by "
                            "'tomoline keygen')",
                            option, path, TL_CURVE_FILE_MAX);
    }
    k->mode = sb.st_mode;
    char line[TL_CURVE_LINE_MAX];
    tl_status st = TL_OK;
    for (int number = 1; fgets(line, sizeof line, f); number++) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            st = tl_error_set(err, TL_ERR_INVALID, "%s '%s' line %d: longer than %d characters (allowed: '# comment', "
                                                   "'public-key = KEY', 'secret-key = KEY')",
                              option, path, number, TL_CURVE_LINE_MAX - 2);
            break;
        }
        char *text = trim(line);
        if (!*text || *text == '#')
            continue;
        char *eq = strchr(text, '=');
        if (eq)
            *eq = '\0';
        char *name = trim(text);
        int is_public = eq && strcmp(name, "public-key") == 0, is_secret = eq && strcmp(name, "secret-key") == 0;
        if (!is_public && !is_secret) {
            st = tl_error_set(err, TL_ERR_INVALID,
                              "%s '%s' line %d: not a key line (allowed: '# comment', 'public-key = KEY', "
                              "'secret-key = KEY')",
                              option, path, number);
            break;
        }
        if (is_public ? k->has_public : k->has_secret) {
            st = tl_error_set(err, TL_ERR_INVALID, "%s '%s' line %d: a second %s line (allowed: one)", option, path,
                              number, name);
            break;
        }
        char *value = trim(eq + 1);
        size_t value_len = strlen(value);
        if (value_len != TL_CURVE_Z85_CHARS) {
            st = tl_error_set(err, TL_ERR_INVALID,
                              "%s '%s' line %d: %s has %zu characters (allowed: %d Z85 characters, as 'tomoline "
                              "keygen' writes)",
                              option, path, number, name, value_len, TL_CURVE_Z85_CHARS);
            break;
        }
        if (!zmq_z85_decode(is_public ? k->public_key : k->secret_key, value)) {
            st = tl_error_set(err, TL_ERR_INVALID,
                              "%s '%s' line %d: %s is not Z85 text (allowed: %d characters of %s)", option, path,
                              number, name, TL_CURVE_Z85_CHARS, z85_alphabet_help);
            break;
        }
        if (is_public)
            k->has_public = 1;
        else
            k->has_secret = 1;
    }
    explicit_bzero(line, sizeof line);
    if (st == TL_OK && ferror(f))
        st = tl_error_set(err, TL_ERR_IO, "%s '%s': read error: %s", option, path, strerror(errno));
    fclose(f);
    if (st != TL_OK)
        key_file_wipe(k);
    return st;
}

/* A .secret file: both lines, the public key the secret key's own; a warning
 * when others may read it. */
static tl_status read_secret_file(const char *path, const char *option, key_file *k, tl_error *err)
{
    tl_status st = read_key_file(path, option, k, err);
    if (st != TL_OK)
        return st;
    if (!k->has_secret || !k->has_public) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "%s '%s': no '%s = ...' line (allowed: a .secret file written by 'tomoline keygen', "
                          "which has both public-key and secret-key)",
                          option, path, k->has_secret ? "public-key" : "secret-key");
        goto fail;
    }
    char secret_z85[TL_CURVE_Z85_CHARS + 1], public_z85[TL_CURVE_Z85_CHARS + 1], derived_z85[TL_CURVE_Z85_CHARS + 1];
    zmq_z85_encode(secret_z85, k->secret_key, TL_CURVE_KEY_BYTES);
    zmq_z85_encode(public_z85, k->public_key, TL_CURVE_KEY_BYTES);
    int derived = zmq_curve_public(derived_z85, secret_z85) == 0;
    explicit_bzero(secret_z85, sizeof secret_z85);
    if (!derived) {
        st = check_available(option, path, err);
        if (st == TL_OK)
            st = tl_error_set(err, TL_ERR_INTERNAL, "%s '%s': cannot derive the public key: %s", option, path,
                              zmq_strerror(errno));
        goto fail;
    }
    if (strcmp(derived_z85, public_z85) != 0) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "%s '%s': its public-key is not the public half of its secret-key (allowed: the pair "
                          "'tomoline keygen' wrote; write a new one with it)",
                          option, path);
        goto fail;
    }
    if (k->mode & (S_IRWXG | S_IRWXO))
        tl_log_warn("%s '%s': the secret key is readable by group or others (mode %04o): whoever reads it can pose "
                    "as this peer (chmod 600 '%s')",
                    option, path, (unsigned)(k->mode & 07777), path);
    return TL_OK;
fail:
    key_file_wipe(k);
    return st;
}

/* A .public file: the public line only (a secret key does not belong where
 * public keys are handed around). */
static tl_status read_public_file(const char *path, const char *option, key_file *k, tl_error *err)
{
    tl_status st = read_key_file(path, option, k, err);
    if (st != TL_OK)
        return st;
    if (k->has_secret) {
        key_file_wipe(k);
        return tl_error_set(err, TL_ERR_INVALID,
                            "%s '%s': holds a secret key (allowed: a .public file; the .secret file stays with its "
                            "owner)",
                            option, path);
    }
    if (!k->has_public)
        return tl_error_set(err, TL_ERR_INVALID,
                            "%s '%s': no 'public-key = ...' line (allowed: a .public file written by 'tomoline "
                            "keygen')",
                            option, path);
    return TL_OK;
}

tl_status tl_curve_read_public(const char *path, const char *option, int allow_secret, char public_z85[41],
                               tl_error *err)
{
    key_file k;
    tl_status st = allow_secret ? read_secret_file(path, option, &k, err) : read_public_file(path, option, &k, err);
    if (st == TL_OK)
        zmq_z85_encode(public_z85, k.public_key, TL_CURVE_KEY_BYTES);
    key_file_wipe(&k);
    return st;
}

/* ---- client ------------------------------------------------------------------------------ */

tl_status tl_curve_client_setup(void *sock, const char *client_secret_file, const char *server_public_file,
                                tl_error *err)
{
    if (!client_secret_file || !*client_secret_file || !server_public_file || !*server_public_file)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--curve-server-key and --curve-client-key go together (allowed: both, for CURVE, or "
                            "neither)");
    tl_status st = check_available("--curve-client-key", client_secret_file, err);
    if (st != TL_OK)
        return st;
    key_file client, server;
    if ((st = read_secret_file(client_secret_file, "--curve-client-key", &client, err)) != TL_OK)
        return st;
    if ((st = read_public_file(server_public_file, "--curve-server-key", &server, err)) != TL_OK) {
        key_file_wipe(&client);
        return st;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server.public_key, TL_CURVE_KEY_BYTES) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, client.public_key, TL_CURVE_KEY_BYTES) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, client.secret_key, TL_CURVE_KEY_BYTES) != 0)
        st = tl_error_set(err, TL_ERR_INTERNAL, "--curve-client-key '%s': cannot set the CURVE keys: %s",
                          client_secret_file, zmq_strerror(errno));
    key_file_wipe(&client);
    key_file_wipe(&server);
    return st;
}

/* ---- server: allowed keys ---------------------------------------------------------------- */

typedef struct allowed_key {
    uint8_t key[TL_CURVE_KEY_BYTES];
    char name[TL_CURVE_NAME_MAX]; /* the file's stem: "alice" for alice.public */
} allowed_key;

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_public_name(const char *name)
{
    size_t len = strlen(name), suffix = strlen(".public");
    return name[0] != '.' && len > suffix && strcmp(name + len - suffix, ".public") == 0;
}

/* Every *.public file of dir (hidden files aside, as a shell glob), in name
 * order; caller frees *out. */
static tl_status read_allowed_dir(const char *dir, allowed_key **out, size_t *n_out, tl_error *err)
{
    static const char option[] = "--curve-allowed-keys";
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return tl_error_set(err, TL_ERR_INVALID,
                            "%s '%s': cannot read the directory: %s (allowed: a directory holding the .public files "
                            "of the clients allowed to send, written by 'tomoline keygen')",
                            option, dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, capacity = 0;
    tl_status st = TL_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_public_name(e->d_name))
            continue;
        if (n == capacity) {
            size_t grown = capacity ? 2 * capacity : 16;
            char **bigger = realloc(names, grown * sizeof *names);
            if (!bigger) {
                st = tl_error_set(err, TL_ERR_NOMEM, "%s '%s': out of memory listing the keys", option, dir);
                goto done;
            }
            names = bigger;
            capacity = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            st = tl_error_set(err, TL_ERR_NOMEM, "%s '%s': out of memory listing the keys", option, dir);
            goto done;
        }
        n++;
    }
    if (n == 0) {
        st = tl_error_set(err, TL_ERR_INVALID,
                          "%s '%s': no *.public file (allowed: a directory holding the .public files of the clients "
                          "allowed to send; 'tomoline keygen NAME' writes NAME.public)",
                          option, dir);
        goto done;
    }
    qsort(names, n, sizeof *names, compare_names);
    allowed_key *keys = calloc(n, sizeof *keys);
    if (!keys) {
        st = tl_error_set(err, TL_ERR_NOMEM, "%s '%s': out of memory for %zu keys", option, dir, n);
        goto done;
    }
    for (size_t i = 0; i < n && st == TL_OK; i++) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
            st = tl_error_set(err, TL_ERR_INVALID, "%s '%s': the path of '%s' is too long (allowed: %d bytes)",
                              option, dir, names[i], PATH_MAX - 1);
            break;
        }
        key_file k;
        if ((st = read_public_file(path, option, &k, err)) != TL_OK)
            break;
        memcpy(keys[i].key, k.public_key, TL_CURVE_KEY_BYTES);
        snprintf(keys[i].name, sizeof keys[i].name, "%.*s", (int)(strlen(names[i]) - strlen(".public")), names[i]);
    }
    if (st == TL_OK) {
        *out = keys;
        *n_out = n;
    } else {
        free(keys);
    }
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return st;
}

/* ---- server: the ZAP handler ------------------------------------------------------------- */

typedef struct refused_client {
    uint8_t key[TL_CURVE_KEY_BYTES];
    char address[TL_CURVE_ZAP_FRAME_MAX];
    double logged_at; /* tl_now() of its last log line */
    size_t unlogged;  /* refusals since then */
} refused_client;

struct tl_curve_server {
    void *zap;     /* REP at inproc://zeromq.zap.01; the thread's */
    void *stop_rx; /* PAIR, the thread's: a message here ends the thread */
    void *stop_tx; /* PAIR, the caller's */
    pthread_t thread;
    int thread_started;
    allowed_key *allowed; /* read-only once the thread runs */
    size_t n_allowed;
    atomic_size_t refused;
    refused_client recent[TL_CURVE_RECENT]; /* the thread's: a ring of the last refusals */
    size_t n_recent, next_recent;
};

typedef struct zap_request {
    size_t n_frames;
    size_t size[TL_CURVE_ZAP_FRAMES];
    char frame[TL_CURVE_ZAP_FRAMES][TL_CURVE_ZAP_FRAME_MAX]; /* NUL-terminated copies (truncated) */
} zap_request;

/* All parts of one request; the first TL_CURVE_ZAP_FRAMES are kept. */
static int zap_receive(void *zap, zap_request *r)
{
    memset(r, 0, sizeof *r);
    int more;
    do {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, zap, 0) < 0) {
            zmq_msg_close(&part);
            return 0;
        }
        if (r->n_frames < TL_CURVE_ZAP_FRAMES) {
            size_t size = zmq_msg_size(&part), kept = size < TL_CURVE_ZAP_FRAME_MAX ? size : TL_CURVE_ZAP_FRAME_MAX - 1;
            memcpy(r->frame[r->n_frames], zmq_msg_data(&part), kept);
            r->frame[r->n_frames][kept] = '\0';
            r->size[r->n_frames] = size;
        }
        r->n_frames++;
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    } while (more);
    return 1;
}

static void zap_reply(void *zap, const zap_request *r, const char *code, const char *text, const char *user)
{
    const char *parts[6] = {"1.0", r->frame[1], code, text, user, ""};
    size_t sizes[6] = {3, r->n_frames > 1 ? (r->size[1] < TL_CURVE_ZAP_FRAME_MAX ? r->size[1] : 0) : 0,
                       strlen(code), strlen(text), strlen(user), 0};
    for (int i = 0; i < 6; i++)
        if (zmq_send(zap, parts[i], sizes[i], i < 5 ? ZMQ_SNDMORE : 0) < 0)
            return; /* only when the context is going away */
}

/* Count a refusal; log it unless this (address, key) was logged less than
 * TL_CURVE_LOG_INTERVAL ago. */
static void note_refusal(tl_curve_server *s, const char *address, const uint8_t *key, const char *why)
{
    size_t total = atomic_fetch_add(&s->refused, 1) + 1;
    double now = tl_now();
    refused_client *slot = NULL;
    for (size_t i = 0; i < s->n_recent && !slot; i++)
        if (memcmp(s->recent[i].key, key, TL_CURVE_KEY_BYTES) == 0 && strcmp(s->recent[i].address, address) == 0)
            slot = &s->recent[i];
    if (slot && now - slot->logged_at < TL_CURVE_LOG_INTERVAL) {
        slot->unlogged++;
        return;
    }
    size_t unlogged = slot ? slot->unlogged : 0;
    if (!slot) {
        slot = &s->recent[s->next_recent];
        memcpy(slot->key, key, TL_CURVE_KEY_BYTES);
        snprintf(slot->address, sizeof slot->address, "%s", address);
        s->next_recent = (s->next_recent + 1) % TL_CURVE_RECENT;
        if (s->n_recent < TL_CURVE_RECENT)
            s->n_recent++;
    }
    slot->logged_at = now;
    slot->unlogged = 0;
    char z85[TL_CURVE_Z85_CHARS + 1];
    zmq_z85_encode(z85, key, TL_CURVE_KEY_BYTES);
    char repeats[96] = "";
    if (unlogged)
        snprintf(repeats, sizeof repeats, "; %zu more refusals of it since its last line", unlogged);
    tl_log_warn("serve: CURVE: refused client %s with key %s: %s (refused so far: %zu%s)",
                address[0] ? address : "(unknown address)", z85, why, total, repeats);
}

static void zap_handle(tl_curve_server *s)
{
    zap_request r;
    if (!zap_receive(s->zap, &r))
        return;
    /* RFC 27: version, request id, domain, address, routing id, mechanism, credentials */
    if (r.n_frames != 7 || strcmp(r.frame[0], "1.0") != 0 || r.size[1] >= TL_CURVE_ZAP_FRAME_MAX) {
        tl_log_warn("serve: CURVE: malformed ZAP request (%zu parts), refused", r.n_frames);
        zap_reply(s->zap, &r, "500", "malformed ZAP request", "");
        return;
    }
    const char *address = r.frame[3];
    if (strcmp(r.frame[5], "CURVE") != 0 || r.size[6] != TL_CURVE_KEY_BYTES) {
        /* cannot happen on a CURVE server socket; refused all the same */
        static const uint8_t no_key[TL_CURVE_KEY_BYTES];
        note_refusal(s, address, no_key, "not a CURVE handshake");
        zap_reply(s->zap, &r, "400", "CURVE required", "");
        return;
    }
    const uint8_t *key = (const uint8_t *)r.frame[6];
    for (size_t i = 0; i < s->n_allowed; i++)
        if (memcmp(s->allowed[i].key, key, TL_CURVE_KEY_BYTES) == 0) {
            tl_log_info("serve: CURVE: admitted client %s with the key of '%s.public'", address, s->allowed[i].name);
            zap_reply(s->zap, &r, "200", "OK", s->allowed[i].name);
            return;
        }
    note_refusal(s, address, key, "not in --curve-allowed-keys");
    zap_reply(s->zap, &r, "400", "client key not allowed", "");
}

static void *zap_thread(void *arg)
{
    tl_curve_server *s = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = s->zap, .events = ZMQ_POLLIN},
                                   {.socket = s->stop_rx, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ETERM)
                tl_log_warn("serve: CURVE: the ZAP handler stopped: %s", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            zap_handle(s);
    }
    zmq_close(s->zap);
    zmq_close(s->stop_rx);
    s->zap = s->stop_rx = NULL;
    return NULL;
}

tl_status tl_curve_server_start(void *ctx, void *sock, const char *secret_key_file, const char *allowed_dir,
                                tl_curve_server **out, tl_error *err)
{
    *out = NULL;
    if (!secret_key_file || !*secret_key_file)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--curve-allowed-keys needs --curve-secret-key FILE, the service's key pair (allowed: "
                            "a .secret file written by 'tomoline keygen')");
    if (!allowed_dir || !*allowed_dir)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--curve-secret-key needs --curve-allowed-keys DIR (allowed: a directory holding the "
                            ".public files of the clients allowed to send)");
    tl_status st = check_available("--curve-secret-key", secret_key_file, err);
    if (st != TL_OK)
        return st;
    key_file own;
    if ((st = read_secret_file(secret_key_file, "--curve-secret-key", &own, err)) != TL_OK)
        return st;
    tl_curve_server *s = calloc(1, sizeof *s);
    if (!s) {
        st = tl_error_set(err, TL_ERR_NOMEM, "out of memory for the CURVE server");
        goto fail_wipe;
    }
    atomic_init(&s->refused, 0);
    if ((st = read_allowed_dir(allowed_dir, &s->allowed, &s->n_allowed, err)) != TL_OK)
        goto fail_server;

    int zero = 0, one = 1;
    if (!(s->zap = zmq_socket(ctx, ZMQ_REP))) {
        st = tl_error_set(err, TL_ERR_IO, "cannot create the ZAP socket: %s", zmq_strerror(errno));
        goto fail_server;
    }
    zmq_setsockopt(s->zap, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s->zap, TL_CURVE_ZAP_ENDPOINT) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot bind the ZAP handler at %s: %s%s", TL_CURVE_ZAP_ENDPOINT,
                          zmq_strerror(errno),
                          errno == EADDRINUSE ? " (another CURVE server runs in this ZeroMQ context; one per context)"
                                              : "");
        goto fail_zap;
    }
    char stop_endpoint[64];
    snprintf(stop_endpoint, sizeof stop_endpoint, "inproc://tl-curve-stop-%p", (void *)s);
    if (!(s->stop_rx = zmq_socket(ctx, ZMQ_PAIR)) || !(s->stop_tx = zmq_socket(ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(s->stop_rx, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s->stop_tx, ZMQ_LINGER, &zero, sizeof zero) != 0 || zmq_bind(s->stop_rx, stop_endpoint) != 0 ||
        zmq_connect(s->stop_tx, stop_endpoint) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot create the ZAP handler's control socket: %s", zmq_strerror(errno));
        goto fail_stop;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, own.secret_key, TL_CURVE_KEY_BYTES) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, TL_CURVE_ZAP_DOMAIN, strlen(TL_CURVE_ZAP_DOMAIN)) != 0) {
        st = tl_error_set(err, TL_ERR_INTERNAL, "--curve-secret-key '%s': cannot make the socket a CURVE server: %s",
                          secret_key_file, zmq_strerror(errno));
        goto fail_stop;
    }
    if (zmq_setsockopt(sock, TL_CURVE_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0)
        tl_log_debug("serve: CURVE: this libzmq has no ZMQ_ZAP_ENFORCE_DOMAIN; the handler outlives the socket");

    /* The thread takes no signals: SIGINT and SIGTERM stay the main loop's. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int rc = pthread_create(&s->thread, NULL, zap_thread, s);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (rc != 0) {
        st = tl_error_set(err, TL_ERR_INTERNAL, "cannot start the ZAP handler thread: %s", strerror(rc));
        goto fail_stop;
    }
    s->thread_started = 1;
    char own_z85[TL_CURVE_Z85_CHARS + 1];
    zmq_z85_encode(own_z85, own.public_key, TL_CURVE_KEY_BYTES);
    tl_log_info("serve: CURVE on: service key %s ('%s'); client keys allowed: %zu, from '%s'", own_z85,
                secret_key_file, s->n_allowed, allowed_dir);
    key_file_wipe(&own);
    *out = s;
    return TL_OK;

fail_stop:
    if (s->stop_tx)
        zmq_close(s->stop_tx);
    if (s->stop_rx)
        zmq_close(s->stop_rx);
fail_zap:
    zmq_close(s->zap);
fail_server:
    free(s->allowed);
    free(s);
fail_wipe:
    key_file_wipe(&own);
    return st;
}

size_t tl_curve_server_refused(const tl_curve_server *server)
{
    return server ? atomic_load(&((tl_curve_server *)server)->refused) : 0;
}

size_t tl_curve_server_allowed(const tl_curve_server *server) { return server ? server->n_allowed : 0; }

void tl_curve_server_stop(tl_curve_server **server)
{
    if (!server || !*server)
        return;
    tl_curve_server *s = *server;
    if (s->thread_started) {
        /* A PAIR over inproc is connected once zmq_connect returns, so the
         * message is never dropped; should sending fail all the same (the
         * context is terminating), the thread's poll returns ETERM. */
        zmq_send(s->stop_tx, "", 0, 0);
        pthread_join(s->thread, NULL);
    }
    zmq_close(s->stop_tx);
    explicit_bzero(s->allowed, s->n_allowed * sizeof *s->allowed);
    free(s->allowed);
    free(s);
    *server = NULL;
}

/* ---- keygen ------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Write text to path as a new file with exactly `mode` (an old .partial is
 * replaced, so a looser mode cannot carry over). */
static tl_status write_new_file(const char *path, const char *text, mode_t mode, tl_error *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return tl_error_set(err, TL_ERR_IO, "cannot replace '%s': %s", path, strerror(errno));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return tl_error_set(err, TL_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    size_t len = strlen(text), done = 0;
    int ok = fchmod(fd, mode) == 0; /* the umask may have taken bits we want (the owner's read) */
    while (ok && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = 0;
            break;
        }
        done += (size_t)n;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(path);
        return tl_error_set(err, TL_ERR_IO, "cannot write '%s': %s", path, strerror(saved));
    }
    return TL_OK;
}

tl_status tl_curve_keygen(const char *prefix, int overwrite, char public_z85[41], tl_error *err)
{
    tl_status st = check_available("PREFIX", prefix, err);
    if (st != TL_OK)
        return st;
    if (!*prefix || ends_with(prefix, "/") || ends_with(prefix, ".secret") || ends_with(prefix, ".public"))
        return tl_error_set(err, TL_ERR_INVALID,
                            "PREFIX '%s': not a name for the key files (allowed: a path without .secret/.public, "
                            "such as 'keys/beamline'; keygen writes PREFIX.secret and PREFIX.public)",
                            prefix);
    char secret_path[PATH_MAX], public_path[PATH_MAX], secret_partial[PATH_MAX], public_partial[PATH_MAX];
    if (snprintf(secret_partial, sizeof secret_partial, "%s.secret.partial", prefix) >= (int)sizeof secret_partial ||
        snprintf(public_partial, sizeof public_partial, "%s.public.partial", prefix) >= (int)sizeof public_partial)
        return tl_error_set(err, TL_ERR_INVALID, "PREFIX '%.64s...': too long (allowed: %d bytes)", prefix,
                            PATH_MAX - 20);
    snprintf(secret_path, sizeof secret_path, "%s.secret", prefix);
    snprintf(public_path, sizeof public_path, "%s.public", prefix);
    struct stat sb;
    if (!overwrite) {
        if (lstat(secret_path, &sb) == 0)
            return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)",
                                secret_path);
        if (lstat(public_path, &sb) == 0)
            return tl_error_set(err, TL_ERR_EXISTS, "'%s' already exists (use --overwrite to replace it)",
                                public_path);
    }

    char secret_z85[TL_CURVE_Z85_CHARS + 1];
    if (zmq_curve_keypair(public_z85, secret_z85) != 0)
        return tl_error_set(err, TL_ERR_INTERNAL, "cannot make a CURVE key pair: %s", zmq_strerror(errno));
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *base = strrchr(prefix, '/');
    base = base ? base + 1 : prefix;
    char secret_text[1024], public_text[1024];
    snprintf(secret_text, sizeof secret_text,
             "# tomoline CURVE secret key, written by 'tomoline keygen' on %s.\n"
             "# Keep it private (mode 0600): whoever holds it can pose as its owner. The public half is in %s.public.\n"
             "# A service's key: serve --curve-secret-key FILE. A client's key: send --curve-client-key FILE.\n"
             "public-key = %s\n"
             "secret-key = %s\n",
             date, base, public_z85, secret_z85);
    snprintf(public_text, sizeof public_text,
             "# tomoline CURVE public key, written by 'tomoline keygen' on %s. Not secret.\n"
             "# A service's key: give it to the clients (send --curve-server-key FILE).\n"
             "# A client's key: put it in the service's --curve-allowed-keys directory.\n"
             "public-key = %s\n",
             date, public_z85);
    explicit_bzero(secret_z85, sizeof secret_z85);
    st = write_new_file(secret_partial, secret_text, 0600, err);
    explicit_bzero(secret_text, sizeof secret_text);
    if (st == TL_OK && (st = write_new_file(public_partial, public_text, 0644, err)) != TL_OK)
        unlink(secret_partial);
    if (st != TL_OK) {
        tl_error_prefix(err, "PREFIX '%s'", prefix);
        return st;
    }
    if (rename(secret_partial, secret_path) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s': %s", secret_partial, secret_path,
                          strerror(errno));
        unlink(secret_partial);
        unlink(public_partial);
        return st;
    }
    if (rename(public_partial, public_path) != 0) {
        /* no half pair: a .secret whose .public is another key's would mislead */
        st = tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s': %s", public_partial, public_path,
                          strerror(errno));
        unlink(secret_path);
        unlink(public_partial);
        return st;
    }
    return TL_OK;
}
