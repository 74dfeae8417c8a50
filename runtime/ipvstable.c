/* ipvstable.c: ipvs.apply's tables: a whole IPVS table in flat arrays, loaded from Lua or merged; read from the kernel in ipvsread.c. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/ip_vs.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luaha.h"
#include "ipvs.h"

/* Makes room for need elements of elem bytes at *p, doubling *cap; -1 when out of memory. */
int
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

uint32_t
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

/*
 * Makes room for want entries (kept at most three quarters full), re-inserting
 * those in the table when it grows. Memory is sized once where the count
 * is known in advance: in UML each page first touched costs a fault.
 */
int
ipvs_index_reserve(struct ipvs_table *t, struct ipvs_index *x, int dests, size_t want)
{
	uint32_t	*slot;
	size_t		 size = x->size == 0 ? 64 : x->size, i, j, k;

	if ((want + x->gone) * 4 < x->size * 3)
		return (0);
	while (want * 4 >= size * 3)
		size *= 2;
	if ((slot = calloc(size, sizeof(*slot))) == NULL)
		return (-1);
	free(x->slot);
	x->slot = slot;
	x->size = size;
	x->count = 0;
	x->gone = 0;
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
ssize_t
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
ssize_t
ipvs_find_dest(const struct ipvs_table *t, size_t si, const struct ipvs_dest *d)
{
	const struct ipvs_entry	*e = &t->svcs[si];
	size_t			 k, j;

	if (t->by_dest.size == 0)
		return (-1);
	for (k = ipvs_dest_hash(si, d) & (t->by_dest.size - 1); t->by_dest.slot[k] != 0;
	    k = (k + 1) & (t->by_dest.size - 1)) {
		if (t->by_dest.slot[k] == IPVS_SLOT_GONE)
			continue;
		j = t->by_dest.slot[k] - 1;
		if (j >= e->first && j < e->first + e->n && ipvs_dest_same(&t->dests[j], d))
			return (j);
	}
	return (-1);
}

/* Appends a service (no destinations yet) and indexes it; -1 when out of memory. */
int
ipvs_table_add_svc(struct ipvs_table *t, const struct ipvs_svc *s)
{
	size_t	 k;

	if (ipvs_grow((void **)&t->svcs, &t->svcs_cap, t->nsvcs + 1, sizeof(*t->svcs)) == -1 ||
	    ipvs_index_reserve(t, &t->by_svc, 0, t->by_svc.count + 1) == -1)
		return (-1);
	t->svcs[t->nsvcs].s = *s;
	t->svcs[t->nsvcs].first = t->ndests;
	t->svcs[t->nsvcs].n = 0;
	t->svcs[t->nsvcs].cap = 0;
	for (k = ipvs_svc_hash(s) & (t->by_svc.size - 1); t->by_svc.slot[k] != 0;
	    k = (k + 1) & (t->by_svc.size - 1))
		;
	t->by_svc.slot[k] = ++t->nsvcs;
	t->by_svc.count++;
	return (0);
}

/* Room for n more destinations at t->dests + t->ndests. */
int
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
	if (++t->svcs[si].n > t->svcs[si].cap)
		t->svcs[si].cap = t->svcs[si].n;
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

int
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

/* The table at idx, which must be complete (filled) or, when complete is 0, still being filled. */
struct ipvs_table *
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
int
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

/* merge(want, current, owner): want, then what only current has of it and of owner's: after an apply without pruning. */
int
ipvs_merge(lua_State *L)
{
	struct ipvs_table	*w = ipvs_table_check(L, 1, 1);
	struct ipvs_table	*c = ipvs_table_check(L, 2, 1);
	struct ipvs_table	*t;
	struct ipvs_owner	 own;
	struct ipvs_entry	*e;
	ssize_t			 ci;
	size_t			 i, j;
	int			 r = 0;

	ipvs_owner_check(L, 3, &own);
	t = ipvs_table_new(L);
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
		if (ipvs_find_svc(w, &e->s) != -1 || !ipvs_owns(&own, &e->s))
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
	lua_pushinteger(L, (lua_Integer)(t->complete ? t->by_dest.count : t->ndests));
	return (2);
}

static const luaL_Reg ipvs_table_methods[] = {
	{ "close", ipvs_table_gc },
	{ "load", ipvs_table_load },
	{ "read", ipvs_table_read },
	{ "fill", ipvs_table_fill },
	{ "size", ipvs_table_size },
	{ "patch", ipvs_table_patch },
	{ NULL, NULL }
};

static const luaL_Reg ipvs_table_meta[] = {
	{ "__gc", ipvs_table_gc },
	{ "__close", ipvs_table_gc },
	{ NULL, NULL }
};

/* Makes the metatable of the tables new_table and merge return; the socket at sock is the methods' upvalue. */
void
ipvs_table_open(lua_State *L, int sock)
{
	sock = lua_absindex(L, sock);
	luaL_newmetatable(L, IPVS_TABLE_MT);
	luaL_setfuncs(L, ipvs_table_meta, 0);
	luaL_newlibtable(L, ipvs_table_methods);
	lua_pushvalue(L, sock);
	luaL_setfuncs(L, ipvs_table_methods, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}
