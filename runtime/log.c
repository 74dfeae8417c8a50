/* log.c: logging to stderr with a timestamp or to syslog, for C and for Lua (luaha.log). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "luaha.h"

static int		 log_to_syslog;		/* 0: stderr */
static enum log_level	 log_threshold = LOG_LEVEL_INFO;

static const char *const log_names[] = {
	"err", "warning", "notice", "info", "debug", NULL
};
static const int log_priorities[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG
};

static void	log_vmsg(enum log_level, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* libevent's own warnings go into our log, not onto a bare stderr. */
static void
log_event_cb(int severity, const char *msg)
{
	enum log_level	 level;

	switch (severity) {
	case EVENT_LOG_DEBUG:
		level = LOG_LEVEL_DEBUG;
		break;
	case EVENT_LOG_MSG:
		level = LOG_LEVEL_INFO;
		break;
	case EVENT_LOG_WARN:
		level = LOG_LEVEL_WARNING;
		break;
	default:
		level = LOG_LEVEL_ERR;
		break;
	}
	log_msg(level, "libevent: %s", msg);
}

void
log_init(int use_syslog, enum log_level level)
{
	log_to_syslog = use_syslog;
	log_threshold = level;
	if (use_syslog)
		openlog("luaha", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	event_set_log_callback(log_event_cb);
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

/* Whether lines go to syslog (a part started from here logs where we do). */
int
log_syslog(void)
{
	return (log_to_syslog);
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

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 stamp[32];
	char		*msg;
	int		 saved_errno = errno;

	if (level > log_threshold)
		return;
	if (log_to_syslog) {
		vsyslog(log_priorities[level], fmt, ap);
		errno = saved_errno;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	/*
	 * The line is made first and written with one call: stderr is unbuffered, and a
	 * write per piece cost three system calls a line (a reload logging hundreds of
	 * operations spent 0.08 s on it in UML), and let another writer's bytes in between.
	 */
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	fprintf(stderr, "%s.%03ld %s: %s\n", stamp, ts.tv_nsec / 1000000,
	    log_names[level], msg != NULL ? msg : "(out of memory formatting a log message)");
	fflush(stderr);
	free(msg);
	errno = saved_errno;
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

/* Lua: the level's function formats its arguments with string.format. */
static int
log_lua_at(lua_State *L, enum log_level level)
{
	int	 n = lua_gettop(L);

	if ((int)level > (int)log_threshold)
		return (0);
	luaL_checkstring(L, 1);
	lua_getglobal(L, "string");
	lua_getfield(L, -1, "format");
	lua_insert(L, 1);
	lua_pop(L, 1);
	lua_call(L, n, 1);
	log_msg(level, "%s", lua_tostring(L, -1));
	return (0);
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
	{ NULL, NULL }
};

int
luaopen_luaha_core_log(lua_State *L)
{
	luaL_newlib(L, log_funcs);
	return (1);
}
