/* halfopen.c: luaha.net.tcp_halfopen, a TCP check that sends a SYN and waits for the SYN-ACK or RST, making no connection; its raw sockets are in prober.c. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "luaha.h"
#include "halfopen.h"

/*
 * A connect check costs a socket, a connection and its teardown in the
 * checker's own system calls. A half-open check, as load balancers' "TCP
 * half open" monitors do, sends one SYN on a raw socket shared by every check
 * and reads the answers in batches: a SYN-ACK means a listener took it, a RST
 * that nothing listens. Each SYN-ACK is answered with a RST, by luaha (in
 * batches) and by the kernel (no socket of ours is connected), so the server
 * keeps nothing half open. The SYNs leave from one port that a bound TCP
 * socket keeps from anyone else; a filter on the raw socket lets only
 * segments to that port through.
 */

static const char *const halfopen_options[] = { "timeout", "source", NULL };

static struct probe **
probe_bucket(struct prober *pr, uint32_t seq)
{
	return (&pr->buckets[seq % HALFOPEN_BUCKETS]);
}

void
halfopen_link(struct probe *p)
{
	struct probe	**b = probe_bucket(p->pr, p->seq);

	p->next = *b;
	*b = p;
	p->linked = 1;
}

static void
probe_unlink(struct probe *p)
{
	struct probe	**pp;

	if (!p->linked)
		return;
	for (pp = probe_bucket(p->pr, p->seq); *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->linked = 0;
}

/* Are a and the sender of a datagram, from, the same host? */
static int
addr_same_host(const union inet_addr *a, const struct sockaddr_storage *from)
{
	if (a->sa.sa_family != from->ss_family)
		return (0);
	if (a->sa.sa_family == AF_INET)
		return (a->sin.sin_addr.s_addr == ((const struct sockaddr_in *)from)->sin_addr.s_addr);
	return (memcmp(&a->sin6.sin6_addr, &((const struct sockaddr_in6 *)from)->sin6_addr,
	    sizeof(struct in6_addr)) == 0);
}

/*
 * A segment came to our port from `from`: the probe whose SYN it acknowledges
 * (ack = seq + 1, from the probed address and port) takes its answer and wakes.
 * Returns 1 for a SYN-ACK, which the caller answers with a RST.
 */
int
halfopen_answer(struct prober *pr, const uint8_t *th, size_t n,
    const struct sockaddr_storage *from, double now)
{
	struct probe	*p;
	uint32_t	 ack, seq;
	int		 flags;

	if (n < 20 || (th[2] << 8 | th[3]) != pr->port)
		return (0);
	flags = th[13];
	if (!(flags & TH_ACK) || !(flags & (TH_SYN | TH_RST)))
		return (0);
	ack = (uint32_t)th[8] << 24 | (uint32_t)th[9] << 16 | (uint32_t)th[10] << 8 | th[11];
	seq = ack - 1;
	for (p = *probe_bucket(pr, seq); p != NULL; p = p->next) {
		if (p->seq != seq || p->answer != 0 ||
		    (th[0] << 8 | th[1]) != addr_port(&p->to) ||
		    !addr_same_host(&p->to, from))
			continue;
		p->answer = (flags & TH_RST) ? TH_RST : TH_SYN;
		p->answered = now;
		probe_unlink(p);
		if (p->done != NULL)
			p->done(p);
		else
			task_wake(p->w);
		break;
	}
	return (!(flags & TH_RST) && (flags & TH_SYN));
}

/* A probe from the free list, or a new one; NULL when out of memory. */
struct probe *
halfopen_get(struct prober *pr)
{
	struct probe	*p;

	if ((p = pr->free) != NULL) {
		pr->free = p->next;
		memset(p, 0, sizeof(*p));
	} else if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->pr = pr;
	return (p);
}


/*
 * The probe's wait is over: it goes on the free list, where nothing uses it
 * before the next call from Lua (its task's waiter is still being detached).
 */
void
halfopen_release(struct probe *p)
{
	probe_unlink(p);
	if (p->pr->closed) {
		free(p);
		return;
	}
	p->next = p->pr->free;
	p->pr->free = p;
}

/* The task was cancelled while it waited: the probe stops listening for its answer. */
static void
probe_cancel(struct waiter *w)
{
	halfopen_release(w->arg);
}

/*
 * The wait ended: an answer pushes the round trip or "connection refused";
 * a timeout before the deadline retransmits the SYN (after 1, 2, 4 ... s, as
 * TCP does) and waits on; at the deadline, "timeout".
 */
static int
probe_done(lua_State *co, struct waiter *w, short what)
{
	struct probe	*p = w->arg;
	double		 now;

	if (p->answer == TH_SYN) {
		lua_pushnumber(co, p->answered - p->sent);
		halfopen_release(p);
		return (1);
	}
	if (p->answer == TH_RST) {
		lua_pushnil(co);
		lua_pushliteral(co, "connection refused");
		halfopen_release(p);
		return (2);
	}
	if (!(what & EV_TIMEOUT))
		return (-1);
	now = loop_now();
	if (now < p->deadline) {
		if (prober_syn(p, now) == -1) {
			luaha_fail_errno(co, "sendto");
			halfopen_release(p);
			return (2);
		}
		p->rto *= 2;
		w->deadline = now + p->rto < p->deadline ? now + p->rto : p->deadline;
		return (-1);
	}
	halfopen_release(p);
	lua_pushnil(co);
	lua_pushliteral(co, "timeout");
	return (2);
}

/*
 * The state is closing: the probes on the free list go now, those still
 * waiting when their tasks let them go (the prober's memory lasts until
 * every finalizer has run).
 */
void
halfopen_prober_free(struct prober *pr)
{
	struct probe	*p;

	while ((p = pr->free) != NULL) {
		pr->free = p->next;
		free(p);
	}
	pr->closed = 1;
	prober_close(pr);
	free(pr->routes);
	pr->routes = NULL;
}

static int
prober_gc(lua_State *L)
{
	halfopen_prober_free(lua_touserdata(L, 1));
	return (0);
}

/* The prober of the family (upvalue 1 for IPv4, 2 for IPv6), its sockets opened. */
static struct prober *
prober_get(lua_State *L, int family, const char **what)
{
	struct prober	*pr;

	pr = lua_touserdata(L, lua_upvalueindex(family == AF_INET ? 1 : 2));
	if (pr->fd == -1 && prober_open(pr, what) == -1)
		return (NULL);
	return (pr);
}

/*
 * tcp_halfopen(address, port [, {timeout=, source=}]): sends a SYN; the round
 * trip in seconds when a SYN-ACK comes back, or nil and "connection refused"
 * (a RST), "timeout" or "<what>: <reason>". Needs CAP_NET_RAW. Yields.
 */
static int
halfopen_probe(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1), *source, *what;
	int			 port = (int)luaL_checkinteger(L, 2);
	struct sockaddr_storage	 to, src;
	socklen_t		 tolen, srclen;
	struct prober		*pr;
	struct probe		*p;
	double			 timeout, now;

	lua_settop(L, 3);
	luaL_argcheck(L, port >= 1 && port <= 65535, 2, "port 1-65535 expected");
	if (net_addr(addr, port, &to, &tolen) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address"));
	luaha_check_options(L, 3, halfopen_options);
	timeout = luaha_opt_seconds(L, 3, "timeout", HALFOPEN_TIMEOUT);
	memset(&src, 0, sizeof(src));
	source = luaha_opt_string(L, 3, "source");
	if (source != NULL && (net_addr(source, 0, &src, &srclen) == -1 ||
	    src.ss_family != to.ss_family))
		return (luaL_error(L, "option 'source' is not an address of the same family"));
	if (task_current(L) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	if ((pr = prober_get(L, to.ss_family, &what)) == NULL)
		return (luaha_fail_errno(L, what));

	if ((p = halfopen_get(pr)) == NULL)
		return (luaL_error(L, "tcp_halfopen: out of memory"));
	memcpy(&p->to, &to, tolen);
	p->tolen = tolen;
	if (source != NULL)
		memcpy(&p->src, &src, srclen);
	p->seq = pr->next_seq;
	pr->next_seq += 2654435761U;	/* odd: 2^32 probes before a number comes back */
	p->w = task_self_waiter(L);
	p->w->cancel = probe_cancel;
	now = loop_now();
	p->sent = now;
	p->deadline = now + timeout;
	p->rto = HALFOPEN_RTO;
	if (prober_syn(p, now) == -1) {
		luaha_fail_errno(L, "sendto");
		halfopen_release(p);
		return (2);
	}
	halfopen_link(p);
	return (task_wait_at(L, p->w, -1, 0, now, timeout < p->rto ? timeout : p->rto,
	    probe_done, p, 0));
}

/* A prober userdata for family, closed by its __gc when the state closes. */
static void
prober_push(lua_State *L, int family)
{
	struct prober	*pr = lua_newuserdatauv(L, sizeof(*pr), 0);

	memset(pr, 0, sizeof(*pr));
	pr->family = family;
	pr->fd = pr->port_fd = pr->route_fd = -1;
	luaL_setmetatable(L, "luaha.halfopen.prober");
}

int
luaopen_luaha_core_halfopen(lua_State *L)
{
	luaL_newmetatable(L, "luaha.halfopen.prober");
	lua_pushcfunction(L, prober_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	lua_newtable(L);
	prober_push(L, AF_INET);
	prober_push(L, AF_INET6);
	lua_pushcclosure(L, halfopen_probe, 2);
	lua_setfield(L, -2, "tcp_halfopen");
	return (1);
}

