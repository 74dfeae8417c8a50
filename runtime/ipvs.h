/* ipvs.h: declarations shared by the ipvs*.c files only, grouped by the file that defines them. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef LUAHA_IPVS_H
#define LUAHA_IPVS_H

#include <sys/types.h>

#include <linux/ip_vs.h>

#include <stdint.h>

#include <lua.h>
#include <lauxlib.h>

struct nl_msg;
struct nl_sock;
struct nlattr;
struct nlmsghdr;

#define IPVS_BATCH_MAX	256	/* messages per sendmsg; bounds the errors queued for us */
#define IPVS_MSG_MAX	512	/* bytes: one operation's message, with room to spare */

/* A service as the kernel identifies and configures it. */
struct ipvs_svc {
	uint16_t	 af;
	uint16_t	 protocol;	/* IPPROTO_*, 0 for fwmark services */
	uint8_t		 addr[16];	/* union nf_inet_addr */
	uint16_t	 port;		/* host order */
	uint32_t	 fwmark;
	char		 sched[IP_VS_SCHEDNAME_MAXLEN];
	char		 pe[IP_VS_PENAME_MAXLEN];
	uint32_t	 flags;
	uint32_t	 timeout;	/* persistence, seconds */
	uint32_t	 netmask;	/* IPv4 mask (network order) or IPv6 prefix length */
};

struct ipvs_dest {
	uint16_t	 af;
	uint8_t		 addr[16];
	uint16_t	 port;		/* host order */
	uint32_t	 fwd;		/* IP_VS_CONN_F_* */
	int32_t		 weight;
	uint32_t	 u_thresh;
	uint32_t	 l_thresh;
};

/* The service flags a table compares and sends; the kernel adds its own (hashed). */
#define IPVS_SVC_FLAGS	(IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_ONEPACKET | \
	IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3)

enum ipvs_op {
	OP_ADD_SERVICE, OP_EDIT_SERVICE, OP_DEL_SERVICE,
	OP_ADD_DEST, OP_EDIT_DEST, OP_DEL_DEST
};

/*
 * Requests are written straight into a buffer (one request, or a batch of
 * hundreds) rather than built one nl_msg at a time: an apply of thousands
 * of operations would spend more on libnl's allocations than the kernel
 * spends carrying them out.
 */
struct ipvs_wbuf {
	unsigned char	*p;		/* 4-byte aligned */
	size_t		 len;		/* bytes written */
	size_t		 cap;
	int		 family;	/* the IPVS generic netlink family, for the headers */
};

/* Handles one message of a reply; returns NL_OK, or NL_STOP to ignore the rest. */
typedef int (*ipvs_parse_fn)(struct nlmsghdr *, void *);

/*
 * What ipvs.apply works on: a whole table (desired, or the kernel's) held
 * in C rather than as thousands of Lua tables, indexed by identity for the
 * difference, and the operations of that difference. A table is filled
 * once (load, read or merge); afterwards only table:patch changes it (the
 * services of a partial apply replaced, ipvspatch.c), which counts a new
 * generation: operations point into their tables by index, so they refuse
 * to be used after a patch. The ops userdata keeps its tables alive.
 */
struct ipvs_entry {
	struct ipvs_svc	 s;
	size_t		 first;		/* its destinations: dests[first .. first + n - 1] */
	size_t		 n;
	size_t		 cap;		/* dests[first + n .. first + cap - 1] are room for more */
};

/*
 * Open addressing over an array of the table: slot = 1 + index, 0 free,
 * IPVS_SLOT_GONE a destination a patch removed (probing goes on past it).
 */
struct ipvs_index {
	uint32_t	*slot;
	size_t		 size;		/* a power of 2, more than twice count */
	size_t		 count;
	size_t		 gone;		/* IPVS_SLOT_GONE slots */
};
#define IPVS_SLOT_GONE	UINT32_MAX

struct ipvs_table {
	struct ipvs_entry *svcs;
	size_t		 nsvcs, svcs_cap;
	struct ipvs_dest *dests;
	size_t		 ndests, dests_cap;	/* ndests: used, holes left by patches included */
	size_t		 holes;		/* slots of dests[0 .. ndests - 1] in no service's room */
	struct ipvs_index by_svc;	/* services by identity */
	struct ipvs_index by_dest;	/* destinations by service and identity */
	int		 complete;	/* filled: may be compared; changed only by patch */
	int		 unindexed;	/* destinations are indexed once all are in */
	int		 closed;
	int		 listed;	/* read: the services are in, next is the next to dump */
	size_t		 next;
	unsigned int	 gen;		/* patches so far */
};

#define IPVS_TABLE_MT	"luaha.ipvs.table"

/* What a dump into a Lua array collects: the array is on top of L's stack. */
struct ipvs_dump {
	lua_State	*L;
	int		 n;		/* entries pushed */
	const struct ipvs_svc *svc;	/* the service whose destinations come */
};

/*
 * Which services of the current table, besides those the desired one names,
 * are the caller's to remove (see ipvs_owner_check): every one, or those a
 * third table names, or none.
 */
struct ipvs_owner {
	int			 all;
	const struct ipvs_table	*t;	/* when not all: the caller's, or NULL */
};

/* ipvsnl.c */
#define IPVS_WAIT_MS	5000	/* the longest wait for the kernel's answer */
#define IPVS_DAEMON_WAIT_MS 200	/* the same when stopping a sync daemon (see ipvsconf.c) */
#define IPVS_SOCK_MT	"luaha.ipvs.sock"
#define IPVS_REQ_MT	"luaha.ipvs.request"

/*
 * The generic netlink socket to IPVS: one object, made by luaopen and shared
 * by the module's functions and the methods of its tables and operations as
 * their upvalue, so that lua_close frees it. Its requests go one at a time
 * (nlreq.c), and a task waits for the answer to its own as an event.
 */
struct ipvs_sock {
	struct nlchan	 ch;		/* the socket's fd, its requests, the buffer answers are read into */
	struct nl_sock	*sk;		/* libnl's, for the family's resolution; NULL while closed */
	int		 family;	/* the IPVS generic netlink family, once open */
	/*
	 * A batch is written here when its turn comes, allocated once: in UML
	 * the page faults of a fresh buffer cost more than the batch.
	 */
	unsigned char	*sbuf;		/* IPVS_BATCH_MAX requests */
};

/* A request of one message, whose answer is an acknowledgement or a dump. */
struct ipvs_req {
	struct nlreq	 r;		/* first: the userdata is the nlreq */
	int		 cmd;		/* errors are said as ipvsadm says them for it */
	char		 what[200];	/* "add service TCP 192.0.2.10:80", for messages */
	int		 result;	/* stack index of what success returns, 0: true */
	int		 quiet_ok;	/* no answer is success: stopping a sync daemon */
	int		 nomem;		/* a reply could not be kept */
	int		 sent;
	ipvs_parse_fn	 parse;		/* each message of the answer, with parse_arg */
	void		*parse_arg;
	struct ipvs_dump dump;		/* where a dump into Lua goes */
	struct ipvs_svc	 svc;		/* the service whose destinations are dumped */
	size_t		 len;
	uint32_t	 msg[IPVS_MSG_MAX / 4];	/* the request */
};

void	 ipvs_sock_new(lua_State *);
struct ipvs_sock *ipvs_sock(lua_State *);
struct ipvs_sock *ipvs_need(lua_State *);
const char *ipvs_strerror(int, int);
void	 ipvs_batch_wbuf(struct ipvs_sock *, struct ipvs_wbuf *);
int	 ipvs_batch_fail(lua_State *, const char *);
void	*ipvs_req_alloc(lua_State *, size_t);
struct ipvs_req *ipvs_req_new(lua_State *, int, const char *, struct ipvs_wbuf *,
	    struct nl_msg *);
void	 ipvs_req_parse(struct ipvs_req *, ipvs_parse_fn, void *);
int	 ipvs_req_call(lua_State *, struct ipvs_sock *, int);

/* ipvsmsg.c */
extern const uint8_t ipvs_op_cmds[];
struct nl_msg *ipvs_msg(lua_State *, const struct ipvs_sock *, int, int);
int	 ipvs_wmsg(struct ipvs_wbuf *, int, int, unsigned int,
	    const struct ipvs_svc *, int, const struct ipvs_dest *, int);
int	 ipvs_wop(struct ipvs_wbuf *, enum ipvs_op, int, unsigned int,
	    const struct ipvs_svc *, const struct ipvs_dest *);
int	 ipvs_parse_service(struct nlmsghdr *, struct ipvs_svc *, struct nlattr **);
int	 ipvs_parse_dest(struct nlmsghdr *, int, struct ipvs_dest *, struct nlattr **);

/* ipvsconf.c */
extern const luaL_Reg ipvsconf_funcs[];

/* ipvslua.c */
int	 ipvs_name_index(lua_State *, int, const char *const [], const char *);
void	 ipvs_format_addr(int, const uint8_t [16], uint16_t, char *, size_t);
lua_Integer ipvs_field_int(lua_State *, int, const char *, lua_Integer,
	    lua_Integer, lua_Integer);
const char *ipvs_field_string(lua_State *, int, const char *);
void	 ipvs_check_service(lua_State *, int, struct ipvs_svc *);
void	 ipvs_check_dest(lua_State *, int, const struct ipvs_svc *, struct ipvs_dest *);
void	 ipvs_svc_desc(const struct ipvs_svc *, char *, size_t);
void	 ipvs_op_what(enum ipvs_op, const struct ipvs_svc *, const struct ipvs_dest *,
	    char *, size_t);
void	 ipvs_set_int(lua_State *, const char *, lua_Integer);
void	 ipvs_set_string(lua_State *, const char *, const char *);
void	 ipvs_push_service(lua_State *, const struct ipvs_svc *);
void	 ipvs_push_dest(lua_State *, const struct ipvs_dest *);

/* ipvstable.c */
int	 ipvs_grow(void **, size_t *, size_t, size_t);
int	 ipvs_index_reserve(struct ipvs_table *, struct ipvs_index *, int, size_t);
int	 ipvs_table_add_svc(struct ipvs_table *, const struct ipvs_svc *);
int	 ipvs_table_add_dest(struct ipvs_table *, size_t, const struct ipvs_dest *);
int	 ipvs_table_room(struct ipvs_table *, size_t);
uint32_t ipvs_dest_hash(size_t, const struct ipvs_dest *);
ssize_t	 ipvs_find_svc(const struct ipvs_table *, const struct ipvs_svc *);
ssize_t	 ipvs_find_dest(const struct ipvs_table *, size_t, const struct ipvs_dest *);
struct ipvs_table *ipvs_table_check(lua_State *, int, int);
int	 ipvs_new_table(lua_State *);
int	 ipvs_merge(lua_State *);
void	 ipvs_table_open(lua_State *, int);

/* ipvspatch.c */
int	 ipvs_table_patch(lua_State *);

/* ipvsread.c */
int	 ipvs_table_read(lua_State *);

/* ipvsops.c */
void	 ipvs_owner_check(lua_State *, int, struct ipvs_owner *);
int	 ipvs_owns(const struct ipvs_owner *, const struct ipvs_svc *);
int	 ipvs_diff(lua_State *);
void	 ipvs_ops_open(lua_State *, int);

#endif
