/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "cdp/aws.h"
#include "cdp/clock.h"
#include "cdp/parse-util.h"

int event_run_until(sd_event *event, const bool *done, uint64_t timeout_usec) {
        /* The clock itself, not sd_event_now(): that is the time of the
         * loop's last iteration, which may be long ago for a caller that did
         * other work in between. */
        uint64_t start = clock_now(clock_real(), CLOCK_MONOTONIC), now;
        int r;

        while (!*done) {
                now = clock_now(clock_real(), CLOCK_MONOTONIC);
                if (now - start >= timeout_usec)
                        return -ETIMEDOUT;
                r = sd_event_run(event, timeout_usec - (now - start));
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct SyncGet {
        bool done;
        int error;
        char *body;
} SyncGet;

static void on_sync_get(int error, const char *body, size_t len, void *userdata) {
        SyncGet *s = userdata;

        s->done = true;
        s->error = error;
        if (error == 0) {
                while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
                        len--;
                s->body = strndup(body, len);
                if (!s->body)
                        s->error = -ENOMEM;
        }
}

int imds_get_sync(sd_event *event, ImdsClient *imds, const char *path, char **ret) {
        SyncGet s = {};
        ImdsRequest *req = NULL;
        int r;

        r = imds_get(imds, path, false, on_sync_get, &s, &req);
        if (r < 0)
                return r;
        r = event_run_until(event, &s.done, 30 * USEC_PER_SEC);
        if (r < 0) {
                if (!s.done)
                        imds_cancel(req);
                free(s.body);
                return r;
        }
        if (s.error < 0)
                return s.error;
        *ret = s.body;
        return 0;
}

const char *region_source_name(RegionSource s) {
        switch (s) {
        case REGION_SOURCE_ENV_AWS_REGION:
                return "environment (AWS_REGION)";
        case REGION_SOURCE_ENV_AWS_DEFAULT_REGION:
                return "environment (AWS_DEFAULT_REGION)";
        case REGION_SOURCE_CONFIG:
                return "config";
        case REGION_SOURCE_IMDS:
                return "imds";
        }
        return "unknown";
}

static int errmsg(char **ret, int error, const char *fmt, ...) _printf_(3, 4);
static int errmsg(char **ret, int error, const char *fmt, ...) {
        va_list ap;

        if (!ret)
                return error;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
        return error;
}

static const char *imds_strerror(int error) {
        switch (error) {
        case -EHOSTDOWN:
                return "instance metadata service unreachable";
        case -ETIMEDOUT:
                return "instance metadata service timed out";
        case -EACCES:
                return "instance metadata service refused the token";
        case -ENOENT:
                return "not found in instance metadata";
        default:
                return strerror(-error);
        }
}

/* An IMDS value that must be there; says which one when it is not. */
static int imds_require(AwsContext *c, const char *path, char **ret, char **reterr) {
        int r = imds_get_sync(c->event, c->imds, path, ret);
        if (r < 0)
                return errmsg(reterr, r, "IMDS %s: %s", path, imds_strerror(r));
        return 0;
}

static int resolve_identity(AwsContext *c, char **reterr) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = imds_require(c, "meta-data/instance-id", &c->instance_id, reterr);
        if (r < 0)
                return r;
        if (!valid_aws_id(c->instance_id, "i"))
                return errmsg(reterr, -EBADMSG, "IMDS meta-data/instance-id: \"%s\" is not an instance id",
                              c->instance_id);
        r = imds_require(c, "meta-data/placement/availability-zone", &c->availability_zone, reterr);
        if (r < 0)
                return r;
        r = imds_require(c, "meta-data/mac", &c->mac, reterr);
        if (r < 0)
                return r;
        if (strlen(c->mac) != 17 || strspn(c->mac, "0123456789abcdef:") != 17)
                return errmsg(reterr, -EBADMSG, "IMDS meta-data/mac: \"%s\" is not a MAC address", c->mac);
        if (asprintf(&path, "meta-data/network/interfaces/macs/%s/interface-id", c->mac) < 0)
                return -ENOMEM;
        r = imds_require(c, path, &c->network_interface_id, reterr);
        if (r < 0)
                return r;
        if (!valid_aws_id(c->network_interface_id, "eni"))
                return errmsg(reterr, -EBADMSG, "IMDS %s: \"%s\" is not a network interface id", path,
                              c->network_interface_id);
        r = imds_get_sync(c->event, c->imds, "meta-data/local-ipv4", &c->local_ipv4);
        if (r < 0 && r != -ENOENT)
                return errmsg(reterr, r, "IMDS meta-data/local-ipv4: %s", imds_strerror(r));
        return 0;
}

static int resolve_region(AwsContext *c, const Config *config, char **reterr) {
        const char *e;
        int r;

        if ((e = secure_getenv("AWS_REGION")) && *e)
                c->region_source = REGION_SOURCE_ENV_AWS_REGION;
        else if ((e = secure_getenv("AWS_DEFAULT_REGION")) && *e)
                c->region_source = REGION_SOURCE_ENV_AWS_DEFAULT_REGION;
        else if ((e = config->region))
                c->region_source = REGION_SOURCE_CONFIG;
        if (e) {
                c->region = strdup(e);
                if (!c->region)
                        return -ENOMEM;
        } else {
                if (!c->imds)
                        return errmsg(reterr, -ENXIO,
                                      "no region: set AWS_REGION or config region (instance metadata is disabled)");
                c->region_source = REGION_SOURCE_IMDS;
                r = imds_require(c, "meta-data/placement/region", &c->region, reterr);
                if (r < 0)
                        return r;
        }
        if (!valid_aws_region(c->region))
                return errmsg(reterr, -EINVAL, "region \"%s\" (from %s) is not a region name", c->region,
                              region_source_name(c->region_source));
        return 0;
}

int aws_context_new(sd_event *event, const Config *config, AwsContext **ret, char **reterr_message) {
        _cleanup_(aws_context_freep) AwsContext *c = NULL;
        const char *imds_endpoint = NULL;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);

        r = http_curl_new(event, &c->transport);
        if (r < 0)
                return errmsg(reterr_message, r, "cannot set up HTTP: %s", strerror(-r));

        r = imds_endpoint_from_env(&imds_endpoint);
        if (r >= 0) {
                ImdsConfig ic = { .endpoint = imds_endpoint };

                r = imds_client_new(&c->imds, event, c->transport, NULL, &ic);
                if (r < 0)
                        return errmsg(reterr_message, r, "AWS_EC2_METADATA_SERVICE_ENDPOINT \"%s\": %s",
                                      imds_endpoint, strerror(-r));
        }

        if (!c->imds)
                return errmsg(reterr_message, -ENXIO,
                              "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true): cdpd needs it to know which instance it runs on");

        r = resolve_region(c, config, reterr_message);
        if (r < 0)
                return r;
        r = resolve_identity(c, reterr_message);
        if (r < 0)
                return r;

        r = ec2_endpoint_resolve(config->ec2_endpoint, c->region, &c->endpoint);
        if (r < 0)
                return errmsg(reterr_message, r, "EC2 endpoint: %s", strerror(-r));

        r = creds_provider_new(&c->creds, event, c->imds, NULL);
        if (r < 0)
                return errmsg(reterr_message, r, "credentials from the environment: %s",
                              r == -EINVAL ? "AWS_ACCESS_KEY_ID is not an access key id" : strerror(-r));

        Ec2ClientConfig ec = {
                .region = c->region,
                .endpoint = config->ec2_endpoint,
                .max_attempts = config->max_attempts,
                .timeout_usec = config->api_timeout_usec,
        };
        r = ec2_client_new(&c->ec2, event, c->transport, c->creds, NULL, &ec);
        if (r < 0)
                return errmsg(reterr_message, r, "EC2 client: %s", strerror(-r));

        *ret = TAKE_PTR(c);
        return 0;
}

AwsContext *aws_context_free(AwsContext *c) {
        if (!c)
                return NULL;
        ec2_client_free(c->ec2);
        creds_provider_free(c->creds);
        imds_client_free(c->imds);
        http_transport_free(c->transport);
        free(c->region);
        free(c->endpoint);
        free(c->instance_id);
        free(c->availability_zone);
        free(c->mac);
        free(c->network_interface_id);
        free(c->local_ipv4);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
