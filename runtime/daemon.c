/* daemon.c: becoming a system service (luaha.daemon): daemonize with a pid file, ready, sd_notify, the watchdog. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

/*
 * What one process knows about having become a daemon. It is process-wide
 * by nature: there is one pid, one session and one parent waiting.
 */
static int	 daemon_done;			/* daemonize was called here */
static int	 daemon_status_fd = -1;		/* the waiting parent's pipe, until ready() */
static char	 daemon_pidfile[PATH_MAX];	/* absolute path, "" when none */
static pid_t	 daemon_pidfile_owner;		/* the pid it holds: forks do not remove it */
static int	 daemon_atexit_set;

static const char *const daemonize_options[] = { "pidfile", "chdir", NULL };

/* Parses a decimal pid, surrounding white space allowed; -1 if s is not one. */
static pid_t
daemon_parse_pid(const char *s)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (errno != 0 || end == s || *end != '\0' || n <= 0 || n > INT_MAX)
		return (-1);
	return ((pid_t)n);
}

/*
 * The pid that the pid file at path holds: 0 when there is no file or it
 * holds no pid (a crash leaves the .tmp file, never half a pid file), or -1
 * with errno set when it cannot be read.
 */
static pid_t
daemon_pidfile_read(const char *path)
{
	char	 buf[32];
	ssize_t	 n;
	pid_t	 pid;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (errno == ENOENT ? 0 : -1);
	while ((n = read(fd, buf, sizeof(buf) - 1)) == -1 && errno == EINTR)
		;
	saved = errno;
	if (close(fd) == -1 && n != -1)
		return (-1);
	if (n == -1) {
		errno = saved;
		return (-1);
	}
	buf[n] = '\0';
	return ((pid = daemon_parse_pid(buf)) == -1 ? 0 : pid);
}

/*
 * Returns the pid of the live process that the pid file names, 0 when it
 * names none, -1 when it cannot be read. EPERM from kill means a process of
 * another user: alive. The pid may have been reused by an unrelated program
 * since; only its owner can tell, so the file is then kept and we refuse.
 */
static pid_t
daemon_pidfile_live(const char *path)
{
	pid_t	 pid;

	if ((pid = daemon_pidfile_read(path)) <= 0)
		return (pid);
	if (pid == getpid())
		return (0);
	if (kill(pid, 0) == 0 || errno == EPERM)
		return (pid);
	return (0);
}

/* Writes our pid to path.tmp and renames it over path, so a reader sees a whole file or none. */
static int
daemon_pidfile_write(const char *path)
{
	char	 tmp[PATH_MAX + 8];
	int	 fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1)
		return (-1);
	if (dprintf(fd, "%d\n", (int)getpid()) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return (-1);
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return (-1);
	}
	return (0);
}

/*
 * Removes our pid file if it still holds our pid: a newer instance may have
 * replaced it. Forgets it either way. Returns -1 with errno on failure.
 */
static int
daemon_pidfile_remove(void)
{
	pid_t	 pid;

	if (daemon_pidfile[0] == '\0' || daemon_pidfile_owner != getpid())
		return (0);
	pid = daemon_pidfile_read(daemon_pidfile);
	if (pid == -1)
		return (-1);
	if (pid == daemon_pidfile_owner && unlink(daemon_pidfile) == -1 &&
	    errno != ENOENT)
		return (-1);
	daemon_pidfile[0] = '\0';
	return (0);
}

static void
daemon_atexit(void)
{
	if (daemon_pidfile[0] != '\0' && daemon_pidfile_remove() == -1)
		log_warn("pidfile %s: remove", daemon_pidfile);
}

/* Copies path into daemon_pidfile, made absolute: the daemon will chdir("/"). */
static int
daemon_pidfile_set(const char *path)
{
	char	 cwd[PATH_MAX];
	int	 n;

	if (path[0] == '/')
		n = snprintf(daemon_pidfile, sizeof(daemon_pidfile), "%s", path);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return (-1);
		n = snprintf(daemon_pidfile, sizeof(daemon_pidfile), "%s/%s",
		    cwd, path);
	}
	if (n < 0 || n >= (int)sizeof(daemon_pidfile)) {
		daemon_pidfile[0] = '\0';
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

/* Copies what the daemon wrote on its standard error to ours; 0 at end of file. */
static ssize_t
daemon_relay(int fd)
{
	char	 buf[4096];
	ssize_t	 n, w, off;

	if ((n = read(fd, buf, sizeof(buf))) <= 0)
		return (n);
	for (off = 0; off < n; off += w)
		if ((w = write(STDERR_FILENO, buf + off, n - off)) == -1) {
			if (errno != EINTR)
				return (n);	/* our stderr is gone: drop it */
			w = 0;
		}
	return (n);
}

/*
 * The original process: waits until the daemon says it is ready (a byte on
 * status_fd) or is gone (end of file without one), copying its standard
 * error meanwhile, and exits 0 or 1. It never returns to Lua: the daemon
 * owns the policy now, and _exit runs no collector that could kill children
 * or remove files that the daemon shares.
 */
static void __attribute__((noreturn))
daemon_parent(pid_t child, int status_fd, int err_fd)
{
	struct pollfd	 pfd[2];
	ssize_t		 n;
	char		 c;
	int		 ready = 0, said = 0, status;

	/*
	 * libevent's handlers would only queue ^C for a loop that no longer
	 * runs: let it end the waiting process as usual.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	pfd[0].fd = status_fd;
	pfd[1].fd = err_fd;
	pfd[0].events = pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "luaha: daemonize: poll: %s\n", strerror(errno));
			_exit(1);
		}
		if (pfd[1].revents != 0) {
			if ((n = daemon_relay(err_fd)) > 0)
				said = 1;
			else if (n == 0 || errno != EINTR)
				pfd[1].fd = -1;		/* poll skips it */
		}
		if (pfd[0].revents != 0) {
			if ((n = read(status_fd, &c, 1)) == -1 && errno == EINTR)
				continue;
			ready = n == 1;
			break;
		}
	}
	/* What the daemon wrote before it said anything is in the pipe already. */
	if (pfd[1].fd != -1 && fcntl(err_fd, F_SETFL, O_NONBLOCK) != -1)
		while ((n = daemon_relay(err_fd)) > 0)
			said = 1;
	if (!ready && !said)
		fprintf(stderr, "luaha: the daemon exited before it was ready\n");
	_exit(ready ? 0 : 1);
}

/*
 * The first child: leaves our session, so the daemon has no controlling
 * terminal, and forks the daemon, which as no session leader can never gain
 * one. Its errors go to the pipe that the parent copies to its stderr.
 */
static void
daemon_middle(int devnull, int err_fd)
{
	if (dup2(devnull, STDIN_FILENO) == -1 ||
	    dup2(devnull, STDOUT_FILENO) == -1 ||
	    dup2(err_fd, STDERR_FILENO) == -1) {
		dprintf(err_fd, "luaha: daemonize: dup2: %s\n", strerror(errno));
		_exit(1);
	}
	if (setsid() == -1) {
		dprintf(STDERR_FILENO, "luaha: daemonize: setsid: %s\n", strerror(errno));
		_exit(1);
	}
	switch (fork()) {
	case -1:
		dprintf(STDERR_FILENO, "luaha: daemonize: fork: %s\n", strerror(errno));
		_exit(1);
	case 0:
		return;
	default:
		_exit(0);
	}
}

/*
 * daemonize([{pidfile=, chdir=}]): meant to be called first, before tasks,
 * timers or sockets matter. Only the daemon returns: true, or nil and an error,
 * either before the fork, in the original process ("pidfile PATH: luaha
 * already running as PID"), or in the daemon. The original process waits
 * until the daemon calls ready() and exits 0, or exits 1 when the daemon
 * ends first, after copying to its stderr what the daemon wrote there.
 */
static int
daemon_daemonize(lua_State *L)
{
	const char	*pidfile, *what;
	pid_t		 pid, running;
	int		 devnull, status[2], errp[2], do_chdir = 1, e, i;

	lua_settop(L, 1);
	luaha_check_options(L, 1, daemonize_options);
	if (daemon_done)
		return (luaL_error(L, "daemonize: already a daemon"));
	pidfile = luaha_opt_string(L, 1, "pidfile");
	if (!lua_isnil(L, 1) && lua_getfield(L, 1, "chdir") != LUA_TNIL) {
		if (!lua_isboolean(L, -1))
			return (luaL_error(L, "option 'chdir' must be a boolean"));
		do_chdir = lua_toboolean(L, -1);
	}
	lua_settop(L, 1);
	if (pidfile != NULL) {
		if ((running = daemon_pidfile_live(pidfile)) == -1)
			return (luaha_fail(L, "pidfile %s: %s", pidfile, strerror(errno)));
		if (running > 0)
			return (luaha_fail(L, "pidfile %s: luaha already running as %d",
			    pidfile, (int)running));
		if (daemon_pidfile_set(pidfile) == -1)
			return (luaha_fail(L, "pidfile %s: %s", pidfile, strerror(errno)));
	}
	status[0] = status[1] = errp[0] = errp[1] = -1;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		what = "/dev/null";
		goto fail;
	}
	what = "pipe";
	if (pipe2(status, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1)
		goto fail;
	fflush(NULL);		/* or the children write our buffered output again */
	what = "fork";
	if ((pid = fork()) == -1)
		goto fail;
	if (pid > 0) {
		close(status[1]);
		close(errp[1]);
		daemon_parent(pid, status[0], errp[0]);
	}
	daemon_middle(devnull, errp[1]);

	/*
	 * The daemon. Its stderr is the parent's pipe until ready() and /dev/null
	 * after: its lines go to syslog from here on, as Piranha's and
	 * keepalived's daemons do (a policy that wants stderr stays in the
	 * foreground), and to the parent too until ready().
	 */
	daemon_done = 1;
	log_set_dest(LOG_DEST_SYSLOG);
	log_set_tee(1);
	close(devnull);
	close(status[0]);
	close(errp[0]);
	close(errp[1]);
	daemon_status_fd = status[1];
	umask(022);
	if (do_chdir && chdir("/") == -1)
		return (luaha_fail_errno(L, "daemonize: chdir /"));
	/* The backend's epoll and signal fds are shared with the parent's copy. */
	if (event_reinit(loop_base()) == -1)
		return (luaha_fail(L, "daemonize: event_reinit failed"));
	if (daemon_pidfile[0] != '\0') {
		if (daemon_pidfile_write(daemon_pidfile) == -1) {
			e = luaha_fail(L, "pidfile %s: %s", daemon_pidfile,
			    strerror(errno));
			daemon_pidfile[0] = '\0';
			return (e);
		}
		daemon_pidfile_owner = getpid();
		if (!daemon_atexit_set && atexit(daemon_atexit) != 0) {
			daemon_pidfile_remove();
			return (luaha_fail(L, "daemonize: atexit failed"));
		}
		daemon_atexit_set = 1;
	}
	return (luaha_ok(L));

fail:
	e = errno;
	daemon_pidfile[0] = '\0';
	if (devnull != -1)
		close(devnull);
	for (i = 0; i < 2; i++) {
		if (status[i] != -1)
			close(status[i]);
		if (errp[i] != -1)
			close(errp[i]);
	}
	return (luaha_fail(L, "daemonize: %s: %s", what, strerror(e)));
}

/*
 * ready(): tells the process waiting in daemonize that start-up went well, so
 * it exits 0, and sends our stderr to /dev/null. false when nobody waits (not
 * a daemon, or said already); nil, "ready: reason" when the parent is gone.
 */
static int
daemon_ready(lua_State *L)
{
	int	 fd = daemon_status_fd, devnull, e = 0;
	ssize_t	 n;

	if (fd == -1) {
		lua_pushboolean(L, 0);
		return (1);
	}
	daemon_status_fd = -1;
	log_set_tee(0);
	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    dup2(devnull, STDERR_FILENO) == -1)
		e = errno;
	if (devnull != -1)
		close(devnull);
	if (e != 0) {
		close(fd);
		return (luaha_fail(L, "ready: /dev/null: %s", strerror(e)));
	}
	while ((n = write(fd, "", 1)) == -1 && errno == EINTR)
		;
	e = errno;
	close(fd);
	if (n != 1)
		return (luaha_fail(L, "ready: %s", strerror(e)));
	return (luaha_ok(L));
}

/* remove_pidfile(): true when our pid file was removed now, false when there was none. */
static int
daemon_remove_pidfile(lua_State *L)
{
	char	 path[PATH_MAX];

	if (daemon_pidfile[0] == '\0' || daemon_pidfile_owner != getpid()) {
		lua_pushboolean(L, 0);
		return (1);
	}
	memcpy(path, daemon_pidfile, sizeof(path));
	if (daemon_pidfile_remove() == -1)
		return (luaha_fail(L, "pidfile %s: %s", path, strerror(errno)));
	return (luaha_ok(L));
}

/*
 * notify(state): sd_notify(3) without libsystemd: one datagram to the
 * AF_UNIX socket $NOTIFY_SOCKET names, a path or, after '@', an abstract
 * name. Non-blocking, so a stuck manager cannot stop the loop. true; false
 * when NOTIFY_SOCKET is unset; nil, "notify: reason".
 */
static int
daemon_notify(lua_State *L)
{
	struct sockaddr_un	 sun;
	const char		*path = getenv("NOTIFY_SOCKET"), *state;
	socklen_t		 slen;
	size_t			 len, plen;
	ssize_t			 n;
	int			 fd, e;

	state = luaL_checklstring(L, 1, &len);
	luaL_argcheck(L, len > 0, 1, "empty state");
	if (path == NULL || path[0] == '\0') {
		lua_pushboolean(L, 0);
		return (1);
	}
	if (path[0] != '/' && path[0] != '@')
		return (luaha_fail(L, "notify: %s: not a unix socket address", path));
	plen = strlen(path);
	if (plen >= sizeof(sun.sun_path))
		return (luaha_fail(L, "notify: %s: %s", path, strerror(ENAMETOOLONG)));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	/* An abstract name is exactly its bytes, without the '@' or a NUL after it. */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	slen = offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/');
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return (luaha_fail_errno(L, "notify: socket"));
	n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, slen);
	e = errno;
	if (close(fd) == -1)
		log_warn("notify: close");
	if (n == -1)
		return (luaha_fail(L, "notify: %s: %s", path, strerror(e)));
	if ((size_t)n != len)
		return (luaha_fail(L, "notify: %s: short send", path));
	return (luaha_ok(L));
}

/*
 * watchdog_interval(): seconds between WATCHDOG=1 notifications, half of
 * $WATCHDOG_USEC as sd_watchdog_enabled(3) advises, when the watchdog is on
 * and meant for us ($WATCHDOG_PID unset or our pid); else nil, or nil and
 * "watchdog_interval: reason" when a variable is malformed.
 */
static int
daemon_watchdog_interval(lua_State *L)
{
	const char		*usec = getenv("WATCHDOG_USEC");
	const char		*wpid = getenv("WATCHDOG_PID");
	unsigned long long	 us;
	char			*end;
	pid_t			 pid;

	if (usec == NULL) {
		lua_pushnil(L);
		return (1);
	}
	if (wpid != NULL) {
		if ((pid = daemon_parse_pid(wpid)) == -1)
			return (luaha_fail(L, "watchdog_interval: WATCHDOG_PID=%s: "
			    "not a process id", wpid));
		if (pid != getpid()) {
			lua_pushnil(L);
			return (1);
		}
	}
	errno = 0;
	us = strtoull(usec, &end, 10);
	if (errno != 0 || end == usec || *end != '\0' || us == 0 ||
	    usec[0] == '-')
		return (luaha_fail(L, "watchdog_interval: WATCHDOG_USEC=%s: "
		    "not a number of microseconds", usec));
	lua_pushnumber(L, (lua_Number)us / 2e6);
	return (1);
}

static int
daemon_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return (1);
}

static int
daemon_getuid(lua_State *L)
{
	lua_pushinteger(L, getuid());
	return (1);
}

static const luaL_Reg daemon_funcs[] = {
	{ "daemonize", daemon_daemonize },
	{ "ready", daemon_ready },
	{ "remove_pidfile", daemon_remove_pidfile },
	{ "notify", daemon_notify },
	{ "watchdog_interval", daemon_watchdog_interval },
	{ "getpid", daemon_getpid },
	{ "getuid", daemon_getuid },
	{ NULL, NULL }
};

int
luaopen_luaha_core_daemon(lua_State *L)
{
	luaL_newlib(L, daemon_funcs);
	return (1);
}
