/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <systemd/sd-event.h>

#include "cdp/creds.h"
#include "cdp/parse-util.h"

Credentials *credentials_ref(Credentials *c) {
        if (c)
                c->n_ref++;
        return c;
}

Credentials *credentials_unref(Credentials *c) {
        if (!c || --c->n_ref > 0)
                return NULL;
        free(c->access_key_id);
        secret_free(c->secret_access_key);
        secret_free(c->session_token);
        free(c);
        return NULL;
}

static bool valid_key_id(const char *s) {
        size_t n = strlen(s);

        /* AWS key ids are 16..128 upper-case alphanumerics; test keys such as
         * AKIDEXAMPLE are shorter, so only the character set is enforced (it
         * keeps header injection out). */
        if (n == 0 || n > 128)
                return false;
        for (; *s; s++)
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

int credentials_new(Credentials **ret, const char *access_key_id, const char *secret, size_t secret_len,
                    const char *token, size_t token_len, uint64_t expiration) {
        _cleanup_(credentials_unrefp) Credentials *c = NULL;
        int r;

        if (!ret || !access_key_id || !secret || secret_len == 0)
                return -EINVAL;
        if (!valid_key_id(access_key_id))
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n_ref = 1;
        c->expiration = expiration;
        c->access_key_id = strdup(access_key_id);
        if (!c->access_key_id)
                return -ENOMEM;
        r = secret_new(&c->secret_access_key, secret, secret_len);
        if (r < 0)
                return r;
        if (token && token_len > 0) {
                r = secret_new(&c->session_token, token, token_len);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* json-c keeps its own copies of string values and a scratch buffer in the
 * tokener; wipe them before they are freed. */
static void json_wipe_string(struct json_object *o) {
        if (o && json_object_is_type(o, json_type_string)) {
                char *s = (char *) json_object_get_string(o);
                OPENSSL_cleanse(s, (size_t) json_object_get_string_len(o));
        }
}

static void json_tokener_free_wiped(struct json_tokener *tok) {
        if (!tok)
                return;
        if (tok->pb && tok->pb->buf && tok->pb->size > 0)
                OPENSSL_cleanse(tok->pb->buf, (size_t) tok->pb->size);
        json_tokener_free(tok);
}

static const char *json_get_str(struct json_object *root, const char *key, struct json_object **ret_obj) {
        struct json_object *o;

        if (!json_object_object_get_ex(root, key, &o) || !json_object_is_type(o, json_type_string))
                return NULL;
        if (ret_obj)
                *ret_obj = o;
        return json_object_get_string(o);
}

int credentials_parse_imds_json(const char *json, size_t len, Credentials **ret) {
        struct json_tokener *tok = NULL;
        struct json_object *root = NULL, *secret_obj = NULL, *token_obj = NULL;
        const char *code, *akid, *secret, *token, *expiration;
        time_t exp;
        int r;

        if (!json || !ret)
                return -EINVAL;
        if (len == 0 || len > IMDS_MAX_BODY)
                return -EBADMSG;

        tok = json_tokener_new_ex(8);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = json_tokener_parse_ex(tok, json, (int) len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len || !json_object_is_type(root, json_type_object)) {
                r = -EBADMSG;
                goto finish;
        }

        code = json_get_str(root, "Code", NULL);
        akid = json_get_str(root, "AccessKeyId", NULL);
        secret = json_get_str(root, "SecretAccessKey", &secret_obj);
        token = json_get_str(root, "Token", &token_obj);
        expiration = json_get_str(root, "Expiration", NULL);
        if (!code || strcmp(code, "Success") != 0 || !akid || !secret || !*secret || !token || !*token ||
            !expiration) {
                r = -EBADMSG;
                goto finish;
        }
        if (parse_rfc3339_utc(expiration, &exp) < 0 || exp <= 0) {
                r = -EBADMSG;
                goto finish;
        }
        r = credentials_new(ret, akid, secret, strlen(secret), token, strlen(token),
                            (uint64_t) exp * USEC_PER_SEC);
        if (r == -EINVAL)
                r = -EBADMSG;

finish:
        json_wipe_string(secret_obj);
        json_wipe_string(token_obj);
        json_object_put(root);
        json_tokener_free_wiped(tok);
        return r;
}

struct CredsWaiter {
        CredsDoneFn done;
        void *userdata;
        struct CredsWaiter *next;
};

struct CredsProvider {
        sd_event *event;
        ImdsClient *imds;
        const Clock *clock;
        CredsSource source;
        char *role;
        char *source_name;
        Credentials *current;
        bool fetching;
        ImdsRequest *imds_req;          /* the IMDS GET in flight, if any */
        unsigned refreshes;
        int pending_error;              /* result for the deferred delivery */
        sd_event_source *defer;
        CredsWaiter *waiters;
        CredsWaiter *delivering;
};

static void deliver(CredsProvider *p, int error) {
        _cleanup_(credentials_unrefp) Credentials *c = credentials_ref(p->current);

        /* Serve the waiters present now; a callback may cancel one of them
         * (creds_cancel looks in `delivering` too) or queue a new one, which
         * waits for its own result. */
        p->delivering = p->waiters;
        p->waiters = NULL;
        while (p->delivering) {
                CredsWaiter *w = p->delivering;

                p->delivering = w->next;
                w->done(error, error == 0 ? c : NULL, w->userdata);
                free(w);
        }
}

static int on_defer(sd_event_source *s, void *userdata) {
        CredsProvider *p = userdata;

        (void) s;
        p->defer = sd_event_source_disable_unref(p->defer);
        /* A fetch started meanwhile (a forced refresh): every waiter gets
         * its result, so no one who asked for new credentials gets old ones. */
        if (p->fetching)
                return 0;
        deliver(p, p->pending_error);
        return 0;
}

static int schedule_delivery(CredsProvider *p, int error) {
        int r;

        p->pending_error = error;
        if (p->defer)
                return 0;
        r = sd_event_add_defer(p->event, &p->defer, on_defer, p);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(p->defer, "creds-deliver");
        return 0;
}

static bool creds_fresh(CredsProvider *p) {
        if (!p->current)
                return false;
        if (p->current->expiration == 0)
                return true;
        return clock_now(p->clock, CLOCK_REALTIME) + CREDS_REFRESH_MARGIN_USEC < p->current->expiration;
}

static bool creds_still_valid(CredsProvider *p) {
        if (!p->current)
                return false;
        return p->current->expiration == 0 || clock_now(p->clock, CLOCK_REALTIME) < p->current->expiration;
}

static void fetch_finish(CredsProvider *p, int error) {
        p->fetching = false;
        p->imds_req = NULL;
        /* A failed refresh is not fatal while the old set still works. */
        if (error < 0 && creds_still_valid(p))
                error = 0;
        deliver(p, error);
}

static void on_role_creds(int error, const char *body, size_t len, void *userdata) {
        CredsProvider *p = userdata;
        Credentials *c = NULL;

        p->imds_req = NULL;
        if (error == -ENOENT) {
                /* The role was replaced on the instance profile: rediscover next time. */
                p->role = mfree(p->role);
        }
        if (error == 0)
                error = credentials_parse_imds_json(body, len, &c);
        if (error == 0) {
                credentials_unref(p->current);
                p->current = c;
                p->refreshes++;
        }
        fetch_finish(p, error == -ENOENT ? -ENOKEY : error);
}

static int fetch_role_creds(CredsProvider *p) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "meta-data/iam/security-credentials/%s", p->role) < 0)
                return -ENOMEM;
        return imds_get(p->imds, path, true, on_role_creds, p, &p->imds_req);
}

static void on_role_name(int error, const char *body, size_t len, void *userdata) {
        CredsProvider *p = userdata;
        size_t n = 0;
        int r;

        p->imds_req = NULL;
        if (error < 0) {
                fetch_finish(p, error == -ENOENT ? -ENOKEY : error);
                return;
        }
        /* The first line names the role; it must be a plain IAM name. */
        while (n < len && body[n] != '\n' && body[n] != '\r')
                n++;
        if (n == 0 || n > 64) {
                fetch_finish(p, -EBADMSG);
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-", body[i])) {
                        fetch_finish(p, -EBADMSG);
                        return;
                }
        free(p->role);
        p->role = strndup(body, n);
        free(p->source_name);
        p->source_name = NULL;
        if (!p->role || asprintf(&p->source_name, "instance-role:%s", p->role) < 0) {
                p->source_name = NULL;
                fetch_finish(p, -ENOMEM);
                return;
        }
        r = fetch_role_creds(p);
        if (r < 0)
                fetch_finish(p, r);
}

static int fetch_start(CredsProvider *p) {
        if (p->fetching)
                return 0;
        p->fetching = true;
        if (p->role)
                return fetch_role_creds(p);
        return imds_get(p->imds, "meta-data/iam/security-credentials/", false, on_role_name, p,
                        &p->imds_req);
}

int creds_get(CredsProvider *p, bool force_refresh, CredsDoneFn done, void *userdata,
              CredsWaiter **ret_waiter) {
        CredsWaiter *w;
        int r;

        if (!p || !done)
                return -EINVAL;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->done = done;
        w->userdata = userdata;
        w->next = p->waiters;
        p->waiters = w;

        if (p->source == CREDS_SOURCE_ENVIRONMENT || (!p->imds && !p->current))
                r = schedule_delivery(p, p->current ? 0 : -ENOKEY);
        else if (!force_refresh && !p->fetching && creds_fresh(p))
                r = schedule_delivery(p, 0);
        else
                r = fetch_start(p);
        if (r < 0) {
                p->waiters = w->next;
                free(w);
                p->fetching = false;
                return r;
        }
        if (ret_waiter)
                *ret_waiter = w;
        return 0;
}

static bool waiter_unlink(CredsWaiter **list, CredsWaiter *w) {
        for (CredsWaiter **i = list; *i; i = &(*i)->next)
                if (*i == w) {
                        *i = w->next;
                        return true;
                }
        return false;
}

void creds_cancel(CredsProvider *p, CredsWaiter *w) {
        if (!w)
                return;
        if (waiter_unlink(&p->waiters, w) || waiter_unlink(&p->delivering, w))
                free(w);
}

Credentials *creds_peek(CredsProvider *p) {
        return creds_fresh(p) ? p->current : NULL;
}

CredsSource creds_source(const CredsProvider *p) {
        return p->source;
}

const char *creds_source_name(const CredsProvider *p) {
        if (p->source == CREDS_SOURCE_ENVIRONMENT)
                return "environment";
        if (p->source == CREDS_SOURCE_INSTANCE_ROLE)
                /* The role's name is known after the first fetch. */
                return p->source_name ? p->source_name : "instance-role";
        return "none";
}

uint64_t creds_refresh_due(const CredsProvider *p) {
        if (!p->current || p->current->expiration == 0)
                return p->current ? USEC_INFINITY : 0;
        if (p->current->expiration < CREDS_EARLY_REFRESH_USEC)
                return 0;
        return p->current->expiration - CREDS_EARLY_REFRESH_USEC;
}

unsigned creds_refresh_count(const CredsProvider *p) {
        return p->refreshes;
}

int creds_provider_new(CredsProvider **ret, sd_event *event, ImdsClient *imds, const Clock *clock) {
        _cleanup_(creds_provider_freep) CredsProvider *p = NULL;
        const char *akid, *secret, *token;
        int r;

        if (!ret || !event)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->event = sd_event_ref(event);
        p->imds = imds;
        p->clock = clock ? clock : clock_real();

        akid = secure_getenv("AWS_ACCESS_KEY_ID");
        secret = secure_getenv("AWS_SECRET_ACCESS_KEY");
        token = secure_getenv("AWS_SESSION_TOKEN");
        if (akid && *akid && secret && *secret) {
                r = credentials_new(&p->current, akid, secret, strlen(secret), token,
                                    token ? strlen(token) : 0, 0);
                if (r < 0)
                        return r;
                p->source = CREDS_SOURCE_ENVIRONMENT;
        } else if (imds)
                p->source = CREDS_SOURCE_INSTANCE_ROLE;

        *ret = TAKE_PTR(p);
        return 0;
}

CredsProvider *creds_provider_free(CredsProvider *p) {
        if (!p)
                return NULL;
        while (p->waiters) {
                CredsWaiter *w = p->waiters;
                p->waiters = w->next;
                free(w);
        }
        imds_cancel(p->imds_req);
        sd_event_source_disable_unref(p->defer);
        credentials_unref(p->current);
        free(p->role);
        free(p->source_name);
        sd_event_unref(p->event);
        free(p);
        return NULL;
}
