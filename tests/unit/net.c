/* tests/unit/net.c: numeric address parsing and formatting, option tables, nil-and-message results. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include <lualib.h>

#include "luaha.h"
#include "unit.h"

static void
test_addr_ipv4(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	socklen_t		 len;

	CHECK(net_addr("192.0.2.10", 80, &ss, &len) == 0);
	CHECK(ss.ss_family == AF_INET);
	CHECK(len == sizeof(struct sockaddr_in));
	CHECK(ntohs(sin->sin_port) == 80);
	CHECK(sin->sin_addr.s_addr == htonl(0xc000020a));
}

static void
test_addr_ipv6_and_scope(void)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;

	CHECK(net_addr("2001:db8::1", 443, &ss, &len) == 0);
	CHECK(ss.ss_family == AF_INET6);
	CHECK(len == sizeof(struct sockaddr_in6));
	CHECK(ntohs(sin6->sin6_port) == 443);
	CHECK(sin6->sin6_scope_id == 0);
	CHECK(net_addr("fe80::1%lo", 1, &ss, &len) == 0);
	CHECK(sin6->sin6_scope_id != 0);
	CHECK(net_addr("fe80::1%no-such-if0", 1, &ss, &len) == -1);
}

static void
test_addr_rejects(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 longname[200];

	errno = 0;
	CHECK(net_addr("example.com", 80, &ss, &len) == -1 && errno == EINVAL);
	CHECK(net_addr("192.0.2.300", 80, &ss, &len) == -1);
	CHECK(net_addr("192.0.2.1", 65536, &ss, &len) == -1);
	CHECK(net_addr("192.0.2.1", -1, &ss, &len) == -1);
	CHECK(net_addr("", 80, &ss, &len) == -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(net_addr(longname, 80, &ss, &len) == -1);
}

static void
test_pushaddr_roundtrip(void)
{
	lua_State		*L = luaL_newstate();
	struct sockaddr_storage	 ss;
	socklen_t		 len;

	CHECK(net_addr("198.51.100.7", 539, &ss, &len) == 0);
	CHECK(net_pushaddr(L, (struct sockaddr *)&ss) == 2);
	CHECK(strcmp(lua_tostring(L, -2), "198.51.100.7") == 0);
	CHECK(lua_tointeger(L, -1) == 539);
	CHECK(net_addr("2001:db8:0:0::5", 8080, &ss, &len) == 0);
	net_pushaddr(L, (struct sockaddr *)&ss);
	CHECK(strcmp(lua_tostring(L, -2), "2001:db8::5") == 0);
	CHECK(lua_tointeger(L, -1) == 8080);
	lua_close(L);
}

static const char *const opts_valid[] = { "timeout", "source", NULL };

static int
call_check_options(lua_State *L)
{
	luaha_check_options(L, 1, opts_valid);
	lua_pushnumber(L, luaha_opt_number(L, 1, "timeout", 60));
	return (1);
}

static void
test_options(void)
{
	lua_State	*L = luaL_newstate();

	luaL_openlibs(L);
	lua_pushcfunction(L, call_check_options);
	lua_setglobal(L, "f");
	CHECK(luaL_dostring(L, "return f{timeout = 2}") == LUA_OK && lua_tonumber(L, -1) == 2);
	CHECK(luaL_dostring(L, "return f()") == LUA_OK && lua_tonumber(L, -1) == 60);
	CHECK(luaL_dostring(L, "return f{timeuot = 2}") != LUA_OK);
	CHECK(strstr(lua_tostring(L, -1), "unknown option 'timeuot'") != NULL);
	CHECK(luaL_dostring(L, "return f{timeout = 'x'}") != LUA_OK);
	CHECK(strstr(lua_tostring(L, -1), "must be a number") != NULL);
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
	lua_close(L);
}

int
main(void)
{
	RUN("net-addr-ipv4", test_addr_ipv4);
	RUN("net-addr-ipv6-scope", test_addr_ipv6_and_scope);
	RUN("net-addr-rejects", test_addr_rejects);
	RUN("net-pushaddr-roundtrip", test_pushaddr_roundtrip);
	RUN("net-options", test_options);
	RUN("net-fail-errno", test_fail_errno);
	UNIT_EXIT();
}
