/* linkreq.c: luaha.core.link's rtnetlink request socket, the upvalue of its functions, and its requests (nlreq.c): a change, or dumps after the links' names. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "luaha.h"
#include "link.h"

#define LINK_REQ_MT	"luaha.link.request"
#define LINK_DUMP_TRIES	3		/* a dump that changes under us is read again */

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

/* A libnl error (building a message, opening the socket) said as the errno it stands for where one fits. */
const char *
link_nlerror(int err)
{
	int	 i;

	for (i = 0; link_nlerrs[i].nlerr != 0; i++)
		if (link_nlerrs[i].nlerr == abs(err))
			return (strerror(link_nlerrs[i].errnum));
	return (nl_geterror(err));
}

/* Opens the request socket: the channel's open. */
static int
link_open(struct nlchan *ch, const char **why)
{
	struct link_sock	*ls = ch->owner;
	int			 err, one = 1;

	if ((ls->sk = nl_socket_alloc()) == NULL) {
		*why = strerror(ENOMEM);
		return (-1);
	}
	if ((err = nl_connect(ls->sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(ls->sk);
		ls->sk = NULL;
		*why = link_nlerror(err);
		return (-1);
	}
	/* Extended acks add the kernel's explanation; errors are still clear without. */
	if (setsockopt(nl_socket_get_fd(ls->sk), SOL_NETLINK, NETLINK_EXT_ACK,
	    &one, sizeof(one)) == -1 ||
	    setsockopt(nl_socket_get_fd(ls->sk), SOL_NETLINK, NETLINK_CAP_ACK,
	    &one, sizeof(one)) == -1)
		log_warn("%s: netlink extended acks", __func__);
	ch->fd = nl_socket_get_fd(ls->sk);
	return (0);
}

static void
link_drop(struct nlchan *ch)
{
	struct link_sock	*ls = ch->owner;

	nl_socket_free(ls->sk);
	ls->sk = NULL;
}

/* The module's socket: the upvalue of every function of luaha.core.link. */
struct link_sock *
link_sock(lua_State *L)
{
	return (lua_touserdata(L, lua_upvalueindex(1)));
}

static int
link_sock_gc(lua_State *L)
{
	struct link_sock	*ls = luaL_checkudata(L, 1, "luaha.link_sock");

	nlchan_free(&ls->ch);
	return (0);
}

static int
link_req_gc(lua_State *L)
{
	nlreq_gc(luaL_checkudata(L, 1, LINK_REQ_MT));
	return (0);
}

/* Pushes the module's socket, closed: it opens at the first request. */
void
link_sock_new(lua_State *L)
{
	struct link_sock	*ls;

	luaL_newmetatable(L, LINK_REQ_MT);
	lua_pushcfunction(L, link_req_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	ls = lua_newuserdatauv(L, sizeof(*ls), 0);
	memset(ls, 0, sizeof(*ls));
	nlchan_init(&ls->ch, link_open, link_drop, ls);
	luaL_newmetatable(L, "luaha.link_sock");
	lua_pushcfunction(L, link_sock_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
}

/* Records the name of the link of an RTM_NEWLINK message in names; -1 without memory. */
int
link_names_add(struct link_names *names, struct nlmsghdr *h)
{
	struct ifinfomsg	*ifi;
	struct nlattr		*a;
	struct link_name	*v;

	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return (0);
	ifi = NLMSG_DATA(h);
	if ((a = nlmsg_find_attr(h, sizeof(*ifi), IFLA_IFNAME)) == NULL)
		return (0);
	if (names->n == names->cap) {
		v = reallocarray(names->v, names->cap + 64, sizeof(*v));
		if (v == NULL)
			return (-1);
		names->v = v;
		names->cap += 64;
	}
	names->v[names->n].index = ifi->ifi_index;
	nla_strlcpy(names->v[names->n].name, a, IFNAMSIZ);
	names->n++;
	return (0);
}

/* The name of the link with index, from names (NULL: none) or else the kernel; NULL if it is gone. */
const char *
link_name(const struct link_names *names, int index, char *buf)
{
	size_t	 i;

	for (i = 0; names != NULL && i < names->n; i++)
		if (names->v[i].index == index)
			return (names->v[i].name);
	return (if_indextoname(index, buf));
}

/* Writes into buf (LINK_DUMP_LEN bytes) the request for a dump of type: RTM_GETLINK, _GETADDR or _GETROUTE. */
size_t
link_dump_msg(void *buf, int type)
{
	struct nlmsghdr	*h = buf;
	size_t		 len;

	/* The kernel reads the header of each type in full: it is the biggest, zeroed. */
	len = NLMSG_LENGTH(type == RTM_GETROUTE ? sizeof(struct rtmsg) :
	    type == RTM_GETADDR ? sizeof(struct ifaddrmsg) : sizeof(struct ifinfomsg));
	memset(buf, 0, LINK_DUMP_LEN);
	h->nlmsg_len = len;
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	return (len);
}

/*
 * A request's steps: a change is one message, sent, then, for a link whose
 * RTM_NEWLINK the kernel does not take (before Linux 2.6.30), sent again as
 * RTM_SETLINK, as libnl's rtnl_link_change does. A dump first reads the
 * links' names when it needs them, then its own dump, read again when
 * routes changed under it (the kernel flags the dump), LINK_DUMP_TRIES times.
 */
static int
link_req_step(struct nlreq *r)
{
	struct link_req	*q = r->arg;
	struct nlmsghdr	*h;
	uint32_t	 buf[LINK_DUMP_LEN / 4];
	int		 phase = q->phase++;

	if (q->msg != NULL) {
		h = nlmsg_hdr(q->msg);
		if (phase == 1 && r->kerr == EOPNOTSUPP && h->nlmsg_type == RTM_NEWLINK) {
			h->nlmsg_type = RTM_SETLINK;
			r->kerr = 0;
			r->kmsg[0] = '\0';
		} else if (phase > 0)
			return (0);
		return (nlreq_send(r, h, h->nlmsg_len) == -1 ? -1 : 1);
	}
	if (r->kerr != 0 || q->nomem)
		return (0);
	if (phase == 0 && q->names_first)
		return (nlreq_send(r, buf, link_dump_msg(buf, RTM_GETLINK)) == -1 ? -1 : 1);
	if (phase > (q->names_first ? 1 : 0)) {
		if (!r->intr || ++q->tries >= LINK_DUMP_TRIES)
			return (0);
		/* Read again into a new array. */
		r->intr = 0;
		lua_createtable(r->L, 0, 0);
		lua_replace(r->L, q->result);
		q->n = 0;
	}
	q->in_dump = 1;
	r->intr = 0;		/* the names' dump is not this one */
	return (nlreq_send(r, buf, link_dump_msg(buf, q->dump)) == -1 ? -1 : 1);
}

static int
link_req_reply(struct nlreq *r, struct nlmsghdr *h)
{
	struct link_req	*q = r->arg;

	if (!q->in_dump) {
		if (link_names_add(&q->names, h) == -1) {
			q->nomem = 1;
			return (NL_STOP);
		}
		return (NL_OK);
	}
	return (q->each(q, h));
}

/* nil and "<what>: <reason>", the dump's array, or true. */
static int
link_req_push(lua_State *L, struct nlreq *r)
{
	struct link_req	*q = r->arg;

	if (r->kerr != 0 && r->kmsg[0] != '\0')
		return (luaha_fail(L, "%s: %s (%s)", q->what, strerror(r->kerr), r->kmsg));
	if (r->kerr != 0)
		return (luaha_fail(L, "%s: %s", q->what, strerror(r->kerr)));
	if (r->why != NULL)
		return (luaha_fail(L, "%s: %s", q->what, r->why));
	if (q->nomem)
		return (luaha_fail(L, "%s: %s", q->what, strerror(ENOMEM)));
	if (r->intr)
		return (luaha_fail(L, "%s: %s", q->what, nl_geterror(NLE_DUMP_INTR)));
	if (q->result == 0)
		return (luaha_ok(L));
	lua_pushvalue(L, q->result);
	return (1);
}

static void
link_req_release(struct nlreq *r)
{
	struct link_req	*q = r->arg;

	nlmsg_free(q->msg);
	q->msg = NULL;
	free(q->names.v);
	q->names.v = NULL;
}

/* Pushes a request userdata; what names it in messages ("addr_add 192.0.2.1/24 dev eth0"). */
struct link_req *
link_req_new(lua_State *L, const char *what)
{
	struct link_req	*q = lua_newuserdatauv(L, sizeof(*q), 0);

	memset(q, 0, sizeof(*q));
	nlreq_init(&q->r);
	q->r.arg = q;
	q->r.step = link_req_step;
	q->r.reply = link_req_reply;
	q->r.push = link_req_push;
	q->r.release = link_req_release;
	luaL_setmetatable(L, LINK_REQ_MT);
	snprintf(q->what, sizeof(q->what), "%s", what);
	return (q);
}

/*
 * Sends msg (built by libnl, taken over by the request: freed with it),
 * asking for an acknowledgement; true, or nil and "<what>: <reason>" with
 * the kernel's errno and explanation. q is on top of the stack. Waits in
 * the calling task (nlreq_call): the last call of a Lua-facing function.
 */
int
link_req_change(lua_State *L, struct link_req *q, struct nl_msg *msg)
{
	q->msg = msg;
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	return (nlreq_call(L, &link_sock(L)->ch, &q->r, lua_gettop(L)));
}

/*
 * Dumps type (RTM_GETLINK, _GETADDR, _GETROUTE) into a new array, each
 * message handed to each, after reading the links' names into q->names if
 * names is set. Returns the array, or nil and "<what>: <reason>". q is on
 * top of the stack. Waits in the calling task: the last call of a
 * Lua-facing function.
 */
int
link_req_dump(lua_State *L, struct link_req *q, int type, int names,
    int (*each)(struct link_req *, struct nlmsghdr *))
{
	int	 req = lua_gettop(L);

	q->dump = type;
	q->names_first = names;
	q->each = each;
	lua_newtable(L);
	q->result = lua_gettop(L);
	return (nlreq_call(L, &link_sock(L)->ch, &q->r, req));
}
