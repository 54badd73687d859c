/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <string.h>

#include <expat.h>

#include "cdp/strbuf.h"
#include "cdp/xml.h"

/* Separator expat puts between namespace URI and local name. Byte 0xFF
 * never occurs in UTF-8, so no URI can contain it (expat refuses URIs that
 * contain the separator) and the part after it is the local name. */
#define NS_SEPARATOR '\xff'

/* expat takes an int length; feed it in slices well below that. */
#define FEED_SLICE (1024U * 1024U)

typedef struct XmlLevel {
        char *name;             /* local name, owned */
        bool had_child;
        bool text_overflow;     /* text went over the cap; fatal only if this turns out a leaf */
} XmlLevel;

struct XmlParser {
        XML_Parser expat;
        XmlHandlers handlers;
        void *userdata;

        XmlLevel levels[XML_PARSER_DEPTH_MAX];
        const char *names[XML_PARSER_DEPTH_MAX];   /* borrowed view of levels[].name for handlers */
        size_t depth;
        bool root_seen;
        bool root_done;

        StrBuf text;            /* character data of the innermost open element */

        size_t fed;
        size_t max_input;
        bool started;
        bool finished;
        int error;              /* sticky; 0 while healthy */
};

/* Record the first error and make expat stop calling us. */
static void xml_parser_fail(XmlParser *p, int error) {
        if (p->error < 0)
                return;
        p->error = error;
        (void) XML_StopParser(p->expat, XML_FALSE);
}

static const char *local_name(const XML_Char *name) {
        const char *sep = strrchr(name, (unsigned char) NS_SEPARATOR);
        return sep ? sep + 1 : name;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs) {
        XmlParser *p = ud;
        char *copy;
        int r;

        (void) attrs;   /* EC2 answers carry no information in attributes */

        /* expat may deliver events queued before the stop took effect. */
        if (p->error < 0)
                return;

        if (p->depth >= XML_PARSER_DEPTH_MAX) {
                xml_parser_fail(p, -E2BIG);
                return;
        }

        copy = strdup(local_name(name));
        if (!copy) {
                xml_parser_fail(p, -ENOMEM);
                return;
        }

        if (p->depth > 0) {
                p->levels[p->depth - 1].had_child = true;
                p->levels[p->depth - 1].text_overflow = false;
        }
        p->levels[p->depth] = (XmlLevel) { .name = copy };
        p->names[p->depth] = copy;
        p->depth++;
        p->root_seen = true;
        strbuf_reset(&p->text);

        if (p->handlers.element_start) {
                r = p->handlers.element_start(p->userdata, p->names, p->depth);
                if (r < 0)
                        xml_parser_fail(p, r);
        }
}

static void XMLCALL on_end(void *ud, const XML_Char *name) {
        XmlParser *p = ud;
        XmlLevel *l;
        int r = 0;

        (void) name;

        if (p->error < 0 || p->depth == 0)
                return;

        l = &p->levels[p->depth - 1];
        if (!l->had_child && l->text_overflow)
                r = -E2BIG;
        else if (p->handlers.element_end) {
                if (l->had_child)
                        r = p->handlers.element_end(p->userdata, p->names, p->depth, NULL, 0);
                else
                        r = p->handlers.element_end(p->userdata, p->names, p->depth,
                                                    p->text.data ?: "", p->text.len);
        }

        strbuf_reset(&p->text);
        free(l->name);
        *l = (XmlLevel) { .name = NULL };
        p->names[p->depth - 1] = NULL;
        p->depth--;
        if (p->depth == 0)
                p->root_done = true;

        if (r < 0)
                xml_parser_fail(p, r);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len) {
        XmlParser *p = ud;
        XmlLevel *l;
        int r;

        if (p->error < 0 || p->depth == 0 || len <= 0)
                return;
        l = &p->levels[p->depth - 1];
        /* Text after a child element is never delivered; do not keep it. */
        if (l->had_child || l->text_overflow)
                return;

        r = strbuf_append(&p->text, s, (size_t) len);
        if (r == -E2BIG) {
                /* Whitespace before a first child may run long without
                 * harm; only a leaf's text has to fit. Decided at the end
                 * tag, keeping nothing more meanwhile. */
                l->text_overflow = true;
                strbuf_reset(&p->text);
        } else if (r < 0)
                xml_parser_fail(p, r);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
        (void) name, (void) sysid, (void) pubid, (void) has_internal_subset;
        /* No EC2 answer has a DTD; refusing it up front rules out entity
         * expansion bombs and external entity fetches. */
        xml_parser_fail(ud, -EBADMSG);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation) {
        (void) name, (void) is_param, (void) value, (void) value_len, (void) base;
        (void) sysid, (void) pubid, (void) notation;
        /* Unreachable while DOCTYPE is refused; kept as a second lock. */
        xml_parser_fail(ud, -EBADMSG);
}

static int XMLCALL on_external_entity(XML_Parser parser, const XML_Char *context,
                                      const XML_Char *base, const XML_Char *sysid,
                                      const XML_Char *pubid) {
        (void) parser, (void) context, (void) base, (void) sysid, (void) pubid;
        /* Returning 0 makes expat fail the parse. */
        return XML_STATUS_ERROR;
}

int xml_parser_new(XmlParser **ret, const XmlHandlers *handlers, void *userdata) {
        _cleanup_(xml_parser_freep) XmlParser *p = NULL;

        if (!ret || !handlers)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;

        p->handlers = *handlers;
        p->userdata = userdata;
        p->max_input = XML_PARSER_INPUT_MAX_DEFAULT;
        p->text = STRBUF_INIT(XML_PARSER_TEXT_MAX);

        p->expat = XML_ParserCreateNS(NULL, NS_SEPARATOR);
        if (!p->expat)
                return -ENOMEM;

        XML_SetUserData(p->expat, p);
        XML_SetElementHandler(p->expat, on_start, on_end);
        XML_SetCharacterDataHandler(p->expat, on_text);
        XML_SetStartDoctypeDeclHandler(p->expat, on_doctype);
        XML_SetEntityDeclHandler(p->expat, on_entity_decl);
        XML_SetExternalEntityRefHandler(p->expat, on_external_entity);
        (void) XML_SetParamEntityParsing(p->expat, XML_PARAM_ENTITY_PARSING_NEVER);

        *ret = TAKE_PTR(p);
        return 0;
}

int xml_parser_set_max_input(XmlParser *p, size_t max) {
        if (!p || max == 0)
                return -EINVAL;
        if (p->started)
                return -EBUSY;
        p->max_input = max;
        return 0;
}

static int xml_parser_error_from_expat(XmlParser *p) {
        if (p->error < 0)
                return p->error;
        switch (XML_GetErrorCode(p->expat)) {
        case XML_ERROR_NO_MEMORY:
                return -ENOMEM;
        default:
                return -EBADMSG;
        }
}

static int xml_parser_run(XmlParser *p, const char *buf, int len, bool final) {
        if (XML_Parse(p->expat, buf, len, final ? XML_TRUE : XML_FALSE) != XML_STATUS_OK) {
                p->error = xml_parser_error_from_expat(p);
                return p->error;
        }
        /* A handler may have failed without expat noticing yet. */
        return p->error;
}

int xml_parser_feed(XmlParser *p, const void *buf, size_t len) {
        const char *s = buf;
        int r;

        if (!p || (!buf && len > 0))
                return -EINVAL;
        if (p->error < 0)
                return p->error;
        if (p->finished)
                return -EINVAL;

        p->started = true;
        if (len > p->max_input - p->fed) {
                p->error = -E2BIG;
                return p->error;
        }
        p->fed += len;

        while (len > 0) {
                size_t n = MIN(len, (size_t) FEED_SLICE);

                r = xml_parser_run(p, s, (int) n, false);
                if (r < 0)
                        return r;
                s += n;
                len -= n;
        }
        return 0;
}

int xml_parser_finish(XmlParser *p) {
        int r;

        if (!p)
                return -EINVAL;
        if (p->error < 0)
                return p->error;
        if (p->finished)
                return -EINVAL;

        p->started = true;
        p->finished = true;
        r = xml_parser_run(p, NULL, 0, true);
        if (r < 0)
                return r;
        /* expat already refuses these; checked here so the contract does not
         * rest on one library's error paths. */
        if (!p->root_seen || !p->root_done || p->depth != 0) {
                p->error = -EBADMSG;
                return p->error;
        }
        return 0;
}

XmlParser *xml_parser_free(XmlParser *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->depth; i++)
                free(p->levels[i].name);
        if (p->expat)
                XML_ParserFree(p->expat);
        strbuf_done(&p->text);
        free(p);
        return NULL;
}

int xml_parse_buffer(const void *buf, size_t len, const XmlHandlers *handlers, void *userdata) {
        _cleanup_(xml_parser_freep) XmlParser *p = NULL;
        int r;

        r = xml_parser_new(&p, handlers, userdata);
        if (r < 0)
                return r;
        r = xml_parser_feed(p, buf, len);
        if (r < 0)
                return r;
        return xml_parser_finish(p);
}

bool xml_path_match(const char *const *path, size_t depth, size_t from, const char *pattern) {
        const char *s = pattern;
        size_t i = from;

        if (!path || !pattern || from > depth)
                return false;
        if (*s == '\0')
                return i == depth;

        for (;;) {
                const char *slash = strchr(s, '/');
                size_t n = slash ? (size_t) (slash - s) : strlen(s);

                if (i >= depth)
                        return false;
                if (strlen(path[i]) != n || memcmp(path[i], s, n) != 0)
                        return false;
                i++;
                if (!slash)
                        return i == depth;
                s = slash + 1;
        }
}
