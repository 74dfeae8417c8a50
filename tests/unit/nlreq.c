/* tests/unit/nlreq.c: netlink requests one at a time on an rtnetlink socket: answers read by the loop, a queue, timeouts, cancels, blocking calls. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <lualib.h>

#include "luaha.h"
#include "unit.h"

/* The test's socket: plain rtnetlink, which any user may ask for its links. */
static int	opens;

static int
test_open(struct nlchan *ch, const char **why)
{
	struct sockaddr_nl	 sa;

	if ((ch->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) == -1) {
		*why = strerror(errno);
		return (-1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (bind(ch->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(ch->fd);
		ch->fd = -1;
		*why = strerror(errno);
		return (-1);
	}
	opens++;
	return (0);
}

static void
test_drop(struct nlchan *ch)
{
	close(ch->fd);
}

/* A request: a dump of the links, or a message the kernel never answers (NLMSG_NOOP without an ack). */
struct test_req {
	struct nlreq	 r;
	int		 type;		/* RTM_GETLINK, or NLMSG_NOOP */
	int		 flags;
	int		 ifindex;	/* for a GETLINK of one link */
	int		 sent;
	int		 replies;	/* messages of the answer */
	int		 finished;	/* the order it finished in, 0 while not */
};

static int	finish_order;

static int
test_step(struct nlreq *r)
{
	struct test_req	*q = r->arg;
	struct {
		struct nlmsghdr		h;
		struct ifinfomsg	ifi;
	} m;

	if (q->sent)
		return (0);
	q->sent = 1;
	memset(&m, 0, sizeof(m));
	m.h.nlmsg_len = sizeof(m);
	m.h.nlmsg_type = q->type;
	m.h.nlmsg_flags = q->flags;
	m.ifi.ifi_index = q->ifindex;
	return (nlreq_send(r, &m, sizeof(m)) == -1 ? -1 : 1);
}

static int
test_reply(struct nlreq *r, struct nlmsghdr *h)
{
	struct test_req	*q = r->arg;

	(void)h;
	q->replies++;
	return (0);
}

static void
test_finish(struct nlreq *r)
{
	((struct test_req *)r->arg)->finished = ++finish_order;
}

static int
test_push(lua_State *L, struct nlreq *r)
{
	struct test_req	*q = r->arg;

	lua_pushinteger(L, q->replies);
	lua_pushstring(L, r->why != NULL ? r->why : "");
	return (2);
}

static void
req_init(struct test_req *q, int type, int flags, double timeout)
{
	memset(q, 0, sizeof(*q));
	nlreq_init(&q->r);
	q->r.arg = q;
	q->r.step = test_step;
	q->r.reply = test_reply;
	q->r.finish = test_finish;
	q->r.push = test_push;
	q->r.timeout = timeout;
	q->type = type;
	q->flags = flags;
}

/* Runs the loop until the requests are over, or 5 s. */
static void
run_until(struct test_req *const *qs, int n)
{
	double	 until = loop_now() + 5;
	int	 i, left;

	do {
		event_base_loop(loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
		for (i = left = 0; i < n; i++)
			if (qs[i]->r.state != NLREQ_DONE)
				left++;
		if (left > 0)
			usleep(1000);
	} while (left > 0 && loop_now() < until);
}

/* Three dumps queued at once: each is answered whole, in the order asked. */
static void
test_queue_in_order(void)
{
	struct nlchan		 ch;
	struct test_req		 a, b, c;
	struct test_req *const	 qs[] = { &a, &b, &c };

	nlchan_init(&ch, test_open, test_drop, NULL);
	finish_order = 0;
	req_init(&a, RTM_GETLINK, NLM_F_DUMP, 5);
	req_init(&b, RTM_GETLINK, NLM_F_DUMP, 5);
	req_init(&c, RTM_GETLINK, NLM_F_DUMP, 5);
	nlreq_submit(&ch, &a.r);
	nlreq_submit(&ch, &b.r);
	nlreq_submit(&ch, &c.r);
	CHECK(a.r.state == NLREQ_SENT && b.r.state == NLREQ_QUEUED && c.r.state == NLREQ_QUEUED);
	CHECK(a.finished == 0);		/* the answer is read by the loop, not at once */
	run_until(qs, 3);
	CHECK(a.finished == 1 && b.finished == 2 && c.finished == 3);
	CHECK(a.replies >= 1 && a.replies == b.replies && b.replies == c.replies);
	CHECK(a.r.why == NULL && a.r.kerr == 0);
	nlchan_free(&ch);
}

/* The kernel's refusal comes back as its errno. */
static void
test_kernel_error(void)
{
	struct nlchan		 ch;
	struct test_req		 a;
	struct test_req *const	 qs[] = { &a };

	nlchan_init(&ch, test_open, test_drop, NULL);
	req_init(&a, RTM_GETLINK, 0, 5);
	a.ifindex = 0x7ffffff0;
	nlreq_submit(&ch, &a.r);
	run_until(qs, 1);
	CHECK(a.r.state == NLREQ_DONE && a.r.kerr == ENODEV && a.replies == 0);
	nlchan_free(&ch);
}

/* No answer: the request fails at its bound, the socket is closed, and the next request opens another. */
static void
test_timeout_then_next(void)
{
	struct nlchan		 ch;
	struct test_req		 a, b;
	struct test_req *const	 qs[] = { &a, &b };
	double			 t0;

	nlchan_init(&ch, test_open, test_drop, NULL);
	opens = 0;
	req_init(&a, NLMSG_NOOP, 0, 0.05);
	req_init(&b, RTM_GETLINK, NLM_F_DUMP, 5);
	t0 = loop_now();
	nlreq_submit(&ch, &a.r);
	nlreq_submit(&ch, &b.r);
	run_until(qs, 2);
	CHECK(a.r.why == nlreq_no_answer);
	CHECK(loop_now() - t0 >= 0.05);
	CHECK(b.r.why == NULL && b.replies >= 1);
	CHECK(opens == 2);
	nlchan_free(&ch);
}

/* Cancelled in flight, the request takes the socket with it; the one queued behind is whole. */
static void
test_cancel_in_flight(void)
{
	struct nlchan		 ch;
	struct test_req		 a, b, c;
	struct test_req *const	 qs[] = { &b, &c };

	nlchan_init(&ch, test_open, test_drop, NULL);
	opens = 0;
	finish_order = 0;
	req_init(&a, RTM_GETLINK, NLM_F_DUMP, 5);
	req_init(&b, RTM_GETLINK, NLM_F_DUMP, 5);
	req_init(&c, RTM_GETLINK, NLM_F_DUMP, 5);
	nlreq_submit(&ch, &a.r);
	nlreq_submit(&ch, &b.r);
	nlreq_submit(&ch, &c.r);
	nlreq_cancel(&c.r);		/* queued: it leaves the queue */
	nlreq_cancel(&a.r);		/* in flight */
	CHECK(a.r.state == NLREQ_DONE && c.r.state == NLREQ_DONE);
	CHECK(b.r.state == NLREQ_SENT);
	run_until(qs, 2);
	CHECK(a.finished == 0 && c.finished == 0 && b.finished == 1);
	CHECK(b.r.why == NULL && b.replies >= 1 && a.replies == 0);
	CHECK(opens == 2);
	nlchan_free(&ch);
}

/* Outside a task a call blocks: the request of another in flight is finished first. */
static void
test_blocking_call(void)
{
	lua_State	*L = luaL_newstate();
	struct nlchan	 ch;
	struct test_req	 a, b;
	int		 n;

	*(void **)lua_getextraspace(L) = NULL;	/* not a task */
	nlchan_init(&ch, test_open, test_drop, NULL);
	finish_order = 0;
	req_init(&a, RTM_GETLINK, NLM_F_DUMP, 5);
	req_init(&b, RTM_GETLINK, NLM_F_DUMP, 5);
	nlreq_submit(&ch, &a.r);
	n = nlreq_call(L, &ch, &b.r, 0);
	CHECK(n == 2 && lua_tointeger(L, -2) >= 1 && strcmp(lua_tostring(L, -1), "") == 0);
	CHECK(a.finished == 1 && a.replies == b.replies);
	CHECK(ch.cur == NULL);
	nlchan_free(&ch);
	lua_close(L);
}

int
main(void)
{
	if (loop_init() == -1) {
		printf("FAIL nlreq: loop_init\n");
		return (1);
	}
	RUN("nlreq-queue-in-order", test_queue_in_order);
	RUN("nlreq-kernel-error", test_kernel_error);
	RUN("nlreq-timeout-then-next", test_timeout_then_next);
	RUN("nlreq-cancel-in-flight", test_cancel_in_flight);
	RUN("nlreq-blocking-call", test_blocking_call);
	loop_free();
	UNIT_EXIT();
}
