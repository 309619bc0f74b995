#include "api/app.h"

#include <string.h>
#include <time.h>

const struct jws_key *app_key_lookup(void *ctx, const char *kid)
{
    const struct app *app = ctx;
    const char *signing_kid = jws_key_kid(app->signing_key);

    /* A token without kid is tried against the signing key only; one with a
     * kid must name a key latch holds. */
    if (kid == NULL)
        return app->signing_key;
    if (signing_kid != NULL && strcmp(kid, signing_kid) == 0)
        return app->signing_key;
    return NULL;
}

int64_t app_now(void)
{
    return (int64_t)time(NULL);
}
