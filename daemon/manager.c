/* SPDX-License-Identifier: MIT */
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cdp/cloud-di.h"
#include "cdp/fileio.h"
#include "cdp/hooks.h"
#include "cdp/parse-util.h"
#include "ctl-server.h"
#include "log.h"
#include "manager.h"
#include "pattern.h"

#define TAG_RETRY_USEC (5 * USEC_PER_SEC)

static const LogFields cloud_di_fields = { .pattern = "cloud-di" };
static const LogFields tags_changed_fields = { .pattern = "cloud-di", .action = "tags-changed" };

static uint64_t now_realtime(void) {
        return clock_now(clock_real(), CLOCK_REALTIME);
}

/* ---- Cloud DI: files and hooks ---- */

static void on_hook_result(const char *name, int status, void *userdata) {
        Manager *m = userdata;
        const LogFields f = { .pattern = "cloud-di", .action = "hook", .resource = name };

        (void) m;
        if (status == 0)
                log_full_fields(LOG_INFO, 0, &f, "hook %s finished", name);
        else if (status == -ETIMEDOUT)
                log_full_fields(LOG_WARNING, 0, &f, "hook %s killed at its time limit, ignoring", name);
        else if (status < 0)
                log_full_fields(LOG_WARNING, status, &f, "hook %s failed, ignoring", name);
        else
                log_full_fields(LOG_WARNING, 0, &f, "hook %s exited with status %d, ignoring", name, status);
}

static void run_hooks(Manager *m);

static void on_hooks_done(unsigned n_run, unsigned n_failed, void *userdata) {
        Manager *m = userdata;

        m->hooks = NULL;
        m->hooks_run += n_run;
        m->hooks_failed += n_failed;
        if (m->hooks_again) {
                m->hooks_again = false;
                run_hooks(m);
        }
}

static void run_hooks(Manager *m) {
        _cleanup_free_ char *e_dir = NULL, *e_env = NULL, *e_id = NULL;
        int r;

        if (m->hooks) {
                /* Tags changed again while hooks ran: run them once more after. */
                m->hooks_again = true;
                return;
        }
        if (asprintf(&e_dir, "CDP_RUN_DIR=%s", m->config->run_dir) < 0 ||
            asprintf(&e_env, "CDP_ENV_FILE=%s/env", m->config->run_dir) < 0 ||
            asprintf(&e_id, "CDP_INSTANCE_ID=%s", m->aws->instance_id) < 0) {
                log_error_errno(-ENOMEM, "cannot run hooks");
                return;
        }
        const char *env[] = { e_dir, e_env, e_id, NULL };
        r = hooks_run(m->event, m->config->hooks_dir, "tags-changed", env, m->config->hook_timeout_usec,
                      on_hook_result, on_hooks_done, m, &m->hooks);
        if (r < 0)
                log_full_fields(LOG_WARNING, r, &cloud_di_fields, "cannot run hooks in %s, ignoring",
                                m->config->hooks_dir);
}

static int write_cloud_di_files(Manager *m, const TagList *tags, const Policy *policy) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT(1024 * 1024);
        _cleanup_free_ char *path = NULL;
        int r;

        r = cloud_di_env_file(&policy->env, &b);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/env", m->config->run_dir) < 0)
                return -ENOMEM;
        r = write_file_atomic(path, b.data, b.len, 0644);
        if (r < 0)
                return log_full_fields(LOG_ERR, r, &cloud_di_fields, "cannot write %s", path);

        free(path);
        if (asprintf(&path, "%s/tags.json", m->config->run_dir) < 0)
                return -ENOMEM;
        r = cloud_di_tags_json(m->aws->instance_id, (const char *const *) tags->keys,
                               (const char *const *) tags->values, tags->n, &b);
        if (r < 0)
                return r;
        r = write_file_atomic(path, b.data, b.len, 0644);
        if (r < 0)
                return log_full_fields(LOG_ERR, r, &cloud_di_fields, "cannot write %s", path);
        return 0;
}

/* ---- tags ---- */

static void reply_reload_waiters(Manager *m, bool ok, const char *detail) {
        for (size_t i = 0; i < m->n_reload_waiters; i++) {
                if (ok) {
                        struct json_object *o = json_object_new_object();
                        json_object_object_add(o, "tags_changed_at",
                                               json_object_new_int64((int64_t) (m->tags_changed_at / USEC_PER_SEC)));
                        json_object_object_add(o, "tags", json_object_new_int((int) (m->tags ? m->tags->n : 0)));
                        ctl_reply_ok(m->reload_waiters[i], o);
                } else
                        ctl_reply_error(m->reload_waiters[i], 1, "TagReadFailed", detail ? detail : "tag read failed");
        }
        m->reload_waiters = mfree(m->reload_waiters);
        m->n_reload_waiters = 0;
}

static void log_policy_errors(const Policy *p) {
        for (size_t i = 0; i < p->n_errors; i++) {
                const LogFields f = { .action = "policy", .resource = p->errors[i].tag };
                log_full_fields(LOG_WARNING, 0, &f, "tag %s", p->errors[i].reason);
        }
}

static void notify_patterns(Manager *m) {
        for (size_t i = 0; i < m->n_patterns; i++)
                if (m->patterns[i]->ops->policy_changed)
                        m->patterns[i]->ops->policy_changed(m->patterns[i]);
}

/* New tags: parse the policy; when the tags changed, rewrite the Cloud DI
 * files and run the hooks. `reparse` (after a reload) parses unchanged
 * tags again, since the prefix may have changed, without touching files. */
static void apply_tags(Manager *m, TagList *tags, bool reparse) {
        _cleanup_(tag_list_freep) TagList *owned = tags;
        _cleanup_(policy_freep) Policy *policy = NULL;
        _cleanup_free_ PolicyTag *ptags = NULL;
        bool changed;
        int r;

        m->tags_read_at = now_realtime();
        m->tag_reads++;
        m->tags_error = mfree(m->tags_error);
        changed = !m->tags || !tag_list_equal(m->tags, tags);
        if (!changed && !reparse)
                return;

        ptags = calloc(tags->n + 1, sizeof(PolicyTag));
        if (!ptags) {
                log_error_errno(-ENOMEM, "cannot apply tags");
                return;
        }
        for (size_t i = 0; i < tags->n; i++)
                ptags[i] = (PolicyTag) { tags->keys[i], tags->values[i] };
        r = policy_parse(ptags, tags->n, m->config->tag_prefix, &policy);
        if (r < 0) {
                log_error_errno(r, "cannot parse the tag policy");
                return;
        }
        log_policy_errors(policy);

        if (!changed) {
                policy_free(m->policy);
                m->policy = TAKE_PTR(policy);
                notify_patterns(m);
                return;
        }

        r = write_cloud_di_files(m, tags, policy);
        if (r < 0)
                return; /* logged; keep the old state so the next read tries again */

        tag_list_free(m->tags);
        m->tags = TAKE_PTR(owned);
        policy_free(m->policy);
        m->policy = TAKE_PTR(policy);
        m->tags_changed_at = m->tags_read_at;
        m->tag_changes++;
        log_full_fields(LOG_INFO, 0, &tags_changed_fields, "tags %s: %zu tags, %zu environment variables, %zu policy errors",
                        m->tag_changes == 1 ? "read" : "changed", m->tags->n, m->policy->env.n_vars,
                        m->policy->n_errors);
        run_hooks(m);
        notify_patterns(m);
}

static void arm_tag_timer(Manager *m, uint64_t delay) {
        int r;

        r = sd_event_source_set_time_relative(m->tag_timer, delay);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->tag_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "cannot arm the tag refresh timer");
}

static void notify_ready(Manager *m) {
        if (m->ready)
                return;
        m->ready = true;
        (void) sd_notifyf(false, "READY=1\nSTATUS=Running: %zu tags, policy applied", m->tags ? m->tags->n : 0);
        log_info("ready: instance %s in %s, control socket %s", m->aws->instance_id, m->aws->region,
                 m->config->control_socket);
}

static void start_tag_fetch(Manager *m);

static void on_tags(int error, TagList *tags, const char *detail, void *userdata) {
        Manager *m = userdata;
        bool reparse = m->force_reparse;

        m->tag_fetch = NULL;
        if (error < 0) {
                free(m->tags_error);
                m->tags_error = strdup(detail ? detail : strerror(-error));
                log_full_fields(LOG_WARNING, error, &cloud_di_fields, "cannot read tags (%s), keeping the last ones",
                                detail ? detail : "no detail");
                reply_reload_waiters(m, false, detail);
                arm_tag_timer(m, m->ready ? m->config->tag_refresh_usec : TAG_RETRY_USEC);
                return;
        }

        m->force_reparse = false;
        apply_tags(m, tags, reparse);
        reply_reload_waiters(m, m->tags_error == NULL, m->tags_error);
        if (m->policy)
                notify_ready(m);

        if (m->tag_refetch) {
                m->tag_refetch = false;
                start_tag_fetch(m);
                return;
        }
        arm_tag_timer(m, m->config->tag_refresh_usec);
}

static void start_tag_fetch(Manager *m) {
        int r;

        if (m->tag_fetch) {
                m->tag_refetch = true;
                return;
        }
        (void) sd_event_source_set_enabled(m->tag_timer, SD_EVENT_OFF);
        r = tag_fetch_start(m->aws->imds, m->aws->ec2, m->aws->instance_id, on_tags, m, &m->tag_fetch);
        if (r < 0) {
                log_error_errno(r, "cannot start a tag read");
                arm_tag_timer(m, TAG_RETRY_USEC);
        }
}

void manager_refresh_tags(Manager *m) {
        start_tag_fetch(m);
}

static int on_tag_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) s;
        (void) usec;
        start_tag_fetch(m);
        for (size_t i = 0; i < m->n_patterns; i++)
                if (m->patterns[i]->ops->refresh)
                        m->patterns[i]->ops->refresh(m->patterns[i]);
        return 0;
}

/* ---- credentials kept warm ---- */

static void arm_creds_timer(Manager *m);

static void on_creds_refreshed(int error, Credentials *c, void *userdata) {
        Manager *m = userdata;

        (void) c;
        if (error < 0)
                log_warning_errno(error, "cannot refresh instance role credentials, will retry");
        arm_creds_timer(m);
}

static int on_creds_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        (void) s;
        (void) usec;
        r = creds_get(m->aws->creds, true, on_creds_refreshed, m, NULL);
        if (r < 0) {
                log_warning_errno(r, "cannot refresh instance role credentials, will retry");
                arm_creds_timer(m);
        }
        return 0;
}

static void arm_creds_timer(Manager *m) {
        uint64_t due = creds_refresh_due(m->aws->creds), now = now_realtime();
        int r;

        if (creds_source(m->aws->creds) != CREDS_SOURCE_INSTANCE_ROLE || due == USEC_INFINITY)
                return;
        /* Not before a minute from now: a refresh that did not move the
         * expiry (IMDS still hands out the old set) must not spin. */
        if (due < now + 60 * USEC_PER_SEC)
                due = now + 60 * USEC_PER_SEC;
        r = sd_event_source_set_time(m->creds_timer, due);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->creds_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "cannot arm the credential refresh timer");
}

static void on_first_creds(int error, Credentials *c, void *userdata) {
        Manager *m = userdata;

        (void) c;
        if (error < 0)
                log_warning_errno(error, "no AWS credentials yet (%s), will retry",
                                  creds_source_name(m->aws->creds));
        else
                log_info("credentials: %s", creds_source_name(m->aws->creds));
        arm_creds_timer(m);
}

/* ---- control commands ---- */

static struct json_object *json_str(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static struct json_object *json_time(uint64_t usec) {
        char buf[RFC3339_UTC_STRING_MAX];

        if (usec == 0 || format_rfc3339_utc((time_t) (usec / USEC_PER_SEC), buf) < 0)
                return NULL;
        return json_object_new_string(buf);
}

struct StatusRequest {
        CtlRequest *req;
        struct json_object *result;
        unsigned pending;
        const char *name;
};

typedef struct StatusPart {
        struct StatusRequest *parent;
        const char *name;
} StatusPart;

static void status_part_finish(struct StatusRequest *sr) {
        if (--sr->pending > 0)
                return;
        ctl_reply_ok(sr->req, sr->result);
        free(sr);
}

void status_request_done(StatusRequest *part, struct json_object *section) {
        StatusPart *p = (StatusPart *) part;
        struct StatusRequest *sr = p->parent;

        if (section)
                json_object_object_add(sr->result, p->name, section);
        free(p);
        status_part_finish(sr);
}

static int ctl_status(void *userdata, CtlRequest *req, struct json_object *args) {
        Manager *m = userdata;
        struct json_object *o = json_object_new_object(), *patterns;
        struct StatusRequest *sr;
        char dur[DURATION_STRING_MAX];

        (void) args;
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(o, "ready", json_object_new_boolean(m->ready));
        json_object_object_add(o, "instance_id", json_str(m->aws->instance_id));
        json_object_object_add(o, "region", json_str(m->aws->region));
        json_object_object_add(o, "availability_zone", json_str(m->aws->availability_zone));
        json_object_object_add(o, "network_interface_id", json_str(m->aws->network_interface_id));
        json_object_object_add(o, "endpoint", json_str(m->aws->endpoint));
        json_object_object_add(o, "credentials_source", json_str(creds_source_name(m->aws->creds)));
        json_object_object_add(o, "tags_source",
                               m->tags ? json_str(m->tags->source == TAG_SOURCE_IMDS ? "imds" : "api") : NULL);
        json_object_object_add(o, "tags", json_object_new_int((int) (m->tags ? m->tags->n : 0)));
        json_object_object_add(o, "tags_read_at", json_time(m->tags_read_at));
        json_object_object_add(o, "tags_changed_at", json_time(m->tags_changed_at));
        json_object_object_add(o, "tags_error", json_str(m->tags_error));
        json_object_object_add(o, "tag_refresh", json_str(format_duration(m->config->tag_refresh_usec, dur)));
        json_object_object_add(o, "policy_errors",
                               json_object_new_int((int) (m->policy ? m->policy->n_errors : 0)));
        patterns = json_object_new_object();
        if (m->policy) {
                struct {
                        const char *name;
                        bool enabled, invalid;
                } p[] = {
                        { "snapshot", m->policy->snapshot.enabled, m->policy->snapshot.invalid },
                        { "cloud_di", m->policy->env.enabled, m->policy->env.invalid },
                        { "floating_ip", m->policy->floating_ip.enabled, m->policy->floating_ip.invalid },
                        { "routing_ha", m->policy->routing_ha.enabled, m->policy->routing_ha.invalid },
                        { "bastion", m->policy->bastion.enabled, m->policy->bastion.invalid },
                };
                for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                        struct json_object *e = json_object_new_object();
                        json_object_object_add(e, "enabled", json_object_new_boolean(p[i].enabled));
                        json_object_object_add(e, "invalid", json_object_new_boolean(p[i].invalid));
                        json_object_object_add(patterns, p[i].name, e);
                }
        }
        json_object_object_add(o, "patterns", patterns);

        /* Patterns may need a describe call for their part: reply when the
         * last one is in. */
        sr = calloc(1, sizeof(*sr));
        if (!sr) {
                json_object_put(o);
                return -ENOMEM;
        }
        sr->req = req;
        sr->result = o;
        sr->pending = 1;
        for (size_t i = 0; i < m->n_patterns; i++) {
                Pattern *p = m->patterns[i];
                StatusPart *part;

                if (!p->ops->status)
                        continue;
                part = calloc(1, sizeof(*part));
                if (!part)
                        continue;
                part->parent = sr;
                part->name = p->ops->name;
                sr->pending++;
                p->ops->status(p, (StatusRequest *) part);
        }
        status_part_finish(sr);
        return 0;
}

static int ctl_policy(void *userdata, CtlRequest *req, struct json_object *args) {
        Manager *m = userdata;
        struct json_object *o, *errors, *tags;
        int r;

        (void) args;
        if (!m->policy) {
                ctl_reply_error(req, 1, "NotReady", "the tags have not been read yet");
                return 0;
        }
        r = policy_to_json(m->policy, &o);
        if (r < 0)
                return r;
        /* errors at the top, as `cdpd --probe --json` has them */
        if (!json_object_object_get_ex(o, "errors", &errors))
                json_object_object_add(o, "errors", json_object_new_array());
        tags = json_object_new_object();
        for (size_t i = 0; i < m->tags->n; i++)
                json_object_object_add(tags, m->tags->keys[i], json_object_new_string(m->tags->values[i]));
        json_object_object_add(o, "tags", tags);
        ctl_reply_ok(req, o);
        return 0;
}

static int ctl_reload(void *userdata, CtlRequest *req, struct json_object *args) {
        Manager *m = userdata;
        _cleanup_free_ char *err = NULL;
        CtlRequest **n;
        int r;

        (void) args;
        r = manager_reload(m, &err);
        if (r < 0) {
                ctl_reply_error(req, 1, "InvalidConfig", err ? err : strerror(-r));
                return 0;
        }
        /* Answer once the tags have been read again, so the caller sees the
         * new env file when cdpctl returns. */
        n = realloc(m->reload_waiters, (m->n_reload_waiters + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        m->reload_waiters = n;
        m->reload_waiters[m->n_reload_waiters++] = req;
        return 0;
}

static const CtlCommand ctl_commands[] = {
        { .name = "policy", .handler = ctl_policy },
        { .name = "reload", .handler = ctl_reload },
        { .name = "status", .handler = ctl_status },
};

/* ---- reload ---- */

int manager_reload(Manager *m, char **reterr_message) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
                          (unsigned long long) clock_now(clock_real(), CLOCK_MONOTONIC));
        r = config_new(&c);
        if (r >= 0)
                r = config_load(c, m->config_path, !m->config_path_given, &err);
        if (r >= 0)
                r = config_validate(c, &err);
        if (r < 0) {
                log_error("config: %s; keeping the running configuration", err ? err : strerror(-r));
                (void) sd_notifyf(false, "READY=1\nSTATUS=Running; reload refused: %s", err ? err : strerror(-r));
                if (reterr_message)
                        *reterr_message = TAKE_PTR(err);
                return r;
        }

        /* These shape the running process; they change with a restart. */
#define KEEP(field)                                                                                        \
        do {                                                                                               \
                if ((c->field || m->config->field) &&                                                      \
                    (!c->field || !m->config->field || strcmp(c->field, m->config->field) != 0))            \
                        log_warning("config: %s changed; it takes effect when cdpd restarts", #field);     \
                free(c->field);                                                                            \
                c->field = m->config->field ? strdup(m->config->field) : NULL;                             \
        } while (0)
        KEEP(region);
        KEEP(ec2_endpoint);
        KEEP(run_dir);
        KEEP(control_socket);
        KEEP(control_group);
#undef KEEP
        /* The EC2 client was built with these. */
        if (c->max_attempts != m->config->max_attempts || c->api_timeout_usec != m->config->api_timeout_usec)
                log_warning("config: max_attempts or api_timeout changed; it takes effect when cdpd restarts");
        c->max_attempts = m->config->max_attempts;
        c->api_timeout_usec = m->config->api_timeout_usec;
        config_free(m->config);
        m->config = TAKE_PTR(c);
        log_set_max_level(log_parse_level(m->config->log_level));
        log_info("configuration reloaded from %s", m->config_path);

        /* A new tag prefix may change the policy even if the tags did not:
         * the next read parses them again whatever they are. */
        m->force_reparse = true;
        start_tag_fetch(m);
        (void) sd_notify(false, "READY=1\nSTATUS=Running");
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) s;
        (void) si;
        (void) manager_reload(userdata, NULL);
        return 0;
}

/* ---- life cycle ---- */

int manager_new(Manager **ret, Config *config, const char *config_path, bool config_path_given) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->config_path = strdup(config_path);
        if (!m->config_path)
                return -ENOMEM;
        m->config_path_given = config_path_given;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        m->config = config;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        reply_reload_waiters(m, false, "cdpd is stopping");
        for (size_t i = m->n_patterns; i > 0; i--) {
                Pattern *p = m->patterns[i - 1];
                if (p->ops->done)
                        p->ops->done(p);
                free(p);
        }
        free(m->patterns);
        free(m->ctl_table);
        hooks_cancel(m->hooks);
        tag_fetch_cancel(m->tag_fetch);
        sd_event_source_disable_unref(m->tag_timer);
        sd_event_source_disable_unref(m->creds_timer);
        ctl_server_free(m->ctl);
        tag_list_free(m->tags);
        policy_free(m->policy);
        free(m->tags_error);
        aws_context_free(m->aws);
        config_free(m->config);
        free(m->config_path);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

/* Creates every pattern and the control command table (the manager's
 * commands, then each pattern's, with the pattern as userdata). */
static int patterns_init(Manager *m) {
        size_t n_tab = 0, n_cmd = ELEMENTSOF(ctl_commands);
        int r;

        for (const PatternOps *const *o = pattern_table; *o; o++) {
                n_tab++;
                n_cmd += (*o)->n_commands;
        }
        m->patterns = calloc(n_tab + 1, sizeof(Pattern *));
        m->ctl_table = calloc(n_cmd, sizeof(CtlCommand));
        if (!m->patterns || !m->ctl_table)
                return log_error_errno(-ENOMEM, "cannot set up patterns");
        for (size_t i = 0; i < ELEMENTSOF(ctl_commands); i++)
                m->ctl_table[m->n_ctl_table++] = ctl_commands[i];

        for (size_t i = 0; i < n_tab; i++) {
                const PatternOps *ops = pattern_table[i];
                Pattern *p = calloc(1, ops->size);

                if (!p)
                        return log_error_errno(-ENOMEM, "cannot set up patterns");
                p->ops = ops;
                p->manager = m;
                if (ops->init) {
                        r = ops->init(p);
                        if (r < 0) {
                                free(p);
                                return log_error_errno(r, "cannot set up the %s pattern", ops->name);
                        }
                }
                m->patterns[m->n_patterns++] = p;
                for (size_t k = 0; k < ops->n_commands; k++)
                        m->ctl_table[m->n_ctl_table++] = (CtlCommand) {
                                .name = ops->commands[k].name,
                                .handler = ops->commands[k].handler,
                                .userdata = p,
                        };
        }
        return 0;
}

static gid_t resolve_group(const char *name) {
        struct group *g = getgrnam(name);

        if (!g) {
                /* No such group: the socket gets our own group, so only root
                 * and members of that group can use it. */
                log_warning("control_group \"%s\" does not exist; the control socket gets group %u",
                            name, (unsigned) getegid());
                return getegid();
        }
        return g->gr_gid;
}

int manager_run(Manager *m) {
        _cleanup_free_ char *err = NULL;
        gid_t gid;
        int r;

        log_set_max_level(log_parse_level(m->config->log_level));

        r = mkdir_safe(m->config->run_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create %s", m->config->run_dir);

        (void) sd_notify(false, "STATUS=Discovering the instance");
        r = aws_context_new(m->event, m->config, &m->aws, &err);
        if (r < 0)
                return log_error_errno(r, "cannot start: %s", err ? err : "unknown reason");
        log_info("instance %s, region %s (%s), EC2 endpoint %s", m->aws->instance_id, m->aws->region,
                 region_source_name(m->aws->region_source), m->aws->endpoint);

        r = patterns_init(m);
        if (r < 0)
                return r;

        gid = resolve_group(m->config->control_group);
        r = ctl_server_new(m->event, m->config->control_socket, gid, m->ctl_table, m->n_ctl_table, m, &m->ctl);
        if (r < 0)
                return log_error_errno(r, "cannot listen on %s", m->config->control_socket);

        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch signals");
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "cannot enable the watchdog");

        r = sd_event_add_time(m->event, &m->tag_timer, CLOCK_MONOTONIC, 0, USEC_PER_SEC, on_tag_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->tag_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(m->event, &m->creds_timer, CLOCK_REALTIME, 0, USEC_PER_SEC,
                                      on_creds_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->creds_timer, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "cannot set up timers");

        /* Fetch credentials now, so no later call (a takeover) waits for IMDS. */
        r = creds_get(m->aws->creds, false, on_first_creds, m, NULL);
        if (r < 0)
                log_warning_errno(r, "cannot fetch credentials, will retry");

        (void) sd_notify(false, "STATUS=Reading tags");
        start_tag_fetch(m);

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        if (r < 0)
                return log_error_errno(r, "event loop failed");
        log_info("stopped");
        return 0;
}
