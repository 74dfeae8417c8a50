/* task.c: Lua tasks (coroutines) run by the loop: spawn, resume, join, cancel, budgets, exit; their waiting is in wait.c. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "luaha.h"
#include "task.h"

static const char *const task_state_names[] = {
	"ready", "running", "waiting", "done", "failed", "cancelled"
};

static int	task_budget = 10000000;	/* instructions without yielding */
static int	task_count;		/* for default names */


/* The task whose coroutine is L, or NULL for the main thread and plain coroutines. */
struct task *
task_current(lua_State *L)
{
	return (*(struct task **)lua_getextraspace(L));
}

static struct task *
task_check(lua_State *L, int idx)
{
	return (luaL_checkudata(L, idx, "luaha.task"));
}

static int
task_ended(struct task *t)
{
	return (t->state >= TASK_DONE);
}

/* Is the task at idx still to finish? */
int
task_alive(lua_State *L, int idx)
{
	return (!task_ended(task_check(L, idx)));
}

/* Makes the loop resume t with the nargs values on top of its stack. */
void
task_schedule(struct task *t, int nargs)
{
	if (t->run_ev == NULL)
		return;		/* collected while the state closes */
	t->nargs = nargs;
	t->state = TASK_READY;
	event_active(t->run_ev, EV_TIMEOUT, 0);
}

/*
 * Creates a task that runs the function below the n values on top of L's
 * stack, with those values as arguments; pops them and pushes the task.
 * The task starts in a later turn of the loop, never inside the caller.
 */
int
task_spawn(lua_State *L, int n, const char *name, int flags)
{
	struct task	*t;
	lua_Debug	 ar;

	luaL_checktype(L, -n - 1, LUA_TFUNCTION);
	t = lua_newuserdatauv(L, sizeof(*t), 1);
	memset(t, 0, sizeof(*t));
	t->state = TASK_DONE;		/* consistent for __gc until set up */
	t->self_ref = LUA_NOREF;
	t->flags = flags;
	TAILQ_INIT(&t->joiners);
	luaL_setmetatable(L, "luaha.task");
	if ((t->run_ev = event_new(loop_base(), -1, 0, task_run_cb, t)) == NULL)
		return (luaL_error(L, "spawn: cannot create an event"));
	t->L = loop_main_thread(L);
	t->co = lua_newthread(L);
	lua_setiuservalue(L, -2, 1);	/* the userdata keeps its coroutine */
	*(struct task **)lua_getextraspace(t->co) = t;

	task_count++;
	if (name != NULL)
		snprintf(t->name, sizeof(t->name), "%s", name);
	else {
		lua_pushvalue(L, -n - 2);
		if (lua_getinfo(L, ">S", &ar) && ar.linedefined > 0)
			snprintf(t->name, sizeof(t->name), "task %d (%s:%d)",
			    task_count, ar.short_src, ar.linedefined);
		else
			snprintf(t->name, sizeof(t->name), "task %d", task_count);
	}

	/* Function and arguments move to the coroutine; the task stays. */
	lua_insert(L, -n - 2);
	lua_xmove(L, t->co, n + 1);
	lua_pushvalue(L, -1);
	t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	loop_ref();
	task_schedule(t, n);
	return (1);
}

/*
 * The task ran its budget of instructions without yielding. Yielding from
 * the hook suspends it even inside pcall, and task_run_cb then ends it, so a
 * runaway loop cannot catch its way past. Where a yield is impossible (a C
 * function without continuation is on the stack) an error is the fallback,
 * and the hook fires again after the next budget.
 */
static void
task_budget_hook(lua_State *co, lua_Debug *ar)
{
	struct task	*t = task_current(co);

	(void)ar;
	if (t != NULL && lua_isyieldable(co)) {
		t->over_budget = 1;
		lua_yield(co, 0);
		return;
	}
	luaL_error(co, "task exceeded its budget of %d instructions without "
	    "yielding", task_budget);
}

/* Wakes the tasks joining t; t's results are on its stack. */
static void
task_finish(struct task *t, enum task_state state)
{
	struct task	*j;

	t->state = state;
	lua_sethook(t->co, NULL, 0, 0);
	while ((j = TAILQ_FIRST(&t->joiners)) != NULL) {
		TAILQ_REMOVE(&t->joiners, j, join_entry);
		task_wake(&j->self_w);
	}
	if ((t->flags & TASK_FATAL) && state == TASK_FAILED)
		loop_exit(1);
	luaL_unref(t->L, LUA_REGISTRYINDEX, t->self_ref);
	t->self_ref = LUA_NOREF;
	loop_unref();
}

/*
 * Logs a failed task's error with the coroutine's traceback, then closes its
 * pending to-be-closed variables, leaving only the message on its stack.
 */
static void
task_fail(struct task *t)
{
	lua_State	*L = t->L;
	const char	*msg;

	if ((msg = lua_tostring(t->co, -1)) == NULL)
		msg = lua_pushfstring(L, "(error object is a %s value)",
		    luaL_typename(t->co, -1));
	else
		lua_pushstring(L, msg);
	luaL_traceback(L, t->co, lua_tostring(L, -1), 0);
	log_msg(LOG_LEVEL_ERR, "%s: %s", t->name, lua_tostring(L, -1));
	lua_pop(L, 1);
	lua_resetthread(t->co);		/* returns the error we logged */
	lua_settop(t->co, 0);
	lua_xmove(L, t->co, 1);
	task_finish(t, TASK_FAILED);
}

/*
 * Resumes t from the loop. A yield without an armed waiter is a plain
 * coroutine.yield in the task body: other tasks run, then it goes on.
 */
void
task_run_cb(evutil_socket_t fd, short what, void *arg)
{
	struct task	*t = arg;
	int		 status, nres;

	(void)fd;
	(void)what;
	if (t->state != TASK_READY)
		return;
	t->state = TASK_RUNNING;
	lua_sethook(t->co, task_budget_hook, LUA_MASKCOUNT, task_budget);
	status = lua_resume(t->co, t->L, t->nargs, &nres);
	t->nargs = 0;
	switch (status) {
	case LUA_YIELD:
		lua_pop(t->co, nres);
		if (t->over_budget) {
			luaL_where(t->co, 0);
			lua_pushfstring(t->co, "%stask exceeded its budget of %d "
			    "instructions without yielding", lua_tostring(t->co, -1),
			    task_budget);
			task_fail(t);
			break;
		}
		if (t->state != TASK_RUNNING)
			break;		/* woken already, or cancelled */
		if (t->waiting != NULL || loop_exiting())
			t->state = TASK_WAITING;
		else
			task_schedule(t, 0);
		break;
	case LUA_OK:
		t->nres = nres;
		task_finish(t, TASK_DONE);
		break;
	default:
		task_fail(t);
		break;
	}
}

static int
task_sleep_done(lua_State *co, struct waiter *w, short what)
{
	(void)co;
	(void)w;
	(void)what;
	return (0);
}

/* sleep(seconds): yields the task for at least that long (1 ms resolution or better). */
static int
task_lua_sleep(lua_State *L)
{
	struct task	*t = task_current(L);
	double		 s = luaL_checknumber(L, 1);

	luaL_argcheck(L, s >= 0, 1, "negative");
	if (t == NULL)
		return (luaL_error(L, "attempt to wait outside a task"));
	t->self_w.cancel = NULL;
	return (task_wait(L, &t->self_w, -1, 0, s, task_sleep_done, NULL, 0));
}

/*
 * breathe(): the one cooperative yield: inside a task, one turn of the loop
 * (the others run, this one gets a fresh budget); elsewhere nothing.
 */
static int
task_lua_breathe(lua_State *L)
{
	struct task	*t = task_current(L);

	if (t == NULL || !lua_isyieldable(L))
		return (0);
	t->self_w.cancel = NULL;
	return (task_wait(L, &t->self_w, -1, 0, 0, task_sleep_done, NULL, 0));
}

static int
task_lua_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	return (task_spawn(L, lua_gettop(L) - 1, NULL, 0));
}

static int
task_lua_current(lua_State *L)
{
	struct task	*t = task_current(L);

	if (t == NULL)
		return (0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
	return (1);
}

static int
task_lua_set_budget(lua_State *L)
{
	lua_Integer	 n = luaL_checkinteger(L, 1);

	luaL_argcheck(L, n >= 1000 && n <= 2000000000, 1,
	    "between 1000 and 2000000000");
	lua_pushinteger(L, task_budget);
	task_budget = (int)n;
	return (1);
}

static int
task_park_done(lua_State *co, struct waiter *w, short what)
{
	(void)w;
	if (what & EV_TIMEOUT)
		return (0);
	return (task_current(co)->nunpark);
}

/*
 * park([timeout]): waits until another task's task:unpark(...), and returns
 * its values, or nothing after timeout seconds. A pool of tasks that wait
 * for work waits so.
 */
static int
task_lua_park(lua_State *L)
{
	struct task	*t = task_current(L);
	double		 timeout = luaL_optnumber(L, 1, -1);

	if (t == NULL)
		return (luaL_error(L, "attempt to wait outside a task"));
	t->self_w.cancel = NULL;
	t->nunpark = 0;
	return (task_wait(L, &t->self_w, -1, 0, timeout, task_park_done, NULL, 0));
}

/*
 * unpark(...): a parked task resumes in the next turn, its park returning
 * these values. Returns true, or false if the task was not parked.
 */
static int
task_lua_unpark(lua_State *L)
{
	struct task	*t = task_check(L, 1);
	int		 n = lua_gettop(L) - 1;

	if (t->waiting != &t->self_w || t->self_w.done != task_park_done) {
		lua_pushboolean(L, 0);
		return (1);
	}
	lua_checkstack(t->co, n + LUA_MINSTACK);
	lua_xmove(L, t->co, n);
	t->nunpark = n;
	task_wake(&t->self_w);
	lua_pushboolean(L, 1);
	return (1);
}

/* Pushes what join returns for an ended task: its results, or nil and why. */
static int
task_push_results(lua_State *to, struct task *t)
{
	int	 i, top = lua_gettop(t->co);

	switch (t->state) {
	case TASK_DONE:
		luaL_checkstack(to, t->nres, "too many results");
		for (i = top - t->nres + 1; i <= top; i++) {
			lua_pushvalue(t->co, i);
			lua_xmove(t->co, to, 1);
		}
		return (t->nres);
	case TASK_FAILED:
		lua_pushnil(to);
		lua_pushvalue(t->co, 1);
		lua_xmove(t->co, to, 1);
		return (2);
	default:
		lua_pushnil(to);
		lua_pushliteral(to, "cancelled");
		return (2);
	}
}

static int
task_join_done(lua_State *co, struct waiter *w, short what)
{
	struct task	*target = w->arg, *self = task_current(co);

	if (what & EV_TIMEOUT) {
		TAILQ_REMOVE(&target->joiners, self, join_entry);
		self->joined = NULL;
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	self->joined = NULL;
	return (task_push_results(co, target));
}

static void
task_join_cancel(struct waiter *w)
{
	struct task	*target = w->arg, *self = w->task;

	TAILQ_REMOVE(&target->joiners, self, join_entry);
	self->joined = NULL;
}

/* join([timeout]): waits for the task to end; its results, or nil and "timeout", "cancelled" or its error. */
static int
task_lua_join(lua_State *L)
{
	struct task	*t = task_check(L, 1), *self = task_current(L);
	double		 timeout = luaL_optnumber(L, 2, -1);

	if (task_ended(t))
		return (task_push_results(L, t));
	if (self == t)
		return (luaL_error(L, "a task cannot join itself"));
	if (self == NULL)
		return (luaL_error(L, "attempt to wait outside a task"));
	TAILQ_INSERT_TAIL(&t->joiners, self, join_entry);
	self->joined = t;
	self->self_w.cancel = task_join_cancel;
	return (task_wait(L, &self->self_w, -1, 0, timeout, task_join_done, t, 0));
}

/*
 * cancel(): stops the task where it waits and closes its to-be-closed
 * variables; joiners get nil, "cancelled". Returns false if it had ended.
 */
static int
task_lua_cancel(lua_State *L)
{
	struct task	*t = task_check(L, 1);

	if (task_ended(t)) {
		lua_pushboolean(L, 0);
		return (1);
	}
	if (t->co == L || t->state == TASK_RUNNING)
		return (luaL_error(L, "a task cannot cancel itself"));
	event_del(t->run_ev);
	if (t->waiting != NULL)
		waiter_abandon(t->waiting);
	if (lua_resetthread(t->co) != LUA_OK && lua_isstring(t->co, -1))
		log_warnx("%s: while cancelling: %s", t->name,
		    lua_tostring(t->co, -1));
	lua_settop(t->co, 0);
	task_finish(t, TASK_CANCELLED);
	lua_pushboolean(L, 1);
	return (1);
}

static int
task_lua_status(lua_State *L)
{
	struct task	*t = task_check(L, 1);

	lua_pushstring(L, task_state_names[t->state]);
	return (1);
}

/* name([new]): the name used in log lines. */
static int
task_lua_name(lua_State *L)
{
	struct task	*t = task_check(L, 1);

	if (!lua_isnoneornil(L, 2))
		snprintf(t->name, sizeof(t->name), "%s", luaL_checkstring(L, 2));
	lua_pushstring(L, t->name);
	return (1);
}

/* Only ended tasks are collected while the loop runs (live ones are anchored). */
static int
task_gc(lua_State *L)
{
	struct task	*t = luaL_checkudata(L, 1, "luaha.task");

	if (t->waiting != NULL)
		waiter_abandon(t->waiting);
	if (t->joined != NULL)
		TAILQ_REMOVE(&t->joined->joiners, t, join_entry);
	if (t->self_w.ev != NULL) {
		event_free(t->self_w.ev);
		t->self_w.ev = NULL;
	}
	if (t->run_ev != NULL) {
		event_free(t->run_ev);
		t->run_ev = NULL;
	}
	return (0);
}

static int
task_tostring(lua_State *L)
{
	struct task	*t = luaL_checkudata(L, 1, "luaha.task");

	lua_pushfstring(L, "%s (%s)", t->name, task_state_names[t->state]);
	return (1);
}

/*
 * exit([code]): stops the program after the running task yields. Inside a
 * task the caller never resumes; elsewhere the process exits at once.
 */
static int
task_lua_exit(lua_State *L)
{
	int	 code;

	if (lua_isboolean(L, 1))
		code = lua_toboolean(L, 1) ? 0 : 1;
	else
		code = (int)luaL_optinteger(L, 1, 0);
	loop_exit(code);
	if (task_current(L) != NULL && lua_isyieldable(L))
		return (lua_yield(L, 0));
	fflush(NULL);
	exit(code);
}

static const luaL_Reg task_funcs[] = {
	{ "spawn", task_lua_spawn },
	{ "sleep", task_lua_sleep },
	{ "breathe", task_lua_breathe },
	{ "current", task_lua_current },
	{ "set_budget", task_lua_set_budget },
	{ "park", task_lua_park },
	{ "exit", task_lua_exit },
	{ NULL, NULL }
};

static const luaL_Reg task_methods[] = {
	{ "join", task_lua_join },
	{ "unpark", task_lua_unpark },
	{ "cancel", task_lua_cancel },
	{ "status", task_lua_status },
	{ "name", task_lua_name },
	{ NULL, NULL }
};

static const luaL_Reg task_meta[] = {
	{ "__gc", task_gc },
	{ "__tostring", task_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_task(lua_State *L)
{
	luaL_newmetatable(L, "luaha.task");
	luaL_setfuncs(L, task_meta, 0);
	luaL_newlib(L, task_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, task_funcs);
	return (1);
}
