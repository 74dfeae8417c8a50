/* ipvspatch.c: table:patch: some services of a table replaced in place, after a partial apply, so that a health change costs what changed. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "luaha.h"
#include "ipvs.h"

/*
 * A service's destinations stay contiguous (dests[first .. first + n - 1]),
 * so a service that grows beyond its room (cap) moves to the end of the
 * array with twice the room, leaving its old room a hole; one that shrinks
 * keeps its room, so that servers going out and back in never move it.
 * The index marks a removed destination's slot IPVS_SLOT_GONE rather than
 * emptying it, because linear probing must go on past it. Holes are given
 * back by compacting once they are more than half the array, and gone
 * slots by the index's next rebuild: both cost O(table) now and then
 * (about a millisecond at 37 000 destinations), O(what changed) in between.
 */

/* The slot of destination j of service si becomes IPVS_SLOT_GONE. */
static void
ipvs_unindex_dest(struct ipvs_table *t, size_t si, size_t j)
{
	struct ipvs_index	*x = &t->by_dest;
	size_t			 k;

	for (k = ipvs_dest_hash(si, &t->dests[j]) & (x->size - 1); x->slot[k] != 0;
	    k = (k + 1) & (x->size - 1)) {
		if (x->slot[k] == j + 1) {
			x->slot[k] = IPVS_SLOT_GONE;
			x->count--;
			x->gone++;
			return;
		}
	}
}

/* Indexes destination j of service si; the index has room (reserved before). */
static void
ipvs_index_dest(struct ipvs_table *t, size_t si, size_t j)
{
	struct ipvs_index	*x = &t->by_dest;
	size_t			 k;

	for (k = ipvs_dest_hash(si, &t->dests[j]) & (x->size - 1);
	    x->slot[k] != 0 && x->slot[k] != IPVS_SLOT_GONE; k = (k + 1) & (x->size - 1))
		;
	if (x->slot[k] == IPVS_SLOT_GONE)
		x->gone--;
	x->slot[k] = j + 1;
	x->count++;
}

/* The room a service of n destinations that outgrew cap moves to. */
static size_t
ipvs_new_cap(size_t n, size_t cap)
{
	size_t	 c = cap * 2 < 4 ? 4 : cap * 2;

	return (c < n ? n : c);
}

/*
 * Packs the services' rooms at the start of a new array and indexes their
 * destinations again; on a failed allocation t stays as it was (holes are
 * only memory).
 */
static void
ipvs_compact(struct ipvs_table *t)
{
	struct ipvs_dest	*d;
	struct ipvs_index	 x = t->by_dest;
	size_t			 used = t->ndests - t->holes, cap = used < 64 ? 64 : used, i, at = 0;

	if ((d = reallocarray(NULL, cap, sizeof(*d))) == NULL)
		return;
	for (i = 0; i < t->nsvcs; i++) {
		if (t->svcs[i].n > 0)
			memcpy(d + at, t->dests + t->svcs[i].first, t->svcs[i].n * sizeof(*d));
		t->svcs[i].first = at;
		at += t->svcs[i].cap;
	}
	free(t->dests);
	t->dests = d;
	t->dests_cap = cap;
	t->ndests = used;
	t->holes = 0;
	/* A new index of the same size: reserve rebuilds one when it finds none. */
	t->by_dest.slot = NULL;
	t->by_dest.size = 0;
	t->by_dest.gone = 0;
	if (ipvs_index_reserve(t, &t->by_dest, 1, x.count) == -1) {
		t->by_dest = x;		/* the old one, rebuilt in place */
		memset(x.slot, 0, x.size * sizeof(*x.slot));
		t->by_dest.count = t->by_dest.gone = 0;
		for (i = 0; i < t->nsvcs; i++)
			for (at = t->svcs[i].first; at < t->svcs[i].first + t->svcs[i].n; at++)
				ipvs_index_dest(t, i, at);
		return;
	}
	free(x.slot);
}

/*
 * table:patch(part): makes each service of part (a complete table, the
 * desired services of a partial apply that was carried out) the table's:
 * its settings and its destinations replace those of the service with the
 * same identity, or it is added. Every allocation is made before anything
 * changes, so an out-of-memory error leaves the table as it was. Counts a
 * new generation: operations made on the table before refuse to be used.
 * Costs O(part), plus now and then a rebuild of the index or a compaction,
 * O(table): at 37 000 destinations about a millisecond.
 */
int
ipvs_table_patch(lua_State *L)
{
	struct ipvs_table	*t = ipvs_table_check(L, 1, 1);
	struct ipvs_table	*p = ipvs_table_check(L, 2, 1);
	struct ipvs_entry	*pe, *e;
	ssize_t			 ci;
	size_t			 i, j, si, cap, room = 0, ndest = 0, nnew = 0;

	luaL_argcheck(L, t != p, 2, "a table cannot patch itself");
	for (i = 0; i < p->nsvcs; i++) {
		pe = &p->svcs[i];
		ndest += pe->n;
		cap = 0;
		if ((ci = ipvs_find_svc(t, &pe->s)) == -1)
			nnew++;
		else
			cap = t->svcs[ci].cap;
		if (pe->n > cap)
			room += ipvs_new_cap(pe->n, cap);
	}
	if (ipvs_grow((void **)&t->svcs, &t->svcs_cap, t->nsvcs + nnew, sizeof(*t->svcs)) == -1 ||
	    ipvs_index_reserve(t, &t->by_svc, 0, t->by_svc.count + nnew) == -1 ||
	    ipvs_table_room(t, room) == -1 ||
	    ipvs_index_reserve(t, &t->by_dest, 1, t->by_dest.count + ndest) == -1)
		return (luaL_error(L, "ipvs: out of memory"));
	/* From here nothing fails. */
	for (i = 0; i < p->nsvcs; i++) {
		pe = &p->svcs[i];
		if ((ci = ipvs_find_svc(t, &pe->s)) == -1) {
			if (ipvs_table_add_svc(t, &pe->s) == -1)	/* room made above */
				return (luaL_error(L, "ipvs: out of memory"));
			si = t->nsvcs - 1;
		} else
			si = (size_t)ci;
		e = &t->svcs[si];
		e->s = pe->s;
		for (j = e->first; j < e->first + e->n; j++)
			ipvs_unindex_dest(t, si, j);
		if (pe->n > e->cap) {
			t->holes += e->cap;
			e->cap = ipvs_new_cap(pe->n, e->cap);
			e->first = t->ndests;
			t->ndests += e->cap;
		}
		if (pe->n > 0)
			memcpy(t->dests + e->first, p->dests + pe->first, pe->n * sizeof(*t->dests));
		e->n = pe->n;
		for (j = e->first; j < e->first + e->n; j++)
			ipvs_index_dest(t, si, j);
	}
	if (t->holes > 1024 && t->holes > t->ndests - t->holes)
		ipvs_compact(t);
	t->gen++;
	return (0);
}
