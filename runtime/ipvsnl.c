/* ipvsnl.c: the generic netlink socket to IPVS, an object of the module, and its requests (nlreq.c); the kernel's errors as ipvsadm says them. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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

/*
 * Opens the socket and resolves the family; the channel's open. Errors in
 * the kernel's acks are not echoed with their payload (NETLINK_CAP_ACK): a
 * failing batch must not overflow our receive buffer. A kernel without
 * ip_vs is the usual failure, tried again at the next request.
 */
static int
ipvs_open(struct nlchan *ch, const char **why)
{
	struct ipvs_sock	*is = ch->owner;
	int			 one = 1, r;

	if (is->sbuf == NULL &&
	    (is->sbuf = malloc(IPVS_BATCH_MAX * IPVS_MSG_MAX)) == NULL) {
		*why = "out of memory";
		return (-1);
	}
	if ((is->sk = nl_socket_alloc()) == NULL) {
		*why = "cannot allocate a netlink socket";
		return (-1);
	}
	if ((r = genl_connect(is->sk)) < 0 ||
	    (r = nl_socket_set_buffer_size(is->sk, 1 << 20, 1 << 20)) < 0) {
		nl_socket_free(is->sk);
		is->sk = NULL;
		*why = nl_geterror(r);
		return (-1);
	}
	/* genl_ctrl_resolve reads its answer with libnl: peeking doubles its receive calls. */
	nl_socket_disable_msg_peek(is->sk);
	if (setsockopt(nl_socket_get_fd(is->sk), SOL_NETLINK, NETLINK_CAP_ACK,
	    &one, sizeof(one)) == -1)
		log_warn("ipvs: setsockopt NETLINK_CAP_ACK");
	if ((is->family = genl_ctrl_resolve(is->sk, IPVS_GENL_NAME)) < 0) {
		nl_socket_free(is->sk);
		is->sk = NULL;
		*why = "IPVS is not available in this kernel (is ip_vs loaded?)";
		return (-1);
	}
	ch->fd = nl_socket_get_fd(is->sk);
	return (0);
}

/* The channel's drop: the socket is closed, and opened again at the next request. */
static void
ipvs_drop(struct nlchan *ch)
{
	struct ipvs_sock	*is = ch->owner;

	nl_socket_free(is->sk);
	is->sk = NULL;
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
 * The family is known from then on: requests are written with it.
 */
struct ipvs_sock *
ipvs_need(lua_State *L)
{
	struct ipvs_sock	*is = ipvs_sock(L);
	const char		*why;

	if (nlchan_ready(&is->ch, &why) == -1) {
		luaha_fail(L, "ipvs: %s", why);
		return (NULL);
	}
	return (is);
}

/*
 * Pushes nil and why a batch failed as a whole: "ipvs batch: send: <reason>"
 * or "ipvs batch: receive: <reason>" (then some of it may have been carried out).
 */
int
ipvs_batch_fail(lua_State *L, const char *why)
{
	if (strncmp(why, "send: ", 6) == 0 || strncmp(why, "receive: ", 9) == 0)
		return (luaha_fail(L, "ipvs batch: %s", why));
	return (luaha_fail(L, "ipvs batch: receive: %s", why));
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

static int
ipvs_sock_gc(lua_State *L)
{
	struct ipvs_sock	*is = luaL_checkudata(L, 1, IPVS_SOCK_MT);

	nlchan_free(&is->ch);
	free(is->sbuf);
	is->sbuf = NULL;
	return (0);
}

static int
ipvs_req_gc(lua_State *L)
{
	nlreq_gc(luaL_checkudata(L, 1, IPVS_REQ_MT));
	return (0);
}

/* Pushes the module's socket, closed: it opens on first use. Makes the requests' metatable. */
void
ipvs_sock_new(lua_State *L)
{
	struct ipvs_sock	*is;

	luaL_newmetatable(L, IPVS_REQ_MT);
	lua_pushcfunction(L, ipvs_req_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	is = lua_newuserdatauv(L, sizeof(*is), 0);
	memset(is, 0, sizeof(*is));
	nlchan_init(&is->ch, ipvs_open, ipvs_drop, is);
	if (luaL_newmetatable(L, IPVS_SOCK_MT)) {
		lua_pushcfunction(L, ipvs_sock_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
}

/*
 * A request to IPVS is a userdata on the calling function's stack, which
 * keeps it while the task waits: size bytes, beginning with a struct nlreq
 * (a struct ipvs_req, or a larger record of ipvstable.c or ipvsops.c). The
 * caller sets its step and push, or uses ipvs_req's.
 */
void *
ipvs_req_alloc(lua_State *L, size_t size)
{
	struct nlreq	*r = lua_newuserdatauv(L, size, 0);

	memset(r, 0, size);
	nlreq_init(r);
	r->arg = r;
	r->timeout = IPVS_WAIT_MS / 1000.0;
	luaL_setmetatable(L, IPVS_REQ_MT);
	return (r);
}

/* Sends the one message of a request, then it is over. */
static int
ipvs_req_step(struct nlreq *r)
{
	struct ipvs_req	*q = r->arg;

	if (q->sent)
		return (0);
	q->sent = 1;
	return (nlreq_send(r, q->msg, q->len) == -1 ? -1 : 1);
}

static int
ipvs_req_reply(struct nlreq *r, struct nlmsghdr *h)
{
	struct ipvs_req	*q = r->arg;

	return (q->parse(h, q->parse_arg));
}

/* nil and "<what>: <reason>", the value at q->result, or true. */
static int
ipvs_req_push(lua_State *L, struct nlreq *r)
{
	struct ipvs_req	*q = r->arg;

	if (r->why != NULL && !(q->quiet_ok && r->why == nlreq_no_answer))
		return (luaha_fail(L, "%s: %s", q->what, r->why));
	if (r->kerr != 0)
		return (luaha_fail(L, "%s: %s", q->what, ipvs_strerror(q->cmd, r->kerr)));
	if (q->nomem)
		return (luaha_fail(L, "%s: %s", q->what, strerror(ENOMEM)));
	if (q->result == 0)
		return (luaha_ok(L));
	lua_pushvalue(L, q->result);
	return (1);
}

/*
 * Pushes a request for cmd (its errors are said as ipvsadm says them for it)
 * of one message: written in w, or built by libnl in msg (freed here). what
 * names it in messages: "add service TCP 192.0.2.10:80". Raises when the
 * message does not fit.
 */
struct ipvs_req *
ipvs_req_new(lua_State *L, int cmd, const char *what, struct ipvs_wbuf *w,
    struct nl_msg *msg)
{
	struct ipvs_req	*q = ipvs_req_alloc(L, sizeof(*q));
	size_t		 len = msg != NULL ? nlmsg_hdr(msg)->nlmsg_len : w->len;

	q->r.step = ipvs_req_step;
	q->r.push = ipvs_req_push;
	q->cmd = cmd;
	snprintf(q->what, sizeof(q->what), "%s", what);
	if (len > sizeof(q->msg)) {
		nlmsg_free(msg);
		luaL_error(L, "ipvs: message too large");
	}
	memcpy(q->msg, msg != NULL ? (void *)nlmsg_hdr(msg) : (void *)w->p, len);
	q->len = len;
	nlmsg_free(msg);
	return (q);
}

/* Sets the function and argument each message of q's answer goes to. */
void
ipvs_req_parse(struct ipvs_req *q, ipvs_parse_fn parse, void *arg)
{
	q->parse = parse;
	q->parse_arg = arg;
	q->r.reply = ipvs_req_reply;
}

/*
 * Carries out the request at index req (ipvs_req_alloc's) and returns what
 * its push pushes: waiting in the task for the answer, or blocking outside
 * one (see nlreq_call). A dump's array, which the answer fills, must be on
 * top of the stack, above the request. The last call of a Lua-facing
 * function: `return (ipvs_req_call(L, is, lua_gettop(L)));`.
 */
int
ipvs_req_call(lua_State *L, struct ipvs_sock *is, int req)
{
	return (nlreq_call(L, &is->ch, lua_touserdata(L, req), req));
}
