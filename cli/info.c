/* info.c - placeholder until its implementation lands (issue 3). */
#include <stdio.h>

#include "cli.h"

int tl_cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tomoline: error: 'info' is not built yet\n");
    return 1;
}
