/* Tests src/auth/pwmem.c: the Argon2 area on huge pages and kept for the thread's next one,
 * every other mapping as before.  What the kernel did is read back from /proc/self/smaps. */
#include "test.h"

#include "auth/password.h"
#include "auth/pwmem.h"

#include <stdlib.h>
#include <sys/mman.h>

#define MIB ((size_t)1 << 20)
#define AREA (5 * MIB + 4096)   /* not a multiple of 2 MiB, like Argon2's 19 MiB */

struct vma {
    int found;
    uintptr_t start, end;
    long anon_huge_kib;
    int advised;   /* "hg" in VmFlags: MADV_HUGEPAGE */
};

/* The mapping that holds p, as /proc/self/smaps describes it. */
static struct vma vma_of(const void *p)
{
    struct vma v = {0};
    char line[512];
    FILE *f = fopen("/proc/self/smaps", "r");
    int in = 0;

    if (f == NULL)
        return v;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi;
        long kib;
        char dash;
        if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
            if (in)
                break;
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            if (in) {
                v.found = 1;
                v.start = lo;
                v.end = hi;
            }
        } else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1) {
            v.anon_huge_kib = kib;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            v.advised = strstr(line, " hg") != NULL;
        }
    }
    fclose(f);
    return v;
}

static int thp_usable(void)
{
    const char *mode = pwmem_kernel_mode();
    return strcmp(mode, "always") == 0 || strcmp(mode, "madvise") == 0;
}

static void *map_area(size_t len, int flags)
{
    return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

TEST(pwmem_area_inside_a_bracket_is_aligned_advised_and_exact)
{
    uint64_t before;
    struct vma v;
    char *p;

    pwmem_release();
    before = pwmem_advised();
    pwmem_set_huge_pages(1);
    pwmem_enter();
    p = map_area(AREA, MAP_POPULATE);
    pwmem_leave();
    CHECK(p != MAP_FAILED);
    CHECK_INT((uintptr_t)p % (2 * MIB), 0);
    v = vma_of(p);
    CHECK(v.found);
    /* Exactly what was asked: the caller's munmap frees all of it. */
    CHECK_INT(v.start, (uintptr_t)p);
    CHECK_INT(v.end, (uintptr_t)p + AREA);
    if (thp_usable()) {
        CHECK(v.advised);
        CHECK_INT(pwmem_advised(), before + 1);
        /* MAP_POPULATE was honoured with huge pages: two whole 2 MiB pages fit. */
        CHECK(v.anon_huge_kib >= 2048);
    }
    p[0] = 1;
    p[AREA - 1] = 2;
    /* The caller's munmap keeps it; pwmem_release unmaps it. */
    CHECK_INT(munmap(p, AREA), 0);
    CHECK_INT(pwmem_kept_bytes(), AREA);
    CHECK(vma_of(p).found);
    pwmem_release();
    CHECK_INT(pwmem_kept_bytes(), 0);
    CHECK(!vma_of(p).found || vma_of(p).start != (uintptr_t)p);
}

TEST(pwmem_kept_area_serves_the_next_call_of_its_length)
{
    uint64_t before;
    char *p, *q, *r;

    pwmem_release();
    pwmem_set_huge_pages(1);
    before = pwmem_advised();
    pwmem_enter();
    p = map_area(AREA, MAP_POPULATE);
    CHECK(p != MAP_FAILED);
    memset(p, 0x5a, AREA);
    CHECK_INT(munmap(p, AREA), 0);
    q = map_area(AREA, MAP_POPULATE);
    pwmem_leave();
    /* The same area, not mapped again. */
    CHECK(q == p);
    CHECK_INT(pwmem_kept_bytes(), 0);
    CHECK_INT(munmap(q, AREA), 0);
    CHECK_INT(pwmem_kept_bytes(), AREA);
    /* Another length: the kept one goes, a new one is mapped. */
    pwmem_enter();
    r = map_area(AREA + 2 * MIB, 0);
    pwmem_leave();
    CHECK(r != MAP_FAILED);
    CHECK_INT(pwmem_kept_bytes(), 0);
    CHECK(!vma_of(p).found || vma_of(p).start != (uintptr_t)p || r == p);
    CHECK_INT(munmap(r, AREA + 2 * MIB), 0);
    pwmem_release();
    CHECK(!vma_of(r).found || vma_of(r).start != (uintptr_t)r);
    if (thp_usable())
        CHECK_INT(pwmem_advised(), before + 2);
}

TEST(pwmem_other_mappings_are_left_alone)
{
    uint64_t before;
    char *p;
    struct vma v;

    pwmem_release();
    before = pwmem_advised();
    pwmem_set_huge_pages(1);
    /* Outside a bracket. */
    p = map_area(AREA, 0);
    CHECK(p != MAP_FAILED);
    v = vma_of(p);
    CHECK(!v.advised);
    CHECK_INT(munmap(p, AREA), 0);
    /* Inside, but small, or shared. */
    pwmem_enter();
    p = map_area(MIB, 0);
    pwmem_leave();
    CHECK(p != MAP_FAILED);
    CHECK(!vma_of(p).advised);
    CHECK_INT(munmap(p, MIB), 0);
    pwmem_enter();
    p = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pwmem_leave();
    CHECK(p != MAP_FAILED);
    CHECK(!vma_of(p).advised);
    CHECK_INT(munmap(p, AREA), 0);
    /* Inside, with huge pages turned off (LATCH_ARGON2_HUGE_PAGES=0). */
    pwmem_set_huge_pages(0);
    pwmem_enter();
    p = map_area(AREA, 0);
    pwmem_leave();
    pwmem_set_huge_pages(1);
    CHECK(p != MAP_FAILED);
    CHECK(!vma_of(p).advised);
    CHECK_INT(munmap(p, AREA), 0);
    CHECK_INT(pwmem_advised(), before);
    CHECK_INT(pwmem_kept_bytes(), 0);
    /* A failing call still fails as glibc's would. */
    pwmem_enter();
    p = map_area(0, 0);
    pwmem_leave();
    CHECK(p == MAP_FAILED);
}

TEST(pwmem_password_hashing_uses_the_bracket)
{
    static const struct pwhash_params four_mib = {.memory_kib = 4096, .iterations = 1};
    char hash[PWHASH_STR_BYTES];
    const char *pw = "correct horse battery staple";
    uint64_t before;

    if (!thp_usable())
        return;
    pwmem_release();
    before = pwmem_advised();
    pwmem_set_huge_pages(1);
    CHECK_INT(pwhash_hash(&four_mib, pw, strlen(pw), hash), PWHASH_OK);
    CHECK_INT(pwmem_advised(), before + 1);
    CHECK_INT(pwmem_kept_bytes(), 4096 * 1024);
    /* The verifies reuse the hash's area: a kept area gives the same results. */
    CHECK_INT(pwhash_verify(hash, pw, strlen(pw)), PWHASH_OK);
    CHECK_INT(pwhash_verify(hash, "wrong", 5), PWHASH_MISMATCH);
    CHECK_INT(pwhash_verify(hash, pw, strlen(pw)), PWHASH_OK);
    CHECK_INT(pwmem_advised(), before + 1);
    pwmem_release();
    CHECK_INT(pwmem_kept_bytes(), 0);
}
