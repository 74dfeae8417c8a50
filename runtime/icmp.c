/* icmp.c: luaha.net.ping, an ICMP or ICMPv6 echo from a task, on a ping socket or a raw one. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <linux/icmp.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

#define PING_TIMEOUT	1.0		/* seconds, when the caller gives none */
#define PING_BATCH	32		/* datagrams read per wakeup: no socket hogs the loop */

/* What we send after the 8-byte echo header; the reply must carry it back unchanged. */
struct ping_payload {
	uint32_t	 pid;
	uint32_t	 n;		/* this process's ping count */
	uint64_t	 sent_ns;	/* monotonic, only to make the cookie unique */
};

struct ping {
	int			 fd;	/* -1 once closed */
	int			 raw;	/* a raw socket sees every echo reply to this host */
	uint16_t		 id;	/* a ping socket puts its own in its place */
	uint16_t		 seq;
	struct sockaddr_storage	 to;
	struct ping_payload	 cookie;
	double			 sent;	/* monotonic seconds at sendto */
	struct waiter		 w;
};

static const char *const ping_options[] = { "timeout", "dev", "source", NULL };

static uint32_t	ping_count;	/* makes each call's sequence number and cookie its own */

static void
ping_shut(struct ping *p)
{
	if (p->fd != -1 && close(p->fd) == -1)
		log_warn("ping close");
	p->fd = -1;
}

/* The task was cancelled while it waited: the socket goes now, the memory with the userdata. */
static void
ping_cancel(struct waiter *w)
{
	ping_shut(w->arg);
}

static int
ping_gc(lua_State *L)
{
	struct ping	*p = luaL_checkudata(L, 1, "luaha.ping");

	waiter_close(&p->w);
	ping_shut(p);
	return (0);
}

/*
 * An unprivileged ping socket where net.ipv4.ping_group_range allows it
 * (the kernel then picks the identifier and delivers only our replies),
 * else a raw socket, which needs CAP_NET_RAW and sees all echo replies.
 */
static int
ping_socket(struct ping *p, int family)
{
	int	 proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int	 flags = SOCK_NONBLOCK | SOCK_CLOEXEC;

	if ((p->fd = socket(family, SOCK_DGRAM | flags, proto)) != -1)
		return (0);
	if (errno != EACCES && errno != EPERM && errno != EPROTONOSUPPORT)
		return (-1);
	if ((p->fd = socket(family, SOCK_RAW | flags, proto)) == -1)
		return (-1);
	p->raw = 1;
	return (0);
}

/* A raw socket lets only echo replies through, sparing the loop the host's other ICMP. */
static int
ping_filter(struct ping *p)
{
	struct icmp_filter	 f4;
	struct icmp6_filter	 f6;

	if (p->to.ss_family == AF_INET) {
		f4.data = ~(1U << ICMP_ECHOREPLY);
		return (setsockopt(p->fd, SOL_RAW, ICMP_FILTER, &f4, sizeof(f4)));
	}
	ICMP6_FILTER_SETBLOCKALL(&f6);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f6);
	return (setsockopt(p->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6)));
}

/* Sends one echo request carrying our identifier, sequence number and cookie. */
static int
ping_send(struct ping *p, socklen_t tolen)
{
	uint8_t			 pkt[8 + sizeof(struct ping_payload)];
	struct timespec		 ts;
	uint16_t		 sum;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->cookie.pid = (uint32_t)getpid();
	p->cookie.n = ping_count;
	p->cookie.sent_ns = (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	memset(pkt, 0, 8);
	pkt[0] = p->to.ss_family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	pkt[4] = p->id >> 8;
	pkt[5] = p->id & 0xff;
	pkt[6] = p->seq >> 8;
	pkt[7] = p->seq & 0xff;
	memcpy(pkt + 8, &p->cookie, sizeof(p->cookie));
	if (p->to.ss_family == AF_INET) {
		sum = net_cksum(pkt, sizeof(pkt), 0);	/* raw IPv4 only: the kernel fills the others' */
		memcpy(pkt + 2, &sum, sizeof(sum));
	}
	p->sent = loop_now();
	if (sendto(p->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&p->to,
	    tolen) == -1)
		return (-1);
	return (0);
}

/* Is the datagram in buf (n bytes, from from) the reply to our request? */
static int
ping_match(struct ping *p, const uint8_t *buf, size_t n,
    const struct sockaddr_storage *from)
{
	const struct sockaddr_in	*a4 = (const struct sockaddr_in *)&p->to;
	const struct sockaddr_in	*f4 = (const struct sockaddr_in *)from;
	const struct sockaddr_in6	*a6 = (const struct sockaddr_in6 *)&p->to;
	const struct sockaddr_in6	*f6 = (const struct sockaddr_in6 *)from;
	size_t				 hl = 0;

	if (from->ss_family != p->to.ss_family)
		return (0);
	if (p->to.ss_family == AF_INET) {
		if (f4->sin_addr.s_addr != a4->sin_addr.s_addr)
			return (0);
		if (p->raw && n > 0)	/* raw IPv4 sockets deliver the IP header too */
			hl = (size_t)(buf[0] & 0x0f) * 4;
	} else if (memcmp(&f6->sin6_addr, &a6->sin6_addr,
	    sizeof(f6->sin6_addr)) != 0)
		return (0);
	if (n < hl + 8 + sizeof(p->cookie))
		return (0);
	buf += hl;
	if (buf[0] != (p->to.ss_family == AF_INET ? ICMP_ECHOREPLY :
	    ICMP6_ECHO_REPLY) || buf[1] != 0)
		return (0);
	if (p->raw && (buf[4] << 8 | buf[5]) != p->id)
		return (0);
	if ((buf[6] << 8 | buf[7]) != p->seq)
		return (0);
	return (memcmp(buf + 8, &p->cookie, sizeof(p->cookie)) == 0);
}

/*
 * Reads what is waiting: pushes the round trip on our reply, an error on a
 * failed read, or returns -1 to keep waiting (only others' replies came).
 */
static int
ping_done(lua_State *co, struct waiter *w, short what)
{
	struct ping		*p = w->arg;
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	uint8_t			 buf[1500];
	ssize_t			 n;
	int			 i;

	if (what & EV_TIMEOUT) {
		ping_shut(p);
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	for (i = 0; i < PING_BATCH; i++) {
		fromlen = sizeof(from);
		n = recvfrom(p->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fromlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return (-1);
		if (n == -1) {
			luaha_fail_errno(co, "recvfrom");
			ping_shut(p);
			return (2);
		}
		if (ping_match(p, buf, n, &from)) {
			lua_pushnumber(co, loop_now() - p->sent);
			ping_shut(p);
			return (1);
		}
	}
	return (-1);
}

/*
 * ping(address [, {timeout=, dev=, source=}]): one echo request; the round
 * trip in seconds, or nil and "timeout" or "<what>: <reason>". Yields.
 */
static int
icmp_ping(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1), *dev, *source;
	struct sockaddr_storage	 to, src;
	socklen_t		 tolen, srclen = 0;
	struct ping		*p;
	double			 timeout;

	lua_settop(L, 2);
	if (net_addr(addr, 0, &to, &tolen) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address"));
	luaha_check_options(L, 2, ping_options);
	timeout = luaha_opt_seconds(L, 2, "timeout", PING_TIMEOUT);
	dev = luaha_opt_string(L, 2, "dev");
	source = luaha_opt_string(L, 2, "source");
	if (source != NULL && (net_addr(source, 0, &src, &srclen) == -1 ||
	    src.ss_family != to.ss_family))
		return (luaL_error(L, "option 'source' is not an address of "
		    "the same family"));
	if (task_current(L) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));

	p = lua_newuserdatauv(L, sizeof(*p), 0);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->w.cancel = ping_cancel;
	luaL_setmetatable(L, "luaha.ping");
	p->to = to;
	ping_count++;
	p->id = (uint16_t)getpid();
	p->seq = (uint16_t)ping_count;

	if (ping_socket(p, p->to.ss_family) == -1)
		return (luaha_fail_errno(L, "socket"));
	if (p->raw && ping_filter(p) == -1) {
		luaha_fail_errno(L, "setsockopt ICMP_FILTER");
		ping_shut(p);
		return (2);
	}
	if (dev != NULL && setsockopt(p->fd, SOL_SOCKET, SO_BINDTODEVICE, dev,
	    strlen(dev)) == -1) {
		luaha_fail(L, "bind_device %s: %s", dev, strerror(errno));
		ping_shut(p);
		return (2);
	}
	if (source != NULL && bind(p->fd, (struct sockaddr *)&src, srclen) == -1) {
		luaha_fail(L, "bind %s: %s", source, strerror(errno));
		ping_shut(p);
		return (2);
	}
	if (ping_send(p, tolen) == -1) {
		luaha_fail_errno(L, "sendto");
		ping_shut(p);
		return (2);
	}
	return (task_wait(L, &p->w, p->fd, EV_READ, timeout, ping_done, p,
	    lua_gettop(L)));
}

static const luaL_Reg icmp_funcs[] = {
	{ "ping", icmp_ping },
	{ NULL, NULL }
};

static const luaL_Reg ping_meta[] = {
	{ "__gc", ping_gc },
	{ NULL, NULL }
};

int
luaopen_luaha_core_icmp(lua_State *L)
{
	luaL_newmetatable(L, "luaha.ping");
	luaL_setfuncs(L, ping_meta, 0);
	lua_pop(L, 1);
	luaL_newlib(L, icmp_funcs);
	return (1);
}
