/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cdp/macro.h"
#include "cdp/parse-util.h"
#include "cdp/policy.h"

#define T(k, v) ((PolicyTag) { .key = (k), .value = (v) })

static Policy *parse(const PolicyTag *tags, size_t n) {
        Policy *p = NULL;

        assert_int_equal(policy_parse(tags, n, "cdp:", &p), 0);
        assert_non_null(p);
        return p;
}

static char *to_json(const Policy *p) {
        struct json_object *j = NULL;
        char *s;

        assert_int_equal(policy_to_json(p, &j), 0);
        s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        assert_non_null(s);
        json_object_put(j);
        return s;
}

static void dump_errors(const Policy *p) {
        for (size_t i = 0; i < p->n_errors; i++)
                print_message("  error %zu: %s\n", i, p->errors[i].reason);
}

static void assert_no_errors(const Policy *p) {
        if (p->n_errors != 0) {
                dump_errors(p);
                fail_msg("expected no errors, got %zu", p->n_errors);
        }
}

/* ------------------------------------------------------------------------ */

static const PolicyTag full_example[] = {
        T("Name", "bastion-1"),
        T("cdp:snapshot", "0 3 * * *"),
        T("cdp:tz", "Asia/Tokyo"),
        T("cdp:snapshot:keep", "14"),
        T("cdp:snapshot:type", "ebs"),
        T("cdp:snapshot:volumes", " /dev/sdf , vol-0123456789abcdef0,/dev/nvme1n1 "),
        T("cdp:snapshot:copy-to", "us-west-2, ap-northeast-3"),
        T("cdp:floating-ip", "eipalloc-0123abcd, 10.0.1.10"),
        T("cdp:routing-ha", "192.168.100.10/32@rtb-0a1+rtb-0b2, 0.0.0.0/0@rtb-0123456789abcdef0"),
        T("cdp:expires-at", "2026-11-22T08:00:00+09:00"),
        T("cdp:ttl", "4h"),
        T("cdp:expire-action", "stop"),
        T("cdp:expire-revoke", "sgr-0123456789abcdef0,sgr-0fedcba9"),
        T("cdp:env:DB_HOST", "db.internal"),
        T("cdp:env:GREETING", "  hello \"world\" = 1\t"),
        T("cdp:env:APP_MODE", "blue"),
};

static void test_policy_parse__full_example__every_policy_enabled(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(full_example, ELEMENTSOF(full_example));
        char buf[INET_ADDRSTRLEN];

        (void) state;
        assert_no_errors(p);

        assert_true(p->snapshot.enabled);
        assert_false(p->snapshot.invalid);
        assert_string_equal(p->snapshot.schedule_text, "0 3 * * *");
        assert_int_equal(p->snapshot.schedule.kind, SCHEDULE_CRON);
        assert_string_equal(p->snapshot.tz, "Asia/Tokyo");
        assert_int_equal(p->snapshot.keep, 14);
        assert_int_equal(p->snapshot.type, SNAPSHOT_TYPE_EBS);
        assert_int_equal(p->snapshot.volumes, SNAPSHOT_VOLUMES_LIST);
        assert_int_equal(p->snapshot.n_devices, 2);
        assert_string_equal(p->snapshot.devices[0], "/dev/sdf");
        assert_string_equal(p->snapshot.devices[1], "/dev/nvme1n1");
        assert_int_equal(p->snapshot.n_volume_ids, 1);
        assert_string_equal(p->snapshot.volume_ids[0], "vol-0123456789abcdef0");
        assert_int_equal(p->snapshot.n_copy_to, 2);
        assert_string_equal(p->snapshot.copy_to[1], "ap-northeast-3");

        assert_true(p->floating_ip.enabled);
        assert_int_equal(p->floating_ip.n_targets, 2);
        assert_int_equal(p->floating_ip.targets[0].kind, FLOATING_IP_ELASTIC);
        assert_string_equal(p->floating_ip.targets[0].allocation_id, "eipalloc-0123abcd");
        assert_int_equal(p->floating_ip.targets[1].kind, FLOATING_IP_PRIVATE);
        assert_null(p->floating_ip.targets[1].allocation_id);
        assert_string_equal(inet_ntop(AF_INET, &p->floating_ip.targets[1].address, buf, sizeof(buf)), "10.0.1.10");

        assert_true(p->routing_ha.enabled);
        assert_int_equal(p->routing_ha.n_routes, 2);
        assert_string_equal(p->routing_ha.routes[0].cidr, "192.168.100.10/32");
        assert_int_equal(p->routing_ha.routes[0].prefix, 32);
        assert_int_equal(p->routing_ha.routes[0].n_route_tables, 2);
        assert_string_equal(p->routing_ha.routes[0].route_tables[1], "rtb-0b2");
        assert_string_equal(p->routing_ha.routes[1].cidr, "0.0.0.0/0");

        assert_true(p->bastion.enabled);
        assert_true(p->bastion.has_expires_at);
        assert_true(p->bastion.expires_at == 1795302000);
        assert_true(p->bastion.has_ttl);
        assert_true(p->bastion.ttl_usec == 4 * 3600 * USEC_PER_SEC);
        assert_int_equal(p->bastion.action, EXPIRE_ACTION_STOP);
        assert_int_equal(p->bastion.n_revoke_rule_ids, 2);

        /* Sorted by name, values verbatim (not trimmed). */
        assert_true(p->env.enabled);
        assert_int_equal(p->env.n_vars, 3);
        assert_string_equal(p->env.vars[0].name, "APP_MODE");
        assert_string_equal(p->env.vars[1].name, "DB_HOST");
        assert_string_equal(p->env.vars[2].name, "GREETING");
        assert_string_equal(p->env.vars[2].value, "  hello \"world\" = 1\t");
}

static void test_policy_to_json__full_example__documented_keys(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(full_example, ELEMENTSOF(full_example));
        _cleanup_free_ char *json = to_json(p);

        (void) state;
        assert_string_equal(json,
                "{\"snapshot\":{\"enabled\":true,\"invalid\":false,\"schedule\":\"0 3 * * *\","
                "\"schedule_kind\":\"cron\",\"tz\":\"Asia/Tokyo\",\"keep\":14,\"type\":\"ebs\",\"volumes\":\"list\","
                "\"devices\":[\"/dev/sdf\",\"/dev/nvme1n1\"],\"volume_ids\":[\"vol-0123456789abcdef0\"],"
                "\"copy_to\":[\"us-west-2\",\"ap-northeast-3\"]},"
                "\"cloud_di\":{\"enabled\":true,\"invalid\":false,\"env\":{\"APP_MODE\":\"blue\","
                "\"DB_HOST\":\"db.internal\",\"GREETING\":\"  hello \\\"world\\\" = 1\\t\"}},"
                "\"floating_ip\":{\"enabled\":true,\"invalid\":false,\"targets\":["
                "{\"type\":\"elastic-ip\",\"allocation_id\":\"eipalloc-0123abcd\"},"
                "{\"type\":\"private-ip\",\"address\":\"10.0.1.10\"}]},"
                "\"routing_ha\":{\"enabled\":true,\"invalid\":false,\"routes\":["
                "{\"cidr\":\"192.168.100.10/32\",\"route_tables\":[\"rtb-0a1\",\"rtb-0b2\"]},"
                "{\"cidr\":\"0.0.0.0/0\",\"route_tables\":[\"rtb-0123456789abcdef0\"]}]},"
                "\"bastion\":{\"enabled\":true,\"invalid\":false,\"expires_at\":\"2026-11-21T23:00:00Z\","
                "\"ttl_seconds\":14400,\"ttl\":\"4h\",\"expire_action\":\"stop\","
                "\"expire_revoke\":[\"sgr-0123456789abcdef0\",\"sgr-0fedcba9\"]},"
                "\"errors\":[]}");
}

static void test_policy_parse__defaults__applied(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "every 90m"),
                T("cdp:expires-at", "2026-11-21T23:00:00Z"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_free_ char *json = to_json(p);

        (void) state;
        assert_no_errors(p);
        assert_true(p->snapshot.enabled);
        assert_string_equal(p->snapshot.tz, "UTC");
        assert_int_equal(p->snapshot.keep, 7);
        assert_int_equal(p->snapshot.type, SNAPSHOT_TYPE_EBS);
        assert_int_equal(p->snapshot.volumes, SNAPSHOT_VOLUMES_ALL);
        assert_int_equal(p->snapshot.schedule.kind, SCHEDULE_INTERVAL);
        assert_true(p->bastion.enabled);
        assert_int_equal(p->bastion.action, EXPIRE_ACTION_TERMINATE);
        assert_false(p->bastion.has_ttl);
        assert_false(p->floating_ip.enabled);
        assert_false(p->routing_ha.enabled);
        assert_false(p->env.enabled);

        assert_string_equal(json,
                "{\"snapshot\":{\"enabled\":true,\"invalid\":false,\"schedule\":\"every 90m\","
                "\"schedule_kind\":\"interval\",\"interval_seconds\":5400,\"tz\":\"UTC\",\"keep\":7,\"type\":\"ebs\","
                "\"volumes\":\"all\",\"devices\":[],\"volume_ids\":[],\"copy_to\":[]},"
                "\"cloud_di\":{\"enabled\":false,\"invalid\":false,\"env\":{}},"
                "\"floating_ip\":{\"enabled\":false,\"invalid\":false},"
                "\"routing_ha\":{\"enabled\":false,\"invalid\":false},"
                "\"bastion\":{\"enabled\":true,\"invalid\":false,\"expires_at\":\"2026-11-21T23:00:00Z\","
                "\"expire_action\":\"terminate\",\"expire_revoke\":[]},"
                "\"errors\":[]}");
}

static void test_policy_parse__no_tags__nothing_enabled(void **state) {
        _cleanup_(policy_freep) Policy *p = parse(NULL, 0);

        (void) state;
        assert_no_errors(p);
        assert_false(p->snapshot.enabled);
        assert_false(p->snapshot.invalid);
        assert_false(p->env.enabled);
        assert_false(p->floating_ip.enabled);
        assert_false(p->routing_ha.enabled);
        assert_false(p->bastion.enabled);
}

static void test_policy_parse__keywords_and_blanks__lenient(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "  @Daily "),
                T("cdp:tz", " Europe/London "),
                T("cdp:snapshot:keep", " 30 "),
                T("cdp:snapshot:type", "AMI"),
                T("cdp:snapshot:volumes", "ALL"),
                T("cdp:expire-action", " Terminate "),
                T("cdp:ttl", " 1h30m "),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_no_errors(p);
        assert_true(p->snapshot.enabled);
        assert_string_equal(p->snapshot.schedule_text, "@Daily");
        assert_string_equal(p->snapshot.tz, "Europe/London");
        assert_int_equal(p->snapshot.keep, 30);
        assert_int_equal(p->snapshot.type, SNAPSHOT_TYPE_AMI);
        assert_int_equal(p->snapshot.volumes, SNAPSHOT_VOLUMES_ALL);
        assert_true(p->bastion.enabled);
        assert_true(p->bastion.ttl_usec == 5400 * USEC_PER_SEC);
}

/* ------------------------------------------------------------------------ */
/* One bad tag: its message, and only its own policy switched off. */

enum { P_SNAPSHOT, P_ENV, P_FLOATING_IP, P_ROUTING_HA, P_BASTION, P_NONE };

static const PolicyTag baseline[] = {
        T("cdp:snapshot", "@daily"),
        T("cdp:env:BASE", "1"),
        T("cdp:floating-ip", "eipalloc-0123abcd"),
        T("cdp:routing-ha", "10.0.0.0/24@rtb-0a1"),
        T("cdp:ttl", "4h"),
};

typedef struct BadCase {
        const char *key, *value;
        int disabled;
        const char *reason;
} BadCase;

#define SNAP_OFF " (the snapshot policy is off until this is fixed)"
#define FIP_OFF " (the floating IP policy is off until this is fixed)"
#define RHA_OFF " (the routing HA policy is off until this is fixed)"
#define BAS_OFF " (the bastion policy is off, nothing expires, until this is fixed)"
#define ENV_OUT " (this variable is left out)"

static const BadCase bad_cases[] = {
        { "cdp:snapshot:keep", "seven", P_SNAPSHOT,
          "cdp:snapshot:keep: \"seven\" is not a whole number from 1 to 1000" SNAP_OFF },
        { "cdp:snapshot:keep", "0", P_SNAPSHOT, "cdp:snapshot:keep: \"0\" is not a whole number from 1 to 1000" SNAP_OFF },
        { "cdp:snapshot:keep", "1001", P_SNAPSHOT,
          "cdp:snapshot:keep: \"1001\" is not a whole number from 1 to 1000" SNAP_OFF },
        { "cdp:snapshot:keep", "-3", P_SNAPSHOT, "cdp:snapshot:keep: \"-3\" is not a whole number from 1 to 1000" SNAP_OFF },
        { "cdp:snapshot:keep", "", P_SNAPSHOT, "cdp:snapshot:keep: \"\" is not a whole number from 1 to 1000" SNAP_OFF },
        { "cdp:snapshot", "0 3 * *", P_SNAPSHOT,
          "cdp:snapshot: \"0 3 * *\" has 4 fields; a crontab line has 5: minute hour day-of-month month day-of-week "
          "(no seconds, no command)" SNAP_OFF },
        { "cdp:snapshot", "", P_SNAPSHOT,
          "cdp:snapshot: \"\" is empty; expected @hourly, @daily, @weekly, @monthly, @yearly, \"every <N>m|h|d\" or a "
          "5-field crontab line such as \"0 3 * * *\"" SNAP_OFF },
        { "cdp:snapshot", "every 30s", P_SNAPSHOT,
          "cdp:snapshot: \"every 30s\" has an interval \"30s\" that is not a whole number of minutes from 1m to 365d"
          SNAP_OFF },
        { "cdp:tz", "Asia/Tokio", P_SNAPSHOT,
          "cdp:tz: \"Asia/Tokio\" is not a time zone known to this system (nothing under /usr/share/zoneinfo; "
          "expected a name such as Asia/Tokyo, Europe/London or UTC)" SNAP_OFF },
        { "cdp:tz", "../../etc/passwd", P_SNAPSHOT,
          "cdp:tz: \"../../etc/passwd\" is not an IANA time zone name such as Asia/Tokyo, Europe/London or UTC" SNAP_OFF },
        { "cdp:tz", "localtime", P_SNAPSHOT,
          "cdp:tz: \"localtime\" is not an IANA time zone name such as Asia/Tokyo, Europe/London or UTC" SNAP_OFF },
        { "cdp:tz", "", P_SNAPSHOT,
          "cdp:tz: \"\" is not an IANA time zone name such as Asia/Tokyo, Europe/London or UTC" SNAP_OFF },
        { "cdp:snapshot:type", "snapshot", P_SNAPSHOT, "cdp:snapshot:type: \"snapshot\" is not \"ebs\" or \"ami\"" SNAP_OFF },
        { "cdp:snapshot:volumes", "/dev/sdf,,/dev/sdg", P_SNAPSHOT,
          "cdp:snapshot:volumes: \"/dev/sdf,,/dev/sdg\" has an empty item; expected items separated by \",\"" SNAP_OFF },
        { "cdp:snapshot:volumes", "all,/dev/sdf", P_SNAPSHOT,
          "cdp:snapshot:volumes: \"all,/dev/sdf\" combines \"all\" with other items; use \"all\", \"data\" or a list "
          "of devices and volume ids" SNAP_OFF },
        { "cdp:snapshot:volumes", "/dev/hda", P_SNAPSHOT,
          "cdp:snapshot:volumes: \"/dev/hda\" has an invalid item \"/dev/hda\": expected \"all\", \"data\" or a comma "
          "list of device names (/dev/sdf, /dev/xvdf, /dev/nvme1n1) and volume ids (vol- and 8 or 17 lowercase hex "
          "digits)" SNAP_OFF },
        { "cdp:snapshot:volumes", "/dev/sdf,/dev/sdf", P_SNAPSHOT,
          "cdp:snapshot:volumes: \"/dev/sdf,/dev/sdf\" lists \"/dev/sdf\" twice" SNAP_OFF },
        { "cdp:snapshot:copy-to", "us-east", P_SNAPSHOT,
          "cdp:snapshot:copy-to: \"us-east\" has an invalid item \"us-east\": expected a comma list of AWS region "
          "names such as us-east-1 or ap-northeast-1" SNAP_OFF },
        { "cdp:snapshot:copy-to", "us-west-2, us-west-2", P_SNAPSHOT,
          "cdp:snapshot:copy-to: \"us-west-2, us-west-2\" lists \"us-west-2\" twice" SNAP_OFF },
        { "cdp:snapshot:copy-to", ",", P_SNAPSHOT,
          "cdp:snapshot:copy-to: \",\" has an empty item; expected items separated by \",\"" SNAP_OFF },
        { "cdp:floating-ip", "eipalloc-xyz", P_FLOATING_IP,
          "cdp:floating-ip: \"eipalloc-xyz\" has an invalid item \"eipalloc-xyz\": expected a comma list of Elastic "
          "IP allocation ids (eipalloc- and 8 or 17 lowercase hex digits) and private IPv4 addresses such as "
          "10.0.1.10" FIP_OFF },
        { "cdp:floating-ip", "10.0.0.256", P_FLOATING_IP,
          "cdp:floating-ip: \"10.0.0.256\" has an invalid item \"10.0.0.256\": expected a comma list of Elastic IP "
          "allocation ids (eipalloc- and 8 or 17 lowercase hex digits) and private IPv4 addresses such as "
          "10.0.1.10" FIP_OFF },
        { "cdp:floating-ip", "127.0.0.1", P_FLOATING_IP,
          "cdp:floating-ip: \"127.0.0.1\" has \"127.0.0.1\", which cannot be a private address of an interface "
          "(zero, loopback, link-local or multicast)" FIP_OFF },
        { "cdp:floating-ip", "eipalloc-0123abcd, eipalloc-0123abcd", P_FLOATING_IP,
          "cdp:floating-ip: \"eipalloc-0123abcd, eipalloc-0123abcd\" lists \"eipalloc-0123abcd\" twice" FIP_OFF },
        { "cdp:routing-ha", "192.168.100.10/24@rtb-0a1", P_ROUTING_HA,
          "cdp:routing-ha: \"192.168.100.10/24@rtb-0a1\" has \"192.168.100.10/24\" with host bits set (EC2 refuses "
          "such a route); did you mean 192.168.100.0/24?" RHA_OFF },
        { "cdp:routing-ha", "192.168.100.10@rtb-0a1", P_ROUTING_HA,
          "cdp:routing-ha: \"192.168.100.10@rtb-0a1\" has an invalid destination \"192.168.100.10\": expected an "
          "IPv4 CIDR such as 192.168.100.10/32; expected a comma list of <cidr>@<route table>[+<route table>...], "
          "e.g. 192.168.100.10/32@rtb-0a1b2c3d+rtb-4e5f6a7b" RHA_OFF },
        { "cdp:routing-ha", "192.168.100.10/32", P_ROUTING_HA,
          "cdp:routing-ha: \"192.168.100.10/32\" has an invalid item \"192.168.100.10/32\": expected a comma list of "
          "<cidr>@<route table>[+<route table>...], e.g. 192.168.100.10/32@rtb-0a1b2c3d+rtb-4e5f6a7b" RHA_OFF },
        { "cdp:routing-ha", "192.168.100.10/32@", P_ROUTING_HA,
          "cdp:routing-ha: \"192.168.100.10/32@\" has an item \"192.168.100.10/32@\" that has an empty item; "
          "expected items separated by \"+\"" RHA_OFF },
        { "cdp:routing-ha", "192.168.100.10/32@RTB-1", P_ROUTING_HA,
          "cdp:routing-ha: \"192.168.100.10/32@RTB-1\" has an invalid route table id \"RTB-1\": expected rtb- and "
          "lowercase hex digits; expected a comma list of <cidr>@<route table>[+<route table>...], e.g. "
          "192.168.100.10/32@rtb-0a1b2c3d+rtb-4e5f6a7b" RHA_OFF },
        { "cdp:routing-ha", "192.168.100.10/32@rtb-0a1+rtb-0a1", P_ROUTING_HA,
          "cdp:routing-ha: \"192.168.100.10/32@rtb-0a1+rtb-0a1\" lists \"192.168.100.10/32\" in \"rtb-0a1\" twice"
          RHA_OFF },
        { "cdp:routing-ha", "10.1.0.0/16@rtb-1, 10.1.0.0/16@rtb-2+rtb-1", P_ROUTING_HA,
          "cdp:routing-ha: \"10.1.0.0/16@rtb-1, 10.1.0.0/16@rtb-2+rtb-1\" lists \"10.1.0.0/16\" in \"rtb-1\" twice"
          RHA_OFF },
        { "cdp:routing-ha", "10.0.0.1/32@rtb-1@rtb-2", P_ROUTING_HA,
          "cdp:routing-ha: \"10.0.0.1/32@rtb-1@rtb-2\" has an invalid item \"10.0.0.1/32@rtb-1@rtb-2\": expected a "
          "comma list of <cidr>@<route table>[+<route table>...], e.g. 192.168.100.10/32@rtb-0a1b2c3d+rtb-4e5f6a7b"
          RHA_OFF },
        { "cdp:expires-at", "tomorrow", P_BASTION,
          "cdp:expires-at: \"tomorrow\" is not an RFC 3339 time; expected an RFC 3339 time such as "
          "2026-11-21T23:00:00Z" BAS_OFF },
        { "cdp:expires-at", "2026-02-30T00:00:00Z", P_BASTION,
          "cdp:expires-at: \"2026-02-30T00:00:00Z\" is not a real date and time; expected an RFC 3339 time such as "
          "2026-11-21T23:00:00Z" BAS_OFF },
        { "cdp:ttl", "4 hours", P_BASTION,
          "cdp:ttl: \"4 hours\" is not a duration from 1s to 3650d such as 90m, 4h or 2d" BAS_OFF },
        { "cdp:ttl", "0s", P_BASTION, "cdp:ttl: \"0s\" is not a duration from 1s to 3650d such as 90m, 4h or 2d" BAS_OFF },
        { "cdp:ttl", "90", P_BASTION, "cdp:ttl: \"90\" is not a duration from 1s to 3650d such as 90m, 4h or 2d" BAS_OFF },
        { "cdp:expire-action", "shutdown", P_BASTION,
          "cdp:expire-action: \"shutdown\" is not \"terminate\" or \"stop\"" BAS_OFF },
        { "cdp:expire-revoke", "sgr-01", P_BASTION,
          "cdp:expire-revoke: \"sgr-01\" has an invalid item \"sgr-01\": expected a comma list of security group rule "
          "ids (sgr- and 8 or 17 lowercase hex digits)" BAS_OFF },
        { "cdp:expire-revoke", "sgr-0123456789abcdef0,sgr-0123456789abcdef0", P_BASTION,
          "cdp:expire-revoke: \"sgr-0123456789abcdef0,sgr-0123456789abcdef0\" lists \"sgr-0123456789abcdef0\" twice"
          BAS_OFF },
        { "cdp:env:1X", "v", P_NONE,
          "cdp:env:1X: \"v\" has an invalid variable name: after cdp:env: expected a name matching "
          "[A-Za-z_][A-Za-z0-9_]*" ENV_OUT },
        { "cdp:env:", "v", P_NONE,
          "cdp:env:: \"v\" has an invalid variable name: after cdp:env: expected a name matching "
          "[A-Za-z_][A-Za-z0-9_]*" ENV_OUT },
        { "cdp:env:LD_PRELOAD", "/tmp/x.so", P_NONE,
          "cdp:env:LD_PRELOAD: \"/tmp/x.so\" is refused: LD_PRELOAD makes programs load or run other code, and a tag "
          "never names code to run" ENV_OUT },
        { "cdp:env:PATH", "/tmp", P_NONE,
          "cdp:env:PATH: \"/tmp\" is refused: PATH makes programs load or run other code, and a tag never names code "
          "to run" ENV_OUT },
        { "cdp:env:X", "a\nB=2", P_NONE,
          "cdp:env:X: \"a\\nB=2\" contains a control character; expected a single line of text, since the env file is "
          "line based" ENV_OUT },
        { "cdp:snapshot:kep", "30", P_SNAPSHOT,
          "cdp:snapshot:kep: unknown tag (value \"30\"); did you mean cdp:snapshot:keep?" SNAP_OFF },
        { "cdp:snapshot-keep", "30", P_SNAPSHOT,
          "cdp:snapshot-keep: unknown tag (value \"30\"); did you mean cdp:snapshot:keep?" SNAP_OFF },
        { "cdp:snapshot:retention", "30", P_SNAPSHOT,
          "cdp:snapshot:retention: unknown tag (value \"30\"); known tags are cdp:snapshot, cdp:snapshot:keep, "
          "cdp:snapshot:type, cdp:snapshot:volumes, cdp:snapshot:copy-to, cdp:tz, cdp:floating-ip, cdp:routing-ha, "
          "cdp:expires-at, cdp:ttl, cdp:expire-action, cdp:expire-revoke, cdp:env:<NAME>" SNAP_OFF },
        { "cdp:expire-actoin", "stop", P_BASTION,
          "cdp:expire-actoin: unknown tag (value \"stop\"); did you mean cdp:expire-action?" BAS_OFF },
        { "cdp:tZ", "UTC", P_SNAPSHOT, "cdp:tZ: unknown tag (value \"UTC\"); did you mean cdp:tz?" SNAP_OFF },
        { "cdp:floating-ips", "10.0.0.5", P_NONE,
          "cdp:floating-ips: unknown tag (value \"10.0.0.5\"); did you mean cdp:floating-ip?" },
        { "cdp:Env:FOO", "bar", P_NONE,
          "cdp:Env:FOO: unknown tag (value \"bar\"); tag keys are case sensitive: did you mean cdp:env:FOO?" },
        { "cdp:tag", "x", P_NONE,
          "cdp:tag: unknown tag (value \"x\"); known tags are cdp:snapshot, cdp:snapshot:keep, cdp:snapshot:type, "
          "cdp:snapshot:volumes, cdp:snapshot:copy-to, cdp:tz, cdp:floating-ip, cdp:routing-ha, cdp:expires-at, "
          "cdp:ttl, cdp:expire-action, cdp:expire-revoke, cdp:env:<NAME>" },
};

static void test_policy_parse__one_bad_tag__message_and_only_its_policy_off(void **state) {
        (void) state;
        for (size_t c = 0; c < ELEMENTSOF(bad_cases); c++) {
                const BadCase *bc = &bad_cases[c];
                _cleanup_(policy_freep) Policy *p = NULL;
                PolicyTag tags[ELEMENTSOF(baseline) + 1];
                size_t n = 0;

                tags[n++] = T(bc->key, bc->value);
                for (size_t i = 0; i < ELEMENTSOF(baseline); i++)
                        if (strcmp(baseline[i].key, bc->key) != 0)
                                tags[n++] = baseline[i];
                p = parse(tags, n);

                if (p->n_errors != 1) {
                        dump_errors(p);
                        fail_msg("case %zu (%s): %zu errors", c, bc->key, p->n_errors);
                }
                if (strcmp(p->errors[0].reason, bc->reason) != 0)
                        fail_msg("case %zu:\n  got      %s\n  expected %s", c, p->errors[0].reason, bc->reason);
                assert_string_equal(p->errors[0].tag, bc->key);
                assert_string_equal(p->errors[0].value, bc->value);

                if (p->snapshot.enabled != (bc->disabled != P_SNAPSHOT) ||
                    p->snapshot.invalid != (bc->disabled == P_SNAPSHOT) ||
                    p->floating_ip.enabled != (bc->disabled != P_FLOATING_IP) ||
                    p->floating_ip.invalid != (bc->disabled == P_FLOATING_IP) ||
                    p->routing_ha.enabled != (bc->disabled != P_ROUTING_HA) ||
                    p->routing_ha.invalid != (bc->disabled == P_ROUTING_HA) ||
                    p->bastion.enabled != (bc->disabled != P_BASTION) ||
                    p->bastion.invalid != (bc->disabled == P_BASTION))
                        fail_msg("case %zu (%s=%s): wrong policies enabled: snapshot %d floating %d routing %d "
                                 "bastion %d", c, bc->key, bc->value, p->snapshot.enabled, p->floating_ip.enabled,
                                 p->routing_ha.enabled, p->bastion.enabled);
                /* Cloud DI keeps its other variables. */
                assert_true(p->env.enabled);
                assert_string_equal(p->env.vars[0].name, "BASE");
                assert_int_equal(p->env.n_vars, 1);
                assert_int_equal(p->env.invalid, strncmp(bc->key, "cdp:env:", 8) == 0);
        }
}

static void test_policy_to_json__errors__tag_value_reason(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "@daily"),
                T("cdp:snapshot:keep", "seven"),
                T("cdp:env:OK", "1"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_free_ char *json = to_json(p);

        (void) state;
        assert_string_equal(json,
                "{\"snapshot\":{\"enabled\":false,\"invalid\":true},"
                "\"cloud_di\":{\"enabled\":true,\"invalid\":false,\"env\":{\"OK\":\"1\"}},"
                "\"floating_ip\":{\"enabled\":false,\"invalid\":false},"
                "\"routing_ha\":{\"enabled\":false,\"invalid\":false},"
                "\"bastion\":{\"enabled\":false,\"invalid\":false},"
                "\"errors\":[{\"tag\":\"cdp:snapshot:keep\",\"value\":\"seven\",\"reason\":"
                "\"cdp:snapshot:keep: \\\"seven\\\" is not a whole number from 1 to 1000 (the snapshot policy is off "
                "until this is fixed)\"}]}");
}

static void test_policy_parse__several_bad_tags__all_reported(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "0 3 * *"),
                T("cdp:snapshot:keep", "seven"),
                T("cdp:snapshot:type", "zfs"),
                T("cdp:ttl", "soon"),
                T("cdp:expires-at", "never"),
                T("cdp:floating-ip", "10.0.0.5"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_int_equal(p->n_errors, 5);
        assert_false(p->snapshot.enabled);
        assert_false(p->bastion.enabled);
        assert_true(p->floating_ip.enabled);
}

/* ------------------------------------------------------------------------ */

static void test_policy_parse__ami_with_volume_list__refused(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "@daily"),
                T("cdp:snapshot:type", "ami"),
                T("cdp:snapshot:volumes", "data"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0].reason,
                            "cdp:snapshot:volumes: \"data\" cannot be used with cdp:snapshot:type=ami: an image always "
                            "holds every volume; use \"all\" or type ebs" SNAP_OFF);
        assert_false(p->snapshot.enabled);
}

static void test_policy_parse__volumes_data_and_devices__accepted(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "@daily"),
                T("cdp:snapshot:volumes", "Data"),
        };
        const PolicyTag tags2[] = {
                T("cdp:snapshot", "@daily"),
                T("cdp:snapshot:volumes", "/dev/sda1,/dev/xvdba,/dev/sdp6,/dev/nvme10n1,vol-1a2b3c4d"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_(policy_freep) Policy *p2 = parse(tags2, ELEMENTSOF(tags2));

        (void) state;
        assert_no_errors(p);
        assert_int_equal(p->snapshot.volumes, SNAPSHOT_VOLUMES_DATA);
        assert_no_errors(p2);
        assert_int_equal(p2->snapshot.n_devices, 4);
        assert_int_equal(p2->snapshot.n_volume_ids, 1);
}

static void test_policy_parse__sub_tags_without_schedule__checked_not_enabled(void **state) {
        const PolicyTag good[] = { T("cdp:snapshot:keep", "3"), T("cdp:tz", "Asia/Tokyo") };
        const PolicyTag bad[] = { T("cdp:snapshot:keep", "three") };
        _cleanup_(policy_freep) Policy *p = parse(good, ELEMENTSOF(good));
        _cleanup_(policy_freep) Policy *q = parse(bad, ELEMENTSOF(bad));

        (void) state;
        assert_no_errors(p);
        assert_false(p->snapshot.enabled);
        assert_false(p->snapshot.invalid);
        assert_int_equal(q->n_errors, 1);
        assert_false(q->snapshot.enabled);
        assert_true(q->snapshot.invalid);
}

static void test_policy_parse__foreign_and_output_tags__ignored(void **state) {
        const PolicyTag tags[] = {
                T("Name", "web"),
                T("aws:cloudformation:stack-name", "x"),
                T("CDP:snapshot", "not ours"),
                T("cdp", "no colon"),
                T("cdp:managed-by", "cdpd"),
                T("cdp:instance-id", "i-0123456789abcdef0"),
                T("cdp:slot", "2026-11-21T03:00:00Z"),
                T("cdp:volume-id", "vol-0123456789abcdef0"),
                T("cdp:device", "/dev/sdf"),
                T("other", "\xff\xfe not UTF-8 but not ours"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_no_errors(p);
        assert_false(p->snapshot.enabled);
}

static void test_policy_parse__custom_prefix__used(void **state) {
        const PolicyTag tags[] = {
                T("acme:snapshot", "@hourly"),
                T("acme:env:X", "1"),
                T("cdp:snapshot", "garbage"),
                T("acme:bogus", "1"),
        };
        Policy *p = NULL;

        (void) state;
        assert_int_equal(policy_parse(tags, ELEMENTSOF(tags), "acme:", &p), 0);
        assert_true(p->snapshot.enabled);
        assert_true(p->env.enabled);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0].tag, "acme:bogus");
        assert_non_null(strstr(p->errors[0].reason, "known tags are acme:snapshot, acme:snapshot:keep,"));
        policy_free(p);
}

static void test_policy_parse__duplicate_key__refused(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "@daily"),
                T("cdp:snapshot:keep", "30"),
                T("cdp:snapshot:keep", "3"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0].reason,
                            "cdp:snapshot:keep: \"3\" repeats a tag given before (first value \"30\")" SNAP_OFF);
        assert_false(p->snapshot.enabled);
}

static void test_policy_parse__duplicate_env_key__first_kept(void **state) {
        const PolicyTag tags[] = {
                T("cdp:env:X", "1"),
                T("cdp:env:X", "2"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0].reason, "cdp:env:X: \"2\" repeats a tag given before (first value \"1\"); "
                            "the first value is kept");
        assert_int_equal(p->env.n_vars, 1);
        assert_string_equal(p->env.vars[0].value, "1");
        assert_true(p->env.invalid);
}

static void test_policy_parse__env__values_verbatim_sorted(void **state) {
        const PolicyTag tags[] = {
                T("cdp:env:ZED", "last"),
                T("cdp:env:_under", ""),
                T("cdp:env:Alpha", "日本語 \"quoted\" 'single' $HOME `cmd` \\ back"),
                T("cdp:env:TABS", "a\tb"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));

        (void) state;
        assert_no_errors(p);
        assert_int_equal(p->env.n_vars, 4);
        assert_string_equal(p->env.vars[0].name, "Alpha");
        assert_string_equal(p->env.vars[0].value, "日本語 \"quoted\" 'single' $HOME `cmd` \\ back");
        assert_string_equal(p->env.vars[1].name, "TABS");
        assert_string_equal(p->env.vars[2].name, "ZED");
        assert_string_equal(p->env.vars[3].name, "_under");
        assert_string_equal(p->env.vars[3].value, "");
}

/* ------------------------------------------------------------------------ */
/* Limits */

static void test_policy_parse__too_many_tags__nothing_applied(void **state) {
        PolicyTag tags[POLICY_TAGS_MAX + 1];
        char names[POLICY_TAGS_MAX + 1][32];
        Policy *p = NULL;

        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
                (void) snprintf(names[i], sizeof(names[i]), "cdp:env:V%zu", i);
                tags[i] = T(names[i], "1");
        }
        tags[0] = T("cdp:snapshot", "@daily");

        /* 50 is fine. */
        assert_int_equal(policy_parse(tags, POLICY_TAGS_MAX, "cdp:", &p), 0);
        assert_no_errors(p);
        assert_true(p->snapshot.enabled);
        assert_int_equal(p->env.n_vars, POLICY_TAGS_MAX - 1);
        p = policy_free(p);

        assert_int_equal(policy_parse(tags, POLICY_TAGS_MAX + 1, "cdp:", &p), 0);
        assert_int_equal(p->n_errors, 1);
        assert_string_equal(p->errors[0].reason, "cdp:: the instance has 51 tags but EC2 allows at most 50; something "
                            "is wrong with the tag source, so no policy is applied");
        assert_false(p->snapshot.enabled);
        assert_false(p->env.enabled);
        p = policy_free(p);
}

static void test_policy_parse__long_keys_and_values__refused(void **state) {
        char key[200], value[1200], value_mb[1200];
        Policy *p = NULL;

        (void) state;
        /* A 128-character key is fine, 129 is not. */
        memset(key, 'A', sizeof(key));
        memcpy(key, "cdp:env:", 8);
        key[128] = '\0';
        memset(value, 'v', 256);
        value[256] = '\0';
        assert_int_equal(policy_parse(&T(key, value), 1, "cdp:", &p), 0);
        assert_no_errors(p);
        assert_int_equal(p->env.n_vars, 1);
        p = policy_free(p);

        key[128] = 'A';
        key[129] = '\0';
        assert_int_equal(policy_parse(&T(key, "1"), 1, "cdp:", &p), 0);
        assert_int_equal(p->n_errors, 1);
        assert_non_null(strstr(p->errors[0].reason, "tag key is longer than 128 characters, the EC2 limit (it is "
                                                    "ignored)"));
        assert_false(p->env.enabled);
        assert_true(p->env.invalid);
        p = policy_free(p);

        /* 257 characters. */
        value[256] = 'v';
        value[257] = '\0';
        assert_int_equal(policy_parse(&T("cdp:env:X", value), 1, "cdp:", &p), 0);
        assert_int_equal(p->n_errors, 1);
        assert_non_null(strstr(p->errors[0].reason, "...\" is longer than 256 characters, the EC2 limit (this "
                                                    "variable is left out)"));
        assert_int_equal(strlen(p->errors[0].value), 257);
        assert_false(p->env.enabled);
        p = policy_free(p);

        /* A huge value is shortened in the record and in the message. */
        {
                _cleanup_free_ char *huge = malloc(100001);

                assert_non_null(huge);
                memset(huge, 'h', 100000);
                huge[100000] = '\0';
                assert_int_equal(policy_parse(&T("cdp:env:X", huge), 1, "cdp:", &p), 0);
                assert_int_equal(p->n_errors, 1);
                assert_int_equal(strlen(p->errors[0].value), 1024);
                assert_true(strlen(p->errors[0].reason) < 200);
                p = policy_free(p);
        }

        /* EC2 counts characters, not bytes: 256 three-byte characters are fine. */
        for (size_t i = 0; i < 256; i++)
                memcpy(value_mb + i * 3, "語", 3);
        value_mb[768] = '\0';
        assert_int_equal(policy_parse(&T("cdp:env:X", value_mb), 1, "cdp:", &p), 0);
        assert_no_errors(p);
        p = policy_free(p);
        memcpy(value_mb + 768, "語", 4);
        assert_int_equal(policy_parse(&T("cdp:env:X", value_mb), 1, "cdp:", &p), 0);
        assert_int_equal(p->n_errors, 1);
        p = policy_free(p);

        /* Same for a policy tag: it disables the policy. */
        const PolicyTag tags[] = { T("cdp:snapshot", value), T("cdp:ttl", "1h") };
        assert_int_equal(policy_parse(tags, 2, "cdp:", &p), 0);
        assert_int_equal(p->n_errors, 1);
        assert_true(p->snapshot.invalid);
        assert_true(p->bastion.enabled);
        p = policy_free(p);
}

static void test_policy_parse__too_many_list_items__refused(void **state) {
        char value[256] = "";
        Policy *p = NULL;

        (void) state;
        for (unsigned i = 0; i < POLICY_LIST_MAX; i++)
                strcat(value, "a,");
        strcat(value, "a");
        assert_int_equal(policy_parse(&T("cdp:snapshot:copy-to", value), 1, "cdp:", &p), 0);
        assert_int_equal(p->n_errors, 1);
        assert_non_null(strstr(p->errors[0].reason, "has more than 50 items"));
        p = policy_free(p);
}

static void test_policy_parse__invalid_utf8__refused_and_sanitized(void **state) {
        const PolicyTag tags[] = {
                T("cdp:snapshot", "0 3 * * *\xff"),
                T("cdp:\xc0\xaf", "x"),
                T("cdp:floating-ip", "10.0.0.5"),
        };
        _cleanup_(policy_freep) Policy *p = parse(tags, ELEMENTSOF(tags));
        _cleanup_free_ char *json = to_json(p);
        struct json_object *back;

        (void) state;
        assert_int_equal(p->n_errors, 2);
        assert_string_equal(p->errors[0].reason, "cdp:snapshot: \"0 3 * * *\\xff\" is not valid UTF-8" SNAP_OFF);
        assert_string_equal(p->errors[0].value, "0 3 * * *\xef\xbf\xbd");
        assert_string_equal(p->errors[1].reason, "\"cdp:\\xc0\\xaf\": tag key is not valid UTF-8 (it is ignored)");
        assert_string_equal(p->errors[1].tag, "cdp:\xef\xbf\xbd\xef\xbf\xbd");
        assert_true(valid_utf8(json));
        assert_true(p->floating_ip.enabled);

        back = json_tokener_parse(json);
        assert_non_null(back);
        json_object_put(back);
}

/* ------------------------------------------------------------------------ */

static void test_bastion_policy_expiry__earliest__wins(void **state) {
        const PolicyTag both[] = { T("cdp:expires-at", "2026-11-21T23:00:00Z"), T("cdp:ttl", "2h") };
        const PolicyTag at_only[] = { T("cdp:expires-at", "2026-11-21T23:00:00Z") };
        const PolicyTag ttl_only[] = { T("cdp:ttl", "90m") };
        const PolicyTag bad_action[] = { T("cdp:expires-at", "2026-11-21T23:00:00Z"), T("cdp:expire-action", "halt") };
        Policy *p = NULL;
        time_t t = 0, launch = 1795302000 - 3 * 3600;

        (void) state;
        p = parse(both, ELEMENTSOF(both));
        assert_int_equal(bastion_policy_expiry(&p->bastion, launch, &t), 0);
        assert_true(t == launch + 7200);
        assert_int_equal(bastion_policy_expiry(&p->bastion, 1795302000, &t), 0);
        assert_true(t == 1795302000);
        p = policy_free(p);

        p = parse(at_only, ELEMENTSOF(at_only));
        assert_int_equal(bastion_policy_expiry(&p->bastion, launch, &t), 0);
        assert_true(t == 1795302000);
        p = policy_free(p);

        p = parse(ttl_only, ELEMENTSOF(ttl_only));
        assert_int_equal(bastion_policy_expiry(&p->bastion, launch, &t), 0);
        assert_true(t == launch + 5400);
        p = policy_free(p);

        /* Doubt never expires anything. */
        t = 42;
        p = parse(bad_action, ELEMENTSOF(bad_action));
        assert_int_equal(bastion_policy_expiry(&p->bastion, launch, &t), -ENOENT);
        assert_true(t == 42);
        p = policy_free(p);
        p = parse(NULL, 0);
        assert_int_equal(bastion_policy_expiry(&p->bastion, launch, &t), -ENOENT);
        p = policy_free(p);
}

static void test_policy_parse__bad_arguments__einval(void **state) {
        Policy *p = NULL;
        const PolicyTag null_key[] = { T(NULL, "x") };
        const PolicyTag null_value[] = { T("cdp:env:EMPTY", NULL) };

        (void) state;
        assert_int_equal(policy_parse(NULL, 1, "cdp:", &p), -EINVAL);
        assert_int_equal(policy_parse(null_key, 1, "cdp:", &p), -EINVAL);
        assert_int_equal(policy_parse(NULL, 0, "", &p), -EINVAL);
        assert_int_equal(policy_parse(NULL, 0, NULL, &p), -EINVAL);
        assert_null(p);
        assert_null(policy_free(NULL));

        /* A missing value reads as "". */
        assert_int_equal(policy_parse(null_value, 1, "cdp:", &p), 0);
        assert_no_errors(p);
        assert_string_equal(p->env.vars[0].value, "");
        policy_free(p);

        assert_string_equal(snapshot_type_to_string(SNAPSHOT_TYPE_AMI), "ami");
        assert_string_equal(snapshot_volumes_to_string(SNAPSHOT_VOLUMES_DATA), "data");
        assert_string_equal(expire_action_to_string(EXPIRE_ACTION_STOP), "stop");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy_parse__full_example__every_policy_enabled),
                cmocka_unit_test(test_policy_to_json__full_example__documented_keys),
                cmocka_unit_test(test_policy_parse__defaults__applied),
                cmocka_unit_test(test_policy_parse__no_tags__nothing_enabled),
                cmocka_unit_test(test_policy_parse__keywords_and_blanks__lenient),
                cmocka_unit_test(test_policy_parse__one_bad_tag__message_and_only_its_policy_off),
                cmocka_unit_test(test_policy_to_json__errors__tag_value_reason),
                cmocka_unit_test(test_policy_parse__several_bad_tags__all_reported),
                cmocka_unit_test(test_policy_parse__ami_with_volume_list__refused),
                cmocka_unit_test(test_policy_parse__volumes_data_and_devices__accepted),
                cmocka_unit_test(test_policy_parse__sub_tags_without_schedule__checked_not_enabled),
                cmocka_unit_test(test_policy_parse__foreign_and_output_tags__ignored),
                cmocka_unit_test(test_policy_parse__custom_prefix__used),
                cmocka_unit_test(test_policy_parse__duplicate_key__refused),
                cmocka_unit_test(test_policy_parse__duplicate_env_key__first_kept),
                cmocka_unit_test(test_policy_parse__env__values_verbatim_sorted),
                cmocka_unit_test(test_policy_parse__too_many_tags__nothing_applied),
                cmocka_unit_test(test_policy_parse__long_keys_and_values__refused),
                cmocka_unit_test(test_policy_parse__too_many_list_items__refused),
                cmocka_unit_test(test_policy_parse__invalid_utf8__refused_and_sanitized),
                cmocka_unit_test(test_bastion_policy_expiry__earliest__wins),
                cmocka_unit_test(test_policy_parse__bad_arguments__einval),
        };

        return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
