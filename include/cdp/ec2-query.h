/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cdp/macro.h"
#include "cdp/strbuf.h"

/* An EC2 Query API request: Action, Version and the flattened parameters, as
 * the EC2 protocol names them (Filter.1.Name, Filter.1.Value.1,
 * TagSpecification.1.Tag.1.Key, InstanceId.1, ...). Knows nothing of HTTP. */

#define EC2_API_VERSION "2016-11-15"
#define EC2_QUERY_MAX_PARAMS 1024

typedef struct Ec2Query Ec2Query;

/* Ownership: caller frees *ret with ec2_query_free(). */
int ec2_query_new(Ec2Query **ret, const char *action);
Ec2Query *ec2_query_free(Ec2Query *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ec2Query *, ec2_query_free);

const char *ec2_query_action(const Ec2Query *q);

/* Sets name=value, replacing an earlier value of the same name (NextToken
 * on the next page). Both are copied. */
int ec2_query_set(Ec2Query *q, const char *name, const char *value);
int ec2_query_setf(Ec2Query *q, const char *value, const char *name_fmt, ...) _printf_(3, 4);
int ec2_query_set_bool(Ec2Query *q, const char *name, bool value);
int ec2_query_set_uint(Ec2Query *q, const char *name, unsigned long long value);

/* The value set for name, or NULL. Borrowed. */
const char *ec2_query_get(const Ec2Query *q, const char *name);
void ec2_query_unset(Ec2Query *q, const char *name);

/* <prefix>.1 .. <prefix>.n, e.g. InstanceId.1. */
int ec2_query_add_list(Ec2Query *q, const char *prefix, const char *const *values, size_t n);

/* Next Filter.N with Name and Value.1..n. */
int ec2_query_add_filter(Ec2Query *q, const char *name, const char *const *values, size_t n);

/* Next TagSpecification.N with ResourceType and Tag.M.Key/Value. */
int ec2_query_add_tag_spec(Ec2Query *q, const char *resource_type, const char *const *keys,
                           const char *const *values, size_t n);

/* DryRun=true: AWS checks permissions and answers DryRunOperation. */
int ec2_query_set_dry_run(Ec2Query *q, bool dry_run);
bool ec2_query_is_dry_run(const Ec2Query *q);

/* Idempotent requests (every Describe*, ReplaceRoute, AssociateAddress with
 * AllowReassociation, ...) may be retried after an ambiguous failure: a
 * dropped connection, a timeout or a garbled answer. Others are retried
 * only when AWS said it did not act (throttling, 5xx with an error code).
 * Default: Describe* true, everything else false. */
void ec2_query_set_idempotent(Ec2Query *q, bool idempotent);
bool ec2_query_is_idempotent(const Ec2Query *q);

/* application/x-www-form-urlencoded body: Action=..&Version=..&<params in
 * the order they were set>, percent-encoded as SigV4 expects. */
int ec2_query_encode(const Ec2Query *q, StrBuf *out);

size_t ec2_query_count(const Ec2Query *q);
