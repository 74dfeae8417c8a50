/* file.c: a whole regular file read with a size cap, never blocking on a FIFO or a device (luaha.core.file). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "luaha.h"

/* What a file that is not regular is, for the message that refuses it. */
static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return ("a directory");
	if (S_ISFIFO(mode))
		return ("a FIFO");
	if (S_ISCHR(mode))
		return ("a character device");
	if (S_ISBLK(mode))
		return ("a block device");
	if (S_ISSOCK(mode))
		return ("a socket");
	return ("not a regular file");
}

/*
 * read(path, max): the contents of the regular file at path, or nil, "PATH: reason": the
 * system's reason, "is a directory" (or a FIFO, a device...), or "larger than MAX bytes".
 * The path is checked with stat before it is opened, so that a device is not even opened
 * (opening a tape rewinds it); the open is non-blocking, so a FIFO put there meanwhile
 * cannot block, and the opened file is checked again. A file that grows while it is read is
 * refused at max + 1 bytes. Reading does not yield: it holds the loop for as long as the
 * disk takes to give max bytes.
 */
static int
file_read(lua_State *L)
{
	const char	*path = luaL_checkstring(L, 1);
	lua_Integer	 max = luaL_checkinteger(L, 2);
	struct stat	 st;
	luaL_Buffer	 b;
	size_t		 got = 0, want;
	ssize_t		 n;
	char		*p;
	int		 fd;

	luaL_argcheck(L, max >= 0 && max < INT_MAX, 2, "must be from 0 to INT_MAX - 1");
	if (stat(path, &st) == -1)
		return (luaha_fail_errno(L, path));
	if (!S_ISREG(st.st_mode))
		return (luaha_fail(L, "%s: is %s", path, file_kind(st.st_mode)));
	if (st.st_size > max)
		return (luaha_fail(L, "%s: larger than %d bytes", path, (int)max));
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
		return (luaha_fail_errno(L, path));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		int saved = errno;

		close(fd);
		if (S_ISREG(st.st_mode)) {
			errno = saved;
			return (luaha_fail_errno(L, path));
		}
		return (luaha_fail(L, "%s: is %s", path, file_kind(st.st_mode)));
	}
	/*
	 * The size stat gave and one byte more in one read, so that the end is seen at once;
	 * then 64 KiB at a time, for a file that grew meanwhile, up to one byte past max.
	 */
	luaL_buffinit(L, &b);
	while (got <= (size_t)max) {
		want = got < (size_t)st.st_size ? (size_t)st.st_size - got + 1 : 65536;
		if (want > (size_t)max + 1 - got)
			want = (size_t)max + 1 - got;
		p = luaL_prepbuffsize(&b, want);
		if ((n = read(fd, p, want)) == -1) {
			if (errno == EINTR)
				continue;
			n = errno;
			close(fd);
			errno = (int)n;
			return (luaha_fail_errno(L, path));
		}
		if (n == 0)
			break;
		luaL_addsize(&b, (size_t)n);
		got += (size_t)n;
	}
	close(fd);
	if (got > (size_t)max)
		return (luaha_fail(L, "%s: larger than %d bytes", path, (int)max));
	luaL_pushresult(&b);
	return (1);
}

static const luaL_Reg file_funcs[] = {
	{ "read", file_read },
	{ NULL, NULL }
};

int
luaopen_luaha_core_file(lua_State *L)
{
	luaL_newlib(L, file_funcs);
	return (1);
}
