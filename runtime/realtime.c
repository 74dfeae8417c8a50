/* realtime.c: real-time scheduling and locked memory for a time-critical process (luaha.daemon.realtime, lock_memory). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/mman.h>
#include <sys/resource.h>

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "luaha.h"

/*
 * realtime(priority): this process runs under SCHED_RR at priority (1-99),
 * ahead of every ordinary process, so that CPU load cannot delay it; 0 puts
 * it back to ordinary scheduling. Children do not inherit it (the reset-on-
 * fork flag), so a program it runs competes as usual. true, or nil and
 * "realtime: <reason>" (a container or a missing CAP_SYS_NICE says
 * "Operation not permitted"). The kernel's real-time throttling
 * (sched_rt_runtime_us) still leaves others 5% of each second.
 */
static int
realtime_set(lua_State *L)
{
	lua_Integer		 prio = luaL_checkinteger(L, 1);
	struct sched_param	 sp;
	int			 policy;

	luaL_argcheck(L, prio >= 0 && prio <= 99, 1, "a priority from 0 to 99");
	memset(&sp, 0, sizeof(sp));
	sp.sched_priority = (int)prio;
	policy = prio > 0 ? SCHED_RR | SCHED_RESET_ON_FORK : SCHED_OTHER;
	if (sched_setscheduler(0, policy, &sp) == -1)
		return (luaha_fail_errno(L, "realtime"));
	return (luaha_ok(L));
}

/*
 * lock_memory(): all of this process's memory, now and later, stays in RAM
 * (mlockall), so that no page fault waits for the disk under memory
 * pressure. true, or nil and "lock_memory: <reason>".
 */
static int
realtime_lock_memory(lua_State *L)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
		return (luaha_fail_errno(L, "lock_memory"));
	return (luaha_ok(L));
}

/* scheduling(): the policy ("realtime" or "normal") and priority this process runs at. */
static int
realtime_scheduling(lua_State *L)
{
	struct sched_param	 sp;
	int			 policy;

	if ((policy = sched_getscheduler(0)) == -1 || sched_getparam(0, &sp) == -1)
		return (luaha_fail_errno(L, "scheduling"));
	policy &= ~SCHED_RESET_ON_FORK;
	lua_pushstring(L, policy == SCHED_RR || policy == SCHED_FIFO ? "realtime" : "normal");
	lua_pushinteger(L, sp.sched_priority);
	return (2);
}

static const luaL_Reg realtime_funcs[] = {
	{ "realtime", realtime_set },
	{ "lock_memory", realtime_lock_memory },
	{ "scheduling", realtime_scheduling },
	{ NULL, NULL }
};

int
luaopen_luaha_core_realtime(lua_State *L)
{
	luaL_newlib(L, realtime_funcs);
	return (1);
}
