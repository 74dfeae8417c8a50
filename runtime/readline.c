/* readline.c: line input for the REPL: libedit on a terminal, plain lines otherwise; reading yields the task. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <editline/readline.h>

#include "luaha.h"

static struct {
	struct waiter	 w;		/* the task reading */
	struct evbuffer	*in;		/* plain mode: bytes not yet returned */
	int		 tty;		/* stdin is a terminal: libedit */
	int		 installed;	/* libedit's callback handler is set */
	char		*line;		/* libedit's finished line, or NULL */
	int		 eof;
} rl;

static void
readline_line_cb(char *line)
{
	rl.line = line;
	if (line == NULL)
		rl.eof = 1;
	rl_callback_handler_remove();
	rl.installed = 0;
}

/* Pushes a complete line (without its end), nil at end of input, or returns -1 to wait. */
static int
readline_take(lua_State *L)
{
	char		*line;
	size_t		 len;
	ssize_t		 n;
	char		 buf[4096];

	if (rl.tty) {
		if (rl.line != NULL) {
			lua_pushstring(L, rl.line);
			free(rl.line);
			rl.line = NULL;
			return (1);
		}
		if (rl.eof) {
			rl.eof = 0;
			lua_pushnil(L);
			return (1);
		}
		return (-1);
	}
	for (;;) {
		if ((line = evbuffer_readln(rl.in, &len, EVBUFFER_EOL_LF)) != NULL) {
			lua_pushlstring(L, line, len);
			free(line);
			return (1);
		}
		if ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
			evbuffer_add(rl.in, buf, n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return (-1);
		if ((len = evbuffer_get_length(rl.in)) > 0) {	/* last line, no newline */
			lua_pushlstring(L, (char *)evbuffer_pullup(rl.in, len), len);
			evbuffer_drain(rl.in, len);
			return (1);
		}
		lua_pushnil(L);
		return (1);
	}
}

static int
readline_done(lua_State *co, struct waiter *w, short what)
{
	(void)w;
	(void)what;
	if (rl.tty)
		rl_callback_read_char();
	return (readline_take(co));
}

/* readline(prompt): a line typed at stdin, or nil at end of input; other tasks run meanwhile. */
static int
readline_read(lua_State *L)
{
	const char	*prompt = luaL_optstring(L, 1, "> ");
	int		 n;

	if (rl.in == NULL) {
		rl.tty = isatty(STDIN_FILENO);
		if ((rl.in = evbuffer_new()) == NULL)
			return (luaL_error(L, "cannot allocate a buffer"));
		if (!rl.tty && net_nonblock(STDIN_FILENO) == -1)
			return (luaha_fail_errno(L, "stdin"));
	}
	if (rl.tty && !rl.installed) {
		rl_callback_handler_install(prompt, readline_line_cb);
		rl.installed = 1;
	}
	if ((n = readline_take(L)) >= 0)
		return (n);
	return (task_wait(L, &rl.w, STDIN_FILENO, EV_READ, -1, readline_done, NULL, 0));
}

static int
readline_add_history(lua_State *L)
{
	add_history(luaL_checkstring(L, 1));
	return (0);
}

static int
readline_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty(STDIN_FILENO));
	return (1);
}

static const luaL_Reg readline_funcs[] = {
	{ "readline", readline_read },
	{ "add_history", readline_add_history },
	{ "isatty", readline_isatty },
	{ NULL, NULL }
};

int
luaopen_luaha_core_readline(lua_State *L)
{
	luaL_newlib(L, readline_funcs);
	return (1);
}
