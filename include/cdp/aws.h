/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "cdp/config.h"
#include "cdp/creds.h"
#include "cdp/ec2.h"
#include "cdp/http.h"
#include "cdp/imds.h"

/* Everything needed to talk to AWS as this instance: transport, IMDS,
 * credentials, EC2 client, and the instance's identity (SPEC 3 resolution
 * order for region, endpoint and credentials). Built once at start-up, so a
 * later takeover needs no IMDS call. */

typedef enum RegionSource {
        REGION_SOURCE_ENV_AWS_REGION,
        REGION_SOURCE_ENV_AWS_DEFAULT_REGION,
        REGION_SOURCE_CONFIG,
        REGION_SOURCE_IMDS,
} RegionSource;

typedef struct AwsContext {
        sd_event *event;
        HttpTransport *transport;
        ImdsClient *imds;               /* NULL when AWS_EC2_METADATA_DISABLED=true */
        CredsProvider *creds;
        Ec2Client *ec2;
        char *region;
        RegionSource region_source;
        char *endpoint;                 /* the EC2 endpoint for region */
        char *instance_id;
        char *availability_zone;
        char *mac;
        char *network_interface_id;
        char *local_ipv4;
} AwsContext;

/* Runs the event loop until *done is true or timeout_usec passed
 * (-ETIMEDOUT). Only outside event callbacks (start-up, one-shot tools). */
int event_run_until(sd_event *event, const bool *done, uint64_t timeout_usec);

/* Builds the context and discovers the identity from IMDS, running the loop
 * itself (call before the main loop starts). On failure *reterr_message says
 * why in one line (caller frees). Ownership: caller frees *ret with
 * aws_context_free(); it holds a reference on event. */
int aws_context_new(sd_event *event, const Config *config, AwsContext **ret, char **reterr_message);
AwsContext *aws_context_free(AwsContext *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AwsContext *, aws_context_free);

const char *region_source_name(RegionSource s);

/* Synchronous IMDS GET for start-up code (runs the loop). Ownership: caller
 * frees *ret (NUL-terminated, trailing newline removed). */
int imds_get_sync(sd_event *event, ImdsClient *imds, const char *path, char **ret);
