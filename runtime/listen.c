/* listen.c: TCP and Unix listeners whose connections each run a handler in a task of their own. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

struct server {
	int		 fd;		/* -1 once closed */
	struct event	*ev;		/* accepts while the server is open */
	lua_State	*L;		/* the main thread */
	int		 self_ref;	/* anchors the server while open */
	char		 where[120];	/* "127.0.0.1:80" or the socket path */
	size_t		 max_line;	/* for the connections' receive("*l") */
	int		 unlink_path;	/* a Unix server removes its socket... */
	dev_t		 dev;		/* ...if the file there is still the one */
	ino_t		 ino;		/* it made */
	struct event	*resume_ev;	/* re-arms accepting after running out of descriptors */
};

#define SERVER_PAUSE	0.1	/* seconds without accepting when out of descriptors */

static const char *const listen_options[] = { "backlog", "max_line", NULL };
static const char *const listen_unix_options[] = { "backlog", "mode", "max_line", NULL };

static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*s = arg;

	(void)fd;
	(void)what;
	if (s->ev != NULL && event_add(s->ev, NULL) == -1)
		log_warnx("%s: cannot resume accepting", s->where);
}

/*
 * Out of descriptors: the pending connection stays readable, so accepting
 * again at once would spin. Stop for SERVER_PAUSE, as nginx does.
 */
static void
server_pause(struct server *s)
{
	struct timeval	 tv;

	log_warn("%s: accept (pausing %gs)", s->where, SERVER_PAUSE);
	if (s->resume_ev == NULL &&
	    (s->resume_ev = evtimer_new(loop_base(), server_resume_cb, s)) == NULL) {
		log_warnx("%s: cannot pause accepting", s->where);
		return;
	}
	event_del(s->ev);
	evtimer_add(s->resume_ev, loop_tv(SERVER_PAUSE, &tv));
}

/* Accepts what is pending; each connection runs the handler in a task of its own. */
static void
server_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server		*s = arg;
	lua_State		*L = s->L;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 cfd, i;

	(void)what;
	for (i = 0; i < 64; i++) {	/* then let other events run */
		len = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				server_pause(s);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept", s->where);
			return;
		}
		/* The handler's arguments: the connection, the peer's address and port. */
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->self_ref);
		lua_getiuservalue(L, -1, 1);
		lua_remove(L, -2);
		net_pushaddr(L, (struct sockaddr *)&ss);
		if (ss.ss_family == AF_UNIX)
			tcp_push_accepted(L, cfd, "unix", s->where, -1, s->max_line);
		else
			tcp_push_accepted(L, cfd, "tcp", lua_tostring(L, -2),
			    (int)lua_tointeger(L, -1), s->max_line);
		lua_insert(L, -3);
		task_spawn(L, 3, NULL, 0);
		lua_pop(L, 1);
	}
}

/* Pushes a server for the listening fd; the handler is at handler_idx. */
static int
server_start(lua_State *L, int fd, int handler_idx, const char *where, size_t max_line)
{
	struct server	*s;

	s = lua_newuserdatauv(L, sizeof(*s), 1);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->self_ref = LUA_NOREF;
	luaL_setmetatable(L, "luaha.server");
	lua_pushvalue(L, handler_idx);
	lua_setiuservalue(L, -2, 1);
	s->L = loop_main_thread(L);
	snprintf(s->where, sizeof(s->where), "%s", where);
	s->max_line = max_line;
	s->fd = fd;
	s->ev = event_new(loop_base(), fd, EV_READ | EV_PERSIST, server_accept_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) == -1)
		return (luaL_error(L, "%s: cannot add the accept event", where));
	lua_pushvalue(L, -1);
	s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	loop_ref();
	return (1);
}

/* listen(address, port, handler [, {backlog=, max_line=}]): a server, or nil and "listen ...: <reason>". */
static int
listen_tcp(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1);
	int			 port = (int)luaL_checkinteger(L, 2), fd, one = 1;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 backlog;
	size_t			 max_line;
	char			 where[120];

	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 4);
	luaha_check_options(L, 4, listen_options);
	backlog = (int)luaha_opt_number(L, 4, "backlog", 511);
	max_line = lines_opt_max(L, 4, TCP_MAX_LINE);
	if (net_addr(addr, port, &ss, &len) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address and port"));
	snprintf(where, sizeof(where), "%s:%d", addr, port);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail_errno(L, "socket"));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, backlog) == -1) {
		int saved_errno = errno;

		close(fd);
		return (luaha_fail(L, "listen %s: %s", where, strerror(saved_errno)));
	}
	return (server_start(L, fd, 3, where, max_line));
}

/*
 * A socket file nobody answers on is left over from a dead process: remove
 * it. Anything else is left alone: a file that is not a socket (EEXIST), a
 * socket a process listens on (EADDRINUSE, also when its queue is full), or
 * one that cannot be tried (connect's errno). The probe does not block.
 */
static int
unix_clear_stale(const char *path, struct sockaddr_un *sun)
{
	struct stat	 st;
	int		 fd, r, saved_errno;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	r = connect(fd, (struct sockaddr *)sun, sizeof(*sun));
	saved_errno = errno;
	close(fd);
	if (r == 0 || saved_errno == EAGAIN || saved_errno == EINPROGRESS) {
		errno = EADDRINUSE;
		return (-1);
	}
	if (saved_errno != ECONNREFUSED) {
		errno = saved_errno;
		return (-1);
	}
	return (unlink(path));
}

/*
 * listen_unix(path, handler [, {mode=, backlog=, max_line=}]): mode is
 * octal, a string "0660" or a number; default 0600.
 */
static int
listen_unix(lua_State *L)
{
	const char		*path = luaL_checkstring(L, 1);
	struct sockaddr_un	 sun;
	struct server		*s;
	struct stat		 st;
	mode_t			 mode = 0600;
	int			 fd, backlog, saved_errno;
	size_t			 max_line;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 3);
	luaha_check_options(L, 3, listen_unix_options);
	backlog = (int)luaha_opt_number(L, 3, "backlog", 64);
	max_line = lines_opt_max(L, 3, TCP_MAX_LINE);
	if (!lua_isnoneornil(L, 3)) {
		if (lua_getfield(L, 3, "mode") == LUA_TSTRING)
			mode = (mode_t)strtol(lua_tostring(L, -1), NULL, 8);
		else if (lua_isinteger(L, -1))
			mode = (mode_t)lua_tointeger(L, -1);
		else if (!lua_isnil(L, -1))
			return (luaL_error(L, "option 'mode' must be an octal string or a number"));
		lua_pop(L, 1);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (luaL_argerror(L, 1, "path too long"));
	strcpy(sun.sun_path, path);
	if (unix_clear_stale(path, &sun) == -1)
		return (luaha_fail(L, "listen_unix %s: %s", path, strerror(errno)));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail_errno(L, "socket"));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved_errno = errno;
		close(fd);
		return (luaha_fail(L, "listen_unix %s: %s", path, strerror(saved_errno)));
	}
	if (chmod(path, mode) == -1 || lstat(path, &st) == -1 || listen(fd, backlog) == -1) {
		saved_errno = errno;
		close(fd);
		unlink(path);
		return (luaha_fail(L, "listen_unix %s: %s", path, strerror(saved_errno)));
	}
	server_start(L, fd, 2, path, max_line);
	s = lua_touserdata(L, -1);
	s->unlink_path = 1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return (1);
}

static struct server *
server_check(lua_State *L, int idx)
{
	struct server	*s = luaL_checkudata(L, idx, "luaha.server");

	if (s->fd == -1)
		luaL_error(L, "attempt to use a closed server");
	return (s);
}

/* port(): the port bound, useful after listening on port 0. */
static int
server_port(lua_State *L)
{
	struct server		*s = server_check(L, 1);
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) == -1)
		return (luaha_fail_errno(L, "getsockname"));
	net_pushaddr(L, (struct sockaddr *)&ss);
	return (1);
}

/*
 * Removes a Unix server's socket file, but only while it is still the one
 * the server made: another daemon may have replaced it since (after taking
 * it for stale), and its socket, or whatever else is there now, stays.
 */
static void
server_unlink(struct server *s)
{
	struct stat	 st;

	if (lstat(s->where, &st) == -1) {
		if (errno != ENOENT)
			log_warn("%s: lstat", s->where);
		return;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_dev != s->dev || st.st_ino != s->ino) {
		log_info("%s: not removed: no longer this server's socket", s->where);
		return;
	}
	if (unlink(s->where) == -1)
		log_warn("%s: unlink", s->where);
}

static int
server_close(lua_State *L)
{
	struct server	*s = luaL_checkudata(L, 1, "luaha.server");

	if (s->fd == -1)
		return (0);
	if (s->ev != NULL)
		event_free(s->ev);
	s->ev = NULL;
	if (s->resume_ev != NULL)
		event_free(s->resume_ev);
	s->resume_ev = NULL;
	if (close(s->fd) == -1)
		log_warn("%s: close", s->where);
	s->fd = -1;
	if (s->unlink_path)
		server_unlink(s);
	if (s->self_ref != LUA_NOREF) {
		luaL_unref(L, LUA_REGISTRYINDEX, s->self_ref);
		s->self_ref = LUA_NOREF;
		loop_unref();
	}
	return (0);
}

static int
server_tostring(lua_State *L)
{
	struct server	*s = luaL_checkudata(L, 1, "luaha.server");

	lua_pushfstring(L, "server %s (%s)", s->where,
	    s->fd == -1 ? "closed" : "listening");
	return (1);
}

static const luaL_Reg listen_funcs[] = {
	{ "listen", listen_tcp },
	{ "listen_unix", listen_unix },
	{ NULL, NULL }
};

static const luaL_Reg server_methods[] = {
	{ "port", server_port },
	{ "close", server_close },
	{ NULL, NULL }
};

static const luaL_Reg server_meta[] = {
	{ "__gc", server_close },
	{ "__close", server_close },
	{ "__tostring", server_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_listen(lua_State *L)
{
	luaL_newmetatable(L, "luaha.server");
	luaL_setfuncs(L, server_meta, 0);
	luaL_newlib(L, server_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, listen_funcs);
	return (1);
}
