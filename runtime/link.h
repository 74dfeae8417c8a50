/* link.h: declarations shared by the rtnetlink files only (link.c, route.c, sysctl.c, linkwatch.c), grouped by the file that defines them. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef LUAHA_LINK_H
#define LUAHA_LINK_H

#include <stdint.h>

#include <lua.h>

#include "luaha.h"

struct nl_addr;
struct nl_msg;
struct nl_object;
struct nlmsghdr;
struct nl_sock;
struct rtnl_addr;
struct rtnl_link;

#define LINK_ADDRSTRLEN	64		/* an IPv6 address, "/128" and room to spare */

/* An address or prefix from Lua, parsed before any libnl object exists. */
struct link_prefix {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 bytes[16];
	int		 plen;
};

/*
 * The request socket, shared by the module's functions as their upvalue, so
 * lua_close frees it. Its requests go one at a time (nlreq.c), and a task
 * waits for the answer to its own as an event.
 */
struct link_sock {
	struct nlchan	 ch;		/* the socket's fd, its requests */
	struct nl_sock	*sk;		/* NULL while closed: opened at the next request */
};

/* The links' names by index, read before a dump that names links. */
struct link_names {
	struct link_name {
		int	 index;
		char	 name[16];	/* IFNAMSIZ */
	}		*v;
	size_t		 n, cap;
};

#define LINK_DUMP_LEN	64	/* bytes of a dump's request */

/* A request of luaha.core.link: a change, or a dump into a Lua array. */
struct link_req {
	struct nlreq	 r;		/* first: the userdata is the nlreq */
	char		 what[200];	/* "addr_add 192.0.2.1/24 dev eth0", for messages */
	struct nl_msg	*msg;		/* a change's message, freed with the request */
	int		 dump;		/* a dump's type: RTM_GETLINK, _GETADDR, _GETROUTE */
	int		 names_first;	/* read the links' names first */
	int		 in_dump;	/* the names are read: the dump's answer comes */
	int		(*each)(struct link_req *, struct nlmsghdr *);	/* a message of the dump */
	int		 result;	/* stack index of the array, 0 for a change */
	int		 n;		/* entries in it */
	int		 phase;		/* messages sent */
	int		 tries;		/* dumps read again */
	int		 nomem;
	struct link_names names;
	int		 index;		/* addrs: only this link's, 0 for all */
	uint32_t	 table;		/* routes: only this table's, RT_TABLE_UNSPEC for all */
};

/* link.c */
int	 link_parse(const char *, struct link_prefix *);
struct nl_addr *link_nladdr(const struct link_prefix *);
const char *link_ntop(struct nl_addr *, int, char *, size_t);
const char *link_opt_required(lua_State *, const char *);
const char *link_opt_prefix(lua_State *, const char *, int, struct link_prefix *);
const char *link_family_name(int);
void	 link_setstr(lua_State *, const char *, const char *);
void	 link_setint(lua_State *, const char *, lua_Integer);
void	 link_setbool(lua_State *, const char *, int);
void	 link_pushlink(lua_State *, struct rtnl_link *);
void	 link_pushaddr(lua_State *, struct rtnl_addr *, const char *);
struct nl_object *link_object(struct nlmsghdr *);

/* linkreq.c */
const char *link_nlerror(int);
struct link_sock *link_sock(lua_State *);
void	 link_sock_new(lua_State *);
int	 link_names_add(struct link_names *, struct nlmsghdr *);
const char *link_name(const struct link_names *, int, char *);
size_t	 link_dump_msg(void *, int);
struct link_req *link_req_new(lua_State *, const char *);
int	 link_req_change(lua_State *, struct link_req *, struct nl_msg *);
int	 link_req_dump(lua_State *, struct link_req *, int, int,
	    int (*)(struct link_req *, struct nlmsghdr *));

/* route.c */
extern const luaL_Reg route_funcs[];

/* sysctl.c */
extern const luaL_Reg sysctl_funcs[];

/* linkwatch.c */
extern const luaL_Reg linkwatch_funcs[];
void	 linkwatch_open(lua_State *);

#endif
