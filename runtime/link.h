/* link.h: declarations shared by the rtnetlink files only (link.c, route.c, sysctl.c, linkwatch.c), grouped by the file that defines them. */
#ifndef LUAHA_LINK_H
#define LUAHA_LINK_H

#include <stdint.h>

#include <lua.h>

struct nl_addr;
struct nl_cache;
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
 * lua_close frees it. A request blocks until the kernel answers, which takes
 * microseconds: none of these functions yields.
 */
struct link_sock {
	struct nl_sock	*sk;		/* opened on first use; NULL when in doubt */
	int		 kerr;		/* errno of the kernel's NLMSG_ERROR, 0 if none */
	char		 kmsg[160];	/* its extended ack message, "" if none */
};

/* link.c */
struct link_sock *link_sock(lua_State *);
int	 link_connect(struct link_sock *);
const char *link_reason(struct link_sock *, int, char *, size_t);
int	 link_fail(lua_State *, struct link_sock *, int, const char *);
int	 link_parse(const char *, struct link_prefix *);
struct nl_addr *link_nladdr(const struct link_prefix *);
const char *link_ntop(struct nl_addr *, int, char *, size_t);
const char *link_opt_required(lua_State *, const char *);
const char *link_opt_prefix(lua_State *, const char *, int, struct link_prefix *);
const char *link_family_name(int);
const char *link_name(struct nl_cache *, int, char *);
void	 link_setstr(lua_State *, const char *, const char *);
void	 link_setint(lua_State *, const char *, lua_Integer);
void	 link_setbool(lua_State *, const char *, int);
void	 link_pushlink(lua_State *, struct rtnl_link *);
void	 link_pushaddr(lua_State *, struct rtnl_addr *, const char *);

/* route.c */
extern const luaL_Reg route_funcs[];

/* sysctl.c */
extern const luaL_Reg sysctl_funcs[];

/* linkwatch.c */
extern const luaL_Reg linkwatch_funcs[];
void	 linkwatch_open(lua_State *);

#endif
