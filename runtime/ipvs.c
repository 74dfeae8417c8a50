/* ipvs.c: luaha.core.ipvs: services, destinations, batches, dumps, counters; also registers the settings (ipvsconf.c) and apply's tables and operations. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "luaha.h"
#include "ipvs.h"

static const char *const ipvs_op_names[] = {
	"add_service", "edit_service", "del_service",
	"add_dest", "edit_dest", "del_dest", NULL
};

static int
ipvs_op(lua_State *L, enum ipvs_op op)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), 0 };
	struct ipvs_sock	*is;
	struct ipvs_svc		 s;
	struct ipvs_dest	 d;
	char			 what[200];

	ipvs_check_service(L, 1, &s);
	if (op >= OP_ADD_DEST)
		ipvs_check_dest(L, 2, &s, &d);
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	w.family = is->family;
	if (ipvs_wop(&w, op, NLM_F_ACK, 0, &s, &d) == -1)
		return (luaL_error(L, "ipvs: message too large"));
	ipvs_op_what(op, &s, &d, what, sizeof(what));
	ipvs_req_new(L, ipvs_op_cmds[op], what, &w, NULL);
	return (ipvs_req_call(L, is, lua_gettop(L)));
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

/* An operation of batch, checked. */
struct ipvs_batch_item {
	enum ipvs_op	 op;
	struct ipvs_svc	 s;
	struct ipvs_dest d;
};

/* batch's request: its operations are written when its turn comes. */
struct ipvs_batch_req {
	struct nlreq		 r;
	struct ipvs_sock	*is;
	struct ipvs_batch_item	*items;		/* a userdata below it on the stack */
	int			 n;
	int			 sent;
	int			 errs[IPVS_BATCH_MAX];
};

static int
ipvs_batch_step(struct nlreq *r)
{
	struct ipvs_batch_req	*q = r->arg;
	struct ipvs_wbuf	 w;
	int			 i;

	if (q->sent)
		return (0);
	q->sent = 1;
	ipvs_batch_wbuf(q->is, &w);
	for (i = 0; i < q->n; i++)
		if (ipvs_wop(&w, q->items[i].op, i == q->n - 1 ? NLM_F_ACK : 0, 0,
		    &q->items[i].s, &q->items[i].d) == -1) {
			r->why = "message too large";
			return (-1);
		}
	return (nlreq_send(r, w.p, w.len) == -1 ? -1 : 1);
}

/* An array with, per operation, true or "<operation>: <reason>"; or nil and why the batch failed. */
static int
ipvs_batch_push(lua_State *L, struct nlreq *r)
{
	struct ipvs_batch_req	*q = r->arg;
	struct ipvs_batch_item	*it;
	char			 what[200];
	int			 i;

	if (r->why != NULL)
		return (ipvs_batch_fail(L, r->why));
	lua_createtable(L, q->n, 0);
	for (i = 0; i < q->n; i++) {
		it = &q->items[i];
		if (q->errs[i] == 0)
			lua_pushboolean(L, 1);
		else {
			ipvs_op_what(it->op, &it->s, &it->d, what, sizeof(what));
			lua_pushfstring(L, "%s: %s", what,
			    ipvs_strerror(ipvs_op_cmds[it->op], q->errs[i]));
		}
		lua_rawseti(L, -2, i + 1);
	}
	return (1);
}

/*
 * batch(ops): sends up to IPVS_BATCH_MAX operations {op=, service=, dest=}
 * as one message: the kernel carries them out in order and goes on after
 * a failure, reporting each failure by its sequence number even unasked, so
 * when the last answer arrives every failure has too. Returns an array with,
 * per operation, true or the message "<operation>: <reason>". Waits in the
 * calling task (nlreq_call).
 */
static int
ipvs_batch(lua_State *L)
{
	struct ipvs_sock	*is;
	struct ipvs_batch_item	*items;
	struct ipvs_batch_req	*q;
	lua_Integer		 i, n;

	luaL_checktype(L, 1, LUA_TTABLE);
	n = luaL_len(L, 1);
	luaL_argcheck(L, n >= 1 && n <= IPVS_BATCH_MAX, 1, "1 to 256 operations");
	/* Every operation is checked, and may raise, before the kernel is asked. */
	items = lua_newuserdatauv(L, (size_t)n * sizeof(*items), 0);
	for (i = 0; i < n; i++) {
		memset(&items[i], 0, sizeof(items[i]));
		items[i].op = ipvs_batch_op(L, i + 1, &items[i].s, &items[i].d);
	}
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	q = ipvs_req_alloc(L, sizeof(*q));
	q->r.step = ipvs_batch_step;
	q->r.push = ipvs_batch_push;
	q->r.errs = q->errs;
	q->is = is;
	q->items = items;
	q->n = (int)n;
	return (ipvs_req_call(L, is, lua_gettop(L)));
}

static int
ipvs_flush(lua_State *L)
{
	struct ipvs_sock	*is;

	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), 0 };

	if ((is = ipvs_need(L)) == NULL)
		return (2);
	w.family = is->family;
	ipvs_wmsg(&w, IPVS_CMD_FLUSH, NLM_F_ACK, 0, NULL, 0, NULL, 0);
	ipvs_req_new(L, IPVS_CMD_FLUSH, "flush", &w, NULL);
	return (ipvs_req_call(L, is, lua_gettop(L)));
}

/* zero([service]): clears the counters of one service or of all. */
static int
ipvs_zero(lua_State *L)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), 0 };
	struct ipvs_sock	*is;
	struct ipvs_svc		 s;
	char			 desc[96];
	int			 all = lua_isnoneornil(L, 1);

	if (!all)
		ipvs_check_service(L, 1, &s);
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	w.family = is->family;
	if (ipvs_wmsg(&w, IPVS_CMD_ZERO, NLM_F_ACK, 0, all ? NULL : &s, 0, NULL, 0) == -1)
		return (luaL_error(L, "ipvs: message too large"));
	if (!all)
		ipvs_svc_desc(&s, desc, sizeof(desc));
	ipvs_req_new(L, IPVS_CMD_ZERO, all ? "zero" : lua_pushfstring(L,
	    "zero service %s", desc), &w, NULL);
	return (ipvs_req_call(L, is, lua_gettop(L)));
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
 * dump per service. Waits in the calling task.
 */
static int
ipvs_list_services(lua_State *L)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), 0 };
	struct ipvs_sock	*is;
	struct ipvs_req		*q;

	if ((is = ipvs_need(L)) == NULL)
		return (2);
	w.family = is->family;
	ipvs_wmsg(&w, IPVS_CMD_GET_SERVICE, NLM_F_DUMP, 0, NULL, 0, NULL, 0);
	q = ipvs_req_new(L, IPVS_CMD_GET_SERVICE, "list services", &w, NULL);
	q->dump.L = L;
	ipvs_req_parse(q, ipvs_service_cb, &q->dump);
	lua_newtable(L);
	q->result = lua_gettop(L);
	return (ipvs_req_call(L, is, lua_gettop(L) - 1));
}

/* list_dests(service): the service's destinations with their counters. Waits in the calling task. */
static int
ipvs_list_dests(lua_State *L)
{
	uint32_t		 buf[IPVS_MSG_MAX / 4];
	struct ipvs_wbuf	 w = { (unsigned char *)buf, 0, sizeof(buf), 0 };
	struct ipvs_svc		 s;
	struct ipvs_sock	*is;
	struct ipvs_req		*q;
	char			 desc[96], what[120];

	ipvs_check_service(L, 1, &s);
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	w.family = is->family;
	if (ipvs_wmsg(&w, IPVS_CMD_GET_DEST, NLM_F_DUMP, 0, &s, 0, NULL, 0) == -1)
		return (luaL_error(L, "ipvs: message too large"));
	ipvs_svc_desc(&s, desc, sizeof(desc));
	snprintf(what, sizeof(what), "list destinations of %s", desc);
	q = ipvs_req_new(L, IPVS_CMD_GET_DEST, what, &w, NULL);
	q->svc = s;
	q->dump.L = L;
	q->dump.svc = &q->svc;
	ipvs_req_parse(q, ipvs_dest_cb, &q->dump);
	lua_newtable(L);
	q->result = lua_gettop(L);
	return (ipvs_req_call(L, is, lua_gettop(L) - 1));
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
	{ "new_table", ipvs_new_table },
	{ "merge", ipvs_merge },
	{ "diff", ipvs_diff },
	{ NULL, NULL }
};

/*
 * One module of the functions of ipvs.c and ipvsconf.c, every one of which,
 * like the methods of apply's tables and operations, has the socket as its
 * upvalue.
 */
int
luaopen_luaha_core_ipvs(lua_State *L)
{
	ipvs_sock_new(L);
	ipvs_table_open(L, -1);
	ipvs_ops_open(L, -1);
	lua_createtable(L, 0, 21);
	lua_pushvalue(L, -2);
	luaL_setfuncs(L, ipvs_funcs, 1);
	lua_pushvalue(L, -2);
	luaL_setfuncs(L, ipvsconf_funcs, 1);
	lua_remove(L, -2);
	return (1);
}
