/* ipvs.c: the kernel's IPVS table over generic netlink: services, destinations, batches, daemons; apply's tables and difference. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "luaha.h"

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

static const char *const ipvs_op_names[] = {
	"add_service", "edit_service", "del_service",
	"add_dest", "edit_dest", "del_dest", NULL
};

static const uint8_t ipvs_op_cmds[] = {
	IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_SERVICE, IPVS_CMD_DEL_SERVICE,
	IPVS_CMD_NEW_DEST, IPVS_CMD_SET_DEST, IPVS_CMD_DEL_DEST
};

static const char *const ipvs_op_verbs[] = {
	"add service", "edit service", "delete service",
	"add destination", "edit destination", "delete destination"
};

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

#define IPVS_RECV_MAX	2	/* datagrams per receive call */
#define IPVS_RECV_SIZE	32768	/* holds any datagram of ours: a dump's are at most 32 KiB */

static struct nl_sock	*ipvs_sk;	/* one socket for every request */
static int		 ipvs_family;	/* resolved once */
/*
 * Every reply is read into this one buffer, allocated with the socket:
 * libnl allocates a buffer per receive, and in UML the page faults of a
 * fresh 64 KiB buffer cost more than the dump it receives.
 */
static unsigned char	*ipvs_rbuf;
static unsigned char	*ipvs_sbuf;	/* likewise, the requests of a batch */

/* The datagrams of one receive call, in ipvs_rbuf. */
struct ipvs_rx {
	int		 n;
	int		 len[IPVS_RECV_MAX];
};

/* Handles one message of a reply; returns NL_OK, or NL_STOP to ignore the rest. */
typedef int (*ipvs_parse_fn)(struct nlmsghdr *, void *);

static const char *
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
 * Opens the socket and resolves the family once. Errors in the kernel's
 * acks are not echoed with their payload (NETLINK_CAP_ACK): a failing batch
 * must not overflow our receive buffer.
 */
static const char *
ipvs_open(void)
{
	int	 one = 1, r;

	if (ipvs_sk != NULL)
		return (NULL);
	if ((ipvs_rbuf == NULL &&
	    (ipvs_rbuf = malloc(IPVS_RECV_MAX * IPVS_RECV_SIZE)) == NULL) ||
	    (ipvs_sbuf == NULL &&
	    (ipvs_sbuf = malloc(IPVS_BATCH_MAX * IPVS_MSG_MAX)) == NULL))
		return ("out of memory");
	if ((ipvs_sk = nl_socket_alloc()) == NULL)
		return ("cannot allocate a netlink socket");
	if ((r = genl_connect(ipvs_sk)) < 0 ||
	    (r = nl_socket_set_buffer_size(ipvs_sk, 1 << 20, 1 << 20)) < 0) {
		nl_socket_free(ipvs_sk);
		ipvs_sk = NULL;
		return (nl_geterror(r));
	}
	/*
	 * libnl's automatic ACK would leave an ACK queued behind every reply
	 * that is not read: commands that only acknowledge ask for one
	 * themselves (ipvs_simple). Replies are read by ipvs_recv, except
	 * genl_ctrl_resolve's: peeking doubles its receive calls.
	 */
	nl_socket_disable_auto_ack(ipvs_sk);
	nl_socket_disable_msg_peek(ipvs_sk);
	if ((r = nl_socket_set_msg_buf_size(ipvs_sk, 65536)) < 0)
		log_warnx("ipvs: message buffer: %s", nl_geterror(r));
	if (setsockopt(nl_socket_get_fd(ipvs_sk), SOL_NETLINK, NETLINK_CAP_ACK,
	    &one, sizeof(one)) == -1)
		log_warn("ipvs: setsockopt NETLINK_CAP_ACK");
	if ((ipvs_family = genl_ctrl_resolve(ipvs_sk, IPVS_GENL_NAME)) < 0) {
		nl_socket_free(ipvs_sk);
		ipvs_sk = NULL;
		return ("IPVS is not available in this kernel (is ip_vs loaded?)");
	}
	return (NULL);
}

/* Raises unless the socket is open: only a kernel without IPVS says no here. */
static void
ipvs_need(lua_State *L)
{
	const char	*err;

	if ((err = ipvs_open()) != NULL)
		luaL_error(L, "ipvs: %s", err);
}

static struct nl_msg *
ipvs_msg(lua_State *L, int cmd, int flags)
{
	struct nl_msg	*msg;

	if ((msg = nlmsg_alloc()) == NULL)
		luaL_error(L, "ipvs: out of memory");
	if (genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, ipvs_family, 0, flags,
	    cmd, IPVS_GENL_VERSION) == NULL) {
		nlmsg_free(msg);
		luaL_error(L, "ipvs: cannot build a message");
	}
	return (msg);
}

/*
 * Reads the datagrams waiting, at least one, at most IPVS_RECV_MAX, into
 * ipvs_rbuf: 0, or -1 with why set. One call takes both the last part of a
 * dump and its end: the kernel writes the next part of a dump as the
 * previous one is read, so it is there for the second datagram. A system
 * call is what UML makes expensive, and a table is read with one dump per
 * service.
 */
static int
ipvs_recv(struct ipvs_rx *rx, const char **why)
{
	struct mmsghdr		 mm[IPVS_RECV_MAX];
	struct iovec		 iov[IPVS_RECV_MAX];
	int			 i, n;

	memset(mm, 0, sizeof(mm));
	for (i = 0; i < IPVS_RECV_MAX; i++) {
		iov[i].iov_base = ipvs_rbuf + i * IPVS_RECV_SIZE;
		iov[i].iov_len = IPVS_RECV_SIZE;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	do
		n = recvmmsg(nl_socket_get_fd(ipvs_sk), mm, IPVS_RECV_MAX,
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
static int
ipvs_request(struct nl_msg *msg, ipvs_parse_fn parse, void *arg,
    const char **why)
{
	struct nlmsghdr	*h = nlmsg_hdr(msg);
	struct ipvs_rx	 rx;
	unsigned int	 seq = nl_socket_use_seq(ipvs_sk);
	int		 kerr = 0, done = 0, stop = 0, i, n, r;

	*why = NULL;
	h->nlmsg_seq = seq;
	h->nlmsg_pid = 0;
	h->nlmsg_flags |= NLM_F_REQUEST;
	r = nl_sendto(ipvs_sk, h, h->nlmsg_len);
	nlmsg_free(msg);
	if (r < 0) {
		*why = nl_geterror(r);
		return (-1);
	}
	while (!done) {
		if (ipvs_recv(&rx, why) == -1)
			return (-1);
		for (i = 0; i < rx.n && !done; i++) {
			h = (struct nlmsghdr *)(ipvs_rbuf + i * IPVS_RECV_SIZE);
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
static int
ipvs_fail(lua_State *L, int cmd, int err, const char *why, const char *what)
{
	return (luaha_fail(L, "%s: %s", what, err > 0 ?
	    ipvs_strerror(cmd, err) : why));
}

/* Sends a command that only acknowledges: true or nil, "<what>: <reason>". */
static int
ipvs_simple(lua_State *L, struct nl_msg *msg, int cmd, const char *what)
{
	const char	*why;
	int		 err;

	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	if ((err = ipvs_request(msg, NULL, NULL, &why)) != 0)
		return (ipvs_fail(L, cmd, err, why, what));
	return (luaha_ok(L));
}

/* The index in names of the string at idx; raises naming what it is otherwise. */
static int
ipvs_name_index(lua_State *L, int idx, const char *const names[], const char *what)
{
	const char	*s = lua_tostring(L, idx);
	int		 i;

	for (i = 0; s != NULL && names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return (i);
	return (luaL_error(L, "ipvs: unknown %s \"%s\"", what, s != NULL ? s :
	    luaL_typename(L, idx)));
}

/* Reads an address string into a 16-byte nf_inet_addr; returns the family or 0. */
static int
ipvs_parse_addr(const char *s, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return (AF_INET);
	if (inet_pton(AF_INET6, s, addr) == 1)
		return (AF_INET6);
	return (0);
}

static void
ipvs_format_addr(int af, const uint8_t addr[16], uint16_t port, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	inet_ntop(af, addr, a, sizeof(a));
	snprintf(buf, len, af == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* The integer at idx, the value of field; def if it is nil. */
static lua_Integer
ipvs_value_int(lua_State *L, int idx, const char *field, lua_Integer def,
    lua_Integer min, lua_Integer max)
{
	lua_Integer	 v;
	int		 isnum;

	if (lua_isnil(L, idx))
		return (def);
	v = lua_tointegerx(L, idx, &isnum);
	if (!isnum || v < min || v > max)
		luaL_error(L, "ipvs: %s must be an integer from %I to %I",
		    field, min, max);
	return (v);
}

static lua_Integer
ipvs_field_int(lua_State *L, int idx, const char *field, lua_Integer def,
    lua_Integer min, lua_Integer max)
{
	lua_Integer	 v;

	lua_getfield(L, idx, field);
	v = ipvs_value_int(L, -1, field, def, min, max);
	lua_pop(L, 1);
	return (v);
}

static const char *
ipvs_field_string(lua_State *L, int idx, const char *field)
{
	const char	*s;

	if (lua_getfield(L, idx, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return (NULL);
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "ipvs: %s must be a string", field);
	s = lua_tostring(L, -1);
	lua_pop(L, 1);		/* the table still holds it */
	return (s);
}

/* The fields a service or destination may have: its settings, and what services() adds. */
static const char *const ipvs_service_keys[] = {
	"protocol", "address", "port", "fwmark", "family", "scheduler",
	"persistent", "netmask", "flags", "pe", "dests", "key", "stats", NULL
};
static const char *const ipvs_dest_keys[] = {
	"address", "port", "weight", "forward", "u_threshold", "l_threshold",
	"key", "active_conns", "inactive_conns", "persist_conns", "stats", NULL
};
#define IPVS_DEST_FIELDS	6	/* the first of ipvs_dest_keys are its settings */

/* Raises on a misspelt field: a typo must not silently become a default. */
static void
ipvs_check_keys(lua_State *L, int idx, const char *const valid[], const char *what)
{
	const char	*key;
	int		 i;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		for (i = 0; key != NULL && valid[i] != NULL; i++)
			if (strcmp(valid[i], key) == 0)
				break;
		if (key == NULL || valid[i] == NULL)
			luaL_error(L, "ipvs: unknown %s field '%s'", what,
			    key != NULL ? key : luaL_typename(L, -1));
	}
}

static const struct {
	const char	*name;
	uint32_t	 flag;
} ipvs_flag_names[] = {
	{ "ops", IP_VS_SVC_F_ONEPACKET },
	{ "sh-fallback", IP_VS_SVC_F_SCHED_SH_FALLBACK },
	{ "sh-port", IP_VS_SVC_F_SCHED_SH_PORT },
	{ "flag-1", IP_VS_SVC_F_SCHED1 },
	{ "flag-2", IP_VS_SVC_F_SCHED2 },
	{ "flag-3", IP_VS_SVC_F_SCHED3 },
	{ NULL, 0 }
};

/*
 * Reads the service table at idx: {protocol=, address=, port=} or
 * {fwmark=, family=}, and scheduler=, persistent=, netmask=, flags=, pe=.
 * Bad fields are programmer errors and raise.
 */
static void
ipvs_check_service(lua_State *L, int idx, struct ipvs_svc *s)
{
	static const char *const protos[] = { "tcp", "udp", "sctp", NULL };
	static const int proto_nums[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	const char	*addr, *proto, *family, *sched, *pe, *mask;
	int		 i, j;

	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	ipvs_check_keys(L, idx, ipvs_service_keys, "service");
	memset(s, 0, sizeof(*s));
	s->fwmark = (uint32_t)ipvs_field_int(L, idx, "fwmark", 0, 0, UINT32_MAX);
	addr = ipvs_field_string(L, idx, "address");
	if (s->fwmark != 0) {
		if (addr != NULL)
			luaL_error(L, "ipvs: a service has an fwmark or an address, not both");
		family = ipvs_field_string(L, idx, "family");
		if (family == NULL || strcmp(family, "inet") == 0)
			s->af = AF_INET;
		else if (strcmp(family, "inet6") == 0)
			s->af = AF_INET6;
		else
			luaL_error(L, "ipvs: unknown family \"%s\" (inet, inet6)", family);
	} else {
		if (addr == NULL)
			luaL_error(L, "ipvs: a service needs an address or an fwmark");
		if ((s->af = ipvs_parse_addr(addr, s->addr)) == 0)
			luaL_error(L, "ipvs: \"%s\" is not an IPv4 or IPv6 address", addr);
		proto = ipvs_field_string(L, idx, "protocol");
		for (i = 0; protos[i] != NULL; i++)
			if (strcmp(protos[i], proto != NULL ? proto : "tcp") == 0)
				break;
		if (protos[i] == NULL)
			luaL_error(L, "ipvs: unknown protocol \"%s\" (tcp, udp, sctp)", proto);
		s->protocol = proto_nums[i];
		s->port = (uint16_t)ipvs_field_int(L, idx, "port", 0, 0, 65535);
	}
	sched = ipvs_field_string(L, idx, "scheduler");
	if (sched == NULL)
		sched = "wlc";
	if (strlen(sched) == 0 || strlen(sched) >= sizeof(s->sched))
		luaL_error(L, "ipvs: bad scheduler name \"%s\"", sched);
	strcpy(s->sched, sched);
	if ((pe = ipvs_field_string(L, idx, "pe")) != NULL) {
		if (strlen(pe) >= sizeof(s->pe))
			luaL_error(L, "ipvs: bad persistence engine \"%s\"", pe);
		strcpy(s->pe, pe);
	}
	if (lua_getfield(L, idx, "persistent") == LUA_TBOOLEAN)
		s->timeout = lua_toboolean(L, -1) ? 300 : 0;
	else if (!lua_isnil(L, -1))
		s->timeout = (uint32_t)ipvs_field_int(L, idx, "persistent", 0, 0,
		    UINT32_MAX);
	lua_pop(L, 1);
	if (s->timeout > 0)
		s->flags |= IP_VS_SVC_F_PERSISTENT;
	s->netmask = s->af == AF_INET6 ? 128 : 0xffffffff;
	if (lua_getfield(L, idx, "netmask") != LUA_TNIL) {
		if (s->af == AF_INET && (mask = lua_tostring(L, -1)) != NULL &&
		    lua_type(L, -1) == LUA_TSTRING) {
			if (inet_pton(AF_INET, mask, &s->netmask) != 1)
				luaL_error(L, "ipvs: bad netmask \"%s\"", mask);
		} else if (s->af == AF_INET6 && lua_isinteger(L, -1) &&
		    lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= 128)
			s->netmask = (uint32_t)lua_tointeger(L, -1);
		else
			luaL_error(L, "ipvs: netmask must be a dotted IPv4 mask, "
			    "or a prefix length for IPv6");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, idx, "flags") != LUA_TNIL) {
		if (!lua_istable(L, -1))
			luaL_error(L, "ipvs: flags must be an array of names");
		for (i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
			const char *f = lua_tostring(L, -1);

			for (j = 0; f != NULL && ipvs_flag_names[j].name != NULL; j++)
				if (strcmp(ipvs_flag_names[j].name, f) == 0)
					break;
			if (f == NULL || ipvs_flag_names[j].name == NULL)
				luaL_error(L, "ipvs: unknown service flag \"%s\" "
				    "(ops, sh-fallback, sh-port, flag-1..3)",
				    f != NULL ? f : "?");
			s->flags |= ipvs_flag_names[j].flag;
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/*
 * Reads the destination table at idx: {address=, port=, weight=, forward=,
 * u_threshold=, l_threshold=}; port defaults to the service's.
 */
static void
ipvs_check_dest(lua_State *L, int idx, const struct ipvs_svc *s, struct ipvs_dest *d)
{
	static const char *const fwds[] = {
		"dr", "gate", "route", "nat", "masq", "tun", "ipip", "local", NULL
	};
	static const uint32_t fwd_flags[] = {
		IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_DROUTE,
		IP_VS_CONN_F_MASQ, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
		IP_VS_CONN_F_TUNNEL, IP_VS_CONN_F_LOCALNODE
	};
	const char	*addr, *fwd, *key;
	int		 i, top;

	/*
	 * One walk over the fields, each setting kept on the stack, rather
	 * than a lookup per setting: an apply reads tens of thousands. The
	 * checks then go in the order of the fields' documentation.
	 */
	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	top = lua_gettop(L);
	luaL_checkstack(L, IPVS_DEST_FIELDS + 3, NULL);
	lua_settop(L, top + IPVS_DEST_FIELDS);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		for (i = 0; key != NULL && ipvs_dest_keys[i] != NULL; i++)
			if (key[0] == ipvs_dest_keys[i][0] &&
			    strcmp(ipvs_dest_keys[i], key) == 0)
				break;
		if (key == NULL || ipvs_dest_keys[i] == NULL)
			luaL_error(L, "ipvs: unknown destination field '%s'",
			    key != NULL ? key : luaL_typename(L, -2));
		if (i < IPVS_DEST_FIELDS)
			lua_copy(L, -1, top + 1 + i);
		lua_pop(L, 1);
	}
	memset(d, 0, sizeof(*d));
	if (lua_isnil(L, top + 1))
		luaL_error(L, "ipvs: a destination needs an address");
	if (lua_type(L, top + 1) != LUA_TSTRING)
		luaL_error(L, "ipvs: address must be a string");
	addr = lua_tostring(L, top + 1);
	if ((d->af = ipvs_parse_addr(addr, d->addr)) == 0)
		luaL_error(L, "ipvs: \"%s\" is not an IPv4 or IPv6 address", addr);
	d->port = (uint16_t)ipvs_value_int(L, top + 2, "port", s->port, 0, 65535);
	d->weight = (int32_t)ipvs_value_int(L, top + 3, "weight", 1, 0, INT32_MAX);
	d->u_thresh = (uint32_t)ipvs_value_int(L, top + 5, "u_threshold", 0, 0,
	    UINT32_MAX);
	d->l_thresh = (uint32_t)ipvs_value_int(L, top + 6, "l_threshold", 0, 0,
	    UINT32_MAX);
	if (!lua_isnil(L, top + 4) && lua_type(L, top + 4) != LUA_TSTRING)
		luaL_error(L, "ipvs: forward must be a string");
	fwd = lua_isnil(L, top + 4) ? "dr" : lua_tostring(L, top + 4);
	for (i = 0; fwds[i] != NULL; i++)
		if (strcmp(fwds[i], fwd) == 0)
			break;
	if (fwds[i] == NULL)
		luaL_error(L, "ipvs: unknown forward method \"%s\" (dr, gate, route, "
		    "nat, masq, tun, ipip, local)", fwd);
	lua_settop(L, top);
	d->fwd = fwd_flags[i];
}

/* "TCP 192.0.2.10:80", "UDP [2001:db8::53]:53", "FWM 10 IPv6": a service in messages. */
static void
ipvs_svc_desc(const struct ipvs_svc *s, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN + 8];

	if (s->fwmark != 0) {
		snprintf(buf, len, "FWM %u%s", s->fwmark, s->af == AF_INET6 ? " IPv6" : "");
		return;
	}
	ipvs_format_addr(s->af, s->addr, s->port, a, sizeof(a));
	snprintf(buf, len, "%s %s", s->protocol == IPPROTO_TCP ? "TCP" :
	    s->protocol == IPPROTO_UDP ? "UDP" : "SCTP", a);
}

/* "add destination TCP 192.0.2.10:80 -> 198.51.100.11:80": what an operation does. */
static void
ipvs_op_what(enum ipvs_op op, const struct ipvs_svc *s, const struct ipvs_dest *d,
    char *buf, size_t len)
{
	char	 sd[96], dd[INET6_ADDRSTRLEN + 8];

	ipvs_svc_desc(s, sd, sizeof(sd));
	if (op >= OP_ADD_DEST) {
		ipvs_format_addr(d->af, d->addr, d->port, dd, sizeof(dd));
		snprintf(buf, len, "%s %s -> %s", ipvs_op_verbs[op], sd, dd);
	} else
		snprintf(buf, len, "%s %s", ipvs_op_verbs[op], sd);
}

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
};

/* Appends an attribute (len 0 and data NULL for a nest); NULL when it does not fit. */
static struct nlattr *
ipvs_wattr(struct ipvs_wbuf *w, int type, const void *data, size_t len)
{
	struct nlattr	*a;
	size_t		 total = NLA_ALIGN(NLA_HDRLEN + len);

	if (w->cap - w->len < total)
		return (NULL);
	a = (struct nlattr *)(w->p + w->len);
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len > 0)
		memcpy((unsigned char *)a + NLA_HDRLEN, data, len);
	memset((unsigned char *)a + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
	w->len += total;
	return (a);
}

static int
ipvs_wu16(struct ipvs_wbuf *w, int type, uint16_t v)
{
	return (ipvs_wattr(w, type, &v, sizeof(v)) == NULL ? -1 : 0);
}

static int
ipvs_wu32(struct ipvs_wbuf *w, int type, uint32_t v)
{
	return (ipvs_wattr(w, type, &v, sizeof(v)) == NULL ? -1 : 0);
}

static int
ipvs_wstr(struct ipvs_wbuf *w, int type, const char *v)
{
	return (ipvs_wattr(w, type, v, strlen(v) + 1) == NULL ? -1 : 0);
}

/* Adds the service attribute: identity only, or with its settings (full). */
static int
ipvs_wsvc(struct ipvs_wbuf *w, const struct ipvs_svc *s, int full)
{
	struct nlattr		*nest;
	struct ip_vs_flags	 flags = { s->flags, ~0U };

	if ((nest = ipvs_wattr(w, IPVS_CMD_ATTR_SERVICE, NULL, 0)) == NULL ||
	    ipvs_wu16(w, IPVS_SVC_ATTR_AF, s->af) == -1)
		return (-1);
	if (s->fwmark != 0) {
		if (ipvs_wu32(w, IPVS_SVC_ATTR_FWMARK, s->fwmark) == -1)
			return (-1);
	} else if (ipvs_wu16(w, IPVS_SVC_ATTR_PROTOCOL, s->protocol) == -1 ||
	    ipvs_wattr(w, IPVS_SVC_ATTR_ADDR, s->addr, 16) == NULL ||
	    ipvs_wu16(w, IPVS_SVC_ATTR_PORT, htons(s->port)) == -1)
		return (-1);
	if (full && (ipvs_wstr(w, IPVS_SVC_ATTR_SCHED_NAME, s->sched) == -1 ||
	    ipvs_wattr(w, IPVS_SVC_ATTR_FLAGS, &flags, sizeof(flags)) == NULL ||
	    ipvs_wu32(w, IPVS_SVC_ATTR_TIMEOUT, s->timeout) == -1 ||
	    ipvs_wu32(w, IPVS_SVC_ATTR_NETMASK, s->netmask) == -1 ||
	    (s->pe[0] != '\0' && ipvs_wstr(w, IPVS_SVC_ATTR_PE_NAME, s->pe) == -1)))
		return (-1);
	nest->nla_len = w->p + w->len - (unsigned char *)nest;
	return (0);
}

static int
ipvs_wdest(struct ipvs_wbuf *w, const struct ipvs_dest *d, int full)
{
	struct nlattr	*nest;

	if ((nest = ipvs_wattr(w, IPVS_CMD_ATTR_DEST, NULL, 0)) == NULL ||
	    ipvs_wattr(w, IPVS_DEST_ATTR_ADDR, d->addr, 16) == NULL ||
	    ipvs_wu16(w, IPVS_DEST_ATTR_PORT, htons(d->port)) == -1 ||
	    ipvs_wu16(w, IPVS_DEST_ATTR_ADDR_FAMILY, d->af) == -1)
		return (-1);
	if (full && (ipvs_wu32(w, IPVS_DEST_ATTR_FWD_METHOD, d->fwd) == -1 ||
	    ipvs_wu32(w, IPVS_DEST_ATTR_WEIGHT, (uint32_t)d->weight) == -1 ||
	    ipvs_wu32(w, IPVS_DEST_ATTR_U_THRESH, d->u_thresh) == -1 ||
	    ipvs_wu32(w, IPVS_DEST_ATTR_L_THRESH, d->l_thresh) == -1))
		return (-1);
	nest->nla_len = w->p + w->len - (unsigned char *)nest;
	return (0);
}

/*
 * Appends a request: cmd about s (with its settings: sfull) and d (dfull),
 * either of which may be NULL. seq 0 lets libnl number it. Returns 0, or
 * -1 when it does not fit (and w is as before).
 */
static int
ipvs_wmsg(struct ipvs_wbuf *w, int cmd, int flags, unsigned int seq,
    const struct ipvs_svc *s, int sfull, const struct ipvs_dest *d, int dfull)
{
	struct nlmsghdr		*h;
	struct genlmsghdr	*g;
	size_t			 start = w->len;

	if (w->cap - w->len < NLMSG_HDRLEN + GENL_HDRLEN)
		return (-1);
	h = (struct nlmsghdr *)(w->p + start);
	memset(h, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	h->nlmsg_type = ipvs_family;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = seq;
	g = (struct genlmsghdr *)(w->p + start + NLMSG_HDRLEN);
	g->cmd = cmd;
	g->version = IPVS_GENL_VERSION;
	w->len += NLMSG_HDRLEN + GENL_HDRLEN;
	if ((s != NULL && ipvs_wsvc(w, s, sfull) == -1) ||
	    (d != NULL && ipvs_wdest(w, d, dfull) == -1)) {
		w->len = start;
		return (-1);
	}
	h->nlmsg_len = w->len - start;
	return (0);
}

/* Appends the request for an operation. */
static int
ipvs_wop(struct ipvs_wbuf *w, enum ipvs_op op, int flags, unsigned int seq,
    const struct ipvs_svc *s, const struct ipvs_dest *d)
{
	return (ipvs_wmsg(w, ipvs_op_cmds[op], flags, seq, s,
	    op == OP_ADD_SERVICE || op == OP_EDIT_SERVICE,
	    op >= OP_ADD_DEST ? d : NULL, op != OP_DEL_DEST));
}

/* The one request written in w as an nl_msg, for ipvs_request. */
static struct nl_msg *
ipvs_convert(lua_State *L, struct ipvs_wbuf *w)
{
	struct nl_msg	*msg;

	if ((msg = nlmsg_convert((struct nlmsghdr *)w->p)) == NULL)
		luaL_error(L, "ipvs: out of memory");
	return (msg);
}

static int
ipvs_op(lua_State *L, enum ipvs_op op)
{
	uint32_t	 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf w = { (unsigned char *)buf, 0, sizeof(buf) };
	struct ipvs_svc	 s;
	struct ipvs_dest d;
	char		 what[200];

	ipvs_need(L);
	ipvs_check_service(L, 1, &s);
	if (op >= OP_ADD_DEST)
		ipvs_check_dest(L, 2, &s, &d);
	if (ipvs_wop(&w, op, 0, 0, &s, &d) == -1)
		return (luaL_error(L, "ipvs: message too large"));
	ipvs_op_what(op, &s, &d, what, sizeof(what));
	return (ipvs_simple(L, ipvs_convert(L, &w), ipvs_op_cmds[op], what));
}

static int
ipvs_add_service(lua_State *L)
{
	return (ipvs_op(L, OP_ADD_SERVICE));
}

static int
ipvs_edit_service(lua_State *L)
{
	return (ipvs_op(L, OP_EDIT_SERVICE));
}

static int
ipvs_del_service(lua_State *L)
{
	return (ipvs_op(L, OP_DEL_SERVICE));
}

static int
ipvs_add_dest(lua_State *L)
{
	return (ipvs_op(L, OP_ADD_DEST));
}

static int
ipvs_edit_dest(lua_State *L)
{
	return (ipvs_op(L, OP_EDIT_DEST));
}

static int
ipvs_del_dest(lua_State *L)
{
	return (ipvs_op(L, OP_DEL_DEST));
}

/*
 * Sends the n requests in w, numbered seq0 .. seq0 + n - 1 of which only the
 * last asks for an acknowledgement, and stores the kernel's errno for each
 * in errs (0: carried out). The kernel handles a batch in order and reports
 * each failure by its sequence number even unasked, so when the last answer
 * arrives every failure has too; it goes on after a failure. Returns 0, or
 * -1 with why set when the batch could not be sent or its answers read.
 */
static int
ipvs_exchange(struct ipvs_wbuf *w, unsigned int seq0, int n, int *errs,
    char *why, size_t whylen)
{
	struct nlmsghdr		*hdr;
	struct ipvs_rx		 rx;
	const char		*reason;
	int			 i, k, r, done = 0;

	memset(errs, 0, n * sizeof(*errs));
	if ((r = nl_sendto(ipvs_sk, w->p, w->len)) < 0) {
		snprintf(why, whylen, "ipvs batch: send: %s", nl_geterror(r));
		return (-1);
	}
	while (!done) {
		if (ipvs_recv(&rx, &reason) == -1) {
			snprintf(why, whylen, "ipvs batch: receive: %s", reason);
			return (-1);
		}
		for (k = 0; k < rx.n; k++) {
			hdr = (struct nlmsghdr *)(ipvs_rbuf + k * IPVS_RECV_SIZE);
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

/* Reads operation i of the ops table at index 1 into its op, service and destination. */
static enum ipvs_op
ipvs_batch_op(lua_State *L, lua_Integer i, struct ipvs_svc *s, struct ipvs_dest *d)
{
	enum ipvs_op	 op;

	if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
		luaL_error(L, "ipvs: operation %I is not a table", i);
	lua_getfield(L, -1, "op");
	op = ipvs_name_index(L, -1, ipvs_op_names, "operation");
	lua_getfield(L, -2, "service");
	ipvs_check_service(L, -1, s);
	if (op >= OP_ADD_DEST) {
		if (lua_getfield(L, -3, "dest") == LUA_TNIL)
			luaL_error(L, "ipvs: %s needs a destination", ipvs_op_names[op]);
		ipvs_check_dest(L, -1, s, d);
		lua_pop(L, 1);
	}
	lua_pop(L, 3);
	return (op);
}

/*
 * batch(ops): sends up to IPVS_BATCH_MAX operations {op=, service=, dest=}
 * in one sendmsg (see ipvs_exchange). Returns an array with, per operation,
 * true or the message "<operation>: <reason>". Does not yield.
 */
static int
ipvs_batch(lua_State *L)
{
	struct ipvs_wbuf w;
	struct ipvs_svc	 s;
	struct ipvs_dest d;
	int		 errs[IPVS_BATCH_MAX];
	char		 what[200], why[200];
	unsigned int	 seq0 = 0, seq;
	lua_Integer	 i, n;
	enum ipvs_op	 op;

	luaL_checktype(L, 1, LUA_TTABLE);
	n = luaL_len(L, 1);
	luaL_argcheck(L, n >= 1 && n <= IPVS_BATCH_MAX, 1, "1 to 256 operations");
	ipvs_need(L);
	/* A userdata, so that a malformed operation raising midway leaks nothing. */
	w.cap = (size_t)n * IPVS_MSG_MAX;
	w.p = lua_newuserdatauv(L, w.cap, 0);
	w.len = 0;
	for (i = 1; i <= n; i++) {
		op = ipvs_batch_op(L, i, &s, &d);
		seq = nl_socket_use_seq(ipvs_sk);
		if (i == 1)
			seq0 = seq;
		if (ipvs_wop(&w, op, i == n ? NLM_F_ACK : 0, seq, &s, &d) == -1)
			return (luaL_error(L, "ipvs: message too large"));
	}
	if (ipvs_exchange(&w, seq0, (int)n, errs, why, sizeof(why)) == -1)
		return (luaha_fail(L, "%s", why));
	lua_createtable(L, (int)n, 0);
	for (i = 1; i <= n; i++) {
		if (errs[i - 1] == 0)
			lua_pushboolean(L, 1);
		else {
			/* Described only now: most batches have no failure. */
			op = ipvs_batch_op(L, i, &s, &d);
			ipvs_op_what(op, &s, &d, what, sizeof(what));
			lua_pushfstring(L, "%s: %s", what,
			    ipvs_strerror(ipvs_op_cmds[op], errs[i - 1]));
		}
		lua_rawseti(L, -2, i);
	}
	return (1);
}

static int
ipvs_flush(lua_State *L)
{
	ipvs_need(L);
	return (ipvs_simple(L, ipvs_msg(L, IPVS_CMD_FLUSH, 0), IPVS_CMD_FLUSH,
	    "flush"));
}

/* zero([service]): clears the counters of one service or of all. */
static int
ipvs_zero(lua_State *L)
{
	uint32_t	 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf w = { (unsigned char *)buf, 0, sizeof(buf) };
	struct ipvs_svc	 s;
	char		 desc[96];
	int		 all = lua_isnoneornil(L, 1);

	ipvs_need(L);
	if (!all)
		ipvs_check_service(L, 1, &s);
	if (ipvs_wmsg(&w, IPVS_CMD_ZERO, 0, 0, all ? NULL : &s, 0, NULL, 0) == -1)
		return (luaL_error(L, "ipvs: message too large"));
	if (!all)
		ipvs_svc_desc(&s, desc, sizeof(desc));
	return (ipvs_simple(L, ipvs_convert(L, &w), IPVS_CMD_ZERO, all ? "zero" :
	    lua_pushfstring(L, "zero service %s", desc)));
}

static void
ipvs_set_int(lua_State *L, const char *field, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, field);
}

static void
ipvs_set_string(lua_State *L, const char *field, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, field);
}

/*
 * Pushes the canonical table of a service: the same for what the kernel
 * reports and for a normalized desired one, so that apply compares like
 * with like. key identifies the service.
 */
static void
ipvs_push_service(lua_State *L, const struct ipvs_svc *s)
{
	static const char *const sh_names[] = { "sh-fallback", "sh-port" };
	char		 a[INET6_ADDRSTRLEN];
	int		 i, nflags = 0;

	lua_createtable(L, 0, 12);
	ipvs_set_string(L, "family", s->af == AF_INET6 ? "inet6" : "inet");
	if (s->fwmark != 0) {
		ipvs_set_int(L, "fwmark", s->fwmark);
		lua_pushfstring(L, "fwm:%d:%s", (int)s->fwmark,
		    s->af == AF_INET6 ? "inet6" : "inet");
	} else {
		ipvs_set_string(L, "protocol", s->protocol == IPPROTO_TCP ? "tcp" :
		    s->protocol == IPPROTO_UDP ? "udp" : "sctp");
		inet_ntop(s->af, s->addr, a, sizeof(a));
		ipvs_set_string(L, "address", a);
		ipvs_set_int(L, "port", s->port);
		lua_pushfstring(L, s->af == AF_INET6 ? "%s:[%s]:%d" : "%s:%s:%d",
		    s->protocol == IPPROTO_TCP ? "tcp" : s->protocol == IPPROTO_UDP ?
		    "udp" : "sctp", a, (int)s->port);
	}
	lua_setfield(L, -2, "key");
	ipvs_set_string(L, "scheduler", s->sched);
	if (s->pe[0] != '\0')
		ipvs_set_string(L, "pe", s->pe);
	if (s->flags & IP_VS_SVC_F_PERSISTENT) {
		ipvs_set_int(L, "persistent", s->timeout);
		if (s->af == AF_INET6)
			ipvs_set_int(L, "netmask", s->netmask);
		else {
			inet_ntop(AF_INET, &s->netmask, a, sizeof(a));
			ipvs_set_string(L, "netmask", a);
		}
	}
	lua_newtable(L);
	for (i = 0; ipvs_flag_names[i].name != NULL; i++) {
		if (!(s->flags & ipvs_flag_names[i].flag) || i == 1 || i == 2)
			continue;	/* sh-* are flag-1, flag-2 said for sh */
		lua_pushstring(L, i >= 3 && i <= 4 && strcmp(s->sched, "sh") == 0 ?
		    sh_names[i - 3] : ipvs_flag_names[i].name);
		lua_rawseti(L, -2, ++nflags);
	}
	lua_setfield(L, -2, "flags");
}

static void
ipvs_push_dest(lua_State *L, const struct ipvs_dest *d)
{
	static const char *const fwd_names[] = { "nat", "local", "tun", "dr" };
	char	 a[INET6_ADDRSTRLEN];

	lua_createtable(L, 0, 12);
	inet_ntop(d->af, d->addr, a, sizeof(a));
	ipvs_set_string(L, "address", a);
	ipvs_set_int(L, "port", d->port);
	lua_pushfstring(L, d->af == AF_INET6 ? "[%s]:%d" : "%s:%d", a, (int)d->port);
	lua_setfield(L, -2, "key");
	ipvs_set_string(L, "forward", fwd_names[d->fwd & IP_VS_CONN_F_FWD_MASK]);
	ipvs_set_int(L, "weight", d->weight);
	ipvs_set_int(L, "u_threshold", d->u_thresh);
	ipvs_set_int(L, "l_threshold", d->l_thresh);
}

/* Pushes the counters of a STATS or STATS64 attribute as a table. */
static void
ipvs_push_stats(lua_State *L, struct nlattr *attr, int is64)
{
	static const char *const names[] = {
		NULL, "conns", "inpkts", "outpkts", "inbytes", "outbytes",
		"cps", "inpps", "outpps", "inbps", "outbps"
	};
	struct nlattr	*st[IPVS_STATS_ATTR_MAX + 1];
	int		 i;

	lua_createtable(L, 0, 10);
	if (nla_parse_nested(st, IPVS_STATS_ATTR_MAX, attr, NULL) < 0)
		return;
	for (i = IPVS_STATS_ATTR_CONNS; i <= IPVS_STATS_ATTR_OUTBPS; i++) {
		if (st[i] == NULL)
			continue;
		if (is64 || i == IPVS_STATS_ATTR_INBYTES || i == IPVS_STATS_ATTR_OUTBYTES)
			ipvs_set_int(L, names[i], (lua_Integer)nla_get_u64(st[i]));
		else
			ipvs_set_int(L, names[i], nla_get_u32(st[i]));
	}
}

static void
ipvs_push_stats_of(lua_State *L, struct nlattr *s64, struct nlattr *s32)
{
	if (s64 != NULL)
		ipvs_push_stats(L, s64, 1);
	else if (s32 != NULL)
		ipvs_push_stats(L, s32, 0);
	else
		lua_newtable(L);
	lua_setfield(L, -2, "stats");
}

/* What a dump collects: the Lua array being filled. */
struct ipvs_dump {
	lua_State	*L;
	int		 n;		/* entries pushed */
	const struct ipvs_svc *svc;	/* the service whose destinations come */
};

/* Reads a service of a dump into s, its attributes into a; -1 (logged) when malformed. */
static int
ipvs_parse_service(struct nlmsghdr *h, struct ipvs_svc *sp, struct nlattr **a)
{
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct ipvs_svc		 s;
	struct ip_vs_flags	 flags;

	if (genlmsg_parse(h, 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_SERVICE] == NULL ||
	    nla_parse_nested(a, IPVS_SVC_ATTR_MAX, attrs[IPVS_CMD_ATTR_SERVICE],
	    NULL) < 0 || a[IPVS_SVC_ATTR_AF] == NULL ||
	    a[IPVS_SVC_ATTR_SCHED_NAME] == NULL || a[IPVS_SVC_ATTR_FLAGS] == NULL) {
		log_warnx("ipvs: skipping a malformed service from the kernel");
		return (-1);
	}
	memset(&s, 0, sizeof(s));
	s.af = nla_get_u16(a[IPVS_SVC_ATTR_AF]);
	if (a[IPVS_SVC_ATTR_FWMARK] != NULL)
		s.fwmark = nla_get_u32(a[IPVS_SVC_ATTR_FWMARK]);
	if (s.fwmark == 0 && a[IPVS_SVC_ATTR_ADDR] != NULL) {
		nla_memcpy(s.addr, a[IPVS_SVC_ATTR_ADDR], sizeof(s.addr));
		s.protocol = a[IPVS_SVC_ATTR_PROTOCOL] != NULL ?
		    nla_get_u16(a[IPVS_SVC_ATTR_PROTOCOL]) : 0;
		s.port = a[IPVS_SVC_ATTR_PORT] != NULL ?
		    ntohs(nla_get_u16(a[IPVS_SVC_ATTR_PORT])) : 0;
	}
	nla_strlcpy(s.sched, a[IPVS_SVC_ATTR_SCHED_NAME], sizeof(s.sched));
	if (a[IPVS_SVC_ATTR_PE_NAME] != NULL)
		nla_strlcpy(s.pe, a[IPVS_SVC_ATTR_PE_NAME], sizeof(s.pe));
	nla_memcpy(&flags, a[IPVS_SVC_ATTR_FLAGS], sizeof(flags));
	s.flags = flags.flags;
	s.timeout = a[IPVS_SVC_ATTR_TIMEOUT] != NULL ?
	    nla_get_u32(a[IPVS_SVC_ATTR_TIMEOUT]) : 0;
	s.netmask = a[IPVS_SVC_ATTR_NETMASK] != NULL ?
	    nla_get_u32(a[IPVS_SVC_ATTR_NETMASK]) : 0;
	*sp = s;
	return (0);
}

static int
ipvs_service_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_dump	*dump = arg;
	lua_State		*L = dump->L;
	struct nlattr		*a[IPVS_SVC_ATTR_MAX + 1];
	struct ipvs_svc		 s;

	if (ipvs_parse_service(h, &s, a) == -1)
		return (NL_SKIP);
	ipvs_push_service(L, &s);
	ipvs_push_stats_of(L, a[IPVS_SVC_ATTR_STATS64], a[IPVS_SVC_ATTR_STATS]);
	lua_newtable(L);
	lua_setfield(L, -2, "dests");
	lua_rawseti(L, -2, ++dump->n);
	return (NL_OK);
}

/* Reads a destination of a dump of a service of family af; -1 (logged) when malformed. */
static int
ipvs_parse_dest(struct nlmsghdr *h, int af, struct ipvs_dest *d, struct nlattr **a)
{
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];

	if (genlmsg_parse(h, 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_DEST] == NULL ||
	    nla_parse_nested(a, IPVS_DEST_ATTR_MAX, attrs[IPVS_CMD_ATTR_DEST],
	    NULL) < 0 || a[IPVS_DEST_ATTR_ADDR] == NULL ||
	    a[IPVS_DEST_ATTR_PORT] == NULL || a[IPVS_DEST_ATTR_FWD_METHOD] == NULL) {
		log_warnx("ipvs: skipping a malformed destination from the kernel");
		return (-1);
	}
	memset(d, 0, sizeof(*d));
	d->af = a[IPVS_DEST_ATTR_ADDR_FAMILY] != NULL ?
	    nla_get_u16(a[IPVS_DEST_ATTR_ADDR_FAMILY]) : af;
	nla_memcpy(d->addr, a[IPVS_DEST_ATTR_ADDR], sizeof(d->addr));
	d->port = ntohs(nla_get_u16(a[IPVS_DEST_ATTR_PORT]));
	d->fwd = nla_get_u32(a[IPVS_DEST_ATTR_FWD_METHOD]);
	if (a[IPVS_DEST_ATTR_WEIGHT] != NULL)
		d->weight = (int32_t)nla_get_u32(a[IPVS_DEST_ATTR_WEIGHT]);
	if (a[IPVS_DEST_ATTR_U_THRESH] != NULL)
		d->u_thresh = nla_get_u32(a[IPVS_DEST_ATTR_U_THRESH]);
	if (a[IPVS_DEST_ATTR_L_THRESH] != NULL)
		d->l_thresh = nla_get_u32(a[IPVS_DEST_ATTR_L_THRESH]);
	return (0);
}

static int
ipvs_dest_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_dump	*dump = arg;
	lua_State		*L = dump->L;
	struct nlattr		*a[IPVS_DEST_ATTR_MAX + 1];
	struct ipvs_dest	 d;

	if (ipvs_parse_dest(h, dump->svc->af, &d, a) == -1)
		return (NL_SKIP);
	ipvs_push_dest(L, &d);
	if (a[IPVS_DEST_ATTR_ACTIVE_CONNS] != NULL)
		ipvs_set_int(L, "active_conns", nla_get_u32(a[IPVS_DEST_ATTR_ACTIVE_CONNS]));
	if (a[IPVS_DEST_ATTR_INACT_CONNS] != NULL)
		ipvs_set_int(L, "inactive_conns", nla_get_u32(a[IPVS_DEST_ATTR_INACT_CONNS]));
	if (a[IPVS_DEST_ATTR_PERSIST_CONNS] != NULL)
		ipvs_set_int(L, "persist_conns", nla_get_u32(a[IPVS_DEST_ATTR_PERSIST_CONNS]));
	ipvs_push_stats_of(L, a[IPVS_DEST_ATTR_STATS64], a[IPVS_DEST_ATTR_STATS]);
	lua_rawseti(L, -2, ++dump->n);
	return (NL_OK);
}

/*
 * list_services(): every service with its counters and an empty dests, as
 * the kernel has them; luaha.ipvs.services fills dests with list_dests, one
 * dump per service, yielding between them. Does not yield.
 */
static int
ipvs_list_services(lua_State *L)
{
	struct ipvs_dump	 dump = { L, 0, NULL };
	const char		*why;
	int			 err;

	ipvs_need(L);
	lua_newtable(L);
	err = ipvs_request(ipvs_msg(L, IPVS_CMD_GET_SERVICE, NLM_F_DUMP),
	    ipvs_service_cb, &dump, &why);
	if (err != 0)
		return (ipvs_fail(L, IPVS_CMD_GET_SERVICE, err, why, "list services"));
	return (1);
}

/* The request for a dump of the destinations of s. */
static struct nl_msg *
ipvs_dests_msg(lua_State *L, const struct ipvs_svc *s)
{
	uint32_t	 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf w = { (unsigned char *)buf, 0, sizeof(buf) };

	if (ipvs_wmsg(&w, IPVS_CMD_GET_DEST, NLM_F_DUMP, 0, s, 0, NULL, 0) == -1)
		luaL_error(L, "ipvs: message too large");
	return (ipvs_convert(L, &w));
}

/* list_dests(service): the service's destinations with their counters. Does not yield. */
static int
ipvs_list_dests(lua_State *L)
{
	struct ipvs_svc		 s;
	struct ipvs_dump	 dump = { L, 0, &s };
	const char		*why;
	char			 desc[96];
	int			 err;

	ipvs_check_service(L, 1, &s);
	ipvs_need(L);
	lua_newtable(L);
	if ((err = ipvs_request(ipvs_dests_msg(L, &s), ipvs_dest_cb, &dump, &why)) != 0) {
		ipvs_svc_desc(&s, desc, sizeof(desc));
		return (ipvs_fail(L, IPVS_CMD_GET_DEST, err, why,
		    lua_pushfstring(L, "list destinations of %s", desc)));
	}
	return (1);
}

/*
 * normalize(service): the service (with its dests) in the canonical form
 * services() reports, defaults filled in; raises on a malformed one. apply
 * compares desired and current tables in this form.
 */
static int
ipvs_normalize(lua_State *L)
{
	struct ipvs_svc	 s;
	struct ipvs_dest d;
	int		 i;

	ipvs_check_service(L, 1, &s);
	ipvs_push_service(L, &s);
	lua_newtable(L);
	if (lua_getfield(L, 1, "dests") != LUA_TNIL) {
		if (!lua_istable(L, -1))
			luaL_error(L, "ipvs: dests must be an array of destinations");
		for (i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
			ipvs_check_dest(L, -1, &s, &d);
			lua_pop(L, 1);
			ipvs_push_dest(L, &d);
			lua_rawseti(L, -3, i);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_setfield(L, -2, "dests");
	return (1);
}

static int
ipvs_info_cb(struct nlmsghdr *h, void *arg)
{
	lua_State	*L = arg;
	struct nlattr	*a[IPVS_INFO_ATTR_MAX + 1];
	uint32_t	 v;

	if (genlmsg_parse(h, 0, a, IPVS_INFO_ATTR_MAX, NULL) < 0)
		return (NL_SKIP);
	if (a[IPVS_INFO_ATTR_VERSION] != NULL) {
		v = nla_get_u32(a[IPVS_INFO_ATTR_VERSION]);
		lua_pushfstring(L, "%d.%d.%d", (int)(v >> 16) & 0xff,
		    (int)(v >> 8) & 0xff, (int)v & 0xff);
		lua_setfield(L, -2, "version");
	}
	if (a[IPVS_INFO_ATTR_CONN_TAB_SIZE] != NULL)
		ipvs_set_int(L, "conn_tab_size",
		    nla_get_u32(a[IPVS_INFO_ATTR_CONN_TAB_SIZE]));
	return (NL_OK);
}

/* info(): {version="1.2.1", conn_tab_size=4096} */
static int
ipvs_info(lua_State *L)
{
	const char	*why;
	int		 err;

	ipvs_need(L);
	lua_newtable(L);
	if ((err = ipvs_request(ipvs_msg(L, IPVS_CMD_GET_INFO, 0), ipvs_info_cb,
	    L, &why)) != 0)
		return (ipvs_fail(L, IPVS_CMD_GET_INFO, err, why, "info"));
	return (1);
}

static int
ipvs_timeouts_cb(struct nlmsghdr *h, void *arg)
{
	lua_State	*L = arg;
	struct nlattr	*a[IPVS_CMD_ATTR_MAX + 1];

	if (genlmsg_parse(h, 0, a, IPVS_CMD_ATTR_MAX, NULL) < 0)
		return (NL_SKIP);
	if (a[IPVS_CMD_ATTR_TIMEOUT_TCP] != NULL)
		ipvs_set_int(L, "tcp", nla_get_u32(a[IPVS_CMD_ATTR_TIMEOUT_TCP]));
	if (a[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN] != NULL)
		ipvs_set_int(L, "tcpfin", nla_get_u32(a[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]));
	if (a[IPVS_CMD_ATTR_TIMEOUT_UDP] != NULL)
		ipvs_set_int(L, "udp", nla_get_u32(a[IPVS_CMD_ATTR_TIMEOUT_UDP]));
	return (NL_OK);
}

/* timeouts(): {tcp=, tcpfin=, udp=} in seconds. */
static int
ipvs_timeouts(lua_State *L)
{
	const char	*why;
	int		 err;

	ipvs_need(L);
	lua_newtable(L);
	if ((err = ipvs_request(ipvs_msg(L, IPVS_CMD_GET_CONFIG, 0),
	    ipvs_timeouts_cb, L, &why)) != 0)
		return (ipvs_fail(L, IPVS_CMD_GET_CONFIG, err, why, "timeouts"));
	return (1);
}

/* set_timeouts{tcp=, tcpfin=, udp=}: those given change, the others stay (0 to the kernel). */
static int
ipvs_set_timeouts(lua_State *L)
{
	static const char *const names[] = { "tcp", "tcpfin", "udp", NULL };
	static const int attrs[] = {
		IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
		IPVS_CMD_ATTR_TIMEOUT_UDP
	};
	struct nl_msg	*msg;
	int		 i;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, names);
	ipvs_need(L);
	msg = ipvs_msg(L, IPVS_CMD_SET_CONFIG, 0);
	for (i = 0; names[i] != NULL; i++)
		if (nla_put_u32(msg, attrs[i], (uint32_t)ipvs_field_int(L, 1,
		    names[i], 0, 0, INT32_MAX)) < 0) {
			nlmsg_free(msg);
			return (luaL_error(L, "ipvs: message too large"));
		}
	return (ipvs_simple(L, msg, IPVS_CMD_SET_CONFIG, "set timeouts"));
}

static uint32_t
ipvs_check_state(lua_State *L, int idx)
{
	static const char *const states[] = { "master", "backup", NULL };

	return (ipvs_name_index(L, idx, states, "daemon state") == 0 ?
	    IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP);
}

/* start_daemon{state="master"|"backup", ifname=, syncid=} */
static int
ipvs_start_daemon(lua_State *L)
{
	static const char *const opts[] = { "state", "ifname", "syncid", NULL };
	struct nl_msg	*msg;
	struct nlattr	*nest;
	const char	*ifname;
	uint32_t	 state;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, opts);
	lua_getfield(L, 1, "state");
	state = ipvs_check_state(L, -1);
	lua_pop(L, 1);
	if ((ifname = ipvs_field_string(L, 1, "ifname")) == NULL)
		return (luaL_error(L, "ipvs: start_daemon needs an ifname"));
	if (strlen(ifname) >= IP_VS_IFNAME_MAXLEN)
		return (luaL_error(L, "ipvs: interface name \"%s\" is too long", ifname));
	ipvs_need(L);
	msg = ipvs_msg(L, IPVS_CMD_NEW_DAEMON, 0);
	if ((nest = nla_nest_start(msg, IPVS_CMD_ATTR_DAEMON)) == NULL ||
	    nla_put_u32(msg, IPVS_DAEMON_ATTR_STATE, state) < 0 ||
	    nla_put_string(msg, IPVS_DAEMON_ATTR_MCAST_IFN, ifname) < 0 ||
	    nla_put_u32(msg, IPVS_DAEMON_ATTR_SYNC_ID, (uint32_t)ipvs_field_int(L,
	    1, "syncid", 0, 0, 255)) < 0 || nla_nest_end(msg, nest) < 0) {
		nlmsg_free(msg);
		return (luaL_error(L, "ipvs: message too large"));
	}
	return (ipvs_simple(L, msg, IPVS_CMD_NEW_DAEMON, state == IP_VS_STATE_MASTER ?
	    "start master sync daemon" : "start backup sync daemon"));
}

/* stop_daemon("master"|"backup") */
static int
ipvs_stop_daemon(lua_State *L)
{
	uint32_t	 state = ipvs_check_state(L, 1);
	struct nl_msg	*msg;
	struct nlattr	*nest;

	ipvs_need(L);
	msg = ipvs_msg(L, IPVS_CMD_DEL_DAEMON, 0);
	if ((nest = nla_nest_start(msg, IPVS_CMD_ATTR_DAEMON)) == NULL ||
	    nla_put_u32(msg, IPVS_DAEMON_ATTR_STATE, state) < 0 ||
	    nla_nest_end(msg, nest) < 0) {
		nlmsg_free(msg);
		return (luaL_error(L, "ipvs: message too large"));
	}
	return (ipvs_simple(L, msg, IPVS_CMD_DEL_DAEMON, state == IP_VS_STATE_MASTER ?
	    "stop master sync daemon" : "stop backup sync daemon"));
}

static int
ipvs_daemon_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_dump	*dump = arg;
	lua_State		*L = dump->L;
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct nlattr		*a[IPVS_DAEMON_ATTR_MAX + 1];

	if (genlmsg_parse(h, 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_DAEMON] == NULL ||
	    nla_parse_nested(a, IPVS_DAEMON_ATTR_MAX, attrs[IPVS_CMD_ATTR_DAEMON],
	    NULL) < 0 || a[IPVS_DAEMON_ATTR_STATE] == NULL)
		return (NL_SKIP);
	lua_createtable(L, 0, 3);
	ipvs_set_string(L, "state", nla_get_u32(a[IPVS_DAEMON_ATTR_STATE]) ==
	    IP_VS_STATE_MASTER ? "master" : "backup");
	if (a[IPVS_DAEMON_ATTR_MCAST_IFN] != NULL)
		ipvs_set_string(L, "ifname", nla_get_string(a[IPVS_DAEMON_ATTR_MCAST_IFN]));
	if (a[IPVS_DAEMON_ATTR_SYNC_ID] != NULL)
		ipvs_set_int(L, "syncid", nla_get_u32(a[IPVS_DAEMON_ATTR_SYNC_ID]));
	lua_rawseti(L, -2, ++dump->n);
	return (NL_OK);
}

/* daemons(): the running sync daemons, {state=, ifname=, syncid=} each. */
static int
ipvs_daemons(lua_State *L)
{
	struct ipvs_dump	 dump = { L, 0, NULL };
	const char		*why;
	int			 err;

	ipvs_need(L);
	lua_newtable(L);
	if ((err = ipvs_request(ipvs_msg(L, IPVS_CMD_GET_DAEMON, NLM_F_DUMP),
	    ipvs_daemon_cb, &dump, &why)) != 0)
		return (ipvs_fail(L, IPVS_CMD_GET_DAEMON, err, why, "list daemons"));
	return (1);
}

/*
 * What ipvs.apply works on: a whole table (desired, or the kernel's) held
 * in C rather than as thousands of Lua tables, indexed by identity for the
 * difference, and the operations of that difference. A table is filled
 * once (load, read or merge) and never changes afterwards, so operations
 * may point into it; the ops userdata keeps its tables alive.
 */
struct ipvs_entry {
	struct ipvs_svc	 s;
	size_t		 first;		/* its destinations: dests[first .. first + n - 1] */
	size_t		 n;
};

/* Open addressing over an array of the table: slot = 1 + index, 0 free. */
struct ipvs_index {
	uint32_t	*slot;
	size_t		 size;		/* a power of 2, more than twice count */
	size_t		 count;
};

struct ipvs_table {
	struct ipvs_entry *svcs;
	size_t		 nsvcs, svcs_cap;
	struct ipvs_dest *dests;
	size_t		 ndests, dests_cap;
	struct ipvs_index by_svc;	/* services by identity */
	struct ipvs_index by_dest;	/* destinations by service and identity */
	int		 complete;	/* filled: may be compared, no longer changed */
	int		 unindexed;	/* destinations are indexed once all are in */
	int		 closed;
	int		 listed;	/* read: the services are in, next is the next to dump */
	size_t		 next;
};

enum { OPV_PENDING, OPV_DONE, OPV_FAILED };

/* Which of an operation's indexes are into the current table rather than the desired one. */
#define OPV_S_CUR	0x01
#define OPV_D_CUR	0x02
#define OPV_OLD_CUR	0x04

/* An operation: 16 bytes, as an apply may hold tens of thousands. */
struct ipvs_opv {
	uint8_t		 op;		/* enum ipvs_op */
	uint8_t		 state;		/* OPV_PENDING, OPV_DONE, OPV_FAILED */
	uint8_t		 where;		/* OPV_*_CUR */
	uint32_t	 s;		/* the service (with the settings add/edit send) */
	uint32_t	 d;		/* the destination */
	uint32_t	 old;		/* edit_*: the service or destination it replaces */
};

struct ipvs_ops {
	struct ipvs_opv	*v;
	size_t		 n, cap;
	size_t		 added, changed, removed;
	struct ipvs_table *tab[2];	/* desired, current: the user values 2 and 1 */
};

#define IPVS_TABLE_MT	"luaha.ipvs.table"
#define IPVS_OPS_MT	"luaha.ipvs.ops"

static int
ipvs_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t	 ncap = *cap == 0 ? 64 : *cap;
	void	*np;

	if (need <= *cap)
		return (0);
	while (ncap < need)
		ncap *= 2;
	if ((np = reallocarray(*p, ncap, elem)) == NULL)
		return (-1);
	*p = np;
	*cap = ncap;
	return (0);
}

/* FNV-1a */
static uint32_t
ipvs_fnv(uint32_t h, const void *p, size_t len)
{
	const unsigned char	*c = p;

	while (len-- > 0)
		h = (h ^ *c++) * 16777619U;
	return (h);
}

static uint32_t
ipvs_svc_hash(const struct ipvs_svc *s)
{
	uint32_t	 h = 2166136261U;

	h = ipvs_fnv(h, &s->af, sizeof(s->af));
	h = ipvs_fnv(h, &s->protocol, sizeof(s->protocol));
	h = ipvs_fnv(h, s->addr, sizeof(s->addr));
	h = ipvs_fnv(h, &s->port, sizeof(s->port));
	return (ipvs_fnv(h, &s->fwmark, sizeof(s->fwmark)));
}

static uint32_t
ipvs_dest_hash(size_t si, const struct ipvs_dest *d)
{
	uint32_t	 h = 2166136261U, i = (uint32_t)si;

	h = ipvs_fnv(h, &i, sizeof(i));
	h = ipvs_fnv(h, &d->af, sizeof(d->af));
	h = ipvs_fnv(h, d->addr, sizeof(d->addr));
	return (ipvs_fnv(h, &d->port, sizeof(d->port)));
}

static int
ipvs_svc_same(const struct ipvs_svc *a, const struct ipvs_svc *b)
{
	return (a->af == b->af && a->protocol == b->protocol && a->port == b->port &&
	    a->fwmark == b->fwmark && memcmp(a->addr, b->addr, 16) == 0);
}

static int
ipvs_dest_same(const struct ipvs_dest *a, const struct ipvs_dest *b)
{
	return (a->af == b->af && a->port == b->port &&
	    memcmp(a->addr, b->addr, 16) == 0);
}

/* Whether two services with the same identity need an edit: what normalize shows differs. */
static int
ipvs_svc_differs(const struct ipvs_svc *a, const struct ipvs_svc *b)
{
	if (strcmp(a->sched, b->sched) != 0 || strcmp(a->pe, b->pe) != 0 ||
	    ((a->flags ^ b->flags) & IPVS_SVC_FLAGS) != 0)
		return (1);
	return ((a->flags & IP_VS_SVC_F_PERSISTENT) &&
	    (a->timeout != b->timeout || a->netmask != b->netmask));
}

static int
ipvs_dest_differs(const struct ipvs_dest *a, const struct ipvs_dest *b)
{
	return (a->weight != b->weight || a->u_thresh != b->u_thresh ||
	    a->l_thresh != b->l_thresh ||
	    ((a->fwd ^ b->fwd) & IP_VS_CONN_F_FWD_MASK) != 0);
}

/*
 * Makes room for want entries (kept at most three quarters full), re-inserting
 * those in the table when it grows. Memory is sized once where the count
 * is known in advance: in UML each page first touched costs a fault.
 */
static int
ipvs_index_reserve(struct ipvs_table *t, struct ipvs_index *x, int dests, size_t want)
{
	uint32_t	*slot;
	size_t		 size = x->size == 0 ? 64 : x->size, i, j, k;

	if (want * 4 < x->size * 3)
		return (0);
	while (want * 4 >= size * 3)
		size *= 2;
	if ((slot = calloc(size, sizeof(*slot))) == NULL)
		return (-1);
	free(x->slot);
	x->slot = slot;
	x->size = size;
	x->count = 0;
	for (i = 0; i < t->nsvcs; i++) {
		if (!dests) {
			k = ipvs_svc_hash(&t->svcs[i].s) & (size - 1);
			while (slot[k] != 0)
				k = (k + 1) & (size - 1);
			slot[k] = i + 1;
			x->count++;
			continue;
		}
		for (j = t->svcs[i].first; j < t->svcs[i].first + t->svcs[i].n; j++) {
			k = ipvs_dest_hash(i, &t->dests[j]) & (size - 1);
			while (slot[k] != 0)
				k = (k + 1) & (size - 1);
			slot[k] = j + 1;
			x->count++;
		}
	}
	return (0);
}

/* The index of the service of t like s, or -1. */
static ssize_t
ipvs_find_svc(const struct ipvs_table *t, const struct ipvs_svc *s)
{
	size_t	 k;

	if (t->by_svc.size == 0)
		return (-1);
	for (k = ipvs_svc_hash(s) & (t->by_svc.size - 1); t->by_svc.slot[k] != 0;
	    k = (k + 1) & (t->by_svc.size - 1))
		if (ipvs_svc_same(&t->svcs[t->by_svc.slot[k] - 1].s, s))
			return (t->by_svc.slot[k] - 1);
	return (-1);
}

/* The index of the destination like d of service si of t, or -1. */
static ssize_t
ipvs_find_dest(const struct ipvs_table *t, size_t si, const struct ipvs_dest *d)
{
	const struct ipvs_entry	*e = &t->svcs[si];
	size_t			 k, j;

	if (t->by_dest.size == 0)
		return (-1);
	for (k = ipvs_dest_hash(si, d) & (t->by_dest.size - 1); t->by_dest.slot[k] != 0;
	    k = (k + 1) & (t->by_dest.size - 1)) {
		j = t->by_dest.slot[k] - 1;
		if (j >= e->first && j < e->first + e->n && ipvs_dest_same(&t->dests[j], d))
			return (j);
	}
	return (-1);
}

/* Appends a service (no destinations yet) and indexes it; -1 when out of memory. */
static int
ipvs_table_add_svc(struct ipvs_table *t, const struct ipvs_svc *s)
{
	size_t	 k;

	if (ipvs_grow((void **)&t->svcs, &t->svcs_cap, t->nsvcs + 1, sizeof(*t->svcs)) == -1 ||
	    ipvs_index_reserve(t, &t->by_svc, 0, t->by_svc.count + 1) == -1)
		return (-1);
	t->svcs[t->nsvcs].s = *s;
	t->svcs[t->nsvcs].first = t->ndests;
	t->svcs[t->nsvcs].n = 0;
	for (k = ipvs_svc_hash(s) & (t->by_svc.size - 1); t->by_svc.slot[k] != 0;
	    k = (k + 1) & (t->by_svc.size - 1))
		;
	t->by_svc.slot[k] = ++t->nsvcs;
	t->by_svc.count++;
	return (0);
}

/* Room for n more destinations at t->dests + t->ndests. */
static int
ipvs_table_room(struct ipvs_table *t, size_t n)
{
	return (ipvs_grow((void **)&t->dests, &t->dests_cap, t->ndests + n,
	    sizeof(*t->dests)));
}

/*
 * Adds the destination at t->dests[t->ndests] (room made) to service si,
 * whose destinations so far are the last ones: they stay contiguous.
 */
static int
ipvs_table_push_dest(struct ipvs_table *t, size_t si)
{
	size_t	 k, j = t->ndests;

	if (!t->unindexed &&
	    ipvs_index_reserve(t, &t->by_dest, 1, t->by_dest.count + 1) == -1)
		return (-1);
	t->svcs[si].n++;
	t->ndests++;
	if (t->unindexed)
		return (0);
	for (k = ipvs_dest_hash(si, &t->dests[j]) & (t->by_dest.size - 1);
	    t->by_dest.slot[k] != 0; k = (k + 1) & (t->by_dest.size - 1))
		;
	t->by_dest.slot[k] = j + 1;
	t->by_dest.count++;
	return (0);
}

static int
ipvs_table_add_dest(struct ipvs_table *t, size_t si, const struct ipvs_dest *d)
{
	if (ipvs_table_room(t, 1) == -1)
		return (-1);
	t->dests[t->ndests] = *d;
	return (ipvs_table_push_dest(t, si));
}

static struct ipvs_table *
ipvs_table_new(lua_State *L)
{
	struct ipvs_table	*t = lua_newuserdatauv(L, sizeof(*t), 0);

	memset(t, 0, sizeof(*t));
	luaL_setmetatable(L, IPVS_TABLE_MT);
	return (t);
}

static struct ipvs_table *
ipvs_table_check(lua_State *L, int idx, int complete)
{
	struct ipvs_table	*t = luaL_checkudata(L, idx, IPVS_TABLE_MT);

	if (t->closed)
		luaL_error(L, "attempt to use a closed ipvs table");
	if (t->complete != complete)
		luaL_error(L, "ipvs: the table is %s", complete ? "not filled yet" :
		    "already filled");
	return (t);
}

static int
ipvs_table_gc(lua_State *L)
{
	struct ipvs_table	*t = luaL_checkudata(L, 1, IPVS_TABLE_MT);

	free(t->svcs);
	free(t->dests);
	free(t->by_svc.slot);
	free(t->by_dest.slot);
	memset(t, 0, sizeof(*t));
	t->closed = 1;
	return (0);
}

static void
ipvs_svc_key(const struct ipvs_svc *s, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN + 8];

	if (s->fwmark != 0) {
		snprintf(buf, len, "fwm:%u:%s", s->fwmark, s->af == AF_INET6 ? "inet6" : "inet");
		return;
	}
	ipvs_format_addr(s->af, s->addr, s->port, a, sizeof(a));
	snprintf(buf, len, "%s:%s", s->protocol == IPPROTO_TCP ? "tcp" :
	    s->protocol == IPPROTO_UDP ? "udp" : "sctp", a);
}

/* Sizes the arrays and indexes of t for the services at idx and their dests, counted roughly. */
static int
ipvs_table_presize(lua_State *L, struct ipvs_table *t, int idx)
{
	size_t		 nsvcs = 0, ndests = 0;
	lua_Integer	 i;

	for (i = 1; lua_geti(L, idx, i) != LUA_TNIL; i++, nsvcs++) {
		if (lua_istable(L, -1)) {
			if (lua_getfield(L, -1, "dests") == LUA_TTABLE)
				ndests += lua_rawlen(L, -1);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (ipvs_grow((void **)&t->svcs, &t->svcs_cap, nsvcs, sizeof(*t->svcs)) == -1 ||
	    ipvs_table_room(t, ndests) == -1 ||
	    ipvs_index_reserve(t, &t->by_svc, 0, nsvcs) == -1 ||
	    ipvs_index_reserve(t, &t->by_dest, 1, ndests) == -1)
		return (-1);
	return (0);
}

/* new_table(): an empty table, to fill with load or read. */
static int
ipvs_new_table(lua_State *L)
{
	ipvs_table_new(L);
	return (1);
}

/*
 * table:load(services, i [, deadline]): adds services[i], services[i + 1],
 * ... with their dests, checked as normalize does (raising on a malformed
 * one), until the end or, when deadline (luaha.now()) is given, until it
 * has passed; the services must be loaded in order from 1. Returns true
 * when the table is complete, false and the next index otherwise, or nil,
 * the index of a repeated service, its key, and the index of the repeated
 * destination (nil when the service itself repeats).
 */
static int
ipvs_table_load(lua_State *L)
{
	struct ipvs_table	*t = ipvs_table_check(L, 1, 0);
	lua_Integer		 i = luaL_checkinteger(L, 3), j;
	double			 deadline = luaL_optnumber(L, 4, -1);
	struct ipvs_svc		 s;
	struct ipvs_dest	*d;
	size_t			 n, work = 0;
	char			 key[96];

	luaL_checktype(L, 2, LUA_TTABLE);
	luaL_argcheck(L, i == (lua_Integer)t->nsvcs + 1, 3, "services are loaded in order");
	if (i == 1 && ipvs_table_presize(L, t, 2) == -1)
		luaL_error(L, "ipvs: out of memory");
	for (; lua_geti(L, 2, i) != LUA_TNIL; i++) {
		if (!lua_istable(L, -1))
			luaL_error(L, "ipvs: a service must be a table, not %s",
			    luaL_typename(L, -1));
		ipvs_check_service(L, -1, &s);
		/* Every destination is checked before anything is indexed. */
		n = 0;
		if (lua_getfield(L, -1, "dests") != LUA_TNIL) {
			if (!lua_istable(L, -1))
				luaL_error(L, "ipvs: dests must be an array of destinations");
			for (j = 1; lua_rawgeti(L, -1, j) != LUA_TNIL; j++, n++) {
				if (ipvs_table_room(t, n + 1) == -1)
					luaL_error(L, "ipvs: out of memory");
				d = &t->dests[t->ndests + n];
				ipvs_check_dest(L, -1, &s, d);
				lua_pop(L, 1);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 2);
		if (ipvs_find_svc(t, &s) != -1) {
			ipvs_svc_key(&s, key, sizeof(key));
			lua_pushnil(L);
			lua_pushinteger(L, i);
			lua_pushstring(L, key);
			return (3);
		}
		if (ipvs_table_add_svc(t, &s) == -1)
			luaL_error(L, "ipvs: out of memory");
		for (j = 1; j <= (lua_Integer)n; j++) {
			d = &t->dests[t->ndests];
			if (ipvs_find_dest(t, t->nsvcs - 1, d) != -1) {
				ipvs_format_addr(d->af, d->addr, d->port, key, sizeof(key));
				lua_pushnil(L);
				lua_pushinteger(L, i);
				lua_pushstring(L, key);
				lua_pushinteger(L, j);
				return (4);
			}
			if (ipvs_table_push_dest(t, t->nsvcs - 1) == -1)
				luaL_error(L, "ipvs: out of memory");
		}
		/* The clock is a system call in UML: look at it now and then. */
		if ((work += n + 1) >= 1024 && deadline >= 0) {
			work = 0;
			if (loop_now() >= deadline) {
				lua_pushboolean(L, 0);
				lua_pushinteger(L, i + 1);
				return (2);
			}
		}
	}
	t->complete = 1;
	lua_pushboolean(L, 1);
	return (1);
}

/* What a dump into a table collects. */
struct ipvs_fill {
	struct ipvs_table	*t;
	size_t			 si;		/* the service whose destinations come */
	int			 af;		/* its family */
	int			 nomem;
};

/*
 * A service as apply compares it: the kernel's flags reduced to those a
 * service is given, and persistence settings only for a persistent one
 * (as normalize shows them).
 */
static void
ipvs_svc_canon(struct ipvs_svc *s)
{
	s->flags &= IPVS_SVC_FLAGS;
	if (!(s->flags & IP_VS_SVC_F_PERSISTENT)) {
		s->timeout = 0;
		s->netmask = s->af == AF_INET6 ? 128 : 0xffffffff;
	}
}

static int
ipvs_fill_service_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_fill	*f = arg;
	struct nlattr		*a[IPVS_SVC_ATTR_MAX + 1];
	struct ipvs_svc		 s;

	if (ipvs_parse_service(h, &s, a) == -1)
		return (NL_SKIP);
	ipvs_svc_canon(&s);
	if (ipvs_table_add_svc(f->t, &s) == -1) {
		f->nomem = 1;
		return (NL_STOP);
	}
	return (NL_OK);
}

static int
ipvs_fill_dest_cb(struct nlmsghdr *h, void *arg)
{
	struct ipvs_fill	*f = arg;
	struct nlattr		*a[IPVS_DEST_ATTR_MAX + 1];
	struct ipvs_dest	 d;

	if (ipvs_parse_dest(h, f->af, &d, a) == -1)
		return (NL_SKIP);
	d.fwd &= IP_VS_CONN_F_FWD_MASK;
	if (ipvs_table_add_dest(f->t, f->si, &d) == -1) {
		f->nomem = 1;
		return (NL_STOP);
	}
	return (NL_OK);
}

/*
 * table:read([deadline]): fills the table from the kernel: the services in
 * one dump, then the destinations of each, one dump per service (the kernel
 * has no dump of all), until deadline has passed. Returns true when
 * complete, false when to be called again, or nil, "list services: ..." or
 * "list destinations of <service>: ...". Does not yield.
 */
static int
ipvs_table_read(lua_State *L)
{
	struct ipvs_table	*t = ipvs_table_check(L, 1, 0);
	double			 deadline = luaL_optnumber(L, 2, -1);
	struct ipvs_fill	 f = { t, 0, 0, 0 };
	struct ipvs_entry	*e;
	const char		*why;
	char			 desc[96];
	int			 err;

	ipvs_need(L);
	t->unindexed = 1;
	if (!t->listed) {
		err = ipvs_request(ipvs_msg(L, IPVS_CMD_GET_SERVICE, NLM_F_DUMP),
		    ipvs_fill_service_cb, &f, &why);
		if (f.nomem)
			return (luaL_error(L, "ipvs: out of memory"));
		if (err != 0)
			return (ipvs_fail(L, IPVS_CMD_GET_SERVICE, err, why, "list services"));
		t->listed = 1;
	}
	/* Destinations arrive in service order, so each service's are contiguous. */
	for (; t->next < t->nsvcs; t->next++) {
		/* The clock is a system call in UML: look at it now and then. */
		if (t->next % 16 == 0 && deadline >= 0 && loop_now() >= deadline) {
			lua_pushboolean(L, 0);
			return (1);
		}
		e = &t->svcs[t->next];
		e->first = t->ndests;
		f.si = t->next;
		f.af = e->s.af;
		err = ipvs_request(ipvs_dests_msg(L, &e->s), ipvs_fill_dest_cb, &f, &why);
		if (f.nomem)
			return (luaL_error(L, "ipvs: out of memory"));
		if (err != 0) {
			ipvs_svc_desc(&e->s, desc, sizeof(desc));
			return (ipvs_fail(L, IPVS_CMD_GET_DEST, err, why,
			    lua_pushfstring(L, "list destinations of %s", desc)));
		}
	}
	t->unindexed = 0;
	if (ipvs_index_reserve(t, &t->by_dest, 1, t->ndests) == -1)
		return (luaL_error(L, "ipvs: out of memory"));
	t->complete = 1;
	lua_pushboolean(L, 1);
	return (1);
}

/* merge(want, current): want, then what only current has: the table after an apply without pruning. */
static int
ipvs_merge(lua_State *L)
{
	struct ipvs_table	*w = ipvs_table_check(L, 1, 1);
	struct ipvs_table	*c = ipvs_table_check(L, 2, 1);
	struct ipvs_table	*t = ipvs_table_new(L);
	struct ipvs_entry	*e;
	ssize_t			 ci;
	size_t			 i, j;
	int			 r = 0;

	for (i = 0; i < w->nsvcs && r == 0; i++) {
		e = &w->svcs[i];
		r = ipvs_table_add_svc(t, &e->s);
		for (j = e->first; j < e->first + e->n && r == 0; j++)
			r = ipvs_table_add_dest(t, t->nsvcs - 1, &w->dests[j]);
		if ((ci = ipvs_find_svc(c, &e->s)) == -1)
			continue;
		e = &c->svcs[ci];
		for (j = e->first; j < e->first + e->n && r == 0; j++)
			if (ipvs_find_dest(w, i, &c->dests[j]) == -1)
				r = ipvs_table_add_dest(t, t->nsvcs - 1, &c->dests[j]);
	}
	for (i = 0; i < c->nsvcs && r == 0; i++) {
		e = &c->svcs[i];
		if (ipvs_find_svc(w, &e->s) != -1)
			continue;
		r = ipvs_table_add_svc(t, &e->s);
		for (j = e->first; j < e->first + e->n && r == 0; j++)
			r = ipvs_table_add_dest(t, t->nsvcs - 1, &c->dests[j]);
	}
	if (r == -1)
		return (luaL_error(L, "ipvs: out of memory"));
	t->complete = 1;
	return (1);
}

/* table:fill(t): sets t[1..n] to the services in the form normalize gives. */
static int
ipvs_table_fill(lua_State *L)
{
	struct ipvs_table	*t = ipvs_table_check(L, 1, 1);
	struct ipvs_entry	*e;
	size_t			 i, j;

	luaL_checktype(L, 2, LUA_TTABLE);
	for (i = 0; i < t->nsvcs; i++) {
		e = &t->svcs[i];
		ipvs_push_service(L, &e->s);
		lua_createtable(L, (int)e->n, 0);
		for (j = 0; j < e->n; j++) {
			ipvs_push_dest(L, &t->dests[e->first + j]);
			lua_rawseti(L, -2, (lua_Integer)j + 1);
		}
		lua_setfield(L, -2, "dests");
		lua_rawseti(L, 2, (lua_Integer)i + 1);
	}
	return (0);
}

/* table:size(): the number of services and of destinations. */
static int
ipvs_table_size(lua_State *L)
{
	struct ipvs_table	*t = luaL_checkudata(L, 1, IPVS_TABLE_MT);

	lua_pushinteger(L, (lua_Integer)t->nsvcs);
	lua_pushinteger(L, (lua_Integer)t->ndests);
	return (2);
}

/*
 * A new ops userdata on the tables at cur and want, with room for cap
 * operations: allocated once at the most a difference can need, of which
 * only the pages written are touched.
 */
static struct ipvs_ops *
ipvs_ops_new(lua_State *L, int cur, int want, size_t cap)
{
	struct ipvs_ops	*o;

	cur = lua_absindex(L, cur);
	want = lua_absindex(L, want);
	o = lua_newuserdatauv(L, sizeof(*o), 2);
	memset(o, 0, sizeof(*o));
	luaL_setmetatable(L, IPVS_OPS_MT);
	o->tab[0] = luaL_checkudata(L, want, IPVS_TABLE_MT);
	o->tab[1] = luaL_checkudata(L, cur, IPVS_TABLE_MT);
	lua_pushvalue(L, cur);
	lua_setiuservalue(L, -2, 1);
	lua_pushvalue(L, want);
	lua_setiuservalue(L, -2, 2);
	if (ipvs_grow((void **)&o->v, &o->cap, cap, sizeof(*o->v)) == -1)
		luaL_error(L, "ipvs: out of memory");
	return (o);
}

static void
ipvs_ops_add(lua_State *L, struct ipvs_ops *o, enum ipvs_op op, int where,
    size_t s, size_t d, size_t old)
{
	struct ipvs_opv	*v;

	if (ipvs_grow((void **)&o->v, &o->cap, o->n + 1, sizeof(*o->v)) == -1)
		luaL_error(L, "ipvs: out of memory");
	v = &o->v[o->n++];
	v->op = op;
	v->state = OPV_PENDING;
	v->where = where;
	v->s = (uint32_t)s;
	v->d = (uint32_t)d;
	v->old = (uint32_t)old;
	if (op == OP_ADD_SERVICE || op == OP_ADD_DEST)
		o->added++;
	else if (op == OP_EDIT_SERVICE || op == OP_EDIT_DEST)
		o->changed++;
	else
		o->removed++;
}

static const struct ipvs_svc *
ipvs_opv_svc(const struct ipvs_ops *o, const struct ipvs_opv *v)
{
	return (&o->tab[(v->where & OPV_S_CUR) != 0]->svcs[v->s].s);
}

/* The destination of a destination operation; NULL for a service operation. */
static const struct ipvs_dest *
ipvs_opv_dest(const struct ipvs_ops *o, const struct ipvs_opv *v)
{
	if (v->op < OP_ADD_DEST)
		return (NULL);
	return (&o->tab[(v->where & OPV_D_CUR) != 0]->dests[v->d]);
}

/*
 * diff(current, want, prune): the operations that turn current into want:
 * adds and edits first, then the deletions, so that a real server moving
 * between services is never missing from both. Edits keep what they
 * replace, for undo.
 */
static int
ipvs_diff(lua_State *L)
{
	struct ipvs_table	*c = ipvs_table_check(L, 1, 1);
	struct ipvs_table	*w = ipvs_table_check(L, 2, 1);
	int			 prune = lua_toboolean(L, 3);
	struct ipvs_ops		*o;
	struct ipvs_entry	*we, *ce;
	ssize_t			 ci, cj;
	size_t			 i, j;

	o = ipvs_ops_new(L, 1, 2, w->nsvcs + w->ndests + c->nsvcs + c->ndests);
	for (i = 0; i < w->nsvcs; i++) {
		we = &w->svcs[i];
		if ((ci = ipvs_find_svc(c, &we->s)) == -1) {
			ipvs_ops_add(L, o, OP_ADD_SERVICE, 0, i, 0, 0);
			for (j = we->first; j < we->first + we->n; j++)
				ipvs_ops_add(L, o, OP_ADD_DEST, 0, i, j, 0);
			continue;
		}
		ce = &c->svcs[ci];
		if (ipvs_svc_differs(&we->s, &ce->s))
			ipvs_ops_add(L, o, OP_EDIT_SERVICE, OPV_OLD_CUR, i, 0, ci);
		for (j = we->first; j < we->first + we->n; j++) {
			if ((cj = ipvs_find_dest(c, ci, &w->dests[j])) == -1)
				ipvs_ops_add(L, o, OP_ADD_DEST, 0, i, j, 0);
			else if (ipvs_dest_differs(&w->dests[j], &c->dests[cj]))
				ipvs_ops_add(L, o, OP_EDIT_DEST, OPV_OLD_CUR, i, j, cj);
		}
	}
	if (!prune)
		return (1);
	for (i = 0; i < w->nsvcs; i++) {
		if ((ci = ipvs_find_svc(c, &w->svcs[i].s)) == -1)
			continue;
		ce = &c->svcs[ci];
		for (j = ce->first; j < ce->first + ce->n; j++)
			if (ipvs_find_dest(w, i, &c->dests[j]) == -1)
				ipvs_ops_add(L, o, OP_DEL_DEST, OPV_S_CUR | OPV_D_CUR, ci, j, 0);
	}
	for (i = 0; i < c->nsvcs; i++)
		if (ipvs_find_svc(w, &c->svcs[i].s) == -1)
			ipvs_ops_add(L, o, OP_DEL_SERVICE, OPV_S_CUR, i, 0, 0);
	return (1);
}

static struct ipvs_ops *
ipvs_ops_check(lua_State *L, int idx)
{
	struct ipvs_ops	*o = luaL_checkudata(L, idx, IPVS_OPS_MT);

	if (o->tab[0] == NULL)
		luaL_error(L, "attempt to use closed ipvs operations");
	return (o);
}

static int
ipvs_ops_gc(lua_State *L)
{
	struct ipvs_ops	*o = luaL_checkudata(L, 1, IPVS_OPS_MT);

	free(o->v);
	memset(o, 0, sizeof(*o));
	return (0);
}

/* ops:count(): the number of operations, and of adds, edits and deletions. */
static int
ipvs_ops_count(lua_State *L)
{
	struct ipvs_ops	*o = ipvs_ops_check(L, 1);

	lua_pushinteger(L, (lua_Integer)o->n);
	lua_pushinteger(L, (lua_Integer)o->added);
	lua_pushinteger(L, (lua_Integer)o->changed);
	lua_pushinteger(L, (lua_Integer)o->removed);
	return (4);
}

/* -t 192.0.2.10:80, -f 10 -6: how ipvsadm names a service. */
static int
ipvs_svc_switch(const struct ipvs_svc *s, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN + 8];

	if (s->fwmark != 0)
		return (snprintf(buf, len, "-f %u%s", s->fwmark,
		    s->af == AF_INET6 ? " -6" : ""));
	ipvs_format_addr(s->af, s->addr, s->port, a, sizeof(a));
	return (snprintf(buf, len, "%s %s", s->protocol == IPPROTO_TCP ? "-t" :
	    s->protocol == IPPROTO_UDP ? "-u" : "--sctp-service", a));
}

/* The ipvsadm command line that does an operation, for reports and logs. */
static void
ipvs_op_text(enum ipvs_op op, const struct ipvs_svc *s, const struct ipvs_dest *d,
    char *buf, size_t len)
{
	static const char *const fwd_switches[] = { "-m", "-g", "-i", "-g" };
	static const char *const sched_flags[] = { "flag-1", "flag-2", "flag-3" };
	static const char *const sh_flags[] = { "sh-fallback", "sh-port" };
	static const uint32_t bits[] = {
		IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, IP_VS_SVC_F_SCHED3
	};
	char		 a[INET6_ADDRSTRLEN + 8], sw[96];
	size_t		 n;
	int		 i, nflags = 0;

	ipvs_svc_switch(s, sw, sizeof(sw));
	if (op == OP_DEL_SERVICE) {
		snprintf(buf, len, "-D %s", sw);
		return;
	}
	if (op == OP_ADD_SERVICE || op == OP_EDIT_SERVICE) {
		n = snprintf(buf, len, "%s %s -s %s", op == OP_ADD_SERVICE ? "-A" : "-E",
		    sw, s->sched);
		if (s->flags & IP_VS_SVC_F_PERSISTENT) {
			n += snprintf(buf + n, len - n, " -p %u", s->timeout);
			if (s->af == AF_INET6 && s->netmask != 128)
				n += snprintf(buf + n, len - n, " -M %u", s->netmask);
			else if (s->af != AF_INET6 && s->netmask != 0xffffffff) {
				inet_ntop(AF_INET, &s->netmask, a, sizeof(a));
				n += snprintf(buf + n, len - n, " -M %s", a);
			}
		}
		if (s->pe[0] != '\0')
			n += snprintf(buf + n, len - n, " --pe %s", s->pe);
		if (s->flags & IP_VS_SVC_F_ONEPACKET)
			n += snprintf(buf + n, len - n, " -o");
		for (i = 0; i < 3; i++)
			if (s->flags & bits[i])
				n += snprintf(buf + n, len - n, "%s%s", nflags++ == 0 ?
				    " -b " : ",", i < 2 && strcmp(s->sched, "sh") == 0 ?
				    sh_flags[i] : sched_flags[i]);
		return;
	}
	ipvs_format_addr(d->af, d->addr, d->port, a, sizeof(a));
	if (op == OP_DEL_DEST) {
		snprintf(buf, len, "-d %s -r %s", sw, a);
		return;
	}
	n = snprintf(buf, len, "%s %s -r %s %s -w %d", op == OP_ADD_DEST ? "-a" : "-e",
	    sw, a, fwd_switches[d->fwd & IP_VS_CONN_F_FWD_MASK], (int)d->weight);
	if (d->u_thresh != 0)
		n += snprintf(buf + n, len - n, " -x %u", d->u_thresh);
	if (d->l_thresh != 0)
		snprintf(buf + n, len - n, " -y %u", d->l_thresh);
}

static void
ipvs_opv_text(const struct ipvs_ops *o, const struct ipvs_opv *v, char *buf, size_t len)
{
	ipvs_op_text(v->op, ipvs_opv_svc(o, v), ipvs_opv_dest(o, v), buf, len);
}

/* ops:text(i): operation i as an ipvsadm command line. */
static int
ipvs_ops_text(lua_State *L)
{
	struct ipvs_ops	*o = ipvs_ops_check(L, 1);
	lua_Integer	 i = luaL_checkinteger(L, 2);
	char		 buf[512];

	luaL_argcheck(L, i >= 1 && i <= (lua_Integer)o->n, 2, "no such operation");
	ipvs_opv_text(o, &o->v[i - 1], buf, sizeof(buf));
	lua_pushstring(L, buf);
	return (1);
}

/* ops:texts(t): sets t[1..n] to the operations as ipvsadm command lines. */
static int
ipvs_ops_texts(lua_State *L)
{
	struct ipvs_ops	*o = ipvs_ops_check(L, 1);
	char		 buf[512];
	size_t		 i;

	luaL_checktype(L, 2, LUA_TTABLE);
	for (i = 0; i < o->n; i++) {
		ipvs_opv_text(o, &o->v[i], buf, sizeof(buf));
		lua_pushstring(L, buf);
		lua_rawseti(L, 2, (lua_Integer)i + 1);
	}
	return (0);
}

/*
 * ops:send(i, n): sends operations i .. i + n - 1 as one batch (see
 * ipvs_exchange) and marks each done or failed. Returns true; false, the
 * index of the first that failed and "<operation>: <reason>"; or nil and
 * "ipvs batch: send|receive: <reason>" (then nothing is marked). Does not
 * yield.
 */
static int
ipvs_ops_send(lua_State *L)
{
	struct ipvs_ops	*o = ipvs_ops_check(L, 1);
	lua_Integer	 i = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3), j;
	struct ipvs_wbuf w;
	struct ipvs_opv	*v;
	int		 errs[IPVS_BATCH_MAX], failed = 0;
	char		 what[200], why[200];
	unsigned int	 seq0 = 0, seq;

	luaL_argcheck(L, i >= 1 && i <= (lua_Integer)o->n, 2, "no such operation");
	luaL_argcheck(L, n >= 1 && n <= IPVS_BATCH_MAX && i + n - 1 <= (lua_Integer)o->n,
	    3, "1 to 256 operations");
	ipvs_need(L);
	w.p = ipvs_sbuf;
	w.len = 0;
	w.cap = IPVS_BATCH_MAX * IPVS_MSG_MAX;
	for (j = 0; j < n; j++) {
		v = &o->v[i - 1 + j];
		seq = nl_socket_use_seq(ipvs_sk);
		if (j == 0)
			seq0 = seq;
		if (ipvs_wop(&w, v->op, j == n - 1 ? NLM_F_ACK : 0, seq,
		    ipvs_opv_svc(o, v), ipvs_opv_dest(o, v)) == -1)
			return (luaL_error(L, "ipvs: message too large"));
	}
	if (ipvs_exchange(&w, seq0, (int)n, errs, why, sizeof(why)) == -1)
		return (luaha_fail(L, "%s", why));
	for (j = 0; j < n; j++) {
		v = &o->v[i - 1 + j];
		v->state = errs[j] == 0 ? OPV_DONE : OPV_FAILED;
		if (errs[j] != 0 && failed == 0)
			failed = (int)j + 1;
	}
	if (failed == 0) {
		lua_pushboolean(L, 1);
		return (1);
	}
	v = &o->v[i - 1 + failed - 1];
	ipvs_op_what(v->op, ipvs_opv_svc(o, v), ipvs_opv_dest(o, v), what, sizeof(what));
	lua_pushboolean(L, 0);
	lua_pushinteger(L, i + failed - 1);
	lua_pushfstring(L, "%s: %s", what, ipvs_strerror(ipvs_op_cmds[v->op],
	    errs[failed - 1]));
	return (3);
}

/* ops:undo(): the operations that undo those carried out, last first. */
static int
ipvs_ops_undo(lua_State *L)
{
	struct ipvs_ops		*o = ipvs_ops_check(L, 1), *u;
	const struct ipvs_opv	*v;
	const struct ipvs_entry	*e;
	size_t			 i, k, n = 0;
	int			 sw, dw, ow;

	for (i = 0; i < o->n; i++)
		if (o->v[i].state == OPV_DONE)
			n += o->v[i].op == OP_DEL_SERVICE ?
			    1 + o->tab[1]->svcs[o->v[i].s].n : 1;
	lua_getiuservalue(L, 1, 1);
	lua_getiuservalue(L, 1, 2);
	u = ipvs_ops_new(L, -2, -1, n);
	for (i = o->n; i-- > 0;) {
		v = &o->v[i];
		if (v->state != OPV_DONE)
			continue;
		sw = v->where & OPV_S_CUR;
		dw = v->where & OPV_D_CUR;
		ow = v->where & OPV_OLD_CUR;
		switch (v->op) {
		case OP_ADD_SERVICE:
			ipvs_ops_add(L, u, OP_DEL_SERVICE, sw, v->s, 0, 0);
			break;
		case OP_ADD_DEST:
			ipvs_ops_add(L, u, OP_DEL_DEST, sw | dw, v->s, v->d, 0);
			break;
		case OP_EDIT_SERVICE:
			ipvs_ops_add(L, u, OP_EDIT_SERVICE, ow ? OPV_S_CUR : 0, v->old, 0, 0);
			break;
		case OP_EDIT_DEST:
			ipvs_ops_add(L, u, OP_EDIT_DEST, sw | (ow ? OPV_D_CUR : 0),
			    v->s, v->old, 0);
			break;
		case OP_DEL_DEST:
			ipvs_ops_add(L, u, OP_ADD_DEST, sw | dw, v->s, v->d, 0);
			break;
		case OP_DEL_SERVICE:
			ipvs_ops_add(L, u, OP_ADD_SERVICE, sw, v->s, 0, 0);
			e = &o->tab[sw != 0]->svcs[v->s];
			for (k = e->first; k < e->first + e->n; k++)
				ipvs_ops_add(L, u, OP_ADD_DEST, sw | (sw ? OPV_D_CUR : 0),
				    v->s, k, 0);
			break;
		}
	}
	return (1);
}

static const luaL_Reg ipvs_table_methods[] = {
	{ "close", ipvs_table_gc },
	{ "load", ipvs_table_load },
	{ "read", ipvs_table_read },
	{ "fill", ipvs_table_fill },
	{ "size", ipvs_table_size },
	{ NULL, NULL }
};

static const luaL_Reg ipvs_table_meta[] = {
	{ "__gc", ipvs_table_gc },
	{ "__close", ipvs_table_gc },
	{ NULL, NULL }
};

static const luaL_Reg ipvs_ops_methods[] = {
	{ "close", ipvs_ops_gc },
	{ "count", ipvs_ops_count },
	{ "text", ipvs_ops_text },
	{ "texts", ipvs_ops_texts },
	{ "send", ipvs_ops_send },
	{ "undo", ipvs_ops_undo },
	{ NULL, NULL }
};

static const luaL_Reg ipvs_ops_meta[] = {
	{ "__gc", ipvs_ops_gc },
	{ "__close", ipvs_ops_gc },
	{ NULL, NULL }
};

static const luaL_Reg ipvs_funcs[] = {
	{ "list_services", ipvs_list_services },
	{ "list_dests", ipvs_list_dests },
	{ "add_service", ipvs_add_service },
	{ "edit_service", ipvs_edit_service },
	{ "del_service", ipvs_del_service },
	{ "add_dest", ipvs_add_dest },
	{ "edit_dest", ipvs_edit_dest },
	{ "del_dest", ipvs_del_dest },
	{ "batch", ipvs_batch },
	{ "normalize", ipvs_normalize },
	{ "flush", ipvs_flush },
	{ "zero", ipvs_zero },
	{ "info", ipvs_info },
	{ "timeouts", ipvs_timeouts },
	{ "set_timeouts", ipvs_set_timeouts },
	{ "start_daemon", ipvs_start_daemon },
	{ "stop_daemon", ipvs_stop_daemon },
	{ "daemons", ipvs_daemons },
	{ "new_table", ipvs_new_table },
	{ "merge", ipvs_merge },
	{ "diff", ipvs_diff },
	{ NULL, NULL }
};

int
luaopen_luaha_core_ipvs(lua_State *L)
{
	luaL_newmetatable(L, IPVS_TABLE_MT);
	luaL_setfuncs(L, ipvs_table_meta, 0);
	luaL_newlib(L, ipvs_table_methods);
	lua_setfield(L, -2, "__index");
	luaL_newmetatable(L, IPVS_OPS_MT);
	luaL_setfuncs(L, ipvs_ops_meta, 0);
	luaL_newlib(L, ipvs_ops_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 2);
	luaL_newlib(L, ipvs_funcs);
	return (1);
}
