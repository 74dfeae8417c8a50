/* tcp.c: stream connections over TCP and Unix sockets: connect, send, receive bytes, lines or all, close. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "luaha.h"

enum conn_state { CONN_CONNECTING, CONN_CONNECTED, CONN_CLOSED };
enum recv_mode { RECV_BYTES, RECV_LINE, RECV_ALL };

struct conn {
	int		 fd;		/* -1 once closed */
	enum conn_state	 state;
	double		 timeout;	/* for connect, send, receive; -1: none */
	struct evbuffer	*in;		/* received, not yet returned; NULL before the first receive */
	struct evbuffer	*out;		/* accepted by send, not yet written; NULL before the first send */
	struct waiter	 rw;		/* a task in receive */
	struct waiter	 ww;		/* a task in connect or send */
	enum recv_mode	 mode;		/* what the receive in progress wants */
	size_t		 want;		/* bytes, for RECV_BYTES */
	size_t		 sent;		/* bytes of the send in progress */
	struct lines	 lines;		/* receive("*l"): its bound and its search so far */
	int		 nodelay;	/* TCP_NODELAY is set (at the first send) */
	int		 eof;		/* the peer closed its side */
	const char	*kind;		/* "tcp" or "unix" */
	char		 peer[];	/* "192.0.2.10:80" or the socket path */
};

#define PEER_MAX	120	/* bytes kept of a peer's name */

#define CONN_READ_SLICE	65536	/* bytes read in one turn of the loop before others run */

static const char *const tcp_options[] = { "timeout", "source", "max_line", NULL };
static const char *const unix_options[] = { "timeout", "max_line", NULL };

static struct conn *
conn_check(lua_State *L, int idx)
{
	struct conn	*c = luaL_checkudata(L, idx, "luaha.tcp");

	if (c->state == CONN_CLOSED)
		luaL_error(L, "attempt to use a closed connection");
	return (c);
}

/*
 * Pushes a closed connection to peer; conn_open makes it usable. The name is
 * sized to fit: a health check makes one of these per check, all garbage.
 */
static struct conn *
conn_push(lua_State *L, const char *kind, const char *peer)
{
	struct conn	*c;
	size_t		 len = strnlen(peer, PEER_MAX - 1);

	c = lua_newuserdatauv(L, sizeof(*c) + len + 1, 0);
	memset(c, 0, sizeof(*c));
	memcpy(c->peer, peer, len);
	c->peer[len] = '\0';
	c->fd = -1;
	c->state = CONN_CLOSED;
	c->kind = kind;
	c->timeout = 60;
	lines_init(&c->lines, TCP_MAX_LINE);
	luaL_setmetatable(L, "luaha.tcp");
	return (c);
}

static void
conn_open(struct conn *c, int fd, enum conn_state state)
{
	c->fd = fd;
	c->state = state;
}

/*
 * The buffers are made at the first send or receive: a health check that
 * only connects, thousands of them a second, allocates none.
 */
static int
conn_buffers(struct conn *c)
{
	if (c->in == NULL && (c->in = evbuffer_new()) == NULL)
		return (-1);
	if (c->out == NULL && (c->out = evbuffer_new()) == NULL)
		return (-1);
	return (0);
}

static void
conn_shut(struct conn *c)
{
	waiter_close(&c->rw);
	waiter_close(&c->ww);
	if (c->fd != -1 && close(c->fd) == -1)
		log_warn("%s %s: close", c->kind, c->peer);
	c->fd = -1;
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
	c->in = c->out = NULL;
	c->state = CONN_CLOSED;
}

/* The name of the peer at addr and port: "192.0.2.10:80", "[2001:db8::1]:80". */
static const char *
conn_describe(char *buf, size_t size, const char *addr, int port)
{
	if (strchr(addr, ':') != NULL)
		snprintf(buf, size, "[%s]:%d", addr, port);
	else
		snprintf(buf, size, "%s:%d", addr, port);
	return (buf);
}

/*
 * Pushes a connection for fd, accepted by a listener (listen.c): from addr
 * and port for "tcp", or on the socket path addr for "unix" (port unused).
 */
void
tcp_push_accepted(lua_State *L, int fd, const char *kind, const char *addr, int port,
    size_t max_line)
{
	struct conn	*c;
	char		 peer[PEER_MAX];

	if (strcmp(kind, "unix") == 0)
		c = conn_push(L, "unix", addr);
	else
		c = conn_push(L, "tcp", conn_describe(peer, sizeof(peer), addr, port));
	conn_open(c, fd, CONN_CONNECTED);
	lines_init(&c->lines, max_line);
}

/*
 * A failed connect drops its socket at once; the events and buffers go with
 * the handle (done callbacks must not close the waiter they run in).
 */
static void
conn_drop_fd(struct conn *c)
{
	if (close(c->fd) == -1)
		log_warn("%s %s: close", c->kind, c->peer);
	c->fd = -1;
	c->state = CONN_CLOSED;
}

static int
tcp_connect_done(lua_State *co, struct waiter *w, short what)
{
	struct conn	*c = w->arg;
	int		 err;

	if (what & EV_TIMEOUT) {
		conn_drop_fd(c);
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	if ((err = net_connect_error(c->fd, what)) != 0) {
		conn_drop_fd(c);
		errno = err;
		return (luaha_fail_errno(co, "connect"));
	}
	c->state = CONN_CONNECTED;
	lua_rawgeti(co, LUA_REGISTRYINDEX, w->anchor_ref);
	return (1);
}

/*
 * tcp(address, port [, {timeout=, source=}]): a connected connection, or
 * nil and "timeout" or "connect: <reason>" (refused, unreachable, ...).
 */
static int
tcp_new(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1);
	int			 port = (int)luaL_checkinteger(L, 2), fd;
	const char		*source;
	struct sockaddr_storage	 ss, src;
	socklen_t		 len, srclen;
	struct conn		*c;
	char			 peer[PEER_MAX];

	lua_settop(L, 3);
	luaha_check_options(L, 3, tcp_options);
	if (net_addr(addr, port, &ss, &len) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address and port"));
	source = luaha_opt_string(L, 3, "source");
	if (source != NULL && net_addr(source, 0, &src, &srclen) == -1)
		return (luaL_error(L, "option 'source' is not an IP address"));
	c = conn_push(L, "tcp", conn_describe(peer, sizeof(peer), addr, port));
	c->timeout = luaha_opt_number(L, 3, "timeout", 60);
	lines_init(&c->lines, lines_opt_max(L, 3, TCP_MAX_LINE));
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail_errno(L, "socket"));
	conn_open(c, fd, CONN_CONNECTING);
	if (source != NULL && bind(fd, (struct sockaddr *)&src, srclen) == -1) {
		conn_shut(c);
		return (luaha_fail(L, "bind %s: %s", source, strerror(errno)));
	}
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		c->state = CONN_CONNECTED;
		return (1);
	}
	if (errno != EINPROGRESS) {
		conn_shut(c);
		return (luaha_fail_errno(L, "connect"));
	}
	return (task_wait(L, &c->ww, fd, EV_READ | EV_WRITE, c->timeout, tcp_connect_done,
	    c, lua_gettop(L)));
}

/* unix(path [, {timeout=}]): a connection to a Unix stream socket. */
static int
tcp_unix(lua_State *L)
{
	const char		*path = luaL_checkstring(L, 1);
	struct sockaddr_un	 sun;
	struct conn		*c;
	int			 fd;

	lua_settop(L, 2);
	luaha_check_options(L, 2, unix_options);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return (luaL_argerror(L, 1, "path too long"));
	strcpy(sun.sun_path, path);
	c = conn_push(L, "unix", path);
	c->timeout = luaha_opt_number(L, 2, "timeout", 60);
	lines_init(&c->lines, lines_opt_max(L, 2, TCP_MAX_LINE));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail_errno(L, "socket"));
	conn_open(c, fd, CONN_CONNECTED);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		conn_shut(c);
		return (luaha_fail(L, "connect %s: %s", path, strerror(errno)));
	}
	return (1);
}

/* Writes what it can of c->out; 1 when all is written, 0 if more must wait, -1 on error. */
static int
conn_flush(struct conn *c)
{
	int	 n;

	while (evbuffer_get_length(c->out) > 0) {
		if ((n = evbuffer_write(c->out, c->fd)) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return (0);
			return (-1);
		}
	}
	return (1);
}

static int
conn_send_done(lua_State *co, struct waiter *w, short what)
{
	struct conn	*c = w->arg;
	int		 r;

	if (what & EV_TIMEOUT) {
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	if ((r = conn_flush(c)) == 0)
		return (-1);
	if (r == -1) {
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
		return (luaha_fail_errno(co, "send"));
	}
	lua_pushinteger(co, (lua_Integer)c->sent);
	return (1);
}

/* send(data): the number of bytes sent (all of them), or nil and "timeout", "closed" or "send: <reason>". */
static int
conn_send(lua_State *L)
{
	struct conn	*c = conn_check(L, 1);
	size_t		 len;
	const char	*data = luaL_checklstring(L, 2, &len);
	int		 r;

	if (c->ww.task != NULL)
		return (luaL_error(L, "another task is already sending on it"));
	if (conn_buffers(c) == -1)
		return (luaha_fail_errno(L, "send"));
	/*
	 * Small writes go out at once (no Nagle delay). Set at the first send,
	 * so that a connect-only health check spends no system call on it.
	 */
	if (!c->nodelay && strcmp(c->kind, "tcp") == 0) {
		int one = 1;

		if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
			return (luaha_fail_errno(L, "setsockopt TCP_NODELAY"));
		c->nodelay = 1;
	}
	if (evbuffer_add(c->out, data, len) == -1)
		return (luaha_fail_errno(L, "send"));
	c->sent = len;
	if ((r = conn_flush(c)) == 1) {
		lua_pushinteger(L, (lua_Integer)len);
		return (1);
	}
	if (r == -1) {
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
		return (luaha_fail_errno(L, "send"));
	}
	return (task_wait(L, &c->ww, c->fd, EV_WRITE, c->timeout,
	    conn_send_done, c, 0));
}

/* Pushes the buffered input as the partial result of a failed receive and empties the buffer. */
static void
conn_push_partial(lua_State *L, struct conn *c)
{
	size_t	 len = evbuffer_get_length(c->in);

	lua_pushlstring(L, (const char *)evbuffer_pullup(c->in, len), len);
	evbuffer_drain(c->in, len);
	lines_drained(&c->lines, len);
}

/*
 * Pushes the results of the receive in progress if the buffer holds what it
 * wants, and returns their count; else 0. The rest of a refused line goes
 * first, whatever the receive wants.
 */
static int
conn_take(lua_State *L, struct conn *c)
{
	size_t	 len;

	if (!lines_skip(&c->lines, c->in))
		return (0);
	len = evbuffer_get_length(c->in);
	switch (c->mode) {
	case RECV_BYTES:
		if (len < c->want)
			return (0);
		lua_pushlstring(L, (const char *)evbuffer_pullup(c->in, c->want), c->want);
		evbuffer_drain(c->in, c->want);
		lines_drained(&c->lines, c->want);
		return (1);
	case RECV_LINE:
		return (lines_take(L, &c->lines, c->in, "receive"));
	default:
		if (!c->eof)
			return (0);
		conn_push_partial(L, c);
		return (1);
	}
}

/*
 * Reads into the buffer until the receive is satisfied; pushes its results,
 * or returns -1 to wait. After CONN_READ_SLICE bytes it waits too, even with
 * more to read, so that a fast peer does not keep the loop to itself.
 */
static int
conn_try_receive(lua_State *L, struct conn *c)
{
	size_t	 got = 0;
	int	 n;

	for (;;) {
		if ((n = conn_take(L, c)) > 0)
			return (n);
		if (c->eof) {
			lua_pushnil(L);
			lua_pushliteral(L, "closed");
			conn_push_partial(L, c);
			return (3);
		}
		if (got >= CONN_READ_SLICE)
			return (-1);
		n = evbuffer_read(c->in, c->fd, -1);
		if (n == 0)
			c->eof = 1;
		else if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return (-1);
			lua_pushnil(L);
			lua_pushfstring(L, "receive: %s", strerror(errno));
			conn_push_partial(L, c);
			return (3);
		}
		got += n > 0 ? (size_t)n : 0;
	}
}

static int
conn_receive_done(lua_State *co, struct waiter *w, short what)
{
	struct conn	*c = w->arg;

	if (what & EV_TIMEOUT) {
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		conn_push_partial(co, c);
		return (3);
	}
	return (conn_try_receive(co, c));
}

/*
 * receive([n | "*l" | "*a"] [, timeout]): n bytes, a line without its end
 * ("*l", the default) or everything until the peer closes ("*a"); else nil,
 * "timeout" | "closed" | "receive: <reason>", and the partial data.
 */
static int
conn_receive(lua_State *L)
{
	struct conn	*c = conn_check(L, 1);
	double		 timeout;
	int		 n;

	if (c->rw.task != NULL)
		return (luaL_error(L, "another task is already receiving on it"));
	if (lua_type(L, 2) == LUA_TNUMBER) {
		lua_Integer want = luaL_checkinteger(L, 2);

		luaL_argcheck(L, want >= 0, 2, "negative size");
		c->mode = RECV_BYTES;
		c->want = (size_t)want;
	} else {
		const char *p = luaL_optstring(L, 2, "*l");

		if (strcmp(p, "*l") == 0)
			c->mode = RECV_LINE;
		else if (strcmp(p, "*a") == 0)
			c->mode = RECV_ALL;
		else
			return (luaL_argerror(L, 2, "a size, \"*l\" or \"*a\""));
	}
	timeout = lua_isnoneornil(L, 3) ? c->timeout : luaha_check_timeout(L, 3);
	if (conn_buffers(c) == -1)
		return (luaha_fail_errno(L, "receive"));
	if ((n = conn_try_receive(L, c)) >= 0)
		return (n);
	return (task_wait(L, &c->rw, c->fd, EV_READ, timeout,
	    conn_receive_done, c, 0));
}

/* settimeout(seconds | nil): the default for connect, send and receive (nil: none). */
static int
conn_settimeout(lua_State *L)
{
	struct conn	*c = conn_check(L, 1);

	c->timeout = luaha_check_timeout(L, 2);
	return (luaha_ok(L));
}

/* shutdown(): no more sending; the peer reads end of file. */
static int
conn_shutdown(lua_State *L)
{
	struct conn	*c = conn_check(L, 1);

	if (shutdown(c->fd, SHUT_WR) == -1)
		return (luaha_fail_errno(L, "shutdown"));
	return (luaha_ok(L));
}

static int
conn_getpeer(lua_State *L)
{
	struct conn	*c = conn_check(L, 1);

	lua_pushstring(L, c->peer);
	return (1);
}

/*
 * peercred(): the uid, gid and pid of the process at the other end of a Unix
 * socket (SO_PEERCRED, as it was when it connected); nil, "peercred: <reason>" otherwise.
 */
static int
conn_peercred(lua_State *L)
{
	struct conn	*c = conn_check(L, 1);
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (strcmp(c->kind, "unix") != 0)
		return (luaha_fail(L, "peercred: not a Unix socket"));
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (luaha_fail_errno(L, "peercred"));
	lua_pushinteger(L, cred.uid);
	lua_pushinteger(L, cred.gid);
	lua_pushinteger(L, cred.pid);
	return (3);
}

static int
conn_close(lua_State *L)
{
	conn_shut(luaL_checkudata(L, 1, "luaha.tcp"));
	return (0);
}

static int
conn_tostring(lua_State *L)
{
	struct conn	*c = luaL_checkudata(L, 1, "luaha.tcp");
	static const char *const states[] = { "connecting", "connected", "closed" };

	lua_pushfstring(L, "%s %s (%s)", c->kind, c->peer, states[c->state]);
	return (1);
}

static const luaL_Reg tcp_funcs[] = {
	{ "tcp", tcp_new },
	{ "unix", tcp_unix },
	{ NULL, NULL }
};

static const luaL_Reg conn_methods[] = {
	{ "send", conn_send },
	{ "receive", conn_receive },
	{ "settimeout", conn_settimeout },
	{ "shutdown", conn_shutdown },
	{ "getpeer", conn_getpeer },
	{ "peercred", conn_peercred },
	{ "close", conn_close },
	{ NULL, NULL }
};

static const luaL_Reg conn_meta[] = {
	{ "__gc", conn_close },
	{ "__close", conn_close },
	{ "__tostring", conn_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_tcp(lua_State *L)
{
	luaL_newmetatable(L, "luaha.tcp");
	luaL_setfuncs(L, conn_meta, 0);
	luaL_newlib(L, conn_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, tcp_funcs);
	return (1);
}
