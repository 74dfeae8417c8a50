/* tests/unit/task.c: the scheduler driven from C: tasks, waiters, wakes, the loop's liveness count. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include <event2/event.h>
#include <lualib.h>

#include "luaha.h"
#include "unit.h"

/* A state like main.c makes, with the core modules preloaded. */
static lua_State *
new_state(void)
{
	lua_State	*L = luaL_newstate();

	*(void **)lua_getextraspace(L) = NULL;
	luaL_openlibs(L);
	libs_preload(L);
	luaL_requiref(L, "luaha.core.task", luaopen_luaha_core_task, 0);
	lua_pop(L, 1);
	return (L);
}

/* Runs code as a task until the loop is empty; returns the exit status. */
static int
run_task(lua_State *L, const char *code)
{
	if (luaL_loadstring(L, code) != LUA_OK)
		return (-1);
	task_spawn(L, 0, "test", TASK_FATAL);
	lua_pop(L, 1);
	return (loop_run());
}

static struct waiter	 wake_w;
static int		 wake_done_calls;

static int
wake_done(lua_State *co, struct waiter *w, short what)
{
	(void)w;
	wake_done_calls++;
	lua_pushinteger(co, what);
	lua_pushliteral(co, "woken");
	return (2);
}

/* wait_here(): parks the task on wake_w until wake_it() is called. */
static int
wait_here(lua_State *L)
{
	return (task_wait(L, &wake_w, -1, 0, -1, wake_done, NULL, 0));
}

static int
wake_it(lua_State *L)
{
	(void)L;
	task_wake(&wake_w);
	return (0);
}

static void
test_wait_and_wake(void)
{
	lua_State	*L = new_state();
	int		 status;

	lua_register(L, "wait_here", wait_here);
	lua_register(L, "wake_it", wake_it);
	status = run_task(L,
	    "local task = require 'luaha.core.task'\n"
	    "local waiter = task.spawn(function() return wait_here() end)\n"
	    "task.sleep(0.01)\n"
	    "assert(waiter:status() == 'waiting', waiter:status())\n"
	    "wake_it()\n"
	    "local what, msg = waiter:join(1)\n"
	    "assert(what == 0 and msg == 'woken', tostring(msg))\n");
	CHECK(status == 0);
	CHECK(wake_done_calls == 1);
	CHECK(wake_w.task == NULL);
	CHECK(wake_w.anchor_ref <= 0);
	lua_close(L);
	waiter_close(&wake_w);		/* frees its event */
}

static int
close_it(lua_State *L)
{
	(void)L;
	waiter_close(&wake_w);
	return (0);
}

static void
test_waiter_close(void)
{
	lua_State	*L = new_state();

	lua_register(L, "wait_here", wait_here);
	lua_register(L, "close_it", close_it);
	CHECK(run_task(L,
	    "local task = require 'luaha.core.task'\n"
	    "local waiter = task.spawn(function() return wait_here() end)\n"
	    "task.sleep(0.01)\n"
	    "close_it()\n"
	    "local r, err = waiter:join(1)\n"
	    "assert(r == nil and err == 'closed', tostring(err))\n") == 0);
	lua_close(L);
}

static void
test_failure_is_fatal_for_main(void)
{
	lua_State	*L = new_state();

	CHECK(run_task(L, "error('stop here')") == 1);
	lua_close(L);
}

static void
test_wait_outside_task(void)
{
	lua_State	*L = new_state();

	lua_register(L, "wait_here", wait_here);
	CHECK(luaL_dostring(L, "wait_here()") != LUA_OK);
	CHECK(strstr(lua_tostring(L, -1), "attempt to wait outside a task") != NULL);
	lua_close(L);
}

int
main(void)
{
	log_init(LOG_DEST_STDERR, LOG_LEVEL_ERR);
	printf("EXPECT-TRACEBACK\n");	/* the fatal-failure case logs one */
	/* Each case gets a fresh loop: loop_run ends when the case's tasks are done. */
	CHECK(loop_init() == 0);
	RUN("task-wait-and-wake", test_wait_and_wake);
	loop_free();
	CHECK(loop_init() == 0);
	RUN("task-waiter-close", test_waiter_close);
	loop_free();
	CHECK(loop_init() == 0);
	RUN("task-main-failure-is-fatal", test_failure_is_fatal_for_main);
	loop_free();
	CHECK(loop_init() == 0);
	RUN("task-wait-outside-task", test_wait_outside_task);
	loop_free();
	UNIT_EXIT();
}
