/* timer.c: luaha.after and luaha.every (callbacks run as tasks), luaha.now and luaha.time. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "luaha.h"

struct timer {
	struct event	*ev;		/* NULL once cancelled or fired for good */
	lua_State	*L;		/* the main thread */
	int		 self_ref;	/* anchors the timer while armed */
	int		 repeat;	/* every(), not after() */
	double		 interval;
	lua_State	*last;		/* coroutine of the last run, for every() */
	int		 last_ref;	/* its task, so the next tick can skip */
	int		 skipped;	/* ticks skipped since the last warning */
};

static void
timer_disarm(struct timer *t)
{
	if (t->ev == NULL)
		return;
	event_free(t->ev);
	t->ev = NULL;
	luaL_unref(t->L, LUA_REGISTRYINDEX, t->last_ref);
	t->last_ref = LUA_NOREF;
	luaL_unref(t->L, LUA_REGISTRYINDEX, t->self_ref);
	t->self_ref = LUA_NOREF;
	loop_unref();
}

/*
 * Each tick starts the callback as a new task. every() skips a tick while
 * the previous run is still going, so slow callbacks do not pile up.
 */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timer	*t = arg;
	lua_State	*L = t->L;
	int		 alive;

	(void)fd;
	(void)what;
	if (t->repeat && t->last_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, t->last_ref);
		alive = task_alive(L, -1);
		lua_pop(L, 1);
		if (alive) {
			if (t->skipped++ == 0)
				log_warnx("every %gs: previous run still going, "
				    "skipping ticks", t->interval);
			return;
		}
	}
	t->skipped = 0;
	lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
	lua_getiuservalue(L, -1, 1);
	lua_remove(L, -2);
	task_spawn(L, 0, NULL, 0);
	if (t->repeat) {
		luaL_unref(L, LUA_REGISTRYINDEX, t->last_ref);
		t->last_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	} else {
		lua_pop(L, 1);
		timer_disarm(t);
	}
}

static int
timer_arm(lua_State *L, int repeat)
{
	double		 s = luaL_checknumber(L, 1);
	struct timer	*t;
	struct timeval	 tv;

	luaL_argcheck(L, s >= 0 && (!repeat || s >= 0.001), 1,
	    repeat ? "at least 0.001" : "negative");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	t = lua_newuserdatauv(L, sizeof(*t), 1);
	memset(t, 0, sizeof(*t));
	t->self_ref = t->last_ref = LUA_NOREF;
	luaL_setmetatable(L, "luaha.timer");
	lua_pushvalue(L, 2);
	lua_setiuservalue(L, -2, 1);
	t->L = loop_main_thread(L);
	t->repeat = repeat;
	t->interval = s;
	t->ev = event_new(loop_base(), -1, repeat ? EV_PERSIST : 0, timer_cb, t);
	if (t->ev == NULL)
		return (luaL_error(L, "cannot create a timer event"));
	event_base_update_cache_time(loop_base());
	if (event_add(t->ev, loop_tv(s, &tv)) == -1) {
		event_free(t->ev);
		t->ev = NULL;
		return (luaL_error(L, "cannot add a timer event"));
	}
	lua_pushvalue(L, -1);
	t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	loop_ref();
	return (1);
}

/* after(seconds, fn): runs fn once as a task. */
static int
timer_after(lua_State *L)
{
	return (timer_arm(L, 0));
}

/* every(seconds, fn): runs fn as a task every interval, on a schedule that does not drift. */
static int
timer_every(lua_State *L)
{
	return (timer_arm(L, 1));
}

/* cancel(): returns true if the timer was still armed. */
static int
timer_cancel(lua_State *L)
{
	struct timer	*t = luaL_checkudata(L, 1, "luaha.timer");

	lua_pushboolean(L, t->ev != NULL);
	timer_disarm(t);
	return (1);
}

static int
timer_gc(lua_State *L)
{
	timer_disarm(luaL_checkudata(L, 1, "luaha.timer"));
	return (0);
}

static int
timer_tostring(lua_State *L)
{
	struct timer	*t = luaL_checkudata(L, 1, "luaha.timer");

	lua_pushfstring(L, "timer %s %f (%s)", t->repeat ? "every" : "after",
	    t->interval, t->ev != NULL ? "armed" : "closed");
	return (1);
}

static int
timer_now(lua_State *L)
{
	lua_pushnumber(L, loop_now());
	return (1);
}

static int
timer_time(lua_State *L)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, ts.tv_sec + ts.tv_nsec / 1e9);
	return (1);
}

static const luaL_Reg timer_funcs[] = {
	{ "after", timer_after },
	{ "every", timer_every },
	{ "now", timer_now },
	{ "time", timer_time },
	{ NULL, NULL }
};

static const luaL_Reg timer_methods[] = {
	{ "cancel", timer_cancel },
	{ "close", timer_cancel },
	{ NULL, NULL }
};

static const luaL_Reg timer_meta[] = {
	{ "__gc", timer_gc },
	{ "__close", timer_gc },
	{ "__tostring", timer_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_timer(lua_State *L)
{
	luaL_newmetatable(L, "luaha.timer");
	luaL_setfuncs(L, timer_meta, 0);
	luaL_newlib(L, timer_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, timer_funcs);
	return (1);
}
