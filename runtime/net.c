/* net.c: what the socket files share: numeric addresses, non-blocking sockets and connects, the Internet checksum. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "luaha.h"

/*
 * Fills ss with a numeric IPv4 or IPv6 address ("fe80::1%eth0" with a
 * scope); names are not resolved: a router must not wait on DNS.
 */
int
net_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], *scope;

	memset(ss, 0, sizeof(*ss));
	if (port < 0 || port > 65535) {
		errno = EINVAL;
		return (-1);
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return (0);
	}
	if (strlen(host) >= sizeof(buf)) {
		errno = EINVAL;
		return (-1);
	}
	strcpy(buf, host);
	if ((scope = strchr(buf, '%')) != NULL) {
		*scope++ = '\0';
		if ((sin6->sin6_scope_id = if_nametoindex(scope)) == 0) {
			errno = EINVAL;
			return (-1);
		}
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return (0);
	}
	errno = EINVAL;
	return (-1);
}

/* Pushes the address as a string and its port; returns 2. */
int
net_pushaddr(lua_State *L, const struct sockaddr *sa)
{
	char	 buf[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		lua_pushstring(L, buf);
		lua_pushinteger(L, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		lua_pushstring(L, buf);
		lua_pushinteger(L, ntohs(sin->sin_port));
	} else {
		lua_pushliteral(L, "unix");
		lua_pushinteger(L, 0);
	}
	return (2);
}

int
net_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

/*
 * How the non-blocking connect of fd ended, when the loop reported what (EV_READ,
 * EV_WRITE) on it: 0 if connected, else its errno. Writable and nothing else is
 * connected (a failure also makes the socket readable, as EPOLLERR and EPOLLHUP
 * do), which spares thousands of checks a second a system call each.
 */
int
net_connect_error(int fd, short what)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if ((what & (EV_READ | EV_WRITE)) != EV_WRITE &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	return (err);
}

/* Adds the 16-bit words of data (RFC 1071) to sum, unfolded; an odd last byte is padded with zero. */
uint32_t
net_cksum_add(const void *data, size_t len, uint32_t sum)
{
	const uint8_t	*b = data;
	size_t		 i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return (sum);
}

/* The Internet checksum of data after a partial sum (a pseudo-header's, or 0), in network order. */
uint16_t
net_cksum(const void *data, size_t len, uint32_t sum)
{
	sum = net_cksum_add(data, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (htons(~sum & 0xffff));
}

/*
 * parse_addr(text): the one address parser: a numeric IPv4 or IPv6 address,
 * "ADDRESS" or "ADDRESS/PREFIX" (inet_pton's rules: no leading zeros in a
 * dotted quad, no names). Returns the address in its canonical text
 * (inet_ntop's: "2001:db8::1" for every spelling), its family ("inet" or
 * "inet6"), its prefix length (nil without one) and its bytes in network
 * order (4 or 16); or nil and "not an IPv4 or IPv6 address" or "bad prefix
 * length".
 */
static int
net_parse_addr(lua_State *L)
{
	size_t		 len;
	const char	*text = luaL_checklstring(L, 1, &len), *slash;
	char		 buf[INET6_ADDRSTRLEN + 8], out[INET6_ADDRSTRLEN], *end;
	unsigned char	 bin[sizeof(struct in6_addr)];
	long		 prefix = -1;
	int		 family;

	if (len >= sizeof(buf))
		return (luaha_fail(L, "not an IPv4 or IPv6 address"));
	memcpy(buf, text, len + 1);
	if ((slash = strchr(text, '/')) != NULL) {
		buf[slash - text] = '\0';
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0 || prefix < 0 || prefix > 128)
			return (luaha_fail(L, "bad prefix length"));
	}
	if (inet_pton(AF_INET, buf, bin) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, buf, bin) == 1)
		family = AF_INET6;
	else
		return (luaha_fail(L, "not an IPv4 or IPv6 address"));
	if (family == AF_INET && prefix > 32)
		return (luaha_fail(L, "bad prefix length"));
	if (inet_ntop(family, bin, out, sizeof(out)) == NULL)
		return (luaha_fail_errno(L, "inet_ntop"));
	lua_pushstring(L, out);
	lua_pushstring(L, family == AF_INET ? "inet" : "inet6");
	if (prefix < 0)
		lua_pushnil(L);
	else
		lua_pushinteger(L, prefix);
	lua_pushlstring(L, (const char *)bin, family == AF_INET ? 4 : 16);
	return (4);
}

static const luaL_Reg net_funcs[] = {
	{ "parse_addr", net_parse_addr },
	{ NULL, NULL }
};

int
luaopen_luaha_core_net(lua_State *L)
{
	luaL_newlib(L, net_funcs);
	return (1);
}
