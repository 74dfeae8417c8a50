/* task.h: what task.c and wait.c share only: a task's record and how the loop resumes it. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef LUAHA_TASK_H
#define LUAHA_TASK_H

#include <sys/queue.h>

#include <event2/event.h>
#include <lua.h>

enum task_state {
	TASK_READY,		/* scheduled to start or resume */
	TASK_RUNNING,
	TASK_WAITING,		/* yielded in a primitive, its waiter armed */
	TASK_DONE,
	TASK_FAILED,
	TASK_CANCELLED
};

struct task {
	lua_State	*L;		/* the main thread, whose stack is free in callbacks */
	lua_State	*co;		/* the coroutine; its stack keeps the results */
	int		 self_ref;	/* anchors the userdata until the task ends */
	enum task_state	 state;
	int		 flags;		/* TASK_FATAL */
	int		 nargs;		/* values on co to pass at the next resume */
	int		 nres;		/* results on co after the task ended */
	int		 over_budget;	/* the budget hook fired */
	struct event	*run_ev;	/* makes the loop start or resume the task */
	struct waiter	*waiting;	/* what the task waits on, NULL if nothing */
	struct waiter	 self_w;	/* for sleep and join */
	struct task	*joined;	/* the task this one is joining */
	int		 nunpark;	/* values unpark put on its stack */
	TAILQ_HEAD(, task) joiners;	/* tasks joining this one */
	TAILQ_ENTRY(task) join_entry;
	char		 name[128];
};

/* task.c */
void	 task_schedule(struct task *, int);
void	 task_run_cb(evutil_socket_t, short, void *);

/* wait.c */
void	 waiter_abandon(struct waiter *);

#endif
