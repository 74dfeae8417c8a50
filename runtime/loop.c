/* loop.c: the libevent base, what keeps the program running, the monotonic clock; below the tasks, it knows nothing of them. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>
#include <time.h>

#include <event2/event.h>

#include "luaha.h"

static struct event_base	*base;
static int			 live;		/* tasks, timers, listeners, signal handlers */
static int			 exit_code;
static int			 exiting;	/* luaha.exit or a signal asked to stop */

/*
 * The precise-timer flag makes libevent use CLOCK_MONOTONIC and timerfd rather
 * than the coarse clock, whose 4 ms ticks would break sub-second heartbeats.
 * libevent keeps the time it read when a turn of the loop began and counts
 * timeouts from it (loop_timeout makes up for that). Without that cache it reads
 * the clock at every timeout added and more: measured in UML, where each read
 * is a system call, that cost more than the early timeouts it avoids.
 */
int
loop_init(void)
{
	struct event_config	*cfg;

	if ((cfg = event_config_new()) == NULL)
		return (-1);
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == -1) {
		event_config_free(cfg);
		return (-1);
	}
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return (base == NULL ? -1 : 0);
}

/* Frees the base once everything on it is freed; loop_init may follow. */
void
loop_free(void)
{
	event_base_free(base);
	base = NULL;
	live = exit_code = exiting = 0;
}

struct event_base *
loop_base(void)
{
	return (base);
}

/* Counts something that keeps the program alive (a task, an armed timer, ...). */
void
loop_ref(void)
{
	live++;
}

/* The program ends when the last live thing goes away. */
void
loop_unref(void)
{
	if (--live == 0)
		event_base_loopbreak(base);
}

/* Runs until nothing is left or loop_exit; returns the exit status. */
int
loop_run(void)
{
	if (live > 0 && !exiting &&
	    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY) == -1) {
		log_warnx("event loop failed");
		exit_code = 1;
	}
	exiting = 1;		/* what closes from now on wakes no task */
	return (exit_code);
}

void
loop_exit(int code)
{
	exit_code = code;
	exiting = 1;
	event_base_loopbreak(base);
}

int
loop_exiting(void)
{
	return (exiting);
}

/*
 * The state's main thread: loop callbacks use its stack, which is free
 * whenever the loop runs (no Lua code is running then).
 */
lua_State *
loop_main_thread(lua_State *L)
{
	lua_State	*main;

	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
	main = lua_tothread(L, -1);
	lua_pop(L, 1);
	return (main);
}

/* Monotonic seconds, for intervals; never wall time. */
double
loop_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/*
 * The relative time to give libevent for a timeout of seconds from now, a
 * clock read of this turn of the loop. libevent counts from the time it
 * cached when the turn began, so after tasks ran a while a timeout of seconds
 * would end early, and be added again (10 000 checks a second woke twice for
 * most sleeps). The turn is known by the cached time changing; its start is
 * taken at the first call in it, later than the truth by the time libevent
 * spent on expired timeouts, which a margin of 1% (at most 2 ms) covers: a
 * timeout ends at most that late.
 * Once the turn has run LOOP_TURN_STALE, libevent's cached time is read anew
 * instead: libevent also computes how long to wait for the next timeout from
 * that time, at the end of the turn, so a timeout made up for a turn that ran
 * long would end late by as much (a 10 ms sleep after a task held the loop for
 * 9 s slept 9 s).
 */
#define LOOP_TURN_STALE	0.001

double
loop_timeout(double now, double seconds)
{
	static struct timeval	 seen;
	static double		 turn_began;
	struct timeval		 tv;

	if (base == NULL || event_base_gettimeofday_cached(base, &tv) == -1)
		return (seconds);
	if (tv.tv_sec != seen.tv_sec || tv.tv_usec != seen.tv_usec) {
		seen = tv;
		turn_began = now;
	} else if (now - turn_began > LOOP_TURN_STALE &&
	    event_base_update_cache_time(base) == 0 &&
	    event_base_gettimeofday_cached(base, &seen) == 0)
		turn_began = now;	/* the cache was read after now: never early */
	return (seconds + (now - turn_began) + fmin(seconds * 0.01, 0.002));
}

/*
 * Fills tv with a relative time of seconds (negative: zero), rounded up to
 * the microsecond: a timeout never ends before the deadline it stands for.
 */
struct timeval *
loop_tv(double seconds, struct timeval *tv)
{
	if (seconds < 0)
		seconds = 0;
	tv->tv_sec = (time_t)seconds;
	tv->tv_usec = (suseconds_t)ceil((seconds - (double)tv->tv_sec) * 1e6);
	if (tv->tv_usec >= 1000000) {
		tv->tv_sec++;
		tv->tv_usec -= 1000000;
	}
	return (tv);
}
