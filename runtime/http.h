/* http.h: what the HTTP server's files share: the server and its limits (http.c), its requests (httpreq.c). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HTTP_H
#define HTTP_H

#include <event2/http.h>

struct ssl_ctx_st;

/* Why the server closed a connection or answered without a handler; each is counted and logged rate-limited. */
enum http_refusal {
	HTTP_REFUSED_CONNECTIONS,	/* over max_connections: closed at once */
	HTTP_REFUSED_DEADLINE,		/* a request or reply not done within the deadline */
	HTTP_REFUSED_METHOD,		/* a method not in methods: 405 */
	HTTP_REFUSED_ACCEPT,		/* accept failed, out of descriptors: paused */
	HTTP_REFUSED_MAX
};

struct http_req;
struct http_conn;

struct http {
	struct evhttp			*evh;		/* NULL once freed */
	struct evhttp_bound_socket	*bound;		/* NULL once closed */
	struct event			*free_ev;	/* frees evh outside evhttp's callbacks */
	struct event			*adopt_ev;	/* takes in the connections evhttp accepted */
	struct event			*sweep_ev;	/* closes connections past their deadline */
	struct event			*resume_ev;	/* accepts again after a pause */
	lua_State			*L;		/* the main thread */
	int				 self_ref;	/* anchors the server while evh lives */
	TAILQ_HEAD(, http_req)		 live;		/* requests evhttp may call back about */
	TAILQ_HEAD(, http_conn)		 conns;		/* connections evhttp has */
	int				 nconns;	/* their number */
	int				 max_conns;	/* beyond it a new one is closed at once */
	double				 deadline;	/* seconds to send a request, and to read a reply */
	int				 methods;	/* EVHTTP_REQ_* answered; others get 405 */
	char				 allow[96];	/* the Allow header of a 405: "GET, HEAD" */
	unsigned long			 accepted;	/* connections taken in */
	unsigned long			 refused[HTTP_REFUSED_MAX];
	double				 logged_at[HTTP_REFUSED_MAX];	/* the last log line per reason */
	unsigned long			 quiet[HTTP_REFUSED_MAX];	/* refusals not logged since */
	TAILQ_ENTRY(http)		 listening;	/* in http_listening while bound */
	struct ssl_ctx_st		*tls;		/* the certificate and key; NULL: plain HTTP */
	char				 where[120];	/* "127.0.0.1:8080" */
};

/*
 * A connection, from evhttp's accept to its close. It is ours from the
 * moment evhttp asks for its bufferevent (http_bev_cb) and adopted, its close
 * callback set, once evhttp has made it (http_adopt_cb, in the same turn).
 */
struct http_conn {
	struct http			*srv;
	struct bufferevent		*bev;		/* referenced by us until adopted */
	struct evhttp_connection	*evcon;		/* NULL until adopted */
	struct http_req			*req;		/* the request being answered on it, if any */
	double				 deadline;	/* monotonic; 0 while a handler runs */
	int				 refused;	/* over the cap: closed once adopted */
	TAILQ_ENTRY(http_conn)		 entry;
};

/*
 * A request, from its arrival to the moment evhttp forgets it: when the
 * reply is written, or the connection closes. evhttp calls back with a
 * pointer to it meanwhile, so it is anchored in the registry until then.
 */
struct http_req {
	struct evhttp_request		*req;		/* NULL once replied, or freed by evhttp */
	struct http_conn		*conn;		/* its connection, while both live */
	struct http			*srv;		/* NULL once evhttp is done with it */
	int				 self_ref;	/* anchors it while in srv->live */
	int				 head;		/* a HEAD request: the headers only */
	TAILQ_ENTRY(http_req)		 entry;
	char				 name[128];	/* "http 127.0.0.1:8080 GET /x", its task's name */
};

/* http.c */
void		 http_refuse(struct http *, enum http_refusal, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
struct http_conn *http_conn_find(struct http *, struct evhttp_connection *);
void		 http_conn_wait(struct http_conn *);

/* httptls.c */
struct ssl_ctx_st *httptls_new(const char *, const char *, char *, size_t);
struct ssl_ctx_st *httptls_opt(lua_State *, int, char *, size_t);
void		 httptls_free(struct ssl_ctx_st *);
struct bufferevent *httptls_bev(struct ssl_ctx_st *, struct event_base *);
int		 httptls_check(lua_State *);

/* httpreq.c */
const char	*http_method(enum evhttp_cmd_type);
void		 http_req_done(struct http_req *);
void		 http_req_gone(struct http_req *, struct evhttp_connection *);
void		 http_request_cb(struct evhttp_request *, void *);
void		 http_req_open(lua_State *);

#endif
