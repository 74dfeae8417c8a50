/* regex.c: POSIX extended regular expressions (luaha.core.regex), as nanny's use_regex matched replies. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <regex.h>
#include <string.h>

#include "luaha.h"

struct regex {
	regex_t		 re;
	int		 compiled;	/* re holds a compiled pattern to regfree */
};

static const char *const regex_options[] = { "icase", NULL };

static struct regex *
regex_check(lua_State *L, int idx)
{
	struct regex	*r = luaL_checkudata(L, idx, "luaha.regex");

	if (!r->compiled)
		luaL_error(L, "attempt to use a freed regex");
	return (r);
}

/*
 * compile(pattern [, {icase=}]): a handle, or nil, "regex PATTERN: <reason>".
 * A bad pattern comes from a configuration, so it is returned, not raised.
 * The pattern is kept as the handle's user value for __tostring.
 */
static int
regex_compile(lua_State *L)
{
	size_t		 len;
	const char	*pattern = luaL_checklstring(L, 1, &len);
	struct regex	*r;
	char		 buf[256];
	int		 flags = REG_EXTENDED | REG_NOSUB, rc;

	luaha_check_options(L, 2, regex_options);
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "icase");
		if (lua_toboolean(L, -1))
			flags |= REG_ICASE;
		lua_pop(L, 1);
	}
	if (strlen(pattern) != len)
		return (luaha_fail(L, "regex %s: pattern holds a NUL byte", pattern));
	r = lua_newuserdatauv(L, sizeof(*r), 1);
	memset(r, 0, sizeof(*r));
	luaL_setmetatable(L, "luaha.regex");
	if ((rc = regcomp(&r->re, pattern, flags)) != 0) {
		/* On failure regcomp frees what it built; regerror still reads r->re. */
		regerror(rc, &r->re, buf, sizeof(buf));
		return (luaha_fail(L, "regex %s: %s", pattern, buf));
	}
	r->compiled = 1;
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	return (1);
}

/*
 * match(subject): whether the pattern matches anywhere in subject. REG_STARTEND
 * gives regexec the length, so a NUL byte in a reply does not end it early.
 */
static int
regex_match(lua_State *L)
{
	struct regex	*r = regex_check(L, 1);
	size_t		 len;
	const char	*subject = luaL_checklstring(L, 2, &len);
	regmatch_t	 m;
	int		 rc;

	m.rm_so = 0;
	m.rm_eo = (regoff_t)len;
	rc = regexec(&r->re, subject, 1, &m, REG_STARTEND);
	if (rc != 0 && rc != REG_NOMATCH)
		return (luaL_error(L, "regexec: error %d", rc));
	lua_pushboolean(L, rc == 0);
	return (1);
}

static int
regex_gc(lua_State *L)
{
	struct regex	*r = luaL_checkudata(L, 1, "luaha.regex");

	if (r->compiled) {
		regfree(&r->re);
		r->compiled = 0;
	}
	return (0);
}

static int
regex_tostring(lua_State *L)
{
	struct regex	*r = luaL_checkudata(L, 1, "luaha.regex");

	if (!r->compiled) {
		lua_pushliteral(L, "regex (freed)");
		return (1);
	}
	lua_getiuservalue(L, 1, 1);
	lua_pushfstring(L, "regex %s", lua_tostring(L, -1));
	return (1);
}

static const luaL_Reg regex_funcs[] = {
	{ "compile", regex_compile },
	{ NULL, NULL }
};

static const luaL_Reg regex_methods[] = {
	{ "match", regex_match },
	{ NULL, NULL }
};

static const luaL_Reg regex_meta[] = {
	{ "__gc", regex_gc },
	{ "__tostring", regex_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_regex(lua_State *L)
{
	luaL_newmetatable(L, "luaha.regex");
	luaL_setfuncs(L, regex_meta, 0);
	luaL_newlib(L, regex_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, regex_funcs);
	return (1);
}
