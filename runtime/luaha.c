/* luaha.c: the luaha_* helpers the Lua-facing files share: results, option checks, timeouts (as Lua's lauxlib.c). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "luaha.h"

/*
 * Results: the two channels of STYLE.md. A primitive returns the value or
 * true; when the world says no, nil and "<what>: <reason>".
 */

int
luaha_ok(lua_State *L)
{
	lua_pushboolean(L, 1);
	return (1);
}

/* Pushes nil and a formatted message: the world said no. */
int
luaha_fail(lua_State *L, const char *fmt, ...)
{
	va_list	 ap;

	lua_pushnil(L);
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	return (2);
}

/* Pushes nil and "what: strerror(errno)". */
int
luaha_fail_errno(lua_State *L, const char *what)
{
	return (luaha_fail(L, "%s: %s", what, strerror(errno)));
}

/*
 * Option tables: { timeout = 2, source = "192.0.2.1" }. A wrong key or
 * type is the programmer's mistake and raises.
 */

/*
 * Raises on a key of the options table at idx that is not in valid, so a
 * misspelt option is a loud programmer error, not a silent default.
 */
void
luaha_check_options(lua_State *L, int idx, const char *const valid[])
{
	const char	*key;
	int		 i;

	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "bad option key (a %s)", luaL_typename(L, -1));
		key = lua_tostring(L, -1);
		for (i = 0; valid[i] != NULL; i++)
			if (strcmp(valid[i], key) == 0)
				break;
		if (valid[i] == NULL)
			luaL_error(L, "unknown option '%s'", key);
	}
}

/* The number in field of the options table at idx, or def when absent. */
double
luaha_opt_number(lua_State *L, int idx, const char *field, double def)
{
	double	 v;

	if (lua_isnoneornil(L, idx))
		return (def);
	if (lua_getfield(L, idx, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return (def);
	}
	if (!lua_isnumber(L, -1))
		luaL_error(L, "option '%s' must be a number", field);
	v = lua_tonumber(L, -1);
	lua_pop(L, 1);
	return (v);
}

/* Seconds in field of the options table at idx, or def when absent; raises unless from 0 to 1e9. */
double
luaha_opt_seconds(lua_State *L, int idx, const char *field, double def)
{
	double	 v = luaha_opt_number(L, idx, field, def);

	if (!(v >= 0 && v <= 1e9))	/* NaN too */
		luaL_error(L, "option '%s' must be from 0 to 1e9 seconds", field);
	return (v);
}

/* The string in field of the options table at idx, or NULL; valid while the table is. */
const char *
luaha_opt_string(lua_State *L, int idx, const char *field)
{
	const char	*s;

	if (lua_isnoneornil(L, idx))
		return (NULL);
	if (lua_getfield(L, idx, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return (NULL);
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "option '%s' must be a string", field);
	s = lua_tostring(L, -1);
	lua_pop(L, 1);
	return (s);
}

/* Waiting: the arguments of calls that wait. */

/* A timeout argument: nil means wait forever (-1). */
double
luaha_check_timeout(lua_State *L, int idx)
{
	double	 t;

	if (lua_isnoneornil(L, idx))
		return (-1);
	t = luaL_checknumber(L, idx);
	luaL_argcheck(L, t >= 0, idx, "negative timeout");
	return (t);
}
