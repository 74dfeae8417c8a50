/* tests/unit/ipvstable.c: ipvs.apply's tables without a kernel: load, index, repeats, merge, fill. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "luaha.h"
#include "ipvs.h"
#include "unit.h"

/* A state with luaha.core.ipvs as the global ipvs; its socket is never opened here. */
static lua_State *
new_state(void)
{
	lua_State	*L = luaL_newstate();

	luaL_openlibs(L);
	luaL_requiref(L, "ipvs", luaopen_luaha_core_ipvs, 1);
	lua_pop(L, 1);
	return (L);
}

/* Runs chunk; 1 if it ran without error (its results stay on the stack). */
static int
run(lua_State *L, const char *chunk)
{
	lua_settop(L, 0);
	if (luaL_dostring(L, chunk) == LUA_OK)
		return (1);
	printf("  error: %s\n", lua_tostring(L, -1));
	return (0);
}

/* Runs chunk; 1 if it raised an error containing msg. */
static int
raises(lua_State *L, const char *chunk, const char *msg)
{
	int	 r;

	lua_settop(L, 0);
	if (luaL_dostring(L, chunk) == LUA_OK)
		return (0);
	if (!(r = strstr(lua_tostring(L, -1), msg) != NULL))
		printf("  raised \"%s\"\n", lua_tostring(L, -1));
	return (r);
}

static const char seed[] =
    "local want = {\n"
    "  { protocol = 'tcp', address = '192.0.2.212', port = 80, scheduler = 'wlc', dests = {\n"
    "      { address = '198.51.100.11', weight = 1, forward = 'dr' },\n"
    "      { address = '198.51.100.12', weight = 2, forward = 'dr' } } },\n"
    "  { protocol = 'udp', address = '192.0.2.212', port = 53, scheduler = 'rr', dests = {\n"
    "      { address = '198.51.100.11', port = 5353, forward = 'nat' } } },\n"
    "  { fwmark = 10, family = 'inet6', scheduler = 'sh', dests = {\n"
    "      { address = '2001:db8::11', port = 0, forward = 'tun' } } },\n"
    "}\n";

static void
test_load_and_size(void)
{
	lua_State	*L = new_state();
	char		 chunk[2048];

	snprintf(chunk, sizeof(chunk), "%s"
	    "local t = ipvs.new_table()\n"
	    "local done = t:load(want, 1)\n"
	    "return done, t:size()\n", seed);
	CHECK(run(L, chunk));
	CHECK(lua_toboolean(L, 1) == 1);
	CHECK(lua_tointeger(L, 2) == 3);
	CHECK(lua_tointeger(L, 3) == 4);
	/* A table is filled once: loading more, or in the wrong order, raises. */
	snprintf(chunk, sizeof(chunk), "%s"
	    "local t = ipvs.new_table(); t:load(want, 1); t:load(want, 1)", seed);
	CHECK(raises(L, chunk, "already filled"));
	snprintf(chunk, sizeof(chunk), "%s"
	    "local t = ipvs.new_table(); t:load(want, 2)", seed);
	CHECK(raises(L, chunk, "services are loaded in order"));
	CHECK(raises(L, "ipvs.new_table():load({ { address = 'example.com' } }, 1)",
	    "is not an IPv4 or IPv6 address"));
	CHECK(raises(L, "local t = ipvs.new_table(); ipvs.diff(t, t)", "not filled yet"));
	CHECK(raises(L, "local t = ipvs.new_table(); t:close(); t:load({}, 1)",
	    "closed ipvs table"));
	lua_close(L);
}

static void
test_repeats(void)
{
	lua_State	*L = new_state();

	CHECK(run(L, "return ipvs.new_table():load({\n"
	    "  { address = '192.0.2.1', port = 80 },\n"
	    "  { address = '192.0.2.2', port = 80 },\n"
	    "  { address = '192.0.2.1', port = 80, scheduler = 'rr' } }, 1)"));
	CHECK(lua_gettop(L) == 3 && lua_isnil(L, 1));
	CHECK(lua_tointeger(L, 2) == 3);
	CHECK(strcmp(lua_tostring(L, 3), "tcp:192.0.2.1:80") == 0);
	/* The same address on another port or protocol is another service. */
	CHECK(run(L, "return ipvs.new_table():load({\n"
	    "  { address = '192.0.2.1', port = 80 },\n"
	    "  { address = '192.0.2.1', port = 81 },\n"
	    "  { protocol = 'udp', address = '192.0.2.1', port = 80 } }, 1)"));
	CHECK(lua_toboolean(L, 1) == 1);
	CHECK(run(L, "return ipvs.new_table():load({\n"
	    "  { address = '192.0.2.1', port = 80, dests = {\n"
	    "      { address = '198.51.100.1' }, { address = '198.51.100.2' },\n"
	    "      { address = '198.51.100.1', port = 80, weight = 5 } } } }, 1)"));
	CHECK(lua_gettop(L) == 4 && lua_isnil(L, 1));
	CHECK(lua_tointeger(L, 2) == 1);
	CHECK(strcmp(lua_tostring(L, 3), "198.51.100.1:80") == 0);
	CHECK(lua_tointeger(L, 4) == 3);
	lua_close(L);
}

/* Thousands of services and destinations, each found by identity in the grown indexes. */
static void
test_index_finds_every_entry(void)
{
	lua_State		*L = new_state();
	struct ipvs_table	*t;
	struct ipvs_svc		 s;
	struct ipvs_dest	 d;
	ssize_t			 si;
	int			 i, missing = 0, wrong = 0;

	CHECK(run(L,
	    "local want = {}\n"
	    "for i = 1, 3000 do\n"
	    "  local s = { address = ('192.0.2.%d'):format(i % 250), port = 1000 + i, dests = {} }\n"
	    "  for j = 1, 3 do s.dests[j] = { address = ('198.51.100.%d'):format(j), port = i } end\n"
	    "  want[i] = s\n"
	    "end\n"
	    "local t = ipvs.new_table()\n"
	    "assert(t:load(want, 1) == true)\n"
	    "return t"));
	t = luaL_checkudata(L, 1, IPVS_TABLE_MT);
	CHECK(t->nsvcs == 3000 && t->ndests == 9000);
	for (i = 1; i <= 3000; i++) {
		memset(&s, 0, sizeof(s));
		s.af = AF_INET;
		s.protocol = IPPROTO_TCP;
		s.port = 1000 + i;
		inet_pton(AF_INET, "192.0.2.0", s.addr);
		s.addr[3] = i % 250;
		if ((si = ipvs_find_svc(t, &s)) == -1) {
			missing++;
			continue;
		}
		if (t->svcs[si].s.port != s.port)
			wrong++;
		memset(&d, 0, sizeof(d));
		d.af = AF_INET;
		d.port = i;
		inet_pton(AF_INET, "198.51.100.2", d.addr);
		if (ipvs_find_dest(t, si, &d) == -1)
			missing++;
		d.port = i + 1;		/* on another port: not there */
		if (ipvs_find_dest(t, si, &d) != -1)
			wrong++;
	}
	CHECK(missing == 0);
	CHECK(wrong == 0);
	s.port = 999;
	CHECK(ipvs_find_svc(t, &s) == -1);
	lua_close(L);
}

/* load with a deadline gone by stops after a slice of work and says where to go on. */
static void
test_load_in_slices(void)
{
	lua_State	*L = new_state();

	CHECK(run(L,
	    "local want = {}\n"
	    "for i = 1, 2500 do want[i] = { address = '192.0.2.1', port = i } end\n"
	    "local t, calls, i = ipvs.new_table(), 0, 1\n"
	    "while true do\n"
	    "  calls = calls + 1\n"
	    "  local done, nxt = t:load(want, i, 0)\n"
	    "  if done then break end\n"
	    "  assert(done == false and nxt > i)\n"
	    "  i = nxt\n"
	    "end\n"
	    "return calls, t:size()"));
	CHECK(lua_tointeger(L, 1) == 3);	/* 1024 services a slice */
	CHECK(lua_tointeger(L, 2) == 2500);
	lua_close(L);
}

static void
test_fill_normalizes(void)
{
	lua_State	*L = new_state();
	char		 chunk[2048];

	snprintf(chunk, sizeof(chunk), "%s"
	    "local t = ipvs.new_table(); t:load(want, 1)\n"
	    "local out = {}; t:fill(out)\n"
	    "local d = out[1].dests[2]\n"
	    "return #out, out[1].key, d.address, d.port, d.weight, d.forward,\n"
	    "  out[2].dests[1].port, out[2].dests[1].forward, out[3].fwmark, out[3].family,\n"
	    "  out[2].scheduler, out[1].dests[1].weight\n", seed);
	CHECK(run(L, chunk));
	CHECK(lua_tointeger(L, 1) == 3);
	CHECK(strcmp(lua_tostring(L, 2), "tcp:192.0.2.212:80") == 0);
	CHECK(strcmp(lua_tostring(L, 3), "198.51.100.12") == 0);
	CHECK(lua_tointeger(L, 4) == 80);	/* the service's port */
	CHECK(lua_tointeger(L, 5) == 2);
	CHECK(strcmp(lua_tostring(L, 6), "dr") == 0);
	CHECK(lua_tointeger(L, 7) == 5353);
	CHECK(strcmp(lua_tostring(L, 8), "nat") == 0);
	CHECK(lua_tointeger(L, 9) == 10);
	CHECK(strcmp(lua_tostring(L, 10), "inet6") == 0);
	CHECK(strcmp(lua_tostring(L, 11), "rr") == 0);
	CHECK(lua_tointeger(L, 12) == 1);
	lua_close(L);
}

/* merge(want, current, owner): want's entries, then what only current has (of the caller's services). */
static void
test_merge(void)
{
	lua_State	*L = new_state();

	CHECK(run(L,
	    "local want, cur = ipvs.new_table(), ipvs.new_table()\n"
	    "want:load({ { address = '192.0.2.1', port = 80, dests = {\n"
	    "    { address = '198.51.100.1', weight = 3 } } } }, 1)\n"
	    "cur:load({ { address = '192.0.2.9', port = 25 },\n"
	    "  { address = '192.0.2.1', port = 80, scheduler = 'rr', dests = {\n"
	    "    { address = '198.51.100.1', weight = 1 }, { address = '198.51.100.2' } } } }, 1)\n"
	    "local m = ipvs.merge(want, cur, true)\n"
	    "local out = {}; m:fill(out)\n"
	    "local ns, nd = m:size()\n"
	    "return ns, nd, out[1].scheduler, out[1].dests[1].weight, out[1].dests[2].address,\n"
	    "  out[2].key"));
	CHECK(lua_tointeger(L, 1) == 2);
	CHECK(lua_tointeger(L, 2) == 2);
	CHECK(strcmp(lua_tostring(L, 3), "wlc") == 0);	/* want's settings win */
	CHECK(lua_tointeger(L, 4) == 3);
	CHECK(strcmp(lua_tostring(L, 5), "198.51.100.2") == 0);
	CHECK(strcmp(lua_tostring(L, 6), "tcp:192.0.2.9:25") == 0);
	lua_close(L);
}

static void
test_grow(void)
{
	int	*p = NULL;
	size_t	 cap = 0;

	CHECK(ipvs_grow((void **)&p, &cap, 1, sizeof(*p)) == 0 && cap == 64);
	CHECK(ipvs_grow((void **)&p, &cap, 64, sizeof(*p)) == 0 && cap == 64);
	CHECK(ipvs_grow((void **)&p, &cap, 65, sizeof(*p)) == 0 && cap == 128);
	CHECK(ipvs_grow((void **)&p, &cap, 1000, sizeof(*p)) == 0 && cap == 1024);
	p[999] = 7;
	CHECK(p[999] == 7);
	free(p);
}

int
main(void)
{
	RUN("ipvstable-load-and-size", test_load_and_size);
	RUN("ipvstable-repeats", test_repeats);
	RUN("ipvstable-index-finds-every-entry", test_index_finds_every_entry);
	RUN("ipvstable-load-in-slices", test_load_in_slices);
	RUN("ipvstable-fill-normalizes", test_fill_normalizes);
	RUN("ipvstable-merge", test_merge);
	RUN("ipvstable-grow", test_grow);
	UNIT_EXIT();
}
