/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cdp/strbuf.h"
#include "cdp/xml.h"
#include "test-data.h"

/* ---- helpers ---- */

/* Records every event as one line, so whole parses compare as strings. */
typedef struct Recorder {
        StrBuf log;
        const char *fail_at_start;      /* element name whose start handler fails */
        const char *fail_at_end;
        int fail_with;
        size_t events_after_failure;
        bool failed;
} Recorder;

static void recorder_done(Recorder *rec) {
        strbuf_done(&rec->log);
}

static void recorder_path(Recorder *rec, const char *const *path, size_t depth) {
        for (size_t i = 0; i < depth; i++) {
                if (i > 0)
                        assert_int_equal(strbuf_putc(&rec->log, '/'), 0);
                assert_int_equal(strbuf_puts(&rec->log, path[i]), 0);
        }
}

static int rec_start(void *ud, const char *const *path, size_t depth) {
        Recorder *rec = ud;

        if (rec->failed)
                rec->events_after_failure++;
        assert_int_equal(strbuf_putc(&rec->log, '<'), 0);
        recorder_path(rec, path, depth);
        assert_int_equal(strbuf_putc(&rec->log, '\n'), 0);
        if (rec->fail_at_start && strcmp(path[depth - 1], rec->fail_at_start) == 0) {
                rec->failed = true;
                return rec->fail_with;
        }
        return 0;
}

static int rec_end(void *ud, const char *const *path, size_t depth, const char *text, size_t len) {
        Recorder *rec = ud;

        if (rec->failed)
                rec->events_after_failure++;
        assert_int_equal(strbuf_putc(&rec->log, '>'), 0);
        recorder_path(rec, path, depth);
        if (text) {
                assert_int_equal(strlen(text), len);
                assert_int_equal(strbuf_printf(&rec->log, "='%s'", text), 0);
        } else
                assert_int_equal(strbuf_puts(&rec->log, " (children)"), 0);
        assert_int_equal(strbuf_putc(&rec->log, '\n'), 0);
        if (rec->fail_at_end && strcmp(path[depth - 1], rec->fail_at_end) == 0) {
                rec->failed = true;
                return rec->fail_with;
        }
        return 0;
}

static const XmlHandlers rec_handlers = {
        .element_start = rec_start,
        .element_end = rec_end,
};

static int parse_recorded(const void *buf, size_t len, Recorder *rec) {
        return xml_parse_buffer(buf, len, &rec_handlers, rec);
}

/* Parse in chunks of `chunk` bytes (0 = random sizes from seed). */
static int parse_chunked(const char *buf, size_t len, size_t chunk, unsigned seed, Recorder *rec) {
        _cleanup_(xml_parser_freep) XmlParser *p = NULL;
        size_t off = 0;
        int r;

        assert_int_equal(xml_parser_new(&p, &rec_handlers, rec), 0);
        while (off < len) {
                size_t n = chunk;

                if (n == 0) {
                        seed = seed * 1103515245U + 12345U;
                        n = 1 + (seed >> 16) % 97;
                }
                n = MIN(n, len - off);
                r = xml_parser_feed(p, buf + off, n);
                if (r < 0)
                        return r;
                off += n;
        }
        return xml_parser_finish(p);
}

static char *string_repeat(const char *s, size_t n) {
        StrBuf b = STRBUF_INIT(0);

        for (size_t i = 0; i < n; i++)
                assert_int_equal(strbuf_puts(&b, s), 0);
        return strbuf_steal(&b);
}

static const char *const good_fixtures[] = {
        "describe-tags.xml",
        "describe-tags-last-page.xml",
        "describe-tags-prefixed.xml",
        "describe-instances.xml",
        "describe-network-interfaces.xml",
        "error-instance-not-found.xml",
        "error-response-shape.xml",
        "error-multiple.xml",
        "replace-route.xml",
};

/* ---- tests ---- */

static void test_xml_parse_buffer__nested_document__paths_and_leaf_text(void **state) {
        static const char doc[] =
                "<?xml version=\"1.0\"?>\n"
                "<a>\n  <b>one</b>\n  <c><d/><e>t&amp;x</e></c>\n</a>\n";
        _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };

        (void) state;
        assert_int_equal(parse_recorded(doc, strlen(doc), &rec), 0);
        assert_string_equal(rec.log.data,
                            "<a\n"
                            "<a/b\n"
                            ">a/b='one'\n"
                            "<a/c\n"
                            "<a/c/d\n"
                            ">a/c/d=''\n"
                            "<a/c/e\n"
                            ">a/c/e='t&x'\n"
                            ">a/c (children)\n"
                            ">a (children)\n");
}

static void test_xml_parse_buffer__namespaces_and_prefixes__local_names(void **state) {
        static const char doc[] =
                "<R xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\" xmlns:p=\"urn:x|y\">"
                "<p:k>v</p:k><n xmlns=\"\">w</n></R>";
        _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };

        (void) state;
        assert_int_equal(parse_recorded(doc, strlen(doc), &rec), 0);
        assert_string_equal(rec.log.data, "<R\n<R/k\n>R/k='v'\n<R/n\n>R/n='w'\n>R (children)\n");
}

static void test_xml_parse_buffer__entities_cdata_comments_attributes__decoded_or_ignored(void **state) {
        static const char doc[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                "<!-- a comment --><?pi ignored?>"
                "<r attr=\"ignored\"><v>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;<![CDATA[<raw>&amp;]]></v>"
                "<w> keep  spaces </w><u>\xe6\x9d\xb1\xe4\xba\xac</u></r>";
        _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };

        (void) state;
        assert_int_equal(parse_recorded(doc, strlen(doc), &rec), 0);
        assert_string_equal(rec.log.data,
                            "<r\n<r/v\n>r/v='<>&\"'AB<raw>&amp;'\n"
                            "<r/w\n>r/w=' keep  spaces '\n"
                            "<r/u\n>r/u='\xe6\x9d\xb1\xe4\xba\xac'\n>r (children)\n");
}

static void test_xml_parse_buffer__mixed_content__text_of_parent_dropped(void **state) {
        static const char doc[] = "<r>before<c>x</c>after</r>";
        _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };

        (void) state;
        assert_int_equal(parse_recorded(doc, strlen(doc), &rec), 0);
        assert_string_equal(rec.log.data, "<r\n<r/c\n>r/c='x'\n>r (children)\n");
}

static void test_xml_parser_feed__any_chunking__same_events_as_one_shot(void **state) {
        (void) state;

        for (size_t i = 0; i < ELEMENTSOF(good_fixtures); i++) {
                _cleanup_free_ char *doc = NULL;
                _cleanup_(recorder_done) Recorder once = { .log = STRBUF_INIT(0) };
                size_t len;

                doc = test_fixture_read(good_fixtures[i], &len);
                assert_int_equal(parse_recorded(doc, len, &once), 0);
                assert_true(once.log.len > 0);

                for (size_t chunk = 0; chunk <= 3; chunk++) {
                        _cleanup_(recorder_done) Recorder split = { .log = STRBUF_INIT(0) };

                        /* chunk 0: random sizes; 1: byte by byte; 2, 3: small fixed */
                        assert_int_equal(parse_chunked(doc, len, chunk, (unsigned) (i + 7), &split), 0);
                        assert_string_equal(split.log.data, once.log.data);
                }
        }
}

static void test_xml_parser_finish__every_truncation__ebadmsg(void **state) {
        _cleanup_free_ char *doc = NULL;
        size_t len, root_end;

        (void) state;
        doc = test_fixture_read("describe-instances.xml", &len);
        root_end = (size_t) (strrchr(doc, '>') - doc) + 1;

        for (size_t n = 0; n < len; n++) {
                _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };
                int r = parse_recorded(doc, n, &rec);

                if (n >= root_end)
                        assert_int_equal(r, 0);
                else if (r != -EBADMSG)
                        fail_msg("prefix of %zu bytes: got %d, expected -EBADMSG", n, r);
        }
}

static void test_xml_parse_buffer__empty_or_blank__ebadmsg(void **state) {
        (void) state;
        assert_int_equal(xml_parse_buffer("", 0, &(XmlHandlers) {}, NULL), -EBADMSG);
        assert_int_equal(xml_parse_buffer(NULL, 0, &(XmlHandlers) {}, NULL), -EBADMSG);
        assert_int_equal(xml_parse_buffer(" \n\t", 3, &(XmlHandlers) {}, NULL), -EBADMSG);
        assert_int_equal(xml_parse_buffer("<?xml version=\"1.0\"?>", 21, &(XmlHandlers) {}, NULL), -EBADMSG);
        assert_int_equal(xml_parse_buffer("just text", 9, &(XmlHandlers) {}, NULL), -EBADMSG);
}

static void test_xml_parse_buffer__malformed_fixtures__ebadmsg(void **state) {
        static const char *const names[] = {
                "malformed-mismatched-tags.xml",
                "malformed-undefined-entity.xml",
                "malformed-unbound-prefix.xml",
                "malformed-two-roots.xml",
                "malformed-control-char.xml",
                "malformed-invalid-utf8.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *doc = NULL;
                _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };
                size_t len;
                int r;

                doc = test_fixture_read(names[i], &len);
                r = parse_recorded(doc, len, &rec);
                if (r != -EBADMSG)
                        fail_msg("%s: got %d, expected -EBADMSG", names[i], r);
        }
}

static void test_xml_parse_buffer__doctype_and_entity_attacks__ebadmsg_before_any_element(void **state) {
        static const char *const names[] = {
                "attack-billion-laughs.xml",
                "attack-external-entity.xml",
                "attack-external-dtd.xml",
        };
        static const char plain[] = "<!DOCTYPE r><r/>";

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *doc = NULL;
                _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };
                size_t len;

                doc = test_fixture_read(names[i], &len);
                assert_int_equal(parse_recorded(doc, len, &rec), -EBADMSG);
                /* Refused at the DOCTYPE: no element was ever reported. */
                assert_int_equal(rec.log.len, 0);

                /* Also when fed byte by byte. */
                strbuf_reset(&rec.log);
                assert_int_equal(parse_chunked(doc, len, 1, 0, &rec), -EBADMSG);
                assert_int_equal(rec.log.len, 0);
        }
        assert_int_equal(xml_parse_buffer(plain, strlen(plain), &(XmlHandlers) {}, NULL), -EBADMSG);
}

static void test_xml_parse_buffer__depth_limit__ok_at_limit_e2big_above(void **state) {
        _cleanup_free_ char *open32 = string_repeat("<a>", XML_PARSER_DEPTH_MAX);
        _cleanup_free_ char *close32 = string_repeat("</a>", XML_PARSER_DEPTH_MAX);
        _cleanup_free_ char *open33 = string_repeat("<a>", XML_PARSER_DEPTH_MAX + 1);
        _cleanup_free_ char *close33 = string_repeat("</a>", XML_PARSER_DEPTH_MAX + 1);
        _cleanup_free_ char *ok = NULL, *deep = NULL;

        (void) state;
        ok = test_strf("%s%s", open32, close32);
        deep = test_strf("%s%s", open33, close33);
        assert_int_equal(xml_parse_buffer(ok, strlen(ok), &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parse_buffer(deep, strlen(deep), &(XmlHandlers) {}, NULL), -E2BIG);
        /* Even when the document would never close. */
        assert_int_equal(xml_parse_buffer(open33, strlen(open33), &(XmlHandlers) {}, NULL), -E2BIG);
}

static void test_xml_parse_buffer__text_limit__ok_at_limit_e2big_above(void **state) {
        _cleanup_free_ char *fill = string_repeat("x", XML_PARSER_TEXT_MAX + 1);
        _cleanup_free_ char *blank = string_repeat(" ", 3 * XML_PARSER_TEXT_MAX);
        _cleanup_free_ char *ok = NULL, *big = NULL, *padded = NULL, *entities = NULL;
        _cleanup_free_ char *amps = string_repeat("&amp;", XML_PARSER_TEXT_MAX / 4);
        _cleanup_(recorder_done) Recorder rec = { .log = STRBUF_INIT(0) };

        (void) state;
        ok = test_strf("<r><v>%.*s</v></r>", (int) XML_PARSER_TEXT_MAX, fill);
        big = test_strf("<r><v>%s</v></r>", fill);
        /* Long whitespace between elements is not text of a leaf. */
        padded = test_strf("<r>%s<v>x</v>%s</r>", blank, blank);
        /* The cap counts decoded bytes: 16 Ki "&amp;" decode to 16 KiB. */
        entities = test_strf("<r><v>%s%s</v></r>", amps, amps);

        assert_int_equal(parse_recorded(ok, strlen(ok), &rec), 0);
        assert_int_equal(xml_parse_buffer(big, strlen(big), &(XmlHandlers) {}, NULL), -E2BIG);
        assert_int_equal(parse_chunked(big, strlen(big), 1000, 0, &rec), -E2BIG);
        assert_int_equal(xml_parse_buffer(padded, strlen(padded), &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parse_buffer(entities, strlen(entities), &(XmlHandlers) {}, NULL), 0);
}

static void test_xml_parser_set_max_input__over_cap__e2big(void **state) {
        static const char doc[] = "<r><v>12345</v></r>";   /* 19 bytes */
        static const char pad[4096] = { [0 ... 4095] = ' ' };
        _cleanup_(xml_parser_freep) XmlParser *p = NULL, *q = NULL, *s = NULL;

        (void) state;
        assert_int_equal(xml_parser_new(&p, &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parser_set_max_input(p, 0), -EINVAL);
        assert_int_equal(xml_parser_set_max_input(p, 19), 0);
        assert_int_equal(xml_parser_feed(p, doc, 10), 0);
        assert_int_equal(xml_parser_set_max_input(p, 100), -EBUSY);
        assert_int_equal(xml_parser_feed(p, doc + 10, 9), 0);
        assert_int_equal(xml_parser_finish(p), 0);

        assert_int_equal(xml_parser_new(&q, &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parser_set_max_input(q, 18), 0);
        assert_int_equal(xml_parser_feed(q, doc, 10), 0);
        assert_int_equal(xml_parser_feed(q, doc + 10, 9), -E2BIG);
        /* sticky */
        assert_int_equal(xml_parser_feed(q, "", 0), -E2BIG);
        assert_int_equal(xml_parser_finish(q), -E2BIG);

        /* The default cap applies without being set. */
        assert_int_equal(xml_parser_new(&s, &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parser_feed(s, "<r>", 3), 0);
        for (size_t i = 0; i < XML_PARSER_INPUT_MAX_DEFAULT / sizeof(pad) - 1; i++)
                assert_int_equal(xml_parser_feed(s, pad, sizeof(pad)), 0);
        /* Exactly at the cap is fine, one byte more is not. */
        assert_int_equal(xml_parser_feed(s, pad, sizeof(pad) - 3), 0);
        assert_int_equal(xml_parser_feed(s, "<", 1), -E2BIG);
}

static void test_xml_parser_feed__handler_error__aborts_with_that_error(void **state) {
        static const char doc[] = "<r><a>1</a><stop>2</stop><b>3</b><c/></r>";
        _cleanup_(recorder_done) Recorder rs = { .log = STRBUF_INIT(0), .fail_at_start = "stop", .fail_with = -ENOTRECOVERABLE };
        _cleanup_(recorder_done) Recorder re = { .log = STRBUF_INIT(0), .fail_at_end = "stop", .fail_with = -EPROTO };
        _cleanup_(xml_parser_freep) XmlParser *p = NULL;

        (void) state;
        assert_int_equal(parse_recorded(doc, strlen(doc), &rs), -ENOTRECOVERABLE);
        assert_int_equal(rs.events_after_failure, 0);
        assert_int_equal(parse_chunked(doc, strlen(doc), 1, 0, &re), -EPROTO);
        assert_int_equal(re.events_after_failure, 0);

        /* Sticky across calls. */
        strbuf_reset(&rs.log);
        rs.failed = false;
        assert_int_equal(xml_parser_new(&p, &rec_handlers, &rs), 0);
        assert_int_equal(xml_parser_feed(p, doc, 20), -ENOTRECOVERABLE);
        assert_int_equal(xml_parser_feed(p, doc + 20, strlen(doc) - 20), -ENOTRECOVERABLE);
        assert_int_equal(xml_parser_finish(p), -ENOTRECOVERABLE);
}

static void test_xml_parser_finish__called_twice_or_fed_after__einval(void **state) {
        _cleanup_(xml_parser_freep) XmlParser *p = NULL;

        (void) state;
        assert_int_equal(xml_parser_new(&p, &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parser_feed(p, "<r/>", 4), 0);
        assert_int_equal(xml_parser_finish(p), 0);
        assert_int_equal(xml_parser_finish(p), -EINVAL);
        assert_int_equal(xml_parser_feed(p, " ", 1), -EINVAL);
        assert_int_equal(xml_parser_new(NULL, &(XmlHandlers) {}, NULL), -EINVAL);
        assert_null(xml_parser_free(NULL));
}

static void test_xml_parser_free__mid_document__no_leak(void **state) {
        _cleanup_(xml_parser_freep) XmlParser *p = NULL;

        (void) state;
        /* Leaks would show under valgrind/ASan. */
        assert_int_equal(xml_parser_new(&p, &(XmlHandlers) {}, NULL), 0);
        assert_int_equal(xml_parser_feed(p, "<a><b><c>text", 13), 0);
}

static void test_xml_path_match__patterns__exact_match_only(void **state) {
        const char *const path[] = { "R", "tagSet", "item", "key" };

        (void) state;
        assert_true(xml_path_match(path, 4, 1, "tagSet/item/key"));
        assert_true(xml_path_match(path, 4, 3, "key"));
        assert_true(xml_path_match(path, 4, 0, "R/tagSet/item/key"));
        assert_true(xml_path_match(path, 4, 4, ""));
        assert_false(xml_path_match(path, 4, 1, "tagSet/item"));
        assert_false(xml_path_match(path, 4, 1, "tagSet/item/key/x"));
        assert_false(xml_path_match(path, 4, 1, "tagSet/item/ke"));
        assert_false(xml_path_match(path, 4, 1, "tagSet/ite/key"));
        assert_false(xml_path_match(path, 4, 2, "tagSet/item/key"));
        assert_false(xml_path_match(path, 4, 3, ""));
        assert_false(xml_path_match(path, 4, 5, "key"));
        assert_false(xml_path_match(path, 3, 1, "tagSet/item/key"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_xml_parse_buffer__nested_document__paths_and_leaf_text),
                cmocka_unit_test(test_xml_parse_buffer__namespaces_and_prefixes__local_names),
                cmocka_unit_test(test_xml_parse_buffer__entities_cdata_comments_attributes__decoded_or_ignored),
                cmocka_unit_test(test_xml_parse_buffer__mixed_content__text_of_parent_dropped),
                cmocka_unit_test(test_xml_parser_feed__any_chunking__same_events_as_one_shot),
                cmocka_unit_test(test_xml_parser_finish__every_truncation__ebadmsg),
                cmocka_unit_test(test_xml_parse_buffer__empty_or_blank__ebadmsg),
                cmocka_unit_test(test_xml_parse_buffer__malformed_fixtures__ebadmsg),
                cmocka_unit_test(test_xml_parse_buffer__doctype_and_entity_attacks__ebadmsg_before_any_element),
                cmocka_unit_test(test_xml_parse_buffer__depth_limit__ok_at_limit_e2big_above),
                cmocka_unit_test(test_xml_parse_buffer__text_limit__ok_at_limit_e2big_above),
                cmocka_unit_test(test_xml_parser_set_max_input__over_cap__e2big),
                cmocka_unit_test(test_xml_parser_feed__handler_error__aborts_with_that_error),
                cmocka_unit_test(test_xml_parser_finish__called_twice_or_fed_after__einval),
                cmocka_unit_test(test_xml_parser_free__mid_document__no_leak),
                cmocka_unit_test(test_xml_path_match__patterns__exact_match_only),
        };

        setvbuf(stdout, NULL, _IONBF, 0);
        return cmocka_run_group_tests_name("xml", tests, NULL, NULL);
}
