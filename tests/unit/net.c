/* tests/unit/net.c: numeric address parsing and formatting. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

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

int
main(void)
{
	RUN("net-addr-ipv4", test_addr_ipv4);
	RUN("net-addr-ipv6-scope", test_addr_ipv6_and_scope);
	RUN("net-addr-rejects", test_addr_rejects);
	RUN("net-pushaddr-roundtrip", test_pushaddr_roundtrip);
	UNIT_EXIT();
}
