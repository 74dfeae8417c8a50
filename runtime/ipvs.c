/* ipvs.c: the kernel's IPVS table over generic netlink (libnl-genl): services, destinations, batches, daemons. */
#include <sys/socket.h>

#include <arpa/inet.h>
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
	char		 desc[80];	/* "TCP 192.0.2.1:80", for messages */
};

struct ipvs_dest {
	uint16_t	 af;
	uint8_t		 addr[16];
	uint16_t	 port;		/* host order */
	uint32_t	 fwd;		/* IP_VS_CONN_F_* */
	int32_t		 weight;
	uint32_t	 u_thresh;
	uint32_t	 l_thresh;
	char		 desc[64];	/* "192.0.2.101:80" */
};

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

static struct nl_sock	*ipvs_sk;	/* one socket for every request */
static int		 ipvs_family;	/* resolved once */

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
	 * that nl_recvmsgs does not read: commands that only acknowledge ask
	 * for one themselves (ipvs_simple).
	 */
	nl_socket_disable_auto_ack(ipvs_sk);
	/*
	 * Peeking doubles the receive calls of every dump (services() makes
	 * one per service); a 64 KiB buffer holds any reply of ours instead.
	 */
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

static int
ipvs_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	(void)nla;
	*(int *)arg = -e->error;
	return (NL_STOP);
}

/*
 * Sends msg (freed here) and reads the replies, handing each to parse.
 * Returns 0, or the kernel's errno (positive), or -1 with *why set for a
 * failure of our own.
 */
static int
ipvs_request(struct nl_msg *msg, nl_recvmsg_msg_cb_t parse, void *arg,
    const char **why)
{
	struct nl_cb	*cb;
	int		 kerr = 0, r;

	*why = NULL;
	if ((cb = nl_cb_alloc(NL_CB_DEFAULT)) == NULL) {
		nlmsg_free(msg);
		*why = "out of memory";
		return (-1);
	}
	nl_cb_err(cb, NL_CB_CUSTOM, ipvs_err_cb, &kerr);
	if (parse != NULL)
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, parse, arg);
	r = nl_send_auto(ipvs_sk, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_recvmsgs(ipvs_sk, cb);
	nl_cb_put(cb);
	if (kerr != 0)
		return (kerr);
	if (r < 0) {
		*why = nl_geterror(r);
		return (-1);
	}
	return (0);
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

static lua_Integer
ipvs_field_int(lua_State *L, int idx, const char *field, lua_Integer def,
    lua_Integer min, lua_Integer max)
{
	lua_Integer	 v;
	int		 isnum;

	if (lua_getfield(L, idx, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return (def);
	}
	v = lua_tointegerx(L, -1, &isnum);
	if (!isnum || v < min || v > max)
		luaL_error(L, "ipvs: %s must be an integer from %I to %I",
		    field, min, max);
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
	char		 a[INET6_ADDRSTRLEN];
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
		snprintf(s->desc, sizeof(s->desc), "FWM %u%s", s->fwmark,
		    s->af == AF_INET6 ? " IPv6" : "");
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
		inet_ntop(s->af, s->addr, a, sizeof(a));
		snprintf(s->desc, sizeof(s->desc),
		    s->af == AF_INET6 ? "%s [%s]:%u" : "%s %s:%u",
		    i == 0 ? "TCP" : i == 1 ? "UDP" : "SCTP", a, s->port);
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
	const char	*addr, *fwd;
	int		 i;

	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	ipvs_check_keys(L, idx, ipvs_dest_keys, "destination");
	memset(d, 0, sizeof(*d));
	if ((addr = ipvs_field_string(L, idx, "address")) == NULL)
		luaL_error(L, "ipvs: a destination needs an address");
	if ((d->af = ipvs_parse_addr(addr, d->addr)) == 0)
		luaL_error(L, "ipvs: \"%s\" is not an IPv4 or IPv6 address", addr);
	d->port = (uint16_t)ipvs_field_int(L, idx, "port", s->port, 0, 65535);
	d->weight = (int32_t)ipvs_field_int(L, idx, "weight", 1, 0, INT32_MAX);
	d->u_thresh = (uint32_t)ipvs_field_int(L, idx, "u_threshold", 0, 0, UINT32_MAX);
	d->l_thresh = (uint32_t)ipvs_field_int(L, idx, "l_threshold", 0, 0, UINT32_MAX);
	fwd = ipvs_field_string(L, idx, "forward");
	for (i = 0; fwds[i] != NULL; i++)
		if (strcmp(fwds[i], fwd != NULL ? fwd : "dr") == 0)
			break;
	if (fwds[i] == NULL)
		luaL_error(L, "ipvs: unknown forward method \"%s\" (dr, gate, route, "
		    "nat, masq, tun, ipip, local)", fwd);
	d->fwd = fwd_flags[i];
	ipvs_format_addr(d->af, d->addr, d->port, d->desc, sizeof(d->desc));
}

/* Adds the service attribute: identity only, or with its settings (full). */
static int
ipvs_put_service(struct nl_msg *msg, const struct ipvs_svc *s, int full)
{
	struct nlattr		*nest;
	struct ip_vs_flags	 flags = { s->flags, ~0U };

	if ((nest = nla_nest_start(msg, IPVS_CMD_ATTR_SERVICE)) == NULL)
		return (-1);
	if (nla_put_u16(msg, IPVS_SVC_ATTR_AF, s->af) < 0)
		return (-1);
	if (s->fwmark != 0) {
		if (nla_put_u32(msg, IPVS_SVC_ATTR_FWMARK, s->fwmark) < 0)
			return (-1);
	} else if (nla_put_u16(msg, IPVS_SVC_ATTR_PROTOCOL, s->protocol) < 0 ||
	    nla_put(msg, IPVS_SVC_ATTR_ADDR, 16, s->addr) < 0 ||
	    nla_put_u16(msg, IPVS_SVC_ATTR_PORT, htons(s->port)) < 0)
		return (-1);
	if (full && (nla_put_string(msg, IPVS_SVC_ATTR_SCHED_NAME, s->sched) < 0 ||
	    nla_put(msg, IPVS_SVC_ATTR_FLAGS, sizeof(flags), &flags) < 0 ||
	    nla_put_u32(msg, IPVS_SVC_ATTR_TIMEOUT, s->timeout) < 0 ||
	    nla_put_u32(msg, IPVS_SVC_ATTR_NETMASK, s->netmask) < 0 ||
	    (s->pe[0] != '\0' &&
	    nla_put_string(msg, IPVS_SVC_ATTR_PE_NAME, s->pe) < 0)))
		return (-1);
	return (nla_nest_end(msg, nest));
}

static int
ipvs_put_dest(struct nl_msg *msg, const struct ipvs_dest *d, int full)
{
	struct nlattr	*nest;

	if ((nest = nla_nest_start(msg, IPVS_CMD_ATTR_DEST)) == NULL)
		return (-1);
	if (nla_put(msg, IPVS_DEST_ATTR_ADDR, 16, d->addr) < 0 ||
	    nla_put_u16(msg, IPVS_DEST_ATTR_PORT, htons(d->port)) < 0 ||
	    nla_put_u16(msg, IPVS_DEST_ATTR_ADDR_FAMILY, d->af) < 0)
		return (-1);
	if (full && (nla_put_u32(msg, IPVS_DEST_ATTR_FWD_METHOD, d->fwd) < 0 ||
	    nla_put_u32(msg, IPVS_DEST_ATTR_WEIGHT, (uint32_t)d->weight) < 0 ||
	    nla_put_u32(msg, IPVS_DEST_ATTR_U_THRESH, d->u_thresh) < 0 ||
	    nla_put_u32(msg, IPVS_DEST_ATTR_L_THRESH, d->l_thresh) < 0))
		return (-1);
	return (nla_nest_end(msg, nest));
}

/*
 * Builds the message for one operation from the Lua tables at sidx and
 * didx (didx 0 for service operations); what receives its description.
 */
static struct nl_msg *
ipvs_op_msg(lua_State *L, enum ipvs_op op, int sidx, int didx, char *what,
    size_t whatlen)
{
	struct ipvs_svc	 s;
	struct ipvs_dest d;
	struct nl_msg	*msg;
	int		 r;

	/* Everything that may raise comes before the message is allocated. */
	ipvs_check_service(L, sidx, &s);
	if (op >= OP_ADD_DEST) {
		if (didx == 0)
			luaL_error(L, "ipvs: %s needs a destination", ipvs_op_names[op]);
		ipvs_check_dest(L, didx, &s, &d);
	}
	msg = ipvs_msg(L, ipvs_op_cmds[op], 0);
	r = ipvs_put_service(msg, &s, op == OP_ADD_SERVICE || op == OP_EDIT_SERVICE);
	if (op >= OP_ADD_DEST) {
		if (r >= 0)
			r = ipvs_put_dest(msg, &d, op != OP_DEL_DEST);
		snprintf(what, whatlen, "%s %s -> %s", ipvs_op_verbs[op], s.desc, d.desc);
	} else
		snprintf(what, whatlen, "%s %s", ipvs_op_verbs[op], s.desc);
	if (r < 0) {
		nlmsg_free(msg);
		luaL_error(L, "ipvs: message too large");
	}
	return (msg);
}

static int
ipvs_op(lua_State *L, enum ipvs_op op)
{
	struct nl_msg	*msg;
	char		 what[200];

	ipvs_need(L);
	msg = ipvs_op_msg(L, op, 1, op >= OP_ADD_DEST ? 2 : 0, what, sizeof(what));
	return (ipvs_simple(L, msg, ipvs_op_cmds[op], what));
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

/* The message for operation i of the ops table at index 1, its op and description. */
static struct nl_msg *
ipvs_batch_msg(lua_State *L, lua_Integer i, int *op, char *what, size_t whatlen)
{
	struct nl_msg	*msg;

	if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
		luaL_error(L, "ipvs: operation %I is not a table", i);
	lua_getfield(L, -1, "op");
	*op = ipvs_name_index(L, -1, ipvs_op_names, "operation");
	lua_getfield(L, -2, "service");
	lua_getfield(L, -3, "dest");
	msg = ipvs_op_msg(L, *op, -2, lua_isnil(L, -1) ? 0 : -1, what, whatlen);
	lua_pop(L, 4);
	return (msg);
}

/*
 * batch(ops): sends up to IPVS_BATCH_MAX operations {op=, service=, dest=}
 * in one sendmsg. Only the last asks for an acknowledgement: the kernel
 * handles a batch in order and reports each failure by its sequence number
 * even without one, so when the last answer arrives every failure has too.
 * The kernel goes on after a failure. Returns an array with, per operation,
 * true or the message "<operation>: <reason>". Does not yield.
 */
static int
ipvs_batch(lua_State *L)
{
	struct nl_msg		*msg;
	struct nlmsghdr		*hdr;
	struct sockaddr_nl	 nla;
	unsigned char		*rbuf = NULL;
	char			*buf, what[200];
	size_t			 len = 0, cap, mlen;
	unsigned int		 seq0 = 0, seq;
	lua_Integer		 i, n;
	int			 op, r, done = 0;

	luaL_checktype(L, 1, LUA_TTABLE);
	n = luaL_len(L, 1);
	luaL_argcheck(L, n >= 1 && n <= IPVS_BATCH_MAX, 1, "1 to 256 operations");
	ipvs_need(L);
	/*
	 * One message is far below IPVS_MSG_MAX bytes; the buffer is a
	 * userdata so that a malformed operation raising midway leaks nothing.
	 */
	cap = (size_t)n * IPVS_MSG_MAX;
	buf = lua_newuserdatauv(L, cap, 0);
	lua_createtable(L, (int)n, 0);		/* the results */
	for (i = 1; i <= n; i++) {
		msg = ipvs_batch_msg(L, i, &op, what, sizeof(what));
		lua_pushboolean(L, 1);
		lua_rawseti(L, -2, i);
		hdr = nlmsg_hdr(msg);
		seq = nl_socket_use_seq(ipvs_sk);
		if (i == 1)
			seq0 = seq;
		hdr->nlmsg_seq = seq;
		hdr->nlmsg_pid = 0;
		hdr->nlmsg_flags = NLM_F_REQUEST | (i == n ? NLM_F_ACK : 0);
		mlen = NLMSG_ALIGN(hdr->nlmsg_len);
		if (len + mlen > cap) {
			nlmsg_free(msg);
			return (luaL_error(L, "ipvs: message too large"));
		}
		memcpy(buf + len, hdr, hdr->nlmsg_len);
		memset(buf + len + hdr->nlmsg_len, 0, mlen - hdr->nlmsg_len);
		len += mlen;
		nlmsg_free(msg);
	}
	r = nl_sendto(ipvs_sk, buf, len);
	if (r < 0)
		return (luaha_fail(L, "ipvs batch: send: %s", nl_geterror(r)));
	while (!done) {
		if ((r = nl_recv(ipvs_sk, &nla, &rbuf, NULL)) <= 0)
			return (luaha_fail(L, "ipvs batch: receive: %s",
			    r == 0 ? "no answer" : nl_geterror(r)));
		for (hdr = (struct nlmsghdr *)rbuf; nlmsg_ok(hdr, r);
		    hdr = nlmsg_next(hdr, &r)) {
			struct nlmsgerr *e = nlmsg_data(hdr);

			if (hdr->nlmsg_type != NLMSG_ERROR ||
			    hdr->nlmsg_seq < seq0 || hdr->nlmsg_seq >= seq0 + n)
				continue;	/* not one of ours */
			i = hdr->nlmsg_seq - seq0 + 1;
			if (e->error != 0) {
				/* Described only now: most batches have no failure. */
				nlmsg_free(ipvs_batch_msg(L, i, &op, what, sizeof(what)));
				lua_pushfstring(L, "%s: %s", what,
				    ipvs_strerror(ipvs_op_cmds[op], -e->error));
				lua_rawseti(L, -2, i);
			}
			if (i == n)
				done = 1;
		}
		free(rbuf);
		rbuf = NULL;
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
	struct ipvs_svc	 s;
	struct nl_msg	*msg;

	ipvs_need(L);
	if (!lua_isnoneornil(L, 1))
		ipvs_check_service(L, 1, &s);
	msg = ipvs_msg(L, IPVS_CMD_ZERO, 0);
	if (!lua_isnoneornil(L, 1) && ipvs_put_service(msg, &s, 0) < 0) {
		nlmsg_free(msg);
		return (luaL_error(L, "ipvs: message too large"));
	}
	return (ipvs_simple(L, msg, IPVS_CMD_ZERO, lua_isnoneornil(L, 1) ? "zero" :
	    lua_pushfstring(L, "zero service %s", s.desc)));
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

static int
ipvs_service_cb(struct nl_msg *msg, void *arg)
{
	struct ipvs_dump	*dump = arg;
	lua_State		*L = dump->L;
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct nlattr		*a[IPVS_SVC_ATTR_MAX + 1];
	struct ipvs_svc		 s;
	struct ip_vs_flags	 flags;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_SERVICE] == NULL ||
	    nla_parse_nested(a, IPVS_SVC_ATTR_MAX, attrs[IPVS_CMD_ATTR_SERVICE],
	    NULL) < 0 || a[IPVS_SVC_ATTR_AF] == NULL ||
	    a[IPVS_SVC_ATTR_SCHED_NAME] == NULL || a[IPVS_SVC_ATTR_FLAGS] == NULL) {
		log_warnx("ipvs: skipping a malformed service from the kernel");
		return (NL_SKIP);
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
	ipvs_push_service(L, &s);
	ipvs_push_stats_of(L, a[IPVS_SVC_ATTR_STATS64], a[IPVS_SVC_ATTR_STATS]);
	lua_newtable(L);
	lua_setfield(L, -2, "dests");
	lua_rawseti(L, -2, ++dump->n);
	return (NL_OK);
}

static int
ipvs_dest_cb(struct nl_msg *msg, void *arg)
{
	struct ipvs_dump	*dump = arg;
	lua_State		*L = dump->L;
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct nlattr		*a[IPVS_DEST_ATTR_MAX + 1];
	struct ipvs_dest	 d;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
	    attrs[IPVS_CMD_ATTR_DEST] == NULL ||
	    nla_parse_nested(a, IPVS_DEST_ATTR_MAX, attrs[IPVS_CMD_ATTR_DEST],
	    NULL) < 0 || a[IPVS_DEST_ATTR_ADDR] == NULL ||
	    a[IPVS_DEST_ATTR_PORT] == NULL || a[IPVS_DEST_ATTR_FWD_METHOD] == NULL) {
		log_warnx("ipvs: skipping a malformed destination from the kernel");
		return (NL_SKIP);
	}
	memset(&d, 0, sizeof(d));
	d.af = a[IPVS_DEST_ATTR_ADDR_FAMILY] != NULL ?
	    nla_get_u16(a[IPVS_DEST_ATTR_ADDR_FAMILY]) : dump->svc->af;
	nla_memcpy(d.addr, a[IPVS_DEST_ATTR_ADDR], sizeof(d.addr));
	d.port = ntohs(nla_get_u16(a[IPVS_DEST_ATTR_PORT]));
	d.fwd = nla_get_u32(a[IPVS_DEST_ATTR_FWD_METHOD]);
	if (a[IPVS_DEST_ATTR_WEIGHT] != NULL)
		d.weight = (int32_t)nla_get_u32(a[IPVS_DEST_ATTR_WEIGHT]);
	if (a[IPVS_DEST_ATTR_U_THRESH] != NULL)
		d.u_thresh = nla_get_u32(a[IPVS_DEST_ATTR_U_THRESH]);
	if (a[IPVS_DEST_ATTR_L_THRESH] != NULL)
		d.l_thresh = nla_get_u32(a[IPVS_DEST_ATTR_L_THRESH]);
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

/* list_dests(service): the service's destinations with their counters. Does not yield. */
static int
ipvs_list_dests(lua_State *L)
{
	struct ipvs_svc		 s;
	struct ipvs_dump	 dump = { L, 0, &s };
	struct nl_msg		*msg;
	const char		*why;
	int			 err;

	ipvs_check_service(L, 1, &s);
	ipvs_need(L);
	lua_newtable(L);
	msg = ipvs_msg(L, IPVS_CMD_GET_DEST, NLM_F_DUMP);
	if (ipvs_put_service(msg, &s, 0) < 0) {
		nlmsg_free(msg);
		return (luaL_error(L, "ipvs: message too large"));
	}
	if ((err = ipvs_request(msg, ipvs_dest_cb, &dump, &why)) != 0)
		return (ipvs_fail(L, IPVS_CMD_GET_DEST, err, why,
		    lua_pushfstring(L, "list destinations of %s", s.desc)));
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
ipvs_info_cb(struct nl_msg *msg, void *arg)
{
	lua_State	*L = arg;
	struct nlattr	*a[IPVS_INFO_ATTR_MAX + 1];
	uint32_t	 v;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, a, IPVS_INFO_ATTR_MAX, NULL) < 0)
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
ipvs_timeouts_cb(struct nl_msg *msg, void *arg)
{
	lua_State	*L = arg;
	struct nlattr	*a[IPVS_CMD_ATTR_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, a, IPVS_CMD_ATTR_MAX, NULL) < 0)
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
ipvs_daemon_cb(struct nl_msg *msg, void *arg)
{
	struct ipvs_dump	*dump = arg;
	lua_State		*L = dump->L;
	struct nlattr		*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct nlattr		*a[IPVS_DAEMON_ATTR_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, IPVS_CMD_ATTR_MAX, NULL) < 0 ||
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
	{ NULL, NULL }
};

int
luaopen_luaha_core_ipvs(lua_State *L)
{
	luaL_newlib(L, ipvs_funcs);
	return (1);
}
