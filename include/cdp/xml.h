/* SPDX-License-Identifier: MIT */
#pragma once

/* A thin, bounded streaming wrapper over expat.
 *
 * The wrapper hands out element events with the whole element stack (local
 * names, namespace stripped) so callers can match on paths, and delivers the
 * text of leaf elements in one piece at the end tag. It never builds a tree.
 *
 * What it refuses, so that hostile or broken answers fail cleanly:
 *   - any DOCTYPE (and with it every entity declaration: billion laughs,
 *     external entities)                                     -> -EBADMSG
 *   - malformed, truncated or empty documents, undeclared
 *     namespace prefixes                                     -> -EBADMSG
 *   - nesting deeper than XML_PARSER_DEPTH_MAX               -> -E2BIG
 *   - one text node longer than XML_PARSER_TEXT_MAX bytes    -> -E2BIG
 *   - more input than the configured maximum                 -> -E2BIG
 * A handler returning a negative errno stops parsing; that value is returned.
 * Errors are sticky: once a call failed, every later feed/finish returns the
 * same error. */

#include <stdbool.h>
#include <stddef.h>

#include "cdp/macro.h"

#define XML_PARSER_DEPTH_MAX 32U
#define XML_PARSER_TEXT_MAX (64U * 1024U)
#define XML_PARSER_INPUT_MAX_DEFAULT (16U * 1024U * 1024U)

typedef struct XmlParser XmlParser;

/* path[0] is the root element, path[depth - 1] the current one; the strings
 * and the array are borrowed for the duration of the call only. */
typedef struct XmlHandlers {
        /* Optional. Called at each start tag. */
        int (*element_start)(void *userdata, const char *const *path, size_t depth);
        /* Optional. Called at each end tag. For a leaf element (no child
         * elements) text is its character data, entities decoded,
         * NUL-terminated, possibly empty ("" for <a/>). For an element with
         * children text is NULL (whitespace between children is dropped). */
        int (*element_end)(void *userdata, const char *const *path, size_t depth,
                           const char *text, size_t text_len);
} XmlHandlers;

/* Create a parser. The handlers are copied; userdata is borrowed.
 * Ownership: caller frees *ret with xml_parser_free(). */
int xml_parser_new(XmlParser **ret, const XmlHandlers *handlers, void *userdata);

/* Cap on the total number of bytes fed (default XML_PARSER_INPUT_MAX_DEFAULT).
 * Must be called before the first feed: -EBUSY afterwards; -EINVAL for 0. */
int xml_parser_set_max_input(XmlParser *p, size_t max);

/* Parse the next chunk; any split of the input gives the same events. */
int xml_parser_feed(XmlParser *p, const void *buf, size_t len);

/* Declare the end of input. Fails with -EBADMSG unless exactly one root
 * element was opened and closed. After finish the parser accepts no more
 * input (-EINVAL). */
int xml_parser_finish(XmlParser *p);

XmlParser *xml_parser_free(XmlParser *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(XmlParser *, xml_parser_free);

/* One-shot: new + feed + finish + free, with the default limits. */
int xml_parse_buffer(const void *buf, size_t len, const XmlHandlers *handlers, void *userdata);

/* True when path[from .. depth-1] equals the '/'-separated pattern, e.g.
 * xml_path_match(path, depth, 1, "tagSet/item/key"). An empty pattern matches
 * when from == depth. */
bool xml_path_match(const char *const *path, size_t depth, size_t from, const char *pattern);
