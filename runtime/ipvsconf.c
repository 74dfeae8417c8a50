/* ipvsconf.c: the kernel's IPVS settings, part of luaha.core.ipvs: its version, connection timeouts, sync daemons. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <stdint.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "luaha.h"
#include "ipvs.h"

/*
 * A request for cmd whose answer fills a new table with parse(message, L):
 * returns the table, or nil and "<what>: <reason>". Waits in the calling task.
 */
static int
ipvsconf_get(lua_State *L, int cmd, int flags, const char *what, ipvs_parse_fn parse)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), 0 };
	struct ipvs_sock	*is;
	struct ipvs_req		*q;

	if ((is = ipvs_need(L)) == NULL)
		return (2);
	w.family = is->family;
	ipvs_wmsg(&w, cmd, flags, 0, NULL, 0, NULL, 0);
	q = ipvs_req_new(L, cmd, what, &w, NULL);
	ipvs_req_parse(q, parse, L);
	lua_newtable(L);
	q->result = lua_gettop(L);
	return (ipvs_req_call(L, is, lua_gettop(L) - 1));
}

static int
ipvsconf_info_cb(struct nlmsghdr *h, void *arg)
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
ipvsconf_info(lua_State *L)
{
	return (ipvsconf_get(L, IPVS_CMD_GET_INFO, 0, "info", ipvsconf_info_cb));
}

static int
ipvsconf_timeouts_cb(struct nlmsghdr *h, void *arg)
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
ipvsconf_timeouts(lua_State *L)
{
	return (ipvsconf_get(L, IPVS_CMD_GET_CONFIG, 0, "timeouts", ipvsconf_timeouts_cb));
}

/* set_timeouts{tcp=, tcpfin=, udp=}: those given change, the others stay (0 to the kernel). */
static int
ipvsconf_set_timeouts(lua_State *L)
{
	static const char *const names[] = { "tcp", "tcpfin", "udp", NULL };
	static const int attrs[] = {
		IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
		IPVS_CMD_ATTR_TIMEOUT_UDP
	};
	struct ipvs_sock	*is;
	struct nl_msg		*msg;
	uint32_t		 v[3];
	int			 i;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, names);
	for (i = 0; names[i] != NULL; i++)
		v[i] = (uint32_t)ipvs_field_int(L, 1, names[i], 0, 0, INT32_MAX);
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	msg = ipvs_msg(L, is, IPVS_CMD_SET_CONFIG, 0);
	for (i = 0; names[i] != NULL; i++)
		if (nla_put_u32(msg, attrs[i], v[i]) < 0) {
			nlmsg_free(msg);
			return (luaL_error(L, "ipvs: message too large"));
		}
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	ipvs_req_new(L, IPVS_CMD_SET_CONFIG, "set timeouts", NULL, msg);
	return (ipvs_req_call(L, is, lua_gettop(L)));
}

static uint32_t
ipvsconf_check_state(lua_State *L, int idx)
{
	static const char *const states[] = { "master", "backup", NULL };

	return (ipvs_name_index(L, idx, states, "daemon state") == 0 ?
	    IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP);
}

/* start_daemon{state="master"|"backup", ifname=, syncid=} */
static int
ipvsconf_start_daemon(lua_State *L)
{
	static const char *const opts[] = { "state", "ifname", "syncid", NULL };
	struct ipvs_sock	*is;
	struct nl_msg		*msg;
	struct nlattr		*nest;
	const char		*ifname;
	uint32_t		 state, syncid;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaha_check_options(L, 1, opts);
	lua_getfield(L, 1, "state");
	state = ipvsconf_check_state(L, -1);
	lua_pop(L, 1);
	if ((ifname = ipvs_field_string(L, 1, "ifname")) == NULL)
		return (luaL_error(L, "ipvs: start_daemon needs an ifname"));
	if (strlen(ifname) >= IP_VS_IFNAME_MAXLEN)
		return (luaL_error(L, "ipvs: interface name \"%s\" is too long", ifname));
	syncid = (uint32_t)ipvs_field_int(L, 1, "syncid", 0, 0, 255);
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	msg = ipvs_msg(L, is, IPVS_CMD_NEW_DAEMON, 0);
	if ((nest = nla_nest_start(msg, IPVS_CMD_ATTR_DAEMON)) == NULL ||
	    nla_put_u32(msg, IPVS_DAEMON_ATTR_STATE, state) < 0 ||
	    nla_put_string(msg, IPVS_DAEMON_ATTR_MCAST_IFN, ifname) < 0 ||
	    nla_put_u32(msg, IPVS_DAEMON_ATTR_SYNC_ID, syncid) < 0 ||
	    nla_nest_end(msg, nest) < 0) {
		nlmsg_free(msg);
		return (luaL_error(L, "ipvs: message too large"));
	}
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	ipvs_req_new(L, IPVS_CMD_NEW_DAEMON, state == IP_VS_STATE_MASTER ?
	    "start master sync daemon" : "start backup sync daemon", NULL, msg);
	return (ipvs_req_call(L, is, lua_gettop(L)));
}

/* stop_daemon("master"|"backup") */
static int
ipvsconf_stop_daemon(lua_State *L)
{
	uint32_t		 state = ipvsconf_check_state(L, 1);
	struct ipvs_sock	*is;
	struct ipvs_req		*q;
	struct nl_msg		*msg;
	struct nlattr		*nest;

	if ((is = ipvs_need(L)) == NULL)
		return (2);
	msg = ipvs_msg(L, is, IPVS_CMD_DEL_DAEMON, 0);
	if ((nest = nla_nest_start(msg, IPVS_CMD_ATTR_DAEMON)) == NULL ||
	    nla_put_u32(msg, IPVS_DAEMON_ATTR_STATE, state) < 0 ||
	    nla_nest_end(msg, nest) < 0) {
		nlmsg_free(msg);
		return (luaL_error(L, "ipvs: message too large"));
	}
	/*
	 * A daemon whose thread has not run yet (one started a moment ago) is
	 * stopped with no answer at all (netlink_rcv_skb skips the
	 * acknowledgement of a handler that returned -EINTR): a short wait,
	 * and silence taken for done.
	 */
	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	q = ipvs_req_new(L, IPVS_CMD_DEL_DAEMON, state == IP_VS_STATE_MASTER ?
	    "stop master sync daemon" : "stop backup sync daemon", NULL, msg);
	q->r.timeout = IPVS_DAEMON_WAIT_MS / 1000.0;
	q->quiet_ok = 1;
	return (ipvs_req_call(L, is, lua_gettop(L)));
}

static int
ipvsconf_daemon_cb(struct nlmsghdr *h, void *arg)
{
	lua_State	*L = arg;
	struct nlattr	*attrs[IPVS_CMD_ATTR_MAX + 1];
	struct nlattr	*a[IPVS_DAEMON_ATTR_MAX + 1];

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
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	return (NL_OK);
}

/* daemons(): the running sync daemons, {state=, ifname=, syncid=} each. */
static int
ipvsconf_daemons(lua_State *L)
{
	return (ipvsconf_get(L, IPVS_CMD_GET_DAEMON, NLM_F_DUMP, "list daemons",
	    ipvsconf_daemon_cb));
}

const luaL_Reg ipvsconf_funcs[] = {
	{ "info", ipvsconf_info },
	{ "timeouts", ipvsconf_timeouts },
	{ "set_timeouts", ipvsconf_set_timeouts },
	{ "start_daemon", ipvsconf_start_daemon },
	{ "stop_daemon", ipvsconf_stop_daemon },
	{ "daemons", ipvsconf_daemons },
	{ NULL, NULL }
};
