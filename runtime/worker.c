/* worker.c: a worker thread for work that would hold the loop (a password hash); its task waits as for I/O. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

/*
 * One thread, and at most WORKER_MAX_JOBS jobs running or queued: an
 * Argon2id verification takes 64 MiB and a core for 0.2 s (6 s in UML), so
 * more threads would only take memory and the loop's CPU, and a longer
 * queue only answers later. Beyond the cap a job is refused before any work.
 */
#define WORKER_THREADS	1
#define WORKER_MAX_JOBS	4

TAILQ_HEAD(worker_jobq, worker_job);

/*
 * The pool, built at its first job (after the daemon has forked) and
 * never freed: the thread sleeps on the condition when there is no work.
 * The thread hands a finished job back through an eventfd that the loop
 * reads, rather than calling event_active from the thread: that would need
 * evthread_use_pthreads before the base is made, and a lock taken by every
 * libevent call for the rest of the program, for one event a job.
 */
static struct {
	pthread_mutex_t		 mu;		/* guards todo, done and stop */
	pthread_cond_t		 cv;		/* signalled when todo gains a job */
	struct worker_jobq	 todo;		/* submitted, not started */
	struct worker_jobq	 done;		/* finished, not yet seen by the loop */
	int			 njobs;		/* submitted and not yet seen finished: the cap's count */
	int			 efd;		/* the thread writes 1 per finished job */
	struct event		*ev;		/* reads efd in the loop */
	int			 started;	/* threads made */
	pid_t			 pid;		/* the process they were made in */
} worker = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.todo = TAILQ_HEAD_INITIALIZER(worker.todo),
	.done = TAILQ_HEAD_INITIALIZER(worker.done),
	.efd = -1,
};

static void *
worker_main(void *arg)
{
	struct worker_job	*job;
	uint64_t		 one = 1;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&worker.mu);
		while ((job = TAILQ_FIRST(&worker.todo)) == NULL)
			pthread_cond_wait(&worker.cv, &worker.mu);
		TAILQ_REMOVE(&worker.todo, job, entry);
		pthread_mutex_unlock(&worker.mu);

		job->run(job);

		pthread_mutex_lock(&worker.mu);
		TAILQ_INSERT_TAIL(&worker.done, job, entry);
		pthread_mutex_unlock(&worker.mu);
		/* An eventfd write fails only when the counter would overflow. */
		while (write(worker.efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	return (NULL);
}

/*
 * Finished jobs, in the loop: a job whose task still waits wakes it (done
 * pushes the results), then the job is freed; one whose task was cancelled
 * meanwhile is only freed.
 */
static void
worker_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_jobq	 q = TAILQ_HEAD_INITIALIZER(q);
	struct worker_job	*job;
	uint64_t		 n;

	(void)what;
	(void)arg;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("%s: read", __func__);
	pthread_mutex_lock(&worker.mu);
	TAILQ_CONCAT(&q, &worker.done, entry);
	pthread_mutex_unlock(&worker.mu);
	while ((job = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, job, entry);
		worker.njobs--;
		task_wake(&job->w);	/* nothing when the task went away */
		if (job->w.ev != NULL)
			event_free(job->w.ev);
		job->release(job);
	}
}

/* Makes the eventfd, its event and the thread; -1 with errno set if any fails. */
static int
worker_start(void)
{
	pthread_t	 th;
	sigset_t	 all, old;
	int		 err;

	if (worker.efd == -1 &&
	    (worker.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return (-1);
	if (worker.ev == NULL && ((worker.ev = event_new(loop_base(), worker.efd,
	    EV_READ | EV_PERSIST, worker_done_cb, NULL)) == NULL ||
	    event_add(worker.ev, NULL) == -1)) {
		errno = ENOMEM;
		return (-1);
	}
	/* Signals stay with the loop's thread: the worker blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; worker.started < WORKER_THREADS; worker.started++)
		if ((err = pthread_create(&th, NULL, worker_main, NULL)) != 0 ||
		    (err = pthread_detach(th)) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	worker.pid = getpid();
	if (worker.started == 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/*
 * After a fork (daemonize, when the configuration was read in a task
 * before it) the pool's threads are the parent's: this process has none,
 * and a thread may have held the lock when it forked. The lock and the
 * condition are made again and the threads are made at the next job; the
 * jobs queued and not started are done by them. A job that a thread was
 * running at the fork is lost with it (daemonize is called before any).
 */
static void
worker_forked(void)
{
	pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;

	worker.mu = mu;
	worker.cv = cv;
	worker.started = 0;
}

/*
 * Runs job->run in the worker thread while the task running in L waits;
 * job->done then pushes the results in the loop and job->release frees the
 * job (also when the task was cancelled meanwhile, once the thread is done
 * with it). Must be the last call of a Lua-facing C function. When the cap
 * is reached or the thread cannot be made, the job is released at once and
 * nil, "busy" (or the reason) returned; outside a task it raises, releasing
 * the job first.
 */
int
worker_wait(lua_State *L, struct worker_job *job)
{
	if (task_current(L) == NULL || !lua_isyieldable(L)) {
		job->release(job);
		return (luaL_error(L, "attempt to wait outside a task"));
	}
	if (worker.started > 0 && worker.pid != getpid())
		worker_forked();
	if (worker.njobs >= WORKER_MAX_JOBS) {
		job->release(job);
		return (luaha_fail(L, "busy"));
	}
	if (worker.started == 0 && worker_start() == -1) {
		job->release(job);
		return (luaha_fail(L, "worker: %s", strerror(errno)));
	}
	memset(&job->w, 0, sizeof(job->w));
	worker.njobs++;
	pthread_mutex_lock(&worker.mu);
	TAILQ_INSERT_TAIL(&worker.todo, job, entry);
	pthread_cond_signal(&worker.cv);
	pthread_mutex_unlock(&worker.mu);
	/*
	 * The job is queued before the task waits: the thread may finish it
	 * first, but the loop sees that only after this task has yielded.
	 */
	return (task_wait(L, &job->w, -1, 0, -1, job->done, job, 0));
}

/*
 * Runs job in the worker thread while the task running in L waits, when
 * it is a task that may yield and the queue has room; otherwise at once,
 * holding the loop (outside a task, or when password checks fill the
 * queue). Either way job->done pushes the results and job->release frees
 * the job. Must be the last call of a Lua-facing C function.
 */
int
worker_run(lua_State *L, struct worker_job *job)
{
	int	 nret;

	if (task_current(L) != NULL && lua_isyieldable(L) && worker.njobs < WORKER_MAX_JOBS)
		return (worker_wait(L, job));
	job->run(job);
	memset(&job->w, 0, sizeof(job->w));
	job->w.arg = job;
	nret = job->done(L, &job->w, 0);
	job->release(job);
	return (nret);
}
