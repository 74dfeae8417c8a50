/* checker.h: what checker.c (luaha.core.checker, its Lua side) and checkrun.c (the checks: heap, sockets, SYNs) share only. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef LUAHA_CHECKER_H
#define LUAHA_CHECKER_H

#include <stdint.h>

#include <event2/event.h>

#include "halfopen.h"

#define CHECKER_STARTS	4096		/* steps (starts) in one timer callback, at most */
#define CHECKER_HOLD	0.004		/* seconds one timer callback may run, checked every 64 steps */
#define CHECKER_EVENTS	256		/* epoll events read in one call */
#define CHECKER_READS	4		/* epoll_wait calls in one callback */
#define CHECKER_TICK	0.01		/* checks due within this start together */
#define CHECKER_STALL	0.25		/* a failure later than timeout + this: we were stalled */
#define CHECKER_MAX	(1 << 22)	/* targets in one checker */
#define NO_HEAP		UINT32_MAX

enum target_kind { KIND_CONNECT, KIND_HALFOPEN };
enum target_state { T_FREE, T_IDLE, T_FLIGHT, T_DONE };
enum target_result { RES_OK, RES_FAILED, RES_STALLED };

struct target {
	union inet_addr	 to;		/* the address and port checked */
	socklen_t	 tolen;
	double		 interval;	/* seconds from a check's end to the next */
	double		 timeout;	/* seconds a check may take */
	double		 tick;		/* a check due within this starts now */
	double		 at;		/* its heap key: when its next step is due */
	double		 due;		/* when the check in flight was due */
	double		 started;	/* when the check in flight began */
	double		 deadline;	/* started + timeout */
	double		 rto;		/* half-open: seconds to the next SYN */
	double		 took;		/* the result's: seconds the check took */
	struct probe	*probe;		/* half-open: the SYN in flight */
	int		 fd;		/* connect: the socket in flight, or -1 */
	int		 err;		/* the result's errno, 0 for a timeout */
	const char	*what;		/* the result's failing step: "connect", "socket" ... */
	uint32_t	 gen;		/* changes when the slot is reused */
	uint32_t	 heap;		/* index in the heap, NO_HEAP when not in it */
	uint8_t		 kind;
	uint8_t		 state;
	uint8_t		 result;	/* enum target_result, while T_DONE */
	uint32_t	 next_free;	/* free list, while T_FREE */
};

/* All loop state of one checker: made by checker_new, freed by its __gc. */
struct checker {
	struct target	*t;		/* targets, by slot; ntargets in use of size */
	uint32_t	 size, ntargets, free;	/* free: the first free slot, or size */
	uint32_t	*heap;		/* slots, ordered by t[].at */
	uint32_t	 nheap;
	uint32_t	*done;		/* slots with a result waiting, in order */
	uint32_t	 ndone;
	int		 epfd;		/* the connects in flight */
	struct event	*epev;		/* epfd is readable */
	struct event	*timer;		/* the heap's top is due */
	double		 armed;		/* when timer fires, 0 if not armed */
	struct waiter	*w;		/* the collector's, while it waits */
	struct prober	 pr4, pr6;	/* half-open SYNs and their answers */
	uint64_t	 started, late;	/* checks started; those started over a tick late */
	int		 closed;
};

/* checkrun.c */
void	 checkrun_put(struct checker *, uint32_t, double);
void	 checkrun_remove(struct checker *, uint32_t);
void	 checkrun_abort(struct target *);
void	 checkrun_arm(struct checker *, double);
void	 checkrun_timer_cb(evutil_socket_t, short, void *);
void	 checkrun_epoll_cb(evutil_socket_t, short, void *);

#endif
