/* ipvsops.c: ipvs.apply's operations: the difference of two tables, as ipvsadm command lines, sent in batches, undone. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luaha.h"
#include "ipvs.h"

#define IPVS_OPS_MT	"luaha.ipvs.ops"

/*
 * An operation names its service and destination by index into one of the
 * two tables the ops userdata keeps alive: a table changes once filled
 * only by a patch (see struct ipvs_table in ipvs.h), after which its
 * operations refuse to be used.
 */
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
	unsigned int	 gen[2];	/* their generations when the operations were made */
};

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
	o->gen[0] = o->tab[0]->gen;
	o->gen[1] = o->tab[1]->gen;
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
 * The owner at idx: false or nil, no service but the desired ones; true,
 * every service; a table (complete), the services it names. Raises otherwise.
 */
void
ipvs_owner_check(lua_State *L, int idx, struct ipvs_owner *o)
{
	o->all = 0;
	o->t = NULL;
	if (lua_isuserdata(L, idx))
		o->t = ipvs_table_check(L, idx, 1);
	else if (lua_isnoneornil(L, idx) || lua_isboolean(L, idx))
		o->all = lua_toboolean(L, idx);
	else
		luaL_typeerror(L, idx, "boolean or ipvs table");
}

/* Whether service s, which the desired table does not name, is the caller's. */
int
ipvs_owns(const struct ipvs_owner *o, const struct ipvs_svc *s)
{
	return (o->all || (o->t != NULL && ipvs_find_svc(o->t, s) != -1));
}

/*
 * diff(current, want, prune, owner): the operations that turn current into
 * want: adds and edits first, then the deletions, so that a real server
 * moving between services is never missing from both. Edits keep what
 * they replace, for undo. The services of want are the caller's, with all
 * their destinations; of the others, only those owner names are removed
 * (see ipvs_owner_check), so that other programs' services stay. Without
 * prune nothing is removed.
 */
int
ipvs_diff(lua_State *L)
{
	struct ipvs_table	*c = ipvs_table_check(L, 1, 1);
	struct ipvs_table	*w = ipvs_table_check(L, 2, 1);
	int			 prune = lua_toboolean(L, 3);
	struct ipvs_owner	 own;
	struct ipvs_ops		*o;
	struct ipvs_entry	*we, *ce;
	ssize_t			 ci, cj;
	size_t			 i, j, n;

	ipvs_owner_check(L, 4, &own);
	/*
	 * Room for the most operations there can be: the desired entries, and
	 * with prune the destinations of the current services it names, and
	 * the current services when some may go. A partial apply's few
	 * services need no room for the whole current table.
	 */
	n = w->nsvcs + w->ndests;
	if (prune && (own.all || own.t != NULL))
		n += c->nsvcs + c->ndests;
	else if (prune)
		for (i = 0; i < w->nsvcs; i++)
			if ((ci = ipvs_find_svc(c, &w->svcs[i].s)) != -1)
				n += c->svcs[ci].n;
	o = ipvs_ops_new(L, 1, 2, n);
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
		if (ipvs_find_svc(w, &c->svcs[i].s) == -1 && ipvs_owns(&own, &c->svcs[i].s))
			ipvs_ops_add(L, o, OP_DEL_SERVICE, OPV_S_CUR, i, 0, 0);
	return (1);
}

static struct ipvs_ops *
ipvs_ops_check(lua_State *L, int idx)
{
	struct ipvs_ops	*o = luaL_checkudata(L, idx, IPVS_OPS_MT);

	if (o->tab[0] == NULL)
		luaL_error(L, "attempt to use closed ipvs operations");
	if (o->tab[0]->gen != o->gen[0] || o->tab[1]->gen != o->gen[1])
		luaL_error(L, "ipvs: a table of these operations was patched since");
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
	static const char *const mh_flags[] = { "mh-fallback", "mh-port" };
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
				    sh_flags[i] : i < 2 && strcmp(s->sched, "mh") == 0 ?
				    mh_flags[i] : sched_flags[i]);
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

/* ops:send's request: its operations are written when its turn comes. */
struct ipvs_send {
	struct nlreq		 r;
	struct ipvs_sock	*is;
	struct ipvs_ops		*o;		/* argument 1: alive while the task waits */
	size_t			 first;		/* the operations o->v[first .. first + n - 1] */
	int			 n;
	int			 sent;
	int			 errs[IPVS_BATCH_MAX];
};

static int
ipvs_send_step(struct nlreq *r)
{
	struct ipvs_send	*q = r->arg;
	struct ipvs_opv		*v;
	struct ipvs_wbuf	 w;
	int			 j;

	if (q->sent)
		return (0);
	q->sent = 1;
	ipvs_batch_wbuf(q->is, &w);
	for (j = 0; j < q->n; j++) {
		v = &q->o->v[q->first + j];
		if (ipvs_wop(&w, v->op, j == q->n - 1 ? NLM_F_ACK : 0, 0,
		    ipvs_opv_svc(q->o, v), ipvs_opv_dest(q->o, v)) == -1) {
			r->why = "message too large";
			return (-1);
		}
	}
	return (nlreq_send(r, w.p, w.len) == -1 ? -1 : 1);
}

/* Marks the operations done or failed; see ops:send. */
static int
ipvs_send_push(lua_State *L, struct nlreq *r)
{
	struct ipvs_send	*q = r->arg;
	struct ipvs_opv		*v;
	char			 what[200];
	int			 j, failed = 0;

	if (r->why != NULL)
		return (ipvs_batch_fail(L, r->why));
	for (j = 0; j < q->n; j++) {
		v = &q->o->v[q->first + j];
		v->state = q->errs[j] == 0 ? OPV_DONE : OPV_FAILED;
		if (q->errs[j] != 0 && failed == 0)
			failed = j + 1;
	}
	if (failed == 0)
		return (luaha_ok(L));
	v = &q->o->v[q->first + failed - 1];
	ipvs_op_what(v->op, ipvs_opv_svc(q->o, v), ipvs_opv_dest(q->o, v), what, sizeof(what));
	lua_pushboolean(L, 0);
	lua_pushinteger(L, (lua_Integer)(q->first + failed));
	lua_pushfstring(L, "%s: %s", what, ipvs_strerror(ipvs_op_cmds[v->op],
	    q->errs[failed - 1]));
	return (3);
}

/*
 * ops:send(i, n): sends operations i .. i + n - 1 as one batch (see batch in
 * ipvs.c) and marks each done or failed. Returns true; false, the index of
 * the first that failed and "<operation>: <reason>"; or nil and "ipvs batch:
 * send|receive: <reason>" (then nothing is marked). Waits in the calling
 * task for the answer. The kernel carries the batch out inside the sendmsg
 * that brings it, which holds the loop: ipvs.apply sizes batches to about
 * 5 ms of that work (at most 256 operations) and yields between them, so a
 * cold load of 10 000 real servers holds the loop 5 ms at a time, about 40
 * times.
 */
static int
ipvs_ops_send(lua_State *L)
{
	struct ipvs_ops		*o = ipvs_ops_check(L, 1);
	lua_Integer		 i = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
	struct ipvs_sock	*is;
	struct ipvs_send	*q;

	luaL_argcheck(L, i >= 1 && i <= (lua_Integer)o->n, 2, "no such operation");
	luaL_argcheck(L, n >= 1 && n <= IPVS_BATCH_MAX && i + n - 1 <= (lua_Integer)o->n,
	    3, "1 to 256 operations");
	if ((is = ipvs_need(L)) == NULL)
		return (2);
	q = ipvs_req_alloc(L, sizeof(*q));
	q->r.step = ipvs_send_step;
	q->r.push = ipvs_send_push;
	q->r.errs = q->errs;
	q->is = is;
	q->o = o;
	q->first = (size_t)i - 1;
	q->n = (int)n;
	return (ipvs_req_call(L, is, lua_gettop(L)));
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

/* Makes the metatable of the operations diff and ops:undo return; the socket at sock is the methods' upvalue. */
void
ipvs_ops_open(lua_State *L, int sock)
{
	sock = lua_absindex(L, sock);
	luaL_newmetatable(L, IPVS_OPS_MT);
	luaL_setfuncs(L, ipvs_ops_meta, 0);
	luaL_newlibtable(L, ipvs_ops_methods);
	lua_pushvalue(L, sock);
	luaL_setfuncs(L, ipvs_ops_methods, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}
