/* checkrun.c: the checks of luaha.core.checker: the heap of due times, connects in an epoll set, half-open SYNs, results kept for Lua. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"
#include "checker.h"

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
void
checkrun_put(struct checker *c, uint32_t slot, double at)
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

void
checkrun_remove(struct checker *c, uint32_t slot)
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

	checkrun_remove(c, slot);
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
void
checkrun_abort(struct target *t)
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
		checkrun_put(c, slot, now + (t->rto < t->timeout ? t->rto : t->timeout));
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
	checkrun_put(c, slot, t->deadline);
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
			checkrun_abort(t);
			target_done(c, slot, RES_FAILED, errno, "sendto", now);
			return;
		}
		t->rto *= 2;
		checkrun_put(c, slot, now + t->rto < t->deadline ? now + t->rto : t->deadline);
		return;
	}
	checkrun_abort(t);
	target_done(c, slot, RES_FAILED, 0, "timeout", now);
}

/*
 * The heap's top is due: CHECKER_STARTS steps at most. A check due within a
 * tick starts now, with those due before it; a check in flight retransmits or
 * times out only when its time has come.
 */
void
checkrun_timer_cb(evutil_socket_t fd, short what, void *arg)
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
		checkrun_arm(c, more ? now : c->t[c->heap[0]].at);
}

/* The timer fires at the heap's top, or sooner (at) when work is left. */
void
checkrun_arm(struct checker *c, double at)
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
void
checkrun_epoll_cb(evutil_socket_t fd, short what, void *arg)
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
