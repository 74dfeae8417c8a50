/* linkwatch.c: link.watch: link and address changes from rtnetlink multicast, each handed to a task. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/types.h>

#include <net/if.h>
#include <linux/if.h>		/* IFF_LOWER_UP, which <net/if.h> lacks */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>
#include <linux/rtnetlink.h>

#include "luaha.h"
#include "link.h"

#define WATCH_RCVBUF	(1 << 20)	/* the kernel caps it at net.core.rmem_max */
#define WATCH_BATCH	64		/* datagrams per callback, so others get a turn */

/* What a watcher last saw of a link, so it reports only what changed. */
struct watch_link {
	int		 index;
	unsigned int	 flags;		/* IFF_UP and IFF_LOWER_UP */
	char		 name[IFNAMSIZ];
};

struct watch {
	struct nl_sock		*sk;		/* subscribed to link and address changes */
	struct event		*ev;		/* NULL unless armed */
	lua_State		*L;		/* the main thread */
	int			 self_ref;	/* anchors the watcher while armed */
	int			 idx;		/* its stack index in the call that made it */
	struct link_sock	*ls;		/* to read the links, at first and after an overrun */
	struct nlreq		 sync;		/* that reading, a dump of the links */
	int			 sent;		/* the dump is sent */
	int			 nomem;
	int			 again;		/* events were lost while it ran: read again */
	struct watch_link	*links;
	size_t			 nlinks;
	size_t			 maxlinks;
};

static void
watch_disarm(struct watch *w)
{
	nlreq_cancel(&w->sync);
	if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
		luaL_unref(w->L, LUA_REGISTRYINDEX, w->self_ref);
		w->self_ref = LUA_NOREF;
		loop_unref();
	}
	if (w->sk != NULL) {
		nl_socket_free(w->sk);
		w->sk = NULL;
	}
	free(w->links);
	w->links = NULL;
	w->nlinks = w->maxlinks = 0;
}

/*
 * Records what w knows of a link. Returns 1 when that changed what a policy
 * sees (a new link, a link gone, IFF_UP or IFF_LOWER_UP flipped), 0 for the
 * many RTM_NEWLINK messages about other things, -1 without memory.
 */
static int
watch_note(struct watch *w, struct rtnl_link *link, int gone)
{
	struct watch_link	*l;
	const char		*name = rtnl_link_get_name(link);
	unsigned int		 flags;
	size_t			 i;
	int			 index = rtnl_link_get_ifindex(link);

	flags = rtnl_link_get_flags(link) & (IFF_UP | IFF_LOWER_UP);
	for (i = 0; i < w->nlinks; i++)
		if (w->links[i].index == index)
			break;
	if (gone) {
		if (i < w->nlinks)
			w->links[i] = w->links[--w->nlinks];
		return (1);
	}
	if (i == w->nlinks) {
		if (w->nlinks == w->maxlinks) {
			l = reallocarray(w->links, w->maxlinks + 16, sizeof(*l));
			if (l == NULL)
				return (-1);
			w->links = l;
			w->maxlinks += 16;
		}
		l = &w->links[w->nlinks++];
		l->index = index;
		l->flags = ~flags;		/* so it reads as changed */
	} else
		l = &w->links[i];
	snprintf(l->name, sizeof(l->name), "%s", name != NULL ? name : "");
	if (l->flags == flags)
		return (0);
	l->flags = flags;
	return (1);
}

/* Starts fn(event) as a task with the event table on top of the stack, popping it. */
static void
watch_emit(struct watch *w)
{
	lua_State	*L = w->L;

	lua_rawgeti(L, LUA_REGISTRYINDEX, w->self_ref);
	lua_getiuservalue(L, -1, 1);
	lua_remove(L, -2);
	lua_insert(L, -2);
	task_spawn(L, 1, NULL, 0);
	lua_pop(L, 1);
}

/* Called by nl_msg_parse with the link or address object of one message. */
static void
watch_obj(struct nl_object *o, void *arg)
{
	struct watch		*w = arg;
	struct rtnl_addr	*a;
	const char		*dev;
	char			 name[IFNAMSIZ];
	size_t			 i;
	int			 msgtype = nl_object_get_msgtype(o), family, r;

	if (msgtype == RTM_NEWLINK || msgtype == RTM_DELLINK) {
		r = watch_note(w, (struct rtnl_link *)o, msgtype == RTM_DELLINK);
		if (r == -1)
			log_warnx("link watch: out of memory, a link event is lost");
		if (r != 1)
			return;
		link_pushlink(w->L, (struct rtnl_link *)o);
		link_setstr(w->L, "type", "link");
	} else {
		a = (struct rtnl_addr *)o;
		family = rtnl_addr_get_family(a);
		if (family != AF_INET && family != AF_INET6)
			return;
		/* The kernel removes a link's addresses before the link, so its name is known. */
		for (i = 0, dev = NULL; i < w->nlinks && dev == NULL; i++)
			if (w->links[i].index == rtnl_addr_get_ifindex(a))
				dev = w->links[i].name;
		if (dev == NULL)
			dev = if_indextoname(rtnl_addr_get_ifindex(a), name);
		link_pushaddr(w->L, a, dev);
		link_setstr(w->L, "type", "addr");
	}
	link_setstr(w->L, "action", msgtype == RTM_DELLINK ||
	    msgtype == RTM_DELADDR ? "del" : "new");
	watch_emit(w);
}

static void
watch_msg(struct watch *w, struct nlmsghdr *hdr)
{
	struct nl_msg	*msg;
	int		 err;

	switch (hdr->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		/* Bridge ports report their state as AF_BRIDGE messages: not links of their own. */
		if (hdr->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) ||
		    ((struct ifinfomsg *)NLMSG_DATA(hdr))->ifi_family != AF_UNSPEC)
			return;
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		break;
	default:
		return;
	}
	if ((msg = nlmsg_convert(hdr)) == NULL) {
		log_warnx("link watch: out of memory, an event is lost");
		return;
	}
	nlmsg_set_proto(msg, NETLINK_ROUTE);
	if ((err = nl_msg_parse(msg, watch_obj, w)) < 0)
		log_warnx("link watch: message type %d: %s", hdr->nlmsg_type,
		    nl_geterror(err));
	nlmsg_free(msg);
}

/*
 * Reads every link's state into w through the request socket: a dump of the
 * links, each message noted (watch_note). w->links is emptied when the dump
 * is sent, and filled as it comes; events read meanwhile are noted too, and
 * repeat nothing, as a link is noted once by its index.
 */
static int
watch_sync_step(struct nlreq *r)
{
	struct watch	*w = r->arg;
	uint32_t	 buf[LINK_DUMP_LEN / 4];

	if (w->sent)
		return (0);
	w->sent = 1;
	w->nlinks = 0;
	return (nlreq_send(r, buf, link_dump_msg(buf, RTM_GETLINK)) == -1 ? -1 : 1);
}

static int
watch_sync_reply(struct nlreq *r, struct nlmsghdr *h)
{
	struct watch		*w = r->arg;
	struct nl_object	*o;

	if (h->nlmsg_type != RTM_NEWLINK ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) ||
	    ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_family != AF_UNSPEC)
		return (NL_OK);
	if ((o = link_object(h)) == NULL || watch_note(w, (struct rtnl_link *)o, 0) == -1)
		w->nomem = 1;
	if (o != NULL)
		nl_object_put(o);
	return (w->nomem ? NL_STOP : NL_OK);
}

/* Why the reading of the links failed, in buf; NULL if it did not. */
static const char *
watch_sync_error(struct watch *w, char *buf, size_t len)
{
	struct nlreq	*r = &w->sync;

	if (r->kerr != 0)
		snprintf(buf, len, "%s", strerror(r->kerr));
	else if (r->why != NULL)
		snprintf(buf, len, "%s", r->why);
	else if (w->nomem)
		snprintf(buf, len, "%s", strerror(ENOMEM));
	else
		return (NULL);
	return (buf);
}

/* Sets up the reading of the links, to be called (nlreq_call) or submitted. */
static void
watch_sync_init(struct watch *w)
{
	waiter_close(&w->sync.w);	/* idle: frees the event of an earlier wait */
	nlreq_init(&w->sync);
	w->sync.arg = w;
	w->sync.step = watch_sync_step;
	w->sync.reply = watch_sync_reply;
	w->sent = 0;
	w->nomem = 0;
}

/* The links are read again after events were lost: the policy gets {type="resync"}. */
static void
watch_resynced(struct nlreq *r)
{
	struct watch	*w = r->arg;
	char		 buf[256];

	if (watch_sync_error(w, buf, sizeof(buf)) != NULL)
		log_warnx("link watch: reading the links: %s", buf);
	lua_createtable(w->L, 0, 1);
	link_setstr(w->L, "type", "resync");
	watch_emit(w);
	if (w->again && w->ev != NULL) {
		w->again = 0;
		watch_sync_init(w);
		w->sync.finish = watch_resynced;
		nlreq_submit(&w->ls->ch, &w->sync);
	}
}

/*
 * The kernel dropped messages because we read too slowly (ENOBUFS), or one
 * did not fit: what w knows may be stale. What is still queued is older than
 * what a fresh read gives, so it is dropped, the links are read again (a
 * request of no task, in its turn on the request socket), and then the
 * policy gets {type="resync"} to re-read whatever it keeps.
 */
static void
watch_resync(struct watch *w, int fd)
{
	int	 i;

	log_warnx("link watch: events were lost, re-reading the links");
	for (i = 0; i < 100000; i++)
		if (recv(fd, NULL, 0, MSG_TRUNC | MSG_DONTWAIT) == -1 &&
		    errno != EINTR && errno != ENOBUFS)
			break;
	if (w->sync.state == NLREQ_QUEUED || w->sync.state == NLREQ_SENT) {
		w->again = 1;		/* that read may have begun before the loss */
		return;
	}
	watch_sync_init(w);
	w->sync.finish = watch_resynced;
	nlreq_submit(&w->ls->ch, &w->sync);
}

/* The watcher's socket is readable: each datagram holds one or more messages. */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch		*w = arg;
	struct sockaddr_nl	 sa;
	struct nlmsghdr		*hdr;
	socklen_t		 salen;
	uint32_t		 buf[16384];	/* aligned for nlmsghdr */
	ssize_t			 n;
	int			 i, len;

	(void)what;
	for (i = 0; i < WATCH_BATCH; i++) {
		salen = sizeof(sa);
		n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC,
		    (struct sockaddr *)&sa, &salen);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1 && errno == EINTR)
			continue;
		if ((n == -1 && errno == ENOBUFS) || n > (ssize_t)sizeof(buf)) {
			watch_resync(w, fd);
			continue;
		}
		if (n == -1) {
			log_warn("link watch: recv, watcher stopped");
			watch_disarm(w);
			return;
		}
		if (sa.nl_pid != 0)
			continue;		/* only the kernel speaks for links */
		len = (int)n;
		for (hdr = (struct nlmsghdr *)buf; nlmsg_ok(hdr, len);
		    hdr = nlmsg_next(hdr, &len))
			watch_msg(w, hdr);
	}
}

/* The links are read: the watcher is armed and returned, or nil and "watch: <reason>". */
static int
watch_created(lua_State *L, struct nlreq *r)
{
	struct watch	*w = r->arg;
	char		 buf[256];

	if (watch_sync_error(w, buf, sizeof(buf)) != NULL) {
		watch_disarm(w);
		return (luaha_fail(L, "watch: %s", buf));
	}
	w->ev = event_new(loop_base(), nl_socket_get_fd(w->sk), EV_READ | EV_PERSIST,
	    watch_cb, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1) {
		if (w->ev != NULL)
			event_free(w->ev);
		w->ev = NULL;
		watch_disarm(w);
		return (luaha_fail(L, "watch: cannot add an event"));
	}
	lua_pushvalue(L, w->idx);
	w->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	loop_ref();
	lua_pushvalue(L, w->idx);
	return (1);
}

/*
 * watch(fn): runs fn(event) as a task when a link goes up or down, gains or
 * loses its carrier, appears or goes, and when an address is added or
 * removed. Returns the watcher, which keeps the program alive until
 * cancelled. Waits in the calling task while it reads the links.
 */
static int
link_watch(lua_State *L)
{
	struct link_sock	*ls = link_sock(L);
	struct watch		*w;
	int			 err;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	w = lua_newuserdatauv(L, sizeof(*w), 2);
	memset(w, 0, sizeof(*w));
	w->self_ref = LUA_NOREF;
	w->idx = lua_gettop(L);
	luaL_setmetatable(L, "luaha.link_watch");
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_setiuservalue(L, -2, 2);		/* the request socket outlives w */
	w->L = loop_main_thread(L);
	w->ls = ls;

	/* Subscribe first, then read the links: no change falls in between. */
	if ((w->sk = nl_socket_alloc()) == NULL)
		return (luaha_fail(L, "watch: %s", strerror(ENOMEM)));
	if ((err = nl_connect(w->sk, NETLINK_ROUTE)) < 0 ||
	    (err = nl_socket_add_memberships(w->sk, RTNLGRP_LINK,
	    RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, 0)) < 0 ||
	    (err = nl_socket_set_nonblocking(w->sk)) < 0 ||
	    (err = nl_socket_set_buffer_size(w->sk, WATCH_RCVBUF, 0)) < 0)
		return (luaha_fail(L, "watch: %s", link_nlerror(err)));
	watch_sync_init(w);
	w->sync.push = watch_created;
	return (nlreq_call(L, &ls->ch, &w->sync, w->idx));
}

/* cancel(): returns true if the watcher was still armed. */
static int
link_watch_cancel(lua_State *L)
{
	struct watch	*w = luaL_checkudata(L, 1, "luaha.link_watch");

	lua_pushboolean(L, w->ev != NULL);
	watch_disarm(w);
	return (1);
}

static int
link_watch_gc(lua_State *L)
{
	struct watch	*w = luaL_checkudata(L, 1, "luaha.link_watch");

	watch_disarm(w);
	waiter_close(&w->sync.w);
	return (0);
}

static int
link_watch_tostring(lua_State *L)
{
	struct watch	*w = luaL_checkudata(L, 1, "luaha.link_watch");

	lua_pushfstring(L, "link watcher (%s)", w->ev != NULL ? "armed" : "cancelled");
	return (1);
}

static const luaL_Reg watch_methods[] = {
	{ "cancel", link_watch_cancel },
	{ NULL, NULL }
};

static const luaL_Reg watch_meta[] = {
	{ "__gc", link_watch_gc },
	{ "__close", link_watch_gc },
	{ "__tostring", link_watch_tostring },
	{ NULL, NULL }
};

const luaL_Reg linkwatch_funcs[] = {
	{ "watch", link_watch },
	{ NULL, NULL }
};

/* Creates the watcher's metatable; called by luaopen_luaha_core_link. */
void
linkwatch_open(lua_State *L)
{
	luaL_newmetatable(L, "luaha.link_watch");
	luaL_setfuncs(L, watch_meta, 0);
	luaL_newlib(L, watch_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}
