/* http.c: an HTTP server on libevent's evhttp, its connections bounded in number and time; handlers run as tasks. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "luaha.h"
#include "http.h"

#define HTTP_MAX_HEADERS	(64 * 1024)	/* bytes of a request's headers */
#define HTTP_METHODS		(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | \
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH | \
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT)
#define HTTP_PAUSE		0.1	/* seconds without accepting when out of descriptors */
#define HTTP_SWEEP		0.25	/* seconds between two looks for connections past their deadline */
#define HTTP_LOG_EVERY		10	/* seconds between two log lines for the same reason */

static const char *const http_options[] = {
	"timeout", "max_body", "max_connections", "deadline", "methods", "tls", NULL
};

static const char *const http_refusal_names[HTTP_REFUSED_MAX] = {
	"connections", "deadline", "method", "accept"
};

/*
 * The servers listening: libevent calls an accept error back with evhttp's
 * pointer, not ours, and this is where ours is found from it.
 */
static TAILQ_HEAD(, http) http_listening = TAILQ_HEAD_INITIALIZER(http_listening);

static void
http_describe(char *buf, size_t size, const char *addr, int port)
{
	if (strchr(addr, ':') != NULL)
		snprintf(buf, size, "[%s]:%d", addr, port);
	else
		snprintf(buf, size, "%s:%d", addr, port);
}

static struct http *
http_check(lua_State *L, int idx)
{
	struct http	*srv = luaL_checkudata(L, idx, "luaha.http");

	if (srv->bound == NULL)
		luaL_error(L, "attempt to use a closed http server");
	return (srv);
}

/*
 * Counts a refusal and logs it, at most one line per reason every
 * HTTP_LOG_EVERY seconds, saying how many went unsaid since the last.
 */
void
http_refuse(struct http *srv, enum http_refusal why, const char *fmt, ...)
{
	va_list	 ap;
	double	 now = loop_now();
	char	 msg[256];

	srv->refused[why]++;
	if (srv->logged_at[why] > 0 && now - srv->logged_at[why] < HTTP_LOG_EVERY) {
		srv->quiet[why]++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (srv->quiet[why] > 0)
		log_warnx("http %s: %s (and %lu more in %.0f s)", srv->where, msg, srv->quiet[why],
		    now - srv->logged_at[why]);
	else
		log_warnx("http %s: %s", srv->where, msg);
	srv->logged_at[why] = now;
	srv->quiet[why] = 0;
}

/* The connection whose evhttp connection is evcon; NULL if untracked. At most max_connections to look at. */
struct http_conn *
http_conn_find(struct http *srv, struct evhttp_connection *evcon)
{
	struct http_conn	*c;

	if (evcon == NULL)
		return (NULL);
	TAILQ_FOREACH(c, &srv->conns, entry)
		if (c->evcon == evcon)
			return (c);
	return (NULL);
}

/* The client's turn: it has the deadline from now to send a request, or to read the reply. */
void
http_conn_wait(struct http_conn *c)
{
	c->deadline = loop_now() + c->srv->deadline;
}

static void
http_conn_free(struct http_conn *c)
{
	struct http	*srv = c->srv;

	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	free(c);
}

/* evhttp closes the connection: its request, if any, goes with it. */
static void
http_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn	*c = arg;

	if (c->req != NULL)
		http_req_gone(c->req, evcon);
	c->req = NULL;
	http_conn_free(c);
}

/*
 * evhttp accepted a connection and asks for its bufferevent: we make it, so
 * as to know the connection from the start. evhttp has not yet made the
 * connection around it, so it is adopted in a moment (http_adopt_cb, this
 * turn of the loop); until then our reference keeps the bufferevent, and its
 * descriptor, from being freed under us if evhttp gives up on it at once.
 */
static struct bufferevent *
http_bev_cb(struct event_base *base, void *arg)
{
	struct http		*srv = arg;
	struct http_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("http %s: a connection left untracked", srv->where);
		return (NULL);
	}
	c->bev = srv->tls != NULL ? httptls_bev(srv->tls, base) :
	    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("http %s: a connection left untracked: no bufferevent", srv->where);
		free(c);
		return (NULL);
	}
	bufferevent_incref(c->bev);
	c->srv = srv;
	c->refused = srv->nconns >= srv->max_conns;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	srv->accepted++;
	event_active(srv->adopt_ev, EV_TIMEOUT, 0);
	return (c->bev);
}

/*
 * Adopts the connections evhttp has made since http_bev_cb: evhttp's close
 * callback tells us when each goes. The bufferevent's callback argument is
 * its evhttp connection; callbacks all unset mean evhttp freed it already.
 * One over the cap is closed now, before it is read.
 */
static void
http_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http		*srv = arg;
	struct http_conn	*c, *next;
	bufferevent_event_cb	 eventcb;
	void			*evcon;
	char			*peer;
	ev_uint16_t		 port;

	(void)fd;
	(void)what;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->evcon != NULL)
			continue;
		bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &evcon);
		bufferevent_decref(c->bev);
		c->bev = NULL;
		if (eventcb == NULL || evcon == NULL) {
			http_conn_free(c);
			continue;
		}
		c->evcon = evcon;
		evhttp_connection_set_closecb(c->evcon, http_conn_closed, c);
		http_conn_wait(c);
		if (c->refused) {
			peer = NULL;
			evhttp_connection_get_peer(c->evcon, &peer, &port);
			http_refuse(srv, HTTP_REFUSED_CONNECTIONS, "closed a connection from %s: "
			    "%d open already", peer != NULL ? peer : "?", srv->max_conns);
			evhttp_connection_free(c->evcon);	/* calls http_conn_closed */
		}
	}
	if (srv->nconns > 0 && !evtimer_pending(srv->sweep_ev, NULL)) {
		struct timeval	 tv;

		evtimer_add(srv->sweep_ev, loop_tv(HTTP_SWEEP, &tv));
	}
}

/*
 * Closes the connections past their deadline: a client that trickles a
 * request a byte at a time, or reads its reply so, passes evhttp's timeout,
 * which counts from the last byte, but not this. At most max_connections to
 * look at every HTTP_SWEEP seconds, while there are any.
 */
static void
http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http		*srv = arg;
	struct http_conn	*c, *next;
	struct timeval		 tv;
	double			 now = loop_now();
	char			*peer;
	ev_uint16_t		 port;

	(void)fd;
	(void)what;
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->evcon == NULL || c->deadline == 0 || now < c->deadline)
			continue;
		peer = NULL;
		evhttp_connection_get_peer(c->evcon, &peer, &port);
		http_refuse(srv, HTTP_REFUSED_DEADLINE, "closed a connection from %s: "
		    "a request or reply not done in %g s", peer != NULL ? peer : "?", srv->deadline);
		evhttp_connection_free(c->evcon);	/* calls http_conn_closed, which frees c */
	}
	if (srv->nconns > 0)
		evtimer_add(srv->sweep_ev, loop_tv(HTTP_SWEEP, &tv));
}

static void
http_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*srv = arg;

	(void)fd;
	(void)what;
	if (srv->bound != NULL &&
	    evconnlistener_enable(evhttp_bound_socket_get_listener(srv->bound)) == -1)
		log_warnx("http %s: cannot resume accepting", srv->where);
}

/*
 * accept failed for a reason other than a client gone (libevent retries
 * those). Out of descriptors or memory, the pending connection stays
 * readable and accepting again at once would spin (evhttp by itself logs
 * "Error from accept() call" at every turn): stop for HTTP_PAUSE, as the
 * control socket's listener does (tcp.c). Either way, logged rate-limited.
 */
static void
http_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http	*srv;
	struct timeval	 tv;
	int		 err = EVUTIL_SOCKET_ERROR();

	TAILQ_FOREACH(srv, &http_listening, listening)
		if (srv->evh == arg)
			break;
	if (srv == NULL) {
		log_warnx("http: accept: %s", strerror(err));
		return;
	}

	if (evconnlistener_disable(lev) == -1 ||
	    evtimer_add(srv->resume_ev, loop_tv(HTTP_PAUSE, &tv)) == -1) {
		log_warnx("http %s: cannot pause accepting", srv->where);
		evconnlistener_enable(lev);
	}
	http_refuse(srv, HTTP_REFUSED_ACCEPT, "accept: %s (pausing %g s)", strerror(err), HTTP_PAUSE);
}

/* Frees evhttp with its connections; requests still in flight are dropped. */
static void
http_free(struct http *srv)
{
	struct evhttp	*evh = srv->evh;
	struct http_req	*r;

	http_adopt_cb(-1, 0, srv);	/* what evhttp accepted this turn, so that it is ours to free */
	srv->evh = NULL;		/* so that http_req_done schedules nothing */
	while ((r = TAILQ_FIRST(&srv->live)) != NULL) {
		/* A detached request is ours to free; the others go with their connections. */
		if (r->req != NULL && evhttp_request_get_connection(r->req) == NULL)
			evhttp_request_free(r->req);
		r->req = NULL;
		http_req_done(r);
	}
	evhttp_free(evh);		/* closes the connections: http_conn_closed frees ours */
	evtimer_del(srv->sweep_ev);
	evtimer_del(srv->resume_ev);
	luaL_unref(srv->L, LUA_REGISTRYINDEX, srv->self_ref);
	srv->self_ref = LUA_NOREF;
}

static void
http_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*srv = arg;

	(void)fd;
	(void)what;
	if (srv->evh != NULL && TAILQ_EMPTY(&srv->live))
		http_free(srv);
}

/* Sets srv->methods and srv->allow from the option methods at idx (nil: all that evhttp knows). */
static void
http_opt_methods(lua_State *L, int idx, struct http *srv)
{
	static const enum evhttp_cmd_type	 all[] = {
		EVHTTP_REQ_GET, EVHTTP_REQ_HEAD, EVHTTP_REQ_POST, EVHTTP_REQ_PUT,
		EVHTTP_REQ_DELETE, EVHTTP_REQ_OPTIONS, EVHTTP_REQ_PATCH, EVHTTP_REQ_TRACE,
		EVHTTP_REQ_CONNECT
	};
	const char				*name;
	lua_Integer				 i, n;
	size_t					 k;

	if (lua_istable(L, idx))
		lua_getfield(L, idx, "methods");
	else
		lua_pushnil(L);
	if (lua_isnil(L, -1))
		srv->methods = HTTP_METHODS & ~(EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
	else {
		luaL_argcheck(L, lua_istable(L, -1), idx, "option 'methods' must be a list of methods");
		srv->methods = 0;
		n = luaL_len(L, -1);
		for (i = 1; i <= n; i++) {
			lua_geti(L, -1, i);
			name = lua_tostring(L, -1);
			for (k = 0; k < sizeof(all) / sizeof(all[0]); k++)
				if (name != NULL && strcmp(name, http_method(all[k])) == 0)
					break;
			if (k == sizeof(all) / sizeof(all[0]))
				luaL_error(L, "option 'methods': unknown method '%s'", name != NULL ? name : "?");
			srv->methods |= all[k];
			lua_pop(L, 1);
		}
		if (srv->methods == 0)
			luaL_error(L, "option 'methods' is empty");
	}
	lua_pop(L, 1);
	srv->allow[0] = '\0';
	for (k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		if (srv->methods & all[k])
			snprintf(srv->allow + strlen(srv->allow), sizeof(srv->allow) - strlen(srv->allow),
			    "%s%s", srv->allow[0] != '\0' ? ", " : "", http_method(all[k]));
}

/*
 * listen(address, port, handler [, {timeout=, max_body=, max_connections=,
 * deadline=, methods=, tls=}]): a server, or nil and "http listen ADDR:PORT:
 * <reason>" (with tls, also when its files are no usable pair: httptls.c).
 */
static int
http_listen(lua_State *L)
{
	const char		*addr = luaL_checkstring(L, 1);
	int			 port = (int)luaL_checkinteger(L, 2), fd, one = 1;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	double			 timeout, max_body, max_conns, deadline;
	struct timeval		 tv;
	struct http		*srv;
	char			 where[120], err[512];

	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 4);
	luaha_check_options(L, 4, http_options);
	timeout = luaha_opt_number(L, 4, "timeout", 30);
	max_body = luaha_opt_number(L, 4, "max_body", 1024 * 1024);
	if (!(timeout > 0 && timeout < 1e9))
		return (luaL_error(L, "option 'timeout' must be a positive number of seconds"));
	if (!(max_body >= 0 && max_body < 1e18))
		return (luaL_error(L, "option 'max_body' must be a number of bytes"));
	max_conns = luaha_opt_number(L, 4, "max_connections", 256);
	if (!(max_conns >= 1 && max_conns <= 1000000))
		return (luaL_error(L, "option 'max_connections' must be from 1 to 1000000"));
	deadline = luaha_opt_number(L, 4, "deadline", 10);
	if (!(deadline > 0 && deadline < 1e9))
		return (luaL_error(L, "option 'deadline' must be a positive number of seconds"));
	if (net_addr(addr, port, &ss, &len) == -1)
		return (luaL_argerror(L, 1, "not an IPv4 or IPv6 address and port"));
	http_describe(where, sizeof(where), addr, port);

	srv = lua_newuserdatauv(L, sizeof(*srv), 1);
	memset(srv, 0, sizeof(*srv));
	srv->self_ref = LUA_NOREF;
	TAILQ_INIT(&srv->live);
	TAILQ_INIT(&srv->conns);
	srv->max_conns = (int)max_conns;
	srv->deadline = deadline;
	luaL_setmetatable(L, "luaha.http");
	http_opt_methods(L, 4, srv);
	snprintf(srv->where, sizeof(srv->where), "%s", where);
	lua_pushvalue(L, 3);
	lua_setiuservalue(L, -2, 1);
	srv->L = loop_main_thread(L);
	if ((srv->tls = httptls_opt(L, 4, err, sizeof(err))) == NULL && err[0] != '\0')
		return (luaha_fail(L, "http listen %s: %s", where, err));
	if ((srv->evh = evhttp_new(loop_base())) == NULL ||
	    (srv->free_ev = event_new(loop_base(), -1, 0, http_free_cb, srv)) == NULL ||
	    (srv->adopt_ev = event_new(loop_base(), -1, 0, http_adopt_cb, srv)) == NULL ||
	    (srv->sweep_ev = evtimer_new(loop_base(), http_sweep_cb, srv)) == NULL ||
	    (srv->resume_ev = evtimer_new(loop_base(), http_resume_cb, srv)) == NULL)
		return (luaL_error(L, "http listen %s: cannot create the server", where));

	/* Our own socket rather than evhttp's: numeric addresses only, and errno kept. */
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return (luaha_fail(L, "http listen %s: %s", where, strerror(errno)));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 || listen(fd, 511) == -1 ||
	    (srv->bound = evhttp_accept_socket_with_handle(srv->evh, fd)) == NULL) {
		int saved_errno = errno;

		close(fd);
		return (luaha_fail(L, "http listen %s: %s", where, strerror(saved_errno)));
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(srv->bound), http_accept_error);
	TAILQ_INSERT_TAIL(&http_listening, srv, listening);
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	http_describe(srv->where, sizeof(srv->where), addr, port);

	evhttp_set_timeout_tv(srv->evh, loop_tv(timeout, &tv));
	evhttp_set_max_body_size(srv->evh, (ev_ssize_t)max_body);
	evhttp_set_max_headers_size(srv->evh, HTTP_MAX_HEADERS);
	evhttp_set_allowed_methods(srv->evh, HTTP_METHODS);
	evhttp_set_gencb(srv->evh, http_request_cb, srv);
	evhttp_set_bevcb(srv->evh, http_bev_cb, srv);
	lua_pushvalue(L, -1);
	srv->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	loop_ref();
	return (1);
}

/* port(): the port bound, useful after listening on port 0. */
static int
http_port(lua_State *L)
{
	struct http		*srv = http_check(L, 1);
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(evhttp_bound_socket_get_fd(srv->bound),
	    (struct sockaddr *)&ss, &len) == -1)
		return (luaha_fail_errno(L, "getsockname"));
	net_pushaddr(L, (struct sockaddr *)&ss);
	return (1);
}

/*
 * stats(): { connections = open now, accepted = taken in since listen,
 * refused = { connections=, deadline=, method=, accept= } }.
 */
static int
http_stats(lua_State *L)
{
	struct http	*srv = luaL_checkudata(L, 1, "luaha.http");
	int		 i;

	lua_createtable(L, 0, 3);
	lua_pushinteger(L, srv->nconns);
	lua_setfield(L, -2, "connections");
	lua_pushinteger(L, (lua_Integer)srv->accepted);
	lua_setfield(L, -2, "accepted");
	lua_createtable(L, 0, HTTP_REFUSED_MAX);
	for (i = 0; i < HTTP_REFUSED_MAX; i++) {
		lua_pushinteger(L, (lua_Integer)srv->refused[i]);
		lua_setfield(L, -2, http_refusal_names[i]);
	}
	lua_setfield(L, -2, "refused");
	return (1);
}

/*
 * close(), __close and __gc: stops listening at once. Requests in flight
 * are answered when their tasks end, and evhttp is freed after the last;
 * when the loop is exiting no reply can be written, so it goes at once.
 * The server is anchored while evhttp lives: __gc runs after that, or as
 * the Lua state closes.
 */
static int
http_close(lua_State *L)
{
	struct http	*srv = luaL_checkudata(L, 1, "luaha.http");

	if (srv->bound != NULL) {
		evhttp_del_accept_socket(srv->evh, srv->bound);
		srv->bound = NULL;
		TAILQ_REMOVE(&http_listening, srv, listening);
		loop_unref();
	}
	if (srv->evh != NULL && (TAILQ_EMPTY(&srv->live) || loop_exiting()))
		http_free(srv);
	if (srv->evh == NULL && srv->free_ev != NULL) {
		event_free(srv->free_ev);
		event_free(srv->adopt_ev);
		event_free(srv->sweep_ev);
		event_free(srv->resume_ev);
		srv->free_ev = srv->adopt_ev = srv->sweep_ev = srv->resume_ev = NULL;
	}
	if (srv->evh == NULL) {		/* the connections' SSL objects hold references of their own */
		httptls_free(srv->tls);
		srv->tls = NULL;
	}
	return (0);
}

static int
http_tostring(lua_State *L)
{
	struct http	*srv = luaL_checkudata(L, 1, "luaha.http");

	lua_pushfstring(L, "http%s server %s (%s)", srv->tls != NULL ? "s" : "", srv->where,
	    srv->bound != NULL ? "listening" : srv->evh != NULL ? "closing" : "closed");
	return (1);
}

static const luaL_Reg http_funcs[] = {
	{ "listen", http_listen },
	{ "check_tls", httptls_check },
	{ NULL, NULL }
};

static const luaL_Reg http_methods[] = {
	{ "port", http_port },
	{ "stats", http_stats },
	{ "close", http_close },
	{ NULL, NULL }
};

static const luaL_Reg http_meta[] = {
	{ "__gc", http_close },
	{ "__close", http_close },
	{ "__tostring", http_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_http(lua_State *L)
{
	luaL_newmetatable(L, "luaha.http");
	luaL_setfuncs(L, http_meta, 0);
	luaL_newlib(L, http_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	http_req_open(L);
	luaL_newlib(L, http_funcs);
	return (1);
}
