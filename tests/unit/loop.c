/* tests/unit/loop.c: the liveness count that ends the program, loop_exit, the clock and timeval helper. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/time.h>

#include <event2/event.h>

#include "luaha.h"
#include "unit.h"

static void
unref_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	loop_unref();
}

static void
exit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	loop_exit(9);
}

static void
test_ends_when_nothing_is_left(void)
{
	struct event	*ev;
	struct timeval	 tv;
	double		 t0;

	CHECK(loop_init() == 0);
	CHECK(loop_run() == 0);		/* nothing live: returns at once */
	loop_free();
	CHECK(loop_init() == 0);
	loop_ref();
	ev = evtimer_new(loop_base(), unref_cb, NULL);
	evtimer_add(ev, loop_tv(0.02, &tv));
	t0 = loop_now();
	CHECK(loop_run() == 0);
	CHECK(loop_now() - t0 >= 0.02);
	CHECK(loop_exiting());
	event_free(ev);
	loop_free();
}

static void
test_exit_code(void)
{
	struct event	*ev;
	struct timeval	 tv;

	CHECK(loop_init() == 0);
	loop_ref();			/* would run forever without loop_exit */
	ev = evtimer_new(loop_base(), exit_cb, NULL);
	evtimer_add(ev, loop_tv(0.01, &tv));
	CHECK(loop_run() == 9);
	event_free(ev);
	loop_free();
}

static void
test_tv_and_clock(void)
{
	struct timeval	 tv;
	double		 a, b;

	loop_tv(1.25, &tv);
	CHECK(tv.tv_sec == 1 && tv.tv_usec == 250000);
	loop_tv(-3, &tv);
	CHECK(tv.tv_sec == 0 && tv.tv_usec == 0);
	loop_tv(0.001, &tv);
	CHECK(tv.tv_sec == 0 && tv.tv_usec >= 999 && tv.tv_usec <= 1000);
	a = loop_now();
	b = loop_now();
	CHECK(b >= a && a > 0);
}

int
main(void)
{
	log_init(LOG_DEST_STDERR, LOG_LEVEL_ERR);
	RUN("loop-ends-when-nothing-is-left", test_ends_when_nothing_is_left);
	RUN("loop-exit-code", test_exit_code);
	RUN("loop-tv-and-clock", test_tv_and_clock);
	UNIT_EXIT();
}
