/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "cdp/ec2.h"
#include "cdp/imds.h"
#include "cdp/macro.h"

/* The instance's own tags (SPEC 3): from IMDS tags/instance/ when instance
 * metadata tags are enabled, otherwise DescribeTags filtered on the instance
 * id (all pages). */

#define TAGS_MAX 64     /* AWS allows 50 user tags per resource */

typedef enum TagSource {
        TAG_SOURCE_IMDS,
        TAG_SOURCE_API,
} TagSource;

typedef struct TagList {
        char **keys;
        char **values;
        size_t n;
        TagSource source;
} TagList;

TagList *tag_list_free(TagList *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(TagList *, tag_list_free);

/* Borrowed value for key, or NULL. */
const char *tag_list_get(const TagList *l, const char *key);

/* Whether two lists hold the same key/value pairs (order ignored). */
bool tag_list_equal(const TagList *a, const TagList *b);

/* Sorts by key, so output and comparisons are stable. */
void tag_list_sort(TagList *l);

/* error 0: *tags is handed over (caller frees with tag_list_free()).
 * Otherwise a negative errno; detail (borrowed, may be NULL) says what failed,
 * e.g. "DescribeTags: UnauthorizedOperation: You are not authorized...". */
typedef void (*TagsDoneFn)(int error, TagList *tags, const char *detail, void *userdata);

typedef struct TagFetch TagFetch;

/* imds may be NULL (then DescribeTags is used). instance_id is copied; imds
 * and ec2 are borrowed. done runs from the event loop. ret (optional) is a
 * borrowed handle for tag_fetch_cancel(), valid until done runs. */
int tag_fetch_start(ImdsClient *imds, Ec2Client *ec2, const char *instance_id, TagsDoneFn done,
                    void *userdata, TagFetch **ret);
void tag_fetch_cancel(TagFetch *f);
