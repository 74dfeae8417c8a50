/* wait.c: a task waiting in a primitive (the cosockets' mechanism): on an fd, a timeout or a wake, resumed with the primitive's results. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <event2/event.h>

#include "luaha.h"
#include "task.h"

/* The wait is over: detach the task and drop the anchor. */
static void
waiter_detach(struct waiter *w)
{
	struct task	*t = w->task;

	if (w->anchor_ref > 0)
		luaL_unref(t->co, LUA_REGISTRYINDEX, w->anchor_ref);
	w->anchor_ref = 0;
	w->task = NULL;
	t->waiting = NULL;
}

/* The waiter's event fired: let its owner decide, then resume the task. */
static void
waiter_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter	*w = arg;
	struct task	*t = w->task;
	struct timeval	 tv;
	double		 now;
	int		 n;

	(void)fd;
	if (t == NULL)
		return;
	/*
	 * libevent counts a timeout from the time it cached when this turn of
	 * the loop began; loop_timeout makes up for most of that, and the
	 * deadline, taken from the clock, decides. Only timeouts pay for it.
	 */
	if ((what & EV_TIMEOUT) && w->deadline > 0 && (now = loop_now()) < w->deadline) {
		event_add(w->ev, loop_tv(loop_timeout(now, w->deadline - now), &tv));
		return;
	}
	if ((n = w->done(t->co, w, what)) < 0) {
		if (w->deadline > 0) {
			now = loop_now();
			event_add(w->ev, loop_tv(loop_timeout(now, w->deadline - now), &tv));
		} else
			event_add(w->ev, NULL);
		return;
	}
	waiter_detach(w);
	task_schedule(t, n);
	task_run_cb(-1, 0, t);	/* at once: we are at the top of the loop */
}

/*
 * Suspends the task running in L until fd is ready for events or timeout
 * seconds pass (timeout < 0: none; fd -1: only a timeout or task_wake).
 * done then pushes what the primitive returns. The value at index anchor
 * (0: none), usually the handle, is kept alive until then and done can push
 * it with lua_rawgeti(co, LUA_REGISTRYINDEX, w->anchor_ref). Must be the
 * last call of a Lua-facing C function: `return (task_wait(...));`.
 */
int
task_wait(lua_State *L, struct waiter *w, evutil_socket_t fd, short events,
    double timeout, waiter_done_fn done, void *arg, int anchor)
{
	return (task_wait_at(L, w, fd, events, timeout >= 0 ? loop_now() : 0,
	    timeout, done, arg, anchor));
}

/*
 * task_wait for a caller that has just read the clock (now): where a clock
 * read is a system call (UML), thousands of waits a second each save one.
 */
int
task_wait_at(lua_State *L, struct waiter *w, evutil_socket_t fd, short events,
    double now, double timeout, waiter_done_fn done, void *arg, int anchor)
{
	struct task	*t = task_current(L);
	struct timeval	 tv;

	if (t == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	if (w->task != NULL)
		return (luaL_error(L, "another task is already waiting on it"));
	if (w->ev == NULL)
		w->ev = event_new(loop_base(), fd, events, waiter_cb, w);
	else if (event_assign(w->ev, loop_base(), fd, events, waiter_cb, w) == -1) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (w->ev == NULL)
		return (luaL_error(L, "cannot create an event"));
	w->deadline = timeout >= 0 ? now + timeout : 0;
	if (event_add(w->ev, timeout >= 0 ? loop_tv(loop_timeout(now, timeout), &tv) : NULL) == -1)
		return (luaL_error(L, "cannot add an event"));
	w->task = t;
	w->done = done;
	w->arg = arg;
	if (anchor != 0) {
		lua_pushvalue(L, anchor);
		w->anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	t->waiting = w;
	return (lua_yield(L, 0));
}

/*
 * The waiter of the task running in L (NULL outside a task), which sleep and
 * join use: a primitive without a resource of its own to wait on waits on it,
 * setting its cancel. A task waits for one thing at a time.
 */
struct waiter *
task_self_waiter(lua_State *L)
{
	struct task	*t = task_current(L);

	return (t != NULL ? &t->self_w : NULL);
}

/* Ends w's wait now: done runs with what 0 and the task resumes in the next turn. */
void
task_wake(struct waiter *w)
{
	struct task	*t = w->task;
	int		 n;

	if (t == NULL)
		return;
	event_del(w->ev);
	if ((n = w->done(t->co, w, 0)) < 0)
		n = 0;
	waiter_detach(w);
	task_schedule(t, n);
}

/* The resource behind w is going away: a waiting task gets nil, "closed". */
void
waiter_close(struct waiter *w)
{
	struct task	*t = w->task;

	if (t != NULL) {
		event_del(w->ev);
		waiter_detach(w);
		lua_pushnil(t->co);
		lua_pushliteral(t->co, "closed");
		task_schedule(t, 2);
	}
	if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
}

/* Stops waiting without results, for a cancelled task. */
void
waiter_abandon(struct waiter *w)
{
	if (w->task == NULL)
		return;
	event_del(w->ev);
	if (w->cancel != NULL)
		w->cancel(w);
	waiter_detach(w);
}
