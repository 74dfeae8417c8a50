/* sysctl.c: sysctls read and written as /proc/sys files; part of luaha.core.link. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "luaha.h"
#include "link.h"

static int
sysctl_read(lua_State *L, const char *name, const char *path)
{
	luaL_Buffer	 b;
	const char	*s;
	size_t		 len;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(errno)));
	luaL_buffinit(L, &b);
	do {
		if ((n = read(fd, luaL_prepbuffer(&b), LUAL_BUFFERSIZE)) > 0)
			luaL_addsize(&b, n);
	} while (n > 0 || (n == -1 && errno == EINTR));
	saved = errno;
	if (close(fd) == -1)
		log_warn("%s: close %s", __func__, path);
	if (n == -1)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(saved)));
	luaL_pushresult(&b);
	s = lua_tolstring(L, -1, &len);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	lua_pushlstring(L, s, len);
	return (1);
}

static int
sysctl_write(lua_State *L, const char *name, const char *path)
{
	const char	*v;
	size_t		 len;
	ssize_t		 n;
	int		 fd, saved;

	/* Before the conversion to a string, which would hide a float. */
	luaL_argcheck(L, lua_type(L, 2) == LUA_TSTRING || lua_isinteger(L, 2), 2,
	    "a string or an integer");
	v = lua_tolstring(L, 2, &len);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(errno)));
	/* procfs takes the value in one write and says there if it rejects it. */
	while ((n = write(fd, v, len)) == -1 && errno == EINTR)
		;
	saved = n == -1 ? errno : EIO;
	if (close(fd) == -1 && n == (ssize_t)len)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(errno)));
	if (n != (ssize_t)len)
		return (luaha_fail(L, "sysctl %s: %s", name, strerror(saved)));
	return (luaha_ok(L));
}

/*
 * sysctl(name [, value]): reads (trimmed) or writes /proc/sys/<name with
 * dots as slashes>. procfs answers at once: this does not yield. A name
 * cannot hold an interface name with a dot in it (eth0.100).
 */
static int
sysctl_sysctl(lua_State *L)
{
	const char	*name = luaL_checkstring(L, 1);
	char		 path[PATH_MAX], *p;
	int		 n;

	luaL_argcheck(L, *name != '\0' && strchr(name, '/') == NULL &&
	    strstr(name, "..") == NULL, 1, "not a sysctl name");
	n = snprintf(path, sizeof(path), "/proc/sys/%s", name);
	luaL_argcheck(L, n > 0 && (size_t)n < sizeof(path), 1, "too long");
	for (p = path + strlen("/proc/sys/"); *p != '\0'; p++)
		if (*p == '.')
			*p = '/';
	if (lua_isnoneornil(L, 2))
		return (sysctl_read(L, name, path));
	return (sysctl_write(L, name, path));
}

const luaL_Reg sysctl_funcs[] = {
	{ "sysctl", sysctl_sysctl },
	{ NULL, NULL }
};
