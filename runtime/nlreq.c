/* nlreq.c: netlink requests to the kernel, one at a time per socket, their answers waited for in the calling task as an event (or, outside a task, in poll). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/netlink.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <netlink/handlers.h>

#include "luaha.h"

/*
 * The kernel carries out a netlink request inside the sendmsg that brings it
 * (rtnetlink and generic netlink both do), and queues the answer there; what
 * a caller waits for afterwards is the answer being read: a dump's later
 * parts, which the kernel writes as the earlier ones are read, and answers
 * that never come (IPVS does not acknowledge a request whose handler was
 * interrupted). Waiting for them in a system call would hold the event loop,
 * and the heartbeats behind it, for up to the request's bound: here the
 * loop reads the socket when it is readable and hands each message to the
 * request in flight, and the task that asked is woken when the answer is
 * whole.
 *
 * A socket has one request in flight: two dumps at once are refused by the
 * kernel (EBUSY), and interleaved answers could not be told apart by a
 * request that stopped reading. Others wait their turn in a queue. A
 * request is one or more messages sent one after the other by its step
 * function (a batch is one message of many parts, numbered seq0 .. seq0 + n
 * - 1, of which the last is answered); what arrives for another sequence
 * number is a stale answer and is dropped. A request whose task is
 * cancelled, or whose answer does not come in time, takes the socket with
 * it: a dump in progress would otherwise go on arriving, so the socket is
 * closed and the next request opens another.
 */

#define NLREQ_RECV_MAX		2	/* datagrams per receive call */
#define NLREQ_RECV_SIZE		32768	/* the kernel's dump datagrams are at most 32 KiB */
#define NLREQ_READS		8	/* receive calls per wakeup: no socket hogs the loop */

const char	nlreq_no_answer[] = "the kernel did not answer";

static void	nlchan_read_cb(evutil_socket_t, short, void *);
static void	nlchan_timeout_cb(evutil_socket_t, short, void *);
static void	nlchan_start_next(struct nlchan *);

/* Sets up ch, closed; open and drop are its owner's, to make and close the socket. */
void
nlchan_init(struct nlchan *ch, int (*open)(struct nlchan *, const char **),
    void (*drop)(struct nlchan *), void *owner)
{
	memset(ch, 0, sizeof(*ch));
	ch->fd = -1;
	ch->open = open;
	ch->drop = drop;
	ch->owner = owner;
	ch->seq = (unsigned int)time(NULL);
	TAILQ_INIT(&ch->queue);
}

/* Closes the socket: what it still holds for us is dropped with it. */
static void
nlchan_close(struct nlchan *ch)
{
	if (ch->rev != NULL)
		event_free(ch->rev);
	ch->rev = NULL;
	if (ch->tev != NULL)
		evtimer_del(ch->tev);
	if (ch->fd != -1)
		ch->drop(ch);
	ch->fd = -1;
}

/*
 * Opens the socket unless it is open, with the buffer its answers are read
 * into and the events that read them. Returns 0, or -1 with *why set.
 */
int
nlchan_ready(struct nlchan *ch, const char **why)
{
	*why = NULL;
	if (ch->fd != -1)
		return (0);
	if (ch->rbuf == NULL &&
	    (ch->rbuf = malloc(NLREQ_RECV_MAX * NLREQ_RECV_SIZE)) == NULL) {
		*why = "out of memory";
		return (-1);
	}
	if (ch->open(ch, why) == -1)
		return (-1);
	if (net_nonblock(ch->fd) == -1 ||
	    (ch->rev = event_new(loop_base(), ch->fd, EV_READ | EV_PERSIST,
	    nlchan_read_cb, ch)) == NULL || event_add(ch->rev, NULL) == -1 ||
	    (ch->tev == NULL && (ch->tev = evtimer_new(loop_base(),
	    nlchan_timeout_cb, ch)) == NULL)) {
		*why = "cannot set up the socket's events";
		nlchan_close(ch);
		return (-1);
	}
	return (0);
}

/* Ends the requests queued or in flight, unanswered, and closes the socket: the state is closing. */
void
nlchan_free(struct nlchan *ch)
{
	struct nlreq	*r;

	if ((r = ch->cur) != NULL) {
		r->ch = NULL;
		r->state = NLREQ_DONE;
	}
	ch->cur = NULL;
	while ((r = TAILQ_FIRST(&ch->queue)) != NULL) {
		TAILQ_REMOVE(&ch->queue, r, entry);
		r->ch = NULL;
		r->state = NLREQ_DONE;
	}
	nlchan_close(ch);
	if (ch->tev != NULL)
		event_free(ch->tev);
	ch->tev = NULL;
	free(ch->rbuf);
	ch->rbuf = NULL;
}

/* Sets r up, idle; the caller then sets its step, reply, push and timeout. */
void
nlreq_init(struct nlreq *r)
{
	memset(r, 0, sizeof(*r));
	r->timeout = 5;
}

/*
 * Sends the len bytes of one or more messages at buf as r's next message,
 * numbering them from the socket's sequence; the last is the one answered,
 * and r then waits for that answer for at most r->timeout seconds. Returns
 * 0, or -1 with r->why set. For step functions.
 */
int
nlreq_send(struct nlreq *r, void *buf, size_t len)
{
	struct nlchan	*ch = r->ch;
	struct nlmsghdr	*h;
	struct timeval	 tv;
	ssize_t		 n;
	int		 left = (int)len;

	r->seq0 = ch->seq;
	r->n = 0;
	r->stop = 0;
	for (h = buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
		h->nlmsg_seq = ch->seq++;
		h->nlmsg_pid = 0;
		h->nlmsg_flags |= NLM_F_REQUEST;
		r->n++;
	}
	if (r->n == 0 || left != 0) {
		r->why = "malformed request";
		return (-1);
	}
	do
		n = send(ch->fd, buf, len, 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)len) {
		snprintf(r->whybuf, sizeof(r->whybuf), "send: %s",
		    n == -1 ? strerror(errno) : "short write");
		r->why = r->whybuf;
		return (-1);
	}
	ch->deadline = loop_now() + r->timeout;
	evtimer_add(ch->tev, loop_tv(r->timeout, &tv));
	return (0);
}

/* Takes the kernel's errno, and its extended ack message if any, from an NLMSG_ERROR. */
static int
nlreq_error(struct nlreq *r, struct nlmsghdr *h)
{
	struct nlmsgerr	*e = NLMSG_DATA(h);
	struct nlattr	*a;
	size_t		 off, len;
	int		 err;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return (EPROTO);
	if ((err = -e->error) == 0 || !(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return (err);
	/* The attributes follow the request, unless the kernel left it out. */
	off = sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	off = NLMSG_ALIGN(off);
	while (NLMSG_HDRLEN + off + NLA_HDRLEN <= h->nlmsg_len) {
		a = (struct nlattr *)((char *)e + off);
		if (a->nla_len < NLA_HDRLEN || NLMSG_HDRLEN + off + a->nla_len > h->nlmsg_len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			len = a->nla_len - NLA_HDRLEN;
			if (len >= sizeof(r->kmsg))
				len = sizeof(r->kmsg) - 1;
			memcpy(r->kmsg, (char *)a + NLA_HDRLEN, len);
			r->kmsg[len] = '\0';
			r->kmsg[strcspn(r->kmsg, "\n")] = '\0';
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return (err);
}

/* r is over: off the socket, and its task woken (or its finish called). */
static void
nlreq_finish(struct nlreq *r)
{
	struct nlchan	*ch = r->ch;

	if (ch != NULL && ch->cur == r) {
		ch->cur = NULL;
		evtimer_del(ch->tev);
	}
	r->ch = NULL;
	r->state = NLREQ_DONE;
	if (r->w.task != NULL)
		task_wake(&r->w);
	else if (r->finish != NULL)
		r->finish(r);
}

/* The message in flight is answered (or none was sent yet): the next one, or the end. */
static void
nlreq_next(struct nlreq *r)
{
	int	 more;

	if (r->why == NULL) {
		if ((more = r->step(r)) == 1)
			return;
		if (more == -1 && r->why == NULL)
			r->why = "request failed";
	}
	nlreq_finish(r);
}

/* Starts r on its channel, opening the socket if need be; it may finish at once. */
static void
nlreq_start(struct nlreq *r)
{
	struct nlchan	*ch = r->ch;
	const char	*why;

	ch->cur = r;
	r->state = NLREQ_SENT;
	if (nlchan_ready(ch, &why) == -1) {
		r->why = why;
		nlreq_finish(r);
		return;
	}
	nlreq_next(r);
}

/* Starts the queued requests in turn until one is in flight or none is left. */
static void
nlchan_start_next(struct nlchan *ch)
{
	struct nlreq	*r;

	while (ch->cur == NULL && (r = TAILQ_FIRST(&ch->queue)) != NULL) {
		TAILQ_REMOVE(&ch->queue, r, entry);
		nlreq_start(r);
	}
}

/* One message arrived: the request in flight takes it if it is for the message it sent. */
static void
nlchan_message(struct nlchan *ch, struct nlmsghdr *h)
{
	struct nlreq	*r = ch->cur;
	unsigned int	 i;
	int		 err, last;

	if (r == NULL || h->nlmsg_seq - r->seq0 >= (unsigned int)r->n ||
	    h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_OVERRUN)
		return;		/* a stale answer, or nothing */
	i = h->nlmsg_seq - r->seq0;
	last = i == (unsigned int)r->n - 1;
	if (h->nlmsg_type == NLMSG_ERROR) {
		err = nlreq_error(r, h);
		if (r->errs != NULL)
			r->errs[i] = err;
		else if (err != 0 && r->kerr == 0)
			r->kerr = err;
		if (last)
			nlreq_next(r);
		return;
	}
	if (h->nlmsg_flags & NLM_F_DUMP_INTR)
		r->intr = 1;
	if (h->nlmsg_type == NLMSG_DONE) {
		if (last)
			nlreq_next(r);
		return;
	}
	/*
	 * After NL_STOP a dump is still read to its end. A reply may push onto
	 * the caller's stack, that of a suspended task: room is made first.
	 */
	if (!r->stop && r->reply != NULL) {
		if (r->L != NULL && !lua_checkstack(r->L, LUA_MINSTACK)) {
			r->stop = 1;
			if (r->kerr == 0)
				r->kerr = ENOMEM;
		} else if (r->reply(r, h) == NL_STOP)
			r->stop = 1;
	}
	if (last && !(h->nlmsg_flags & NLM_F_MULTI))
		nlreq_next(r);
}

/* The request in flight cannot go on: it fails with why, and the socket is closed. */
static void
nlchan_fail(struct nlchan *ch, const char *why)
{
	struct nlreq	*r = ch->cur;

	nlchan_close(ch);
	if (r != NULL) {
		r->why = why;
		nlreq_finish(r);
	}
}

/*
 * Reads what is waiting, at most NLREQ_READS times NLREQ_RECV_MAX datagrams
 * (half a MiB of a dump), and hands each message on. One call takes both the
 * last part of a dump and its end: the kernel writes the next part as the
 * previous one is read. Returns 1 when the socket is empty, 0 when there may
 * be more, -1 when it failed (and was closed).
 */
static int
nlchan_read(struct nlchan *ch)
{
	struct mmsghdr	 mm[NLREQ_RECV_MAX];
	struct iovec	 iov[NLREQ_RECV_MAX];
	struct nlmsghdr	*h;
	int		 i, n, len, reads;

	for (reads = 0; reads < NLREQ_READS && ch->fd != -1; reads++) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < NLREQ_RECV_MAX; i++) {
			iov[i].iov_base = ch->rbuf + i * NLREQ_RECV_SIZE;
			iov[i].iov_len = NLREQ_RECV_SIZE;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(ch->fd, mm, NLREQ_RECV_MAX, MSG_DONTWAIT, NULL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return (1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(ch->whybuf, sizeof(ch->whybuf), "receive: %s",
			    strerror(errno));
			nlchan_fail(ch, ch->whybuf);
			return (-1);
		}
		for (i = 0; i < n; i++) {
			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				nlchan_fail(ch, "reply truncated");
				return (-1);
			}
			/* A request finished here may start the next: it sends, never reads. */
			len = (int)mm[i].msg_len;
			for (h = (struct nlmsghdr *)(ch->rbuf + i * NLREQ_RECV_SIZE);
			    NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
				nlchan_message(ch, h);
		}
		nlchan_start_next(ch);
	}
	return (0);
}

static void
nlchan_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	nlchan_read(arg);
}

/*
 * No answer came in time. The deadline is the clock's (libevent may fire a
 * little early); a request that was never answered may still be, so the
 * socket goes with it.
 */
static void
nlchan_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct nlchan	*ch = arg;
	struct timeval	 tv;
	double		 now = loop_now();

	(void)fd;
	(void)what;
	if (ch->cur == NULL)
		return;
	if (now < ch->deadline) {
		evtimer_add(ch->tev, loop_tv(loop_timeout(now, ch->deadline - now), &tv));
		return;
	}
	nlchan_fail(ch, nlreq_no_answer);
	nlchan_start_next(ch);
}

/*
 * Runs r to its end without the loop, for a caller that cannot yield: a
 * request of another task in flight is finished first (its task is woken
 * as usual), then r is sent and its answers read with poll, each within
 * r's bound. Queued requests keep their place behind it.
 */
static void
nlreq_run(struct nlchan *ch, struct nlreq *r)
{
	struct pollfd	 pfd;
	double		 now;
	int		 n;

	r->ch = ch;
	r->state = NLREQ_QUEUED;
	TAILQ_INSERT_HEAD(&ch->queue, r, entry);
	while (r->state != NLREQ_DONE) {
		if (ch->cur == NULL) {
			nlchan_start_next(ch);
			continue;
		}
		if (nlchan_read(ch) != 1 || ch->cur == NULL)
			continue;	/* more at once, or the end */
		now = loop_now();
		if (now >= ch->deadline) {
			nlchan_fail(ch, nlreq_no_answer);
			continue;
		}
		pfd.fd = ch->fd;
		pfd.events = POLLIN;
		n = poll(&pfd, 1, (int)((ch->deadline - now) * 1000) + 1);
		if (n == -1 && errno != EINTR) {
			snprintf(ch->whybuf, sizeof(ch->whybuf), "poll: %s", strerror(errno));
			nlchan_fail(ch, ch->whybuf);
		}
	}
}

/* The wait of r's task is over: the results, from the request's push. */
static int
nlreq_done(lua_State *co, struct waiter *w, short what)
{
	struct nlreq	*r = w->arg;

	(void)what;
	if (!lua_checkstack(co, LUA_MINSTACK))
		return (0);		/* no results: the call returns nothing */
	return (r->push(co, r));
}

/* The task waiting for r was cancelled: r leaves the queue, or takes the socket with it. */
static void
nlreq_cancel_cb(struct waiter *w)
{
	nlreq_cancel(w->arg);
}

/*
 * r will not be waited for any more (its task was cancelled, its owner went
 * away). Queued, it leaves the queue; in flight, the socket is closed, since
 * the rest of its answer would come to whoever asks next.
 */
void
nlreq_cancel(struct nlreq *r)
{
	struct nlchan	*ch = r->ch;

	if (ch == NULL || r->state == NLREQ_DONE)
		return;
	if (ch->cur == r) {
		ch->cur = NULL;
		evtimer_del(ch->tev);
		nlchan_close(ch);
	} else
		TAILQ_REMOVE(&ch->queue, r, entry);
	r->ch = NULL;
	r->state = NLREQ_DONE;
	nlchan_start_next(ch);
}

/*
 * Queues r on ch for a caller that is no task (a libevent callback); its
 * finish is called at the end. It may be started, and even end, at once.
 */
void
nlreq_submit(struct nlchan *ch, struct nlreq *r)
{
	r->ch = ch;
	r->state = NLREQ_QUEUED;
	TAILQ_INSERT_TAIL(&ch->queue, r, entry);
	nlchan_start_next(ch);
}

/*
 * Carries out r, a request whose memory is the value at index anchor of L
 * (a userdata on the calling function's stack), and returns what its push
 * pushes. In a task that can yield, r is queued, and the task waits in the
 * loop for its answer: this is then the last call of a Lua-facing C function,
 * `return (nlreq_call(L, ...));`. Elsewhere it blocks (nlreq_run).
 */
int
nlreq_call(lua_State *L, struct nlchan *ch, struct nlreq *r, int anchor)
{
	r->L = L;
	if (task_current(L) == NULL || !lua_isyieldable(L)) {
		nlreq_run(ch, r);
		return (r->push(L, r));
	}
	nlreq_submit(ch, r);
	if (r->state == NLREQ_DONE)
		return (r->push(L, r));		/* it failed before it was sent */
	r->w.cancel = nlreq_cancel_cb;
	return (task_wait(L, &r->w, -1, 0, -1, nlreq_done, r, anchor));
}

/* Frees what r holds when its userdata is collected; releases it from its channel first. */
void
nlreq_gc(struct nlreq *r)
{
	nlreq_cancel(r);
	waiter_close(&r->w);
	if (r->release != NULL)
		r->release(r);
	r->release = NULL;
}
