/*
 * pwmem.h - Argon2id's working memory on transparent huge pages (see
 * pwmem.c for how and why).  password.c brackets each libsodium Argon2
 * call with pwmem_enter/pwmem_leave; the large anonymous mapping libsodium
 * makes inside is then 2 MiB-aligned and marked MADV_HUGEPAGE.  Outside a
 * bracket, and for every other mapping, mmap behaves as glibc's.
 */
#ifndef LATCH_AUTH_PWMEM_H
#define LATCH_AUTH_PWMEM_H

#include <stdint.h>

/* On by default; LATCH_ARGON2_HUGE_PAGES=0 turns it off for the process. */
void pwmem_set_huge_pages(int on);
int pwmem_huge_pages(void);

/* Brackets one Argon2 call on the calling thread (they nest). */
void pwmem_enter(void);
void pwmem_leave(void);

/* The kernel's transparent_hugepage setting: "always", "madvise" (either
 * serves the areas), "never" or "unavailable" (no THP in this kernel). */
const char *pwmem_kernel_mode(void);

/* Areas marked MADV_HUGEPAGE so far (the kernel accepted the advice). */
uint64_t pwmem_advised(void);

#endif
