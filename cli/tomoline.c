#include <stdio.h>

#include "cli.h"

int tl_cli_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tomoline: error: not built yet\n");
    return 1;
}
