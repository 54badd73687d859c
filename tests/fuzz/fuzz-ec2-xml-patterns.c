/* SPDX-License-Identifier: MIT */
/* libFuzzer target: every typed EC2 parser of the HA, Snapshot and bastion
 * patterns (cdp/ec2-ha.h, cdp/ec2-snapshot.h, cdp/ec2-bastion.h) on arbitrary
 * bytes. On success the invariants the headers promise must hold (ids set,
 * counts within their caps, the find helpers find what was parsed); on
 * failure the outputs must be untouched. Oracles:
 *   - a split feed gives the same outcome and the same struct as a one-shot
 *     parse, for every exported schema (item schemas under any root);
 *   - the streamed DescribeSnapshots hands out exactly the items of the typed
 *     parse and fails where (and as) it fails; a callback error stops it at
 *     once and is what it returns;
 *   - at most one of the parsers (error parser included) takes a document,
 *     and the requestId each reads is the one ec2_parse_request_id() reads.
 *
 *   clang -std=gnu11 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Iinclude \
 *         lib/core/strbuf.c lib/core/secret.c lib/core/xml.c lib/core/ec2-xml.c \
 *         lib/core/ec2-xml-ha.c lib/core/ec2-xml-snapshot.c lib/core/ec2-xml-bastion.c \
 *         tests/fuzz/fuzz-ec2-xml-patterns.c -o fuzz-ec2-xml-patterns -lexpat -lcrypto
 *   ./fuzz-ec2-xml-patterns -dict=tests/fuzz/ec2-xml-patterns.dict tests/fuzz/corpus/ec2-xml-patterns */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cdp/ec2-bastion.h"
#include "cdp/ec2-ha.h"
#include "cdp/ec2-snapshot.h"
#include "cdp/ec2-xml.h"
#include "cdp/xml.h"
#include "fuzz-ec2-schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What no parser ever writes: outputs still pointing here were left alone. */
static char sentinel_byte;
#define SENTINEL ((void *) &sentinel_byte)
#define POISON 0xa5

/* The error a streaming callback returns to stop; no parser produces it. */
#define STOP_ERROR (-ECANCELED)

static bool is_poisoned(const void *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (((const unsigned char *) p)[i] != POISON)
                        return false;
        return true;
}

/* roots NULL: any root but an error root, the way an item schema is used as a document. */
static void check_split(const uint8_t *data, size_t size, unsigned salt, const char *const *roots,
                        const Ec2XmlSchema *schema) {
        _cleanup_free_ void *once = calloc(1, schema->size);
        _cleanup_free_ void *split = calloc(1, schema->size);
        _cleanup_(ec2_xml_parser_freep) Ec2XmlParser *p = NULL;
        size_t step = size > 0 ? 1 + (data[0] + salt) % 16 : 1;
        int r1, r2 = 0;

        CHECK(once && split);
        r1 = ec2_xml_parse((const char *) data, size, roots, schema, once);

        CHECK(ec2_xml_parser_new(&p, roots, schema) == 0);
        for (size_t off = 0; off < size && r2 == 0; off += step)
                r2 = ec2_xml_parser_feed(p, data + off, MIN(step, size - off));
        if (r2 == 0)
                r2 = ec2_xml_parser_finish(p, split);

        if (r1 != r2) {
                fprintf(stderr, "schema #%u: one-shot %d, split(%zu) %d\n", salt, r1, step, r2);
                abort();
        }
        CHECK(r1 <= 0);
        if (r1 == 0) {
                CHECK(items_equal(schema, once, split));
                ec2_xml_item_done(schema, once);
                ec2_xml_item_done(schema, split);
        }
}

/* ---- invariants of the shared pieces ---- */

static void check_tags(const Ec2Tag *tags, size_t n_tags) {
        CHECK(n_tags <= EC2_XML_MAX_NESTED_ITEMS);
        CHECK(n_tags == 0 || tags);
        for (size_t i = 0; i < n_tags; i++) {
                CHECK(tags[i].key && tags[i].value);
                /* the first tag with the key, so never one after this */
                const char *v = ec2_tags_get(tags, n_tags, tags[i].key);
                CHECK(v);
        }
}

/* The requestId a typed parser read is the one the generic parser reads,
 * whenever the generic one takes the document at all. */
static void check_request_id(const char *got, int rid_r, const char *rid) {
        if (rid_r == 0)
                CHECK(str_eq(got, rid));
}

/* ---- HA (ec2-ha.h) ---- */

static void check_route(const Ec2Route *r) {
        const char *const order[] = {
                r->network_interface_id, r->instance_id, r->nat_gateway_id, r->transit_gateway_id,
                r->vpc_peering_connection_id, r->gateway_id, r->egress_only_gateway_id,
                r->local_gateway_id, r->carrier_gateway_id, r->core_network_arn,
        };
        const char *target = ec2_route_target(r), *expected = NULL;

        for (size_t i = 0; i < ELEMENTSOF(order) && !expected; i++)
                if (order[i] && *order[i])
                        expected = order[i];
        CHECK(target == expected);
}

static bool fuzz_route_tables(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2RouteTablePage *p = SENTINEL;

        if (ec2_parse_describe_route_tables(body, size, &p) < 0) {
                CHECK(p == SENTINEL);
                return false;
        }
        CHECK(p && p != SENTINEL);
        CHECK(p->n_tables <= EC2_XML_MAX_ITEMS);
        CHECK(p->n_tables == 0 || p->tables);
        check_request_id(p->request_id, rid_r, rid);
        for (size_t i = 0; i < p->n_tables; i++) {
                const Ec2RouteTable *t = &p->tables[i], *found;

                CHECK(t->id);
                found = ec2_route_table_page_find(p, t->id);
                CHECK(found && found <= t && strcmp(found->id, t->id) == 0);
                CHECK(t->n_routes <= EC2_XML_MAX_NESTED_ITEMS);
                CHECK(t->n_routes == 0 || t->routes);
                for (size_t j = 0; j < t->n_routes; j++) {
                        const Ec2Route *r = &t->routes[j];

                        check_route(r);
                        if (r->destination_cidr) {
                                const Ec2Route *f = ec2_route_table_find(t, r->destination_cidr);
                                CHECK(f && f <= r && strcmp(f->destination_cidr, r->destination_cidr) == 0);
                        }
                }
                CHECK(!ec2_route_table_find(t, NULL));
                check_tags(t->tags, t->n_tags);
        }
        CHECK(!ec2_route_table_page_find(p, NULL));
        ec2_route_table_page_free(p);
        return true;
}

static bool fuzz_addresses(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2AddressPage *p = SENTINEL;

        if (ec2_parse_describe_addresses(body, size, &p) < 0) {
                CHECK(p == SENTINEL);
                return false;
        }
        CHECK(p && p != SENTINEL);
        CHECK(p->n_addresses <= EC2_XML_MAX_ITEMS);
        CHECK(p->n_addresses == 0 || p->addresses);
        check_request_id(p->request_id, rid_r, rid);
        for (size_t i = 0; i < p->n_addresses; i++) {
                const Ec2Address *a = &p->addresses[i];

                CHECK(a->public_ip || a->allocation_id);
                if (a->allocation_id) {
                        const Ec2Address *f = ec2_address_page_find(p, a->allocation_id);
                        CHECK(f && f <= a && strcmp(f->allocation_id, a->allocation_id) == 0);
                }
                check_tags(a->tags, a->n_tags);
        }
        CHECK(!ec2_address_page_find(p, NULL));
        ec2_address_page_free(p);
        return true;
}

static bool fuzz_associate_address(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2AssociateAddressResult res;

        memset(&res, POISON, sizeof(res));
        if (ec2_parse_associate_address(body, size, &res) < 0) {
                CHECK(is_poisoned(&res, sizeof(res)));
                return false;
        }
        CHECK(res.request_id);
        check_request_id(res.request_id, rid_r, rid);
        ec2_associate_address_result_done(&res);
        CHECK(!res.request_id && !res.association_id);
        return true;
}

static bool fuzz_assign_private_ips(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2AssignPrivateIpsResult res;

        memset(&res, POISON, sizeof(res));
        if (ec2_parse_assign_private_ip_addresses(body, size, &res) < 0) {
                CHECK(is_poisoned(&res, sizeof(res)));
                return false;
        }
        CHECK(res.request_id);
        check_request_id(res.request_id, rid_r, rid);
        CHECK(res.n_assigned <= EC2_XML_MAX_NESTED_ITEMS);
        CHECK(res.n_assigned == 0 || res.assigned);
        for (size_t i = 0; i < res.n_assigned; i++)
                CHECK(res.assigned[i].address);
        ec2_assign_private_ips_result_done(&res);
        CHECK(!res.request_id && !res.assigned && res.n_assigned == 0);
        return true;
}

/* ---- Snapshot (ec2-snapshot.h) ---- */

static void check_snapshot(const Ec2Snapshot *s) {
        CHECK(s->id && *s->id);
        CHECK(s->start_time == EC2_TIME_UNSET || s->start_time >= 0);
        check_tags(s->tags, s->n_tags);
}

static void check_snapshot_page(const Ec2SnapshotPage *p, int rid_r, const char *rid) {
        CHECK(p->n_snapshots <= EC2_XML_MAX_ITEMS);
        CHECK(p->n_snapshots == 0 || p->snapshots);
        check_request_id(p->request_id, rid_r, rid);
        for (size_t i = 0; i < p->n_snapshots; i++)
                check_snapshot(&p->snapshots[i]);
}

typedef struct StreamCheck {
        const Ec2SnapshotPage *page;    /* the typed parse of the same body; NULL when it failed */
        size_t n;                       /* items handed out */
        size_t stop_at;                 /* return STOP_ERROR at this item (1-based); 0 = never */
        bool stopped;
} StreamCheck;

static int stream_item(const Ec2Snapshot *s, void *userdata) {
        StreamCheck *c = userdata;

        CHECK(!c->stopped);             /* never called again once it said stop */
        CHECK(s);
        check_snapshot(s);
        if (c->page) {
                /* "the same checks, the same Ec2Snapshot contents" */
                CHECK(c->n < c->page->n_snapshots);
                CHECK(items_equal(&ec2_snapshot_schema, s, &c->page->snapshots[c->n]));
        }
        c->n++;
        if (c->stop_at > 0 && c->n == c->stop_at) {
                c->stopped = true;
                return STOP_ERROR;
        }
        return 0;
}

static bool fuzz_describe_snapshots(const uint8_t *data, size_t size, int rid_r, const char *rid) {
        const char *body = (const char *) data;
        Ec2SnapshotPage *p = SENTINEL;
        StreamCheck full = {}, stop = {};
        char *token = SENTINEL, *request_id = SENTINEL;
        int r_typed, r_full, r_stop;

        r_typed = ec2_parse_describe_snapshots(body, size, &p);
        if (r_typed < 0)
                CHECK(p == SENTINEL);
        else {
                CHECK(p && p != SENTINEL);
                check_snapshot_page(p, rid_r, rid);
                full.page = p;
        }

        /* Streamed, never stopped: the same outcome, the same items. */
        r_full = ec2_parse_describe_snapshots_each(body, size, stream_item, &full, &token, &request_id);
        if (r_full != r_typed) {
                fprintf(stderr, "typed %d, streamed %d after %zu items\n", r_typed, r_full, full.n);
                abort();
        }
        if (r_full == 0) {
                CHECK(full.n == p->n_snapshots);
                CHECK(token != SENTINEL && request_id != SENTINEL);
                CHECK(str_eq(token, p->next_token));
                CHECK(str_eq(request_id, p->request_id));
                free(token);
                free(request_id);
        } else
                CHECK(token == SENTINEL && request_id == SENTINEL);

        /* Streamed, stopped by the callback at item stop_at: that error, at
         * once, no output written. Past the last item it is the full run. */
        stop.page = full.page;
        stop.stop_at = 1 + (size > 0 ? data[size - 1] % 4 : 0);
        token = SENTINEL;
        r_stop = ec2_parse_describe_snapshots_each(body, size, stream_item, &stop, &token, NULL);
        if (stop.stop_at <= full.n) {
                CHECK(r_stop == STOP_ERROR);
                CHECK(stop.stopped && stop.n == stop.stop_at);
                CHECK(token == SENTINEL);
        } else {
                CHECK(r_stop == r_full);
                CHECK(!stop.stopped && stop.n == full.n);
                if (r_stop == 0) {
                        CHECK(token != SENTINEL && str_eq(token, p->next_token));
                        free(token);
                } else
                        CHECK(token == SENTINEL);
        }

        if (r_typed == 0)
                ec2_snapshot_page_free(p);
        return r_typed == 0;
}

static bool fuzz_create_snapshots(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2SnapshotPage *p = SENTINEL;

        if (ec2_parse_create_snapshots(body, size, &p) < 0) {
                CHECK(p == SENTINEL);
                return false;
        }
        CHECK(p && p != SENTINEL);
        CHECK(p->n_snapshots >= 1);     /* the answer to a write names what it made */
        check_snapshot_page(p, rid_r, rid);
        ec2_snapshot_page_free(p);
        return true;
}

static bool fuzz_describe_images(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2ImagePage *p = SENTINEL;

        if (ec2_parse_describe_images(body, size, &p) < 0) {
                CHECK(p == SENTINEL);
                return false;
        }
        CHECK(p && p != SENTINEL);
        CHECK(p->n_images <= EC2_XML_MAX_ITEMS);
        CHECK(p->n_images == 0 || p->images);
        check_request_id(p->request_id, rid_r, rid);
        for (size_t i = 0; i < p->n_images; i++) {
                const Ec2Image *img = &p->images[i];
                time_t t;

                CHECK(img->id && *img->id);
                /* creationDate parsed when it parses, EC2_TIME_UNSET otherwise */
                if (img->creation_date && ec2_parse_timestamp(img->creation_date, &t) == 0)
                        CHECK(img->creation_time == t);
                else
                        CHECK(img->creation_time == EC2_TIME_UNSET);
                CHECK(img->n_devices <= EC2_XML_MAX_NESTED_ITEMS);
                CHECK(img->n_devices == 0 || img->devices);
                for (size_t j = 0; j < img->n_devices; j++)
                        CHECK(img->devices[j].device_name);
                check_tags(img->tags, img->n_tags);
        }
        ec2_image_page_free(p);
        return true;
}

static bool fuzz_describe_volumes(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2VolumePage *p = SENTINEL;

        if (ec2_parse_describe_volumes(body, size, &p) < 0) {
                CHECK(p == SENTINEL);
                return false;
        }
        CHECK(p && p != SENTINEL);
        CHECK(p->n_volumes <= EC2_XML_MAX_ITEMS);
        CHECK(p->n_volumes == 0 || p->volumes);
        check_request_id(p->request_id, rid_r, rid);
        for (size_t i = 0; i < p->n_volumes; i++) {
                const Ec2Volume *v = &p->volumes[i];

                CHECK(v->id && *v->id);
                CHECK(v->create_time == EC2_TIME_UNSET || v->create_time >= 0);
                CHECK(v->n_attachments <= EC2_XML_MAX_NESTED_ITEMS);
                CHECK(v->n_attachments == 0 || v->attachments);
                check_tags(v->tags, v->n_tags);
        }
        ec2_volume_page_free(p);
        return true;
}

typedef int (*NewIdParser)(const char *body, size_t len, char **ret_id, char **ret_request_id);

static bool fuzz_new_id(NewIdParser parse, const char *body, size_t size, int rid_r, const char *rid) {
        char *id = SENTINEL, *request_id = SENTINEL;
        int r;

        r = parse(body, size, &id, &request_id);
        /* Either output may be NULL: the same answer without them. */
        CHECK(parse(body, size, NULL, NULL) == r);
        if (r < 0) {
                CHECK(id == SENTINEL && request_id == SENTINEL);
                return false;
        }
        CHECK(r == 0);
        CHECK(id && id != SENTINEL && *id);
        CHECK(request_id && request_id != SENTINEL && *request_id);
        check_request_id(request_id, rid_r, rid);
        free(id);
        free(request_id);
        return true;
}

/* ---- bastion (ec2-bastion.h) ---- */

static bool fuzz_security_group_rules(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2SecurityGroupRulePage *p = SENTINEL;

        if (ec2_parse_describe_security_group_rules(body, size, &p) < 0) {
                CHECK(p == SENTINEL);
                return false;
        }
        CHECK(p && p != SENTINEL);
        CHECK(p->n_rules <= EC2_XML_MAX_ITEMS);
        CHECK(p->n_rules == 0 || p->rules);
        check_request_id(p->request_id, rid_r, rid);
        for (size_t i = 0; i < p->n_rules; i++) {
                const Ec2SecurityGroupRule *rule = &p->rules[i], *f;

                CHECK(rule->id && rule->group_id);
                f = ec2_security_group_rule_find(p, rule->id);
                CHECK(f && f <= rule && strcmp(f->id, rule->id) == 0);
                check_tags(rule->tags, rule->n_tags);
        }
        CHECK(!ec2_security_group_rule_find(p, NULL));
        ec2_security_group_rule_page_free(p);
        return true;
}

static bool fuzz_revoke(const char *body, size_t size, int rid_r, const char *rid) {
        Ec2RevokeResult *res = SENTINEL;
        char *simple_rid = NULL;
        bool simple_ret = false;

        if (ec2_parse_revoke_security_group_ingress(body, size, &res) < 0) {
                CHECK(res == SENTINEL);
                return false;
        }
        CHECK(res && res != SENTINEL);
        CHECK(res->request_id);
        check_request_id(res->request_id, rid_r, rid);
        CHECK(res->n_unknown <= EC2_XML_MAX_NESTED_ITEMS);
        CHECK(res->n_revoked <= EC2_XML_MAX_NESTED_ITEMS);
        CHECK(res->n_revoked == 0 || res->revoked);
        for (size_t i = 0; i < res->n_revoked; i++)
                CHECK(res->revoked[i].id);
        /* The same requestId and return as the generic <return> parser, which
         * checks a subset of what this one checks. */
        CHECK(ec2_parse_simple(body, size, &simple_rid, &simple_ret) == 0);
        CHECK(str_eq(simple_rid, res->request_id) && simple_ret == res->ret);
        free(simple_rid);
        ec2_revoke_result_free(res);
        return true;
}

static bool fuzz_state_changes(const char *action, const char *body, size_t size, int rid_r, const char *rid) {
        Ec2InstanceStateChanges *c = SENTINEL;

        if (ec2_parse_instance_state_changes(action, body, size, &c) < 0) {
                CHECK(c == SENTINEL);
                return false;
        }
        CHECK(c && c != SENTINEL);
        CHECK(c->request_id);
        check_request_id(c->request_id, rid_r, rid);
        CHECK(c->n_changes <= EC2_XML_MAX_ITEMS);
        CHECK(c->n_changes == 0 || c->changes);
        for (size_t i = 0; i < c->n_changes; i++) {
                const Ec2InstanceStateChange *ch = &c->changes[i], *f;

                CHECK(ch->instance_id && ch->current_state);
                f = ec2_instance_state_changes_find(c, ch->instance_id);
                CHECK(f && f <= ch && strcmp(f->instance_id, ch->instance_id) == 0);
        }
        CHECK(!ec2_instance_state_changes_find(c, NULL));
        ec2_instance_state_changes_free(c);
        return true;
}

/* The argument checks, once: they do not depend on the input. */
static void check_arguments(const char *body, size_t size) {
        Ec2InstanceStateChanges *c = SENTINEL;
        static bool done;

        if (done)
                return;
        done = true;
        CHECK(ec2_parse_describe_route_tables(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_describe_addresses(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_associate_address(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_assign_private_ip_addresses(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_describe_snapshots(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_create_snapshots(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_describe_snapshots_each(body, size, NULL, NULL, NULL, NULL) == -EINVAL);
        CHECK(ec2_parse_describe_images(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_describe_volumes(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_describe_security_group_rules(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_revoke_security_group_ingress(body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_instance_state_changes("StopInstances", body, size, NULL) == -EINVAL);
        CHECK(ec2_parse_instance_state_changes(NULL, body, size, &c) == -EINVAL);
        CHECK(ec2_parse_instance_state_changes("RebootInstances", body, size, &c) == -EINVAL);
        CHECK(c == SENTINEL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *) data;
        static const XmlHandlers no_handlers = {};
        Ec2Error error = { .code = NULL };
        char *rid = NULL;
        unsigned n_ok = 0, salt = 0;
        int rid_r;

        check_arguments(body, size);

        rid_r = ec2_parse_request_id(body, size, &rid);
        CHECK(rid_r < 0 ? !rid : !!rid);

        n_ok += fuzz_route_tables(body, size, rid_r, rid);
        n_ok += fuzz_addresses(body, size, rid_r, rid);
        n_ok += fuzz_associate_address(body, size, rid_r, rid);
        n_ok += fuzz_assign_private_ips(body, size, rid_r, rid);

        n_ok += fuzz_describe_snapshots(data, size, rid_r, rid);
        n_ok += fuzz_create_snapshots(body, size, rid_r, rid);
        n_ok += fuzz_describe_images(body, size, rid_r, rid);
        n_ok += fuzz_describe_volumes(body, size, rid_r, rid);
        n_ok += fuzz_new_id(ec2_parse_create_image, body, size, rid_r, rid);
        n_ok += fuzz_new_id(ec2_parse_copy_image, body, size, rid_r, rid);
        n_ok += fuzz_new_id(ec2_parse_copy_snapshot, body, size, rid_r, rid);

        n_ok += fuzz_security_group_rules(body, size, rid_r, rid);
        n_ok += fuzz_revoke(body, size, rid_r, rid);
        n_ok += fuzz_state_changes("StopInstances", body, size, rid_r, rid);
        n_ok += fuzz_state_changes("TerminateInstances", body, size, rid_r, rid);
        free(rid);

        /* Every parser names its root; an error document is none of them. */
        if (ec2_parse_error(body, size, &error) == 0) {
                CHECK(error.code);
                n_ok++;
        }
        ec2_error_done(&error);
        CHECK(n_ok <= 1);
        /* and whatever a parser took is well-formed XML */
        if (n_ok > 0)
                CHECK(xml_parse_buffer(data, size, &no_handlers, NULL) == 0);

        check_split(data, size, salt++, EC2_XML_ROOTS("DescribeRouteTablesResponse"), &ec2_route_table_page_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("DescribeAddressesResponse"), &ec2_address_page_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("AssociateAddressResponse"),
                    &ec2_associate_address_result_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("AssignPrivateIpAddressesResponse"),
                    &ec2_assign_private_ips_result_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("DescribeSnapshotsResponse", "CreateSnapshotsResponse"),
                    &ec2_snapshot_page_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("DescribeImagesResponse"), &ec2_image_page_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("DescribeVolumesResponse"), &ec2_volume_page_schema);
        check_split(data, size, salt++, EC2_XML_ROOTS("DescribeSecurityGroupRulesResponse"),
                    &ec2_security_group_rule_page_schema);

        /* Item schemas as documents of their own. */
        check_split(data, size, salt++, NULL, &ec2_route_schema);
        check_split(data, size, salt++, NULL, &ec2_route_table_schema);
        check_split(data, size, salt++, NULL, &ec2_address_schema);
        check_split(data, size, salt++, NULL, &ec2_snapshot_schema);
        check_split(data, size, salt++, NULL, &ec2_image_device_schema);
        check_split(data, size, salt++, NULL, &ec2_image_schema);
        check_split(data, size, salt++, NULL, &ec2_volume_attachment_schema);
        check_split(data, size, salt++, NULL, &ec2_volume_schema);
        check_split(data, size, salt++, NULL, &ec2_security_group_rule_schema);

        return 0;
}
