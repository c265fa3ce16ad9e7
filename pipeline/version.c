#include "version.h"

const char *tl_version(void) { return TOMOLINE_VERSION; }
