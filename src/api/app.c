#include "api/app.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int app_configure(struct app *app, const struct config *cfg, char *err, size_t err_size)
{
    const char *p, *bad = NULL;

    app->cfg = cfg;
    app->policy.issuer = cfg->issuer;
    app->policy.access_ttl_s = cfg->access_ttl_s;
    app->policy.leeway_s = cfg->leeway_s;
    app->pwhash.memory_kib = (uint64_t)cfg->argon2_memory_kib;
    app->pwhash.iterations = (uint64_t)cfg->argon2_iterations;
    if (strcmp(cfg->auth_mode, "session") == 0)
        app->mode = AUTH_MODE_SESSION;
    else if (strcmp(cfg->auth_mode, "both") == 0)
        app->mode = AUTH_MODE_BOTH;
    else
        app->mode = AUTH_MODE_JWT;

    if (cidr_parse_list(cfg->trusted_proxies, &app->trusted_proxies, &bad) != 0) {
        snprintf(err, err_size, "LATCH_TRUSTED_PROXIES: \"%.64s\" is not an address or CIDR "
                 "range (at most %d of them)", bad, CIDR_MAX_RANGES);
        return -1;
    }
    app->n_origins = 0;
    for (p = cfg->allowed_origins; *p != '\0';) {
        size_t n;
        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ", ");
        if (n == 0)
            break;
        if (n >= sizeof(app->origins[0]) || app->n_origins >= APP_MAX_ORIGINS ||
            (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)) {
            snprintf(err, err_size, "LATCH_ALLOWED_ORIGINS: \"%.*s\" is not an origin like "
                     "https://app.example.com (at most %d)", (int)(n > 64 ? 64 : n), p,
                     APP_MAX_ORIGINS);
            return -1;
        }
        memcpy(app->origins[app->n_origins], p, n);
        app->origins[app->n_origins][n] = '\0';
        app->n_origins++;
        p += n;
    }
    return 0;
}

int64_t app_now(void)
{
    return (int64_t)time(NULL);
}

int64_t app_memo_until(const struct app *app, int64_t now)
{
    /* A token issued up to now is accepted until exp + leeway, and exp may
     * lie up to access TTL + leeway after iat (tokens_check_claims). */
    return now + app->policy.access_ttl_s + 2 * app->policy.leeway_s + 1;
}

int app_origin_allowed(const struct app *app, const char *origin)
{
    int i;

    if (origin == NULL)
        return 0;
    for (i = 0; i < app->n_origins; i++)
        if (strcmp(app->origins[i], origin) == 0)
            return 1;
    return 0;
}
