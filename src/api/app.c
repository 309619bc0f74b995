#include "api/app.h"

#include "api/reply.h"

#include <stdio.h>
#include <stdlib.h>
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

int64_t app_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void app_user_changed(struct app *app, int64_t user_id)
{
    if (app->usercache != NULL)
        usercache_drop(app->usercache, user_id);
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

struct offload_job {
    struct app *app;
    struct http_request *req;
    app_handler_fn fn;
    int64_t id;
};

/* Set on the store pool's threads while they run a handler. */
static __thread int on_store_worker;

static void offload_run(void *arg)
{
    struct offload_job job = *(struct offload_job *)arg;

    free(arg);
    on_store_worker = 1;
    job.fn(job.app, job.req, job.id);
    on_store_worker = 0;
}

static int offload(struct app *app, struct http_request *req, app_handler_fn fn, int64_t id)
{
    struct offload_job *job;

    if (app->store_pool == NULL || on_store_worker)
        return 0;
    job = malloc(sizeof(*job));
    http_request_defer(req);
    if (job == NULL) {
        reply_error(req, 500, "Out of memory");
        return 1;
    }
    job->app = app;
    job->req = req;
    job->fn = fn;
    job->id = id;
    if (work_pool_submit(app->store_pool, offload_run, job) != WORK_OK) {
        free(job);
        reply_busy(req);
    }
    return 1;
}

int app_offload(struct app *app, struct http_request *req, app_handler_fn fn, int64_t id)
{
    return app->store_remote ? offload(app, req, fn, id) : 0;
}

int app_offload_writer(struct app *app, struct http_request *req, app_handler_fn fn, int64_t id)
{
    return offload(app, req, fn, id);
}
