/* SPDX-License-Identifier: MIT */
#pragma once

/* IPv4 addresses on local interfaces over rtnetlink (RTM_NEWADDR,
 * RTM_DELADDR, RTM_GETADDR on a NETLINK_ROUTE socket), for the floating and
 * virtual IPs of the HA patterns (config manage_local_vip). Small on purpose:
 * no libnl, no `ip` process.
 *
 * Each call opens its own socket, sends one request and reads the kernel's
 * answer. The kernel answers address requests at once (no network I/O), so
 * the calls are quick enough for the event loop; a receive timeout of
 * NETLINK_ADDR_TIMEOUT_USEC bounds them anyway. Everything acts in the
 * caller's network namespace. Needs CAP_NET_ADMIN for add and delete. */

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

#define NETLINK_ADDR_TIMEOUT_USEC (1000 * 1000ULL)

/* Adds address/prefix (scope global) to interface ifindex. Returns 1 when
 * added, 0 when it was there already (EEXIST counts as success: the call is
 * idempotent), a negative errno otherwise (-ENODEV no such interface, -EPERM
 * without CAP_NET_ADMIN, ...). */
int netlink_addr_add(int ifindex, struct in_addr address, unsigned prefix);

/* Removes address/prefix from interface ifindex; only an entry with the same
 * prefix length matches, so an address configured otherwise (a /24 of DHCP)
 * is left alone. Returns 1 when removed, 0 when it was not there
 * (EADDRNOTAVAIL counts as success), a negative errno otherwise. */
int netlink_addr_del(int ifindex, struct in_addr address, unsigned prefix);

/* Whether interface ifindex holds address with this prefix length (any
 * prefix length when prefix is -1U). 0 or a negative errno. */
int netlink_addr_has(int ifindex, struct in_addr address, unsigned prefix, bool *ret);

/* The interface index of name (-ENODEV when there is none). */
int netlink_ifindex_by_name(const char *name, int *ret);

/* The interface whose hardware address is mac ("0e:12:34:56:78:9a", any
 * letter case); its index and, when ret_name is not NULL, its name.
 * -ENODEV when no interface has it, -EINVAL for a malformed mac. */
int netlink_ifindex_by_mac(const char *mac, int *ret_ifindex, char ret_name[IF_NAMESIZE]);
