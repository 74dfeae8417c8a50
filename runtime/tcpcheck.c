/* tcpcheck.c: luaha.net.tcp_check, a health check that connects and closes at once, making no connection object. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

/*
 * luaha.net.tcp makes a connection object that Lua collects later; a check
 * that only connects, thousands of times a second, needs none: its socket
 * lives in a small C record while the task waits on its own waiter, and is
 * closed as soon as the connect ends.
 */

#define TCPCHECK_TIMEOUT	10.0	/* seconds, when the caller gives none */

struct tcpcheck {
	int	 fd;
	double	 started;
};

static const char *const tcpcheck_options[] = { "timeout", "source", NULL };

static void
tcpcheck_free(struct tcpcheck *c)
{
	if (c->fd != -1 && close(c->fd) == -1)
		log_warn("tcp_check: close");
	free(c);
}

/* The task was cancelled while it waited: the socket goes. */
static void
tcpcheck_cancel(struct waiter *w)
{
	tcpcheck_free(w->arg);
	w->arg = NULL;
}

/* The connect ended, or its time is up: the result, and the socket goes. */
static int
tcpcheck_done(lua_State *co, struct waiter *w, short what)
{
	struct tcpcheck	*c = w->arg;
	int		 err, n;

	if (what & EV_TIMEOUT) {
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		n = 2;
	} else {
		if ((err = net_connect_error(c->fd, what)) != 0) {
			errno = err;
			n = luaha_fail_errno(co, "connect");
		} else {
			lua_pushnumber(co, loop_now() - c->started);
			n = 1;
		}
	}
	tcpcheck_free(c);
	w->arg = NULL;
	return (n);
}

/*
 * tcp_check(address, port [, {timeout=, source=}]): connects and closes at
 * once; the connect's time in seconds, or nil and "timeout" or "connect:
 * <reason>" (refused, unreachable, ...). Yields.
 */
static int
tcpcheck_check(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1), *source;
	int			 port = (int)luaL_checkinteger(L, 2), fd;
	struct sockaddr_storage	 ss, src;
	socklen_t		 len, srclen;
	struct tcpcheck		*c;
	struct waiter		*w;
	double			 timeout, now;

	lua_settop(L, 3);
	luaL_argcheck(L, port >= 1 && port <= 65535, 2, "port 1-65535 expected");
	if (net_addr(addr, port, &ss, &len) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address"));
	luaha_check_options(L, 3, tcpcheck_options);
	timeout = luaha_opt_seconds(L, 3, "timeout", TCPCHECK_TIMEOUT);
	source = luaha_opt_string(L, 3, "source");
	if (source != NULL && net_addr(source, 0, &src, &srclen) == -1)
		return (luaL_error(L, "option 'source' is not an IP address"));
	if ((w = task_self_waiter(L)) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail_errno(L, "socket"));
	if (source != NULL && bind(fd, (struct sockaddr *)&src, srclen) == -1) {
		luaha_fail(L, "bind %s: %s", source, strerror(errno));
		if (close(fd) == -1)
			log_warn("tcp_check: close");
		return (2);
	}
	now = loop_now();
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {	/* can happen over loopback */
		if (close(fd) == -1)
			log_warn("tcp_check: close");
		lua_pushnumber(L, loop_now() - now);
		return (1);
	}
	if (errno != EINPROGRESS) {
		luaha_fail_errno(L, "connect");
		if (close(fd) == -1)
			log_warn("tcp_check: close");
		return (2);
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		if (close(fd) == -1)
			log_warn("tcp_check: close");
		return (luaL_error(L, "tcp_check: out of memory"));
	}
	c->fd = fd;
	c->started = now;
	w->cancel = tcpcheck_cancel;
	return (task_wait_at(L, w, fd, EV_READ | EV_WRITE, now, timeout, tcpcheck_done, c, 0));
}

static const luaL_Reg tcpcheck_funcs[] = {
	{ "tcp_check", tcpcheck_check },
	{ NULL, NULL }
};

int
luaopen_luaha_core_tcpcheck(lua_State *L)
{
	luaL_newlib(L, tcpcheck_funcs);
	return (1);
}
