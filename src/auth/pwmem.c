/*
 * pwmem.c - Argon2id's working memory on transparent huge pages, kept from
 * one verify to the next.
 *
 * libsodium maps each Argon2 area itself (mmap with MAP_POPULATE), and
 * unmaps it when the hash is done; it has no allocator hook.  This file
 * defines mmap and munmap, which the dynamic linker then binds libsodium's
 * (and every other library's) calls to.  Every call goes straight to the
 * kernel as before, except on a thread inside pwmem_enter/pwmem_leave with
 * huge pages on:
 *   - an anonymous private read-write mapping of at least 2 MiB with no
 *     address asked for is placed on a 2 MiB boundary, marked
 *     MADV_HUGEPAGE and MADV_DONTDUMP, then filled (MADV_POPULATE_WRITE,
 *     for the MAP_POPULATE the caller asked for);
 *   - its munmap keeps it for the thread's next area of the same length
 *     instead, until pwmem_release (the hashing pool calls it when a worker
 *     has been idle a moment, and when it ends).
 * The caller gets exactly the length it asked for.  Argon2 writes every
 * block of its area before it reads it, so a kept area's old content never
 * reaches a hash; it stays in this process only, out of core dumps.
 *
 * Why: Argon2 reads 1 KiB blocks at random across the whole area (19 MiB at
 * the defaults).  On 4 KiB pages almost every read misses the TLB, and on a
 * virtual machine each miss is a two-level page walk.  On the benchmark VM
 * one verify took 38-45 ms on 4 KiB pages and 10-12 ms on 2 MiB pages;
 * mapping, zeroing and unmapping 19 MiB for each verify cost a third of
 * what was left (7 ms kept).  With transparent_hugepage set to "never", or
 * with no huge page free, the kernel falls back to 4 KiB pages: nothing
 * fails.
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
static uint64_t advised;   /* areas placed on huge pages (atomic) */

struct area {
    char *p;
    size_t len;
};

/* This thread's bracket depth, the area libsodium holds now, and the one
 * kept for its next call. */
static _Thread_local int inside;
static _Thread_local struct area lent, kept;

void pwmem_set_huge_pages(int on)
{
    __atomic_store_n(&enabled, on != 0, __ATOMIC_RELAXED);
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

    if (span < len)
        return MAP_FAILED;
    base = sys_mmap(NULL, span, prot, flags & ~MAP_POPULATE, -1, 0);
    if (base == MAP_FAILED)
        return MAP_FAILED;
    skew = (uintptr_t)base & (HUGE_BYTES - 1);
    start = skew == 0 ? base : base + (HUGE_BYTES - skew);
    if (start > base)
        (void)syscall(SYS_munmap, base, (size_t)(start - base));
    if (base + span > start + len)
        (void)syscall(SYS_munmap, start + len, (size_t)(base + span - (start + len)));
    /* Any of these may fail (THP "never", an old kernel): the area is then
     * on small pages, or filled on first touch, as without this file. */
    if (syscall(SYS_madvise, start, len, MADV_HUGEPAGE) == 0)
        __atomic_add_fetch(&advised, 1, __ATOMIC_RELAXED);
    (void)syscall(SYS_madvise, start, len, MADV_DONTDUMP);
    if (flags & MAP_POPULATE)
        (void)syscall(SYS_madvise, start, len, MADV_POPULATE_WRITE);
    return start;
}

void pwmem_release(void)
{
    int saved = errno;

    if (kept.p != NULL)
        (void)syscall(SYS_munmap, kept.p, kept.len);
    kept = (struct area){NULL, 0};
    errno = saved;
}

size_t pwmem_kept_bytes(void)
{
    return kept.len;
}

int munmap(void *addr, size_t len)
{
    if (addr != NULL && addr == lent.p && len == lent.len) {
        pwmem_release();
        kept = lent;
        lent = (struct area){NULL, 0};
        return 0;
    }
    return (int)syscall(SYS_munmap, addr, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (inside > 0 && lent.p == NULL && addr == NULL && fd == -1 && len >= HUGE_BYTES &&
        prot == (PROT_READ | PROT_WRITE) &&
        (flags & (MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED | MAP_FIXED)) ==
            (MAP_ANONYMOUS | MAP_PRIVATE) &&
        __atomic_load_n(&enabled, __ATOMIC_RELAXED)) {
        int saved = errno;
        char *p;

        if (kept.p != NULL && kept.len == len) {
            p = kept.p;
            kept = (struct area){NULL, 0};
        } else {
            pwmem_release();
            p = map_huge(len, prot, flags);
        }
        errno = saved;
        if (p != MAP_FAILED) {
            lent = (struct area){p, len};
            return p;
        }
    }
    return sys_mmap(addr, len, prot, flags, fd, off);
}
