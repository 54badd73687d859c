/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/io/netlink-addr.c against the real kernel, each inside a
 * private network namespace (unshare(CLONE_NEWNET) in a forked child), so
 * the machine's interfaces are never touched. Skipped when not root or when
 * namespaces are not available. The child checks with plain conditions and
 * reports through its exit status (a cmocka failure must not unwind into a
 * copy of the test runner). */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "cdp/netlink-addr.h"

#define CHILD_SKIP 77

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        _exit(1);                                                       \
                }                                                                       \
        } while (0)

#define CHECK_EQ(a, b)                                                                  \
        do {                                                                            \
                long long a_ = (long long) (a), b_ = (long long) (b);                   \
                if (a_ != b_) {                                                         \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); \
                        _exit(1);                                                       \
                }                                                                       \
        } while (0)

typedef void (*ChildFn)(void);

/* Runs fn in a child inside a new network namespace; returns its exit
 * status, CHILD_SKIP when namespaces cannot be had. */
static int run_in_netns(ChildFn fn) {
        pid_t pid;
        int status;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(CHILD_SKIP);
                fn();
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void expect_child_ok(ChildFn fn) {
        int r;

        if (geteuid() != 0) {
                skip();
                return;
        }
        r = run_in_netns(fn);
        if (r == CHILD_SKIP) {
                skip();
                return;
        }
        assert_int_equal(r, 0);
}

static struct in_addr ip(const char *s) {
        struct in_addr a;
        CHECK(inet_pton(AF_INET, s, &a) == 1);
        return a;
}

static bool has(int ifindex, const char *addr, unsigned prefix) {
        bool v = false;
        CHECK_EQ(netlink_addr_has(ifindex, ip(addr), prefix, &v), 0);
        return v;
}

/* ---- children ---- */

static void child_add_del_idempotent(void) {
        int lo = 0;

        CHECK_EQ(netlink_ifindex_by_name("lo", &lo), 0);
        CHECK(lo > 0);
        CHECK(!has(lo, "192.168.100.10", 32));

        CHECK_EQ(netlink_addr_add(lo, ip("192.168.100.10"), 32), 1);
        CHECK(has(lo, "192.168.100.10", 32));
        CHECK(has(lo, "192.168.100.10", -1U));
        CHECK(!has(lo, "192.168.100.10", 24));
        CHECK(!has(lo, "192.168.100.11", 32));
        /* EEXIST is success */
        CHECK_EQ(netlink_addr_add(lo, ip("192.168.100.10"), 32), 0);
        CHECK(has(lo, "192.168.100.10", 32));

        CHECK_EQ(netlink_addr_del(lo, ip("192.168.100.10"), 32), 1);
        CHECK(!has(lo, "192.168.100.10", -1U));
        /* EADDRNOTAVAIL is success */
        CHECK_EQ(netlink_addr_del(lo, ip("192.168.100.10"), 32), 0);
}

static void child_delete_matches_prefix(void) {
        int lo = 0;

        CHECK_EQ(netlink_ifindex_by_name("lo", &lo), 0);
        /* Someone else's /24 of the same address is not ours to remove. */
        CHECK_EQ(netlink_addr_add(lo, ip("10.20.30.40"), 24), 1);
        CHECK_EQ(netlink_addr_del(lo, ip("10.20.30.40"), 32), 0);
        CHECK(has(lo, "10.20.30.40", 24));
        CHECK_EQ(netlink_addr_add(lo, ip("10.20.30.41"), 32), 1);
        CHECK(has(lo, "10.20.30.41", 32));
        CHECK(has(lo, "10.20.30.40", 24));
        CHECK_EQ(netlink_addr_del(lo, ip("10.20.30.40"), 24), 1);
        CHECK(!has(lo, "10.20.30.40", -1U));
        CHECK(has(lo, "10.20.30.41", 32));
}

static void child_bad_interface_and_arguments(void) {
        int idx = 12345;
        bool v = true;

        CHECK_EQ(netlink_addr_add(9999, ip("192.168.100.10"), 32), -ENODEV);
        CHECK_EQ(netlink_addr_add(0, ip("192.168.100.10"), 32), -EINVAL);
        CHECK_EQ(netlink_addr_add(1, ip("192.168.100.10"), 33), -EINVAL);
        CHECK_EQ(netlink_addr_del(-1, ip("192.168.100.10"), 32), -EINVAL);
        CHECK_EQ(netlink_addr_has(1, ip("192.168.100.10"), 40, &v), -EINVAL);
        CHECK_EQ(netlink_addr_has(1, ip("192.168.100.10"), 32, NULL), -EINVAL);
        CHECK_EQ(netlink_ifindex_by_name("cdp-nonexist0", &idx), -ENODEV);
        CHECK_EQ(netlink_ifindex_by_name("a-name-longer-than-ifnamsiz", &idx), -EINVAL);
        CHECK_EQ(netlink_ifindex_by_name("", &idx), -EINVAL);
        CHECK_EQ(idx, 12345);
        CHECK_EQ(netlink_addr_has(9999, ip("192.168.100.10"), 32, &v), 0);
        CHECK(!v);
}

static void child_lookup_by_mac(void) {
        char name[IF_NAMESIZE] = "";
        int idx = 0, want = 0;

        /* A veth pair with known addresses; `ip` is only the test's tool. */
        if (system("ip link add cdpt0 address 0e:00:00:00:00:42 type veth peer name cdpt1 "
                   "address 0e:00:00:00:00:43 >/dev/null 2>&1") != 0)
                _exit(CHILD_SKIP);
        CHECK_EQ(netlink_ifindex_by_name("cdpt0", &want), 0);
        CHECK_EQ(netlink_ifindex_by_mac("0E:00:00:00:00:42", &idx, name), 0);
        CHECK_EQ(idx, want);
        CHECK(strcmp(name, "cdpt0") == 0);
        CHECK_EQ(netlink_ifindex_by_mac("0e:00:00:00:00:43", &idx, NULL), 0);
        CHECK(idx != want);
        CHECK_EQ(netlink_ifindex_by_mac("0e:00:00:00:00:44", &idx, name), -ENODEV);
        /* loopback's all-zero address names nothing */
        CHECK_EQ(netlink_ifindex_by_mac("00:00:00:00:00:00", &idx, name), -ENODEV);
        CHECK_EQ(netlink_ifindex_by_mac("0e:00:00:00:00", &idx, name), -EINVAL);
        CHECK_EQ(netlink_ifindex_by_mac("0e:00:00:00:00:4g", &idx, name), -EINVAL);
        CHECK_EQ(netlink_ifindex_by_mac("0e:00:00:00:00:42:", &idx, name), -EINVAL);
        CHECK_EQ(netlink_ifindex_by_mac("0e-00-00-00-00-42", &idx, name), -EINVAL);

        /* an address on a link that is down is still an address */
        CHECK_EQ(netlink_addr_add(want, ip("10.0.1.50"), 32), 1);
        CHECK(has(want, "10.0.1.50", 32));
        CHECK_EQ(netlink_addr_del(want, ip("10.0.1.50"), 32), 1);
}

static void child_many_addresses_dump(void) {
        int lo = 0;
        char a[32];

        /* More addresses than one receive buffer's worth of messages is
         * unlikely here; enough to cross several datagrams of a dump. */
        CHECK_EQ(netlink_ifindex_by_name("lo", &lo), 0);
        for (int i = 1; i <= 300; i++) {
                snprintf(a, sizeof(a), "10.77.%d.%d", i / 250, i % 250 + 1);
                CHECK_EQ(netlink_addr_add(lo, ip(a), 32), 1);
        }
        CHECK(has(lo, "10.77.1.51", 32));
        CHECK(has(lo, "10.77.0.2", 32));
        CHECK(!has(lo, "10.77.3.1", 32));
}

/* ---- tests ---- */

static void test_addr__add_twice_delete_twice__idempotent(void **state) {
        (void) state;
        expect_child_ok(child_add_del_idempotent);
}

static void test_addr__delete_other_prefix__left_alone(void **state) {
        (void) state;
        expect_child_ok(child_delete_matches_prefix);
}

static void test_addr__bad_interface_or_arguments__errors(void **state) {
        (void) state;
        expect_child_ok(child_bad_interface_and_arguments);
}

static void test_ifindex__by_mac__found_missing_malformed(void **state) {
        (void) state;
        expect_child_ok(child_lookup_by_mac);
}

static void test_addr__300_addresses__dump_finds_them(void **state) {
        (void) state;
        expect_child_ok(child_many_addresses_dump);
}

static void test_ifindex__bad_arguments__einval_without_namespace(void **state) {
        int idx = 7;

        (void) state;
        assert_int_equal(netlink_ifindex_by_name(NULL, &idx), -EINVAL);
        assert_int_equal(netlink_ifindex_by_name("lo", NULL), -EINVAL);
        assert_int_equal(netlink_ifindex_by_mac(NULL, &idx, NULL), -EINVAL);
        assert_int_equal(netlink_ifindex_by_mac("0e:00:00:00:00:42", NULL, NULL), -EINVAL);
        assert_int_equal(idx, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_addr__add_twice_delete_twice__idempotent),
                cmocka_unit_test(test_addr__delete_other_prefix__left_alone),
                cmocka_unit_test(test_addr__bad_interface_or_arguments__errors),
                cmocka_unit_test(test_ifindex__by_mac__found_missing_malformed),
                cmocka_unit_test(test_addr__300_addresses__dump_finds_them),
                cmocka_unit_test(test_ifindex__bad_arguments__einval_without_namespace),
        };
        return cmocka_run_group_tests_name("netlink-addr", tests, NULL, NULL);
}
