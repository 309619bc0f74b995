#include "util/cidr.h"

#include "util/num.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

/* Parses an address into 16 bytes; v4-mapped v6 becomes v4. */
static int parse_addr(const char *s, int *family, unsigned char out[16])
{
    unsigned char v6[16];

    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, v6) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(v6, mapped, sizeof(mapped)) == 0) {
            memcpy(out, v6 + 12, 4);
            *family = AF_INET;
        } else {
            memcpy(out, v6, 16);
            *family = AF_INET6;
        }
        return 0;
    }
    return -1;
}

int cidr_parse_list(const char *text, struct cidr_list *out, const char **bad)
{
    const char *p = text;

    memset(out, 0, sizeof(*out));
    while (*p != '\0') {
        char item[64], *slash;
        const char *end;
        size_t n;
        struct cidr_range *r;
        int64_t prefix;

        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        end = p;
        while (*end != '\0' && *end != ',' && *end != ' ')
            end++;
        n = (size_t)(end - p);
        *bad = p;
        if (n >= sizeof(item) || out->count >= CIDR_MAX_RANGES)
            return -1;
        memcpy(item, p, n);
        item[n] = '\0';
        r = &out->ranges[out->count];
        slash = strchr(item, '/');
        if (slash != NULL)
            *slash = '\0';
        if (parse_addr(item, &r->family, r->addr) != 0)
            return -1;
        if (slash != NULL) {
            if (num_parse_i64(slash + 1, 0, r->family == AF_INET ? 32 : 128, &prefix) != 0)
                return -1;
            r->prefix = (unsigned)prefix;
        } else {
            r->prefix = r->family == AF_INET ? 32 : 128;
        }
        out->count++;
        p = end;
    }
    return 0;
}

int cidr_contains(const struct cidr_list *list, const char *ip)
{
    unsigned char addr[16];
    int family;
    size_t i;

    if (list->count == 0 || parse_addr(ip, &family, addr) != 0)
        return 0;
    for (i = 0; i < list->count; i++) {
        const struct cidr_range *r = &list->ranges[i];
        unsigned full = r->prefix / 8, rest = r->prefix % 8;

        if (r->family != family)
            continue;
        if (memcmp(addr, r->addr, full) != 0)
            continue;
        if (rest != 0) {
            unsigned char mask = (unsigned char)(0xff << (8 - rest));
            if ((addr[full] & mask) != (r->addr[full] & mask))
                continue;
        }
        return 1;
    }
    return 0;
}
