/* log.c: logging to stderr (timestamped, or with sd-daemon priority prefixes under systemd) or to syslog, for C and Lua (luaha.log). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

/*
 * Where lines go. One record is one line: a message with newlines in it (a
 * traceback) becomes a record per line, so that syslog and the journal never
 * hold a record that a line-based watcher sees only the first line of.
 */
static enum log_dest	 log_dest = LOG_DEST_STDERR;
static enum log_level	 log_threshold = LOG_LEVEL_INFO;
static int		 log_facility = LOG_DAEMON;
static int		 log_tag_idents;	/* a tagged line's tag is its syslog ident */
static int		 log_tee;		/* syslog lines go to stderr too (a daemon until ready) */
static char		 log_socket[sizeof(((struct sockaddr_un *)0)->sun_path)] = LOG_SOCKET_DEFAULT;
static int		 log_fd = -1;		/* the syslog socket, connected */
static unsigned long	 log_lost;		/* records the syslog socket did not take */

static const char *const log_names[] = {
	"err", "warning", "notice", "info", "debug", NULL
};
static const int log_priorities[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG
};

static const struct {
	const char	*name;
	int		 facility;
} log_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 }
};

static void	log_vtagged(enum log_level, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

/* libevent's own warnings go into our log, not onto a bare stderr. */
static void
log_event_cb(int severity, const char *msg)
{
	enum log_level	 level = severity == EVENT_LOG_DEBUG ? LOG_LEVEL_DEBUG :
	    severity == EVENT_LOG_MSG ? LOG_LEVEL_INFO :
	    severity == EVENT_LOG_WARN ? LOG_LEVEL_WARNING : LOG_LEVEL_ERR;

	log_msg(level, "libevent: %s", msg);
}

/*
 * Whether our stderr is the stream systemd connected to the journal: it puts
 * "device:inode" of that stream in JOURNAL_STREAM (systemd.exec(5)), and a
 * stderr redirected elsewhere by a script in between is not it.
 */
static int
log_journal_stream(void)
{
	const char	*env = getenv("JOURNAL_STREAM");
	uintmax_t	 dev, ino;
	struct stat	 st;
	char		 end;

	if (env == NULL || sscanf(env, "%ju:%ju%c", &dev, &ino, &end) != 2)
		return (0);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	return ((uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino);
}

/*
 * dest is LOG_DEST_STDERR or LOG_DEST_SYSLOG; stderr becomes
 * LOG_DEST_JOURNAL when it is the journal's stream.
 */
void
log_init(enum log_dest dest, enum log_level level)
{
	if (dest == LOG_DEST_STDERR && log_journal_stream())
		dest = LOG_DEST_JOURNAL;
	log_set_dest(dest);
	log_set_tag_idents(log_tag_idents);
	log_threshold = level;
	event_set_log_callback(log_event_cb);
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

void
log_set_dest(enum log_dest dest)
{
	log_dest = dest;
	if (dest != LOG_DEST_SYSLOG && log_fd != -1) {
		close(log_fd);
		log_fd = -1;
	}
}

/*
 * Whether syslog lines are written on stderr too: a new daemon's stderr is the
 * waiting parent's until it is ready, and what goes wrong at start-up is shown
 * where the daemon was started.
 */
void
log_set_tee(int on)
{
	log_tee = on;
}

enum log_dest
log_get_dest(void)
{
	return (log_dest);
}

/* Returns 0, or -1 when name is not a facility we accept. */
int
log_set_facility(const char *name)
{
	int	 i;

	for (i = 0; log_facilities[i].name != NULL; i++)
		if (strcmp(log_facilities[i].name, name) == 0) {
			log_facility = log_facilities[i].facility;
			return (0);
		}
	return (-1);
}

const char *
log_get_facility(void)
{
	int	 i;

	for (i = 0; log_facilities[i].name != NULL; i++)
		if (log_facilities[i].facility == log_facility)
			return (log_facilities[i].name);
	return ("daemon");
}

/* Returns 0, or -1 with errno ENAMETOOLONG. */
int
log_set_socket(const char *path)
{
	if (strlen(path) >= sizeof(log_socket)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	snprintf(log_socket, sizeof(log_socket), "%s", path);
	if (log_fd != -1) {
		close(log_fd);
		log_fd = -1;
	}
	return (0);
}

const char *
log_get_socket(void)
{
	return (log_socket);
}

/*
 * Tags as idents. The journal takes a stream's identifier from the unit, not
 * from a line: with them on, lines meant for the journal go to the syslog
 * socket, which the journal reads too, with their idents.
 */
void
log_set_tag_idents(int on)
{
	log_tag_idents = on;
	if (on && log_dest == LOG_DEST_JOURNAL)
		log_set_dest(LOG_DEST_SYSLOG);
}

int
log_get_tag_idents(void)
{
	return (log_tag_idents);
}

/* Returns the level called name, or -1. */
int
log_level_byname(const char *name)
{
	int	 i;

	for (i = 0; log_names[i] != NULL; i++)
		if (strcmp(log_names[i], name) == 0)
			return (i);
	return (-1);
}

static int
log_connect(void)
{
	struct sockaddr_un	 sun;

	if ((log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, log_socket, strlen(log_socket));
	if (connect(log_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(log_fd);
		log_fd = -1;
		return (-1);
	}
	return (0);
}

/*
 * One datagram to the syslog socket, as syslog(3) sends it. Without waiting
 * (MSG_DONTWAIT): a syslog daemon that is slow or stopped must not stall the
 * loop, least of all the heartbeat part's; what it does not take is counted
 * and said in the next record that gets through. A socket whose reader went
 * away (syslogd restarted) is connected again once.
 */
static void
log_syslog_send(const char *text, size_t len)
{
	int	 try;

	for (try = 0; try < 2; try++) {
		if (log_fd == -1 && log_connect() == -1)
			break;
		if (send(log_fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
			return;
		if (errno != ECONNREFUSED && errno != ENOTCONN && errno != ENOENT)
			break;
		close(log_fd);
		log_fd = -1;
	}
	log_lost++;
}

/* A message's time and pid, found once for its records (system calls in UML), and its gathered stderr records. */
struct log_batch {
	const char	*stamp;			/* "YYYY-mm-dd HH:MM:SS.mmm" */
	char		 syslog_stamp[32];	/* "Mon dd HH:MM:SS" */
	int		 pid;
	FILE		*out;			/* the stderr records, or NULL: straight to stderr */
};

static void
log_syslog_record(const struct log_batch *b, int priority, const char *ident, const char *tag,
    const char *line)
{
	const char	*stamp = b->syslog_stamp;
	char		 buf[2048];
	int		 n;

	if (log_lost > 0) {
		n = snprintf(buf, sizeof(buf), "<%d>%s %s[%d]: %lu log lines lost: "
		    "the syslog socket %s did not take them", log_facility | LOG_WARNING,
		    stamp, ident, b->pid, log_lost, log_socket);
		log_lost = 0;
		log_syslog_send(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	}
	n = snprintf(buf, sizeof(buf), "<%d>%s %s[%d]: %s%s%s", log_facility | priority,
	    stamp, ident, b->pid, tag != NULL ? tag : "", tag != NULL ? ": " : "", line);
	if (n < 0)
		return;
	log_syslog_send(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void
log_stderr_record(const struct log_batch *b, enum log_level level, const char *tag, const char *line)
{
	fprintf(b->out != NULL ? b->out : stderr, "%s %s: %s%s%s\n", b->stamp, log_names[level],
	    tag != NULL ? tag : "", tag != NULL ? ": " : "", line);
}

/* One record: one line of a message, written where lines go. */
static void
log_record(const struct log_batch *b, enum log_level level, const char *tag, const char *line)
{
	switch (log_dest) {
	case LOG_DEST_SYSLOG:
		if (log_tag_idents && tag != NULL)
			log_syslog_record(b, log_priorities[level], tag, NULL, line);
		else
			log_syslog_record(b, log_priorities[level], "luaha", tag, line);
		if (log_tee)
			log_stderr_record(b, level, tag, line);
		break;
	case LOG_DEST_JOURNAL:
		/* sd-daemon(3): the priority in front; the journal adds the time. */
		fprintf(b->out != NULL ? b->out : stderr, "<%d>%s%s%s\n", log_priorities[level],
		    tag != NULL ? tag : "", tag != NULL ? ": " : "", line);
		break;
	case LOG_DEST_STDERR:
		log_stderr_record(b, level, tag, line);
		break;
	}
}

/*
 * Each line of the message is a record of its own, made first and written
 * with one call: stderr is unbuffered, and a write per piece cost three
 * system calls a line (0.08 s for a reload's hundreds in UML) and let
 * another writer's bytes in between. A message's stderr records are
 * gathered into one write (a table's operations go 256 lines a message).
 */
static void
log_vtagged(enum log_level level, const char *tag, const char *fmt, va_list ap)
{
	struct log_batch b;
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[48], day[32];
	char		*msg, *line, *nl, *gathered = NULL;
	size_t		 len = 0;
	int		 saved_errno = errno;

	if (level > log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(stamp, sizeof(stamp), "%s.%03ld", day, ts.tv_nsec / 1000000);
	b.stamp = stamp, b.pid = (int)getpid(), b.out = NULL;
	strftime(b.syslog_stamp, sizeof(b.syslog_stamp), "%b %e %H:%M:%S", &tm);
	if (vasprintf(&msg, fmt, ap) == -1) {
		log_record(&b, level, tag, "(out of memory formatting a log message)");
		errno = saved_errno;
		return;
	}
	if (strchr(msg, '\n') != NULL)	/* NULL without memory: one by one */
		b.out = open_memstream(&gathered, &len);
	for (line = msg; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (*line == '\t')	/* a traceback's indent, which syslog would escape */
			line++;
		if (*line != '\0' || line == msg)
			log_record(&b, level, tag, line);
	}
	if (b.out != NULL && fclose(b.out) == 0 && len > 0)
		fwrite(gathered, 1, len, stderr);
	free(gathered);
	fflush(stderr);
	free(msg);
	errno = saved_errno;
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	log_vtagged(level, NULL, fmt, ap);
}

/* A line of the part of the program called tag (NULL: none). */
void
log_msg_tagged(enum log_level level, const char *tag, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vtagged(level, tag, fmt, ap);
	va_end(ap);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* Like log_warnx, with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_WARNING, "%s: %s", buf, strerror(saved_errno));
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 saved_errno = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_ERR, "fatal: %s: %s", buf, strerror(saved_errno));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_ERR, "fatal: %s", buf);
	exit(1);
}

/* Lua: formats the arguments from idx on with string.format and logs them at level, tagged or not. */
static int
log_lua_format(lua_State *L, enum log_level level, const char *tag, int idx)
{
	int	 n = lua_gettop(L) - idx + 1;

	if ((int)level > (int)log_threshold)
		return (0);
	luaL_checkstring(L, idx);
	lua_getglobal(L, "string");
	lua_getfield(L, -1, "format");
	lua_remove(L, -2);
	lua_insert(L, idx);
	lua_call(L, n, 1);
	log_msg_tagged(level, tag, "%s", lua_tostring(L, -1));
	return (0);
}

static int
log_lua_at(lua_State *L, enum log_level level)
{
	return (log_lua_format(L, level, NULL, 1));
}

/*
 * tagged(tag, level, fmt, ...): a line of the part of the program called tag
 * ("pulse", "nanny"): "tag: line", or with tag_idents on and syslog, a line
 * under the ident tag.
 */
static int
log_lua_tagged(lua_State *L)
{
	const char	*tag = luaL_checkstring(L, 1);
	int		 level = log_level_byname(luaL_checkstring(L, 2));

	if (level == -1)
		return (luaL_argerror(L, 2, "not a log level (debug, info, notice, warning, err)"));
	return (log_lua_format(L, level, tag, 3));
}

/* tag_idents([on]): whether a tag is the syslog ident; sets it when on is given. */
static int
log_lua_tag_idents(lua_State *L)
{
	int	 old = log_tag_idents;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TBOOLEAN);
		log_set_tag_idents(lua_toboolean(L, 1));
	}
	lua_pushboolean(L, old);
	return (1);
}

/* destination(): "stderr", "journal" or "syslog", and the syslog facility's name. */
static int
log_lua_destination(lua_State *L)
{
	static const char *const names[] = { "stderr", "journal", "syslog" };

	lua_pushstring(L, names[log_dest]);
	lua_pushstring(L, log_get_facility());
	return (2);
}

static int
log_lua_debug(lua_State *L)
{
	return (log_lua_at(L, LOG_LEVEL_DEBUG));
}

static int
log_lua_info(lua_State *L)
{
	return (log_lua_at(L, LOG_LEVEL_INFO));
}

static int
log_lua_notice(lua_State *L)
{
	return (log_lua_at(L, LOG_LEVEL_NOTICE));
}

static int
log_lua_warning(lua_State *L)
{
	return (log_lua_at(L, LOG_LEVEL_WARNING));
}

static int
log_lua_err(lua_State *L)
{
	return (log_lua_at(L, LOG_LEVEL_ERR));
}

/* level([name]): returns the current level's name, setting a new one if given. */
static int
log_lua_level(lua_State *L)
{
	enum log_level	 old = log_threshold;
	int		 level;

	if (!lua_isnoneornil(L, 1)) {
		level = log_level_byname(luaL_checkstring(L, 1));
		if (level == -1)
			return (luaL_argerror(L, 1, "not a log level "
			    "(debug, info, notice, warning, err)"));
		log_threshold = level;
	}
	lua_pushstring(L, log_names[old]);
	return (1);
}

static const luaL_Reg log_funcs[] = {
	{ "debug", log_lua_debug },
	{ "info", log_lua_info },
	{ "notice", log_lua_notice },
	{ "warning", log_lua_warning },
	{ "err", log_lua_err },
	{ "level", log_lua_level },
	{ "tagged", log_lua_tagged },
	{ "tag_idents", log_lua_tag_idents },
	{ "destination", log_lua_destination },
	{ NULL, NULL }
};

int
luaopen_luaha_core_log(lua_State *L)
{
	luaL_newlib(L, log_funcs);
	return (1);
}
