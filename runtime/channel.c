/* channel.c: messages over a stream socket between a daemon's parts: framing, a write buffer, waiting for the next one. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "luaha.h"

/*
 * A message is a frame: a 4-byte little-endian length, then a value as
 * message.c writes it. A channel never blocks: what the socket cannot take
 * yet waits in a buffer (at most CHANNEL_OUT_MAX bytes: beyond that a send
 * is refused, so a part that stopped reading costs memory only up to there)
 * and a frame longer than CHANNEL_MESSAGE_MAX breaks the channel. At most
 * CHANNEL_READ_MAX bytes are read per wake-up, so a flood holds the loop for
 * the decoding of one such slice (well under a millisecond), then other
 * tasks run.
 */
#define CHANNEL_MESSAGE_MAX	(16 * 1024 * 1024)
#define CHANNEL_OUT_MAX		(16 * 1024 * 1024)
#define CHANNEL_READ_MAX	(256 * 1024)

/* The channel broke or closed: no more reading or writing; why (NULL: a clean close) is kept for receive. */
static void
channel_broken(struct channel *ch, const char *why)
{
	if (why != NULL && ch->err[0] == '\0')
		snprintf(ch->err, sizeof(ch->err), "%s", why);
	ch->eof = 1;
	if (ch->wev != NULL)
		event_del(ch->wev);
	if (ch->out != NULL)
		evbuffer_drain(ch->out, evbuffer_get_length(ch->out));
}

/* Writes what out holds, as far as the socket takes it now; the rest when it is writable. */
static void
channel_flush(struct channel *ch)
{
	while (!ch->eof && evbuffer_get_length(ch->out) > 0) {
		if (evbuffer_write(ch->out, ch->fd) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			channel_broken(ch, errno == EPIPE || errno == ECONNRESET ?
			    NULL : strerror(errno));
			return;
		}
	}
	if (!ch->eof && evbuffer_get_length(ch->out) > 0)
		event_add(ch->wev, NULL);
	else
		event_del(ch->wev);
}

static void
channel_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	channel_flush(arg);
}

/* Sets ch up on fd, a non-blocking stream socket it then owns. 0, or -1 with errno set. */
int
channel_init(struct channel *ch, int fd)
{
	memset(ch, 0, sizeof(*ch));
	ch->fd = fd;
	if ((ch->in = evbuffer_new()) == NULL || (ch->out = evbuffer_new()) == NULL ||
	    (ch->wev = event_new(loop_base(), fd, EV_WRITE | EV_PERSIST,
	    channel_write_cb, ch)) == NULL) {
		channel_close(ch);
		errno = ENOMEM;
		return (-1);
	}
	return (0);
}

/* Closes the socket (the other side reads "closed") and frees the buffers; a task waiting gets nil, "closed". */
void
channel_close(struct channel *ch)
{
	waiter_close(&ch->rw);
	if (ch->wev != NULL)
		event_free(ch->wev);
	ch->wev = NULL;
	if (ch->in != NULL)
		evbuffer_free(ch->in);
	if (ch->out != NULL)
		evbuffer_free(ch->out);
	ch->in = ch->out = NULL;
	if (ch->fd != -1 && close(ch->fd) == -1)
		log_warn("channel: close");
	ch->fd = -1;
	ch->eof = 1;
}

/*
 * Reads what the socket holds (at most CHANNEL_READ_MAX), then pushes the
 * first whole message and returns 1; returns -1 when none is whole yet, or
 * pushes nil and why: "closed" (the other side left) or "channel: <why>".
 */
static int
channel_try_receive(lua_State *L, struct channel *ch)
{
	unsigned char	 head[4];
	const char	*why;
	size_t		 got = 0;
	uint32_t	 len;
	int		 n;

	while (!ch->eof && got < CHANNEL_READ_MAX) {
		if ((n = evbuffer_read(ch->in, ch->fd, 65536)) > 0) {
			got += n;
			continue;
		}
		if (n == 0)
			channel_broken(ch, NULL);
		else if (errno != EAGAIN && errno != EINTR)
			channel_broken(ch, strerror(errno));
		break;
	}
	if (evbuffer_copyout(ch->in, head, 4) == 4) {
		len = head[0] | head[1] << 8 | head[2] << 16 | (uint32_t)head[3] << 24;
		if (len > CHANNEL_MESSAGE_MAX) {
			channel_broken(ch, "a message beyond the size limit");
			evbuffer_drain(ch->in, evbuffer_get_length(ch->in));
		} else if (evbuffer_get_length(ch->in) >= 4 + (size_t)len) {
			evbuffer_drain(ch->in, 4);
			n = message_decode(L, evbuffer_pullup(ch->in, len), len, &why);
			evbuffer_drain(ch->in, len);
			if (!n)
				return (luaha_fail(L, "channel: a bad message: %s", why));
			return (1);
		}
	}
	if (!ch->eof)
		return (-1);
	lua_pushnil(L);
	if (ch->err[0] != '\0')
		lua_pushfstring(L, "channel: %s", ch->err);
	else
		lua_pushliteral(L, "closed");
	return (2);
}

static int
channel_receive_done(lua_State *co, struct waiter *w, short what)
{
	int	 n;

	/*
	 * A message that came by the deadline is the answer even when the loop,
	 * busy elsewhere, runs the timeout first.
	 */
	if ((n = channel_try_receive(co, w->arg)) >= 0)
		return (n);
	if (what & EV_TIMEOUT) {
		lua_pushnil(co);
		lua_pushliteral(co, "timeout");
		return (2);
	}
	return (n);
}

/*
 * The next message, waiting for it at most timeout seconds (< 0: no limit);
 * the value at anchor stays alive meanwhile. Pushes the message, or nil and
 * "timeout", "closed" or "channel: <why>". To be returned from a Lua-facing
 * function: `return (channel_receive(...));`.
 */
int
channel_receive(lua_State *L, struct channel *ch, double timeout, int anchor)
{
	int	 n;

	if ((n = channel_try_receive(L, ch)) >= 0)
		return (n);
	return (task_wait(L, &ch->rw, ch->fd, EV_READ, timeout, channel_receive_done,
	    ch, anchor));
}

static int
channel_encode(lua_State *L)
{
	message_encode(L, 1, lua_touserdata(L, 2));
	return (0);
}

/*
 * Queues the value at idx as a message and writes what the socket takes;
 * never waits. Pushes true, or nil and "closed" or "channel: the other side
 * is not reading (N bytes waiting)". A value that cannot be sent raises.
 */
int
channel_send(lua_State *L, struct channel *ch, int idx)
{
	struct evbuffer	*msg;
	unsigned char	 head[4];
	size_t		 len;

	idx = lua_absindex(L, idx);
	if (ch->eof) {
		lua_pushnil(L);
		lua_pushliteral(L, "closed");
		return (2);
	}
	if (evbuffer_get_length(ch->out) > CHANNEL_OUT_MAX)
		return (luaha_fail(L, "channel: the other side is not reading (%zu bytes waiting)",
		    evbuffer_get_length(ch->out)));
	if ((msg = evbuffer_new()) == NULL)
		return (luaL_error(L, "channel: out of memory"));
	/* The encoder raises on a value that cannot be sent: msg must not leak then. */
	lua_pushcfunction(L, channel_encode);
	lua_pushvalue(L, idx);
	lua_pushlightuserdata(L, msg);
	if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
		evbuffer_free(msg);
		return (lua_error(L));
	}
	if ((len = evbuffer_get_length(msg)) > CHANNEL_MESSAGE_MAX) {
		evbuffer_free(msg);
		return (luaL_error(L, "channel: a message of %zu bytes is beyond the limit of %d",
		    len, CHANNEL_MESSAGE_MAX));
	}
	head[0] = len & 0xff;
	head[1] = (len >> 8) & 0xff;
	head[2] = (len >> 16) & 0xff;
	head[3] = (len >> 24) & 0xff;
	if (evbuffer_add(ch->out, head, 4) == -1 || evbuffer_add_buffer(ch->out, msg) == -1) {
		evbuffer_free(msg);
		return (luaL_error(L, "channel: out of memory"));
	}
	evbuffer_free(msg);
	channel_flush(ch);
	if (ch->eof) {
		lua_pushnil(L);
		lua_pushliteral(L, "closed");
		return (2);
	}
	return (luaha_ok(L));
}
