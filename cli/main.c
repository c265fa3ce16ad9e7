#include "cli.h"

int main(int argc, char **argv) { return tl_cli_main(argc, argv); }
