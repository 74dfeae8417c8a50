/* link.c: links, addresses, routes and sysctls over rtnetlink (libnl-route); the watcher is in linkwatch.c. */
#include <sys/socket.h>
#include <sys/types.h>

#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if.h>		/* IFF_LOWER_UP, which <net/if.h> lacks */

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

#define LINK_ADDRSTRLEN	64		/* an IPv6 address, "/128" and room to spare */

/* An address or prefix from Lua, parsed before any libnl object exists. */
struct link_prefix {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 bytes[16];
	int		 plen;
};

/* libnl's codes for errors that did not come from the kernel, turned back into errnos. */
static const struct {
	int	 nlerr;
	int	 errnum;
} link_nlerrs[] = {
	{ NLE_INTR, EINTR }, { NLE_BAD_SOCK, EBADF }, { NLE_AGAIN, EAGAIN },
	{ NLE_NOMEM, ENOMEM }, { NLE_EXIST, EEXIST }, { NLE_INVAL, EINVAL },
	{ NLE_RANGE, ERANGE }, { NLE_MSGSIZE, EMSGSIZE }, { NLE_OPNOTSUPP, EOPNOTSUPP },
	{ NLE_AF_NOSUPPORT, EAFNOSUPPORT }, { NLE_OBJ_NOTFOUND, ENOENT },
	{ NLE_NOADDR, EADDRNOTAVAIL }, { NLE_NOACCESS, EACCES }, { NLE_PERM, EPERM },
	{ NLE_PROTO_MISMATCH, EPROTONOSUPPORT }, { NLE_BUSY, EBUSY }, { NLE_NODEV, ENODEV },
	{ 0, 0 }
};

static const char *const addr_add_options[] = { "dev", "address", "label", "broadcast", NULL };
static const char *const addr_del_options[] = { "dev", "address", "label", NULL };
static const char *const route_options[] = { "dst", "gateway", "dev", "table", "family", NULL };

struct link_sock *
link_sock(lua_State *L)
{
	return (lua_touserdata(L, lua_upvalueindex(1)));
}

/*
 * libnl folds the kernel's errno into its own codes, several errnos to one
 * code; this keeps the errno and the kernel's own explanation, if any.
 */
static int
link_sock_err(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct link_sock	*ls = arg;
	struct nlmsghdr		*hdr = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr		*msg;
	size_t			 off;

	(void)nla;
	ls->kerr = -e->error;
	ls->kmsg[0] = '\0';
	if (!(hdr->nlmsg_flags & NLM_F_ACK_TLVS))
		return (NL_STOP);
	/* The attributes follow the request, unless the kernel left it out. */
	off = sizeof(*e);
	if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	off = NLMSG_ALIGN(off);
	if (NLMSG_HDRLEN + off < hdr->nlmsg_len &&
	    (msg = nla_find((struct nlattr *)((char *)e + off),
	    hdr->nlmsg_len - NLMSG_HDRLEN - off, NLMSGERR_ATTR_MSG)) != NULL)
		nla_strlcpy(ls->kmsg, msg, sizeof(ls->kmsg));
	return (NL_STOP);
}

/* Opens the request socket if need be and forgets the last error; 0 or a libnl error. */
int
link_connect(struct link_sock *ls)
{
	int	 err, one = 1;

	ls->kerr = 0;
	ls->kmsg[0] = '\0';
	if (ls->sk != NULL)
		return (0);
	if ((ls->sk = nl_socket_alloc()) == NULL)
		return (-NLE_NOMEM);
	if ((err = nl_connect(ls->sk, NETLINK_ROUTE)) < 0 ||
	    (err = nl_socket_modify_err_cb(ls->sk, NL_CB_CUSTOM, link_sock_err,
	    ls)) < 0) {
		nl_socket_free(ls->sk);
		ls->sk = NULL;
		return (err);
	}
	/* Extended acks add the kernel's explanation; errors are still clear without. */
	if (setsockopt(nl_socket_get_fd(ls->sk), SOL_NETLINK, NETLINK_EXT_ACK,
	    &one, sizeof(one)) == -1 ||
	    setsockopt(nl_socket_get_fd(ls->sk), SOL_NETLINK, NETLINK_CAP_ACK,
	    &one, sizeof(one)) == -1)
		log_warn("%s: netlink extended acks", __func__);
	return (0);
}

/*
 * Why a request failed: the kernel's errno and explanation when it answered
 * with an error, else libnl's code turned back into an errno where one fits.
 * In the second case replies may be left unread on the socket, so it is
 * dropped and the next call opens another.
 */
const char *
link_reason(struct link_sock *ls, int err, char *buf, size_t len)
{
	int	 i;

	if (ls != NULL && ls->kerr != 0) {
		if (ls->kmsg[0] == '\0')
			return (strerror(ls->kerr));
		snprintf(buf, len, "%s (%s)", strerror(ls->kerr), ls->kmsg);
		return (buf);
	}
	if (ls != NULL && ls->sk != NULL) {
		nl_socket_free(ls->sk);
		ls->sk = NULL;
	}
	for (i = 0; link_nlerrs[i].nlerr != 0; i++)
		if (link_nlerrs[i].nlerr == abs(err))
			return (strerror(link_nlerrs[i].errnum));
	return (nl_geterror(err));
}

/* Pushes nil and "what: reason" for a failed request. */
int
link_fail(lua_State *L, struct link_sock *ls, int err, const char *what)
{
	char	 buf[256];

	return (luaha_fail(L, "%s: %s", what, link_reason(ls, err, buf, sizeof(buf))));
}

/* Parses "192.0.2.1", "192.0.2.0/24" or "2001:db8::1/64"; no prefix means one host. */
static int
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

static struct nl_addr *
link_nladdr(const struct link_prefix *p)
{
	struct nl_addr	*a;

	a = nl_addr_build(p->family, p->bytes, p->family == AF_INET ? 4 : 16);
	if (a != NULL)
		nl_addr_set_prefixlen(a, p->plen);
	return (a);
}

/* "192.0.2.1", or "192.0.2.1/24" when plen >= 0, whatever libnl would leave out. */
static const char *
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
static const char *
link_opt_required(lua_State *L, const char *field)
{
	const char	*s;

	if ((s = luaha_opt_string(L, 1, field)) == NULL)
		luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' is required", field));
	return (s);
}

/* The address in field of the options table at 1, parsed into p; raises if malformed. */
static const char *
link_opt_prefix(lua_State *L, const char *field, int required, struct link_prefix *p)
{
	const char	*s;

	s = required ? link_opt_required(L, field) : luaha_opt_string(L, 1, field);
	if (s != NULL && link_parse(s, p) == -1)
		luaL_argerror(L, 1, lua_pushfstring(L,
		    "%s: '%s' is not an IPv4 or IPv6 address[/prefix]", field, s));
	return (s);
}

/* A routing table at idx: a number, "main", "local", "default", or "all" if allowed (0). */
static uint32_t
link_check_table(lua_State *L, int idx, int all)
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

static const char *
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

/* The name of the link with index, from links or else the kernel; NULL if it is gone. */
static const char *
link_name(struct nl_cache *links, int index, char *buf)
{
	if (links != NULL && rtnl_link_i2name(links, index, buf, IFNAMSIZ) != NULL)
		return (buf);
	return (if_indextoname(index, buf));
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

/* Sets gateway= and dev= of one nexthop in the table on top. */
static void
link_setnexthop(lua_State *L, struct rtnl_nexthop *nh, struct nl_cache *links)
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
 * Pushes {dst=, gateway=, dev=, table=, family=}. A multipath route has
 * nexthops={{gateway=, dev=}, ...} instead; a route that is not unicast
 * (local, broadcast, blackhole, ...) says so in type=.
 */
static void
link_pushroute(lua_State *L, struct rtnl_route *r, struct nl_cache *links)
{
	struct nl_addr	*dst = rtnl_route_get_dst(r);
	char		 buf[LINK_ADDRSTRLEN];
	int		 i, n = rtnl_route_get_nnexthops(r);

	lua_createtable(L, 0, 6);
	if (dst == NULL || nl_addr_get_prefixlen(dst) == 0)
		link_setstr(L, "dst", "default");
	else
		link_setstr(L, "dst", link_ntop(dst, nl_addr_get_prefixlen(dst),
		    buf, sizeof(buf)));
	if (n == 1)
		link_setnexthop(L, rtnl_route_nexthop_n(r, 0), links);
	else if (n > 1) {
		lua_createtable(L, n, 0);
		for (i = 0; i < n; i++) {
			lua_createtable(L, 0, 2);
			link_setnexthop(L, rtnl_route_nexthop_n(r, i), links);
			lua_rawseti(L, -2, i + 1);
		}
		lua_setfield(L, -2, "nexthops");
	}
	link_setint(L, "table", rtnl_route_get_table(r));
	link_setstr(L, "family", link_family_name(rtnl_route_get_family(r)));
	if (rtnl_route_get_type(r) != RTN_UNICAST)
		link_setstr(L, "type", nl_rtntype2str(rtnl_route_get_type(r), buf,
		    sizeof(buf)));
}

/* links(): every link, as {name=, index=, up=, carrier=, mac=, mtu=}. */
static int
link_links(lua_State *L)
{
	struct link_sock	*ls = link_sock(L);
	struct nl_cache		*cache;
	struct nl_object	*o;
	int			 err, n = 0;

	if ((err = link_connect(ls)) < 0 ||
	    (err = rtnl_link_alloc_cache(ls->sk, AF_UNSPEC, &cache)) < 0)
		return (link_fail(L, ls, err, "links"));
	lua_newtable(L);
	for (o = nl_cache_get_first(cache); o != NULL; o = nl_cache_get_next(o)) {
		link_pushlink(L, (struct rtnl_link *)o);
		lua_rawseti(L, -2, ++n);
	}
	nl_cache_free(cache);
	return (1);
}

/* set_up(ifname, up): sets the link administratively up or down. */
static int
link_set_up(lua_State *L)
{
	struct link_sock	*ls = link_sock(L);
	const char		*ifname = luaL_checkstring(L, 1), *what;
	struct rtnl_link	*change;
	unsigned int		 index;
	int			 err;

	luaL_checktype(L, 2, LUA_TBOOLEAN);
	what = lua_pushfstring(L, "set_up %s", ifname);
	if ((index = if_nametoindex(ifname)) == 0)
		return (luaha_fail_errno(L, what));
	if ((err = link_connect(ls)) < 0)
		return (link_fail(L, ls, err, what));
	if ((change = rtnl_link_alloc()) == NULL)
		return (link_fail(L, ls, -NLE_NOMEM, what));
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
	err = rtnl_link_change(ls->sk, change, change, 0);
	rtnl_link_put(change);
	if (err < 0)
		return (link_fail(L, ls, err, what));
	return (luaha_ok(L));
}

/* addrs([ifname]): the IPv4 and IPv6 addresses of every link, or of one. */
static int
link_addrs(lua_State *L)
{
	struct link_sock	*ls = link_sock(L);
	const char		*ifname = luaL_optstring(L, 1, NULL), *dev;
	struct nl_cache		*links, *addrs;
	struct nl_object	*o;
	struct rtnl_addr	*a;
	unsigned int		 index = 0;
	int			 err, family, n = 0;
	char			 name[IFNAMSIZ];

	if (ifname != NULL && (index = if_nametoindex(ifname)) == 0)
		return (luaha_fail(L, "addrs %s: %s", ifname, strerror(errno)));
	if ((err = link_connect(ls)) < 0 ||
	    (err = rtnl_link_alloc_cache(ls->sk, AF_UNSPEC, &links)) < 0)
		return (link_fail(L, ls, err, "addrs"));
	if ((err = rtnl_addr_alloc_cache(ls->sk, &addrs)) < 0) {
		nl_cache_free(links);
		return (link_fail(L, ls, err, "addrs"));
	}
	lua_newtable(L);
	for (o = nl_cache_get_first(addrs); o != NULL; o = nl_cache_get_next(o)) {
		a = (struct rtnl_addr *)o;
		family = rtnl_addr_get_family(a);
		if ((family != AF_INET && family != AF_INET6) ||
		    (index != 0 && rtnl_addr_get_ifindex(a) != (int)index))
			continue;
		/* A link that went away between the two dumps took its addresses. */
		if ((dev = link_name(links, rtnl_addr_get_ifindex(a), name)) == NULL)
			continue;
		link_pushaddr(L, a, dev);
		lua_rawseti(L, -2, ++n);
	}
	nl_cache_free(addrs);
	nl_cache_free(links);
	return (1);
}

/*
 * addr_add{dev=, address=, label=, broadcast=} and addr_del{dev=, address=,
 * label=}. Arguments are checked, and may raise, before anything is
 * allocated; from then on every path frees what it made.
 */
static int
link_addr_change(lua_State *L, int del)
{
	struct link_sock	*ls = link_sock(L);
	struct link_prefix	 local, bcast;
	struct rtnl_addr	*a;
	struct nl_addr		*nlocal = NULL, *nbcast = NULL;
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
	if ((err = link_connect(ls)) < 0)
		return (link_fail(L, ls, err, what));

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
			err = del ? rtnl_addr_delete(ls->sk, a, 0) :
			    rtnl_addr_add(ls->sk, a, NLM_F_EXCL);
	}
	nl_addr_put(nbcast);
	nl_addr_put(nlocal);
	rtnl_addr_put(a);
	if (err < 0)
		return (link_fail(L, ls, err, what));
	return (luaha_ok(L));
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

/*
 * route_add{dst=, gateway=, dev=, table=, family=} and route_del{...}. dst
 * "default" (or 0.0.0.0/0, ::/0) is the default route; its family comes
 * from family=, else the gateway, else it is IPv4.
 */
static int
link_route_change(lua_State *L, int del)
{
	struct link_sock	*ls = link_sock(L);
	struct link_prefix	 dst, gw;
	struct rtnl_route	*r = NULL;
	struct rtnl_nexthop	*nh;
	struct nl_addr		*ndst = NULL, *ngw = NULL;
	const char		*sdst, *sgw, *dev, *fam, *what;
	uint32_t		 table = RT_TABLE_MAIN;
	unsigned int		 index = 0;
	int			 family = AF_UNSPEC, err;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, route_options);
	if ((fam = luaha_opt_string(L, 1, "family")) != NULL) {
		luaL_argcheck(L, strcmp(fam, "inet") == 0 ||
		    strcmp(fam, "inet6") == 0, 1, "family: \"inet\" or \"inet6\"");
		family = strcmp(fam, "inet") == 0 ? AF_INET : AF_INET6;
	}
	if (lua_getfield(L, 1, "table") != LUA_TNIL)
		table = link_check_table(L, -1, 0);
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
	if (strcmp(sdst, "default") == 0) {
		memset(&dst, 0, sizeof(dst));
		dst.family = family == AF_UNSPEC ? AF_INET : family;
	} else
		link_opt_prefix(L, "dst", 1, &dst);
	if (family == AF_UNSPEC)
		family = dst.family;
	luaL_argcheck(L, dst.family == family && (sgw == NULL || gw.family == family),
	    1, "dst, gateway and family disagree");

	what = lua_pushfstring(L, "%s %s%s%s%s%s", del ? "route_del" : "route_add",
	    sdst, sgw != NULL ? " via " : "", sgw != NULL ? sgw : "",
	    dev != NULL ? " dev " : "", dev != NULL ? dev : "");
	if (table != RT_TABLE_MAIN)
		what = lua_pushfstring(L, "%s table %I", what, (lua_Integer)table);
	if (dev != NULL && (index = if_nametoindex(dev)) == 0)
		return (luaha_fail_errno(L, what));
	if ((err = link_connect(ls)) < 0)
		return (link_fail(L, ls, err, what));

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
		rtnl_route_set_protocol(r, RTPROT_UNSPEC);
		if ((err = rtnl_route_set_type(r, RTN_UNSPEC)) == 0)
			err = rtnl_route_delete(ls->sk, r, 0);
	} else
		err = rtnl_route_add(ls->sk, r, NLM_F_EXCL);
out:
	nl_addr_put(ngw);
	nl_addr_put(ndst);
	rtnl_route_put(r);
	if (err < 0)
		return (link_fail(L, ls, err, what));
	return (luaha_ok(L));
}

static int
link_route_add(lua_State *L)
{
	return (link_route_change(L, 0));
}

static int
link_route_del(lua_State *L)
{
	return (link_route_change(L, 1));
}

/* A route dump in progress: where its routes go. */
struct link_dump {
	lua_State	*L;		/* the result table is on top */
	struct nl_cache	*links;		/* for the names of devices */
	uint32_t	 table;		/* RT_TABLE_UNSPEC for all */
	int		 n;
};

static void
link_route_obj(struct nl_object *o, void *arg)
{
	struct link_dump	*d = arg;
	struct rtnl_route	*r = (struct rtnl_route *)o;
	int			 family = rtnl_route_get_family(r);

	/* The dump holds multicast routing tables too; they are not ours. */
	if ((family != AF_INET && family != AF_INET6) ||
	    (d->table != RT_TABLE_UNSPEC && rtnl_route_get_table(r) != d->table))
		return;
	link_pushroute(d->L, r, d->links);
	lua_rawseti(d->L, -2, ++d->n);
}

static int
link_route_msg(struct nl_msg *msg, void *arg)
{
	int	 err;

	if ((err = nl_msg_parse(msg, link_route_obj, arg)) < 0)
		return (err);
	return (NL_OK);
}

/*
 * routes([table]): the IPv4 and IPv6 routes of one table (default main), or
 * of "all". Not a libnl cache: it keys routes by destination and metric, so
 * fe80::/64 on two links would come out as one.
 */
static int
link_routes(lua_State *L)
{
	struct link_sock	*ls = link_sock(L);
	struct link_dump	 d;
	struct nl_cb		*cb, *orig;
	int			 err, tries;

	memset(&d, 0, sizeof(d));
	d.L = L;
	d.table = RT_TABLE_MAIN;
	if (!lua_isnoneornil(L, 1))
		d.table = link_check_table(L, 1, 1);
	if ((err = link_connect(ls)) < 0 ||
	    (err = rtnl_link_alloc_cache(ls->sk, AF_UNSPEC, &d.links)) < 0)
		return (link_fail(L, ls, err, "routes"));
	/* The clone keeps the socket's error callback. */
	orig = nl_socket_get_cb(ls->sk);
	cb = nl_cb_clone(orig);
	nl_cb_put(orig);
	if (cb == NULL || (err = nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM,
	    link_route_msg, &d)) < 0) {
		nl_cb_put(cb);
		nl_cache_free(d.links);
		return (link_fail(L, ls, cb == NULL ? -NLE_NOMEM : err, "routes"));
	}
	/* A dump that routes changed under is flagged; read it again. */
	for (tries = 0; tries < 3; tries++) {
		lua_newtable(L);
		d.n = 0;
		if ((err = nl_rtgen_request(ls->sk, RTM_GETROUTE, AF_UNSPEC,
		    NLM_F_DUMP)) >= 0 && (err = nl_recvmsgs(ls->sk, cb)) >= 0)
			break;
		lua_pop(L, 1);
		if (err != -NLE_DUMP_INTR)
			break;
	}
	nl_cb_put(cb);
	nl_cache_free(d.links);
	if (err < 0)
		return (link_fail(L, ls, err, "routes"));
	return (1);
}

static int
link_sysctl_read(lua_State *L, const char *name, const char *path)
{
	luaL_Buffer	 b;
	const char	*s;
	size_t		 len;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(errno)));
	luaL_buffinit(L, &b);
	do {
		if ((n = read(fd, luaL_prepbuffer(&b), LUAL_BUFFERSIZE)) > 0)
			luaL_addsize(&b, n);
	} while (n > 0 || (n == -1 && errno == EINTR));
	saved = errno;
	if (close(fd) == -1)
		log_warn("%s: close %s", __func__, path);
	if (n == -1)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(saved)));
	luaL_pushresult(&b);
	s = lua_tolstring(L, -1, &len);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	lua_pushlstring(L, s, len);
	return (1);
}

static int
link_sysctl_write(lua_State *L, const char *name, const char *path)
{
	const char	*v;
	size_t		 len;
	ssize_t		 n;
	int		 fd, saved;

	/* Before the conversion to a string, which would hide a float. */
	luaL_argcheck(L, lua_type(L, 2) == LUA_TSTRING || lua_isinteger(L, 2), 2,
	    "a string or an integer");
	v = lua_tolstring(L, 2, &len);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(errno)));
	/* procfs takes the value in one write and says there if it rejects it. */
	while ((n = write(fd, v, len)) == -1 && errno == EINTR)
		;
	saved = n == -1 ? errno : EIO;
	if (close(fd) == -1 && n == (ssize_t)len)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(errno)));
	if (n != (ssize_t)len)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(saved)));
	return (luaha_ok(L));
}

/*
 * sysctl(name [, value]): reads (trimmed) or writes /proc/sys/<name with
 * dots as slashes>. procfs answers at once: this does not yield. A name
 * cannot hold an interface name with a dot in it (eth0.100).
 */
static int
link_sysctl(lua_State *L)
{
	const char	*name = luaL_checkstring(L, 1);
	char		 path[PATH_MAX], *p;
	int		 n;

	luaL_argcheck(L, *name != '\0' && strchr(name, '/') == NULL &&
	    strstr(name, "..") == NULL, 1, "not a sysctl name");
	n = snprintf(path, sizeof(path), "/proc/sys/%s", name);
	luaL_argcheck(L, n > 0 && (size_t)n < sizeof(path), 1, "too long");
	for (p = path + strlen("/proc/sys/"); *p != '\0'; p++)
		if (*p == '.')
			*p = '/';
	if (lua_isnoneornil(L, 2))
		return (link_sysctl_read(L, name, path));
	return (link_sysctl_write(L, name, path));
}

static int
link_sock_gc(lua_State *L)
{
	struct link_sock	*ls = luaL_checkudata(L, 1, "luaha.link_sock");

	if (ls->sk != NULL)
		nl_socket_free(ls->sk);
	ls->sk = NULL;
	return (0);
}

static const luaL_Reg link_funcs[] = {
	{ "links", link_links },
	{ "set_up", link_set_up },
	{ "addrs", link_addrs },
	{ "addr_add", link_addr_add },
	{ "addr_del", link_addr_del },
	{ "route_add", link_route_add },
	{ "route_del", link_route_del },
	{ "routes", link_routes },
	{ "sysctl", link_sysctl },
	{ "watch", link_watch },
	{ NULL, NULL }
};

int
luaopen_luaha_core_link(lua_State *L)
{
	struct link_sock	*ls;

	linkwatch_open(L);
	luaL_newlibtable(L, link_funcs);
	ls = lua_newuserdatauv(L, sizeof(*ls), 0);
	memset(ls, 0, sizeof(*ls));
	luaL_newmetatable(L, "luaha.link_sock");
	lua_pushcfunction(L, link_sock_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	luaL_setfuncs(L, link_funcs, 1);	/* every function shares the socket */
	return (1);
}
