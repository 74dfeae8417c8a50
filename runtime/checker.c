/* checker.c: luaha.core.checker, connect and half-open health checks of many servers run in C, their results taken by Lua in batches. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"
#include "halfopen.h"

/*
 * A probe in lua/luaha/probes.lua checking with a task costs, per check, two
 * coroutine switches, a timer and an event added and deleted, and a clock
 * read or two: in UML, where every system call is dear, more than the check's
 * own connect. The simple checks (a TCP connect closed at once, a half-open
 * SYN) need none of it. Here a target is a record in a flat array; a binary
 * heap orders them by the time of their next step (the next check, the
 * connect's deadline, a SYN's retransmission); one timer waits for the
 * heap's top; the connects' sockets sit in one epoll set of our own, read
 * in batches, and a socket leaves it by being closed. The half-open SYNs go
 * out on a raw socket of prober.c, whose answers call us back.
 *
 * A result waits in its target until Lua takes it: one task (probes.lua's
 * collector) takes every result of a turn of the loop in one call and runs
 * the monitors' rise and fall on them. The target's next check is scheduled
 * then (see checker_collect), so a target has at most one result waiting and
 * a starved Lua slows the checks rather than pile results up.
 *
 * Loop holding, per turn, at 10 000 targets checked every second: the timer
 * starts what is due (about 100 checks a turn of 10 ms; a socket and a connect
 * each, some 10 to 25 us on a host), and when it has fallen behind (a starved
 * process) for at most CHECKER_HOLD (4 ms), the epoll callback reads at most
 * CHECKER_EVENTS x CHECKER_READS sockets (a close each), and Lua's
 * collect() copies what is waiting (about 100 results in a turn of 10 ms).
 */

#define CHECKER_STARTS	4096		/* steps (starts) in one timer callback, at most */
#define CHECKER_HOLD	0.004		/* seconds one timer callback may run, checked every 64 steps */
#define CHECKER_EVENTS	256		/* epoll events read in one call */
#define CHECKER_READS	4		/* epoll_wait calls in one callback */
#define CHECKER_TICK	0.01		/* checks due within this start together */
#define CHECKER_STALL	0.25		/* a failure later than timeout + this: we were stalled */
#define CHECKER_MAX	(1 << 22)	/* targets in one checker */
#define NO_HEAP		UINT32_MAX

enum target_kind { KIND_CONNECT, KIND_HALFOPEN };
enum target_state { T_FREE, T_IDLE, T_FLIGHT, T_DONE };
enum target_result { RES_OK, RES_FAILED, RES_STALLED };

struct target {
	union inet_addr	 to;		/* the address and port checked */
	socklen_t	 tolen;
	double		 interval;	/* seconds from a check's end to the next */
	double		 timeout;	/* seconds a check may take */
	double		 tick;		/* a check due within this starts now */
	double		 at;		/* its heap key: when its next step is due */
	double		 due;		/* when the check in flight was due */
	double		 started;	/* when the check in flight began */
	double		 deadline;	/* started + timeout */
	double		 rto;		/* half-open: seconds to the next SYN */
	double		 took;		/* the result's: seconds the check took */
	struct probe	*probe;		/* half-open: the SYN in flight */
	int		 fd;		/* connect: the socket in flight, or -1 */
	int		 err;		/* the result's errno, 0 for a timeout */
	const char	*what;		/* the result's failing step: "connect", "socket" ... */
	uint32_t	 gen;		/* changes when the slot is reused */
	uint32_t	 heap;		/* index in the heap, NO_HEAP when not in it */
	uint8_t		 kind;
	uint8_t		 state;
	uint8_t		 result;	/* enum target_result, while T_DONE */
	uint32_t	 next_free;	/* free list, while T_FREE */
};

/* All loop state of one checker: made by checker_new, freed by its __gc. */
struct checker {
	struct target	*t;		/* targets, by slot; ntargets in use of size */
	uint32_t	 size, ntargets, free;	/* free: the first free slot, or size */
	uint32_t	*heap;		/* slots, ordered by t[].at */
	uint32_t	 nheap;
	uint32_t	*done;		/* slots with a result waiting, in order */
	uint32_t	 ndone;
	int		 epfd;		/* the connects in flight */
	struct event	*epev;		/* epfd is readable */
	struct event	*timer;		/* the heap's top is due */
	double		 armed;		/* when timer fires, 0 if not armed */
	struct waiter	*w;		/* the collector's, while it waits */
	struct prober	 pr4, pr6;	/* half-open SYNs and their answers */
	uint64_t	 started, late;	/* checks started; those started over a tick late */
	int		 closed;
};

static const char *const checker_kinds[] = { "connect", "halfopen", NULL };

static void	checker_arm(struct checker *, double);

/* The heap: slots ordered by their target's at, smallest at 0. */
static void
heap_set(struct checker *c, uint32_t i, uint32_t slot)
{
	c->heap[i] = slot;
	c->t[slot].heap = i;
}

static void
heap_up(struct checker *c, uint32_t i)
{
	uint32_t	 slot = c->heap[i], parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (c->t[c->heap[parent]].at <= c->t[slot].at)
			break;
		heap_set(c, i, c->heap[parent]);
		i = parent;
	}
	heap_set(c, i, slot);
}

static void
heap_down(struct checker *c, uint32_t i)
{
	uint32_t	 slot = c->heap[i], child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= c->nheap)
			break;
		if (child + 1 < c->nheap && c->t[c->heap[child + 1]].at < c->t[c->heap[child]].at)
			child++;
		if (c->t[slot].at <= c->t[c->heap[child]].at)
			break;
		heap_set(c, i, c->heap[child]);
		i = child;
	}
	heap_set(c, i, slot);
}

/* Puts slot in the heap at time at, or moves it there. */
static void
heap_put(struct checker *c, uint32_t slot, double at)
{
	struct target	*t = &c->t[slot];
	double		 old = t->at;

	t->at = at;
	if (t->heap == NO_HEAP) {
		c->heap[c->nheap] = slot;
		t->heap = c->nheap++;
		heap_up(c, t->heap);
	} else if (at < old)
		heap_up(c, t->heap);
	else
		heap_down(c, t->heap);
}

static void
heap_remove(struct checker *c, uint32_t slot)
{
	struct target	*t = &c->t[slot];
	uint32_t	 i = t->heap, last;

	if (i == NO_HEAP)
		return;
	t->heap = NO_HEAP;
	last = c->heap[--c->nheap];
	if (i == c->nheap)
		return;
	heap_set(c, i, last);
	heap_up(c, i);
	heap_down(c, c->t[last].heap);
}

/* The check of slot is over: its result waits for Lua, and the collector wakes. */
static void
target_done(struct checker *c, uint32_t slot, int result, int err, const char *what, double now)
{
	struct target	*t = &c->t[slot];

	heap_remove(c, slot);
	t->took = now - t->started;
	if (result != RES_OK && t->took > t->timeout + CHECKER_STALL)
		result = RES_STALLED;	/* not the server's fault: the loop was not turning */
	t->result = result;
	t->err = err;
	t->what = what;
	t->state = T_DONE;
	c->done[c->ndone++] = slot;
	if (c->w != NULL)
		task_wake(c->w);
}

/* Stops what slot has in flight (its socket, its SYN), without a result. */
static void
target_abort(struct target *t)
{
	if (t->fd != -1 && close(t->fd) == -1)
		log_warn("checker: close");
	t->fd = -1;
	if (t->probe != NULL)
		halfopen_release(t->probe);
	t->probe = NULL;
}

/* A half-open check's answer came (prober.c read it): a SYN-ACK passes, a RST fails. */
static void
checker_answer(struct probe *p)
{
	struct checker	*c = p->arg;
	uint32_t	 slot = p->slot;
	struct target	*t = &c->t[slot];
	int		 ok = p->answer == TH_SYN;
	double		 answered = p->answered;

	t->probe = NULL;
	halfopen_release(p);
	target_done(c, slot, ok ? RES_OK : RES_FAILED, ok ? 0 : ECONNREFUSED, "connect", answered);
}

static struct prober *
checker_prober(struct checker *c, int family, const char **what)
{
	struct prober	*pr = family == AF_INET ? &c->pr4 : &c->pr6;

	if (pr->fd == -1 && prober_open(pr, what) == -1)
		return (NULL);
	return (pr);
}

/* Starts the check of slot: a connect, or a SYN. A failure to start is its result. */
static void
target_start(struct checker *c, uint32_t slot, double now)
{
	struct target	*t = &c->t[slot];
	struct prober	*pr;
	struct probe	*p;
	struct epoll_event ev;
	const char	*what;
	int		 fd;

	if (now - t->at > t->tick)
		c->late++;
	c->started++;
	t->due = t->at;
	t->started = now;
	t->deadline = now + t->timeout;
	t->state = T_FLIGHT;
	if (t->kind == KIND_HALFOPEN) {
		if ((pr = checker_prober(c, t->to.sa.sa_family, &what)) == NULL) {
			target_done(c, slot, RES_FAILED, errno, what, now);
			return;
		}
		if ((p = halfopen_get(pr)) == NULL) {
			target_done(c, slot, RES_FAILED, ENOMEM, "tcp_halfopen", now);
			return;
		}
		memcpy(&p->to, &t->to, t->tolen);
		p->tolen = t->tolen;
		p->seq = pr->next_seq;
		pr->next_seq += 2654435761U;	/* as halfopen.c: 2^32 probes before a number comes back */
		p->done = checker_answer;
		p->arg = c;
		p->slot = slot;
		p->sent = now;
		p->deadline = t->deadline;
		if (prober_syn(p, now) == -1) {
			halfopen_release(p);
			target_done(c, slot, RES_FAILED, errno, "sendto", now);
			return;
		}
		halfopen_link(p);
		t->probe = p;
		t->rto = HALFOPEN_RTO;
		heap_put(c, slot, now + (t->rto < t->timeout ? t->rto : t->timeout));
		return;
	}
	if ((fd = socket(t->to.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		target_done(c, slot, RES_FAILED, errno, "socket", now);
		return;
	}
	if (connect(fd, &t->to.sa, t->tolen) == -1 && errno != EINPROGRESS) {
		target_done(c, slot, RES_FAILED, errno, "connect", now);
		if (close(fd) == -1)
			log_warn("checker: close");
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.u64 = (uint64_t)t->gen << 32 | slot;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		target_done(c, slot, RES_FAILED, errno, "epoll_ctl", now);
		if (close(fd) == -1)
			log_warn("checker: close");
		return;
	}
	t->fd = fd;
	heap_put(c, slot, t->deadline);
}

/* A target's step is due: its check starts, or the check in flight retransmits or times out. */
static void
target_step(struct checker *c, uint32_t slot, double now)
{
	struct target	*t = &c->t[slot];

	if (t->state == T_IDLE) {
		target_start(c, slot, now);
		return;
	}
	if (t->probe != NULL && now < t->deadline) {
		if (prober_syn(t->probe, now) == -1) {
			target_abort(t);
			target_done(c, slot, RES_FAILED, errno, "sendto", now);
			return;
		}
		t->rto *= 2;
		heap_put(c, slot, now + t->rto < t->deadline ? now + t->rto : t->deadline);
		return;
	}
	target_abort(t);
	target_done(c, slot, RES_FAILED, 0, "timeout", now);
}

/*
 * The heap's top is due: CHECKER_STARTS steps at most. A check due within a
 * tick starts now, with those due before it; a check in flight retransmits or
 * times out only when its time has come.
 */
static void
checker_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct checker	*c = arg;
	struct target	*t;
	double		 now = loop_now(), began = now;
	int		 n, more;

	(void)fd;
	(void)what;
	c->armed = 0;
	for (n = 0, more = 0; c->nheap > 0; n++) {
		if (n == CHECKER_STARTS || (n % 64 == 63 && loop_now() - began > CHECKER_HOLD)) {
			more = 1;	/* the rest in the next turn */
			break;
		}
		t = &c->t[c->heap[0]];
		if (t->at - now > (t->state == T_IDLE ? t->tick : 0))
			break;
		target_step(c, c->heap[0], now);
	}
	if (c->nheap > 0)
		checker_arm(c, more ? now : c->t[c->heap[0]].at);
}

/* The timer fires at the heap's top, or sooner (at) when work is left. */
static void
checker_arm(struct checker *c, double at)
{
	struct timeval	 tv;
	double		 now;

	if (c->armed != 0 && c->armed <= at)
		return;
	now = loop_now();
	if (event_add(c->timer, loop_tv(loop_timeout(now, at > now ? at - now : 0), &tv)) == -1) {
		log_warnx("checker: cannot add the timer");
		return;
	}
	c->armed = at;
}

/* Sockets of connects in flight are ready: each connect ended, passing or failing; its socket closes. */
static void
checker_epoll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct checker		*c = arg;
	struct epoll_event	 evs[CHECKER_EVENTS];
	struct target		*t;
	socklen_t		 len;
	uint32_t		 slot;
	double			 now;
	int			 i, n, reads, err;

	(void)fd;
	(void)what;
	for (reads = 0; reads < CHECKER_READS; reads++) {
		if ((n = epoll_wait(c->epfd, evs, CHECKER_EVENTS, 0)) == -1) {
			if (errno != EINTR)
				log_warn("checker: epoll_wait");
			return;
		}
		now = loop_now();	/* once a batch: the times are as exact as the loop */
		for (i = 0; i < n; i++) {
			slot = (uint32_t)evs[i].data.u64;
			if (slot >= c->size)
				continue;
			t = &c->t[slot];
			if (t->gen != (uint32_t)(evs[i].data.u64 >> 32) || t->state != T_FLIGHT || t->fd == -1)
				continue;
			err = 0;
			if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
				len = sizeof(err);
				if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
					err = errno;
				if (err == 0)
					err = ECONNRESET;
			}
			if (close(t->fd) == -1)
				log_warn("checker: close");
			t->fd = -1;
			target_done(c, slot, err == 0 ? RES_OK : RES_FAILED, err, "connect", now);
		}
		if (n < CHECKER_EVENTS)
			return;
	}
}

static struct checker *
checker_check(lua_State *L)
{
	struct checker	*c = luaL_checkudata(L, 1, "luaha.checker");

	if (c->closed)
		luaL_error(L, "attempt to use a closed checker");
	return (c);
}

/* Room for one more target: the arrays double. */
static int
checker_grow(struct checker *c)
{
	uint32_t	 size = c->size ? c->size * 2 : 64, i;
	struct target	*t;
	uint32_t	*heap, *done;

	if (size > CHECKER_MAX)
		return (-1);
	if ((t = reallocarray(c->t, size, sizeof(*t))) == NULL)
		return (-1);
	c->t = t;
	if ((heap = reallocarray(c->heap, size, sizeof(*heap))) == NULL)
		return (-1);
	c->heap = heap;
	if ((done = reallocarray(c->done, size, sizeof(*done))) == NULL)
		return (-1);
	c->done = done;
	for (i = c->size; i < size; i++) {
		memset(&c->t[i], 0, sizeof(c->t[i]));
		c->t[i].state = T_FREE;
		c->t[i].fd = -1;
		c->t[i].heap = NO_HEAP;
		c->t[i].next_free = i + 1;
	}
	c->t[size - 1].next_free = c->free == c->size ? size : c->free;
	c->free = c->size;
	c->size = size;
	return (0);
}

/*
 * checker:add(kind, address, port, interval, timeout, due): a target checked
 * every interval seconds (after the end of the previous check), each check
 * taking at most timeout, the first at due (monotonic seconds, luaha.now()).
 * kind is "connect" or "halfopen". Returns its id, a small integer.
 */
static int
checker_add(lua_State *L)
{
	struct checker		*c = checker_check(L);
	int			 kind = luaL_checkoption(L, 2, NULL, checker_kinds);
	const char		*addr = luaL_checkstring(L, 3);
	int			 port = (int)luaL_checkinteger(L, 4);
	double			 interval = luaL_checknumber(L, 5), timeout = luaL_checknumber(L, 6);
	double			 due = luaL_checknumber(L, 7);
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct target		*t;
	uint32_t		 slot;

	luaL_argcheck(L, port >= 1 && port <= 65535, 4, "port 1-65535 expected");
	luaL_argcheck(L, interval > 0, 5, "positive number expected");
	luaL_argcheck(L, timeout > 0, 6, "positive number expected");
	if (net_addr(addr, port, &ss, &len) == -1)
		return (luaL_argerror(L, 3, "not an IPv4 or IPv6 address"));
	if (c->free == c->size && checker_grow(c) == -1)
		return (luaL_error(L, "checker: out of memory"));
	slot = c->free;
	t = &c->t[slot];
	c->free = t->next_free;
	memcpy(&t->to, &ss, len);
	t->tolen = len;
	t->kind = kind;
	t->interval = interval;
	t->timeout = timeout;
	t->tick = interval / 100 < CHECKER_TICK ? interval / 100 : CHECKER_TICK;
	t->fd = -1;
	t->probe = NULL;
	t->state = T_IDLE;
	t->gen++;
	c->ntargets++;
	heap_put(c, slot, due);
	checker_arm(c, due);
	lua_pushinteger(L, slot + 1);
	return (1);
}

/* checker:remove(id): no more checks for it; a check in flight stops, its result (if any) is dropped. */
static int
checker_remove(lua_State *L)
{
	struct checker	*c = checker_check(L);
	lua_Integer	 id = luaL_checkinteger(L, 2);
	struct target	*t;
	uint32_t	 slot;

	luaL_argcheck(L, id >= 1 && id <= c->size && c->t[id - 1].state != T_FREE, 2, "not a target");
	slot = (uint32_t)(id - 1);
	t = &c->t[slot];
	target_abort(t);
	heap_remove(c, slot);
	t->state = T_FREE;
	t->gen++;
	t->next_free = c->free;
	c->free = slot;
	c->ntargets--;
	if (c->ntargets == 0) {
		event_del(c->timer);
		c->armed = 0;
		if (c->w != NULL)
			task_wake(c->w);	/* the collector ends */
	}
	return (0);
}

/*
 * checker:collect(ids, results, reasons, tooks): moves the results waiting
 * into the four arrays, from index 1, and returns how many: ids[i] the
 * target, results[i] true (passed), false (failed) or "stalled" (failed too
 * late to be the server's fault: not to be counted), reasons[i] nil's stand-in
 * false or "timeout", "connect: Connection refused" ..., tooks[i] the seconds
 * it took. Each target's next check is due an interval after this one was
 * due, after a failed one an interval after its end as nanny had it (a silent
 * server is checked every timeout + interval), and at once after a stalled
 * one or if that time is past. A check started late, or whose result was taken
 * late, does not make the next late too: the checks stay spread as they began
 * rather than gather, a turn of the loop at a time, into one burst, and the
 * schedule is kept.
 */
static int
checker_collect(lua_State *L)
{
	struct checker	*c = checker_check(L);
	struct target	*t;
	uint32_t	 i, slot;
	lua_Integer	 n = 0;
	double		 now, next;

	for (i = 2; i <= 5; i++)
		luaL_checktype(L, (int)i, LUA_TTABLE);
	if (c->ndone == 0) {
		lua_pushinteger(L, 0);
		return (1);
	}
	now = loop_now();
	for (i = 0; i < c->ndone; i++) {
		slot = c->done[i];
		t = &c->t[slot];
		if (t->state != T_DONE)
			continue;
		n++;
		lua_pushinteger(L, slot + 1);
		lua_rawseti(L, 2, n);
		if (t->result == RES_STALLED)
			lua_pushliteral(L, "stalled");
		else
			lua_pushboolean(L, t->result == RES_OK);
		lua_rawseti(L, 3, n);
		if (t->result == RES_OK)
			lua_pushboolean(L, 0);
		else if (t->err == 0)
			lua_pushstring(L, t->what);
		else
			lua_pushfstring(L, "%s: %s", t->what, strerror(t->err));
		lua_rawseti(L, 4, n);
		lua_pushnumber(L, t->took);
		lua_rawseti(L, 5, n);
		t->state = T_IDLE;
		next = t->due + t->interval + (t->result == RES_OK ? 0 : t->took);
		heap_put(c, slot, t->result == RES_STALLED || next < now ? now : next);
	}
	c->ndone = 0;
	if (c->nheap > 0)
		checker_arm(c, c->t[c->heap[0]].at);
	lua_pushinteger(L, n);
	return (1);
}

static void
checker_wait_cancel(struct waiter *w)
{
	struct checker	*c = w->arg;

	c->w = NULL;
}

static int
checker_wait_done(lua_State *co, struct waiter *w, short what)
{
	struct checker	*c = w->arg;

	(void)what;
	c->w = NULL;
	lua_pushboolean(co, c->ntargets > 0);
	return (1);
}

/*
 * checker:wait(): waits until a result is waiting; true then, false when the
 * checker has no target left (at once if it has none). One task waits at a time.
 */
static int
checker_wait(lua_State *L)
{
	struct checker	*c = checker_check(L);
	struct waiter	*w;

	if (c->ndone > 0 || c->ntargets == 0) {
		lua_pushboolean(L, c->ntargets > 0);
		return (1);
	}
	if (c->w != NULL)
		return (luaL_error(L, "another task is already waiting on the checker"));
	if ((w = task_self_waiter(L)) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	w->cancel = checker_wait_cancel;
	c->w = w;
	return (task_wait(L, w, -1, 0, -1, checker_wait_done, c, 1));
}

/* checker:stats(): targets, checks started, and those started more than a tick after they were due. */
static int
checker_stats(lua_State *L)
{
	struct checker	*c = checker_check(L);

	lua_pushinteger(L, c->ntargets);
	lua_pushinteger(L, (lua_Integer)c->started);
	lua_pushinteger(L, (lua_Integer)c->late);
	return (3);
}

/* Closes every socket and frees the arrays; idempotent (close and __gc). */
static int
checker_gc(lua_State *L)
{
	struct checker	*c = luaL_checkudata(L, 1, "luaha.checker");
	uint32_t	 i;

	if (c->closed)
		return (0);
	c->closed = 1;
	for (i = 0; i < c->size; i++)
		if (c->t[i].state != T_FREE)
			target_abort(&c->t[i]);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->epev != NULL)
		event_free(c->epev);
	if (c->epfd != -1 && close(c->epfd) == -1)
		log_warn("checker: close");
	halfopen_prober_free(&c->pr4);
	halfopen_prober_free(&c->pr6);
	free(c->t);
	free(c->heap);
	free(c->done);
	c->t = NULL;
	c->heap = c->done = NULL;
	if (c->w != NULL)
		waiter_close(c->w);
	c->w = NULL;
	return (0);
}

static int
checker_tostring(lua_State *L)
{
	struct checker	*c = luaL_checkudata(L, 1, "luaha.checker");

	if (c->closed)
		lua_pushliteral(L, "checker (closed)");
	else
		lua_pushfstring(L, "checker (%d targets)", (int)c->ntargets);
	return (1);
}

/* checker.new(): an empty checker. */
static int
checker_new(lua_State *L)
{
	struct checker	*c = lua_newuserdatauv(L, sizeof(*c), 0);

	memset(c, 0, sizeof(*c));
	c->epfd = c->pr4.fd = c->pr4.port_fd = c->pr4.route_fd = -1;
	c->pr6.fd = c->pr6.port_fd = c->pr6.route_fd = -1;
	c->pr4.family = AF_INET;
	c->pr6.family = AF_INET6;
	c->closed = 1;		/* until everything is acquired: __gc finds it consistent */
	luaL_setmetatable(L, "luaha.checker");
	if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return (luaha_fail_errno(L, "epoll_create1"));
	if ((c->epev = event_new(loop_base(), c->epfd, EV_READ | EV_PERSIST, checker_epoll_cb, c)) == NULL ||
	    (c->timer = evtimer_new(loop_base(), checker_timer_cb, c)) == NULL ||
	    event_add(c->epev, NULL) == -1) {
		c->closed = 0;
		lua_pushcfunction(L, checker_gc);
		lua_pushvalue(L, -2);
		lua_call(L, 1, 0);
		return (luaL_error(L, "checker: cannot create an event"));
	}
	c->closed = 0;
	return (1);
}

static const luaL_Reg checker_funcs[] = {
	{ "new", checker_new },
	{ NULL, NULL }
};

static const luaL_Reg checker_methods[] = {
	{ "add", checker_add },
	{ "remove", checker_remove },
	{ "collect", checker_collect },
	{ "wait", checker_wait },
	{ "stats", checker_stats },
	{ "close", checker_gc },
	{ NULL, NULL }
};

static const luaL_Reg checker_meta[] = {
	{ "__gc", checker_gc },
	{ "__close", checker_gc },
	{ "__tostring", checker_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_checker(lua_State *L)
{
	luaL_newmetatable(L, "luaha.checker");
	luaL_setfuncs(L, checker_meta, 0);
	luaL_newlib(L, checker_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, checker_funcs);
	return (1);
}
