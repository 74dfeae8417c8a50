/* ipvsnl.c: the generic netlink socket to IPVS, an object of the module: requests and batches sent, replies read, the kernel's errors as ipvsadm says them. */
#include <sys/socket.h>
#include <poll.h>

#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "luaha.h"
#include "ipvs.h"

/*
 * The kernel's errno for a command, said as ipvsadm says it: the same errno
 * means different things to different commands (ENOENT is a missing
 * scheduler for a new service, a missing destination for a dest command).
 */
static const struct {
	int		 cmd;		/* 0: any */
	int		 err;
	const char	*msg;
} ipvs_errors[] = {
	{ IPVS_CMD_NEW_SERVICE, EEXIST, "Service already exists" },
	{ IPVS_CMD_NEW_SERVICE, ENOENT, "Scheduler not found" },
	{ IPVS_CMD_SET_SERVICE, ESRCH, "No such service" },
	{ IPVS_CMD_SET_SERVICE, ENOENT, "Scheduler not found" },
	{ IPVS_CMD_DEL_SERVICE, ESRCH, "No such service" },
	{ IPVS_CMD_ZERO, ESRCH, "No such service" },
	{ IPVS_CMD_NEW_DEST, ESRCH, "Service not defined" },
	{ IPVS_CMD_NEW_DEST, EEXIST, "Destination already exists" },
	{ IPVS_CMD_SET_DEST, ESRCH, "Service not defined" },
	{ IPVS_CMD_SET_DEST, ENOENT, "No such destination" },
	{ IPVS_CMD_DEL_DEST, ESRCH, "Service not defined" },
	{ IPVS_CMD_DEL_DEST, ENOENT, "No such destination" },
	{ IPVS_CMD_NEW_DAEMON, EEXIST, "Daemon has already run" },
	{ IPVS_CMD_DEL_DAEMON, ESRCH, "No daemon is running" },
	{ 0, EPERM, "Permission denied (you must be root)" },
	{ 0, EINVAL, "Invalid operation (wrong module version, address not "
	    "unicast, or a bad argument)" },
	{ 0, ENOPROTOOPT, "Protocol not available" },
	{ 0, ENOMEM, "Memory allocation problem" },
	{ 0, EOPNOTSUPP, "Operation not supported with IPv6" },
	{ 0, EAFNOSUPPORT, "Operation not supported with specified address family" },
	{ 0, EMSGSIZE, "Module is wrong version" },
	{ 0, 0, NULL }
};

/* The datagrams of one receive call, in the socket's rbuf. */
struct ipvs_rx {
	int		 n;
	int		 len[IPVS_RECV_MAX];
};

/* The kernel's errno err, answered to cmd, in ipvsadm's words. */
const char *
ipvs_strerror(int cmd, int err)
{
	int	 i;

	for (i = 0; ipvs_errors[i].msg != NULL; i++)
		if ((ipvs_errors[i].cmd == cmd || ipvs_errors[i].cmd == 0) &&
		    ipvs_errors[i].err == err)
			return (ipvs_errors[i].msg);
	return (strerror(err));
}

const char		 ipvs_no_answer[] = "the kernel did not answer";

/*
 * Opens the socket and resolves the family, unless done already. Errors in
 * the kernel's acks are not echoed with their payload (NETLINK_CAP_ACK): a
 * failing batch must not overflow our receive buffer. Returns NULL, or why
 * not: a kernel without ip_vs is the usual reason, tried again next time.
 */
static const char *
ipvs_open(struct ipvs_sock *is)
{
	int	 one = 1, r;

	if (is->sk != NULL)
		return (NULL);
	if ((is->rbuf == NULL &&
	    (is->rbuf = malloc(IPVS_RECV_MAX * IPVS_RECV_SIZE)) == NULL) ||
	    (is->sbuf == NULL &&
	    (is->sbuf = malloc(IPVS_BATCH_MAX * IPVS_MSG_MAX)) == NULL))
		return ("out of memory");
	if ((is->sk = nl_socket_alloc()) == NULL)
		return ("cannot allocate a netlink socket");
	if ((r = genl_connect(is->sk)) < 0 ||
	    (r = nl_socket_set_buffer_size(is->sk, 1 << 20, 1 << 20)) < 0) {
		nl_socket_free(is->sk);
		is->sk = NULL;
		return (nl_geterror(r));
	}
	/*
	 * libnl's automatic ACK would leave an ACK queued behind every reply
	 * that is not read: commands that only acknowledge ask for one
	 * themselves (ipvs_simple). Replies are read by ipvs_recv, except
	 * genl_ctrl_resolve's: peeking doubles its receive calls.
	 */
	nl_socket_disable_auto_ack(is->sk);
	nl_socket_disable_msg_peek(is->sk);
	if ((r = nl_socket_set_msg_buf_size(is->sk, 65536)) < 0)
		log_warnx("ipvs: message buffer: %s", nl_geterror(r));
	if (setsockopt(nl_socket_get_fd(is->sk), SOL_NETLINK, NETLINK_CAP_ACK,
	    &one, sizeof(one)) == -1)
		log_warn("ipvs: setsockopt NETLINK_CAP_ACK");
	if ((is->family = genl_ctrl_resolve(is->sk, IPVS_GENL_NAME)) < 0) {
		nl_socket_free(is->sk);
		is->sk = NULL;
		return ("IPVS is not available in this kernel (is ip_vs loaded?)");
	}
	return (NULL);
}

/* The module's socket: the upvalue of every function of luaha.core.ipvs and of its methods. */
struct ipvs_sock *
ipvs_sock(lua_State *L)
{
	return (lua_touserdata(L, lua_upvalueindex(1)));
}

/*
 * The socket, opened if need be; or NULL after pushing nil and "ipvs:
 * <why>": a kernel without IPVS is the world saying no, not a mistake of
 * the program. Callers check their arguments first, so that those raise
 * whatever the kernel: `if ((is = ipvs_need(L)) == NULL) return (2);`.
 */
struct ipvs_sock *
ipvs_need(lua_State *L)
{
	struct ipvs_sock	*is = ipvs_sock(L);
	const char		*why;

	if ((why = ipvs_open(is)) != NULL) {
		luaha_fail(L, "ipvs: %s", why);
		return (NULL);
	}
	return (is);
}

/* The next sequence number of the socket, for a request written by hand. */
unsigned int
ipvs_next_seq(struct ipvs_sock *is)
{
	return (nl_socket_use_seq(is->sk));
}

/* Points w, empty, at the buffer kept for a batch's requests: IPVS_BATCH_MAX of them. */
void
ipvs_batch_wbuf(struct ipvs_sock *is, struct ipvs_wbuf *w)
{
	w->p = is->sbuf;
	w->len = 0;
	w->cap = IPVS_BATCH_MAX * IPVS_MSG_MAX;
	w->family = is->family;
}

/*
 * How long a request waits for the kernel's answer. The kernel answers at once,
 * except that it sends nothing at all for a request whose handler returned
 * -EINTR (netlink_rcv_skb skips the acknowledgement): stopping a sync daemon
 * whose thread has not run yet does that. A request never waits forever.
 * Returns the previous setting.
 */
int
ipvs_set_wait(struct ipvs_sock *is, int ms)
{
	int	 old = is->wait_ms;

	is->wait_ms = ms;
	return (old);
}

static int
ipvs_sock_gc(lua_State *L)
{
	struct ipvs_sock	*is = luaL_checkudata(L, 1, IPVS_SOCK_MT);

	if (is->sk != NULL)
		nl_socket_free(is->sk);
	free(is->rbuf);
	free(is->sbuf);
	memset(is, 0, sizeof(*is));
	return (0);
}

/* Pushes the module's socket, closed: it opens on first use. */
void
ipvs_sock_new(lua_State *L)
{
	struct ipvs_sock	*is = lua_newuserdatauv(L, sizeof(*is), 0);

	memset(is, 0, sizeof(*is));
	is->wait_ms = IPVS_WAIT_MS;
	if (luaL_newmetatable(L, IPVS_SOCK_MT)) {
		lua_pushcfunction(L, ipvs_sock_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
}

/*
 * Reads the datagrams waiting, at least one, at most IPVS_RECV_MAX, into
 * the socket's rbuf: 0, or -1 with why set. One call takes both the last part of a
 * dump and its end: the kernel writes the next part of a dump as the
 * previous one is read, so it is there for the second datagram. A system
 * call is what UML makes expensive, and a table is read with one dump per
 * service.
 */
static int
ipvs_recv(struct ipvs_sock *is, struct ipvs_rx *rx, const char **why)
{
	struct mmsghdr		 mm[IPVS_RECV_MAX];
	struct iovec		 iov[IPVS_RECV_MAX];
	struct pollfd		 pfd = { .fd = nl_socket_get_fd(is->sk), .events = POLLIN };
	int			 i, n;

	do
		n = poll(&pfd, 1, is->wait_ms);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		*why = n == 0 ? ipvs_no_answer : strerror(errno);
		return (-1);
	}
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < IPVS_RECV_MAX; i++) {
		iov[i].iov_base = is->rbuf + i * IPVS_RECV_SIZE;
		iov[i].iov_len = IPVS_RECV_SIZE;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	do
		n = recvmmsg(nl_socket_get_fd(is->sk), mm, IPVS_RECV_MAX,
		    MSG_WAITFORONE, NULL);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		*why = strerror(errno);
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (mm[i].msg_len == 0 || (mm[i].msg_hdr.msg_flags & MSG_TRUNC)) {
			*why = mm[i].msg_len == 0 ? "no answer" : "reply truncated";
			return (-1);
		}
		rx->len[i] = (int)mm[i].msg_len;
	}
	rx->n = n;
	return (0);
}

/*
 * Sends msg (freed here) and reads the replies, handing each to parse: all
 * of a dump, up to its end, or the one reply or acknowledgement of another
 * request. Returns 0, or the kernel's errno (positive), or -1 with *why set
 * for a failure of our own.
 */
int
ipvs_request(struct ipvs_sock *is, struct nl_msg *msg, ipvs_parse_fn parse, void *arg,
    const char **why)
{
	struct nlmsghdr	*h = nlmsg_hdr(msg);
	struct ipvs_rx	 rx;
	unsigned int	 seq = nl_socket_use_seq(is->sk);
	int		 kerr = 0, done = 0, stop = 0, i, n, r;

	*why = NULL;
	h->nlmsg_seq = seq;
	h->nlmsg_pid = 0;
	h->nlmsg_flags |= NLM_F_REQUEST;
	r = nl_sendto(is->sk, h, h->nlmsg_len);
	nlmsg_free(msg);
	if (r < 0) {
		*why = nl_geterror(r);
		return (-1);
	}
	while (!done) {
		if (ipvs_recv(is, &rx, why) == -1)
			return (-1);
		for (i = 0; i < rx.n && !done; i++) {
			h = (struct nlmsghdr *)(is->rbuf + i * IPVS_RECV_SIZE);
			for (n = rx.len[i]; !done && NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
				if (h->nlmsg_seq != seq || h->nlmsg_type == NLMSG_NOOP)
					continue;	/* not an answer to this request */
				if (h->nlmsg_type == NLMSG_DONE)
					done = 1;
				else if (h->nlmsg_type == NLMSG_ERROR) {
					kerr = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
					done = 1;
				} else {
					/* After NL_STOP a dump is still read to its end. */
					if (!stop && parse != NULL && parse(h, arg) == NL_STOP)
						stop = 1;
					if (!(h->nlmsg_flags & NLM_F_MULTI))
						done = 1;
				}
			}
		}
	}
	return (kerr);
}

/* Pushes nil and "<what>: <reason>" for a failed request. */
int
ipvs_fail(lua_State *L, int cmd, int err, const char *why, const char *what)
{
	return (luaha_fail(L, "%s: %s", what, err > 0 ?
	    ipvs_strerror(cmd, err) : why));
}

/* Sends a command that only acknowledges: true or nil, "<what>: <reason>". */
int
ipvs_simple(lua_State *L, struct ipvs_sock *is, struct nl_msg *msg, int cmd,
    const char *what)
{
	const char	*why;
	int		 err;

	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	if ((err = ipvs_request(is, msg, NULL, NULL, &why)) != 0)
		return (ipvs_fail(L, cmd, err, why, what));
	return (luaha_ok(L));
}

/*
 * Sends the n requests in w, numbered seq0 .. seq0 + n - 1 of which only the
 * last asks for an acknowledgement, and stores the kernel's errno for each
 * in errs (0: carried out). The kernel handles a batch in order and reports
 * each failure by its sequence number even unasked, so when the last answer
 * arrives every failure has too; it goes on after a failure. Returns 0, or
 * -1 with why set when the batch could not be sent or its answers read.
 */
int
ipvs_exchange(struct ipvs_sock *is, struct ipvs_wbuf *w, unsigned int seq0, int n, int *errs,
    char *why, size_t whylen)
{
	struct nlmsghdr		*hdr;
	struct ipvs_rx		 rx;
	const char		*reason;
	int			 i, k, r, done = 0;

	memset(errs, 0, n * sizeof(*errs));
	if ((r = nl_sendto(is->sk, w->p, w->len)) < 0) {
		snprintf(why, whylen, "ipvs batch: send: %s", nl_geterror(r));
		return (-1);
	}
	while (!done) {
		if (ipvs_recv(is, &rx, &reason) == -1) {
			snprintf(why, whylen, "ipvs batch: receive: %s", reason);
			return (-1);
		}
		for (k = 0; k < rx.n; k++) {
			hdr = (struct nlmsghdr *)(is->rbuf + k * IPVS_RECV_SIZE);
			for (r = rx.len[k]; nlmsg_ok(hdr, r); hdr = nlmsg_next(hdr, &r)) {
				if (hdr->nlmsg_type != NLMSG_ERROR ||
				    hdr->nlmsg_seq < seq0 || hdr->nlmsg_seq >= seq0 + n)
					continue;	/* not one of ours */
				i = hdr->nlmsg_seq - seq0;
				errs[i] = -((struct nlmsgerr *)nlmsg_data(hdr))->error;
				if (i == n - 1)
					done = 1;
			}
		}
	}
	return (0);
}
