/* proc.c: child processes (luaha.proc.run): no shell, output captured, the group killed at the timeout. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "luaha.h"

#define PROC_OUTPUT_MAX	(16 * 1024 * 1024)	/* per stream; the rest is discarded */

extern char **environ;

struct proc_stream {
	int		 fd;		/* our end of the pipe, -1 when done */
	struct event	*ev;
	struct evbuffer	*buf;		/* output read, or stdin left to write */
	struct proc	*p;
};

struct proc {
	pid_t			 pid;		/* 0 once reaped */
	int			 pidfd;		/* readable when the child exits */
	struct event		*exit_ev;
	struct proc_stream	 in, out, err;
	int			 status;	/* from waitpid */
	int			 timed_out;
	struct waiter		 w;		/* the task in run() */
	int			 on_sigchld;	/* watched through SIGCHLD, not a pidfd */
	TAILQ_ENTRY(proc)	 entry;
};

/*
 * Kernels before 5.3 (and valgrind) have no pidfd_open: there the children
 * are watched through SIGCHLD, each reaped by its own pid.
 */
static TAILQ_HEAD(, proc) proc_sigchld_list = TAILQ_HEAD_INITIALIZER(proc_sigchld_list);
static struct event	*proc_sigchld_ev;

static const char *const run_options[] = { "timeout", "stdin", "env", NULL };

static void
proc_stream_close(struct proc_stream *s)
{
	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = NULL;
	if (s->fd != -1 && close(s->fd) == -1)
		log_warn("proc: close pipe");
	s->fd = -1;
}

/* Reads what the pipe holds; at end of file the stream is done. */
static void
proc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc_stream	*s = arg;
	char			 buf[16384];
	ssize_t			 n;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (evbuffer_get_length(s->buf) < PROC_OUTPUT_MAX)
			evbuffer_add(s->buf, buf, n);
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		proc_stream_close(s);
}

static void
proc_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc_stream	*s = arg;

	(void)what;
	while (evbuffer_get_length(s->buf) > 0)
		if (evbuffer_write(s->buf, fd) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;		/* EPIPE: the child does not read */
		}
	proc_stream_close(s);
}

/*
 * The child exited. What it wrote is already in the pipes, so one more read
 * collects it; a grandchild still holding a pipe does not keep us waiting.
 */
static void
proc_reaped(struct proc *p)
{
	p->pid = 0;
	if (p->on_sigchld) {
		TAILQ_REMOVE(&proc_sigchld_list, p, entry);
		p->on_sigchld = 0;
	} else {
		event_free(p->exit_ev);
		p->exit_ev = NULL;
		close(p->pidfd);
		p->pidfd = -1;
	}
	if (p->out.fd != -1)
		proc_read_cb(p->out.fd, EV_READ, &p->out);
	if (p->err.fd != -1)
		proc_read_cb(p->err.fd, EV_READ, &p->err);
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	proc_stream_close(&p->in);
	task_wake(&p->w);
}

static void
proc_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)what;
	if (waitpid(p->pid, &p->status, WNOHANG) > 0)
		proc_reaped(p);
}

static void
proc_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p, *next;

	(void)fd;
	(void)what;
	(void)arg;
	for (p = TAILQ_FIRST(&proc_sigchld_list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (waitpid(p->pid, &p->status, WNOHANG) > 0)
			proc_reaped(p);
	}
}

/* Watches p through SIGCHLD; a child that exited already is found at once. */
static int
proc_watch_sigchld(struct proc *p)
{
	if (proc_sigchld_ev == NULL) {
		proc_sigchld_ev = evsignal_new(loop_base(), SIGCHLD,
		    proc_sigchld_cb, NULL);
		if (proc_sigchld_ev == NULL ||
		    evsignal_add(proc_sigchld_ev, NULL) == -1)
			return (-1);
	}
	TAILQ_INSERT_TAIL(&proc_sigchld_list, p, entry);
	p->on_sigchld = 1;
	event_active(proc_sigchld_ev, EV_SIGNAL, 1);
	return (0);
}

static void
proc_kill(struct proc *p)
{
	if (p->pid > 0 && kill(-p->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("proc %d: kill", (int)p->pid);
}

static void
proc_push_output(lua_State *L, struct evbuffer *buf, const char *field)
{
	size_t	 len = evbuffer_get_length(buf);

	lua_pushlstring(L, (const char *)evbuffer_pullup(buf, len), len);
	lua_setfield(L, -2, field);
}

static int
proc_done(lua_State *co, struct waiter *w, short what)
{
	struct proc	*p = w->arg;

	if (what & EV_TIMEOUT) {
		/* Kill the whole group, then wait for the exit to be reaped. */
		p->timed_out = 1;
		proc_kill(p);
		w->deadline = 0;
		return (-1);
	}
	lua_createtable(co, 0, 5);
	if (WIFEXITED(p->status)) {
		lua_pushinteger(co, WEXITSTATUS(p->status));
		lua_setfield(co, -2, "status");
	} else if (WIFSIGNALED(p->status)) {
		lua_pushinteger(co, WTERMSIG(p->status));
		lua_setfield(co, -2, "signal");
	}
	proc_push_output(co, p->out.buf, "stdout");
	proc_push_output(co, p->err.buf, "stderr");
	lua_pushboolean(co, p->timed_out);
	lua_setfield(co, -2, "timed_out");
	return (1);
}

/* A cancelled task leaves no child behind. */
static void
proc_cancel(struct waiter *w)
{
	proc_kill(w->arg);
}

/*
 * Pushes the strings "NAME=value" of the child's environment (ours, changed
 * by the env table at idx: a string sets, false removes) and returns an
 * array pointing into them, valid while both stay on the stack.
 */
static char **
proc_environment(lua_State *L, int idx)
{
	char		**envp;
	const char	*eq;
	int		 n = 0, i, strs;

	lua_newtable(L);
	strs = lua_gettop(L);
	for (i = 0; environ[i] != NULL; i++) {
		if ((eq = strchr(environ[i], '=')) == NULL)
			continue;
		lua_pushlstring(L, environ[i], eq - environ[i]);
		if (lua_rawget(L, idx) == LUA_TNIL) {
			lua_pushstring(L, environ[i]);
			lua_rawseti(L, strs, ++n);
		}
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "env keys must be strings");
		if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
			lua_pushfstring(L, "%s=%s", lua_tostring(L, -2),
			    lua_tostring(L, -1));
			lua_rawseti(L, strs, ++n);
		} else if (!lua_isboolean(L, -1) || lua_toboolean(L, -1))
			luaL_error(L, "env values must be strings or false");
		lua_pop(L, 1);
	}
	envp = lua_newuserdatauv(L, (n + 1) * sizeof(char *), 0);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, strs, i);
		envp[i - 1] = (char *)lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	envp[n] = NULL;
	return (envp);
}

/* Pushes the arguments of the argv table at idx as a NULL-terminated array. */
static char **
proc_argv(lua_State *L, int idx)
{
	char		**argv;
	lua_Integer	 i, n = luaL_len(L, idx);

	luaL_argcheck(L, n >= 1, idx, "empty argv");
	argv = lua_newuserdatauv(L, (n + 1) * sizeof(char *), 0);
	for (i = 1; i <= n; i++) {
		if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
			luaL_error(L, "argv[%d] is not a string", (int)i);
		argv[i - 1] = (char *)lua_tostring(L, -1);	/* kept by the table */
		lua_pop(L, 1);
	}
	argv[n] = NULL;
	return (argv);
}

static int
proc_stream_open(struct proc_stream *s, struct proc *p, int fd, short what,
    event_callback_fn cb)
{
	s->p = p;
	s->fd = fd;
	if (net_nonblock(fd) == -1)
		return (-1);
	s->ev = event_new(loop_base(), fd, what | EV_PERSIST, cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		return (-1);
	return (0);
}

/*
 * Spawns argv in a process group of its own, with every signal at its
 * default and pipes for stdin, stdout and stderr. Returns 0 or an errno.
 */
static int
proc_spawn(struct proc *p, char **argv, char **envp, int pipes[3][2])
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 all, none;
	int				 r;

	sigfillset(&all);
	sigemptyset(&none);
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return (r);
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (r);
	}
	if ((r = posix_spawn_file_actions_adddup2(&fa, pipes[0][0], 0)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, pipes[1][1], 1)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, pipes[2][1], 2)) == 0 &&
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0 &&
	    (r = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (r = posix_spawnattr_setsigmask(&attr, &none)) == 0)
		r = posix_spawnp(&p->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return (r);
}

static void
proc_close_pipes(int pipes[3][2])
{
	int	 i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			if (pipes[i][j] != -1) {
				close(pipes[i][j]);
				pipes[i][j] = -1;
			}
}

/*
 * run(argv [, {timeout=, stdin=, env=}]): runs argv[1] (found in PATH) and
 * waits for it; other tasks run meanwhile. Returns {status=, signal=,
 * stdout=, stderr=, timed_out=}, or nil and "run <program>: <reason>".
 */
static int
proc_run(lua_State *L)
{
	struct proc	*p;
	char		**argv, **envp = environ;
	const char	*input;
	size_t		 input_len = 0;
	double		 timeout;
	int		 pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int		 i, r, pidx;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 2);		/* what this pushes must not look like options */
	luaha_check_options(L, 2, run_options);
	if (task_current(L) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	timeout = luaha_opt_number(L, 2, "timeout", -1);
	if (timeout < 0 && timeout != -1)
		return (luaL_error(L, "option 'timeout' must not be negative"));
	input = NULL;
	if (!lua_isnil(L, 2) && lua_getfield(L, 2, "stdin") != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TSTRING)
			return (luaL_error(L, "option 'stdin' must be a string"));
		input = lua_tolstring(L, -1, &input_len);	/* NULs included */
	}
	lua_settop(L, 2);	/* the options table keeps the string */
	argv = proc_argv(L, 1);
	if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "env") != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		envp = proc_environment(L, lua_gettop(L));
	}
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	memset(p, 0, sizeof(*p));
	p->pidfd = p->in.fd = p->out.fd = p->err.fd = -1;
	luaL_setmetatable(L, "luaha.proc");
	pidx = lua_gettop(L);
	if ((p->out.buf = evbuffer_new()) == NULL ||
	    (p->err.buf = evbuffer_new()) == NULL ||
	    (p->in.buf = evbuffer_new()) == NULL ||
	    evbuffer_add(p->in.buf, input != NULL ? input : "", input_len) == -1)
		return (luaha_fail_errno(L, "run: evbuffer"));
	for (i = 0; i < 3; i++)
		if (pipe2(pipes[i], O_CLOEXEC) == -1) {
			r = errno;
			proc_close_pipes(pipes);
			return (luaha_fail(L, "run %s: pipe: %s", argv[0], strerror(r)));
		}
	r = proc_spawn(p, argv, envp, pipes);
	close(pipes[0][0]);
	close(pipes[1][1]);
	close(pipes[2][1]);
	pipes[0][0] = pipes[1][1] = pipes[2][1] = -1;
	if (r != 0) {
		proc_close_pipes(pipes);
		p->pid = 0;
		return (luaha_fail(L, "run %s: %s", argv[0], strerror(r)));
	}
	/* From here the fds belong to p and __gc releases them. */
	p->in.fd = pipes[0][1];
	p->out.fd = pipes[1][0];
	p->err.fd = pipes[2][0];
	if ((p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0)) == -1 &&
	    errno != ENOSYS) {
		r = errno;
		proc_kill(p);
		return (luaha_fail(L, "run %s: pidfd_open: %s", argv[0], strerror(r)));
	}
	if (p->pidfd == -1)
		r = proc_watch_sigchld(p);
	else {
		p->exit_ev = event_new(loop_base(), p->pidfd,
		    EV_READ | EV_PERSIST, proc_exit_cb, p);
		r = p->exit_ev == NULL || event_add(p->exit_ev, NULL) == -1 ? -1 : 0;
	}
	if (r == -1 ||
	    proc_stream_open(&p->out, p, p->out.fd, EV_READ, proc_read_cb) == -1 ||
	    proc_stream_open(&p->err, p, p->err.fd, EV_READ, proc_read_cb) == -1 ||
	    proc_stream_open(&p->in, p, p->in.fd, EV_WRITE, proc_write_cb) == -1) {
		r = errno;
		proc_kill(p);
		return (luaha_fail(L, "run %s: events: %s", argv[0], strerror(r)));
	}
	p->w.cancel = proc_cancel;
	return (task_wait(L, &p->w, -1, 0, timeout, proc_done, p, pidx));
}

/* Collected: a child still running is killed and reaped, never left a zombie. */
static int
proc_gc(lua_State *L)
{
	struct proc	*p = luaL_checkudata(L, 1, "luaha.proc");

	if (p->pid > 0) {
		proc_kill(p);
		if (waitpid(p->pid, &p->status, 0) == -1)
			log_warn("proc %d: waitpid", (int)p->pid);
		p->pid = 0;
	}
	if (p->on_sigchld) {
		TAILQ_REMOVE(&proc_sigchld_list, p, entry);
		p->on_sigchld = 0;
	}
	if (p->exit_ev != NULL)
		event_free(p->exit_ev);
	p->exit_ev = NULL;
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	proc_stream_close(&p->in);
	proc_stream_close(&p->out);
	proc_stream_close(&p->err);
	if (p->in.buf != NULL)
		evbuffer_free(p->in.buf);
	if (p->out.buf != NULL)
		evbuffer_free(p->out.buf);
	if (p->err.buf != NULL)
		evbuffer_free(p->err.buf);
	p->in.buf = p->out.buf = p->err.buf = NULL;
	waiter_close(&p->w);
	return (0);
}

/* Signals proc.kill knows by name, as kill(1) spells them. */
static const struct {
	const char	*name;
	int		 signo;
} proc_signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "CONT", SIGCONT },
	{ "STOP", SIGSTOP }, { NULL, 0 }
};

/*
 * kill(pid [, signal]): sends signal (a name such as "TERM", the default, or a number) to pid,
 * as kill(2) does, a negative pid being a process group. true, or nil, "kill PID: <reason>".
 */
static int
proc_lua_kill(lua_State *L)
{
	lua_Integer	 pid = luaL_checkinteger(L, 1);
	int		 signo = SIGTERM, i;

	luaL_argcheck(L, pid != 0 && pid >= INT_MIN && pid <= INT_MAX, 1, "not a process id");
	if (lua_isinteger(L, 2)) {
		lua_Integer n = lua_tointeger(L, 2);

		luaL_argcheck(L, n >= 0 && n < NSIG, 2, "not a signal number");
		signo = (int)n;
	} else if (!lua_isnoneornil(L, 2)) {
		const char *name = luaL_checkstring(L, 2);

		for (i = 0; proc_signals[i].name != NULL; i++)
			if (strcmp(proc_signals[i].name, name) == 0)
				break;
		if (proc_signals[i].name == NULL)
			return (luaL_argerror(L, 2, lua_pushfstring(L, "unknown signal \"%s\"", name)));
		signo = proc_signals[i].signo;
	}
	if (kill((pid_t)pid, signo) == -1)
		return (luaha_fail(L, "kill %d: %s", (int)pid, strerror(errno)));
	lua_pushboolean(L, 1);
	return (1);
}

static const luaL_Reg proc_funcs[] = {
	{ "run", proc_run },
	{ "kill", proc_lua_kill },
	{ NULL, NULL }
};

static const luaL_Reg proc_meta[] = {
	{ "__gc", proc_gc },
	{ NULL, NULL }
};

int
luaopen_luaha_core_proc(lua_State *L)
{
	luaL_newmetatable(L, "luaha.proc");
	luaL_setfuncs(L, proc_meta, 0);
	lua_pop(L, 1);
	luaL_newlib(L, proc_funcs);
	return (1);
}
