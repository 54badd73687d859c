/* SPDX-License-Identifier: MIT */
#include <net/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "cdp/macro.h"
#include "cdp/netlink-addr.h"

#define NL_BUFFER_SIZE (32 * 1024)

typedef struct NlAddrRequest {
        struct nlmsghdr nh;
        struct ifaddrmsg ifa;
        char attrs[2 * RTA_SPACE(sizeof(struct in_addr))];
} NlAddrRequest;

static int nl_open(void) {
        struct timeval tv = {
                .tv_sec = NETLINK_ADDR_TIMEOUT_USEC / USEC_PER_SEC,
                .tv_usec = NETLINK_ADDR_TIMEOUT_USEC % USEC_PER_SEC,
        };
        int fd;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return negative_errno();
        /* The kernel answers at once; the timeout only guards the loop. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
                int r = negative_errno();
                (void) close(fd);
                return r;
        }
        return fd;
}

static int nl_send(int fd, struct nlmsghdr *nh) {
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        ssize_t n;

        do
                n = sendto(fd, nh, nh->nlmsg_len, 0, (struct sockaddr *) &kernel, sizeof(kernel));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        return (size_t) n == nh->nlmsg_len ? 0 : -EIO;
}

/* Reads one datagram from the kernel. Returns its length. */
static ssize_t nl_recv(int fd, void *buf, size_t size) {
        struct sockaddr_nl from = {};
        socklen_t fromlen = sizeof(from);
        ssize_t n;

        for (;;) {
                n = recvfrom(fd, buf, size, MSG_TRUNC, (struct sockaddr *) &from, &fromlen);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : negative_errno();
                if ((size_t) n > size)
                        return -EMSGSIZE;
                /* Only the kernel (port 0) speaks for itself. */
                if (from.nl_pid != 0)
                        continue;
                return n;
        }
}

static void add_attr(struct nlmsghdr *nh, size_t max, unsigned short type, const void *data, size_t len) {
        struct rtattr *rta = (struct rtattr *) ((char *) nh + NLMSG_ALIGN(nh->nlmsg_len));

        if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > max)
                return; /* callers size their buffers; never written past */
        rta->rta_type = type;
        rta->rta_len = (unsigned short) RTA_LENGTH(len);
        memcpy(RTA_DATA(rta), data, len);
        nh->nlmsg_len = (uint32_t) (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len));
}

/* Sends one request that the kernel acknowledges; returns the kernel's
 * answer: 0 or a negative errno. */
static int nl_transact(struct nlmsghdr *nh) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        static uint32_t seq;
        int r;

        fd = nl_open();
        if (fd < 0)
                return fd;
        nh->nlmsg_seq = ++seq;
        r = nl_send(fd, nh);
        if (r < 0)
                return r;

        buf = malloc(NL_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = nl_recv(fd, buf, NL_BUFFER_SIZE);
                size_t len;

                if (n < 0)
                        return (int) n;
                len = (size_t) n;
                for (struct nlmsghdr *m = (struct nlmsghdr *) buf; NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
                        if (m->nlmsg_seq != nh->nlmsg_seq || m->nlmsg_type != NLMSG_ERROR)
                                continue;
                        if (m->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                                return -EBADMSG;
                        return ((struct nlmsgerr *) NLMSG_DATA(m))->error;
                }
        }
}

static int addr_request(uint16_t type, uint16_t flags, int ifindex, struct in_addr address, unsigned prefix) {
        NlAddrRequest req = {};

        if (ifindex <= 0 || prefix > 32)
                return -EINVAL;
        req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        req.nh.nlmsg_type = type;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        req.ifa.ifa_family = AF_INET;
        req.ifa.ifa_prefixlen = (unsigned char) prefix;
        req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
        req.ifa.ifa_index = (unsigned) ifindex;
        /* IFA_ADDRESS with the prefix length makes a delete match only the
         * entry we add, never an address configured with another prefix. */
        add_attr(&req.nh, sizeof(req), IFA_LOCAL, &address, sizeof(address));
        add_attr(&req.nh, sizeof(req), IFA_ADDRESS, &address, sizeof(address));
        return nl_transact(&req.nh);
}

int netlink_addr_add(int ifindex, struct in_addr address, unsigned prefix) {
        int r = addr_request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, address, prefix);

        if (r == -EEXIST)
                return 0;
        return r < 0 ? r : 1;
}

int netlink_addr_del(int ifindex, struct in_addr address, unsigned prefix) {
        int r = addr_request(RTM_DELADDR, 0, ifindex, address, prefix);

        if (r == -EADDRNOTAVAIL)
                return 0;
        return r < 0 ? r : 1;
}

/* Whether one RTM_NEWADDR message of a dump is the address asked for. */
static bool addr_message_matches(const struct nlmsghdr *m, int ifindex, struct in_addr address, unsigned prefix) {
        const struct ifaddrmsg *ifa = NLMSG_DATA(m);
        const struct in_addr *local = NULL, *addr = NULL;
        int len;

        if (m->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
                return false;
        if (ifa->ifa_family != AF_INET || (int) ifa->ifa_index != ifindex)
                return false;
        if (prefix != -1U && ifa->ifa_prefixlen != prefix)
                return false;
        len = (int) (m->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa)));
        for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                if (RTA_PAYLOAD(a) != sizeof(struct in_addr))
                        continue;
                if (a->rta_type == IFA_LOCAL)
                        local = RTA_DATA(a);
                else if (a->rta_type == IFA_ADDRESS)
                        addr = RTA_DATA(a);
        }
        /* IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer on
         * point-to-point links, the same otherwise. */
        if (!local)
                local = addr;
        return local && local->s_addr == address.s_addr;
}

int netlink_addr_has(int ifindex, struct in_addr address, unsigned prefix, bool *ret) {
        struct {
                struct nlmsghdr nh;
                struct ifaddrmsg ifa;
        } req = {
                .nh = {
                        .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)),
                        .nlmsg_type = RTM_GETADDR,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                        .nlmsg_seq = 1,
                },
                .ifa = { .ifa_family = AF_INET },
        };
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        bool found = false;
        int r;

        if (ifindex <= 0 || !ret || (prefix > 32 && prefix != -1U))
                return -EINVAL;
        fd = nl_open();
        if (fd < 0)
                return fd;
        r = nl_send(fd, &req.nh);
        if (r < 0)
                return r;
        buf = malloc(NL_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;

        /* Read the whole dump, even after a match, so it ends cleanly. */
        for (;;) {
                ssize_t n = nl_recv(fd, buf, NL_BUFFER_SIZE);
                size_t len;

                if (n < 0)
                        return (int) n;
                len = (size_t) n;
                for (struct nlmsghdr *m = (struct nlmsghdr *) buf; NLMSG_OK(m, len); m = NLMSG_NEXT(m, len)) {
                        if (m->nlmsg_seq != req.nh.nlmsg_seq)
                                continue;
                        if (m->nlmsg_type == NLMSG_DONE) {
                                *ret = found;
                                return 0;
                        }
                        if (m->nlmsg_type == NLMSG_ERROR) {
                                if (m->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                                        return -EBADMSG;
                                r = ((struct nlmsgerr *) NLMSG_DATA(m))->error;
                                return r < 0 ? r : -EBADMSG;
                        }
                        if (m->nlmsg_type == RTM_NEWADDR && addr_message_matches(m, ifindex, address, prefix))
                                found = true;
                }
        }
}

int netlink_ifindex_by_name(const char *name, int *ret) {
        unsigned idx;

        if (!name || !*name || strlen(name) >= IF_NAMESIZE || !ret)
                return -EINVAL;
        idx = if_nametoindex(name);
        if (idx == 0)
                return errno == ENODEV || errno == ENXIO ? -ENODEV : negative_errno();
        *ret = (int) idx;
        return 0;
}

static int parse_mac(const char *s, unsigned char mac[6]) {
        for (size_t i = 0; i < 6; i++) {
                unsigned v = 0;

                for (size_t k = 0; k < 2; k++) {
                        char c = *s++;

                        v <<= 4;
                        if (c >= '0' && c <= '9')
                                v |= (unsigned) (c - '0');
                        else if (c >= 'a' && c <= 'f')
                                v |= (unsigned) (c - 'a' + 10);
                        else if (c >= 'A' && c <= 'F')
                                v |= (unsigned) (c - 'A' + 10);
                        else
                                return -EINVAL;
                }
                mac[i] = (unsigned char) v;
                if (i < 5 && *s++ != ':')
                        return -EINVAL;
        }
        return *s == '\0' ? 0 : -EINVAL;
}

int netlink_ifindex_by_mac(const char *mac, int *ret_ifindex, char ret_name[IF_NAMESIZE]) {
        struct if_nameindex *list;
        _cleanup_close_ int fd = -1;
        unsigned char want[6];
        int r = -ENODEV;

        if (!mac || !ret_ifindex || parse_mac(mac, want) < 0)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        list = if_nameindex();
        if (!list)
                return negative_errno();
        for (struct if_nameindex *i = list; i->if_index != 0 && i->if_name; i++) {
                struct ifreq ifr = {};

                if (strlen(i->if_name) >= sizeof(ifr.ifr_name))
                        continue;
                strcpy(ifr.ifr_name, i->if_name);
                if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
                        continue;
                /* Ethernet-like links only: a loopback's all-zero address
                 * names nothing. */
                if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER ||
                    memcmp(ifr.ifr_hwaddr.sa_data, want, sizeof(want)) != 0)
                        continue;
                *ret_ifindex = (int) i->if_index;
                if (ret_name)
                        (void) snprintf(ret_name, IF_NAMESIZE, "%s", i->if_name);
                r = 0;
                break;
        }
        if_freenameindex(list);
        return r;
}
