/* part.c: a daemon's parts (luaha.part): a child luaha running a Lua module, and the message channel between the two. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "luaha.h"

/*
 * Why a process and not a thread (luaha(8) says it to operators): the
 * runtime keeps its loop, its task budget and its signal handlers in
 * file-scope state, one per process, so a second process gets its own for
 * free; the part's memory is its own, so locking it (mlockall) locks a few
 * MiB and not the work part's hundreds; real-time scheduling is set on it
 * alone; and a crash or a stop (SIGSTOP) of one is seen by the other as a
 * closed channel or silence, never as corrupted memory.
 *
 * The part is this very binary, started again (/proc/self/exe) with
 * "--part MODULE" and the channel as descriptor PART_FD: a fresh image, with
 * no copy of the parent's heap to lock or to share copy-on-write.
 *
 * The messages are channel.c's.
 */
#define PART_FD		3
#define PART_POLL	0.01	/* seconds between waitpid calls without a pidfd */

extern char **environ;

struct part {
	struct channel	 ch;		/* the messages; its fd is -1 once closed */
	pid_t		 pid;		/* the child; 0 for the channel to the parent, -1 once reaped */
	int		 status;	/* from waitpid, once reaped */
	int		 pidfd;		/* readable when the child ends; -1 without */
	struct waiter	 ww;		/* the task in wait */
	double		 wait_until;	/* wait's deadline (monotonic), -1 for none */
};

static int	part_parent_fd = -1;	/* PART_FD in a part, once main() saw --part */
static int	part_parent_ref = LUA_NOREF;

static struct part *
part_check(lua_State *L, int idx)
{
	struct part	*p = luaL_checkudata(L, idx, "luaha.part");

	if (p->ch.fd == -1)
		luaL_error(L, "attempt to use a closed part");
	return (p);
}

/* Makes a handle for channel fd (of child pid, or 0 for the parent); pushes it. */
static struct part *
part_new(lua_State *L, int fd, pid_t pid)
{
	struct part	*p;

	p = lua_newuserdatauv(L, sizeof(*p), 0);
	memset(p, 0, sizeof(*p));
	p->ch.fd = -1;
	p->pid = pid;
	p->pidfd = -1;
	luaL_setmetatable(L, "luaha.part");
	if (channel_init(&p->ch, fd) == -1) {
		close(fd);
		luaL_error(L, "part: out of memory");
	}
	return (p);
}

/*
 * receive([timeout]): the next message, waiting for it; or nil and
 * "timeout", "closed" (the other side is gone) or "channel: <why>".
 */
static int
part_receive(lua_State *L)
{
	struct part	*p = part_check(L, 1);

	return (channel_receive(L, &p->ch, luaha_check_timeout(L, 2), 1));
}

/* send(value): queues a message; never waits. true, or nil and "closed" or "channel: <why>". */
static int
part_send(lua_State *L)
{
	struct part	*p = part_check(L, 1);

	luaL_checkany(L, 2);
	return (channel_send(L, &p->ch, 2));
}

/* Kills the child's process, unless it was reaped. */
static void
part_kill_child(struct part *p, int signo)
{
	if (p->pid > 0 && kill(p->pid, signo) == -1 && errno != ESRCH)
		log_warn("part %d: kill", (int)p->pid);
}

/* Has the child ended? 1 (reaped, its end in p->status), 0 (it runs), -1 (errno set). */
static int
part_ended(struct part *p)
{
	pid_t	 r;

	if (p->pid == -1)
		return (1);
	while ((r = waitpid(p->pid, &p->status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r <= 0)
		return (r);
	p->pid = -1;
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	return (1);
}

/* Pushes what reap and wait return for an ended child. */
static int
part_push_end(lua_State *L, struct part *p)
{
	lua_createtable(L, 0, 1);
	if (WIFEXITED(p->status)) {
		lua_pushinteger(L, WEXITSTATUS(p->status));
		lua_setfield(L, -2, "status");
	} else if (WIFSIGNALED(p->status)) {
		lua_pushinteger(L, WTERMSIG(p->status));
		lua_setfield(L, -2, "signal");
	}
	return (1);
}

/* reap(): the child's end, {status=} or {signal=}, if it has ended (it is reaped then); false while it runs. */
static int
part_reap(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");

	if (p->pid == 0)
		return (luaL_error(L, "a part's channel to its parent has no child"));
	switch (part_ended(p)) {
	case 1:
		return (part_push_end(L, p));
	case 0:
		lua_pushboolean(L, 0);
		return (1);
	default:
		return (luaha_fail(L, "part: waitpid %d: %s", (int)p->pid, strerror(errno)));
	}
}

static int
part_wait_done(lua_State *co, struct waiter *w, short what)
{
	struct part	*p = w->arg;
	double		 now;

	(void)what;
	switch (part_ended(p)) {
	case 1:
		return (part_push_end(co, p));
	case -1:
		return (luaha_fail(co, "part: waitpid %d: %s", (int)p->pid, strerror(errno)));
	}
	now = loop_now();
	if (p->wait_until >= 0 && now >= p->wait_until) {
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	if (p->pidfd == -1)		/* polled: ask again in a moment */
		w->deadline = now + PART_POLL;
	return (-1);
}

/*
 * wait([timeout]): waits for the child to end; {status=} or {signal=}, or
 * nil and "timeout". The child's pidfd becomes readable when it ends;
 * without pidfds (valgrind) waitpid is asked every PART_POLL seconds.
 */
static int
part_wait(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");
	double		 timeout = luaha_check_timeout(L, 2);

	if (p->pid == 0)
		return (luaL_error(L, "a part's channel to its parent has no child"));
	switch (part_ended(p)) {
	case 1:
		return (part_push_end(L, p));
	case -1:
		return (luaha_fail(L, "part: waitpid %d: %s", (int)p->pid, strerror(errno)));
	}
	p->wait_until = timeout >= 0 ? loop_now() + timeout : -1;
	if (p->pidfd != -1)
		return (task_wait(L, &p->ww, p->pidfd, EV_READ, timeout, part_wait_done, p, 1));
	return (task_wait(L, &p->ww, -1, 0, timeout >= 0 && timeout < PART_POLL ?
	    timeout : PART_POLL, part_wait_done, p, 1));
}

/* pid(): the child's process id (nil once reaped, or for the channel to the parent). */
static int
part_pid(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");

	if (p->pid <= 0)
		return (0);
	lua_pushinteger(L, p->pid);
	return (1);
}

/* kill([signal]): signals the child (SIGTERM; a number). true, or nil and why. */
static int
part_lua_kill(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");
	lua_Integer	 signo = luaL_optinteger(L, 2, SIGTERM);

	luaL_argcheck(L, signo >= 0 && signo < NSIG, 2, "not a signal number");
	if (p->pid <= 0)
		return (luaha_fail(L, "part: no child to signal"));
	if (kill(p->pid, (int)signo) == -1)
		return (luaha_fail(L, "part: kill %d: %s", (int)p->pid, strerror(errno)));
	return (luaha_ok(L));
}

/*
 * close(): closes the channel (the other side reads "closed"); a child not
 * yet reaped runs on: wait, reap or the collector see to it.
 */
static int
part_close(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");

	channel_close(&p->ch);
	return (0);
}

/* Collected: the channel closes, and a child still running is killed and reaped, never left a zombie. */
static int
part_gc(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");

	channel_close(&p->ch);
	waiter_close(&p->ww);
	if (p->pid > 0) {
		part_kill_child(p, SIGKILL);
		if (waitpid(p->pid, &p->status, 0) == -1)
			log_warn("part %d: waitpid", (int)p->pid);
		p->pid = -1;
	}
	if (p->pidfd != -1)
		close(p->pidfd);
	p->pidfd = -1;
	return (0);
}

static int
part_tostring(lua_State *L)
{
	struct part	*p = luaL_checkudata(L, 1, "luaha.part");

	if (p->pid > 0)
		lua_pushfstring(L, "part (pid %d)%s", (int)p->pid, p->ch.fd == -1 ? " (closed)" : "");
	else
		lua_pushfstring(L, "part channel%s", p->ch.fd == -1 ? " (closed)" : "");
	return (1);
}

/* The path of this very binary, to start a part with. */
static int
part_self(char *buf, size_t len)
{
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", buf, len - 1)) == -1)
		return (-1);
	if ((size_t)n == len - 1) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	buf[n] = '\0';
	return (0);
}

/*
 * Spawns this binary as "luaha --part MODULE" and the logging options that
 * send its lines where ours go (part_log_args), with child_fd as
 * PART_FD, stdin from /dev/null, stdout and stderr shared, every signal at
 * its default, in our process group (a stop or kill of the group reaches
 * both parts). Returns 0 or an errno.
 */
static int
part_spawn(pid_t *pid, const char *module, int child_fd)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 all, none;
	char				 self[PATH_MAX];
	char				*argv[12];
	int				 r, argc = 0;

	if (part_self(self, sizeof(self)) == -1)
		return (errno);
	argv[argc++] = "luaha";
	argv[argc++] = "--part";
	argv[argc++] = (char *)module;
	/* A daemon's stderr is /dev/null: its parts log to syslog as it does. */
	if (log_get_dest() == LOG_DEST_SYSLOG)
		argv[argc++] = "--syslog";
	argv[argc++] = "--log-facility";
	argv[argc++] = (char *)log_get_facility();
	argv[argc++] = "--log-socket";
	argv[argc++] = (char *)log_get_socket();
	if (log_get_tag_idents())
		argv[argc++] = "--log-tag-idents";
	argv[argc] = NULL;
	sigfillset(&all);
	sigemptyset(&none);
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return (r);
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (r);
	}
	if ((r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, child_fd, PART_FD)) == 0 &&
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK)) == 0 &&
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (r = posix_spawnattr_setsigmask(&attr, &none)) == 0)
		r = posix_spawn(pid, self, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return (r);
}

/*
 * start(module): starts a part, a child luaha that runs
 * require(module).main(), whose luaha.part.parent() is the other end of the
 * channel. Returns the part's handle, or nil and "part MODULE: <reason>".
 */
static int
part_start(lua_State *L)
{
	const char	*module = luaL_checkstring(L, 1);
	struct part	*p;
	pid_t		 pid;
	int		 sv[2], r;

	luaL_argcheck(L, module[0] != '\0' && module[0] != '-', 1, "not a module name");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return (luaha_fail(L, "part %s: socketpair: %s", module, strerror(errno)));
	if (net_nonblock(sv[0]) == -1) {
		r = errno;
		close(sv[0]);
		close(sv[1]);
		return (luaha_fail(L, "part %s: %s", module, strerror(r)));
	}
	r = part_spawn(&pid, module, sv[1]);
	close(sv[1]);		/* only the child holds it now: its exit is our end of file */
	if (r != 0) {
		close(sv[0]);
		return (luaha_fail(L, "part %s: %s", module, strerror(r)));
	}
	p = part_new(L, sv[0], pid);
	if ((p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1 && errno != ENOSYS)
		log_warn("part %s: pidfd_open", module);
	return (1);
}

/*
 * Called by main() in a process started as a part: fd is the channel to the
 * parent. It is kept from the part's own children.
 */
int
part_set_parent(int fd)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return (-1);
	if (!S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		return (-1);
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || net_nonblock(fd) == -1)
		return (-1);
	part_parent_fd = fd;
	return (0);
}

/* parent(): in a part, the channel to the process that started it (the same handle each time); nil elsewhere. */
static int
part_parent(lua_State *L)
{
	if (part_parent_fd == -1)
		return (0);
	if (part_parent_ref == LUA_NOREF) {
		part_new(L, part_parent_fd, 0);
		lua_pushvalue(L, -1);
		part_parent_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		return (1);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, part_parent_ref);
	return (1);
}

static const luaL_Reg part_funcs[] = {
	{ "start", part_start },
	{ "parent", part_parent },
	{ NULL, NULL }
};

static const luaL_Reg part_methods[] = {
	{ "send", part_send },
	{ "receive", part_receive },
	{ "reap", part_reap },
	{ "wait", part_wait },
	{ "pid", part_pid },
	{ "kill", part_lua_kill },
	{ "close", part_close },
	{ NULL, NULL }
};

static const luaL_Reg part_meta[] = {
	{ "__gc", part_gc },
	{ "__close", part_gc },
	{ "__tostring", part_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_part(lua_State *L)
{
	luaL_newmetatable(L, "luaha.part");
	luaL_setfuncs(L, part_meta, 0);
	luaL_newlib(L, part_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, part_funcs);
	return (1);
}
