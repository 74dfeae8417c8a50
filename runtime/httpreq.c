/* httpreq.c: the HTTP server's requests: each runs its handler in a task, and the reply goes when it returns. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "luaha.h"
#include "http.h"

/*
 * evhttp is done with r: it will call back about it no more. A server
 * closed with requests in flight is freed once the last of them is done,
 * from an event of its own, as evhttp_free must not run in evhttp's callbacks.
 */
void
http_req_done(struct http_req *r)
{
	struct http	*srv = r->srv;

	if (srv == NULL)
		return;
	if (r->conn != NULL)
		r->conn->req = NULL;
	r->conn = NULL;
	TAILQ_REMOVE(&srv->live, r, entry);
	r->srv = NULL;
	luaL_unref(srv->L, LUA_REGISTRYINDEX, r->self_ref);
	r->self_ref = LUA_NOREF;
	if (srv->bound == NULL && srv->evh != NULL && TAILQ_EMPTY(&srv->live))
		event_active(srv->free_ev, EV_TIMEOUT, 0);
}

/* The reply is written; evhttp frees the request when we return. The connection may wait for another. */
static void
http_req_written(struct evhttp_request *req, void *arg)
{
	struct http_req	*r = arg;

	(void)req;
	if (r->conn != NULL)
		http_conn_wait(r->conn);
	http_req_done(r);
}

/*
 * r's connection, evcon, is going away. Unless evhttp detached the request
 * from it first (it then lives until replied to), the request goes with it.
 */
void
http_req_gone(struct http_req *r, struct evhttp_connection *evcon)
{
	r->conn = NULL;
	if (r->req != NULL && evhttp_request_get_connection(r->req) == evcon) {
		log_debug("%s: the connection closed before the reply", r->name);
		r->req = NULL;
	}
	if (r->req == NULL)
		http_req_done(r);
}

/* No status code between 100 and 199, 204 and 304 has a body. */
static int
http_has_body(int code)
{
	return (code != 204 && code != 304 && (code < 100 || code >= 200));
}

/*
 * Hands the reply to evhttp, which writes it and frees the request; the
 * output headers are set. A HEAD reply says the length of the body it omits.
 * body NULL: len bytes of body are in the output buffer already.
 */
static void
http_req_send(struct http_req *r, int code, const char *body, size_t len)
{
	struct evhttp_request	*req = r->req;
	struct evkeyvalq	*out = evhttp_request_get_output_headers(req);
	char			 n[32];
	int			 detached;

	r->req = NULL;
	if (!http_has_body(code))
		len = 0;
	else {
		if (evhttp_find_header(out, "Content-Type") == NULL &&
		    evhttp_add_header(out, "Content-Type", "text/plain") == -1)
			log_warnx("%s: cannot add header Content-Type", r->name);
		snprintf(n, sizeof(n), "%zu", len);
		if (r->head && evhttp_find_header(out, "Content-Length") == NULL &&
		    evhttp_add_header(out, "Content-Length", n) == -1)
			log_warnx("%s: cannot add header Content-Length", r->name);
	}
	if (!r->head && len > 0 && body != NULL &&
	    evbuffer_add(evhttp_request_get_output_buffer(req), body, len) == -1)
		log_warnx("%s: cannot buffer the reply's body", r->name);
	/* Without a connection, evhttp_send_reply frees the request at once. */
	detached = evhttp_request_get_connection(req) == NULL;
	if (r->conn != NULL)
		http_conn_wait(r->conn);	/* the client has the deadline to read it */
	evhttp_send_reply(req, code, NULL, NULL);
	if (detached)
		http_req_done(r);
}

/* Is c allowed in a header name (an RFC 9110 token)? */
static int
http_tchar(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

/* Raises unless the table at idx (nil: none) maps header names to strings or numbers fit to send. */
static void
http_check_headers(lua_State *L, int idx)
{
	const char	*k, *v;
	size_t		 klen, vlen, i;

	if (lua_isnil(L, idx))
		return;
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "http handler: a header name is a %s", luaL_typename(L, -2));
		k = lua_tolstring(L, -2, &klen);
		for (i = 0; i < klen; i++)
			if (!http_tchar((unsigned char)k[i]))
				break;
		if (klen == 0 || i < klen)
			luaL_error(L, "http handler: bad header name '%s'", k);
		if (!lua_isstring(L, -1))
			luaL_error(L, "http handler: header '%s' is a %s", k, luaL_typename(L, -1));
		v = lua_tolstring(L, -1, &vlen);
		if (strlen(v) != vlen || strpbrk(v, "\r\n") != NULL)
			luaL_error(L, "http handler: header '%s' has a line break or a zero byte", k);
		lua_pop(L, 1);
	}
}

static void
http_add_headers(lua_State *L, struct http_req *r, int idx)
{
	struct evkeyvalq	*out = evhttp_request_get_output_headers(r->req);

	if (lua_isnil(L, idx))
		return;
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		if (evhttp_add_header(out, lua_tostring(L, -2), lua_tostring(L, -1)) == -1)
			log_warnx("%s: cannot add header %s", r->name, lua_tostring(L, -2));
		lua_pop(L, 1);
	}
}

/* A list body's anchor: the list stays in the registry until evhttp is done with its strings. */
struct http_body {
	lua_State	*L;		/* the main thread */
	int		 ref;
};

static void
http_body_free(const void *data, size_t len, void *arg)
{
	struct http_body	*b = arg;

	(void)data;
	(void)len;
	luaL_unref(b->L, LUA_REGISTRYINDEX, b->ref);
	free(b);
}

/* The bytes of the list of strings at idx; raises on an item that is not a string. */
static size_t
http_body_len(lua_State *L, int idx)
{
	lua_Integer	 i, n = luaL_len(L, idx);
	size_t		 len, total = 0;

	for (i = 1; i <= n; i++) {
		if (lua_geti(L, idx, i) != LUA_TSTRING)
			luaL_error(L, "http handler: item %d of the body is a %s", (int)i,
			    luaL_typename(L, -1));
		lua_tolstring(L, -1, &len);
		total += len;
		lua_pop(L, 1);
	}
	return (total);
}

/*
 * Puts the list of strings at idx into r's output buffer by reference, not
 * copied: a large document made in pieces is never joined, a copy of
 * megabytes that would hold the loop. The list is anchored until evhttp
 * frees the last piece, written or not.
 */
static void
http_body_add(lua_State *L, int idx, struct http_req *r)
{
	struct evbuffer		*buf = evhttp_request_get_output_buffer(r->req);
	struct http_body	*b;
	lua_Integer		 i, n = luaL_len(L, idx);
	const char		*s;
	size_t			 len;

	if (n == 0)
		return;
	if ((b = malloc(sizeof(*b))) == NULL) {
		log_warn("%s: the reply's body", r->name);
		return;
	}
	b->L = loop_main_thread(L);
	lua_pushvalue(L, idx);
	b->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	for (i = 1; i <= n; i++) {
		lua_geti(L, idx, i);
		s = lua_tolstring(L, -1, &len);
		lua_pop(L, 1);		/* the list keeps it */
		if (evbuffer_add_reference(buf, s, len, i == n ? http_body_free : NULL,
		    i == n ? b : NULL) == -1) {
			log_warnx("%s: cannot buffer the reply's body", r->name);
			http_body_free(NULL, 0, b);
			return;
		}
	}
}

/*
 * The handler returned: its results are at 4 (status), 5 (body) and 6
 * (headers). Bad results are the handler's bug: raising fails the task,
 * which logs the error, and the request's __close replies 500.
 */
static int
http_serve_done(lua_State *L, int status, lua_KContext ctx)
{
	struct http_req	*r = lua_touserdata(L, 1);
	lua_Integer	 code = 0;
	const char	*body = "";
	size_t		 len = 0;
	int		 isint = 0;

	(void)status;
	(void)ctx;
	if (lua_type(L, 4) == LUA_TNUMBER)
		code = lua_tointegerx(L, 4, &isint);
	if (!isint || code < 200 || code > 599)
		return (luaL_error(L, "http handler: the status must be an integer "
		    "from 200 to 599, not %s (a %s)", luaL_tolstring(L, 4, NULL),
		    luaL_typename(L, 4)));
	if (!lua_isnil(L, 5) && !lua_isstring(L, 5) && !lua_istable(L, 5))
		return (luaL_error(L, "http handler: the body is a %s", luaL_typename(L, 5)));
	if (!lua_isnil(L, 6) && !lua_istable(L, 6))
		return (luaL_error(L, "http handler: the headers are a %s", luaL_typename(L, 6)));
	http_check_headers(L, 6);
	if (lua_istable(L, 5)) {
		len = http_body_len(L, 5);
		body = NULL;
	} else if (!lua_isnil(L, 5))
		body = lua_tolstring(L, 5, &len);
	if (r->req == NULL) {
		log_debug("%s: reply %d dropped: the client went away", r->name, (int)code);
		return (0);
	}
	http_add_headers(L, r, 6);
	if (body == NULL && !r->head && http_has_body((int)code))
		http_body_add(L, 5, r);
	http_req_send(r, (int)code, body, len);
	return (0);
}

/*
 * The body of a request's task: handler(req) with the request at 1 marked
 * to-be-closed, so that a task that fails, is cancelled or runs out of its
 * budget still answers, with a 500. The handler may wait (lua_callk).
 */
static int
http_serve(lua_State *L)
{
	lua_settop(L, 3);		/* request, handler, req table */
	lua_toclose(L, 1);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, 3);
	lua_callk(L, 1, 3, 0, http_serve_done);
	return (http_serve_done(L, LUA_OK, 0));
}

/* __close and __gc: a request left unanswered gets a 500. */
static int
http_req_close(lua_State *L)
{
	struct http_req		*r = luaL_checkudata(L, 1, "luaha.http_request");
	static const char	 msg[] = "internal server error\n";

	if (r->req != NULL)
		http_req_send(r, HTTP_INTERNAL, msg, sizeof(msg) - 1);
	return (0);
}

static int
http_xdigit(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Pushes s[0..len) with %XX decoded, and '+' as a space when plus is set. */
static void
http_push_decoded(lua_State *L, const char *s, size_t len, int plus)
{
	luaL_Buffer	 b;
	size_t		 i;
	int		 hi, lo;

	luaL_buffinit(L, &b);
	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && (hi = http_xdigit(s[i + 1])) != -1 &&
		    (lo = http_xdigit(s[i + 2])) != -1) {
			luaL_addchar(&b, (char)(hi << 4 | lo));
			i += 2;
		} else if (s[i] == '+' && plus)
			luaL_addchar(&b, ' ');
		else
			luaL_addchar(&b, s[i]);
	}
	luaL_pushresult(&b);
}

/* Sets key=value pairs of the query string q in the table on top; a key given twice keeps its last value. */
static void
http_set_query(lua_State *L, const char *q)
{
	const char	*end, *eq;

	for (; *q != '\0'; q = *end == '\0' ? end : end + 1) {
		end = q + strcspn(q, "&");
		if (end == q)
			continue;
		if ((eq = memchr(q, '=', end - q)) == NULL)
			eq = end;
		http_push_decoded(L, q, eq - q, 1);
		if (eq == end)
			lua_pushliteral(L, "");
		else
			http_push_decoded(L, eq + 1, end - eq - 1, 1);
		lua_rawset(L, -3);
	}
}

/* Sets a header in the table on top, its name in lower case; repeated headers are joined with ", ". */
static void
http_set_header(lua_State *L, const char *name, const char *value)
{
	luaL_Buffer	 b;

	luaL_buffinit(L, &b);
	for (; *name != '\0'; name++)
		luaL_addchar(&b, *name >= 'A' && *name <= 'Z' ? *name + 'a' - 'A' : *name);
	luaL_pushresult(&b);
	lua_pushvalue(L, -1);
	if (lua_rawget(L, -3) == LUA_TSTRING)
		lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), value);
	else
		lua_pushstring(L, value);
	lua_remove(L, -2);
	lua_rawset(L, -3);
}

const char *
http_method(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return ("GET");
	case EVHTTP_REQ_POST:
		return ("POST");
	case EVHTTP_REQ_HEAD:
		return ("HEAD");
	case EVHTTP_REQ_PUT:
		return ("PUT");
	case EVHTTP_REQ_DELETE:
		return ("DELETE");
	case EVHTTP_REQ_OPTIONS:
		return ("OPTIONS");
	case EVHTTP_REQ_TRACE:
		return ("TRACE");
	case EVHTTP_REQ_CONNECT:
		return ("CONNECT");
	case EVHTTP_REQ_PATCH:
		return ("PATCH");
	default:
		return ("?");
	}
}

/* Pushes the table the handler gets: method, uri, path, query, headers, body, peer, port, tls. */
static void
http_push_request(lua_State *L, struct evhttp_request *req, struct evhttp_connection *evcon, int tls)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct evkeyval		*kv;
	const char		*s;
	char			*addr = NULL;
	ev_uint16_t		 port = 0;

	lua_createtable(L, 0, 9);
	lua_pushboolean(L, tls);
	lua_setfield(L, -2, "tls");
	lua_pushstring(L, http_method(evhttp_request_get_command(req)));
	lua_setfield(L, -2, "method");
	lua_pushstring(L, evhttp_request_get_uri(req));
	lua_setfield(L, -2, "uri");
	if (uri == NULL || (s = evhttp_uri_get_path(uri)) == NULL)
		s = "";
	http_push_decoded(L, s, strlen(s), 0);
	lua_setfield(L, -2, "path");
	lua_newtable(L);
	if (uri != NULL && (s = evhttp_uri_get_query(uri)) != NULL)
		http_set_query(L, s);
	lua_setfield(L, -2, "query");
	lua_newtable(L);
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
		http_set_header(L, kv->key, kv->value);
	lua_setfield(L, -2, "headers");
	lua_pushlstring(L, (const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in));
	lua_setfield(L, -2, "body");
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	lua_pushstring(L, addr != NULL ? addr : "");
	lua_setfield(L, -2, "peer");
	lua_pushinteger(L, port);
	lua_setfield(L, -2, "port");
}

/*
 * A request is read: start its task. No Lua code runs here, so the
 * handler may wait; the reply goes out when its task ends.
 */
void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http			*srv = arg;
	lua_State			*L = srv->L;
	struct evhttp_connection	*evcon = evhttp_request_get_connection(req);
	struct http_conn		*conn = http_conn_find(srv, evcon);
	enum evhttp_cmd_type		 cmd = evhttp_request_get_command(req);
	struct http_req			*r;
	struct evkeyvalq		*out;
	char				*peer = NULL;
	ev_uint16_t			 port = 0;

	if (srv->bound == NULL) {	/* closed: a kept-alive connection asks again */
		evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
		return;
	}
	if (!(srv->methods & cmd)) {
		if (evcon != NULL)
			evhttp_connection_get_peer(evcon, &peer, &port);
		http_refuse(srv, HTTP_REFUSED_METHOD, "%s %s from %s: method not allowed",
		    http_method(cmd), evhttp_request_get_uri(req), peer != NULL ? peer : "?");
		/* Not evhttp_send_error: it drops the headers set, and Allow must be said. */
		out = evhttp_request_get_output_headers(req);
		if (evhttp_add_header(out, "Allow", srv->allow) == -1 ||
		    evhttp_add_header(out, "Content-Type", "text/plain") == -1 ||
		    evbuffer_add_printf(evhttp_request_get_output_buffer(req),
		    "method not allowed: only %s\n", srv->allow) == -1)
			log_warnx("http %s: cannot make a 405 reply", srv->where);
		evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
		return;
	}
	lua_pushcfunction(L, http_serve);
	r = lua_newuserdatauv(L, sizeof(*r), 1);
	memset(r, 0, sizeof(*r));
	r->self_ref = LUA_NOREF;
	luaL_setmetatable(L, "luaha.http_request");
	lua_rawgeti(L, LUA_REGISTRYINDEX, srv->self_ref);
	lua_getiuservalue(L, -1, 1);	/* the handler */
	lua_insert(L, -2);
	lua_setiuservalue(L, -3, 1);	/* the request keeps its server alive */
	http_push_request(L, req, evcon, srv->tls != NULL);
	snprintf(r->name, sizeof(r->name), "http %s %s %s", srv->where,
	    http_method(evhttp_request_get_command(req)), evhttp_request_get_uri(req));
	r->head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	r->req = req;
	r->srv = srv;
	lua_pushvalue(L, -3);
	r->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	TAILQ_INSERT_TAIL(&srv->live, r, entry);
	if (conn != NULL) {
		if (conn->req != NULL)		/* not seen done: it is now */
			conn->req->conn = NULL;
		conn->req = r;
		conn->deadline = 0;		/* the handler's time is the handler's */
	}
	r->conn = conn;
	evhttp_request_set_on_complete_cb(req, http_req_written, r);
	task_spawn(L, 3, r->name, 0);
	lua_pop(L, 1);
}

static const luaL_Reg http_req_meta[] = {
	{ "__gc", http_req_close },
	{ "__close", http_req_close },
	{ NULL, NULL }
};

/* Makes the requests' metatable, "luaha.http_request". */
void
http_req_open(lua_State *L)
{
	luaL_newmetatable(L, "luaha.http_request");
	luaL_setfuncs(L, http_req_meta, 0);
	lua_pop(L, 1);
}
