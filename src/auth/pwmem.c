/*
 * pwmem.c - Argon2id's working memory on transparent huge pages.
 *
 * libsodium maps each Argon2 area itself (mmap with MAP_POPULATE, then
 * munmap), and it has no allocator hook.  This file defines mmap, which the
 * dynamic linker then binds libsodium's (and every other library's) calls
 * to.  Every call goes straight to the kernel as before, except one case: an
 * anonymous private mapping of at least 2 MiB with no address asked for,
 * made on a thread inside pwmem_enter/pwmem_leave with huge pages on.  That
 * one is placed on a 2 MiB boundary, marked MADV_HUGEPAGE, then filled
 * (MADV_POPULATE_WRITE, for the MAP_POPULATE the caller asked for).  The
 * caller gets a mapping of exactly the length it asked for, so its munmap
 * frees all of it.
 *
 * Why: Argon2 reads 1 KiB blocks at random across the whole area (19 MiB at
 * the defaults).  On 4 KiB pages almost every read misses the TLB, and on a
 * virtual machine each miss is a two-level page walk.  On the benchmark VM
 * one verify took 45 ms on 4 KiB pages and 11 ms on 2 MiB pages, and two
 * threads verifying at once ran 2.5 to 4 times as many per second.  With
 * transparent_hugepage set to "never", or with no huge page free, the
 * kernel falls back to 4 KiB pages: nothing fails.
 */
#include "auth/pwmem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HUGE_BYTES ((size_t)2 << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14 */
#endif

static int enabled = 1;
static _Thread_local int inside;
static uint64_t advised;   /* areas placed on huge pages (atomic) */

void pwmem_set_huge_pages(int on)
{
    __atomic_store_n(&enabled, on != 0, __ATOMIC_RELAXED);
}

int pwmem_huge_pages(void)
{
    return __atomic_load_n(&enabled, __ATOMIC_RELAXED);
}

void pwmem_enter(void)
{
    inside++;
}

void pwmem_leave(void)
{
    inside--;
}

uint64_t pwmem_advised(void)
{
    return __atomic_load_n(&advised, __ATOMIC_RELAXED);
}

const char *pwmem_kernel_mode(void)
{
    static const char *const modes[] = {"always", "madvise", "never"};
    char line[128], want[16];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    size_t i;

    if (f == NULL)
        return "unavailable";
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        snprintf(want, sizeof(want), "[%s]", modes[i]);
        if (strstr(line, want) != NULL)
            return modes[i];
    }
    return "unavailable";
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* The area at a 2 MiB boundary, marked for huge pages; MAP_FAILED when the
 * kernel refuses the larger reservation (the caller then maps as asked). */
static void *map_huge(size_t len, int prot, int flags)
{
    size_t span = len + HUGE_BYTES;
    char *base, *start;
    uintptr_t skew;
    int saved = errno;

    if (span < len)
        return MAP_FAILED;
    base = sys_mmap(NULL, span, prot, flags & ~MAP_POPULATE, -1, 0);
    if (base == MAP_FAILED) {
        errno = saved;
        return MAP_FAILED;
    }
    skew = (uintptr_t)base & (HUGE_BYTES - 1);
    start = skew == 0 ? base : base + (HUGE_BYTES - skew);
    if (start > base)
        (void)syscall(SYS_munmap, base, (size_t)(start - base));
    if (base + span > start + len)
        (void)syscall(SYS_munmap, start + len, (size_t)(base + span - (start + len)));
    /* Either call may fail (THP "never", an old kernel): the area is then
     * on small pages, or filled on first touch, as without this file. */
    if (syscall(SYS_madvise, start, len, MADV_HUGEPAGE) == 0)
        __atomic_add_fetch(&advised, 1, __ATOMIC_RELAXED);
    if (flags & MAP_POPULATE)
        (void)syscall(SYS_madvise, start, len, MADV_POPULATE_WRITE);
    errno = saved;
    return start;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (inside > 0 && addr == NULL && fd == -1 && len >= HUGE_BYTES &&
        (flags & (MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED | MAP_FIXED)) ==
            (MAP_ANONYMOUS | MAP_PRIVATE) &&
        __atomic_load_n(&enabled, __ATOMIC_RELAXED)) {
        void *p = map_huge(len, prot, flags);
        if (p != MAP_FAILED)
            return p;
    }
    return sys_mmap(addr, len, prot, flags, fd, off);
}
