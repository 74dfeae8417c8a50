/* libs.c: the C modules luaha.core.*, put in package.preload as Lua's linit.c opens its libraries. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "luaha.h"

/* luaha.core.build: what the Makefile wrote into this binary, {version = "0.1.0"}. */
static int
luaopen_luaha_core_build(lua_State *L)
{
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, LUAHA_VERSION);
	lua_setfield(L, -2, "version");
	return (1);
}

static const luaL_Reg libs_core[] = {
	{ "luaha.core.build", luaopen_luaha_core_build },
	{ "luaha.core.log", luaopen_luaha_core_log },
	{ "luaha.core.task", luaopen_luaha_core_task },
	{ "luaha.core.timer", luaopen_luaha_core_timer },
	{ "luaha.core.signal", luaopen_luaha_core_signal },
	{ "luaha.core.net", luaopen_luaha_core_net },
	{ "luaha.core.udp", luaopen_luaha_core_udp },
	{ "luaha.core.tcp", luaopen_luaha_core_tcp },
	{ "luaha.core.listen", luaopen_luaha_core_listen },
	{ "luaha.core.proc", luaopen_luaha_core_proc },
	{ "luaha.core.file", luaopen_luaha_core_file },
	{ "luaha.core.tty", luaopen_luaha_core_tty },
	{ "luaha.core.icmp", luaopen_luaha_core_icmp },
	{ "luaha.core.halfopen", luaopen_luaha_core_halfopen },
	{ "luaha.core.tcpcheck", luaopen_luaha_core_tcpcheck },
	{ "luaha.core.checker", luaopen_luaha_core_checker },
	{ "luaha.core.ipvs", luaopen_luaha_core_ipvs },
	{ "luaha.core.link", luaopen_luaha_core_link },
	{ "luaha.core.arp", luaopen_luaha_core_arp },
	{ "luaha.core.readline", luaopen_luaha_core_readline },
	{ "luaha.core.regex", luaopen_luaha_core_regex },
	{ "luaha.core.auth", luaopen_luaha_core_auth },
	{ "luaha.core.daemon", luaopen_luaha_core_daemon },
	{ "luaha.core.http", luaopen_luaha_core_http },
	{ "luaha.core.part", luaopen_luaha_core_part },
	{ "luaha.core.realtime", luaopen_luaha_core_realtime },
	{ "luaha.core.procself", luaopen_luaha_core_procself },
	{ "luaha.core.embed", luaopen_luaha_core_embed },
	{ NULL, NULL }
};

void
libs_preload(lua_State *L)
{
	const luaL_Reg	*lib;

	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	for (lib = libs_core; lib->func != NULL; lib++) {
		lua_pushcfunction(L, lib->func);
		lua_setfield(L, -2, lib->name);
	}
	lua_pop(L, 1);
}
