/* checker.c: luaha.core.checker, connect and half-open health checks of many servers run in C (checkrun.c), their results taken by Lua in batches. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"
#include "checker.h"

static const char *const checker_kinds[] = { "connect", "halfopen", NULL };

static struct checker *
checker_check(lua_State *L)
{
	struct checker	*c = luaL_checkudata(L, 1, "luaha.checker");

	if (c->closed)
		luaL_error(L, "attempt to use a closed checker");
	return (c);
}

/* Room for one more target: the arrays double. */
static int
checker_grow(struct checker *c)
{
	uint32_t	 size = c->size ? c->size * 2 : 64, i;
	struct target	*t;
	uint32_t	*heap, *done;

	if (size > CHECKER_MAX)
		return (-1);
	if ((t = reallocarray(c->t, size, sizeof(*t))) == NULL)
		return (-1);
	c->t = t;
	if ((heap = reallocarray(c->heap, size, sizeof(*heap))) == NULL)
		return (-1);
	c->heap = heap;
	if ((done = reallocarray(c->done, size, sizeof(*done))) == NULL)
		return (-1);
	c->done = done;
	for (i = c->size; i < size; i++) {
		memset(&c->t[i], 0, sizeof(c->t[i]));
		c->t[i].state = T_FREE;
		c->t[i].fd = -1;
		c->t[i].heap = NO_HEAP;
		c->t[i].next_free = i + 1;
	}
	c->t[size - 1].next_free = c->free == c->size ? size : c->free;
	c->free = c->size;
	c->size = size;
	return (0);
}

/*
 * checker:add(kind, address, port, interval, timeout, due): a target checked
 * every interval seconds (after the end of the previous check), each check
 * taking at most timeout, the first at due (monotonic seconds, luaha.now()).
 * kind is "connect" or "halfopen". Returns its id, a small integer.
 */
static int
checker_add(lua_State *L)
{
	struct checker		*c = checker_check(L);
	int			 kind = luaL_checkoption(L, 2, NULL, checker_kinds);
	const char		*addr = luaL_checkstring(L, 3);
	int			 port = (int)luaL_checkinteger(L, 4);
	double			 interval = luaL_checknumber(L, 5), timeout = luaL_checknumber(L, 6);
	double			 due = luaL_checknumber(L, 7);
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct target		*t;
	uint32_t		 slot;

	luaL_argcheck(L, port >= 1 && port <= 65535, 4, "port 1-65535 expected");
	luaL_argcheck(L, interval > 0, 5, "positive number expected");
	luaL_argcheck(L, timeout > 0, 6, "positive number expected");
	if (net_addr(addr, port, &ss, &len) == -1)
		return (luaL_argerror(L, 3, "not an IPv4 or IPv6 address"));
	if (c->free == c->size && checker_grow(c) == -1)
		return (luaL_error(L, "checker: out of memory"));
	slot = c->free;
	t = &c->t[slot];
	c->free = t->next_free;
	memcpy(&t->to, &ss, len);
	t->tolen = len;
	t->kind = kind;
	t->interval = interval;
	t->timeout = timeout;
	t->tick = interval / 100 < CHECKER_TICK ? interval / 100 : CHECKER_TICK;
	t->fd = -1;
	t->probe = NULL;
	t->state = T_IDLE;
	t->gen++;
	c->ntargets++;
	checkrun_put(c, slot, due);
	checkrun_arm(c, due);
	lua_pushinteger(L, slot + 1);
	return (1);
}

/* checker:remove(id): no more checks for it; a check in flight stops, its result (if any) is dropped. */
static int
checker_remove(lua_State *L)
{
	struct checker	*c = checker_check(L);
	lua_Integer	 id = luaL_checkinteger(L, 2);
	struct target	*t;
	uint32_t	 slot;

	luaL_argcheck(L, id >= 1 && id <= c->size && c->t[id - 1].state != T_FREE, 2, "not a target");
	slot = (uint32_t)(id - 1);
	t = &c->t[slot];
	checkrun_abort(t);
	checkrun_remove(c, slot);
	t->state = T_FREE;
	t->gen++;
	t->next_free = c->free;
	c->free = slot;
	c->ntargets--;
	if (c->ntargets == 0) {
		event_del(c->timer);
		c->armed = 0;
		if (c->w != NULL)
			task_wake(c->w);	/* the collector ends */
	}
	return (0);
}

/*
 * checker:collect(ids, results, reasons, tooks): moves the results waiting
 * into the four arrays, from index 1, and returns how many: ids[i] the
 * target, results[i] true (passed), false (failed) or "stalled" (failed too
 * late to be the server's fault: not to be counted), reasons[i] nil's stand-in
 * false or "timeout", "connect: Connection refused" ..., tooks[i] the seconds
 * it took. Each target's next check is due an interval after this one was
 * due, after a failed one an interval after its end as nanny had it (a silent
 * server is checked every timeout + interval), and at once after a stalled
 * one or if that time is past. A check started late, or whose result was taken
 * late, does not make the next late too: the checks stay spread as they began
 * rather than gather, a turn of the loop at a time, into one burst, and the
 * schedule is kept.
 */
static int
checker_collect(lua_State *L)
{
	struct checker	*c = checker_check(L);
	struct target	*t;
	uint32_t	 i, slot;
	lua_Integer	 n = 0;
	double		 now, next;

	for (i = 2; i <= 5; i++)
		luaL_checktype(L, (int)i, LUA_TTABLE);
	if (c->ndone == 0) {
		lua_pushinteger(L, 0);
		return (1);
	}
	now = loop_now();
	for (i = 0; i < c->ndone; i++) {
		slot = c->done[i];
		t = &c->t[slot];
		if (t->state != T_DONE)
			continue;
		n++;
		lua_pushinteger(L, slot + 1);
		lua_rawseti(L, 2, n);
		if (t->result == RES_STALLED)
			lua_pushliteral(L, "stalled");
		else
			lua_pushboolean(L, t->result == RES_OK);
		lua_rawseti(L, 3, n);
		if (t->result == RES_OK)
			lua_pushboolean(L, 0);
		else if (t->err == 0)
			lua_pushstring(L, t->what);
		else
			lua_pushfstring(L, "%s: %s", t->what, strerror(t->err));
		lua_rawseti(L, 4, n);
		lua_pushnumber(L, t->took);
		lua_rawseti(L, 5, n);
		t->state = T_IDLE;
		next = t->due + t->interval + (t->result == RES_OK ? 0 : t->took);
		checkrun_put(c, slot, t->result == RES_STALLED || next < now ? now : next);
	}
	c->ndone = 0;
	if (c->nheap > 0)
		checkrun_arm(c, c->t[c->heap[0]].at);
	lua_pushinteger(L, n);
	return (1);
}

static void
checker_wait_cancel(struct waiter *w)
{
	struct checker	*c = w->arg;

	c->w = NULL;
}

static int
checker_wait_done(lua_State *co, struct waiter *w, short what)
{
	struct checker	*c = w->arg;

	(void)what;
	c->w = NULL;
	lua_pushboolean(co, c->ntargets > 0);
	return (1);
}

/*
 * checker:wait(): waits until a result is waiting; true then, false when the
 * checker has no target left (at once if it has none). One task waits at a time.
 */
static int
checker_wait(lua_State *L)
{
	struct checker	*c = checker_check(L);
	struct waiter	*w;

	if (c->ndone > 0 || c->ntargets == 0) {
		lua_pushboolean(L, c->ntargets > 0);
		return (1);
	}
	if (c->w != NULL)
		return (luaL_error(L, "another task is already waiting on the checker"));
	if ((w = task_self_waiter(L)) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	w->cancel = checker_wait_cancel;
	c->w = w;
	return (task_wait(L, w, -1, 0, -1, checker_wait_done, c, 1));
}

/* checker:stats(): targets, checks started, and those started more than a tick after they were due. */
static int
checker_stats(lua_State *L)
{
	struct checker	*c = checker_check(L);

	lua_pushinteger(L, c->ntargets);
	lua_pushinteger(L, (lua_Integer)c->started);
	lua_pushinteger(L, (lua_Integer)c->late);
	return (3);
}

/* Closes every socket and frees the arrays; idempotent (close and __gc). */
static int
checker_gc(lua_State *L)
{
	struct checker	*c = luaL_checkudata(L, 1, "luaha.checker");
	uint32_t	 i;

	if (c->closed)
		return (0);
	c->closed = 1;
	for (i = 0; i < c->size; i++)
		if (c->t[i].state != T_FREE)
			checkrun_abort(&c->t[i]);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->epev != NULL)
		event_free(c->epev);
	if (c->epfd != -1 && close(c->epfd) == -1)
		log_warn("checker: close");
	halfopen_prober_free(&c->pr4);
	halfopen_prober_free(&c->pr6);
	free(c->t);
	free(c->heap);
	free(c->done);
	c->t = NULL;
	c->heap = c->done = NULL;
	if (c->w != NULL)
		waiter_close(c->w);
	c->w = NULL;
	return (0);
}

static int
checker_tostring(lua_State *L)
{
	struct checker	*c = luaL_checkudata(L, 1, "luaha.checker");

	if (c->closed)
		lua_pushliteral(L, "checker (closed)");
	else
		lua_pushfstring(L, "checker (%d targets)", (int)c->ntargets);
	return (1);
}

/* checker.new(): an empty checker. */
static int
checker_new(lua_State *L)
{
	struct checker	*c = lua_newuserdatauv(L, sizeof(*c), 0);

	memset(c, 0, sizeof(*c));
	c->epfd = c->pr4.fd = c->pr4.port_fd = c->pr4.route_fd = -1;
	c->pr6.fd = c->pr6.port_fd = c->pr6.route_fd = -1;
	c->pr4.family = AF_INET;
	c->pr6.family = AF_INET6;
	c->closed = 1;		/* until everything is acquired: __gc finds it consistent */
	luaL_setmetatable(L, "luaha.checker");
	if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return (luaha_fail_errno(L, "epoll_create1"));
	if ((c->epev = event_new(loop_base(), c->epfd, EV_READ | EV_PERSIST, checkrun_epoll_cb, c)) == NULL ||
	    (c->timer = evtimer_new(loop_base(), checkrun_timer_cb, c)) == NULL ||
	    event_add(c->epev, NULL) == -1) {
		c->closed = 0;
		lua_pushcfunction(L, checker_gc);
		lua_pushvalue(L, -2);
		lua_call(L, 1, 0);
		return (luaL_error(L, "checker: cannot create an event"));
	}
	c->closed = 0;
	return (1);
}

static const luaL_Reg checker_funcs[] = {
	{ "new", checker_new },
	{ NULL, NULL }
};

static const luaL_Reg checker_methods[] = {
	{ "add", checker_add },
	{ "remove", checker_remove },
	{ "collect", checker_collect },
	{ "wait", checker_wait },
	{ "stats", checker_stats },
	{ "close", checker_gc },
	{ NULL, NULL }
};

static const luaL_Reg checker_meta[] = {
	{ "__gc", checker_gc },
	{ "__close", checker_gc },
	{ "__tostring", checker_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_checker(lua_State *L)
{
	luaL_newmetatable(L, "luaha.checker");
	luaL_setfuncs(L, checker_meta, 0);
	luaL_newlib(L, checker_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, checker_funcs);
	return (1);
}
