/* tests/unit/message.c: Lua values as message bytes and back; hostile bytes refused; a channel's frames and limits. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <lualib.h>

#include "luaha.h"
#include "unit.h"

static lua_State *
new_state(void)
{
	lua_State	*L = luaL_newstate();

	*(void **)lua_getextraspace(L) = NULL;
	luaL_openlibs(L);
	return (L);
}

/* The bytes of the value that code returns, in a new buffer. */
static struct evbuffer *
encode(lua_State *L, const char *code)
{
	struct evbuffer	*b = evbuffer_new();

	if (luaL_dostring(L, code) != LUA_OK) {
		printf("  %s: %s\n", code, lua_tostring(L, -1));
		lua_pop(L, 1);
		return (b);
	}
	message_encode(L, -1, b);
	lua_pop(L, 1);
	return (b);
}

/* Decodes b and compares, in Lua, with the value code returns (deep equality). */
static int
roundtrip_equals(lua_State *L, const char *code)
{
	static const char same[] =
	    "local function same(a, b)\n"
	    "  if math.type(a) ~= math.type(b) then return false end\n"
	    "  if type(a) ~= 'table' or type(b) ~= 'table' then\n"
	    "    return a == b or (a ~= a and b ~= b) end\n"
	    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
	    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
	    "  return true\n"
	    "end\n"
	    "return same(...)\n";
	struct evbuffer	*b = encode(L, code);
	const char	*why = NULL;
	size_t		 len = evbuffer_get_length(b);
	int		 ok;

	luaL_loadstring(L, same);
	ok = message_decode(L, evbuffer_pullup(b, len), len, &why);
	evbuffer_free(b);
	if (!ok) {
		printf("  decode: %s\n", why);
		lua_pop(L, 1);
		return (0);
	}
	if (luaL_dostring(L, code) != LUA_OK)
		return (0);
	lua_call(L, 2, 1);
	ok = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return (ok);
}

static void
test_roundtrip(void)
{
	lua_State	*L = new_state();

	CHECK(roundtrip_equals(L, "return nil"));
	CHECK(roundtrip_equals(L, "return true"));
	CHECK(roundtrip_equals(L, "return false"));
	CHECK(roundtrip_equals(L, "return math.mininteger"));
	CHECK(roundtrip_equals(L, "return 1.5"));
	CHECK(roundtrip_equals(L, "return 3.0"));		/* stays a float */
	CHECK(roundtrip_equals(L, "return 0/0"));
	CHECK(roundtrip_equals(L, "return -1/0"));
	CHECK(roundtrip_equals(L, "return 'a\\0b\\255'"));
	CHECK(roundtrip_equals(L, "return ('x'):rep(100000)"));
	CHECK(roundtrip_equals(L, "return {}"));
	CHECK(roundtrip_equals(L, "return { 1, 2, 3, n = { deep = { 'er', [2.5] = false } }, [true] = 'k' }"));
	lua_close(L);
}

static int
encode_cf(lua_State *L)
{
	struct evbuffer	*b = evbuffer_new();

	lua_pushlightuserdata(L, b);
	lua_setfield(L, LUA_REGISTRYINDEX, "unit.buffer");
	message_encode(L, 1, b);
	evbuffer_free(b);
	return (0);
}

static void
test_refused_values_raise(void)
{
	static const char *const bad[] = {
		"return print",
		"return io.stdout",
		"return coroutine.create(print)",
		"return setmetatable({}, {})",
		"local t = {} t.self = t return t",
		NULL
	};
	lua_State	*L = new_state();
	void		*leak;
	int		 i;

	for (i = 0; bad[i] != NULL; i++) {
		lua_pushcfunction(L, encode_cf);
		CHECK(luaL_dostring(L, bad[i]) == LUA_OK);
		CHECK(lua_pcall(L, 1, 0, 0) != LUA_OK);
		CHECK(strstr(lua_tostring(L, -1), "message:") != NULL);
		lua_pop(L, 1);
		/* the buffer of a raise is not freed by encode_cf: free it here */
		lua_getfield(L, LUA_REGISTRYINDEX, "unit.buffer");
		leak = lua_touserdata(L, -1);
		lua_pop(L, 1);
		if (leak != NULL)
			evbuffer_free(leak);
		lua_pushnil(L);
		lua_setfield(L, LUA_REGISTRYINDEX, "unit.buffer");
	}
	lua_close(L);
}

/* decode(bytes) must be refused with the reason given. */
static int
refused(lua_State *L, const void *bytes, size_t len, const char *want)
{
	const char	*why = NULL;
	int		 top = lua_gettop(L);

	if (message_decode(L, bytes, len, &why)) {
		lua_pop(L, 1);
		return (0);
	}
	return (lua_gettop(L) == top && why != NULL && strstr(why, want) != NULL);
}

static void
test_hostile_bytes(void)
{
	static const unsigned char huge_string[] = { 's', 0xff, 0xff, 0xff, 0x7f, 'a' };
	static const unsigned char huge_table[] = { 'T', 0xff, 0xff, 0xff, 0xff, 'n', 'n' };
	static const unsigned char nil_key[] = { 'T', 1, 0, 0, 0, 'n', 't' };
	static const unsigned char trailing[] = { 't', 't' };
	static const unsigned char unknown[] = { 'x' };
	static const unsigned char short_int[] = { 'i', 1, 2, 3 };
	unsigned char	 deep[40 * 6 + 1];
	lua_State	*L = new_state();
	int		 i;

	CHECK(refused(L, huge_string, sizeof(huge_string), "truncated"));
	CHECK(refused(L, huge_table, sizeof(huge_table), "truncated"));
	CHECK(refused(L, nil_key, sizeof(nil_key), "nil"));
	CHECK(refused(L, trailing, sizeof(trailing), "after"));
	CHECK(refused(L, unknown, sizeof(unknown), "unknown"));
	CHECK(refused(L, short_int, sizeof(short_int), "truncated"));
	CHECK(refused(L, "", 0, "truncated"));
	/* tables nested 40 deep, {[true] = {[true] = ... 'n'}}: beyond the depth allowed */
	for (i = 0; i < 40; i++) {
		deep[i * 6] = 'T';
		deep[i * 6 + 1] = 1;
		deep[i * 6 + 2] = deep[i * 6 + 3] = deep[i * 6 + 4] = 0;
		deep[i * 6 + 5] = 't';
	}
	deep[40 * 6] = 'n';
	CHECK(refused(L, deep, sizeof(deep), "deep"));
	/* every prefix of a good message is refused, never read beyond */
	{
		struct evbuffer	*b = encode(L, "return { a = { 1, 2.5, 'three' }, [4] = true }");
		size_t		 len = evbuffer_get_length(b), n;
		unsigned char	*copy = malloc(len);

		memcpy(copy, evbuffer_pullup(b, len), len);
		for (n = 0; n < len; n++) {
			unsigned char *cut = malloc(n + 1);	/* exactly n bytes for ASan to watch */

			memcpy(cut, copy, n);
			CHECK(refused(L, cut, n, ""));
			free(cut);
		}
		free(copy);
		evbuffer_free(b);
	}
	lua_close(L);
}

/*
 * Random bytes, and valid messages with bytes changed: every decode either gives one value or
 * refuses with a reason, leaves the stack as it was when it refuses, and reads nothing beyond the
 * bytes given (each input is a heap block of its exact size, watched by ASan). A fixed seed.
 */
static void
test_fuzz_decode(void)
{
	lua_State	*L = new_state();
	struct evbuffer	*b = encode(L, "return { 1, 2.5, 'three', { four = { true, false, nil } }, [-7] = 'x' }");
	size_t		 good = evbuffer_get_length(b), len;
	unsigned char	*base = malloc(good), *in;
	const char	*why;
	unsigned int	 seed = 12345;
	int		 i, j, top = lua_gettop(L), decoded = 0;

	memcpy(base, evbuffer_pullup(b, good), good);
	evbuffer_free(b);
	for (i = 0; i < 200000; i++) {
		len = i % 2 ? good : (size_t)(rand_r(&seed) % 64);
		in = malloc(len + 1);
		for (j = 0; j < (int)len; j++)
			in[j] = i % 2 ? base[j] : (unsigned char)rand_r(&seed);
		if (i % 2 && len > 0)		/* a valid message with one to three bytes changed */
			for (j = 0; j < 1 + (int)(rand_r(&seed) % 3); j++)
				in[rand_r(&seed) % len] = (unsigned char)rand_r(&seed);
		why = NULL;
		if (message_decode(L, in, len, &why)) {
			decoded++;
			CHECK(lua_gettop(L) == top + 1);
			lua_settop(L, top);
		} else
			CHECK(why != NULL && lua_gettop(L) == top);
		free(in);
	}
	CHECK(decoded > 0);
	free(base);
	lua_close(L);
}

int
main(void)
{
	if (loop_init() == -1)
		return (2);
	RUN("message-roundtrip-keeps-types", test_roundtrip);
	RUN("message-refuses-what-cannot-be-sent", test_refused_values_raise);
	RUN("message-refuses-hostile-bytes", test_hostile_bytes);
	RUN("message-decode-fuzz", test_fuzz_decode);
	loop_free();
	UNIT_EXIT();
}
