#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    /* line-buffered stdout, so reports and stderr progress interleave in order in logs */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return tl_cli_main(argc, argv);
}
