/*
 * cidr.h - lists of address ranges ("127.0.0.1/32, 10.0.0.0/8, ::1") and
 * the test whether an address is in one.
 */
#ifndef LATCH_UTIL_CIDR_H
#define LATCH_UTIL_CIDR_H

#include <stddef.h>

#define CIDR_MAX_RANGES 64

struct cidr_range {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
};

struct cidr_list {
    struct cidr_range ranges[CIDR_MAX_RANGES];
    size_t count;
};

/* Parses a comma-separated list (empty is an empty list).  Returns 0, or -1
 * with *bad pointing at the entry that is wrong. */
int cidr_parse_list(const char *text, struct cidr_list *out, const char **bad);

/* 1 when the textual address ip (v4 or v6, "::ffff:a.b.c.d" counts as v4) is
 * in the list. */
int cidr_contains(const struct cidr_list *list, const char *ip);

#endif
