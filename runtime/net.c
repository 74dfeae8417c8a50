/* net.c: numeric addresses, option tables and the nil-and-message results shared by the socket files. */
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

/* Seconds in field of the options table at idx, or def when absent; raises unless from 0 to 1e9. */
double
luaha_opt_seconds(lua_State *L, int idx, const char *field, double def)
{
	double	 v = luaha_opt_number(L, idx, field, def);

	if (!(v >= 0 && v <= 1e9))	/* NaN too */
		luaL_error(L, "option '%s' must be from 0 to 1e9 seconds", field);
	return (v);
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
