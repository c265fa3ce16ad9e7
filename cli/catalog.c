/* catalog.c - placeholder until its implementation lands (issue 3). */
#include <stdio.h>

#include "cli.h"

int tl_cmd_catalog(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tomoline: error: 'catalog' is not built yet\n");
    return 1;
}
