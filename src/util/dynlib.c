/*
 * dynlib.c - see dynlib.h.
 */
#include "util/dynlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

const char *dynlib_strerror(int err)
{
    switch (err) {
    case DYNLIB_OK:
        return "ok";
    case DYNLIB_EOPEN:
        return "the shared library could not be opened";
    case DYNLIB_ESYMBOL:
        return "a function is missing from the shared library";
    }
    return "unknown dynlib error";
}

int dynlib_open(const char *soname, const struct dynlib_sym *syms, size_t nsyms, char *err,
                size_t err_size)
{
    void *handle, *addr;
    const char *why;
    size_t i;

    /* RTLD_NOW: every symbol the library itself needs is bound here, not on
     * a first call from a worker thread.  RTLD_LOCAL: its names do not leak
     * into later lookups. */
    handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        why = dlerror();
        snprintf(err, err_size, "%s", why != NULL ? why : soname);
        return DYNLIB_EOPEN;
    }
    /* Resolve all before writing any, so a failure leaves syms untouched. */
    for (i = 0; i < nsyms; i++) {
        if (dlsym(handle, syms[i].name) == NULL) {
            snprintf(err, err_size, "%s: no function %s", soname, syms[i].name);
            dlclose(handle);
            return DYNLIB_ESYMBOL;
        }
    }
    for (i = 0; i < nsyms; i++) {
        addr = dlsym(handle, syms[i].name);
        *syms[i].addr = addr;
    }
    return DYNLIB_OK;
}

/* One lock for every library: taken once per store open or mail send. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

int dynlib_load(struct dynlib *lib)
{
    int state;

    pthread_mutex_lock(&load_lock);
    if (lib->state == 0)
        lib->state = dynlib_open(lib->soname, lib->syms, lib->nsyms, lib->err,
                                 sizeof(lib->err)) == DYNLIB_OK ? 1 : -1;
    state = lib->state;
    pthread_mutex_unlock(&load_lock);
    return state == 1 ? 0 : -1;
}

int dynlib_loaded(struct dynlib *lib)
{
    int state;

    pthread_mutex_lock(&load_lock);
    state = lib->state;
    pthread_mutex_unlock(&load_lock);
    return state == 1;
}
