/* tests/unit/ipvsops.c: ipvs.apply's difference of two tables and its ipvsadm text, without a kernel. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include <lualib.h>

#include "luaha.h"
#include "unit.h"

/*
 * A state with luaha.core.ipvs as the global ipvs and diff(cur, want
 * [, prune]) returning the operations' count, adds, edits, deletions and
 * texts; the socket is never opened here.
 */
static lua_State *
new_state(void)
{
	lua_State	*L = luaL_newstate();

	luaL_openlibs(L);
	luaL_requiref(L, "ipvs", luaopen_luaha_core_ipvs, 1);
	lua_pop(L, 1);
	if (luaL_dostring(L,
	    "function tab(list) local t = ipvs.new_table(); assert(t:load(list, 1)); return t end\n"
	    "function diff(cur, want, prune, owner)\n"
	    "  if owner == nil then owner = true end\n"
	    "  local ops = ipvs.diff(tab(cur), tab(want), prune ~= false, owner)\n"
	    "  local texts = {}; ops:texts(texts)\n"
	    "  local n, a, c, r = ops:count()\n"
	    "  return n, a, c, r, table.concat(texts, '\\n'), ops\n"
	    "end\n") != LUA_OK)
		printf("  setup: %s\n", lua_tostring(L, -1));
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

/* Is the text at idx exactly want? Prints both when not. */
static int
text_is(lua_State *L, int idx, const char *want)
{
	const char	*got = lua_tostring(L, idx);

	if (got != NULL && strcmp(got, want) == 0)
		return (1);
	printf("  got:\n%s\n  want:\n%s\n", got != NULL ? got : "(nil)", want);
	return (0);
}

static void
test_same_tables_no_ops(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "local t = { { address = '192.0.2.1', port = 80, dests = {\n"
	    "  { address = '198.51.100.1', weight = 2 } } } }\n"
	    "return diff(t, t)"));
	CHECK(lua_tointeger(L, 1) == 0);
	CHECK(text_is(L, 5, ""));
	lua_close(L);
}

/* From empty: each service then its destinations, as ipvsadm would add them. */
static void
test_cold_load_text(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "return diff({}, {\n"
	    "  { protocol = 'tcp', address = '192.0.2.212', port = 80, scheduler = 'wlc', dests = {\n"
	    "      { address = '198.51.100.11', weight = 1, forward = 'dr' },\n"
	    "      { address = '198.51.100.12', weight = 2, forward = 'nat', u_threshold = 100, l_threshold = 10 } } },\n"
	    "  { protocol = 'udp', address = '2001:db8::1', port = 53, scheduler = 'sh',\n"
	    "    flags = { 'sh-fallback', 'sh-port' }, dests = {\n"
	    "      { address = '2001:db8::11', forward = 'tun', weight = 0 } } },\n"
	    "  { fwmark = 7, scheduler = 'rr', persistent = 600, netmask = '255.255.255.0', dests = {\n"
	    "      { address = '198.51.100.13', port = 0, forward = 'dr' } } },\n"
	    "  { protocol = 'sctp', address = '192.0.2.5', port = 9, pe = 'sip', persistent = true,\n"
	    "    flags = { 'ops' } },\n"
	    "  { protocol = 'tcp', address = '192.0.2.80', port = 80, scheduler = 'mh', flags = { 'mh-port' } },\n"
	    "  { protocol = 'tcp', address = '192.0.2.81', port = 80, scheduler = 'wrr', flags = { 'flag-2' } },\n"
	    "})"));
	CHECK(lua_tointeger(L, 1) == 10);
	CHECK(lua_tointeger(L, 2) == 10 && lua_tointeger(L, 3) == 0 && lua_tointeger(L, 4) == 0);
	CHECK(text_is(L, 5,
	    "-A -t 192.0.2.212:80 -s wlc\n"
	    "-a -t 192.0.2.212:80 -r 198.51.100.11:80 -g -w 1\n"
	    "-a -t 192.0.2.212:80 -r 198.51.100.12:80 -m -w 2 -x 100 -y 10\n"
	    "-A -u [2001:db8::1]:53 -s sh -b sh-fallback,sh-port\n"
	    "-a -u [2001:db8::1]:53 -r [2001:db8::11]:53 -i -w 0\n"
	    "-A -f 7 -s rr -p 600 -M 255.255.255.0\n"
	    "-a -f 7 -r 198.51.100.13:0 -g -w 1\n"
	    "-A --sctp-service 192.0.2.5:9 -s wlc -p 300 --pe sip -o\n"
	    "-A -t 192.0.2.80:80 -s mh -b mh-port\n"
	    "-A -t 192.0.2.81:80 -s wrr -b flag-2"));
	lua_close(L);
}

/* Changes are edits; adds and edits come before every deletion. */
static void
test_edits_and_prune_order(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "return diff({\n"
	    "  { address = '192.0.2.1', port = 80, dests = {\n"
	    "      { address = '198.51.100.1', weight = 1 }, { address = '198.51.100.2', weight = 1 } } },\n"
	    "  { address = '192.0.2.2', port = 80, dests = { { address = '198.51.100.3' } } },\n"
	    "}, {\n"
	    "  { address = '192.0.2.1', port = 80, scheduler = 'rr', dests = {\n"
	    "      { address = '198.51.100.1', weight = 5 }, { address = '198.51.100.4' } } },\n"
	    "  { address = '192.0.2.3', port = 80, dests = { { address = '198.51.100.3' } } },\n"
	    "})"));
	CHECK(lua_tointeger(L, 1) == 7);
	CHECK(lua_tointeger(L, 2) == 3);	/* 198.51.100.4, 192.0.2.3 and its dest */
	CHECK(lua_tointeger(L, 3) == 2);	/* the scheduler, the weight */
	CHECK(lua_tointeger(L, 4) == 2);	/* 198.51.100.2, 192.0.2.2 */
	CHECK(text_is(L, 5,
	    "-E -t 192.0.2.1:80 -s rr\n"
	    "-e -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 5\n"
	    "-a -t 192.0.2.1:80 -r 198.51.100.4:80 -g -w 1\n"
	    "-A -t 192.0.2.3:80 -s wlc\n"
	    "-a -t 192.0.2.3:80 -r 198.51.100.3:80 -g -w 1\n"
	    "-d -t 192.0.2.1:80 -r 198.51.100.2:80\n"
	    "-D -t 192.0.2.2:80"));
	lua_close(L);
}

/* Without pruning nothing is deleted; a real server moving service is added before it is taken away. */
static void
test_no_prune_and_move(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "return diff(\n"
	    "  { { address = '192.0.2.1', port = 80, dests = { { address = '198.51.100.1' } } },\n"
	    "    { address = '192.0.2.9', port = 25 } },\n"
	    "  { { address = '192.0.2.1', port = 80 } }, false)"));
	CHECK(lua_tointeger(L, 1) == 0);
	CHECK(run(L, "return diff(\n"
	    "  { { address = '192.0.2.1', port = 80, dests = { { address = '198.51.100.1' } } },\n"
	    "    { address = '192.0.2.2', port = 80 } },\n"
	    "  { { address = '192.0.2.1', port = 80 },\n"
	    "    { address = '192.0.2.2', port = 80, dests = { { address = '198.51.100.1' } } } })"));
	CHECK(text_is(L, 5,
	    "-a -t 192.0.2.2:80 -r 198.51.100.1:80 -g -w 1\n"
	    "-d -t 192.0.2.1:80 -r 198.51.100.1:80"));
	lua_close(L);
}

/* What a service compares: persistence settings count only for a persistent one. */
/* Without ownership of the whole table, a service desired does not name stays; one owned goes. */
static void
test_owner(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "local cur = { { address = '192.0.2.1', port = 80 }, { protocol = 'udp', address = '192.0.2.9', port = 53 } }\n"
	    "local want = { { address = '192.0.2.1', port = 80 } }\n"
	    "local a = select(5, diff(cur, want, true, false))\n"
	    "local b = select(5, diff(cur, want, true, tab({ { protocol = 'udp', address = '192.0.2.9', port = 53 } })))\n"
	    "local c = select(5, diff(cur, want, true, true))\n"
	    "return a, b, c"));
	CHECK(strcmp(lua_tostring(L, 1), "") == 0);
	CHECK(strcmp(lua_tostring(L, 2), "-D -u 192.0.2.9:53") == 0);
	CHECK(strcmp(lua_tostring(L, 3), "-D -u 192.0.2.9:53") == 0);
	lua_close(L);
}

static void
test_what_differs(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "return diff({ { address = '192.0.2.1', port = 80, netmask = '255.255.255.255' } },\n"
	    "  { { address = '192.0.2.1', port = 80 } })"));
	CHECK(lua_tointeger(L, 1) == 0);
	CHECK(run(L, "return diff({ { address = '192.0.2.1', port = 80, persistent = 300 } },\n"
	    "  { { address = '192.0.2.1', port = 80, persistent = 300, netmask = '255.255.0.0' } })"));
	CHECK(text_is(L, 5, "-E -t 192.0.2.1:80 -s wlc -p 300 -M 255.255.0.0"));
	CHECK(run(L, "return diff({ { address = '192.0.2.1', port = 80, dests = {\n"
	    "    { address = '198.51.100.1', forward = 'dr' } } } },\n"
	    "  { { address = '192.0.2.1', port = 80, dests = {\n"
	    "    { address = '198.51.100.1', forward = 'nat' } } } })"));
	CHECK(text_is(L, 5, "-e -t 192.0.2.1:80 -r 198.51.100.1:80 -m -w 1"));
	lua_close(L);
}

/* Nothing was carried out (no kernel): there is nothing to undo; text checks its index. */
static void
test_undo_and_text_bounds(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "local n, _, _, _, _, ops = diff({}, { { address = '192.0.2.1', port = 80 } })\n"
	    "local undo = ops:undo()\n"
	    "return n, undo:count(), ops:text(1), pcall(ops.text, ops, 2)"));
	CHECK(lua_tointeger(L, 1) == 1);
	CHECK(lua_tointeger(L, 2) == 0);
	CHECK(text_is(L, 3, "-A -t 192.0.2.1:80 -s wlc"));
	CHECK(lua_toboolean(L, 4) == 0);
	CHECK(strstr(lua_tostring(L, 5), "no such operation") != NULL);
	CHECK(run(L, "local _, _, _, _, _, ops = diff({}, {}); ops:close()\n"
	    "return pcall(ops.count, ops)"));
	CHECK(lua_toboolean(L, 1) == 0);
	CHECK(strstr(lua_tostring(L, 2), "closed ipvs operations") != NULL);
	lua_close(L);
}

int
main(void)
{
	RUN("ipvsops-same-tables-no-ops", test_same_tables_no_ops);
	RUN("ipvsops-cold-load-text", test_cold_load_text);
	RUN("ipvsops-edits-and-prune-order", test_edits_and_prune_order);
	RUN("ipvsops-no-prune-and-move", test_no_prune_and_move);
	RUN("ipvsops-what-differs", test_what_differs);
	RUN("ipvsops-leaves-what-is-not-owned", test_owner);
	RUN("ipvsops-undo-and-text-bounds", test_undo_and_text_bounds);
	UNIT_EXIT();
}
