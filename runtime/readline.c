/* readline.c: line input for the REPL: libedit on a terminal, plain lines otherwise; reading yields the task. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <editline/readline.h>

#include "luaha.h"

/*
 * libedit's callback interface owns the terminal only while its handler is
 * installed: install puts the terminal in raw mode and draws the prompt,
 * remove (which we do as soon as a line is complete) gives it back cooked.
 * So output of the code the line runs, and of other tasks meanwhile, goes to
 * a normal terminal, and the terminal is raw only while a task is reading.
 */
static struct {
	struct waiter	 w;		/* the task reading */
	int		 mode;		/* READLINE_NONE until the first use */
	struct evbuffer	*in;		/* plain mode: bytes read, not yet returned */
	struct lines	 lines;		/* plain mode: the bound on a line and the search so far */
	int		 fl;		/* plain mode: stdin's flags before O_NONBLOCK */
	int		 installed;	/* libedit's callback handler is set */
	char		*line;		/* libedit's finished line, or NULL */
	int		 eof;		/* libedit saw ^D on an empty line */
	char		 prompt[256];	/* the prompt libedit shows */
} rl;

#define READLINE_MAX_LINE	(1024 * 1024)	/* longer piped lines are refused */
#define READLINE_SLICE		65536	/* bytes read in one turn of the loop */

enum { READLINE_NONE, READLINE_EDIT, READLINE_PLAIN };

/*
 * libedit is loaded when a terminal first asks for a line (dynlib.c says
 * why: of all of luaha's processes only `luaha attach` and a script at a
 * terminal edit lines). Its functions and rl_outstream's address.
 */
#define READLINE_LIBRARY	"libedit.so.2"
#define READLINE_SYMBOLS(F)						\
	F(rl_initialize) F(rl_callback_handler_install)			\
	F(rl_callback_handler_remove) F(rl_callback_read_char)		\
	F(add_history) F(rl_outstream)
#define READLINE_SLOT(name)	&edit.name,

static struct {
	READLINE_SYMBOLS(DYNLIB_POINTER)
} edit;

/* The terminal's output stream: libedit's, or stdout. */
static FILE *
readline_out(void)
{
	return (edit.rl_outstream != NULL && *edit.rl_outstream != NULL ?
	    *edit.rl_outstream : stdout);
}

static void
readline_remove(void)
{
	if (rl.installed) {
		edit.rl_callback_handler_remove();
		rl.installed = 0;
	}
}

/*
 * Gives the terminal back if the program ends while a task is reading:
 * from lua_close through the module's __gc below, or at exit when the
 * process ends without closing the state (luaha.exit outside a task, fatal).
 */
static void
readline_atexit(void)
{
	if (rl.installed) {
		readline_remove();
		fputc('\n', readline_out());
	}
	if (rl.mode == READLINE_PLAIN)
		fcntl(STDIN_FILENO, F_SETFL, rl.fl);	/* stdin may be the shell's too */
}

/*
 * Chooses the mode once. libedit needs stdin and stdout to be terminals;
 * otherwise lines are read plainly and no prompt is printed, so piped
 * output holds only what the code printed.
 */
static int
readline_init(lua_State *L)
{
	static const char *const	 names[] = { READLINE_SYMBOLS(DYNLIB_NAME) };
	void *const			 slots[] = { READLINE_SYMBOLS(READLINE_SLOT) };
	char				 why[256];

	if (rl.mode != READLINE_NONE)
		return (0);
	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		if (dynlib_load(READLINE_LIBRARY, names, slots, sizeof(names) / sizeof(names[0]),
		    why, sizeof(why)) == -1)
			return (luaL_error(L, "cannot load libedit: %s", why));
		if (edit.rl_initialize() != 0)
			return (luaL_error(L, "cannot initialise libedit"));
		rl.mode = READLINE_EDIT;
	} else {
		if (rl.in == NULL && (rl.in = evbuffer_new()) == NULL)
			return (luaL_error(L, "cannot allocate a buffer"));
		lines_init(&rl.lines, READLINE_MAX_LINE);
		if ((rl.fl = fcntl(STDIN_FILENO, F_GETFL)) == -1 ||
		    net_nonblock(STDIN_FILENO) == -1)
			return (-1);		/* rl.in is kept for the next try */
		rl.mode = READLINE_PLAIN;
	}
	if (atexit(readline_atexit) != 0)
		return (luaL_error(L, "cannot register the terminal's restore"));
	return (0);
}

static void
readline_line_cb(char *line)
{
	FILE	*out = readline_out();

	rl.line = line;
	if (line == NULL) {
		/*
		 * In callback mode libedit echoes the ^D that ended input; the
		 * line was empty, so redrawing the prompt and two blanks hides
		 * it, and the newline puts what follows on a line of its own.
		 */
		fprintf(out, "\r%s  \n", rl.prompt);
		fflush(out);
		rl.eof = 1;
	}
	readline_remove();
}

/*
 * Pushes a complete line (without its end), nil at end of input, or returns
 * -1 to wait. A piped line is bounded and searched for only in new bytes
 * (lines.c); reading stops for a turn of the loop after READLINE_SLICE bytes.
 */
static int
readline_take(lua_State *L)
{
	size_t		 len, got = 0;
	ssize_t		 n;
	int		 r;
	char		 buf[4096];

	if (rl.mode == READLINE_EDIT) {
		if (rl.line != NULL) {
			lua_pushstring(L, rl.line);
			free(rl.line);
			rl.line = NULL;
			return (1);
		}
		if (rl.eof) {
			rl.eof = 0;	/* a terminal may be read again after ^D */
			lua_pushnil(L);
			return (1);
		}
		return (-1);
	}
	for (;;) {
		if ((r = lines_take(L, &rl.lines, rl.in, "read stdin")) > 0)
			return (r);
		if (got >= READLINE_SLICE)
			return (-1);
		if ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
			if (evbuffer_add(rl.in, buf, n) == -1)
				return (luaha_fail_errno(L, "read stdin"));
			got += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return (-1);
		if (n == -1)
			return (luaha_fail_errno(L, "read stdin"));
		if ((len = evbuffer_get_length(rl.in)) > 0) {	/* last line, no newline */
			lua_pushlstring(L, (char *)evbuffer_pullup(rl.in, len), len);
			evbuffer_drain(rl.in, len);
			lines_drained(&rl.lines, len);
			return (1);
		}
		lua_pushnil(L);
		return (1);
	}
}

/* libedit reads one key (or key sequence) per call; -1 keeps the task waiting. */
static int
readline_done(lua_State *co, struct waiter *w, short what)
{
	(void)w;
	(void)what;
	if (rl.mode == READLINE_EDIT)
		edit.rl_callback_read_char();
	return (readline_take(co));
}

/* The reading task was cancelled: give the terminal back. */
static void
readline_cancel(struct waiter *w)
{
	(void)w;
	readline_remove();
}

/*
 * readline([prompt]): a line typed at stdin, or nil at end of input (nil,
 * "read stdin: ..." if reading failed); other tasks run meanwhile. The
 * prompt (default "> ") is shown only when libedit edits the line.
 */
static int
readline_read(lua_State *L)
{
	const char	*prompt = luaL_optstring(L, 1, "> ");
	int		 n;

	if (task_current(L) == NULL || !lua_isyieldable(L))
		return (luaL_error(L, "attempt to wait outside a task"));
	if (rl.w.task != NULL)
		return (luaL_error(L, "another task is already reading stdin"));
	if (readline_init(L) == -1)
		return (luaha_fail_errno(L, "stdin"));
	if ((n = readline_take(L)) >= 0)
		return (n);
	if (rl.mode == READLINE_EDIT && !rl.installed) {
		snprintf(rl.prompt, sizeof(rl.prompt), "%s", prompt);
		edit.rl_callback_handler_install(rl.prompt, readline_line_cb);
		rl.installed = 1;
	}
	rl.w.cancel = readline_cancel;
	return (task_wait(L, &rl.w, STDIN_FILENO, EV_READ, -1, readline_done, NULL, 0));
}

/* add_history(line): remembered for Up-arrow; nothing to do without libedit. */
static int
readline_add_history(lua_State *L)
{
	const char	*line = luaL_checkstring(L, 1);

	if (rl.mode == READLINE_EDIT)
		edit.add_history(line);
	return (0);
}

/* isatty(): is stdin a terminal? */
static int
readline_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty(STDIN_FILENO));
	return (1);
}

/*
 * Runs in lua_close, before main frees the event base: the waiter's event
 * goes (a task still reading is detached, so its own __gc leaves it alone).
 */
static int
readline_gc(lua_State *L)
{
	(void)L;
	readline_atexit();
	waiter_close(&rl.w);
	free(rl.line);
	rl.line = NULL;
	if (rl.in != NULL) {
		evbuffer_free(rl.in);
		rl.in = NULL;
	}
	return (0);
}

static const luaL_Reg readline_funcs[] = {
	{ "readline", readline_read },
	{ "add_history", readline_add_history },
	{ "isatty", readline_isatty },
	{ NULL, NULL }
};

/* The functions share an upvalue whose __gc cleans up when the state closes. */
int
luaopen_luaha_core_readline(lua_State *L)
{
	luaL_newlibtable(L, readline_funcs);
	lua_newuserdatauv(L, 0, 0);
	luaL_newmetatable(L, "luaha.readline");
	lua_pushcfunction(L, readline_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	luaL_setfuncs(L, readline_funcs, 1);
	return (1);
}
