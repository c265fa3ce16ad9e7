/* keygen.c - `tomoline keygen PREFIX`: a CURVE key pair for serve and send
 * (acquire/curve.h; docs/security.md says how to deploy them). */
#include <stdio.h>

#include "cli.h"
#include "curve.h"

static const tl_cli_command keygen_command = {
    .name = "keygen",
    .mask = TL_CMD_KEYGEN,
    .usage = "keygen PREFIX [--overwrite]",
    .summary = "Write a CURVE key pair: PREFIX.secret (mode 0600) and PREFIX.public.",
    .description =
        "The stream (serve <- send) is encrypted and its clients authenticated with ZeroMQ's CURVE\n"
        "when keys are given (docs/security.md). Make one pair for the service and one per client:\n"
        "PREFIX.secret holds both keys and stays on its owner's machine; PREFIX.public is handed out.\n\n"
        "  the service:  tomoline serve --curve-secret-key server.secret --curve-allowed-keys DIR\n"
        "                (DIR holds the clients' .public files: each one admitted, everyone else refused)\n"
        "  a client:     tomoline send --curve-server-key server.public --curve-client-key client.secret\n\n"
        "Existing files are not replaced unless --overwrite (a new service key locks out every client\n"
        "until they get the new server.public; a new client key until the service has its .public).\n\n"
        "example:\n"
        "  tomoline keygen keys/beamline-recon && tomoline keygen keys/detector-1\n"
        "  cp keys/detector-1.public /etc/tomoline/allowed/",
    .max_positional = 1,
};

int tl_cmd_keygen(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[1];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&keygen_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional != 1) {
        fprintf(stderr, "tomoline: error: keygen needs one PREFIX for the two key files (usage: tomoline %s)\n",
                keygen_command.usage);
        return 2;
    }
    tl_error err = {0};
    char public_z85[TL_CURVE_Z85_CHARS + 1];
    if (tl_curve_keygen(positional[0], cfg.overwrite, public_z85, &err) != TL_OK)
        return tl_cli_fail(&err);
    printf("tomoline keygen: wrote %s.secret (the secret key, mode 0600: keep it on this machine)\n"
           "tomoline keygen: wrote %s.public (the public key: hand it out)\n"
           "public key: %s\n",
           positional[0], positional[0], public_z85);
    return 0;
}
