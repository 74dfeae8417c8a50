/* link.c: luaha.core.link: links and addresses over rtnetlink (libnl-route); its request socket, routes, sysctls and watcher are in linkreq.c, route.c, sysctl.c and linkwatch.c. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/types.h>

#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if.h>		/* IFF_LOWER_UP, which <net/if.h> lacks */
#include <linux/rtnetlink.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>

#include "luaha.h"
#include "link.h"

static const char *const addr_add_options[] = { "dev", "address", "label", "broadcast", NULL };
static const char *const addr_del_options[] = { "dev", "address", "label", NULL };

/* Parses "192.0.2.1", "192.0.2.0/24" or "2001:db8::1/64"; no prefix means one host. */
int
link_parse(const char *s, struct link_prefix *p)
{
	char	 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long	 plen;
	int	 max;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", s) >= sizeof(buf))
		return (-1);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->bytes) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->bytes) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else
		return (-1);
	p->plen = max;
	if (slash == NULL)
		return (0);
	if (!isdigit((unsigned char)*slash))
		return (-1);
	plen = strtol(slash, &end, 10);
	if (*end != '\0' || plen > max)
		return (-1);
	p->plen = (int)plen;
	return (0);
}

struct nl_addr *
link_nladdr(const struct link_prefix *p)
{
	struct nl_addr	*a;

	a = nl_addr_build(p->family, p->bytes, p->family == AF_INET ? 4 : 16);
	if (a != NULL)
		nl_addr_set_prefixlen(a, p->plen);
	return (a);
}

/* "192.0.2.1", or "192.0.2.1/24" when plen >= 0, whatever libnl would leave out. */
const char *
link_ntop(struct nl_addr *a, int plen, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];
	int	 family = nl_addr_get_family(a);

	if ((family != AF_INET || nl_addr_get_len(a) != 4) &&
	    (family != AF_INET6 || nl_addr_get_len(a) != 16))
		return (nl_addr2str(a, buf, len));
	if (inet_ntop(family, nl_addr_get_binary_addr(a), host, sizeof(host)) == NULL)
		return (nl_addr2str(a, buf, len));
	if (plen < 0)
		snprintf(buf, len, "%s", host);
	else
		snprintf(buf, len, "%s/%d", host, plen);
	return (buf);
}

/* The string in field of the options table at 1; raises if it is missing. */
const char *
link_opt_required(lua_State *L, const char *field)
{
	const char	*s;

	if ((s = luaha_opt_string(L, 1, field)) == NULL)
		luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' is required", field));
	return (s);
}

/* The address in field of the options table at 1, parsed into p; raises if malformed. */
const char *
link_opt_prefix(lua_State *L, const char *field, int required, struct link_prefix *p)
{
	const char	*s;

	s = required ? link_opt_required(L, field) : luaha_opt_string(L, 1, field);
	if (s != NULL && link_parse(s, p) == -1)
		luaL_argerror(L, 1, lua_pushfstring(L,
		    "%s: '%s' is not an IPv4 or IPv6 address[/prefix]", field, s));
	return (s);
}

void
link_setstr(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

void
link_setint(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

void
link_setbool(lua_State *L, const char *k, int v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

const char *
link_family_name(int family)
{
	return (family == AF_INET ? "inet" : "inet6");
}

static const char *
link_scope_name(int scope, char *buf, size_t len)
{
	switch (scope) {
	case RT_SCOPE_UNIVERSE:
		return ("global");
	case RT_SCOPE_SITE:
		return ("site");
	case RT_SCOPE_LINK:
		return ("link");
	case RT_SCOPE_HOST:
		return ("host");
	case RT_SCOPE_NOWHERE:
		return ("nowhere");
	}
	snprintf(buf, len, "%d", scope);
	return (buf);
}

/* Called by nl_msg_parse with the object of a message: keeps it. */
static void
link_object_cb(struct nl_object *o, void *arg)
{
	struct nl_object	**op = arg;

	if (*op == NULL) {
		nl_object_get(o);
		*op = o;
	}
}

/*
 * The libnl object (link, address, route) of an rtnetlink message, to put
 * with nl_object_put; NULL when libnl cannot read it (logged) or is out of
 * memory.
 */
struct nl_object *
link_object(struct nlmsghdr *h)
{
	struct nl_msg		*msg;
	struct nl_object	*o = NULL;
	int			 err;

	if ((msg = nlmsg_convert(h)) == NULL)
		return (NULL);
	nlmsg_set_proto(msg, NETLINK_ROUTE);
	if ((err = nl_msg_parse(msg, link_object_cb, &o)) < 0)
		log_warnx("link: message type %d: %s", h->nlmsg_type, nl_geterror(err));
	nlmsg_free(msg);
	return (o);
}

/* Pushes {name=, index=, up=, carrier=, mac=, mtu=}. */
void
link_pushlink(lua_State *L, struct rtnl_link *link)
{
	struct nl_addr		*mac = rtnl_link_get_addr(link);
	const unsigned char	*b;
	unsigned int		 flags = rtnl_link_get_flags(link), i, n;
	char			 buf[3 * 32], *p;

	lua_createtable(L, 0, 6);
	link_setstr(L, "name", rtnl_link_get_name(link));
	link_setint(L, "index", rtnl_link_get_ifindex(link));
	link_setbool(L, "up", (flags & IFF_UP) != 0);
	/* The kernel sets IFF_LOWER_UP only on a link that is up and has a carrier. */
	link_setbool(L, "carrier", (flags & IFF_LOWER_UP) != 0);
	if (mac != NULL && (n = nl_addr_get_len(mac)) > 0) {
		b = nl_addr_get_binary_addr(mac);
		for (i = 0, p = buf; i < n && i < 32; i++)
			p += snprintf(p, buf + sizeof(buf) - p, i ? ":%02x" : "%02x", b[i]);
		link_setstr(L, "mac", buf);
	}
	link_setint(L, "mtu", rtnl_link_get_mtu(link));
}

/* Pushes {dev=, address=, label=, family=, broadcast=, scope=}. */
void
link_pushaddr(lua_State *L, struct rtnl_addr *a, const char *dev)
{
	struct nl_addr	*local = rtnl_addr_get_local(a);
	struct nl_addr	*bcast = rtnl_addr_get_broadcast(a);
	char		 buf[LINK_ADDRSTRLEN];

	lua_createtable(L, 0, 6);
	link_setstr(L, "dev", dev);
	if (local != NULL)
		link_setstr(L, "address", link_ntop(local,
		    rtnl_addr_get_prefixlen(a), buf, sizeof(buf)));
	link_setstr(L, "label", rtnl_addr_get_label(a));
	link_setstr(L, "family", link_family_name(rtnl_addr_get_family(a)));
	if (bcast != NULL)
		link_setstr(L, "broadcast", link_ntop(bcast, -1, buf, sizeof(buf)));
	link_setstr(L, "scope", link_scope_name(rtnl_addr_get_scope(a), buf,
	    sizeof(buf)));
}

static int
link_links_each(struct link_req *q, struct nlmsghdr *h)
{
	struct nl_object	*o;

	/* Bridge ports report their state as AF_BRIDGE messages: not links of their own. */
	if (h->nlmsg_type != RTM_NEWLINK ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) ||
	    ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_family != AF_UNSPEC)
		return (NL_OK);
	if ((o = link_object(h)) == NULL) {
		q->nomem = 1;
		return (NL_STOP);
	}
	link_pushlink(q->r.L, (struct rtnl_link *)o);
	lua_rawseti(q->r.L, -2, ++q->n);
	nl_object_put(o);
	return (NL_OK);
}

/* links(): every link, as {name=, index=, up=, carrier=, mac=, mtu=}. Waits in the calling task. */
static int
link_links(lua_State *L)
{
	return (link_req_dump(L, link_req_new(L, "links"), RTM_GETLINK, 0, link_links_each));
}

/* set_up(ifname, up): sets the link administratively up or down. Waits in the calling task. */
static int
link_set_up(lua_State *L)
{
	const char		*ifname = luaL_checkstring(L, 1), *what;
	struct rtnl_link	*change;
	struct nl_msg		*msg;
	unsigned int		 index;
	int			 err;

	luaL_checktype(L, 2, LUA_TBOOLEAN);
	what = lua_pushfstring(L, "set_up %s", ifname);
	if ((index = if_nametoindex(ifname)) == 0)
		return (luaha_fail_errno(L, what));
	if ((change = rtnl_link_alloc()) == NULL)
		return (luaha_fail(L, "%s: %s", what, strerror(ENOMEM)));
	/*
	 * The link is named by its index alone and the change carries IFF_UP
	 * in its mask, so the kernel touches no other flag: the object serves
	 * as both the original and the change.
	 */
	rtnl_link_set_ifindex(change, index);
	if (lua_toboolean(L, 2))
		rtnl_link_set_flags(change, IFF_UP);
	else
		rtnl_link_unset_flags(change, IFF_UP);
	err = rtnl_link_build_change_request(change, change, 0, &msg);
	rtnl_link_put(change);
	if (err < 0)
		return (luaha_fail(L, "%s: %s", what, link_nlerror(err)));
	return (link_req_change(L, link_req_new(L, what), msg));
}

static int
link_addrs_each(struct link_req *q, struct nlmsghdr *h)
{
	struct nl_object	*o;
	struct rtnl_addr	*a;
	const char		*dev;
	char			 name[IFNAMSIZ];
	int			 family;

	if (h->nlmsg_type != RTM_NEWADDR)
		return (NL_OK);
	if ((o = link_object(h)) == NULL) {
		q->nomem = 1;
		return (NL_STOP);
	}
	a = (struct rtnl_addr *)o;
	family = rtnl_addr_get_family(a);
	/* A link that went away between the two dumps took its addresses. */
	if ((family == AF_INET || family == AF_INET6) &&
	    (q->index == 0 || rtnl_addr_get_ifindex(a) == q->index) &&
	    (dev = link_name(&q->names, rtnl_addr_get_ifindex(a), name)) != NULL) {
		link_pushaddr(q->r.L, a, dev);
		lua_rawseti(q->r.L, -2, ++q->n);
	}
	nl_object_put(o);
	return (NL_OK);
}

/* addrs([ifname]): the IPv4 and IPv6 addresses of every link, or of one. Waits in the calling task. */
static int
link_addrs(lua_State *L)
{
	const char	*ifname = luaL_optstring(L, 1, NULL);
	struct link_req	*q;
	unsigned int	 index = 0;

	if (ifname != NULL && (index = if_nametoindex(ifname)) == 0)
		return (luaha_fail(L, "addrs %s: %s", ifname, strerror(errno)));
	q = link_req_new(L, "addrs");
	q->index = (int)index;
	return (link_req_dump(L, q, RTM_GETADDR, 1, link_addrs_each));
}

/*
 * addr_add{dev=, address=, label=, broadcast=} and addr_del{dev=, address=,
 * label=}. Arguments are checked, and may raise, before anything is
 * allocated; from then on every path frees what it made. Waits in the
 * calling task.
 */
static int
link_addr_change(lua_State *L, int del)
{
	struct link_prefix	 local, bcast;
	struct rtnl_addr	*a;
	struct nl_addr		*nlocal = NULL, *nbcast = NULL;
	struct nl_msg		*msg = NULL;
	const char		*dev, *s, *label, *b, *what;
	unsigned int		 index;
	int			 err, i;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, del ? addr_del_options : addr_add_options);
	dev = link_opt_required(L, "dev");
	s = link_opt_prefix(L, "address", 1, &local);
	if ((label = luaha_opt_string(L, 1, "label")) != NULL) {
		luaL_argcheck(L, local.family == AF_INET, 1,
		    "label: only IPv4 addresses have labels");
		/* As ip(8) insists, so ifconfig-style aliases read eth0:1. */
		luaL_argcheck(L, strncmp(label, dev, strlen(dev)) == 0, 1,
		    "label: must begin with the interface name");
		luaL_argcheck(L, strlen(label) < IFNAMSIZ, 1,
		    "label: longer than an interface name");
	}
	if ((b = luaha_opt_string(L, 1, "broadcast")) != NULL) {
		luaL_argcheck(L, local.family == AF_INET, 1,
		    "broadcast: only IPv4 addresses have one");
		if (strcmp(b, "+") == 0) {
			bcast = local;
			for (i = local.plen; i < 32; i++)
				bcast.bytes[i / 8] |= 0x80 >> (i % 8);
		} else
			luaL_argcheck(L, link_parse(b, &bcast) == 0 &&
			    bcast.family == AF_INET && bcast.plen == 32, 1,
			    "broadcast: not an IPv4 address or \"+\"");
	}
	what = lua_pushfstring(L, "%s %s dev %s", del ? "addr_del" : "addr_add",
	    s, dev);
	if ((index = if_nametoindex(dev)) == 0)
		return (luaha_fail_errno(L, what));

	if ((a = rtnl_addr_alloc()) == NULL || (nlocal = link_nladdr(&local)) == NULL ||
	    (b != NULL && (nbcast = link_nladdr(&bcast)) == NULL))
		err = -NLE_NOMEM;
	else {
		rtnl_addr_set_ifindex(a, index);
		err = rtnl_addr_set_local(a, nlocal);
		if (err == 0 && label != NULL)
			err = rtnl_addr_set_label(a, label);
		if (err == 0 && nbcast != NULL)
			err = rtnl_addr_set_broadcast(a, nbcast);
		if (err == 0)
			err = del ? rtnl_addr_build_delete_request(a, 0, &msg) :
			    rtnl_addr_build_add_request(a, NLM_F_EXCL, &msg);
	}
	nl_addr_put(nbcast);
	nl_addr_put(nlocal);
	rtnl_addr_put(a);
	if (err < 0)
		return (luaha_fail(L, "%s: %s", what, link_nlerror(err)));
	return (link_req_change(L, link_req_new(L, what), msg));
}

static int
link_addr_add(lua_State *L)
{
	return (link_addr_change(L, 0));
}

static int
link_addr_del(lua_State *L)
{
	return (link_addr_change(L, 1));
}

static const luaL_Reg link_funcs[] = {
	{ "links", link_links },
	{ "set_up", link_set_up },
	{ "addrs", link_addrs },
	{ "addr_add", link_addr_add },
	{ "addr_del", link_addr_del },
	{ NULL, NULL }
};

/*
 * One module of the functions of link.c, route.c, sysctl.c and linkwatch.c,
 * every one of which has the request socket as its upvalue.
 */
int
luaopen_luaha_core_link(lua_State *L)
{
	static const luaL_Reg *const parts[] = {
		link_funcs, route_funcs, sysctl_funcs, linkwatch_funcs, NULL
	};
	int	 i;

	linkwatch_open(L);
	link_sock_new(L);
	lua_createtable(L, 0, 10);
	for (i = 0; parts[i] != NULL; i++) {
		lua_pushvalue(L, -2);
		luaL_setfuncs(L, parts[i], 1);
	}
	lua_remove(L, -2);
	return (1);
}
