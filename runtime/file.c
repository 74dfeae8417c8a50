/* file.c: a whole regular file read with a size cap, never blocking on a FIFO or a device, and replaced atomically (luaha.core.file). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
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

static const char *const file_replace_opts[] = { "mode", "backup", NULL };

/* Writes all of len bytes of text to fd; 0, or -1 with errno set. */
static int
file_write_all(int fd, const char *text, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, text, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		text += n;
		len -= (size_t)n;
	}
	return (0);
}

/* fsync of the directory that holds path, so that a rename in it survives a crash. */
static int
file_sync_dir(const char *path)
{
	char	 copy[PATH_MAX];
	int	 fd, saved;

	if (strlen(path) >= sizeof(copy)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(copy, path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	if (fsync(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (close(fd));
}

/*
 * replace(path, text [, { mode = M, backup = PATH }]): makes text the contents of the
 * file at path, so that a reader, or a crash, finds the old file or the new one whole,
 * never a mix: text goes to path.tmp.PID in the same directory (created anew, never
 * through a symbolic link), which gets mode M (default: the old file's mode, else 0600,
 * whatever the umask) and the old file's owner and group, is synced, and is renamed over
 * path; then the directory is synced. With backup, the old file is kept under that name
 * (a hard link made before the rename; a file there before is replaced). Returns true,
 * or nil and "PATH: reason" naming the step's file; the temporary file is removed on a
 * failure, and the old file is untouched unless the last step, the directory's sync,
 * failed. Holds the loop for the write and two fsyncs (milliseconds on a disk).
 */
static int
file_replace(lua_State *L)
{
	const char	*path = luaL_checkstring(L, 1), *backup, *fail = NULL;
	size_t		 len;
	const char	*text = luaL_checklstring(L, 2, &len);
	struct stat	 st;
	char		 tmp[PATH_MAX];
	mode_t		 mode = 0600;
	lua_Integer	 m;
	int		 fd, exists, saved, tries;

	luaha_check_options(L, 3, file_replace_opts);
	backup = luaha_opt_string(L, 3, "backup");
	m = -1;
	if (lua_istable(L, 3) && lua_getfield(L, 3, "mode") != LUA_TNIL) {
		if (!lua_isinteger(L, -1) || (m = lua_tointeger(L, -1)) < 0 || m > 07777)
			return (luaL_argerror(L, 3, "mode: an integer from 0 to 07777"));
	}
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return (luaha_fail(L, "%s: is %s", path, file_kind(st.st_mode)));
		exists = 1;
	} else if (errno == ENOENT)
		exists = 0;
	else
		return (luaha_fail_errno(L, path));
	if (m != -1)
		mode = (mode_t)m;
	else if (exists)
		mode = st.st_mode & 07777;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return (luaha_fail(L, "%s: name too long", path));
	/* A file of that name is a leftover of this pid's earlier run, killed: ours to remove. */
	for (tries = 0; ; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST || tries > 0 || unlink(tmp) == -1)
			break;
	}
	if (fd == -1)
		return (luaha_fail_errno(L, tmp));
	fail = tmp;
	if (fchmod(fd, mode) == -1 ||
	    (exists && fchown(fd, st.st_uid, st.st_gid) == -1) ||
	    file_write_all(fd, text, len) == -1 || fsync(fd) == -1)
		goto bad;
	if (close(fd) == -1) {
		fd = -1;
		goto bad;
	}
	fd = -1;
	if (exists && backup != NULL) {
		fail = backup;
		if ((unlink(backup) == -1 && errno != ENOENT) || link(path, backup) == -1)
			goto bad;
	}
	fail = path;
	if (rename(tmp, path) == -1)
		goto bad;
	if (file_sync_dir(path) == -1)
		return (luaha_fail_errno(L, path));
	lua_pushboolean(L, 1);
	return (1);
bad:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return (luaha_fail_errno(L, fail));
}

static const luaL_Reg file_funcs[] = {
	{ "read", file_read },
	{ "replace", file_replace },
	{ NULL, NULL }
};

int
luaopen_luaha_core_file(lua_State *L)
{
	luaL_newlib(L, file_funcs);
	return (1);
}
