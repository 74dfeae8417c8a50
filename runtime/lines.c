/* lines.c: bounded lines out of a buffer that fills as bytes arrive, for connections and stdin. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <event2/buffer.h>

#include "luaha.h"

/*
 * Two things keep a peer that sends a huge line from holding the loop or the
 * memory: a line feed is looked for only in the bytes that came since the
 * last look (searching the whole buffer after each read is quadratic: a
 * 64 MiB line held the loop for 15 s), and a line longer than max is refused
 * as soon as it gets that long, then dropped as the rest of it arrives.
 */

void
lines_init(struct lines *l, size_t max)
{
	l->max = max;
	l->scanned = 0;
	l->skipping = 0;
}

/* The option max_line of the options table at idx: a whole number of bytes from 1 to 1e9. */
size_t
lines_opt_max(lua_State *L, int idx, size_t def)
{
	double	 v = luaha_opt_number(L, idx, "max_line", (double)def);

	if (!(v >= 1 && v <= 1e9) || v != (double)(size_t)v)	/* NaN too */
		luaL_error(L, "option 'max_line' must be a whole number from 1 to 1e9");
	return ((size_t)v);
}

/* The caller took n bytes off the front of the buffer: what was searched of the rest stays searched. */
void
lines_drained(struct lines *l, size_t n)
{
	l->scanned = l->scanned > n ? l->scanned - n : 0;
}

/* Where the next line feed is, looking only past what earlier calls looked at; -1 if none yet. */
static ev_ssize_t
lines_find(struct lines *l, struct evbuffer *buf)
{
	struct evbuffer_ptr	 from, lf;
	size_t			 len = evbuffer_get_length(buf);

	if (l->scanned >= len)
		return (-1);
	if (evbuffer_ptr_set(buf, &from, l->scanned, EVBUFFER_PTR_SET) == -1)
		return (-1);
	lf = evbuffer_search(buf, "\n", 1, &from);
	if (lf.pos == -1)
		l->scanned = len;
	return (lf.pos);
}

/*
 * Drops the rest of a refused line, up to and with its line feed: 1 when it
 * is all gone (or none was refused), 0 while its end has still to come.
 */
int
lines_skip(struct lines *l, struct evbuffer *buf)
{
	ev_ssize_t	 lf;

	if (!l->skipping)
		return (1);
	if ((lf = lines_find(l, buf)) == -1) {
		evbuffer_drain(buf, evbuffer_get_length(buf));
		l->scanned = 0;
		return (0);
	}
	evbuffer_drain(buf, (size_t)lf + 1);
	l->scanned = 0;
	l->skipping = 0;
	return (1);
}

/*
 * Pushes the next line without its line feed (nor a carriage return before
 * it) and returns 1; or refuses an over-long line, pushing nil and "WHAT:
 * line longer than MAX bytes", and returns 2; or returns 0 to wait for more.
 */
int
lines_take(lua_State *L, struct lines *l, struct evbuffer *buf, const char *what)
{
	ev_ssize_t	 lf;
	size_t		 len;
	const char	*line;

	if (!lines_skip(l, buf))
		return (0);
	lf = lines_find(l, buf);
	if (lf == -1 && evbuffer_get_length(buf) <= l->max)
		return (0);
	if (lf == -1 || (size_t)lf > l->max) {
		l->skipping = 1;
		lines_skip(l, buf);
		lua_pushnil(L);
		lua_pushfstring(L, "%s: line longer than %I bytes", what, (lua_Integer)l->max);
		return (2);
	}
	len = (size_t)lf;
	line = (const char *)evbuffer_pullup(buf, (ev_ssize_t)len + 1);
	lua_pushlstring(L, line, len > 0 && line[len - 1] == '\r' ? len - 1 : len);
	evbuffer_drain(buf, len + 1);
	l->scanned = 0;
	return (1);
}
