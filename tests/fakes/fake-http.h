/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cdp/http.h"

/* A scripted HttpTransport for unit tests: each request takes the next
 * queued answer whose method and URL suffix match (in queue order) and
 * completes from the event loop, as the real transport does. Every request
 * is recorded. A request with no matching answer completes with
 * -ECONNREFUSED. */

typedef struct FakeHttp FakeHttp;

typedef struct FakeHttpRecord {
        char *method;
        char *url;
        char **headers;         /* NULL-terminated "Name: value" */
        char *body;
        size_t body_len;
} FakeHttpRecord;

/* Ownership: caller frees with fake_http_free(); the transport pointer from
 * fake_http_transport() is borrowed and dies with it. */
int fake_http_new(sd_event *event, FakeHttp **ret);
FakeHttp *fake_http_free(FakeHttp *f);
HttpTransport *fake_http_transport(FakeHttp *f);

/* Queue an answer. method NULL = any; url_suffix NULL = any. error != 0
 * completes with that transport error instead of an HTTP answer. */
void fake_http_push(FakeHttp *f, const char *method, const char *url_suffix, long status, const char *body,
                    int error);

size_t fake_http_count(const FakeHttp *f);
const FakeHttpRecord *fake_http_get(const FakeHttp *f, size_t i);
/* Value of header `name` (case-insensitive) in request i, or NULL. Borrowed. */
const char *fake_http_header(const FakeHttp *f, size_t i, const char *name);
/* Answers still queued. */
size_t fake_http_pending(const FakeHttp *f);
/* Requests currently in flight (submitted, not yet completed or cancelled). */
size_t fake_http_in_flight(const FakeHttp *f);
