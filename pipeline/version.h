/* version.h - what this build is: version, git revision, compiled-in backends. */
#ifndef TL_VERSION_H
#define TL_VERSION_H

const char *tl_version(void);      /* "0.1.0" */
const char *tl_git_revision(void); /* `git describe --always --dirty` at build time, or "unknown" */

#endif
