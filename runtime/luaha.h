/* luaha.h: declarations shared by the runtime's files, grouped by the file that defines them. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef LUAHA_H
#define LUAHA_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <stdarg.h>
#include <stdint.h>

#include <event2/event.h>
#include <lua.h>
#include <lauxlib.h>

/* LUAHA_VERSION comes from the Makefile's VERSION, its one home. */

/* luaha.c */
int	 luaha_ok(lua_State *);
int	 luaha_fail(lua_State *, const char *, ...) __attribute__((format(printf, 2, 3)));
int	 luaha_fail_errno(lua_State *, const char *);
void	 luaha_check_options(lua_State *, int, const char *const []);
double	 luaha_opt_number(lua_State *, int, const char *, double);
double	 luaha_opt_seconds(lua_State *, int, const char *, double);
const char *luaha_opt_string(lua_State *, int, const char *);
double	 luaha_check_timeout(lua_State *, int);

/* embed.c; embed_files is in build/embed-files.c, made by runtime/embed.sh */
struct embed_file {
	const char		*name;		/* the module's: "luaha.router", "piranha" */
	const char		*path;		/* in the source tree: "lua/luaha/router.lua" */
	int			 kind;		/* EMBED_MODULE, EMBED_POLICY (runs by name), EMBED_ASSET */
	const unsigned char	*text;
	size_t			 len;
};
#define EMBED_MODULE	0	/* lua/: a module */
#define EMBED_POLICY	1	/* policies/: a module that also runs by name */
#define EMBED_ASSET	2	/* lua/luaha/web/: a file served as it is (the web UI's script and style) */
extern const struct embed_file embed_files[];
void	 embed_searchers(lua_State *);
int	 embed_script(lua_State *, const char *);
int	 luaopen_luaha_core_embed(lua_State *);

/* log.c */
enum log_level {
	LOG_LEVEL_ERR, LOG_LEVEL_WARNING, LOG_LEVEL_NOTICE, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG
};
enum log_dest {
	LOG_DEST_STDERR,	/* timestamped lines */
	LOG_DEST_JOURNAL,	/* stderr is the journal's stream: <N> prefixes, no time */
	LOG_DEST_SYSLOG		/* datagrams to the syslog socket */
};
#define LOG_SOCKET_DEFAULT	"/dev/log"
void	 log_init(enum log_dest, enum log_level);
void	 log_set_level(enum log_level);
void	 log_set_dest(enum log_dest);
void	 log_set_tee(int);
enum log_dest log_get_dest(void);
int	 log_set_facility(const char *);
const char *log_get_facility(void);
int	 log_set_socket(const char *);
const char *log_get_socket(void);
void	 log_set_tag_idents(int);
int	 log_get_tag_idents(void);
void	 log_msg_tagged(enum log_level, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 log_level_byname(const char *);
void	 log_msg(enum log_level, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
int	 luaopen_luaha_core_procself(lua_State *);
int	 luaopen_luaha_core_log(lua_State *);

/* loop.c */
int			 loop_init(void);
void			 loop_free(void);
struct event_base	*loop_base(void);
void			 loop_ref(void);
void			 loop_unref(void);
int			 loop_run(void);
void			 loop_exit(int);
int			 loop_exiting(void);
double			 loop_now(void);
double			 loop_timeout(double, double);
lua_State		*loop_main_thread(lua_State *);
struct timeval		*loop_tv(double, struct timeval *);

/* task.c */
struct task;
struct task	*task_current(lua_State *);
#define TASK_FATAL	0x1		/* its failure ends the program with status 1 */
int		 task_spawn(lua_State *, int, const char *, int);
int		 task_alive(lua_State *, int);
int		 luaopen_luaha_core_task(lua_State *);

/* wait.c */
struct waiter;

/*
 * Called in the loop when the awaited event fires (what is EV_READ, EV_WRITE,
 * EV_TIMEOUT, or 0 when woken by task_wake). It pushes the results of the
 * waiting call onto co and returns their count, or returns -1 to keep waiting.
 */
typedef int (*waiter_done_fn)(lua_State *co, struct waiter *, short what);

struct waiter {
	struct task	*task;		/* the task waiting, NULL when idle */
	struct event	*ev;		/* fd and/or timeout event, made on first wait */
	waiter_done_fn	 done;		/* pushes the results when the wait ends */
	void		(*cancel)(struct waiter *);	/* optional: the task was cancelled */
	void		*arg;		/* for done and cancel */
	double		 deadline;	/* monotonic seconds, 0 for none */
	int		 anchor_ref;	/* keeps a handle alive while waiting, if > 0 */
};

int		 task_wait(lua_State *, struct waiter *, evutil_socket_t, short, double,
		    waiter_done_fn, void *, int);
int		 task_wait_at(lua_State *, struct waiter *, evutil_socket_t, short, double,
		    double, waiter_done_fn, void *, int);
void		 task_wake(struct waiter *);
struct waiter	*task_self_waiter(lua_State *);
void		 waiter_close(struct waiter *);

/* timer.c */
int	 luaopen_luaha_core_timer(lua_State *);

/* signal.c */
int	 signal_init(void);
void	 signal_free(void);
int	 luaopen_luaha_core_signal(lua_State *);

/* net.c */
int	 net_addr(const char *, int, struct sockaddr_storage *, socklen_t *);
int	 net_pushaddr(lua_State *, const struct sockaddr *);
int	 net_nonblock(int);
int	 net_connect_error(int, short);
uint32_t net_cksum_add(const void *, size_t, uint32_t);
uint16_t net_cksum(const void *, size_t, uint32_t);
int	 luaopen_luaha_core_net(lua_State *);

/* nlreq.c */
struct nlmsghdr;
struct nlreq;
struct nlchan;

enum nlreq_state { NLREQ_IDLE, NLREQ_QUEUED, NLREQ_SENT, NLREQ_DONE };

/*
 * Sends r's next message with nlreq_send and returns 1; or returns 0 when
 * r is over (its results in kerr, why and what reply gathered), or -1 with
 * r->why set. Called when r's turn comes, then each time a message of r
 * has been answered in full.
 */
typedef int (*nlreq_step_fn)(struct nlreq *);
/* Takes one message of an answer; returns NL_OK, or NL_STOP to ignore the rest of it. */
typedef int (*nlreq_reply_fn)(struct nlreq *, struct nlmsghdr *);
/* Pushes the results of r, over, onto L; returns their count. */
typedef int (*nlreq_push_fn)(lua_State *, struct nlreq *);

/* A request: the first member of a userdata, or of the record of a request with no task. */
struct nlreq {
	struct nlchan	*ch;		/* while queued or in flight */
	TAILQ_ENTRY(nlreq) entry;	/* in the channel's queue */
	enum nlreq_state state;
	lua_State	*L;		/* the caller's thread: replies and results go there */
	struct waiter	 w;		/* its task waits here */
	nlreq_step_fn	 step;
	nlreq_reply_fn	 reply;		/* NULL: no reply but the acknowledgement */
	nlreq_push_fn	 push;		/* for a task's request */
	void		(*finish)(struct nlreq *);	/* for a request of no task */
	void		(*release)(struct nlreq *);	/* frees what the request holds, if set */
	void		*arg;		/* for the functions above */
	double		 timeout;	/* seconds a message waits for its answer (5) */
	unsigned int	 seq0;		/* the message in flight: seq0 .. seq0 + n - 1 */
	int		 n;
	int		*errs;		/* a batch's: the kernel's errno for each part */
	int		 kerr;		/* the kernel's errno, 0 if none (not with errs) */
	char		 kmsg[160];	/* its extended ack message, "" if none */
	const char	*why;		/* a failure of our own, NULL if none */
	char		 whybuf[120];
	int		 stop;		/* reply said to ignore the rest of this answer */
	int		 intr;		/* a dump was interrupted (NLM_F_DUMP_INTR) */
};

/* A netlink socket and its requests; its owner opens and closes the socket. */
struct nlchan {
	int		 fd;		/* -1 while closed: opened at the next request */
	int		(*open)(struct nlchan *, const char **);	/* sets fd; -1 and why */
	void		(*drop)(struct nlchan *);	/* closes the socket */
	void		*owner;
	struct nlreq	*cur;		/* the request in flight */
	TAILQ_HEAD(, nlreq) queue;	/* and those waiting their turn */
	unsigned int	 seq;		/* the next sequence number */
	double		 deadline;	/* for the answer in flight */
	struct event	*rev;		/* the socket is readable (persistent) */
	struct event	*tev;		/* the deadline */
	unsigned char	*rbuf;		/* answers are read here */
	char		 whybuf[120];
};

extern const char nlreq_no_answer[];
void	 nlchan_init(struct nlchan *, int (*)(struct nlchan *, const char **),
	    void (*)(struct nlchan *), void *);
int	 nlchan_ready(struct nlchan *, const char **);
void	 nlchan_free(struct nlchan *);
void	 nlreq_init(struct nlreq *);
int	 nlreq_send(struct nlreq *, void *, size_t);
int	 nlreq_call(lua_State *, struct nlchan *, struct nlreq *, int);
void	 nlreq_submit(struct nlchan *, struct nlreq *);
void	 nlreq_cancel(struct nlreq *);
void	 nlreq_gc(struct nlreq *);

/* udp.c */
int	 luaopen_luaha_core_udp(lua_State *);

/* lines.c */
struct evbuffer;
struct lines {
	size_t	 max;		/* the longest line taken, without its end */
	size_t	 scanned;	/* bytes at the start of the buffer known to hold no line feed */
	int	 skipping;	/* dropping a refused line up to its line feed */
};
void	 lines_init(struct lines *, size_t);
size_t	 lines_opt_max(lua_State *, int, size_t);
void	 lines_drained(struct lines *, size_t);
int	 lines_skip(struct lines *, struct evbuffer *);
int	 lines_take(lua_State *, struct lines *, struct evbuffer *, const char *);

/* tcp.c */
#define TCP_MAX_LINE	(1024 * 1024)	/* receive("*l")'s bound unless max_line says */
void	 tcp_push_accepted(lua_State *, int, const char *, const char *, int, size_t);
int	 luaopen_luaha_core_tcp(lua_State *);

/* listen.c */
int	 luaopen_luaha_core_listen(lua_State *);

/* proc.c */
int	 luaopen_luaha_core_proc(lua_State *);

/* file.c */
int	 luaopen_luaha_core_file(lua_State *);

/* tty.c */
int	 luaopen_luaha_core_tty(lua_State *);

/* icmp.c */
int	 luaopen_luaha_core_icmp(lua_State *);

/* tcpcheck.c */
int	 luaopen_luaha_core_tcpcheck(lua_State *);

/* checker.c */
int	 luaopen_luaha_core_checker(lua_State *);

/* halfopen.c */
int	 luaopen_luaha_core_halfopen(lua_State *);

/* ipvs.c */
int	 luaopen_luaha_core_ipvs(lua_State *);

/* link.c (route.c, sysctl.c and linkwatch.c share link.h) */
int	 luaopen_luaha_core_link(lua_State *);

/* arp.c */
int	 luaopen_luaha_core_arp(lua_State *);

/* regex.c */
int	 luaopen_luaha_core_regex(lua_State *);

/* auth.c */
int	 luaopen_luaha_core_auth(lua_State *);

/* worker.c */
struct worker_job {
	void		(*run)(struct worker_job *);	/* in the worker thread: no Lua, no libevent */
	waiter_done_fn	 done;		/* in the loop: pushes the results (w.arg is the job) */
	void		(*release)(struct worker_job *);	/* frees the job, in the loop */
	struct waiter	 w;		/* the task waiting, if it still does */
	TAILQ_ENTRY(worker_job) entry;	/* in the pool's queues */
};
int	 worker_wait(lua_State *, struct worker_job *);
int	 worker_run(lua_State *, struct worker_job *);

/* dynlib.c */
/*
 * For a list of a library's functions written as an X-macro LIST(F):
 * LIST(DYNLIB_POINTER) declares a pointer of each one's type (in a struct),
 * LIST(DYNLIB_NAME) writes their names (for dynlib_load's names).
 */
#define DYNLIB_POINTER(name)	__typeof__(&name) name;
#define DYNLIB_NAME(name)	#name,
int	 dynlib_load(const char *, const char *const [], void *const [], size_t, char *, size_t);

/* readline.c */
int	 luaopen_luaha_core_readline(lua_State *);

/* message.c */
struct evbuffer;
void	 message_encode(lua_State *, int, struct evbuffer *);
int	 message_decode(lua_State *, const void *, size_t, const char **);

/* channel.c */
struct channel {
	int		 fd;		/* a non-blocking stream socket, -1 once closed */
	struct evbuffer	*in;		/* bytes read, not yet a whole message */
	struct evbuffer	*out;		/* messages not yet written */
	struct event	*wev;		/* writes out when the socket takes it */
	struct waiter	 rw;		/* the task in receive */
	int		 eof;		/* the other side closed, or the channel broke */
	char		 err[96];	/* why it broke, "" when it closed cleanly */
};
int	 channel_init(struct channel *, int);
void	 channel_close(struct channel *);
int	 channel_send(lua_State *, struct channel *, int);
int	 channel_receive(lua_State *, struct channel *, double, int);

/* part.c */
int	 part_set_parent(int);
int	 luaopen_luaha_core_part(lua_State *);

/* libs.c */
void	 libs_preload(lua_State *);

/* daemon.c */
int	 luaopen_luaha_core_daemon(lua_State *);

/* realtime.c */
int	 luaopen_luaha_core_realtime(lua_State *);

/* http.c */
int	 luaopen_luaha_core_http(lua_State *);

#endif
