/* stages.c - placeholder until the per-stage tools land (issue 3). */
#include <stdio.h>

#include "cli.h"

static int not_yet(const char *name)
{
    fprintf(stderr, "tomoline: error: '%s' is not built yet\n", name);
    return 1;
}
int tl_cmd_normalize(int argc, char **argv) { (void)argc; (void)argv; return not_yet("normalize"); }
int tl_cmd_sino(int argc, char **argv) { (void)argc; (void)argv; return not_yet("sino"); }
int tl_cmd_fbp(int argc, char **argv) { (void)argc; (void)argv; return not_yet("fbp"); }
