/* tests/unit/luaha.c: the luaha_* helpers: nil-and-message results, option tables, timeout arguments. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include <lualib.h>

#include "luaha.h"
#include "unit.h"

static const char *const opts_valid[] = { "timeout", "source", NULL };

static int
call_check_options(lua_State *L)
{
	luaha_check_options(L, 1, opts_valid);
	lua_pushnumber(L, luaha_opt_number(L, 1, "timeout", 60));
	return (1);
}

static int
call_opt_seconds(lua_State *L)
{
	lua_pushnumber(L, luaha_opt_seconds(L, 1, "timeout", 5));
	return (1);
}

static int
call_opt_string(lua_State *L)
{
	const char	*s = luaha_opt_string(L, 1, "source");

	if (s == NULL)
		lua_pushliteral(L, "(none)");
	else
		lua_pushstring(L, s);
	return (1);
}

static int
call_check_timeout(lua_State *L)
{
	lua_pushnumber(L, luaha_check_timeout(L, 1));
	return (1);
}

/* A state with the helpers as globals f, seconds, source and timeout. */
static lua_State *
helpers_state(void)
{
	lua_State	*L = luaL_newstate();

	luaL_openlibs(L);
	lua_pushcfunction(L, call_check_options);
	lua_setglobal(L, "f");
	lua_pushcfunction(L, call_opt_seconds);
	lua_setglobal(L, "seconds");
	lua_pushcfunction(L, call_opt_string);
	lua_setglobal(L, "source");
	lua_pushcfunction(L, call_check_timeout);
	lua_setglobal(L, "timeout");
	return (L);
}

/* Runs chunk: 1 if it raised an error containing msg, 0 otherwise. */
static int
raises(lua_State *L, const char *chunk, const char *msg)
{
	int	 r;

	if (luaL_dostring(L, chunk) == LUA_OK) {
		lua_settop(L, 0);
		return (0);
	}
	r = strstr(lua_tostring(L, -1), msg) != NULL;
	if (!r)
		printf("  %s: raised \"%s\"\n", chunk, lua_tostring(L, -1));
	lua_settop(L, 0);
	return (r);
}

static void
test_options(void)
{
	lua_State	*L = helpers_state();

	CHECK(luaL_dostring(L, "return f{timeout = 2}") == LUA_OK && lua_tonumber(L, -1) == 2);
	CHECK(luaL_dostring(L, "return f()") == LUA_OK && lua_tonumber(L, -1) == 60);
	CHECK(raises(L, "return f{timeuot = 2}", "unknown option 'timeuot'"));
	CHECK(raises(L, "return f{timeout = 'x'}", "must be a number"));
	CHECK(raises(L, "return f{[1] = 2}", "bad option key (a number)"));
	CHECK(raises(L, "return f(3)", "table expected"));
	lua_close(L);
}

static void
test_opt_seconds_and_string(void)
{
	lua_State	*L = helpers_state();

	CHECK(luaL_dostring(L, "return seconds{timeout = 0.25}") == LUA_OK &&
	    lua_tonumber(L, -1) == 0.25);
	CHECK(luaL_dostring(L, "return seconds{}") == LUA_OK && lua_tonumber(L, -1) == 5);
	CHECK(raises(L, "return seconds{timeout = -1}", "from 0 to 1e9 seconds"));
	CHECK(raises(L, "return seconds{timeout = 0/0}", "from 0 to 1e9 seconds"));
	CHECK(raises(L, "return seconds{timeout = 2e9}", "from 0 to 1e9 seconds"));
	lua_settop(L, 0);
	CHECK(luaL_dostring(L, "return source{source = '192.0.2.1'}") == LUA_OK &&
	    strcmp(lua_tostring(L, -1), "192.0.2.1") == 0);
	CHECK(luaL_dostring(L, "return source()") == LUA_OK &&
	    strcmp(lua_tostring(L, -1), "(none)") == 0);
	CHECK(raises(L, "return source{source = 1}", "option 'source' must be a string"));
	lua_close(L);
}

static void
test_check_timeout(void)
{
	lua_State	*L = helpers_state();

	CHECK(luaL_dostring(L, "return timeout()") == LUA_OK && lua_tonumber(L, -1) == -1);
	CHECK(luaL_dostring(L, "return timeout(1.5)") == LUA_OK && lua_tonumber(L, -1) == 1.5);
	CHECK(luaL_dostring(L, "return timeout(0)") == LUA_OK && lua_tonumber(L, -1) == 0);
	CHECK(raises(L, "return timeout(-0.5)", "negative timeout"));
	CHECK(raises(L, "return timeout('soon')", "number expected"));
	lua_close(L);
}

static void
test_fail_errno(void)
{
	lua_State	*L = luaL_newstate();

	errno = ECONNREFUSED;
	CHECK(luaha_fail_errno(L, "connect") == 2);
	CHECK(lua_isnil(L, -2));
	CHECK(strcmp(lua_tostring(L, -1), "connect: Connection refused") == 0);
	CHECK(luaha_fail(L, "add service %s: %s", "192.0.2.1:80", "File exists") == 2);
	CHECK(strcmp(lua_tostring(L, -1), "add service 192.0.2.1:80: File exists") == 0);
	CHECK(luaha_ok(L) == 1 && lua_isboolean(L, -1) && lua_toboolean(L, -1));
	lua_close(L);
}

int
main(void)
{
	RUN("luaha-options", test_options);
	RUN("luaha-opt-seconds-string", test_opt_seconds_and_string);
	RUN("luaha-check-timeout", test_check_timeout);
	RUN("luaha-fail-errno", test_fail_errno);
	UNIT_EXIT();
}
