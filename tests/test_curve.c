/* test_curve.c - CURVE encryption and client authentication (acquire/curve.h):
 * `tomoline keygen` writes a pair (modes, the same public key in both files,
 * the public key the secret key's own, no silent replacement); over loopback
 * TCP in one process, a CURVE server with a ZAP handler lets an allowed
 * client's messages through (tagged with its name), refuses a client whose key
 * is not allowed (counted, logged with its address and key, a repeat within the
 * minute counted but not logged), and lets nothing through from a plain client or from a
 * client that has the wrong server key; bad key files and directories get exact
 * messages; `tomoline send` speaks CURVE with both options and refuses one
 * without the other. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "curve.h"
#include "support.h"
#include "wire.h"

static char dir[4096];
static void make_dir(void) { snprintf(dir, sizeof dir, "%s", tl_test_tmpdir()); }
TestSuite(curve, .init = make_dir, .timeout = 120);

static void path_of(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", dir, name); }

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* The value of `NAME = ...` in a key file's text ("" when missing). */
static void key_line(const char *text, const char *name, char out[41])
{
    out[0] = '\0';
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\n%s = ", name);
    const char *p = strstr(text, pattern);
    if (p)
        snprintf(out, 41, "%.40s", p + strlen(pattern));
}

/* A key pair DIR/name.{secret,public}; its public key in z85. */
static void keygen(const char *name, char z85[41])
{
    char prefix[4200];
    path_of(prefix, sizeof prefix, name);
    tl_error err = {0};
    cr_assert_eq(tl_curve_keygen(prefix, 0, z85, &err), TL_OK, "%s", err.message);
}

/* DIR/allowed holding a copy of each named client's .public file. */
static void allow(const char *const *names, size_t n, char *allowed, size_t size)
{
    path_of(allowed, size, "allowed");
    mkdir(allowed, 0755);
    for (size_t i = 0; i < n; i++) {
        char from[4200], to[4300], text[4096];
        snprintf(from, sizeof from, "%s/%s.public", dir, names[i]);
        snprintf(to, sizeof to, "%s/%s.public", allowed, names[i]);
        read_text(from, text, sizeof text);
        write_text(to, text, 0644);
    }
}

/* Standard error of this test process goes to a file (each test runs in its own
 * process), so the log can be checked. */
static char log_path[4200];
static void capture_log(void)
{
    path_of(log_path, sizeof log_path, "stderr.log");
    fflush(stderr);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    close(fd);
}
static void read_log(char *buf, size_t size)
{
    fflush(stderr);
    read_text(log_path, buf, size);
}

/* ---- keygen ----------------------------------------------------------------------------- */

Test(curve, keygen_writes_a_pair_and_replaces_it_only_when_asked)
{
    char prefix[4200], secret[4300], public[4300], partial[4400];
    path_of(prefix, sizeof prefix, "beamline");
    snprintf(secret, sizeof secret, "%s.secret", prefix);
    snprintf(public, sizeof public, "%s.public", prefix);
    tl_test_run_result r;
    tl_test_run(&r, "keygen '%s'", prefix);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *printed = strstr(r.out, "\npublic key: ");
    cr_assert(printed, "%s", r.out);
    char printed_key[41];
    snprintf(printed_key, sizeof printed_key, "%.40s", printed + strlen("\npublic key: "));
    cr_expect(strstr(r.out, secret) && strstr(r.out, public), "%s", r.out);

    struct stat sb;
    cr_assert_eq(stat(secret, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "mode of the .secret: %o", (unsigned)(sb.st_mode & 0777));
    cr_assert_eq(stat(public, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0644, "mode of the .public: %o", (unsigned)(sb.st_mode & 0777));
    snprintf(partial, sizeof partial, "%s.partial", secret);
    cr_expect(!tl_test_file_exists(partial));

    char secret_text[4096], public_text[4096], in_secret[41], in_public[41], secret_key[41], derived[41];
    read_text(secret, secret_text, sizeof secret_text);
    read_text(public, public_text, sizeof public_text);
    key_line(secret_text, "public-key", in_secret);
    key_line(public_text, "public-key", in_public);
    key_line(secret_text, "secret-key", secret_key);
    cr_assert_eq(strlen(in_public), 40, "%s", public_text);
    cr_expect_str_eq(in_secret, in_public);
    cr_expect_str_eq(in_public, printed_key);
    cr_expect(!strstr(public_text, "secret-key"), "the .public file must not hold the secret key");
    /* the public key is the secret key's own (Curve25519 scalar multiplication of the base point) */
    cr_assert_eq(zmq_curve_public(derived, secret_key), 0);
    cr_expect_str_eq(derived, in_public);

    /* no silent replacement: both files stay as they were */
    tl_test_run(&r, "keygen '%s'", prefix);
    cr_expect_eq(r.exit_code, 1);
    char expected[8192];
    snprintf(expected, sizeof expected,
             "tomoline: error: '%s' already exists (use --overwrite to replace it)\n", secret);
    cr_expect_str_eq(r.err, expected);
    char again[4096];
    read_text(secret, again, sizeof again);
    cr_expect_str_eq(again, secret_text);
    /* the .public alone in the way is refused too */
    unlink(secret);
    tl_test_run(&r, "keygen '%s'", prefix);
    snprintf(expected, sizeof expected,
             "tomoline: error: '%s' already exists (use --overwrite to replace it)\n", public);
    cr_expect_str_eq(r.err, expected);
    cr_expect(!tl_test_file_exists(secret), "a refused keygen writes nothing");

    /* --overwrite: a new pair, mode 0600 even where the old file was looser */
    write_text(secret, secret_text, 0644);
    tl_test_run(&r, "keygen '%s' --overwrite", prefix);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    read_text(secret, again, sizeof again);
    char new_public[41], new_in_public_file[41];
    key_line(again, "public-key", new_public);
    read_text(public, public_text, sizeof public_text);
    key_line(public_text, "public-key", new_in_public_file);
    cr_expect_str_neq(new_public, in_public, "--overwrite writes a new key");
    cr_expect_str_eq(new_public, new_in_public_file);
    cr_assert_eq(stat(secret, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "mode after --overwrite: %o", (unsigned)(sb.st_mode & 0777));
}

Test(curve, keygen_usage)
{
    tl_test_run_result r;
    tl_test_run(&r, "keygen --help");
    cr_assert_eq(r.exit_code, 0);
    cr_expect(strstr(r.out, "--curve-secret-key server.secret --curve-allowed-keys DIR") &&
                  strstr(r.out, "--curve-server-key server.public --curve-client-key client.secret"),
              "%s", r.out);
    tl_test_run(&r, "keygen");
    cr_expect_eq(r.exit_code, 2);
    cr_expect_str_eq(r.err, "tomoline: error: keygen needs one PREFIX for the two key files (usage: tomoline keygen "
                            "PREFIX [--overwrite])\n");
    tl_test_run(&r, "keygen '%s/k.secret'", dir);
    cr_expect_eq(r.exit_code, 2);
    char expected[8192];
    snprintf(expected, sizeof expected,
             "tomoline: error: PREFIX '%s/k.secret': not a name for the key files (allowed: a path without "
             ".secret/.public, such as 'keys/beamline'; keygen writes PREFIX.secret and PREFIX.public)\n",
             dir);
    cr_expect_str_eq(r.err, expected);
    tl_test_run(&r, "keygen '%s/no/such/dir/k'", dir);
    cr_expect_eq(r.exit_code, 1);
    snprintf(expected, sizeof expected,
             "tomoline: error: PREFIX '%s/no/such/dir/k': cannot write '%s/no/such/dir/k.secret.partial': No such "
             "file or directory\n",
             dir, dir);
    cr_expect_str_eq(r.err, expected);
}

/* Wait (at most 10 s: a loaded machine) until the server has refused n clients. */
static size_t wait_refused(const tl_curve_server *curve, size_t n)
{
    for (int i = 0; i < 1000 && tl_curve_server_refused(curve) < n; i++)
        tl_test_sleep(0.01);
    return tl_curve_server_refused(curve);
}

/* ---- a CURVE server and its clients in one process ---------------------------------------- */

typedef struct server {
    void *ctx, *pull;
    tl_curve_server *curve;
    char endpoint[256];
} server;

/* A PULL socket with CURVE (the key pair DIR/server.secret) and a ZAP handler
 * that allows the keys of DIR/allowed, bound to a free loopback port. */
static void server_start(server *s, const char *allowed)
{
    char secret[4200];
    path_of(secret, sizeof secret, "server.secret");
    s->ctx = zmq_ctx_new();
    s->pull = zmq_socket(s->ctx, ZMQ_PULL);
    int zero = 0;
    zmq_setsockopt(s->pull, ZMQ_LINGER, &zero, sizeof zero);
    tl_error err = {0};
    cr_assert_eq(tl_curve_server_start(s->ctx, s->pull, secret, allowed, &s->curve, &err), TL_OK, "%s",
                 err.message);
    cr_assert_eq(zmq_bind(s->pull, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof s->endpoint;
    zmq_getsockopt(s->pull, ZMQ_LAST_ENDPOINT, s->endpoint, &len);
}

static void server_stop(server *s)
{
    zmq_close(s->pull);
    tl_curve_server_stop(&s->curve);
    cr_expect_null(s->curve);
    zmq_ctx_term(s->ctx);
}

/* A PUSH client in its own context; CURVE with DIR/<client>.secret and
 * DIR/<server_public> when client is not NULL. */
static void *client_connect(void *ctx, const char *client, const char *server_public, const char *endpoint)
{
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int zero = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof zero);
    if (client) {
        char secret[4200], public[4200], name[256];
        snprintf(name, sizeof name, "%s.secret", client);
        path_of(secret, sizeof secret, name);
        path_of(public, sizeof public, server_public);
        tl_error err = {0};
        cr_assert_eq(tl_curve_client_setup(push, secret, public, &err), TL_OK, "%s", err.message);
    }
    cr_assert_eq(zmq_connect(push, endpoint), 0);
    return push;
}

/* One message within timeout_ms into buf; its length, or -1 when none came.
 * user gets the ZAP user id the message carries ("" without one). */
static int receive(void *pull, int timeout_ms, char *buf, size_t size, char *user, size_t user_size)
{
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_msg_t m;
    zmq_msg_init(&m);
    int n = zmq_msg_recv(&m, pull, 0);
    if (n >= 0) {
        snprintf(buf, size, "%.*s", n, (const char *)zmq_msg_data(&m));
        const char *u = zmq_msg_gets(&m, "User-Id");
        snprintf(user, user_size, "%s", u ? u : "");
    }
    zmq_msg_close(&m);
    return n;
}

Test(curve, an_allowed_client_gets_through)
{
    char server_key[41], alice_key[41], allowed[4200], buf[64], user[64];
    keygen("server", server_key);
    keygen("alice", alice_key);
    const char *names[] = {"alice"};
    allow(names, 1, allowed, sizeof allowed);
    server s;
    server_start(&s, allowed);
    cr_expect_eq(tl_curve_server_allowed(s.curve), 1);

    void *ctx = zmq_ctx_new();
    void *push = client_connect(ctx, "alice", "server.public", s.endpoint);
    for (int i = 0; i < 3; i++) {
        char text[16];
        snprintf(text, sizeof text, "hello %d", i);
        cr_assert_eq(zmq_send(push, text, strlen(text), 0), (int)strlen(text));
    }
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(receive(s.pull, 10000, buf, sizeof buf, user, sizeof user), 7, "message %d did not arrive", i);
        char text[16];
        snprintf(text, sizeof text, "hello %d", i);
        cr_expect_str_eq(buf, text);
        cr_expect_str_eq(user, "alice", "the ZAP handler names the client by its .public file");
    }
    cr_expect_eq(tl_curve_server_refused(s.curve), 0);
    zmq_close(push);
    zmq_ctx_term(ctx);
    server_stop(&s);
}

Test(curve, a_client_whose_key_is_not_allowed_is_refused_once_and_logged)
{
    char server_key[41], alice_key[41], mallory_key[41], allowed[4200], buf[64], user[64];
    keygen("server", server_key);
    keygen("alice", alice_key);
    keygen("mallory", mallory_key);
    const char *names[] = {"alice"};
    allow(names, 1, allowed, sizeof allowed);
    capture_log();
    server s;
    server_start(&s, allowed);

    void *ctx = zmq_ctx_new();
    void *mallory = client_connect(ctx, "mallory", "server.public", s.endpoint);
    cr_assert_eq(zmq_send(mallory, "let me in", 9, 0), 9); /* queued: PUSH without ZMQ_IMMEDIATE */
    cr_expect_eq(wait_refused(s.curve, 1), 1);
    cr_expect_eq(receive(s.pull, 1000, buf, sizeof buf, user, sizeof user), -1, "a refused client's message came: %s",
                 buf);
    cr_expect_eq(tl_curve_server_refused(s.curve), 1);
    /* libzmq does not retry a refused handshake */
    tl_test_sleep(0.5);
    cr_expect_eq(tl_curve_server_refused(s.curve), 1);
    /* the same client connecting again is counted again, but not logged again within the minute */
    void *again = client_connect(ctx, "mallory", "server.public", s.endpoint);
    cr_assert_eq(zmq_send(again, "let me in", 9, 0), 9);
    cr_expect_eq(wait_refused(s.curve, 2), 2);
    cr_expect_eq(receive(s.pull, 1000, buf, sizeof buf, user, sizeof user), -1);
    cr_expect_eq(tl_curve_server_refused(s.curve), 2);

    /* the service goes on: an allowed client still gets through */
    void *alice = client_connect(ctx, "alice", "server.public", s.endpoint);
    cr_assert_eq(zmq_send(alice, "hello", 5, 0), 5);
    cr_expect_eq(receive(s.pull, 10000, buf, sizeof buf, user, sizeof user), 5);
    cr_expect_str_eq(buf, "hello");
    cr_expect_str_eq(user, "alice");

    zmq_close(mallory);
    zmq_close(again);
    zmq_close(alice);
    zmq_ctx_term(ctx);
    server_stop(&s);
    char log[65536], expected[256];
    read_log(log, sizeof log);
    snprintf(expected, sizeof expected,
             "tomoline: warning: serve: CURVE: refused client 127.0.0.1 with key %s: not in --curve-allowed-keys "
             "(refused so far: 1)\n",
             mallory_key);
    cr_expect(strstr(log, expected), "the refusal is logged with the address and the key:\n%s", log);
    const char *first = strstr(log, "refused client 127.0.0.1");
    cr_expect(first && !strstr(first + 1, "refused client 127.0.0.1"), "the second refusal is not logged:\n%s", log);
    cr_expect(strstr(log, "admitted client 127.0.0.1 with the key of 'alice.public'"), "%s", log);
}

Test(curve, a_plain_client_or_one_with_the_wrong_server_key_gets_nothing)
{
    char server_key[41], other_key[41], alice_key[41], allowed[4200], buf[64], user[64];
    keygen("server", server_key);
    keygen("other-server", other_key);
    keygen("alice", alice_key);
    const char *names[] = {"alice"};
    allow(names, 1, allowed, sizeof allowed);
    server s;
    server_start(&s, allowed);

    void *ctx = zmq_ctx_new();
    void *plain = client_connect(ctx, NULL, NULL, s.endpoint);
    cr_assert_eq(zmq_send(plain, "plain text", 10, 0), 10);
    /* alice, allowed, but talking to another server's key: the handshake fails before ZAP */
    void *misled = client_connect(ctx, "alice", "other-server.public", s.endpoint);
    cr_assert_eq(zmq_send(misled, "misled", 6, 0), 6);
    cr_expect_eq(receive(s.pull, 1000, buf, sizeof buf, user, sizeof user), -1, "a message came through: %s", buf);
    cr_expect_eq(tl_curve_server_refused(s.curve), 0, "neither reached the ZAP handler");
    zmq_close(plain);
    zmq_close(misled);
    zmq_ctx_term(ctx);
    server_stop(&s);
}

/* ---- bad key files and directories --------------------------------------------------------- */

static tl_status setup_with(const char *client_secret, const char *server_public, tl_error *err)
{
    void *ctx = zmq_ctx_new(), *push = zmq_socket(ctx, ZMQ_PUSH);
    tl_status st = tl_curve_client_setup(push, client_secret, server_public, err);
    zmq_close(push);
    zmq_ctx_term(ctx);
    return st;
}

Test(curve, bad_key_files_are_refused_with_exact_messages)
{
    char server_key[41], alice_key[41], alice[4200], server_public[4200], server_secret[4200], bad[4200],
        expected[8192], alice_text[4096], secret_key[41];
    keygen("server", server_key);
    keygen("alice", alice_key);
    path_of(alice, sizeof alice, "alice.secret");
    path_of(server_public, sizeof server_public, "server.public");
    path_of(server_secret, sizeof server_secret, "server.secret");
    path_of(bad, sizeof bad, "bad.public");
    tl_error err = {0};
    cr_assert_eq(setup_with(alice, server_public, &err), TL_OK, "%s", err.message);

    /* wrong length */
    char text[256];
    snprintf(text, sizeof text, "# a key cut short\npublic-key = %.38s\n", server_key);
    write_text(bad, text, 0644);
    cr_expect_eq(setup_with(alice, bad, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-server-key '%s' line 2: public-key has 38 characters (allowed: 40 Z85 characters, as "
             "'tomoline keygen' writes)",
             bad);
    cr_expect_str_eq(err.message, expected);

    /* 40 characters, but not Z85 ('~' is not in its alphabet; a group of five '#' is over 2^32) */
    const char *not_z85[] = {"~~~~~", "#####"};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, "public-key = %s%.35s\n", not_z85[i], server_key + 5);
        write_text(bad, text, 0644);
        cr_expect_eq(setup_with(alice, bad, &err), TL_ERR_INVALID, "%s", text);
        snprintf(expected, sizeof expected,
                 "--curve-server-key '%s' line 1: public-key is not Z85 text (allowed: 40 characters of 0-9 a-z A-Z "
                 ". - : + = ^ ! / * ? & < > ( ) [ ] { } @ %% $ #)",
                 bad);
        cr_expect_str_eq(err.message, expected);
    }

    /* a missing file */
    char missing[4200];
    path_of(missing, sizeof missing, "nobody.secret");
    cr_expect_eq(setup_with(missing, server_public, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-client-key '%s': cannot read: No such file or directory (allowed: a key file written by "
             "'tomoline keygen')",
             missing);
    cr_expect_str_eq(err.message, expected);

    /* a .secret without its secret line, or given where a public key belongs */
    snprintf(text, sizeof text, "public-key = %s\n", alice_key);
    write_text(bad, text, 0600);
    cr_expect_eq(setup_with(bad, server_public, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-client-key '%s': no 'secret-key = ...' line (allowed: a .secret file written by 'tomoline "
             "keygen', which has both public-key and secret-key)",
             bad);
    cr_expect_str_eq(err.message, expected);
    cr_expect_eq(setup_with(alice, server_secret, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-server-key '%s': holds a secret key (allowed: a .public file; the .secret file stays with its "
             "owner)",
             server_secret);
    cr_expect_str_eq(err.message, expected);

    /* a line that is not a key line, a repeated line */
    snprintf(text, sizeof text, "public-key: %s\n", server_key);
    write_text(bad, text, 0644);
    cr_expect_eq(setup_with(alice, bad, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-server-key '%s' line 1: not a key line (allowed: '# comment', 'public-key = KEY', "
             "'secret-key = KEY')",
             bad);
    cr_expect_str_eq(err.message, expected);
    char twice[256];
    snprintf(twice, sizeof twice, "public-key = %s\n\npublic-key = %s\n", server_key, server_key);
    write_text(bad, twice, 0644);
    cr_expect_eq(setup_with(alice, bad, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected, "--curve-server-key '%s' line 3: a second public-key line (allowed: one)", bad);
    cr_expect_str_eq(err.message, expected);

    /* an edited pair: the public line of another key */
    read_text(alice, alice_text, sizeof alice_text);
    key_line(alice_text, "secret-key", secret_key);
    char edited_path[4200], edited[512];
    path_of(edited_path, sizeof edited_path, "edited.secret");
    snprintf(edited, sizeof edited, "public-key = %s\nsecret-key = %s\n", server_key, secret_key);
    write_text(edited_path, edited, 0600);
    cr_expect_eq(setup_with(edited_path, server_public, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-client-key '%s': its public-key is not the public half of its secret-key (allowed: the pair "
             "'tomoline keygen' wrote; write a new one with it)",
             edited_path);
    cr_expect_str_eq(err.message, expected);
    cr_expect(!strstr(err.message, secret_key), "a message never shows a secret key");

    /* the secret key readable by others works, with a warning */
    capture_log();
    chmod(alice, 0644);
    cr_expect_eq(setup_with(alice, server_public, &err), TL_OK, "%s", err.message);
    char log[65536];
    read_log(log, sizeof log);
    snprintf(expected, sizeof expected,
             "--curve-client-key '%s': the secret key is readable by group or others (mode 0644): whoever reads it "
             "can pose as this peer (chmod 600 '%s')",
             alice, alice);
    cr_expect(strstr(log, expected), "%s", log);
}

Test(curve, the_allowed_keys_directory_is_checked)
{
    char server_key[41], alice_key[41], secret[4200], allowed[4200], expected[8192];
    keygen("server", server_key);
    keygen("alice", alice_key);
    path_of(secret, sizeof secret, "server.secret");
    void *ctx = zmq_ctx_new(), *pull = zmq_socket(ctx, ZMQ_PULL);
    tl_curve_server *curve = NULL;
    tl_error err = {0};

    path_of(allowed, sizeof allowed, "missing");
    cr_expect_eq(tl_curve_server_start(ctx, pull, secret, allowed, &curve, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-allowed-keys '%s': cannot read the directory: No such file or directory (allowed: a directory "
             "holding the .public files of the clients allowed to send, written by 'tomoline keygen')",
             allowed);
    cr_expect_str_eq(err.message, expected);

    /* secret files and hidden files do not count */
    path_of(allowed, sizeof allowed, "empty");
    mkdir(allowed, 0755);
    char other[4300];
    snprintf(other, sizeof other, "%s/alice.secret", allowed);
    write_text(other, "# not a public key\n", 0600);
    snprintf(other, sizeof other, "%s/.hidden.public", allowed);
    write_text(other, "# hidden\n", 0644);
    cr_expect_eq(tl_curve_server_start(ctx, pull, secret, allowed, &curve, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-allowed-keys '%s': no *.public file (allowed: a directory holding the .public files of the "
             "clients allowed to send; 'tomoline keygen NAME' writes NAME.public)",
             allowed);
    cr_expect_str_eq(err.message, expected);

    /* one bad file spoils the set: the message names it */
    snprintf(other, sizeof other, "%s/bob.public", allowed);
    write_text(other, "public-key = short\n", 0644);
    cr_expect_eq(tl_curve_server_start(ctx, pull, secret, allowed, &curve, &err), TL_ERR_INVALID);
    snprintf(expected, sizeof expected,
             "--curve-allowed-keys '%s/bob.public' line 1: public-key has 5 characters (allowed: 40 Z85 characters, "
             "as 'tomoline keygen' writes)",
             allowed);
    cr_expect_str_eq(err.message, expected);

    /* without a directory */
    cr_expect_eq(tl_curve_server_start(ctx, pull, secret, "", &curve, &err), TL_ERR_INVALID);
    cr_expect_str_eq(err.message, "--curve-secret-key needs --curve-allowed-keys DIR (allowed: a directory holding "
                                  "the .public files of the clients allowed to send)");
    cr_expect_null(curve);

    /* one handler per context */
    const char *names[] = {"alice"};
    allow(names, 1, allowed, sizeof allowed);
    cr_assert_eq(tl_curve_server_start(ctx, pull, secret, allowed, &curve, &err), TL_OK, "%s", err.message);
    void *pull2 = zmq_socket(ctx, ZMQ_PULL);
    tl_curve_server *second = NULL;
    cr_expect_eq(tl_curve_server_start(ctx, pull2, secret, allowed, &second, &err), TL_ERR_IO);
    cr_expect(strstr(err.message, "one per context"), "%s", err.message);
    cr_expect_null(second);
    zmq_close(pull2);
    zmq_close(pull);
    tl_curve_server_stop(&curve);
    tl_curve_server_stop(&curve); /* NULL is fine */
    zmq_ctx_term(ctx);
}

/* ---- tomoline send with CURVE ------------------------------------------------------------- */

Test(curve, send_needs_both_keys)
{
    char scan[4200];
    path_of(scan, sizeof scan, "missing.nxs");
    tl_test_run_result r;
    tl_test_run(&r, "send '%s' --connect tcp://127.0.0.1:1 --curve-server-key s.public", scan);
    cr_expect_eq(r.exit_code, 2);
    cr_expect_str_eq(r.err, "tomoline: error: --curve-server-key 's.public' needs --curve-client-key too (allowed: "
                            "both, for CURVE: --curve-server-key SERVER.public --curve-client-key CLIENT.secret; or "
                            "neither)\n");
    tl_test_run(&r, "send '%s' --connect tcp://127.0.0.1:1 --curve-client-key c.secret", scan);
    cr_expect_eq(r.exit_code, 2);
    cr_expect_str_eq(r.err, "tomoline: error: --curve-client-key 'c.secret' needs --curve-server-key too (allowed: "
                            "both, for CURVE: --curve-server-key SERVER.public --curve-client-key CLIENT.secret; or "
                            "neither)\n");
}

Test(curve, send_speaks_curve_and_a_refused_client_is_told)
{
    char server_key[41], alice_key[41], mallory_key[41], allowed[4200], scan[4200], buf[4096], user[64];
    keygen("server", server_key);
    keygen("alice", alice_key);
    keygen("mallory", mallory_key);
    const char *names[] = {"alice"};
    allow(names, 1, allowed, sizeof allowed);
    path_of(scan, sizeof scan, "s.nxs");
    tl_test_run_result r;
    tl_test_run(&r, "sim -o '%s' --size 16 --angles 8 --slices 2 --flats 1 --darks 1 --quiet", scan);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);

    server s;
    server_start(&s, allowed);
    /* the PULL socket queues what arrives while `send` runs (ZeroMQ's I/O thread and the ZAP thread work
     * while this one waits for the command) */
    tl_test_run(&r, "send '%s' --connect %s --curve-server-key '%s/server.public' --curve-client-key "
                    "'%s/alice.secret' --send-timeout 10 --quiet",
                scan, s.endpoint, dir, dir);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "10 frames to"), "%s", r.out);
    int n = receive(s.pull, 5000, buf, sizeof buf, user, sizeof user);
    cr_assert_gt(n, 0, "nothing arrived");
    cr_expect(strstr(buf, "\"scan-start\""), "%s", buf);
    cr_expect_str_eq(user, "alice");
    for (int i = 0; i < 21; i++) /* 10 frames of two parts, scan-end */
        cr_assert_gt(receive(s.pull, 5000, buf, sizeof buf, user, sizeof user), 0, "part %d did not arrive", i);
    cr_expect(strstr(buf, "\"scan-end\""), "%s", buf);

    tl_test_run(&r, "send '%s' --connect %s --curve-server-key '%s/server.public' --curve-client-key "
                    "'%s/mallory.secret' --send-timeout 1 --quiet",
                scan, s.endpoint, dir, dir);
    cr_expect_eq(r.exit_code, 1);
    char expected[8192];
    snprintf(expected, sizeof expected,
             "tomoline: error: --connect %s: no receiver took scan-start within --send-timeout 1 s (is 'tomoline "
             "serve --listen' running there? With CURVE: does the service allow this --curve-client-key, and is "
             "--curve-server-key its key?)\n",
             s.endpoint);
    cr_expect_str_eq(r.err, expected);
    cr_expect_eq(wait_refused(s.curve, 1), 1);
    cr_expect_eq(receive(s.pull, 200, buf, sizeof buf, user, sizeof user), -1);
    server_stop(&s);
}
