/* tty.c: one line from the standard input, with the terminal's echo off for a password (luaha.core.tty). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "luaha.h"

/*
 * While a line is read, INT, TERM, HUP and QUIT interrupt the read instead of
 * waiting for it to end (libevent's handlers restart it: SA_RESTART), so that
 * control-C at a password prompt gives the terminal its echo back at once.
 * The previous handlers, libevent's, are put back after the line.
 */
static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define TTY_NSIGNALS	(sizeof(tty_signals) / sizeof(tty_signals[0]))
#define TTY_MAX		4096	/* bytes of a line at most: a terminal's own limit */

static volatile sig_atomic_t tty_caught;

static void
tty_catch(int signo)
{
	tty_caught = signo;
}

static int
tty_trap(struct sigaction *saved)
{
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_catch;	/* no SA_RESTART: the read returns EINTR */
	sigemptyset(&sa.sa_mask);
	tty_caught = 0;
	for (i = 0; i < TTY_NSIGNALS; i++)
		if (sigaction(tty_signals[i], &sa, &saved[i]) == -1) {
			while (i-- > 0)
				sigaction(tty_signals[i], &saved[i], NULL);
			return (-1);
		}
	return (0);
}

static void
tty_untrap(const struct sigaction *saved)
{
	size_t	 i;

	for (i = 0; i < TTY_NSIGNALS; i++)
		if (sigaction(tty_signals[i], &saved[i], NULL) == -1)
			log_warn("tty: restore the handler of signal %d", tty_signals[i]);
}

/*
 * Reads fd 0 a byte at a time up to a newline, so that nothing after the line
 * is taken from a pipe that another reader shares. Returns the length read
 * (the newline not counted; *nl says whether one ended the line), -1 with errno
 * set, or -2 when more than max bytes came before the newline. A non-blocking
 * descriptor is waited on with poll.
 */
static ssize_t
tty_read(char *buf, size_t max, int *nl)
{
	struct pollfd	 pfd = { STDIN_FILENO, POLLIN, 0 };
	size_t		 got = 0;
	ssize_t		 n;
	char		 c;

	*nl = 0;
	for (;;) {
		if (tty_caught) {
			errno = EINTR;
			return (-1);
		}
		if ((n = read(STDIN_FILENO, &c, 1)) == -1) {
			if (errno == EAGAIN && poll(&pfd, 1, -1) != -1)
				continue;
			if (errno == EINTR && !tty_caught)
				continue;	/* another signal: read on */
			return (-1);
		}
		if (n == 0)
			return ((ssize_t)got);
		if (c == '\n') {
			*nl = 1;
			return ((ssize_t)got);
		}
		if (got == max)
			return (-2);
		buf[got++] = c;
	}
}

/*
 * read_line(max [, prompt]): one line of the standard input without its
 * newline, at most max bytes (1 to 4096, a terminal's line): for a password. With prompt, the
 * standard input must be a terminal: prompt is written to the standard error,
 * the terminal's echo is off until the line ends, then a newline is written.
 * Returns the line, or nil and "end of input" (nothing before it; a last line
 * without its newline is returned), "interrupted" (a signal: INT, TERM, HUP,
 * QUIT), "longer than MAX bytes", "not a terminal", or "read: <reason>".
 * Does not yield: it holds the loop until the line is typed. For commands,
 * never for a daemon.
 */
static int
tty_read_line(lua_State *L)
{
	lua_Integer		 max = luaL_checkinteger(L, 1);
	const char		*prompt = luaL_optstring(L, 2, NULL);
	struct sigaction	 saved[TTY_NSIGNALS];
	struct termios		 old, quiet;
	ssize_t			 n;
	char			 buf[TTY_MAX];
	int			 nl, saved_errno, echo_off = 0;

	luaL_argcheck(L, max >= 1 && max <= TTY_MAX, 1, "1 to 4096 bytes");
	if (prompt != NULL) {
		if (!isatty(STDIN_FILENO))
			return (luaha_fail(L, "not a terminal"));
		if (tcgetattr(STDIN_FILENO, &old) == -1)
			return (luaha_fail_errno(L, "tcgetattr"));
	}
	if (tty_trap(saved) == -1)
		return (luaha_fail_errno(L, "sigaction"));
	if (prompt != NULL) {
		quiet = old;
		quiet.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1) {
			saved_errno = errno;
			tty_untrap(saved);
			errno = saved_errno;
			return (luaha_fail_errno(L, "tcsetattr"));
		}
		echo_off = 1;
		if (write(STDERR_FILENO, prompt, strlen(prompt)) == -1)
			log_warn("tty: write the prompt");
	}
	n = tty_read(buf, (size_t)max, &nl);
	saved_errno = errno;
	if (echo_off) {
		if (tcsetattr(STDIN_FILENO, TCSANOW, &old) == -1)
			log_warn("tty: give the terminal its echo back");
		if (write(STDERR_FILENO, "\n", 1) == -1)
			log_warn("tty: write the newline");
	}
	tty_untrap(saved);
	if (n >= 0 && (n > 0 || nl))
		lua_pushlstring(L, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));	/* the Lua string is the only copy left */
	if (n == -2)
		return (luaha_fail(L, "longer than %d bytes", (int)max));
	if (n == -1) {
		if (saved_errno == EINTR)
			return (luaha_fail(L, "interrupted"));
		errno = saved_errno;
		return (luaha_fail_errno(L, "read"));
	}
	if (n == 0 && !nl)
		return (luaha_fail(L, "end of input"));
	return (1);
}

static const luaL_Reg tty_funcs[] = {
	{ "read_line", tty_read_line },
	{ NULL, NULL }
};

int
luaopen_luaha_core_tty(lua_State *L)
{
	luaL_newlib(L, tty_funcs);
	return (1);
}
