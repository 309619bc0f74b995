/*
 * pwmem.h - Argon2id's working memory on transparent huge pages, kept from
 * one verify to the next (see pwmem.c for how and why).  password.c
 * brackets each libsodium Argon2 call with pwmem_enter/pwmem_leave; the
 * large anonymous mapping libsodium makes inside is then 2 MiB-aligned and
 * marked MADV_HUGEPAGE, and its munmap keeps it for the thread's next call.
 * Outside a bracket, and for every other mapping, mmap and munmap behave as
 * glibc's.
 */
#ifndef LATCH_AUTH_PWMEM_H
#define LATCH_AUTH_PWMEM_H

#include <stddef.h>
#include <stdint.h>

/* On by default; LATCH_ARGON2_HUGE_PAGES=0 turns it off for the process. */
void pwmem_set_huge_pages(int on);

/* Brackets one Argon2 call on the calling thread (they nest). */
void pwmem_enter(void);
void pwmem_leave(void);

/* The kernel's transparent_hugepage setting: "always", "madvise" (either
 * serves the areas), "never" or "unavailable" (no THP in this kernel). */
const char *pwmem_kernel_mode(void);

/* Unmaps the area this thread keeps, if any (a worker that goes idle, or
 * ends, calls it); the bytes it keeps now. */
void pwmem_release(void);
size_t pwmem_kept_bytes(void);

/* Areas marked MADV_HUGEPAGE so far (the kernel accepted the advice). */
uint64_t pwmem_advised(void);

#endif
