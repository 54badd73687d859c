/* SPDX-License-Identifier: MIT */
/* Fixture tests for the Snapshot pattern's typed EC2 parsers
 * (lib/core/ec2-xml-snapshot.c): DescribeSnapshots, CreateSnapshots,
 * DescribeImages, DescribeVolumes, CreateImage, CopyImage, CopySnapshot,
 * including truncated, malformed and wrong-root answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cdp/ec2-snapshot.h"
#include "cdp/strbuf.h"
#include "test-data.h"

#define SENTINEL ((void *) 0x1)

/* ---- DescribeSnapshots ---- */

static void test_ec2_parse_describe_snapshots__first_page__all_fields(void **state) {
        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2Snapshot *s;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-snapshots.xml", &len);
        assert_int_equal(ec2_parse_describe_snapshots(body, len, &p), 0);
        assert_string_equal(p->request_id, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
        assert_string_equal(p->next_token, "eyJ2IjoxLCJjIjoiMTAwMCJ9");
        assert_int_equal(p->n_snapshots, 2);

        s = &p->snapshots[0];
        assert_string_equal(s->id, "snap-1234567890abcdef0");
        assert_string_equal(s->volume_id, "vol-0000000000000000a");
        assert_string_equal(s->state, "completed");
        assert_null(s->state_message);
        assert_string_equal(s->progress, "100%");
        assert_string_equal(s->owner_id, "123456789012");
        assert_string_equal(s->description, "cdpd backup of i-0123456789abcdef0");
        assert_int_equal(s->start_time, test_utc(2026, 1, 2, 3, 0, 12));
        assert_int_equal(s->volume_size, 8);
        assert_false(s->encrypted);
        assert_int_equal(s->n_tags, 6);
        assert_string_equal(ec2_tags_get(s->tags, s->n_tags, "cdp:managed-by"), "cdpd");
        assert_string_equal(ec2_tags_get(s->tags, s->n_tags, "cdp:instance-id"), "i-0123456789abcdef0");
        assert_string_equal(ec2_tags_get(s->tags, s->n_tags, "cdp:slot"), "2026-01-02T03:00:00Z");
        assert_string_equal(ec2_tags_get(s->tags, s->n_tags, "cdp:device"), "/dev/xvda");
        assert_string_equal(ec2_tags_get(s->tags, s->n_tags, "Name"), "web-1-20260102T0300Z");
        /* a tag's resourceId is only set by DescribeTags */
        assert_null(s->tags[0].resource_id);

        s = &p->snapshots[1];
        assert_string_equal(s->id, "snap-0abcdef1234567890");
        assert_string_equal(s->state, "pending");
        assert_string_equal(s->progress, "42%");
        assert_string_equal(s->description, "");
        assert_int_equal(s->start_time, test_utc(2026, 1, 3, 3, 0, 9));
        assert_int_equal(s->volume_size, 100);
        assert_true(s->encrypted);
        assert_int_equal(s->n_tags, 0);
        assert_null(s->tags);
}

static void test_ec2_parse_describe_snapshots__last_page__no_token_error_state(void **state) {
        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-snapshots-last.xml", &len);
        assert_int_equal(ec2_parse_describe_snapshots(body, len, &p), 0);
        assert_null(p->next_token);
        assert_int_equal(p->n_snapshots, 1);
        assert_string_equal(p->snapshots[0].state, "error");
        assert_string_equal(p->snapshots[0].state_message, "Internal error while creating the snapshot");
        assert_int_equal(p->snapshots[0].n_tags, 2);
        assert_string_equal(ec2_tags_get(p->snapshots[0].tags, 2, "cdp:empty"), "");
        assert_null(ec2_tags_get(p->snapshots[0].tags, 2, "cdp:instance-id"));
}

static void test_ec2_parse_describe_snapshots__empty_set__zero_items(void **state) {
        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-snapshots-empty.xml", &len);
        assert_int_equal(ec2_parse_describe_snapshots(body, len, &p), 0);
        assert_int_equal(p->n_snapshots, 0);
        assert_null(p->snapshots);
        assert_null(p->next_token);
        assert_non_null(p->request_id);
}

static void expect_snapshots_fail(const char *fixture, int error) {
        Ec2SnapshotPage *p = SENTINEL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        body = test_fixture_read(fixture, &len);
        assert_int_equal(ec2_parse_describe_snapshots(body, len, &p), error);
        assert_ptr_equal(p, SENTINEL);
}

static void test_ec2_parse_describe_snapshots__bad_input__ebadmsg_untouched(void **state) {
        (void) state;
        expect_snapshots_fail("snapshot-describe-snapshots-truncated.xml", -EBADMSG);
        expect_snapshots_fail("snapshot-describe-snapshots-no-id.xml", -EBADMSG);
        expect_snapshots_fail("snapshot-describe-snapshots-bad-time.xml", -EBADMSG);
        /* an error document handed to the success parser */
        expect_snapshots_fail("error-request-limit-exceeded.xml", -EBADMSG);
        /* another call's answer */
        expect_snapshots_fail("describe-instances.xml", -EBADMSG);
        expect_snapshots_fail("snapshot-create-snapshots.xml", -EBADMSG);
        expect_snapshots_fail("malformed-html-gateway.xml", -EBADMSG);
        expect_snapshots_fail("attack-billion-laughs.xml", -EBADMSG);
}

static void test_ec2_parse_describe_snapshots__every_truncation__fails_cleanly(void **state) {
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-snapshots.xml", &len);
        /* Every prefix of the answer is refused: a cut-off page must never
         * look like a short, complete one (pruning decides on it). */
        for (size_t cut = 0; cut + 1 < len; cut++) {
                Ec2SnapshotPage *p = SENTINEL;
                int r = ec2_parse_describe_snapshots(body, cut, &p);

                /* the only prefix that is complete is everything but the final newline */
                if (r == 0) {
                        assert_true(strspn(body + cut, " \r\n\t") == len - cut);
                        ec2_snapshot_page_free(p);
                        continue;
                }
                assert_int_equal(r, -EBADMSG);
                assert_ptr_equal(p, SENTINEL);
        }
}

static void test_ec2_snapshot_page_schema__chunked__same_result(void **state) {
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-snapshots.xml", &len);
        for (size_t split = 1; split < len; split += 97) {
                _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *parser = NULL;
                Ec2SnapshotPage page = {};

                assert_int_equal(ec2_xml_parser_new(&parser, EC2_XML_ROOTS("DescribeSnapshotsResponse"),
                                                    &ec2_snapshot_page_schema), 0);
                assert_int_equal(ec2_xml_parser_feed(parser, body, split), 0);
                assert_int_equal(ec2_xml_parser_feed(parser, body + split, len - split), 0);
                assert_int_equal(ec2_xml_parser_finish(parser, &page), 0);
                assert_int_equal(page.n_snapshots, 2);
                assert_string_equal(page.snapshots[1].id, "snap-0abcdef1234567890");
                assert_int_equal(page.snapshots[0].n_tags, 6);
                ec2_xml_item_done(&ec2_snapshot_page_schema, &page);
        }
}

static char *snapshot_page_with(size_t n) {
        StrBuf b = STRBUF_INIT(0);

        assert_int_equal(strbuf_puts(&b, "<DescribeSnapshotsResponse><requestId>r</requestId><snapshotSet>"), 0);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(strbuf_printf(&b, "<item><snapshotId>snap-%017zx</snapshotId>"
                                               "<status>completed</status></item>", i), 0);
        assert_int_equal(strbuf_puts(&b, "</snapshotSet></DescribeSnapshotsResponse>"), 0);
        return strbuf_steal(&b);
}

static void test_ec2_parse_describe_snapshots__item_cap__e2big_above(void **state) {
        _cleanup_free_ char *ok = snapshot_page_with(EC2_XML_MAX_ITEMS);
        _cleanup_free_ char *big = snapshot_page_with(EC2_XML_MAX_ITEMS + 1);
        Ec2SnapshotPage *p = SENTINEL;

        (void) state;
        assert_int_equal(ec2_parse_describe_snapshots(ok, strlen(ok), &p), 0);
        assert_int_equal(p->n_snapshots, EC2_XML_MAX_ITEMS);
        assert_string_equal(p->snapshots[EC2_XML_MAX_ITEMS - 1].id, "snap-0000000000000270f");
        p = ec2_snapshot_page_free(p);
        p = SENTINEL;
        assert_int_equal(ec2_parse_describe_snapshots(big, strlen(big), &p), -E2BIG);
        assert_ptr_equal(p, SENTINEL);
}

/* ---- DescribeSnapshots, streamed ---- */

typedef struct Collected {
        StrBuf text;
        size_t n;
        size_t fail_at;         /* return -ECANCELED at this item (1-based), 0 = never */
} Collected;

static void dump_snapshot(StrBuf *b, const Ec2Snapshot *s) {
        assert_int_equal(strbuf_printf(b, "%s|%s|%s|%s|%s|%s|%s|%jd|%d|%d|", s->id, s->volume_id ?: "-",
                                       s->state ?: "-", s->state_message ?: "-", s->progress ?: "-",
                                       s->owner_id ?: "-", s->description ?: "-", (intmax_t) s->start_time,
                                       s->volume_size, s->encrypted), 0);
        for (size_t i = 0; i < s->n_tags; i++)
                assert_int_equal(strbuf_printf(b, "%s=%s;", s->tags[i].key, s->tags[i].value), 0);
        assert_int_equal(strbuf_puts(b, "\n"), 0);
}

static int collect(const Ec2Snapshot *s, void *userdata) {
        Collected *c = userdata;

        c->n++;
        if (c->fail_at && c->n == c->fail_at)
                return -ECANCELED;
        dump_snapshot(&c->text, s);
        return 0;
}

static void test_ec2_parse_describe_snapshots_each__fixtures__same_as_typed(void **state) {
        const char *fixtures[] = {
                "snapshot-describe-snapshots.xml",
                "snapshot-describe-snapshots-last.xml",
                "snapshot-describe-snapshots-empty.xml",
        };

        (void) state;
        for (size_t f = 0; f < ELEMENTSOF(fixtures); f++) {
                _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
                _cleanup_strbuf_ StrBuf typed = STRBUF_INIT(0);
                _cleanup_free_ char *body = NULL, *token = NULL, *rid = NULL;
                Collected c = { .text = STRBUF_INIT(0) };
                size_t len;

                body = test_fixture_read(fixtures[f], &len);
                assert_int_equal(ec2_parse_describe_snapshots(body, len, &p), 0);
                for (size_t i = 0; i < p->n_snapshots; i++)
                        dump_snapshot(&typed, &p->snapshots[i]);
                assert_int_equal(ec2_parse_describe_snapshots_each(body, len, collect, &c, &token, &rid), 0);
                assert_int_equal(c.n, p->n_snapshots);
                assert_string_equal(c.text.data ?: "", typed.data ?: "");
                if (p->next_token)
                        assert_string_equal(token, p->next_token);
                else
                        assert_null(token);
                assert_string_equal(rid, p->request_id);
                strbuf_done(&c.text);
        }
}

static void test_ec2_parse_describe_snapshots_each__bad_input__same_errors(void **state) {
        const char *fixtures[] = {
                "snapshot-describe-snapshots-truncated.xml",
                "snapshot-describe-snapshots-no-id.xml",
                "snapshot-describe-snapshots-bad-time.xml",
                "error-request-limit-exceeded.xml",
                "describe-instances.xml",
                "snapshot-create-snapshots.xml",
                "malformed-html-gateway.xml",
                "attack-billion-laughs.xml",
        };
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        for (size_t f = 0; f < ELEMENTSOF(fixtures); f++) {
                _cleanup_free_ char *b = NULL;
                Collected c = { .text = STRBUF_INIT(0) };
                char *token = SENTINEL, *rid = SENTINEL;
                size_t l;

                b = test_fixture_read(fixtures[f], &l);
                assert_int_equal(ec2_parse_describe_snapshots_each(b, l, collect, &c, &token, &rid), -EBADMSG);
                assert_ptr_equal(token, SENTINEL);
                assert_ptr_equal(rid, SENTINEL);
                strbuf_done(&c.text);
        }
        /* every cut-off prefix fails, as with the typed parser */
        body = test_fixture_read("snapshot-describe-snapshots.xml", &len);
        for (size_t cut = 0; cut + 1 < len; cut++) {
                Collected c = { .text = STRBUF_INIT(0) };
                int r = ec2_parse_describe_snapshots_each(body, cut, collect, &c, NULL, NULL);

                if (r == 0)
                        assert_true(strspn(body + cut, " \r\n\t") == len - cut);
                else
                        assert_int_equal(r, -EBADMSG);
                strbuf_done(&c.text);
        }
}

static void test_ec2_parse_describe_snapshots_each__callback_error__stops(void **state) {
        _cleanup_free_ char *body = NULL, *big = snapshot_page_with(EC2_XML_MAX_ITEMS + 1);
        Collected c = { .text = STRBUF_INIT(0), .fail_at = 2 };
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-snapshots.xml", &len);
        assert_int_equal(ec2_parse_describe_snapshots_each(body, len, collect, &c, NULL, NULL), -ECANCELED);
        assert_int_equal(c.n, 2);
        strbuf_done(&c.text);
        c = (Collected) { .text = STRBUF_INIT(0) };
        assert_int_equal(ec2_parse_describe_snapshots_each(big, strlen(big), collect, &c, NULL, NULL), -E2BIG);
        assert_int_equal(c.n, EC2_XML_MAX_ITEMS);
        strbuf_done(&c.text);
        assert_int_equal(ec2_parse_describe_snapshots_each(body, len, NULL, NULL, NULL, NULL), -EINVAL);
}

static int keep_first_tag(const Ec2Snapshot *s, void *userdata) {
        Ec2Tag *t = userdata;

        assert_int_equal(s->n_tags, 1);
        t->key = strdup(s->tags[0].key);
        t->value = strdup(s->tags[0].value);
        t->resource_id = s->tags[0].resource_id ? strdup(s->tags[0].resource_id) : NULL;
        t->resource_type = s->tags[0].resource_type ? strdup(s->tags[0].resource_type) : NULL;
        return 0;
}

/* Found by tests/fuzz/fuzz-ec2-xml-patterns.c: the streamed tag dropped
 * resourceId/resourceType, which the typed parser (ec2_tag_schema) keeps, and
 * so also took a resourceId with child elements that the typed one refuses. */
static void test_ec2_parse_describe_snapshots_each__tag_resource_fields__same_as_typed(void **state) {
        static const char body[] =
                "<DescribeSnapshotsResponse><snapshotSet><item><snapshotId>snap-1</snapshotId><tagSet>"
                "<item><key>k</key><value>v</value><resourceId>snap-1</resourceId>"
                "<resourceType>snapshot</resourceType></item>"
                "</tagSet></item></snapshotSet></DescribeSnapshotsResponse>";
        static const char nested[] =
                "<DescribeSnapshotsResponse><snapshotSet><item><snapshotId>snap-1</snapshotId><tagSet>"
                "<item><key>k</key><resourceId><x/></resourceId></item>"
                "</tagSet></item></snapshotSet></DescribeSnapshotsResponse>";
        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
        _cleanup_(ec2_tag_done) Ec2Tag streamed = {};
        Ec2SnapshotPage *q = SENTINEL;

        (void) state;
        assert_int_equal(ec2_parse_describe_snapshots(body, strlen(body), &p), 0);
        assert_int_equal(ec2_parse_describe_snapshots_each(body, strlen(body), keep_first_tag, &streamed, NULL,
                                                           NULL), 0);
        assert_string_equal(streamed.key, p->snapshots[0].tags[0].key);
        assert_string_equal(streamed.value, p->snapshots[0].tags[0].value);
        assert_non_null(p->snapshots[0].tags[0].resource_id);
        assert_non_null(streamed.resource_id);
        assert_non_null(streamed.resource_type);
        assert_string_equal(streamed.resource_id, p->snapshots[0].tags[0].resource_id);
        assert_string_equal(streamed.resource_type, p->snapshots[0].tags[0].resource_type);

        assert_int_equal(ec2_parse_describe_snapshots(nested, strlen(nested), &q), -EBADMSG);
        assert_ptr_equal(q, SENTINEL);
        assert_int_equal(ec2_parse_describe_snapshots_each(nested, strlen(nested), keep_first_tag, &streamed,
                                                           NULL, NULL), -EBADMSG);
}

/* ---- CreateSnapshots ---- */

static void test_ec2_parse_create_snapshots__two_volumes__state_element(void **state) {
        _cleanup_(ec2_snapshot_page_freep) Ec2SnapshotPage *p = NULL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-create-snapshots.xml", &len);
        assert_int_equal(ec2_parse_create_snapshots(body, len, &p), 0);
        assert_string_equal(p->request_id, "6a5ac5e5-0000-4000-8000-0000000000c1");
        assert_null(p->next_token);
        assert_int_equal(p->n_snapshots, 2);
        assert_string_equal(p->snapshots[0].id, "snap-0aaaaaaaaaaaaaaa1");
        assert_string_equal(p->snapshots[0].volume_id, "vol-0000000000000000a");
        assert_string_equal(p->snapshots[0].state, "pending");
        assert_string_equal(p->snapshots[0].progress, "");
        assert_int_equal(p->snapshots[0].start_time, test_utc(2026, 1, 2, 3, 4, 5));
        assert_int_equal(p->snapshots[0].n_tags, 3);
        assert_string_equal(ec2_tags_get(p->snapshots[0].tags, 3, "cdp:slot"), "2026-01-02T03:00:00Z");
        assert_string_equal(p->snapshots[1].id, "snap-0aaaaaaaaaaaaaaa2");
        assert_string_equal(p->snapshots[1].volume_id, "vol-0000000000000000b");
        assert_int_equal(p->snapshots[1].volume_size, 100);
        assert_null(p->snapshots[1].progress);
}

static void test_ec2_parse_create_snapshots__bad_input__ebadmsg_untouched(void **state) {
        const char *fixtures[] = {
                "snapshot-create-snapshots-empty.xml",  /* a write that names nothing */
                "snapshot-describe-snapshots.xml",      /* another call's answer */
                "error-unauthorized-operation.xml",
                "malformed-mismatched-tags.xml",
        };

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                _cleanup_free_ char *body = NULL;
                Ec2SnapshotPage *p = SENTINEL;
                size_t len;

                body = test_fixture_read(fixtures[i], &len);
                assert_int_equal(ec2_parse_create_snapshots(body, len, &p), -EBADMSG);
                assert_ptr_equal(p, SENTINEL);
        }
}

/* ---- DescribeImages ---- */

static void test_ec2_parse_describe_images__two_images__devices_and_reason(void **state) {
        _cleanup_(ec2_image_page_freep) Ec2ImagePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2Image *i;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-images.xml", &len);
        assert_int_equal(ec2_parse_describe_images(body, len, &p), 0);
        assert_null(p->next_token);
        assert_int_equal(p->n_images, 2);

        i = &p->images[0];
        assert_string_equal(i->id, "ami-0aaaaaaaaaaaaaaa1");
        assert_string_equal(i->name, "web-1-20260102T0300Z-i-0123456789abcdef0");
        assert_string_equal(i->state, "available");
        assert_string_equal(i->owner_id, "123456789012");
        assert_string_equal(i->creation_date, "2026-01-02T03:04:05.000Z");
        assert_int_equal(i->creation_time, test_utc(2026, 1, 2, 3, 4, 5));
        assert_string_equal(i->root_device_name, "/dev/xvda");
        assert_null(i->state_reason_code);
        assert_int_equal(i->n_devices, 3);
        assert_string_equal(i->devices[0].device_name, "/dev/xvda");
        assert_string_equal(i->devices[0].snapshot_id, "snap-0bbbbbbbbbbbbbbb1");
        assert_int_equal(i->devices[0].volume_size, 8);
        assert_string_equal(i->devices[1].snapshot_id, "snap-0bbbbbbbbbbbbbbb2");
        assert_string_equal(i->devices[2].device_name, "/dev/sdb");
        assert_null(i->devices[2].snapshot_id);
        assert_int_equal(i->devices[2].volume_size, -1);
        assert_int_equal(i->n_tags, 3);
        assert_string_equal(ec2_tags_get(i->tags, i->n_tags, "cdp:slot"), "2026-01-02T03:00:00Z");

        i = &p->images[1];
        assert_string_equal(i->id, "ami-0aaaaaaaaaaaaaaa2");
        assert_string_equal(i->state, "failed");
        assert_string_equal(i->creation_date, "not a date");
        assert_int_equal(i->creation_time, EC2_TIME_UNSET);
        assert_string_equal(i->state_reason_code, "Server.InternalError");
        assert_string_equal(i->state_reason_message, "Internal error while creating the image");
        assert_int_equal(i->n_devices, 0);
        assert_int_equal(i->n_tags, 0);
}

static void test_ec2_parse_describe_images__bad_input__ebadmsg(void **state) {
        static const char missing_id[] =
                "<DescribeImagesResponse><requestId>r</requestId><imagesSet><item><name>x</name></item>"
                "</imagesSet></DescribeImagesResponse>";
        static const char device_without_name[] =
                "<DescribeImagesResponse><requestId>r</requestId><imagesSet><item><imageId>ami-1</imageId>"
                "<blockDeviceMapping><item><ebs><snapshotId>snap-1</snapshotId></ebs></item></blockDeviceMapping>"
                "</item></imagesSet></DescribeImagesResponse>";
        _cleanup_free_ char *body = NULL;
        Ec2ImagePage *p = SENTINEL;
        size_t len;

        (void) state;
        assert_int_equal(ec2_parse_describe_images(missing_id, strlen(missing_id), &p), -EBADMSG);
        assert_int_equal(ec2_parse_describe_images(device_without_name, strlen(device_without_name), &p), -EBADMSG);
        body = test_fixture_read("snapshot-describe-images.xml", &len);
        assert_int_equal(ec2_parse_describe_images(body, len / 2, &p), -EBADMSG);
        assert_int_equal(ec2_parse_describe_images(body, len, NULL), -EINVAL);
        assert_ptr_equal(p, SENTINEL);
}

/* ---- DescribeVolumes ---- */

static void test_ec2_parse_describe_volumes__attached_and_free__all_fields(void **state) {
        _cleanup_(ec2_volume_page_freep) Ec2VolumePage *p = NULL;
        _cleanup_free_ char *body = NULL;
        const Ec2Volume *v;
        size_t len;

        (void) state;
        body = test_fixture_read("snapshot-describe-volumes.xml", &len);
        assert_int_equal(ec2_parse_describe_volumes(body, len, &p), 0);
        assert_string_equal(p->next_token, "token-2");
        assert_int_equal(p->n_volumes, 2);

        v = &p->volumes[0];
        assert_string_equal(v->id, "vol-0000000000000000a");
        assert_string_equal(v->state, "in-use");
        assert_string_equal(v->availability_zone, "us-east-1a");
        assert_string_equal(v->snapshot_id, "");
        assert_string_equal(v->volume_type, "gp3");
        assert_int_equal(v->size, 8);
        assert_int_equal(v->create_time, test_utc(2026, 1, 1, 0, 0, 0));
        assert_false(v->encrypted);
        assert_int_equal(v->n_attachments, 1);
        assert_string_equal(v->attachments[0].instance_id, "i-0123456789abcdef0");
        assert_string_equal(v->attachments[0].device, "/dev/xvda");
        assert_string_equal(v->attachments[0].state, "attached");
        assert_true(v->attachments[0].delete_on_termination);

        v = &p->volumes[1];
        assert_string_equal(v->id, "vol-0000000000000000d");
        assert_string_equal(v->state, "available");
        assert_string_equal(v->snapshot_id, "snap-1234567890abcdef0");
        assert_true(v->encrypted);
        assert_int_equal(v->n_attachments, 0);
        assert_string_equal(ec2_tags_get(v->tags, v->n_tags, "Name"), "restored");
}

static void test_ec2_parse_describe_volumes__bad_input__ebadmsg(void **state) {
        static const char bad_size[] =
                "<DescribeVolumesResponse><requestId>r</requestId><volumeSet><item><volumeId>vol-1</volumeId>"
                "<size>eight</size></item></volumeSet></DescribeVolumesResponse>";
        Ec2VolumePage *p = SENTINEL;
        _cleanup_free_ char *body = NULL;
        size_t len;

        (void) state;
        assert_int_equal(ec2_parse_describe_volumes(bad_size, strlen(bad_size), &p), -EBADMSG);
        body = test_fixture_read("snapshot-describe-images.xml", &len);
        assert_int_equal(ec2_parse_describe_volumes(body, len, &p), -EBADMSG);
        assert_ptr_equal(p, SENTINEL);
}

/* ---- one new id ---- */

static void test_ec2_parse_new_id__three_calls__id_and_request_id(void **state) {
        _cleanup_free_ char *b1 = NULL, *b2 = NULL, *b3 = NULL;
        size_t l1, l2, l3;
        char *id = NULL, *rid = NULL;

        (void) state;
        b1 = test_fixture_read("snapshot-create-image.xml", &l1);
        b2 = test_fixture_read("snapshot-copy-image.xml", &l2);
        b3 = test_fixture_read("snapshot-copy-snapshot.xml", &l3);

        assert_int_equal(ec2_parse_create_image(b1, l1, &id, &rid), 0);
        assert_string_equal(id, "ami-0cccccccccccccccc");
        assert_string_equal(rid, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
        id = mfree(id);
        rid = mfree(rid);

        assert_int_equal(ec2_parse_copy_image(b2, l2, &id, NULL), 0);
        assert_string_equal(id, "ami-0dddddddddddddddd");
        id = mfree(id);

        assert_int_equal(ec2_parse_copy_snapshot(b3, l3, NULL, &rid), 0);
        assert_string_equal(rid, "59dbff89-35bd-4eac-99ed-be587EXAMPLE");
        rid = mfree(rid);
        assert_int_equal(ec2_parse_copy_snapshot(b3, l3, &id, NULL), 0);
        assert_string_equal(id, "snap-0eeeeeeeeeeeeeeee");
        id = mfree(id);
}

static void test_ec2_parse_new_id__wrong_root_or_no_id__ebadmsg_untouched(void **state) {
        _cleanup_free_ char *create = NULL, *copy = NULL, *noid = NULL, *err = NULL;
        size_t l1, l2, l3, l4;
        char *id = SENTINEL, *rid = SENTINEL;

        (void) state;
        create = test_fixture_read("snapshot-create-image.xml", &l1);
        copy = test_fixture_read("snapshot-copy-image.xml", &l2);
        noid = test_fixture_read("snapshot-create-image-no-id.xml", &l3);
        err = test_fixture_read("error-request-limit-exceeded.xml", &l4);

        assert_int_equal(ec2_parse_create_image(copy, l2, &id, &rid), -EBADMSG);
        assert_int_equal(ec2_parse_copy_image(create, l1, &id, &rid), -EBADMSG);
        assert_int_equal(ec2_parse_copy_snapshot(create, l1, &id, &rid), -EBADMSG);
        assert_int_equal(ec2_parse_create_image(noid, l3, &id, &rid), -EBADMSG);
        assert_int_equal(ec2_parse_create_image(err, l4, &id, &rid), -EBADMSG);
        assert_int_equal(ec2_parse_create_image(create, l1 / 2, &id, &rid), -EBADMSG);
        assert_ptr_equal(id, SENTINEL);
        assert_ptr_equal(rid, SENTINEL);
}

static void test_ec2_snapshot_free_functions__null__safe(void **state) {
        (void) state;
        assert_null(ec2_snapshot_page_free(NULL));
        assert_null(ec2_image_page_free(NULL));
        assert_null(ec2_volume_page_free(NULL));
        ec2_snapshot_done(NULL);
        ec2_image_done(NULL);
        ec2_image_device_done(NULL);
        ec2_volume_done(NULL);
        ec2_volume_attachment_done(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ec2_parse_describe_snapshots__first_page__all_fields),
                cmocka_unit_test(test_ec2_parse_describe_snapshots__last_page__no_token_error_state),
                cmocka_unit_test(test_ec2_parse_describe_snapshots__empty_set__zero_items),
                cmocka_unit_test(test_ec2_parse_describe_snapshots__bad_input__ebadmsg_untouched),
                cmocka_unit_test(test_ec2_parse_describe_snapshots__every_truncation__fails_cleanly),
                cmocka_unit_test(test_ec2_snapshot_page_schema__chunked__same_result),
                cmocka_unit_test(test_ec2_parse_describe_snapshots__item_cap__e2big_above),
                cmocka_unit_test(test_ec2_parse_describe_snapshots_each__fixtures__same_as_typed),
                cmocka_unit_test(test_ec2_parse_describe_snapshots_each__bad_input__same_errors),
                cmocka_unit_test(test_ec2_parse_describe_snapshots_each__callback_error__stops),
                cmocka_unit_test(test_ec2_parse_describe_snapshots_each__tag_resource_fields__same_as_typed),
                cmocka_unit_test(test_ec2_parse_create_snapshots__two_volumes__state_element),
                cmocka_unit_test(test_ec2_parse_create_snapshots__bad_input__ebadmsg_untouched),
                cmocka_unit_test(test_ec2_parse_describe_images__two_images__devices_and_reason),
                cmocka_unit_test(test_ec2_parse_describe_images__bad_input__ebadmsg),
                cmocka_unit_test(test_ec2_parse_describe_volumes__attached_and_free__all_fields),
                cmocka_unit_test(test_ec2_parse_describe_volumes__bad_input__ebadmsg),
                cmocka_unit_test(test_ec2_parse_new_id__three_calls__id_and_request_id),
                cmocka_unit_test(test_ec2_parse_new_id__wrong_root_or_no_id__ebadmsg_untouched),
                cmocka_unit_test(test_ec2_snapshot_free_functions__null__safe),
        };

        return cmocka_run_group_tests_name("ec2-xml-snapshot", tests, NULL, NULL);
}
