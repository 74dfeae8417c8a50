/* udp.c: UDP sockets (luaha.net.udp), IPv4 and IPv6; recvfrom yields the task. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

struct udp {
	int		 fd;		/* -1 once closed */
	int		 family;
	struct waiter	 rw;		/* a task in recvfrom */
};

static struct udp *
udp_check(lua_State *L, int idx)
{
	struct udp	*u = luaL_checkudata(L, idx, "luaha.udp");

	if (u->fd == -1)
		luaL_error(L, "attempt to use a closed udp socket");
	return (u);
}

/* udp(["inet"|"inet6"]): an unbound UDP socket. */
static int
udp_new(lua_State *L)
{
	static const char *const families[] = { "inet", "inet6", NULL };
	struct udp	*u;
	int		 family;

	family = luaL_checkoption(L, 1, "inet", families) == 0 ? AF_INET : AF_INET6;
	u = lua_newuserdatauv(L, sizeof(*u), 0);
	memset(u, 0, sizeof(*u));
	u->fd = -1;
	luaL_setmetatable(L, "luaha.udp");
	u->family = family;
	if ((u->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail_errno(L, "socket"));
	return (1);
}

static int
udp_bind(lua_State *L)
{
	struct udp		*u = udp_check(L, 1);
	const char		*addr = luaL_checkstring(L, 2);
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 one = 1;

	if (net_addr(addr, (int)luaL_checkinteger(L, 3), &ss, &len) == -1)
		return (luaL_argerror(L, 2, "not an IPv4 or IPv6 address and port"));
	if (setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		return (luaha_fail_errno(L, "setsockopt SO_REUSEADDR"));
	if (bind(u->fd, (struct sockaddr *)&ss, len) == -1)
		return (luaha_fail(L, "bind %s: %s", addr, strerror(errno)));
	return (luaha_ok(L));
}

/* bind_device(ifname): send and receive only through that interface. */
static int
udp_bind_device(lua_State *L)
{
	struct udp	*u = udp_check(L, 1);
	size_t		 len;
	const char	*ifname = luaL_checklstring(L, 2, &len);

	if (setsockopt(u->fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, len) == -1)
		return (luaha_fail(L, "bind_device %s: %s", ifname, strerror(errno)));
	return (luaha_ok(L));
}

/*
 * connect(addr, port): the socket sends to and receives from that peer
 * only: the kernel drops datagrams from any other address or port before
 * they are queued, so a flood from elsewhere costs us nothing.
 */
static int
udp_connect(lua_State *L)
{
	struct udp		*u = udp_check(L, 1);
	const char		*addr = luaL_checkstring(L, 2);
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	if (net_addr(addr, (int)luaL_checkinteger(L, 3), &ss, &len) == -1)
		return (luaL_argerror(L, 2, "not an IPv4 or IPv6 address and port"));
	if (connect(u->fd, (struct sockaddr *)&ss, len) == -1)
		return (luaha_fail(L, "connect %s: %s", addr, strerror(errno)));
	return (luaha_ok(L));
}

/* send(data): one datagram to the connected peer. */
static int
udp_send(lua_State *L)
{
	struct udp	*u = udp_check(L, 1);
	size_t		 len;
	const char	*data = luaL_checklstring(L, 2, &len);

	if (send(u->fd, data, len, 0) == -1)
		return (luaha_fail_errno(L, "send"));
	return (luaha_ok(L));
}

static int
udp_sendto(lua_State *L)
{
	struct udp		*u = udp_check(L, 1);
	size_t			 len;
	const char		*data = luaL_checklstring(L, 2, &len);
	const char		*addr = luaL_checkstring(L, 3);
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;

	if (net_addr(addr, (int)luaL_checkinteger(L, 4), &ss, &sslen) == -1)
		return (luaL_argerror(L, 3, "not an IPv4 or IPv6 address and port"));
	if (sendto(u->fd, data, len, 0, (struct sockaddr *)&ss, sslen) == -1)
		return (luaha_fail(L, "sendto %s: %s", addr, strerror(errno)));
	return (luaha_ok(L));
}

/* Pushes data, address, port of one datagram, or returns -1 if none is waiting. */
static int
udp_try_recv(lua_State *L, struct udp *u)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 buf[65536];
	ssize_t			 n;

	n = recvfrom(u->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &len);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return (-1);
	if (n == -1)
		return (luaha_fail_errno(L, "recvfrom"));
	lua_pushlstring(L, buf, n);
	return (1 + net_pushaddr(L, (struct sockaddr *)&ss));
}

static int
udp_recv_done(lua_State *co, struct waiter *w, short what)
{
	if (what & EV_TIMEOUT) {
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	return (udp_try_recv(co, w->arg));
}

/* recvfrom([timeout]): data, address, port, or nil and "timeout", "closed" or the error. */
static int
udp_recvfrom(lua_State *L)
{
	struct udp	*u = udp_check(L, 1);
	double		 timeout = luaha_check_timeout(L, 2);
	int		 n;

	if ((n = udp_try_recv(L, u)) >= 0)
		return (n);
	return (task_wait(L, &u->rw, u->fd, EV_READ, timeout, udp_recv_done, u, 0));
}

/* getsockname(): the bound address and port. */
static int
udp_getsockname(lua_State *L)
{
	struct udp		*u = udp_check(L, 1);
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(u->fd, (struct sockaddr *)&ss, &len) == -1)
		return (luaha_fail_errno(L, "getsockname"));
	return (net_pushaddr(L, (struct sockaddr *)&ss));
}

/* setoption("broadcast"|"reuseport"|"ttl"|"rcvbuf"|"sndbuf", value) */
static int
udp_setoption(lua_State *L)
{
	static const char *const names[] = { "broadcast", "reuseport", "ttl", "rcvbuf", "sndbuf", NULL };
	struct udp	*u = udp_check(L, 1);
	int		 opt = luaL_checkoption(L, 2, NULL, names), v, r;

	v = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : (int)luaL_checkinteger(L, 3);
	switch (opt) {
	case 0:
		r = setsockopt(u->fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof(v));
		break;
	case 1:
		r = setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof(v));
		break;
	case 3:
		r = setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		break;
	case 4:
		r = setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		break;
	default:
		r = u->family == AF_INET ?
		    setsockopt(u->fd, IPPROTO_IP, IP_TTL, &v, sizeof(v)) :
		    setsockopt(u->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof(v));
		break;
	}
	if (r == -1)
		return (luaha_fail(L, "setoption %s: %s", names[opt], strerror(errno)));
	return (luaha_ok(L));
}

static int
udp_close(lua_State *L)
{
	struct udp	*u = luaL_checkudata(L, 1, "luaha.udp");

	waiter_close(&u->rw);
	if (u->fd != -1 && close(u->fd) == -1)
		log_warn("udp close");
	u->fd = -1;
	return (0);
}

static int
udp_tostring(lua_State *L)
{
	struct udp		*u = luaL_checkudata(L, 1, "luaha.udp");
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (u->fd == -1) {
		lua_pushliteral(L, "udp (closed)");
		return (1);
	}
	if (getsockname(u->fd, (struct sockaddr *)&ss, &len) == -1)
		return (luaL_error(L, "getsockname: %s", strerror(errno)));
	net_pushaddr(L, (struct sockaddr *)&ss);
	lua_pushfstring(L, "udp %s:%d", lua_tostring(L, -2), (int)lua_tointeger(L, -1));
	return (1);
}

static const luaL_Reg udp_funcs[] = {
	{ "udp", udp_new },
	{ NULL, NULL }
};

static const luaL_Reg udp_methods[] = {
	{ "bind", udp_bind },
	{ "bind_device", udp_bind_device },
	{ "connect", udp_connect },
	{ "send", udp_send },
	{ "sendto", udp_sendto },
	{ "recvfrom", udp_recvfrom },
	{ "getsockname", udp_getsockname },
	{ "setoption", udp_setoption },
	{ "close", udp_close },
	{ NULL, NULL }
};

static const luaL_Reg udp_meta[] = {
	{ "__gc", udp_close },
	{ "__close", udp_close },
	{ "__tostring", udp_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_udp(lua_State *L)
{
	luaL_newmetatable(L, "luaha.udp");
	luaL_setfuncs(L, udp_meta, 0);
	luaL_newlib(L, udp_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, udp_funcs);
	return (1);
}
