/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cdp/clock.h"
#include "cdp/imds.h"
#include "cdp/secret.h"

/* AWS credentials chain (SPEC 3): the environment first
 * (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), then the
 * instance role from IMDS. Role credentials are refreshed CREDS_REFRESH_MARGIN
 * before their Expiration; if a refresh fails while the old ones are still
 * valid, the old ones keep being used. */

#define CREDS_REFRESH_MARGIN_USEC (5 * 60 * USEC_PER_SEC)
/* The daemon refreshes ahead of the hard margin so a takeover never waits. */
#define CREDS_EARLY_REFRESH_USEC (15 * 60 * USEC_PER_SEC)

/* One immutable set of credentials; shared by reference so a request being
 * signed keeps its set while a refresh installs the next. */
typedef struct Credentials {
        unsigned n_ref;
        char *access_key_id;
        Secret *secret_access_key;
        Secret *session_token;          /* NULL for long-term keys */
        uint64_t expiration;            /* CLOCK_REALTIME usec; 0 = does not expire */
} Credentials;

Credentials *credentials_ref(Credentials *c);
Credentials *credentials_unref(Credentials *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Credentials *, credentials_unref);

/* Ownership: caller owns one reference of *ret. secret and token are copied. */
int credentials_new(Credentials **ret, const char *access_key_id, const char *secret, size_t secret_len,
                    const char *token, size_t token_len, uint64_t expiration);

/* Parses the JSON of IMDS iam/security-credentials/<role> (Code "Success",
 * AccessKeyId, SecretAccessKey, Token, Expiration). Wipes the parser's copies
 * of the secrets. -EBADMSG for anything malformed or not "Success".
 * Ownership: caller owns one reference of *ret. */
int credentials_parse_imds_json(const char *json, size_t len, Credentials **ret);

typedef enum CredsSource {
        CREDS_SOURCE_NONE,
        CREDS_SOURCE_ENVIRONMENT,
        CREDS_SOURCE_INSTANCE_ROLE,
} CredsSource;

typedef struct CredsProvider CredsProvider;
typedef struct CredsWaiter CredsWaiter;

/* error 0: creds is a borrowed reference valid for the callback (take your
 * own with credentials_ref()). -ENOKEY: no source has credentials. */
typedef void (*CredsDoneFn)(int error, Credentials *creds, void *userdata);

/* Environment credentials are read here, once. imds may be NULL (then only
 * the environment counts). Ownership: caller frees *ret with
 * creds_provider_free(); imds and clock are borrowed. */
int creds_provider_new(CredsProvider **ret, sd_event *event, ImdsClient *imds, const Clock *clock);
CredsProvider *creds_provider_free(CredsProvider *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(CredsProvider *, creds_provider_free);

/* The current credentials if they need no refresh now (borrowed), else NULL.
 * ret_waiter (creds_get, optional) is borrowed until the callback runs. */
Credentials *creds_peek(CredsProvider *p);

/* Current credentials, refreshing from IMDS first when needed (or when
 * force_refresh, e.g. after AWS said RequestExpired). done runs from the
 * event loop (never inside this call); concurrent callers share one fetch. */
int creds_get(CredsProvider *p, bool force_refresh, CredsDoneFn done, void *userdata,
              CredsWaiter **ret_waiter);

/* Withdraws a waiter from creds_get(): its callback will not run. NULL-safe. */
void creds_cancel(CredsProvider *p, CredsWaiter *w);

CredsSource creds_source(const CredsProvider *p);
/* "environment", "instance-role:<name>", or "none". Borrowed. */
const char *creds_source_name(const CredsProvider *p);
/* CLOCK_REALTIME usec at which a refresh is due; USEC_INFINITY if never. */
uint64_t creds_refresh_due(const CredsProvider *p);
unsigned creds_refresh_count(const CredsProvider *p);
