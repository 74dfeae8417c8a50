/* embed.c: the Lua library and the shipped policies compiled into the binary, and the searchers that find them. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luaha.h"

/*
 * require looks for a module in this order: package.preload (the C modules);
 * the directories of LUAHA_PATH (set by -L too, so that a part, this binary
 * started again, inherits them), for development; the copies compiled in
 * (build/embed-files.c, which runtime/embed.sh makes from lua/ and policies/
 * each time one of them changes), so that a copied or installed binary never
 * reads files that may be missing or of another version; then where Lua looks
 * (package.path, package.cpath). Each lookup is at most a few stat calls.
 */

#define EMBED_ENV	"LUAHA_PATH"

/* The file built in named name: kind EMBED_MODULE finds a module or a policy, the others only their kind. */
static const struct embed_file *
embed_find(const char *name, int kind)
{
	const struct embed_file	*f;

	for (f = embed_files; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0 && (kind == EMBED_MODULE ?
		    f->kind != EMBED_ASSET : f->kind == kind))
			return (f);
	return (NULL);
}

/*
 * Looks for the module name in the directories of LUAHA_PATH, as DIR/A/B.lua
 * then (unless script) DIR/A/B/init.lua for "A.B"; copies the first readable
 * one into path and returns 0, or returns -1 and adds "no file 'P'" for each
 * path tried to tried (when not NULL).
 */
static int
embed_dev(const char *name, int script, char *path, size_t len, luaL_Buffer *tried)
{
	static const char *const templates[] = { "%.*s/%s.lua", "%.*s/%s/init.lua" };
	const char	*dirs = getenv(EMBED_ENV), *d, *end;
	char		 rel[PATH_MAX], *p;
	size_t		 i, n;

	n = script ? 1 : sizeof(templates) / sizeof(templates[0]);
	if (dirs == NULL || strlen(name) >= sizeof(rel))
		return (-1);
	strcpy(rel, name);
	for (p = rel; *p != '\0'; p++)
		if (*p == '.')
			*p = '/';
	for (d = dirs; *d != '\0'; d = *end == '\0' ? end : end + 1) {
		if ((end = strchr(d, ':')) == NULL)
			end = d + strlen(d);
		if (end == d)
			continue;
		for (i = 0; i < n; i++) {
			if (snprintf(path, len, templates[i], (int)(end - d), d,
			    rel) >= (int)len)
				continue;
			if (access(path, R_OK) == 0)
				return (0);
			if (tried != NULL) {
				luaL_addstring(tried, "\n\tno file '");
				luaL_addstring(tried, path);
				luaL_addstring(tried, "'");
			}
		}
	}
	return (-1);
}

/* The error require raises for a module found but not loaded, as Lua's own searchers word it. */
static int
embed_load_error(lua_State *L, const char *name, const char *path)
{
	return (luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
	    name, path, lua_tostring(L, -1)));
}

static int
embed_search_dev(lua_State *L)
{
	const char	*name = luaL_checkstring(L, 1);
	char		 path[PATH_MAX];
	luaL_Buffer	 tried;

	luaL_buffinit(L, &tried);
	if (embed_dev(name, 0, path, sizeof(path), &tried) == -1) {
		luaL_pushresult(&tried);
		if (lua_rawlen(L, -1) == 0)
			return (0);	/* no LUAHA_PATH: nothing to say */
		/* Lua 5.4 puts "\n\t" before each searcher's message itself. */
		lua_pushstring(L, lua_tostring(L, -1) + 2);
		return (1);
	}
	if (luaL_loadfile(L, path) != LUA_OK)
		return (embed_load_error(L, name, path));
	lua_pushstring(L, path);
	return (2);
}

/* Loads f's text as the chunk "@lua/luaha/x.lua": tracebacks name the file in the source tree. */
static int
embed_load(lua_State *L, const struct embed_file *f)
{
	lua_pushfstring(L, "@%s", f->path);
	if (luaL_loadbufferx(L, (const char *)f->text, f->len, lua_tostring(L, -1),
	    "t") != LUA_OK) {
		lua_remove(L, -2);
		return (-1);
	}
	lua_remove(L, -2);
	return (0);
}

static int
embed_search_builtin(lua_State *L)
{
	const char		*name = luaL_checkstring(L, 1);
	const struct embed_file	*f;

	if ((f = embed_find(name, EMBED_MODULE)) == NULL) {
		lua_pushfstring(L, "no module '%s' built into luaha", name);
		return (1);
	}
	if (embed_load(L, f) == -1)
		return (embed_load_error(L, name, f->path));
	lua_pushstring(L, f->path);
	return (2);
}

/* Puts the two searchers in package.searchers after the preload one, before Lua's own. */
void
embed_searchers(lua_State *L)
{
	lua_Integer	 i, n;

	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchers");
	n = (lua_Integer)lua_rawlen(L, -1);
	for (i = n; i >= 2; i--) {
		lua_rawgeti(L, -1, i);
		lua_rawseti(L, -2, i + 2);
	}
	lua_pushcfunction(L, embed_search_dev);
	lua_rawseti(L, -2, 2);
	lua_pushcfunction(L, embed_search_builtin);
	lua_rawseti(L, -2, 3);
	lua_pop(L, 2);
}

/*
 * The script argument as a policy: a NAME (letters, digits, - and _) found
 * as NAME.lua in LUAHA_PATH or among the shipped policies, or the documented
 * "policies/NAME.lua" of a shipped policy where no such file exists. Returns
 * -1 when arg is none of these (nothing pushed: it is a file's path); else
 * pushes the loaded chunk (LUA_OK) or the error (another status), and sets
 * arg[0] to the chunk's path, so that the policy knows it runs as the script.
 */
int
embed_script(lua_State *L, const char *arg)
{
	const struct embed_file	*f = NULL;
	char			 path[PATH_MAX], name[64];
	int			 status;

	if (strncmp(arg, "policies/", 9) == 0 && strlen(arg) < 9 + sizeof(name) &&
	    access(arg, F_OK) == -1 && errno == ENOENT) {
		strcpy(name, arg + 9);
		if (strlen(name) > 4 && strcmp(name + strlen(name) - 4, ".lua") == 0) {
			name[strlen(name) - 4] = '\0';
			f = embed_find(name, EMBED_POLICY);
		}
		if (f == NULL)
			return (-1);
	} else {
		if (arg[0] == '\0' || strlen(arg) >= sizeof(name) ||
		    arg[strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_")] != '\0')
			return (-1);
		if (embed_dev(arg, 1, path, sizeof(path), NULL) == 0) {
			status = luaL_loadfile(L, path);
			goto done;
		}
		if ((f = embed_find(arg, EMBED_POLICY)) == NULL)
			return (-1);
	}
	strcpy(path, f->path);
	status = embed_load(L, f) == 0 ? LUA_OK : LUA_ERRSYNTAX;
done:
	if (status == LUA_OK) {
		lua_getglobal(L, "arg");
		lua_pushstring(L, path);
		lua_rawseti(L, -2, 0);
		lua_pop(L, 1);
	}
	return (status);
}

/*
 * embed.search(name): where require finds the Lua module name before Lua's
 * own path: the file's path in LUAHA_PATH, or the path in the source tree of
 * the copy built in and its text; nil if neither has it.
 */
static int
embed_search(lua_State *L)
{
	const char		*name = luaL_checkstring(L, 1);
	const struct embed_file	*f;
	char			 path[PATH_MAX];

	if (embed_dev(name, 0, path, sizeof(path), NULL) == 0) {
		lua_pushstring(L, path);
		return (1);
	}
	if ((f = embed_find(name, EMBED_MODULE)) == NULL) {
		lua_pushnil(L);
		return (1);
	}
	lua_pushstring(L, f->path);
	lua_pushlstring(L, (const char *)f->text, f->len);
	return (2);
}

/*
 * embed.list([assets]): the names of the modules and policies built in (of
 * the assets, when assets is true), in a table mapping each to its path.
 */
static int
embed_list(lua_State *L)
{
	const struct embed_file	*f;
	int			 assets = lua_toboolean(L, 1);

	lua_newtable(L);
	for (f = embed_files; f->name != NULL; f++) {
		if ((f->kind == EMBED_ASSET) != assets)
			continue;
		lua_pushstring(L, f->path);
		lua_setfield(L, -2, f->name);
	}
	return (1);
}

/*
 * embed.asset(name): the text of the asset name ("luaha/web/app.js"): the
 * file DIR/name of the first directory of LUAHA_PATH that has it (so that a
 * developer's edit shows without a rebuild), else the copy built in; nil and
 * why if neither has it. A name holding ".." or starting with / is refused:
 * an asset never names a file outside those directories.
 */
static int
embed_asset(lua_State *L)
{
	const char		*name = luaL_checkstring(L, 1);
	const char		*dirs = getenv(EMBED_ENV), *d, *end;
	const struct embed_file	*f;
	char			 path[PATH_MAX];
	FILE			*fp;
	luaL_Buffer		 b;
	size_t			 n;
	int			 saved;

	if (name[0] == '/' || strstr(name, "..") != NULL)
		return (luaL_argerror(L, 1, "an asset's name is a path below lua/"));
	for (d = dirs != NULL ? dirs : ""; *d != '\0'; d = *end == '\0' ? end : end + 1) {
		if ((end = strchr(d, ':')) == NULL)
			end = d + strlen(d);
		if (end == d || snprintf(path, sizeof(path), "%.*s/%s", (int)(end - d), d,
		    name) >= (int)sizeof(path) || (fp = fopen(path, "re")) == NULL)
			continue;
		luaL_buffinit(L, &b);
		do {
			n = fread(luaL_prepbuffer(&b), 1, LUAL_BUFFERSIZE, fp);
			luaL_addsize(&b, n);
		} while (n == LUAL_BUFFERSIZE);
		if (ferror(fp)) {
			saved = errno;
			fclose(fp);
			errno = saved;
			return (luaha_fail_errno(L, path));
		}
		fclose(fp);
		luaL_pushresult(&b);
		return (1);
	}
	if ((f = embed_find(name, EMBED_ASSET)) == NULL) {
		lua_pushnil(L);
		lua_pushfstring(L, "no asset '%s' built into luaha", name);
		return (2);
	}
	lua_pushlstring(L, (const char *)f->text, f->len);
	return (1);
}

static const luaL_Reg embed_funcs[] = {
	{ "search", embed_search }, { "list", embed_list }, { "asset", embed_asset }, { NULL, NULL }
};

int
luaopen_luaha_core_embed(lua_State *L)
{
	luaL_newlib(L, embed_funcs);
	return (1);
}
