/* message.c: Lua values as bytes and back, for the messages between a daemon's parts (part.c). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "luaha.h"

/*
 * A value is a tag byte and its payload; integers are little-endian:
 *
 *	'n'			nil
 *	'f' 't'			false, true
 *	'i' int64		an integer
 *	'd' 8 bytes		a float (the IEEE double, as its bits in an int64)
 *	's' u32 len, bytes	a string
 *	'T' u32 n, n pairs	a table: n keys, each followed by its value
 *
 * Only what is plain data crosses: a function, a userdata, a thread or a
 * table with a metatable is a programmer's error, and so is nesting deeper
 * than MESSAGE_DEPTH (which also catches cycles). The reader trusts nothing:
 * every length is checked against what is left, so a short or hostile
 * message is refused without reading beyond it or allocating for counts it
 * cannot hold.
 */
#define MESSAGE_DEPTH	32

struct message_reader {
	const unsigned char	*p;		/* the next byte */
	const unsigned char	*end;
	const char		*why;		/* set at the first problem */
};

static void
message_put_u32(struct evbuffer *out, uint32_t v)
{
	unsigned char	 b[4];
	int		 i;

	for (i = 0; i < 4; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	evbuffer_add(out, b, sizeof(b));
}

static void
message_put_u64(struct evbuffer *out, uint64_t v)
{
	unsigned char	 b[8];
	int		 i;

	for (i = 0; i < 8; i++)
		b[i] = (v >> (8 * i)) & 0xff;
	evbuffer_add(out, b, sizeof(b));
}

static void
message_put_tag(struct evbuffer *out, char tag)
{
	evbuffer_add(out, &tag, 1);
}

static void
message_put(lua_State *L, int idx, struct evbuffer *out, int depth)
{
	lua_Integer	 n;
	lua_Number	 d;
	uint64_t	 bits;
	const char	*s;
	size_t		 len;
	size_t		 count;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		message_put_tag(out, 'n');
		break;
	case LUA_TBOOLEAN:
		message_put_tag(out, lua_toboolean(L, idx) ? 't' : 'f');
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			n = lua_tointeger(L, idx);
			message_put_tag(out, 'i');
			message_put_u64(out, (uint64_t)n);
		} else {
			d = lua_tonumber(L, idx);
			memcpy(&bits, &d, sizeof(bits));
			message_put_tag(out, 'd');
			message_put_u64(out, bits);
		}
		break;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if (len > UINT32_MAX)
			luaL_error(L, "message: a string of %zu bytes is too long", len);
		message_put_tag(out, 's');
		message_put_u32(out, (uint32_t)len);
		evbuffer_add(out, s, len);
		break;
	case LUA_TTABLE:
		if (depth >= MESSAGE_DEPTH)
			luaL_error(L, "message: tables nested deeper than %d (a cycle?)",
			    MESSAGE_DEPTH);
		if (lua_getmetatable(L, idx))
			luaL_error(L, "message: a table with a metatable cannot be sent");
		luaL_checkstack(L, 3, "message: nested too deep");
		count = 0;
		lua_pushnil(L);
		while (lua_next(L, idx) != 0) {
			count++;
			lua_pop(L, 1);
		}
		if (count > UINT32_MAX)
			luaL_error(L, "message: a table of %zu keys is too large", count);
		message_put_tag(out, 'T');
		message_put_u32(out, (uint32_t)count);
		lua_pushnil(L);
		while (lua_next(L, idx) != 0) {
			message_put(L, lua_absindex(L, -2), out, depth + 1);
			message_put(L, lua_absindex(L, -1), out, depth + 1);
			lua_pop(L, 1);
		}
		break;
	default:
		luaL_error(L, "message: a %s value cannot be sent", luaL_typename(L, idx));
	}
}

/*
 * Appends the value at idx to out as message bytes. Raises on a value that
 * cannot be sent; out may then hold part of it, so the caller writes into a
 * buffer of its own and moves it on only after success.
 */
void
message_encode(lua_State *L, int idx, struct evbuffer *out)
{
	message_put(L, lua_absindex(L, idx), out, 0);
}

static int
message_need(struct message_reader *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		if (r->why == NULL)
			r->why = "truncated";
		return (0);
	}
	return (1);
}

static uint64_t
message_get_u64(struct message_reader *r)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	return (v);
}

static uint32_t
message_get_u32(struct message_reader *r)
{
	uint32_t	 v = 0;
	int		 i;

	for (i = 0; i < 4; i++)
		v |= (uint32_t)r->p[i] << (8 * i);
	r->p += 4;
	return (v);
}

/* Pushes one value, or nothing with r->why set. */
static int
message_get(lua_State *L, struct message_reader *r, int depth)
{
	uint64_t	 bits;
	uint32_t	 n, i;
	lua_Number	 d;
	char		 tag;

	if (!message_need(r, 1))
		return (0);
	tag = (char)*r->p++;
	switch (tag) {
	case 'n':
		lua_pushnil(L);
		return (1);
	case 't':
	case 'f':
		lua_pushboolean(L, tag == 't');
		return (1);
	case 'i':
		if (!message_need(r, 8))
			return (0);
		lua_pushinteger(L, (lua_Integer)message_get_u64(r));
		return (1);
	case 'd':
		if (!message_need(r, 8))
			return (0);
		bits = message_get_u64(r);
		memcpy(&d, &bits, sizeof(d));
		lua_pushnumber(L, d);
		return (1);
	case 's':
		if (!message_need(r, 4))
			return (0);
		n = message_get_u32(r);
		if (!message_need(r, n))
			return (0);
		lua_pushlstring(L, (const char *)r->p, n);
		r->p += n;
		return (1);
	case 'T':
		if (depth >= MESSAGE_DEPTH) {
			r->why = "nested too deep";
			return (0);
		}
		if (!message_need(r, 4))
			return (0);
		n = message_get_u32(r);
		/* A pair takes at least two bytes: a count beyond that is a lie. */
		if (n > (size_t)(r->end - r->p) / 2) {
			r->why = "truncated";
			return (0);
		}
		if (!lua_checkstack(L, 4)) {
			r->why = "nested too deep";
			return (0);
		}
		lua_createtable(L, 0, (int)(n < 1024 ? n : 1024));
		for (i = 0; i < n; i++) {
			if (!message_get(L, r, depth + 1))
				return (0);
			if (lua_isnil(L, -1) ||
			    (lua_type(L, -1) == LUA_TNUMBER && isnan(lua_tonumber(L, -1)))) {
				r->why = "a table key is nil or NaN";
				return (0);
			}
			if (!message_get(L, r, depth + 1))
				return (0);
			lua_rawset(L, -3);
		}
		return (1);
	default:
		r->why = "unknown tag";
		return (0);
	}
}

/*
 * Pushes the value that the len bytes at data hold and returns 1; on bytes
 * that are not exactly one value, pushes nothing and returns 0 with *why set.
 */
int
message_decode(lua_State *L, const void *data, size_t len, const char **why)
{
	struct message_reader	 r = { data, (const unsigned char *)data + len, NULL };
	int			 top = lua_gettop(L);

	if (message_get(L, &r, 0) && r.p != r.end)
		r.why = "bytes after the value";
	if (r.why != NULL) {
		lua_settop(L, top);
		*why = r.why;
		return (0);
	}
	return (1);
}
