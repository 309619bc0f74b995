/*
 * latch_version.h - the version latch reports (latch --version, /metrics'
 * latch_build_info, the Debian package) and the git commit it was built
 * from, which the Makefile passes as -DLATCH_COMMIT (git describe --always
 * --dirty); "unknown" when the tree was not a git checkout.
 */
#ifndef LATCH_VERSION_H
#define LATCH_VERSION_H

#ifndef LATCH_VERSION
#define LATCH_VERSION "0.1.0"
#endif

#ifndef LATCH_COMMIT
#define LATCH_COMMIT "unknown"
#endif

#endif
