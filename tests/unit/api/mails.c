/* src/api/mails.c: the links in mails (issue 11): the default puts the
 * token in the fragment under LATCH_PUBLIC_URL; a template replaces every
 * {token}; a link that does not fit is refused, never cut. */
#include "test.h"

#include "api/mails.h"
#include "config.h"

#include <string.h>

TEST(mails_default_links_carry_the_token_in_the_fragment)
{
    static struct config cfg;
    char link[LATCH_MAX_MAIL_LINK_BYTES];

    config_defaults(&cfg);
    snprintf(cfg.public_url, sizeof(cfg.public_url), "https://app.example.com/");
    CHECK_INT(mails_link(&cfg, MAILS_RESET, "TOK", link, sizeof(link)), 0);
    CHECK_STR(link, "https://app.example.com/reset#token=TOK");
    CHECK_INT(mails_link(&cfg, MAILS_VERIFY, "TOK", link, sizeof(link)), 0);
    CHECK_STR(link, "https://app.example.com/verify-email#token=TOK");
}

TEST(mails_templates_replace_every_token)
{
    static struct config cfg;
    char link[LATCH_MAX_MAIL_LINK_BYTES], tiny[20];

    config_defaults(&cfg);
    snprintf(cfg.reset_url, sizeof(cfg.reset_url), "https://a.example/r?t={token}&again={token}");
    snprintf(cfg.verify_url, sizeof(cfg.verify_url), "https://a.example/v/{token}/done");
    CHECK_INT(mails_link(&cfg, MAILS_RESET, "XY", link, sizeof(link)), 0);
    CHECK_STR(link, "https://a.example/r?t=XY&again=XY");
    CHECK_INT(mails_link(&cfg, MAILS_VERIFY, "XY", link, sizeof(link)), 0);
    CHECK_STR(link, "https://a.example/v/XY/done");
    CHECK_INT(mails_link(&cfg, MAILS_VERIFY, "XY", tiny, sizeof(tiny)), -1);
}
