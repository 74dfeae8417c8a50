/* tests/unit/ipvspatch.c: table:patch without a kernel: services replaced in place, the index kept, holes compacted, old operations refused. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <linux/ip_vs.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "luaha.h"
#include "ipvs.h"
#include "unit.h"

static lua_State *
new_state(void)
{
	lua_State	*L = luaL_newstate();

	luaL_openlibs(L);
	luaL_requiref(L, "ipvs", luaopen_luaha_core_ipvs, 1);
	lua_pop(L, 1);
	return (L);
}

static int
run(lua_State *L, const char *chunk)
{
	lua_settop(L, 0);
	if (luaL_dostring(L, chunk) == LUA_OK)
		return (1);
	printf("  error: %s\n", lua_tostring(L, -1));
	return (0);
}

/* Every destination of every service is found where it is, and the index counts no more. */
static int
indexed(struct ipvs_table *t)
{
	size_t	 i, j, live = 0, rooms = 0;

	for (i = 0; i < t->nsvcs; i++) {
		if (t->svcs[i].n > t->svcs[i].cap ||
		    t->svcs[i].first + t->svcs[i].cap > t->ndests)
			return (0);
		rooms += t->svcs[i].cap;
		for (j = t->svcs[i].first; j < t->svcs[i].first + t->svcs[i].n; j++, live++)
			if (ipvs_find_dest(t, i, &t->dests[j]) != (ssize_t)j)
				return (0);
	}
	return (live == t->by_dest.count && rooms == t->ndests - t->holes);
}

/*
 * Services of random sizes, patched many times over with random new lists
 * (grown, shrunk, emptied, weights changed, new services): after each patch
 * the table filled into Lua is the expected one, and its index finds each
 * destination; a destination a patch removed is not found.
 */
static const char random_patches[] =
    "local seed = ...\n"
    "math.randomseed(seed)\n"
    "local function dests(n)\n"
    "  local d = {}\n"
    "  for k = 1, n do d[k] = { address = ('198.51.100.%d'):format(math.random(1, 250)),\n"
    "    port = math.random(1, 40), weight = math.random(0, 9) } end\n"
    "  local seen, out = {}, {}\n"
    "  for _, x in ipairs(d) do local k = x.address .. ':' .. x.port\n"
    "    if not seen[k] then seen[k] = true out[#out + 1] = x end end\n"
    "  return out\n"
    "end\n"
    "local expect, order = {}, {}\n"
    "local function svc(i, n) return { address = '192.0.2.1', port = i, scheduler = 'wrr', dests = dests(n) } end\n"
    "local base = {}\n"
    "for i = 1, 200 do base[i] = svc(i, math.random(0, 20)) expect[i] = base[i] order[#order + 1] = i end\n"
    "local t = ipvs.new_table(); assert(t:load(base, 1) == true)\n"
    "local function check()\n"
    "  local out = {}; t:fill(out)\n"
    "  if #out ~= #order then return false, 'services ' .. #out end\n"
    "  for k, s in ipairs(out) do\n"
    "    local e = expect[s.port]\n"
    "    if #s.dests ~= #e.dests then return false, 'service ' .. s.port .. ' has ' .. #s.dests end\n"
    "    local w = {}\n"
    "    for _, d in ipairs(e.dests) do w[d.address .. ':' .. d.port] = d.weight end\n"
    "    for _, d in ipairs(s.dests) do\n"
    "      if w[d.address .. ':' .. d.port] ~= d.weight then return false, 'dest ' .. d.address end\n"
    "    end\n"
    "    if s.scheduler ~= e.scheduler then return false, 'scheduler of ' .. k end\n"
    "  end\n"
    "  return true\n"
    "end\n"
    "for round = 1, 300 do\n"
    "  local part, used = {}, {}\n"
    "  for _ = 1, math.random(1, 8) do\n"
    "    local i = math.random(1, 230)\n"
    "    if not used[i] then\n"
    "      used[i] = true\n"
    "      local s = svc(i, math.random(0, 3) == 0 and 0 or math.random(1, 60))\n"
    "      if math.random(1, 5) == 1 then s.scheduler = 'rr' end\n"
    "      if not expect[i] then order[#order + 1] = i end\n"
    "      expect[i] = s\n"
    "      part[#part + 1] = s\n"
    "    end\n"
    "  end\n"
    "  local p = ipvs.new_table(); assert(p:load(part, 1) == true)\n"
    "  t:patch(p)\n"
    "  local ok, why = check()\n"
    "  if not ok then return nil, ('round %d: %s'):format(round, why) end\n"
    "  coroutine.yield(t)\n"
    "end\n"
    "return t\n";

static void
test_random_patches(void)
{
	lua_State		*L = new_state();
	lua_State		*co;
	struct ipvs_table	*t;
	int			 nres, rc, rounds = 0, bad = 0, seed, nargs;

	for (seed = 1; seed <= 3; seed++) {
		lua_settop(L, 0);
		co = lua_newthread(L);
		if (luaL_loadstring(co, random_patches) != LUA_OK) {
			printf("  error: %s\n", lua_tostring(co, -1));
			CHECK(0);
			break;
		}
		lua_pushinteger(co, seed);
		nargs = 1;
		while ((rc = lua_resume(co, L, nargs, &nres)) == LUA_YIELD) {
			nargs = 0;
			t = luaL_checkudata(co, -1, IPVS_TABLE_MT);
			if (!indexed(t))
				bad++;
			lua_pop(co, nres);
			rounds++;
		}
		if (rc != LUA_OK || nres != 1) {
			printf("  seed %d: %s\n", seed, lua_tostring(co, -1));
			CHECK(0);
		}
	}
	CHECK(rounds == 900);
	CHECK(bad == 0);
	lua_close(L);
}

/* A service that grows past its room moves, holes are compacted away, and what was there stays found. */
static void
test_grow_and_compact(void)
{
	lua_State		*L = new_state();
	struct ipvs_table	*t;

	CHECK(run(L,
	    "local base = {}\n"
	    "for i = 1, 100 do base[i] = { address = '192.0.2.1', port = i, dests = {} } end\n"
	    "local t = ipvs.new_table(); t:load(base, 1)\n"
	    "for n = 1, 40 do\n"
	    "  local part = {}\n"
	    "  for i = 1, 100 do\n"
	    "    local d = {}\n"
	    "    for k = 1, n do d[k] = { address = ('198.51.100.%d'):format(k) } end\n"
	    "    part[i] = { address = '192.0.2.1', port = i, dests = d }\n"
	    "  end\n"
	    "  local p = ipvs.new_table(); p:load(part, 1); t:patch(p)\n"
	    "end\n"
	    "return t, t:size()"));
	t = luaL_checkudata(L, 1, IPVS_TABLE_MT);
	CHECK(lua_tointeger(L, 2) == 100 && lua_tointeger(L, 3) == 4000);
	CHECK(indexed(t));
	/* Doubling rooms leave at most as many holes as rooms, or a compaction ran. */
	CHECK(t->holes <= t->ndests - t->holes + 1024);
	CHECK(t->ndests <= 4 * 4000 + 1024);
	lua_close(L);
}

/* Operations made before a patch on either table refuse to be used after it; a table cannot patch itself. */
static void
test_old_operations_refused(void)
{
	lua_State	*L = new_state();

	CHECK(run(L,
	    "local cur, want = ipvs.new_table(), ipvs.new_table()\n"
	    "cur:load({ { address = '192.0.2.1', port = 80, dests = { { address = '198.51.100.1' } } } }, 1)\n"
	    "want:load({ { address = '192.0.2.1', port = 80, dests = { { address = '198.51.100.2' } } } }, 1)\n"
	    "local ops = ipvs.diff(cur, want, true, false)\n"
	    "assert(ops:count() == 2)\n"
	    "cur:patch(want)\n"
	    "local ok, err = pcall(ops.count, ops)\n"
	    "local ok2, err2 = pcall(cur.patch, cur, cur)\n"
	    "local again = ipvs.diff(cur, want, true, false)\n"
	    "return ok, err, ok2, err2, again:count()"));
	CHECK(lua_toboolean(L, 1) == 0);
	CHECK(strstr(lua_tostring(L, 2), "patched since") != NULL);
	CHECK(lua_toboolean(L, 3) == 0);
	CHECK(strstr(lua_tostring(L, 4), "cannot patch itself") != NULL);
	CHECK(lua_tointeger(L, 5) == 0);	/* patched, it is want */
	lua_close(L);
}

int
main(void)
{
	RUN("ipvspatch-random-patches", test_random_patches);
	RUN("ipvspatch-grow-and-compact", test_grow_and_compact);
	RUN("ipvspatch-old-operations-refused", test_old_operations_refused);
	UNIT_EXIT();
}
