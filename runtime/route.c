/* route.c: routes over rtnetlink (libnl-route): listed, added, deleted; part of luaha.core.link. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/types.h>

#include <net/if.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>

#include "luaha.h"
#include "link.h"

static const char *const route_options[] = {
	"dst", "gateway", "dev", "table", "family", "type", "protocol", NULL
};

/* The route types route_add takes; "unicast" goes through a gateway or a device. */
static const char *const route_types[] = { "unicast", "blackhole", "unreachable", "prohibit", NULL };
static const unsigned char route_type_ids[] = {
	RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT
};

/* A routing table at idx: a number, "main", "local", "default", or "all" if allowed (0). */
static uint32_t
route_check_table(lua_State *L, int idx, int all)
{
	static const char *const names[] = { "main", "local", "default", "all", NULL };
	static const uint32_t ids[] = {
		RT_TABLE_MAIN, RT_TABLE_LOCAL, RT_TABLE_DEFAULT, RT_TABLE_UNSPEC
	};
	lua_Integer	 n;
	int		 i, isnum;

	if (lua_type(L, idx) == LUA_TSTRING) {
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], lua_tostring(L, idx)) == 0 &&
			    (all || ids[i] != RT_TABLE_UNSPEC))
				return (ids[i]);
	} else {
		n = lua_tointegerx(L, idx, &isnum);
		if (isnum && n >= 1 && n <= UINT32_MAX)
			return ((uint32_t)n);
	}
	luaL_error(L, "table: not a number from 1 to 4294967295, \"main\", "
	    "\"local\", \"default\"%s", all ? " or \"all\"" : "");
	return (0);
}

/* Sets gateway= and dev= of one nexthop in the table on top. */
static void
route_setnexthop(lua_State *L, struct rtnl_nexthop *nh, const struct link_names *links)
{
	struct nl_addr	*gw = rtnl_route_nh_get_gateway(nh);
	char		 buf[LINK_ADDRSTRLEN], name[IFNAMSIZ];
	int		 index = rtnl_route_nh_get_ifindex(nh);

	if (gw != NULL)
		link_setstr(L, "gateway", link_ntop(gw, -1, buf, sizeof(buf)));
	if (index > 0)
		link_setstr(L, "dev", link_name(links, index, name));
}

/*
 * Pushes {dst=, gateway=, dev=, table=, family=, protocol=}. A multipath route has
 * nexthops={{gateway=, dev=}, ...} instead; a route that is not unicast
 * (local, broadcast, blackhole, ...) says so in type=.
 */
static void
route_push(lua_State *L, struct rtnl_route *r, const struct link_names *links)
{
	struct nl_addr	*dst = rtnl_route_get_dst(r);
	char		 buf[LINK_ADDRSTRLEN];
	int		 i, n = rtnl_route_get_nnexthops(r);

	lua_createtable(L, 0, 7);
	if (dst == NULL || nl_addr_get_prefixlen(dst) == 0)
		link_setstr(L, "dst", "default");
	else
		link_setstr(L, "dst", link_ntop(dst, nl_addr_get_prefixlen(dst),
		    buf, sizeof(buf)));
	if (n == 1)
		route_setnexthop(L, rtnl_route_nexthop_n(r, 0), links);
	else if (n > 1) {
		lua_createtable(L, n, 0);
		for (i = 0; i < n; i++) {
			lua_createtable(L, 0, 2);
			route_setnexthop(L, rtnl_route_nexthop_n(r, i), links);
			lua_rawseti(L, -2, i + 1);
		}
		lua_setfield(L, -2, "nexthops");
	}
	link_setint(L, "table", rtnl_route_get_table(r));
	link_setstr(L, "family", link_family_name(rtnl_route_get_family(r)));
	link_setint(L, "protocol", rtnl_route_get_protocol(r));
	if (rtnl_route_get_type(r) != RTN_UNICAST)
		link_setstr(L, "type", nl_rtntype2str(rtnl_route_get_type(r), buf,
		    sizeof(buf)));
}

/*
 * The protocol at idx, the number in a route's rtm_protocol: 0 to 255; 0
 * (unspec) is no protocol, and the kernel keeps 1 to 4 for itself (redirect,
 * kernel, boot, static). nil gives -1.
 */
static int
route_check_protocol(lua_State *L, int idx)
{
	lua_Integer	 n;
	int		 isnum;

	if (lua_isnil(L, idx))
		return (-1);
	n = lua_tointegerx(L, idx, &isnum);
	if (!isnum || n < 0 || n > 255)
		luaL_error(L, "protocol: not a number from 0 to 255");
	return ((int)n);
}

/*
 * route_add{dst=, gateway=, dev=, table=, family=, type=, protocol=} and
 * route_del{...}. dst "default" (or 0.0.0.0/0, ::/0) is the default route;
 * its family comes from family=, else the gateway, else it is IPv4. A
 * blackhole, unreachable or prohibit route has no gateway and no device. A
 * route_del with type= or protocol= deletes only a route of that type or
 * protocol. Waits in the calling task.
 */
static int
route_change(lua_State *L, int del)
{
	struct link_prefix	 dst, gw;
	struct rtnl_route	*r = NULL;
	struct rtnl_nexthop	*nh;
	struct nl_addr		*ndst = NULL, *ngw = NULL;
	struct nl_msg		*msg = NULL;
	const char		*sdst, *sgw, *dev, *fam, *what;
	uint32_t		 table = RT_TABLE_MAIN;
	unsigned int		 index = 0;
	const char		*tname = "";
	int			 family = AF_UNSPEC, err, type = -1, proto, i;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, route_options);
	if (lua_getfield(L, 1, "type") != LUA_TNIL) {
		i = luaL_checkoption(L, -1, NULL, route_types);
		type = route_type_ids[i];
		if (type != RTN_UNICAST)
			tname = lua_pushfstring(L, "%s ", route_types[i]);
	}
	lua_getfield(L, 1, "protocol");
	proto = route_check_protocol(L, -1);
	if ((fam = luaha_opt_string(L, 1, "family")) != NULL) {
		luaL_argcheck(L, strcmp(fam, "inet") == 0 ||
		    strcmp(fam, "inet6") == 0, 1, "family: \"inet\" or \"inet6\"");
		family = strcmp(fam, "inet") == 0 ? AF_INET : AF_INET6;
	}
	if (lua_getfield(L, 1, "table") != LUA_TNIL)
		table = route_check_table(L, -1, 0);
	lua_pop(L, 1);
	sdst = link_opt_required(L, "dst");
	sgw = link_opt_prefix(L, "gateway", 0, &gw);
	dev = luaha_opt_string(L, 1, "dev");
	if (sgw != NULL) {
		luaL_argcheck(L, gw.plen == (gw.family == AF_INET ? 32 : 128), 1,
		    "gateway: an address, not a prefix");
		if (family == AF_UNSPEC)
			family = gw.family;
	}
	luaL_argcheck(L, type == -1 || type == RTN_UNICAST ||
	    (sgw == NULL && dev == NULL), 1, "type: a route of that type has no gateway or dev");
	if (strcmp(sdst, "default") == 0) {
		memset(&dst, 0, sizeof(dst));
		dst.family = family == AF_UNSPEC ? AF_INET : family;
	} else
		link_opt_prefix(L, "dst", 1, &dst);
	if (family == AF_UNSPEC)
		family = dst.family;
	luaL_argcheck(L, dst.family == family && (sgw == NULL || gw.family == family),
	    1, "dst, gateway and family disagree");

	what = lua_pushfstring(L, "%s %s%s%s%s%s%s", del ? "route_del" : "route_add",
	    tname, sdst, sgw != NULL ? " via " : "", sgw != NULL ? sgw : "",
	    dev != NULL ? " dev " : "", dev != NULL ? dev : "");
	if (table != RT_TABLE_MAIN)
		what = lua_pushfstring(L, "%s table %I", what, (lua_Integer)table);
	if (proto >= 0)
		what = lua_pushfstring(L, "%s proto %d", what, proto);
	if (dev != NULL && (index = if_nametoindex(dev)) == 0)
		return (luaha_fail_errno(L, what));

	err = -NLE_NOMEM;
	if ((r = rtnl_route_alloc()) == NULL || (ndst = link_nladdr(&dst)) == NULL)
		goto out;
	rtnl_route_set_table(r, table);
	if ((err = rtnl_route_set_family(r, family)) < 0 ||
	    (err = rtnl_route_set_dst(r, ndst)) < 0)
		goto out;
	if (sgw != NULL || dev != NULL) {
		err = -NLE_NOMEM;
		if ((nh = rtnl_route_nh_alloc()) == NULL)
			goto out;
		rtnl_route_add_nexthop(r, nh);		/* the route frees it */
		if (dev != NULL)
			rtnl_route_nh_set_ifindex(nh, index);
		if (sgw != NULL) {
			if ((ngw = link_nladdr(&gw)) == NULL)
				goto out;
			rtnl_route_nh_set_gateway(nh, ngw);
		}
	}
	if (del) {
		/*
		 * libnl would send protocol static, unicast and a guessed
		 * scope, and the kernel deletes only a route that matches
		 * them all. Like ip(8), leave them open, so routes made by
		 * others (proto boot, kernel) can be deleted too.
		 */
		rtnl_route_set_scope(r, RT_SCOPE_NOWHERE);
		rtnl_route_set_protocol(r, proto >= 0 ? proto : RTPROT_UNSPEC);
		if ((err = rtnl_route_set_type(r, type >= 0 ? type : RTN_UNSPEC)) == 0)
			err = rtnl_route_build_del_request(r, 0, &msg);
	} else {
		if (proto >= 0)
			rtnl_route_set_protocol(r, proto);
		/*
		 * libnl would guess scope link for a route without a
		 * gateway; ip(8) gives a blackhole scope universe, and so
		 * do we, so that routing daemons see the same route.
		 */
		if (type >= 0 && type != RTN_UNICAST)
			rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
		if ((err = rtnl_route_set_type(r, type >= 0 ? type : RTN_UNICAST)) == 0)
			err = rtnl_route_build_add_request(r, NLM_F_EXCL, &msg);
	}
out:
	nl_addr_put(ngw);
	nl_addr_put(ndst);
	rtnl_route_put(r);
	if (err < 0)
		return (luaha_fail(L, "%s: %s", what, link_nlerror(err)));
	return (link_req_change(L, link_req_new(L, what), msg));
}

static int
route_add(lua_State *L)
{
	return (route_change(L, 0));
}

static int
route_del(lua_State *L)
{
	return (route_change(L, 1));
}

static int
route_each(struct link_req *q, struct nlmsghdr *h)
{
	struct nl_object	*o;
	struct rtnl_route	*r;
	int			 family;

	if (h->nlmsg_type != RTM_NEWROUTE)
		return (NL_OK);
	if ((o = link_object(h)) == NULL) {
		q->nomem = 1;
		return (NL_STOP);
	}
	r = (struct rtnl_route *)o;
	family = rtnl_route_get_family(r);
	/* The dump holds multicast routing tables too; they are not ours. */
	if ((family == AF_INET || family == AF_INET6) &&
	    (q->table == RT_TABLE_UNSPEC || rtnl_route_get_table(r) == q->table)) {
		route_push(q->r.L, r, &q->names);
		lua_rawseti(q->r.L, -2, ++q->n);
	}
	nl_object_put(o);
	return (NL_OK);
}

/*
 * routes([table]): the IPv4 and IPv6 routes of one table (default main), or
 * of "all". Not a libnl cache: it keys routes by destination and metric, so
 * fe80::/64 on two links would come out as one. Waits in the calling task.
 */
static int
route_routes(lua_State *L)
{
	uint32_t	 table = RT_TABLE_MAIN;
	struct link_req	*q;

	if (!lua_isnoneornil(L, 1))
		table = route_check_table(L, 1, 1);
	q = link_req_new(L, "routes");
	q->table = table;
	return (link_req_dump(L, q, RTM_GETROUTE, 1, route_each));
}

const luaL_Reg route_funcs[] = {
	{ "routes", route_routes },
	{ "route_add", route_add },
	{ "route_del", route_del },
	{ NULL, NULL }
};
