/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cdp/ha-plan.h"

/* ---- selection ---- */

int ha_select_from_string(const char *s, HaSelect *ret) {
        HaSelect v;

        if (!ret)
                return -EINVAL;
        if (!s || !*s)
                v = HA_SELECT_BOTH;
        else if (strcmp(s, "floating-ip") == 0)
                v = HA_SELECT_FLOATING_IP;
        else if (strcmp(s, "routing-ha") == 0)
                v = HA_SELECT_ROUTING_HA;
        else
                return -EINVAL;
        *ret = v;
        return 0;
}

const char *ha_select_to_string(HaSelect s) {
        switch (s) {
        case HA_SELECT_FLOATING_IP:
                return "floating-ip";
        case HA_SELECT_ROUTING_HA:
                return "routing-ha";
        default:
                return "all";
        }
}

/* ---- targets ---- */

const char *ha_target_pattern(const HaTarget *t) {
        return t->kind == HA_TARGET_SOURCE_DEST_CHECK || t->kind == HA_TARGET_ROUTE ? "routing-ha" : "floating-ip";
}

const char *ha_target_type(const HaTarget *t) {
        switch (t->kind) {
        case HA_TARGET_SOURCE_DEST_CHECK:
                return "source-dest-check";
        case HA_TARGET_ROUTE:
                return "route";
        case HA_TARGET_ELASTIC_IP:
                return "elastic-ip";
        case HA_TARGET_PRIVATE_IP:
                return "private-ip";
        }
        return "unknown";
}

void ha_target_name(const HaTarget *t, char *buf, size_t size) {
        if (!buf || size == 0)
                return;
        switch (t->kind) {
        case HA_TARGET_SOURCE_DEST_CHECK:
                (void) snprintf(buf, size, "source/destination check of %s", t->id);
                break;
        case HA_TARGET_ROUTE:
                (void) snprintf(buf, size, "route %s in %s", t->cidr, t->id);
                break;
        case HA_TARGET_ELASTIC_IP:
                (void) snprintf(buf, size, "Elastic IP %s", t->id);
                break;
        case HA_TARGET_PRIVATE_IP:
                (void) snprintf(buf, size, "private IP %s", t->id);
                break;
        }
}

HaTargetSet *ha_target_set_free(HaTargetSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_targets; i++) {
                free(s->targets[i].id);
                free(s->targets[i].cidr);
        }
        free(s->targets);
        free(s->interface_id);
        free(s->instance_id);
        free(s);
        return NULL;
}

static int set_add(HaTargetSet *s, size_t cap, HaTargetKind kind, const char *id, const char *cidr,
                   struct in_addr address, unsigned prefix) {
        HaTarget *t;

        if (s->n_targets >= cap)
                return -E2BIG;
        t = &s->targets[s->n_targets];
        *t = (HaTarget) { .kind = kind, .address = address, .prefix = prefix };
        t->id = strdup(id);
        if (!t->id)
                return -ENOMEM;
        if (cidr) {
                t->cidr = strdup(cidr);
                if (!t->cidr) {
                        t->id = mfree(t->id);
                        return -ENOMEM;
                }
        }
        s->n_targets++;
        return 0;
}

int ha_target_set_new(const Policy *p, HaSelect select, const char *interface_id, const char *instance_id,
                      HaTargetSet **ret) {
        _cleanup_(ha_target_set_freep) HaTargetSet *s = NULL;
        const RoutingHaPolicy *rh;
        const FloatingIpPolicy *fi;
        bool routes, floating;
        size_t cap = 0;
        int r;

        if (!p || !interface_id || !instance_id || !ret || (select & ~HA_SELECT_BOTH) || !select)
                return -EINVAL;
        rh = &p->routing_ha;
        fi = &p->floating_ip;

        routes = (select & HA_SELECT_ROUTING_HA) && rh->enabled && rh->n_routes > 0;
        floating = (select & HA_SELECT_FLOATING_IP) && fi->enabled && fi->n_targets > 0;
        if (routes) {
                cap++;
                for (size_t i = 0; i < rh->n_routes; i++)
                        cap += rh->routes[i].n_route_tables;
        }
        if (floating)
                cap += fi->n_targets;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->selected = select;
        if ((select & HA_SELECT_ROUTING_HA) && rh->invalid)
                s->invalid |= HA_SELECT_ROUTING_HA;
        if ((select & HA_SELECT_FLOATING_IP) && fi->invalid)
                s->invalid |= HA_SELECT_FLOATING_IP;
        s->interface_id = strdup(interface_id);
        s->instance_id = strdup(instance_id);
        if (!s->interface_id || !s->instance_id)
                return -ENOMEM;
        if (cap > 0) {
                s->targets = calloc(cap, sizeof(HaTarget));
                if (!s->targets)
                        return -ENOMEM;
        }

        if (routes) {
                s->enabled |= HA_SELECT_ROUTING_HA;
                /* Forwarding to a routed address needs the check off, so it
                 * is a target of its own: checked, written, verified. */
                r = set_add(s, cap, HA_TARGET_SOURCE_DEST_CHECK, interface_id, NULL, (struct in_addr) {}, 0);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < rh->n_routes; i++)
                        for (size_t k = 0; k < rh->routes[i].n_route_tables; k++) {
                                r = set_add(s, cap, HA_TARGET_ROUTE, rh->routes[i].route_tables[k],
                                            rh->routes[i].cidr, rh->routes[i].network, rh->routes[i].prefix);
                                if (r < 0)
                                        return r;
                        }
        }
        if (floating) {
                s->enabled |= HA_SELECT_FLOATING_IP;
                /* Elastic IPs before private IPs, each in tag order. */
                for (int pass = 0; pass < 2; pass++)
                        for (size_t i = 0; i < fi->n_targets; i++) {
                                const FloatingIpTarget *t = &fi->targets[i];
                                char text[INET_ADDRSTRLEN];

                                if (pass == 0 && t->kind == FLOATING_IP_ELASTIC)
                                        r = set_add(s, cap, HA_TARGET_ELASTIC_IP, t->allocation_id, NULL,
                                                    (struct in_addr) {}, 0);
                                else if (pass == 1 && t->kind == FLOATING_IP_PRIVATE) {
                                        if (!inet_ntop(AF_INET, &t->address, text, sizeof(text)))
                                                return -EINVAL;
                                        r = set_add(s, cap, HA_TARGET_PRIVATE_IP, text, NULL, t->address, 32);
                                } else
                                        continue;
                                if (r < 0)
                                        return r;
                        }
        }

        *ret = TAKE_PTR(s);
        return 0;
}

bool ha_target_set_has(const HaTargetSet *s, HaTargetKind kind) {
        for (size_t i = 0; s && i < s->n_targets; i++)
                if (s->targets[i].kind == kind)
                        return true;
        return false;
}

/* ---- describe ---- */

/* The ids of targets of one kind, each once, in order. Borrowed. */
static size_t unique_ids(const HaTargetSet *s, HaTargetKind kind, const char **ids) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_targets; i++) {
                bool seen = false;

                if (s->targets[i].kind != kind)
                        continue;
                for (size_t k = 0; k < n && !seen; k++)
                        seen = strcmp(ids[k], s->targets[i].id) == 0;
                if (!seen)
                        ids[n++] = s->targets[i].id;
        }
        return n;
}

int ha_describe_query(const HaTargetSet *s, HaDescribeKind kind, Ec2Query **ret) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        _cleanup_free_ const char **ids = NULL;
        size_t n;
        int r;

        if (!s || !ret || (unsigned) kind >= _HA_DESCRIBE_MAX)
                return -EINVAL;
        ids = calloc(s->n_targets + 1, sizeof(char *));
        if (!ids)
                return -ENOMEM;

        switch (kind) {
        case HA_DESCRIBE_ROUTE_TABLES:
                n = unique_ids(s, HA_TARGET_ROUTE, ids);
                if (n == 0)
                        break;
                r = ec2_query_new(&q, "DescribeRouteTables");
                if (r >= 0)
                        r = ec2_query_add_filter(q, "route-table-id", ids, n);
                if (r < 0)
                        return r;
                break;
        case HA_DESCRIBE_ADDRESSES:
                n = unique_ids(s, HA_TARGET_ELASTIC_IP, ids);
                if (n == 0)
                        break;
                r = ec2_query_new(&q, "DescribeAddresses");
                if (r >= 0)
                        r = ec2_query_add_filter(q, "allocation-id", ids, n);
                if (r < 0)
                        return r;
                break;
        case HA_DESCRIBE_INTERFACE:
                if (!ha_target_set_has(s, HA_TARGET_SOURCE_DEST_CHECK) && !ha_target_set_has(s, HA_TARGET_PRIVATE_IP))
                        break;
                r = ec2_query_new(&q, "DescribeNetworkInterfaces");
                if (r >= 0)
                        r = ec2_query_set(q, "NetworkInterfaceId.1", s->interface_id);
                if (r < 0)
                        return r;
                break;
        case HA_DESCRIBE_HOLDERS:
                n = unique_ids(s, HA_TARGET_PRIVATE_IP, ids);
                if (n == 0)
                        break;
                r = ec2_query_new(&q, "DescribeNetworkInterfaces");
                if (r >= 0)
                        r = ec2_query_add_filter(q, "addresses.private-ip-address", ids, n);
                if (r < 0)
                        return r;
                break;
        default:
                return -EINVAL;
        }
        *ret = TAKE_PTR(q);
        return 0;
}

const char *ha_state_to_string(HaState s) {
        static const char *const names[_HA_STATE_MAX] = {
                [HA_STATE_UNKNOWN] = "unknown",
                [HA_STATE_HERE] = "here",
                [HA_STATE_ELSEWHERE] = "elsewhere",
                [HA_STATE_MISSING] = "missing",
        };
        return (unsigned) s < _HA_STATE_MAX ? names[s] : "unknown";
}

static const Ec2NetworkInterface *find_interface(const Ec2InterfacePage *p, const char *id) {
        for (size_t i = 0; p && i < p->n_interfaces; i++)
                if (strcmp(p->interfaces[i].id, id) == 0)
                        return &p->interfaces[i];
        return NULL;
}

static bool interface_holds(const Ec2NetworkInterface *ni, const char *address) {
        if (ni->private_ip && strcmp(ni->private_ip, address) == 0)
                return true;
        for (size_t i = 0; i < ni->n_private_ips; i++)
                if (strcmp(ni->private_ips[i].address, address) == 0)
                        return true;
        return false;
}

static void observe_route(const HaTargetSet *s, const HaTarget *t, const HaDescribed *d, HaObservation *o) {
        const Ec2RouteTable *table;
        const Ec2Route *route;

        if (!d->route_tables)
                return;
        table = ec2_route_table_page_find(d->route_tables, t->id);
        if (!table) {
                o->state = HA_STATE_MISSING;
                o->detail = "the route table does not exist";
                return;
        }
        route = ec2_route_table_find(table, t->cidr);
        if (!route) {
                o->state = HA_STATE_MISSING;
                o->detail = "the route table has no route for the destination";
                return;
        }
        o->route_present = true;
        o->where = ec2_route_target(route);
        if (route->network_interface_id && strcmp(route->network_interface_id, s->interface_id) == 0) {
                if (route->state && strcmp(route->state, "active") == 0) {
                        o->state = HA_STATE_HERE;
                        return;
                }
                /* Ours but not active (blackhole): AWS does not deliver it. */
                o->state = HA_STATE_ELSEWHERE;
                o->detail = "the route targets this interface but is not active";
                return;
        }
        o->state = HA_STATE_ELSEWHERE;
        if (route->state && strcmp(route->state, "blackhole") == 0)
                o->detail = "the route is a blackhole";
}

static void observe_elastic_ip(const HaTargetSet *s, const HaTarget *t, const HaDescribed *d, HaObservation *o) {
        const Ec2Address *a;

        if (!d->addresses)
                return;
        a = ec2_address_page_find(d->addresses, t->id);
        if (!a) {
                o->state = HA_STATE_MISSING;
                o->detail = "the Elastic IP allocation does not exist";
                return;
        }
        o->public_ip = a->public_ip;
        if (a->network_interface_id && strcmp(a->network_interface_id, s->interface_id) == 0) {
                o->state = HA_STATE_HERE;
                return;
        }
        /* Associated with the instance but no interface named: ours too. */
        if (!a->network_interface_id && a->instance_id && strcmp(a->instance_id, s->instance_id) == 0) {
                o->state = HA_STATE_HERE;
                return;
        }
        if (!a->association_id && !a->network_interface_id && !a->instance_id) {
                o->state = HA_STATE_MISSING;
                o->detail = "the Elastic IP is not associated";
                return;
        }
        o->state = HA_STATE_ELSEWHERE;
        o->where = a->network_interface_id ?: a->instance_id;
}

static void observe_private_ip(const HaTargetSet *s, const HaTarget *t, const HaDescribed *d, HaObservation *o) {
        const Ec2NetworkInterface *ours;

        if (!d->interface)
                return;
        ours = find_interface(d->interface, s->interface_id);
        if (!ours) {
                o->detail = "this instance's network interface was not in the answer";
                return;
        }
        if (interface_holds(ours, t->id)) {
                o->state = HA_STATE_HERE;
                return;
        }
        o->state = HA_STATE_ELSEWHERE;
        if (!d->holders)
                return;
        for (size_t i = 0; i < d->holders->n_interfaces; i++) {
                const Ec2NetworkInterface *ni = &d->holders->interfaces[i];

                if (strcmp(ni->id, s->interface_id) != 0 && interface_holds(ni, t->id)) {
                        o->where = ni->id;
                        return;
                }
        }
        o->state = HA_STATE_MISSING;
        o->detail = "no network interface holds the address";
}

static void observe_source_dest_check(const HaTargetSet *s, const HaDescribed *d, HaObservation *o) {
        const Ec2NetworkInterface *ours;

        if (!d->interface)
                return;
        ours = find_interface(d->interface, s->interface_id);
        if (!ours) {
                o->detail = "this instance's network interface was not in the answer";
                return;
        }
        if (!ours->source_dest_check) {
                o->state = HA_STATE_HERE;
                return;
        }
        o->state = HA_STATE_ELSEWHERE;
        o->detail = "source/destination check is on";
}

void ha_observe(const HaTargetSet *s, size_t i, const HaDescribed *d, HaObservation *ret) {
        HaObservation o = { .state = HA_STATE_UNKNOWN };
        const HaTarget *t;

        if (!ret)
                return;
        if (!s || !d || i >= s->n_targets) {
                *ret = o;
                return;
        }
        t = &s->targets[i];
        switch (t->kind) {
        case HA_TARGET_SOURCE_DEST_CHECK:
                observe_source_dest_check(s, d, &o);
                break;
        case HA_TARGET_ROUTE:
                observe_route(s, t, d, &o);
                break;
        case HA_TARGET_ELASTIC_IP:
                observe_elastic_ip(s, t, d, &o);
                break;
        case HA_TARGET_PRIVATE_IP:
                observe_private_ip(s, t, d, &o);
                break;
        }
        if (o.state == HA_STATE_UNKNOWN && !o.detail)
                o.detail = "the API did not answer";
        *ret = o;
}

/* ---- writes ---- */

const char *ha_write_action(HaWriteKind k) {
        switch (k) {
        case HA_WRITE_DISABLE_SOURCE_DEST_CHECK:
                return "ModifyNetworkInterfaceAttribute";
        case HA_WRITE_REPLACE_ROUTE:
                return "ReplaceRoute";
        case HA_WRITE_CREATE_ROUTE:
                return "CreateRoute";
        case HA_WRITE_ASSOCIATE_ADDRESS:
                return "AssociateAddress";
        case HA_WRITE_ASSIGN_PRIVATE_IPS:
                return "AssignPrivateIpAddresses";
        }
        return "Unknown";
}

int ha_write_query(const HaTargetSet *s, const HaWrite *w, Ec2Query **ret) {
        _cleanup_(ec2_query_freep) Ec2Query *q = NULL;
        const HaTarget *t;
        int r;

        if (!s || !w || !ret || w->n_targets == 0 || w->n_targets > HA_WRITE_TARGETS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < w->n_targets; i++)
                if (w->targets[i] >= s->n_targets)
                        return -EINVAL;
        t = &s->targets[w->targets[0]];

        r = ec2_query_new(&q, ha_write_action(w->kind));
        if (r < 0)
                return r;
        switch (w->kind) {
        case HA_WRITE_DISABLE_SOURCE_DEST_CHECK:
                if (t->kind != HA_TARGET_SOURCE_DEST_CHECK)
                        return -EINVAL;
                r = ec2_query_set(q, "NetworkInterfaceId", s->interface_id);
                if (r >= 0)
                        r = ec2_query_set_bool(q, "SourceDestCheck.Value", false);
                break;
        case HA_WRITE_REPLACE_ROUTE:
        case HA_WRITE_CREATE_ROUTE:
                if (t->kind != HA_TARGET_ROUTE)
                        return -EINVAL;
                r = ec2_query_set(q, "RouteTableId", t->id);
                if (r >= 0)
                        r = ec2_query_set(q, "DestinationCidrBlock", t->cidr);
                if (r >= 0)
                        r = ec2_query_set(q, "NetworkInterfaceId", s->interface_id);
                break;
        case HA_WRITE_ASSOCIATE_ADDRESS:
                if (t->kind != HA_TARGET_ELASTIC_IP)
                        return -EINVAL;
                r = ec2_query_set(q, "AllocationId", t->id);
                if (r >= 0)
                        r = ec2_query_set(q, "NetworkInterfaceId", s->interface_id);
                if (r >= 0)
                        r = ec2_query_set_bool(q, "AllowReassociation", true);
                break;
        case HA_WRITE_ASSIGN_PRIVATE_IPS:
                r = ec2_query_set(q, "NetworkInterfaceId", s->interface_id);
                for (size_t i = 0; r >= 0 && i < w->n_targets; i++) {
                        const HaTarget *p = &s->targets[w->targets[i]];

                        if (p->kind != HA_TARGET_PRIVATE_IP)
                                return -EINVAL;
                        r = ec2_query_setf(q, p->id, "PrivateIpAddress.%zu", i + 1);
                }
                if (r >= 0)
                        r = ec2_query_set_bool(q, "AllowReassignment", true);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        /* Each may be repeated after an ambiguous failure: the same route,
         * association or assignment again changes nothing, and CreateRoute
         * twice answers RouteAlreadyExists, which switches to ReplaceRoute. */
        ec2_query_set_idempotent(q, true);
        *ret = TAKE_PTR(q);
        return 0;
}

void ha_plan_round(const HaTargetSet *s, const HaObservation *obs, HaProgress *progress, uint64_t now,
                   HaWrite *writes, size_t *ret_n) {
        HaWrite *batch = NULL;
        size_t n = 0;

        for (size_t i = 0; i < s->n_targets; i++) {
                const HaTarget *t = &s->targets[i];
                HaProgress *p = &progress[i];
                const HaObservation *o = &obs[i];
                HaWrite *w;

                if (p->phase == HA_PHASE_DONE || p->phase == HA_PHASE_FAILED || p->phase == HA_PHASE_WRITING)
                        continue;
                if (o->state != HA_STATE_UNKNOWN && !p->seen) {
                        p->seen = true;
                        p->initial = o->state;
                }
                if (o->state == HA_STATE_HERE) {
                        p->phase = HA_PHASE_DONE;
                        continue;
                }
                /* Check before change: never write what could not be read. */
                if (o->state == HA_STATE_UNKNOWN)
                        continue;
                /* Accepted but not visible yet: give AWS a moment. */
                if (p->phase == HA_PHASE_WRITTEN && now < p->written_at + HA_REWRITE_AFTER_USEC)
                        continue;

                if (t->kind == HA_TARGET_PRIVATE_IP && !p->alone && batch) {
                        if (batch->n_targets < HA_WRITE_TARGETS_MAX) {
                                batch->targets[batch->n_targets++] = i;
                                p->phase = HA_PHASE_WRITING;
                                continue;
                        }
                }
                w = &writes[n++];
                *w = (HaWrite) { .n_targets = 1, .targets = { i } };
                switch (t->kind) {
                case HA_TARGET_SOURCE_DEST_CHECK:
                        w->kind = HA_WRITE_DISABLE_SOURCE_DEST_CHECK;
                        break;
                case HA_TARGET_ROUTE:
                        w->kind = o->route_present ? HA_WRITE_REPLACE_ROUTE : HA_WRITE_CREATE_ROUTE;
                        break;
                case HA_TARGET_ELASTIC_IP:
                        w->kind = HA_WRITE_ASSOCIATE_ADDRESS;
                        break;
                case HA_TARGET_PRIVATE_IP:
                        w->kind = HA_WRITE_ASSIGN_PRIVATE_IPS;
                        if (!p->alone)
                                batch = w;
                        break;
                }
                p->phase = HA_PHASE_WRITING;
        }
        *ret_n = n;
}

HaOutcome ha_write_outcome(const HaWrite *w, int error, Ec2ErrorClass cls, const char *code, bool switched) {
        if (error == 0)
                return HA_OUTCOME_ACCEPTED;
        if (!switched && code) {
                if (w->kind == HA_WRITE_REPLACE_ROUTE && strcmp(code, "InvalidRoute.NotFound") == 0)
                        return HA_OUTCOME_SWITCH;
                if (w->kind == HA_WRITE_CREATE_ROUTE && strcmp(code, "RouteAlreadyExists") == 0)
                        return HA_OUTCOME_SWITCH;
        }
        switch (cls) {
        case EC2_THROTTLED:
        case EC2_SERVER:
        case EC2_NETWORK:
        case EC2_TIMEOUT:
        case EC2_MALFORMED:
                return HA_OUTCOME_RETRY;
        case EC2_INVALID:
                if (w->kind == HA_WRITE_ASSIGN_PRIVATE_IPS && w->n_targets > 1)
                        return HA_OUTCOME_SPLIT;
                return HA_OUTCOME_FAILED;
        default:
                return HA_OUTCOME_FAILED;
        }
}

void ha_progress_apply(const HaWrite *w, HaOutcome o, HaProgress *progress, uint64_t now, HaWrite *ret_next) {
        for (size_t i = 0; i < w->n_targets; i++) {
                HaProgress *p = &progress[w->targets[i]];

                p->writes++;
                switch (o) {
                case HA_OUTCOME_ACCEPTED:
                        p->phase = HA_PHASE_WRITTEN;
                        p->changed = true;
                        p->retry = false;
                        p->written_at = now;
                        break;
                case HA_OUTCOME_SWITCH:
                        p->phase = HA_PHASE_WRITING;
                        break;
                case HA_OUTCOME_SPLIT:
                        p->phase = HA_PHASE_PENDING;
                        p->alone = true;
                        break;
                case HA_OUTCOME_RETRY:
                        p->phase = HA_PHASE_PENDING;
                        p->retry = true;
                        break;
                case HA_OUTCOME_FAILED:
                        p->phase = HA_PHASE_FAILED;
                        break;
                }
        }
        if (o == HA_OUTCOME_SWITCH && ret_next) {
                *ret_next = *w;
                ret_next->kind = w->kind == HA_WRITE_REPLACE_ROUTE ? HA_WRITE_CREATE_ROUTE : HA_WRITE_REPLACE_ROUTE;
        }
}

bool ha_progress_finished(const HaProgress *progress, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (progress[i].phase != HA_PHASE_DONE && progress[i].phase != HA_PHASE_FAILED)
                        return false;
        return true;
}

bool ha_progress_waiting(const HaProgress *progress, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (progress[i].phase == HA_PHASE_PENDING || progress[i].phase == HA_PHASE_WRITTEN)
                        return true;
        return false;
}

/* ---- summary ---- */

HaSummary ha_summary(const HaTargetSet *s, const HaObservation *obs, HaSelect which) {
        size_t n = 0, here = 0;
        bool unknown = false, check_off = true, check_unknown = false;

        for (size_t i = 0; s && i < s->n_targets; i++) {
                HaSelect of = s->targets[i].kind == HA_TARGET_SOURCE_DEST_CHECK ||
                                              s->targets[i].kind == HA_TARGET_ROUTE
                                      ? HA_SELECT_ROUTING_HA
                                      : HA_SELECT_FLOATING_IP;

                if (!(which & of))
                        continue;
                /* The check says nothing about where traffic goes: an old
                 * master keeps it off. It only spoils an otherwise full set. */
                if (s->targets[i].kind == HA_TARGET_SOURCE_DEST_CHECK) {
                        check_off = obs[i].state == HA_STATE_HERE;
                        check_unknown = obs[i].state == HA_STATE_UNKNOWN;
                        continue;
                }
                n++;
                if (obs[i].state == HA_STATE_UNKNOWN)
                        unknown = true;
                else if (obs[i].state == HA_STATE_HERE)
                        here++;
        }
        if (n == 0)
                return HA_SUMMARY_NONE;
        if (unknown)
                return HA_SUMMARY_UNKNOWN;
        if (here == 0)
                return HA_SUMMARY_ELSEWHERE;
        if (here < n)
                return HA_SUMMARY_PARTIAL;
        if (check_unknown)
                return HA_SUMMARY_UNKNOWN;
        return check_off ? HA_SUMMARY_HERE : HA_SUMMARY_PARTIAL;
}

const char *ha_summary_to_string(HaSummary s) {
        switch (s) {
        case HA_SUMMARY_NONE:
                return "none";
        case HA_SUMMARY_HERE:
                return "here";
        case HA_SUMMARY_ELSEWHERE:
                return "elsewhere";
        case HA_SUMMARY_PARTIAL:
                return "partial";
        case HA_SUMMARY_UNKNOWN:
                return "unknown";
        }
        return "unknown";
}

/* ---- local addresses ---- */

int ha_local_addresses(const HaTargetSet *s, HaLocalAddress **ret, size_t *ret_n) {
        _cleanup_free_ HaLocalAddress *a = NULL;
        size_t n = 0;

        if (!s || !ret || !ret_n)
                return -EINVAL;
        a = calloc(s->n_targets + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_targets; i++) {
                const HaTarget *t = &s->targets[i];
                bool on_primary, dup = false;

                if (t->kind == HA_TARGET_ROUTE && t->prefix == 32)
                        on_primary = false;
                else if (t->kind == HA_TARGET_PRIVATE_IP)
                        on_primary = true;
                else
                        continue;
                for (size_t k = 0; k < n && !dup; k++)
                        dup = a[k].address.s_addr == t->address.s_addr && a[k].on_primary == on_primary;
                if (dup)
                        continue;
                a[n++] = (HaLocalAddress) {
                        .address = t->address, .prefix = 32, .on_primary = on_primary, .target = i,
                };
        }
        *ret = TAKE_PTR(a);
        *ret_n = n;
        return 0;
}
