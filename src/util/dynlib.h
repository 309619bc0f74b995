/*
 * dynlib.h - a shared library opened at run time, only when a feature that
 * needs it is configured.
 *
 * libpq (LATCH_DATABASE_URL=postgres://...) and libcurl (LATCH_SMTP_URL) each
 * bring a tree of libraries with them (LDAP, GnuTLS, p11-kit, Kerberos,
 * SSH, ...) whose pages and load-time initialisers cost a server that uses
 * neither about 4 MiB of resident memory and part of its start-up.  The
 * binary does not link them; the module that needs one opens it by its
 * soname on first use and resolves every function it calls at once, so a
 * missing library or symbol is one clear error at start-up, never a crash on
 * a later call.  The libraries stay packaged dependencies (packaging/deb).
 */
#ifndef LATCH_UTIL_DYNLIB_H
#define LATCH_UTIL_DYNLIB_H

#include <stddef.h>

/* One function to resolve: its name and where its address goes. */
struct dynlib_sym {
    const char *name;
    void **addr;
};

enum dynlib_err {
    DYNLIB_OK = 0,
    DYNLIB_EOPEN = -1,   /* the library could not be opened; err says why */
    DYNLIB_ESYMBOL = -2, /* a function is missing from it; err names it */
};

const char *dynlib_strerror(int err);

/* Opens soname (kept open for the life of the process) and fills every
 * syms[i].addr.  On failure nothing is filled and err holds the loader's
 * reason.  Not thread-safe by itself: dynlib_load serialises it. */
int dynlib_open(const char *soname, const struct dynlib_sym *syms, size_t nsyms, char *err,
                size_t err_size);

/* A library a module opens once, on first use: a static of that module,
 * made with DYNLIB_INIT from the soname and a static array of its syms. */
struct dynlib {
    const char *soname;
    const struct dynlib_sym *syms;
    size_t nsyms;
    int state;     /* 0: not tried; 1: loaded; -1: failed (under dynlib.c's lock) */
    char err[256]; /* why it failed */
};

#define DYNLIB_INIT(soname, syms) {(soname), (syms), sizeof(syms) / sizeof((syms)[0]), 0, ""}

/* For a module's X-macro list of the functions it calls, LIST(X):
 * LIST(DYNLIB_DECLARE) declares a pointer sym_f of f's own type for each,
 * and {LIST(DYNLIB_SYM)} is the array of dynlib_sym that fills them. */
#define DYNLIB_DECLARE(f) static __typeof__(f) *sym_##f;
#define DYNLIB_SYM(f) {#f, (void **)&sym_##f},

/* The first call opens lib (dynlib_open); every later call answers as the
 * first did, so a failure is reported the same way each time and the
 * loader runs once.  Returns 0 when lib's functions are usable, else -1
 * with lib->err saying why.  Thread-safe. */
int dynlib_load(struct dynlib *lib);

/* 1 when an earlier dynlib_load opened lib; never opens it. */
int dynlib_loaded(struct dynlib *lib);

#endif
