/* file.c: whole files: read with a size cap, never blocking on a FIFO or a device; replaced atomically (luaha.core.file). */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A read, done by the worker thread (or at once outside a task): its inputs and its answer. */
struct file_reading {
	struct worker_job	 job;
	char			*path;
	size_t			 max;		/* bytes at most */
	char			*data;		/* what was read, len bytes */
	size_t			 len;
	char			 err[PATH_MAX + 128];	/* "PATH: reason" when it failed */
};

/* Records errno's reason for r->path, closing fd (if not -1) without losing errno; -1. */
static int
file_read_fail(struct file_reading *r, int fd)
{
	int	 saved = errno;

	if (fd != -1)
		close(fd);
	snprintf(r->err, sizeof(r->err), "%s: %s", r->path, strerror(saved));
	return (-1);
}

/* Refuses r->path for what it is (a directory, a FIFO...), closing fd if not -1; -1. */
static int
file_read_refuse(struct file_reading *r, int fd, mode_t mode)
{
	if (fd != -1)
		close(fd);
	snprintf(r->err, sizeof(r->err), "%s: is %s", r->path, file_kind(mode));
	return (-1);
}

/*
 * The read's steps. The path is checked with stat before it is opened, so that a device is not
 * even opened (opening a tape rewinds it); the open is non-blocking, so a FIFO put there
 * meanwhile cannot block, and the opened file is checked again. The size stat gave and one
 * byte more are read at once, so that the end is seen at once; then 64 KiB at a time, for a
 * file that grew meanwhile, up to one byte past max, where it is refused. 0, or -1 with r->err.
 */
static int
file_read_steps(struct file_reading *r)
{
	struct stat	 st;
	size_t		 want, size = 0;
	ssize_t		 n;
	char		*p;
	int		 fd;

	if (stat(r->path, &st) == -1)
		return (file_read_fail(r, -1));
	if (!S_ISREG(st.st_mode))
		return (file_read_refuse(r, -1, st.st_mode));
	if ((uintmax_t)st.st_size > r->max) {
		snprintf(r->err, sizeof(r->err), "%s: larger than %zu bytes", r->path, r->max);
		return (-1);
	}
	if ((fd = open(r->path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
		return (file_read_fail(r, -1));
	if (fstat(fd, &st) == -1)
		return (file_read_fail(r, fd));
	if (!S_ISREG(st.st_mode))
		return (file_read_refuse(r, fd, st.st_mode));
	while (r->len <= r->max) {
		want = r->len < (size_t)st.st_size ? (size_t)st.st_size - r->len + 1 : 65536;
		if (want > r->max + 1 - r->len)
			want = r->max + 1 - r->len;
		if (r->len + want > size) {
			if ((p = realloc(r->data, r->len + want)) == NULL)
				return (file_read_fail(r, fd));
			r->data = p;
			size = r->len + want;
		}
		if ((n = read(fd, r->data + r->len, want)) == -1) {
			if (errno == EINTR)
				continue;
			return (file_read_fail(r, fd));
		}
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	close(fd);
	if (r->len > r->max) {
		snprintf(r->err, sizeof(r->err), "%s: larger than %zu bytes", r->path, r->max);
		return (-1);
	}
	return (0);
}

static void
file_read_run(struct worker_job *job)
{
	struct file_reading	*r = (struct file_reading *)job;

	if (file_read_steps(r) == 0)
		r->err[0] = '\0';
}

/* Pushes the answer: the contents, or nil and "PATH: reason". */
static int
file_read_done(lua_State *L, struct waiter *w, short what)
{
	struct file_reading	*r = w->arg;

	(void)what;
	if (r->err[0] != '\0')
		return (luaha_fail(L, "%s", r->err));
	lua_pushlstring(L, r->data != NULL ? r->data : "", r->len);
	return (1);
}

static void
file_read_release(struct worker_job *job)
{
	struct file_reading	*r = (struct file_reading *)job;

	free(r->path);
	free(r->data);
	free(r);
}

/*
 * read(path, max): the contents of the regular file at path, or nil, "PATH: reason": the
 * system's reason, "is a directory" (or a FIFO, a device...), or "larger than MAX bytes"
 * (file_read_steps). In a task the read runs in the worker thread (worker.c), so that a reload
 * of a 3 MB lvs.cf does not hold the loop while the kernel copies it (0.5 s in UML); outside a
 * task, or when the worker's queue is full (password checks), at once.
 */
static int
file_read(lua_State *L)
{
	const char		*path = luaL_checkstring(L, 1);
	lua_Integer		 max = luaL_checkinteger(L, 2);
	struct file_reading	*r;

	luaL_argcheck(L, max >= 0 && max < INT_MAX, 2, "must be from 0 to INT_MAX - 1");
	if ((r = calloc(1, sizeof(*r))) == NULL || (r->path = strdup(path)) == NULL) {
		free(r);
		return (luaha_fail(L, "%s: read: out of memory", path));
	}
	r->max = (size_t)max;
	snprintf(r->err, sizeof(r->err), "%s: read: not done", path);
	r->job.run = file_read_run;
	r->job.done = file_read_done;
	r->job.release = file_read_release;
	return (worker_run(L, &r->job));
}

/* The name stat gives a file's type, for stat's answer. */
static const char *
file_type(mode_t mode)
{
	if (S_ISREG(mode))
		return ("file");
	if (S_ISDIR(mode))
		return ("directory");
	if (S_ISLNK(mode))
		return ("link");
	if (S_ISFIFO(mode))
		return ("fifo");
	if (S_ISCHR(mode))
		return ("character device");
	if (S_ISBLK(mode))
		return ("block device");
	if (S_ISSOCK(mode))
		return ("socket");
	return ("other");
}

/*
 * stat(path): {type =, mode =, uid =, gid =, size =, mtime =} of the file at path
 * (symbolic links followed), or nil, "PATH: reason". mode holds the permission bits only.
 */
static int
file_stat(lua_State *L)
{
	const char	*path = luaL_checkstring(L, 1);
	struct stat	 st;

	if (stat(path, &st) == -1)
		return (luaha_fail_errno(L, path));
	lua_createtable(L, 0, 6);
	lua_pushstring(L, file_type(st.st_mode));
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, st.st_mode & 07777);
	lua_setfield(L, -2, "mode");
	lua_pushinteger(L, st.st_uid);
	lua_setfield(L, -2, "uid");
	lua_pushinteger(L, st.st_gid);
	lua_setfield(L, -2, "gid");
	lua_pushinteger(L, st.st_size);
	lua_setfield(L, -2, "size");
	lua_pushnumber(L, st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
	lua_setfield(L, -2, "mtime");
	return (1);
}

/* realpath(path): the absolute path of path with every symbolic link resolved, or nil, "PATH: reason". */
static int
file_realpath(lua_State *L)
{
	const char	*path = luaL_checkstring(L, 1);
	char		*real;

	if ((real = realpath(path, NULL)) == NULL)
		return (luaha_fail_errno(L, path));
	lua_pushstring(L, real);
	free(real);
	return (1);
}

/*
 * A replacement, done by the worker thread (or at once outside a task): its inputs, copied,
 * and its answer. err holds "what: reason" when it failed.
 */
struct file_replace {
	struct worker_job	 job;
	char			*path;		/* the file replaced */
	char			*tmp;		/* PATH.tmp.PID, in the same directory */
	char			*dir;		/* the directory, fsynced after the rename */
	char			*data;		/* the new contents, len bytes */
	size_t			 len;
	mode_t			 mode;		/* permission bits of the new file */
	uid_t			 uid;		/* its owner, when chown is set */
	gid_t			 gid;
	int			 chown;
	char			 err[PATH_MAX + 128];
};

/* Records the failure of what on name with errno's reason; -1. */
static int
file_replace_fail(struct file_replace *r, const char *name, const char *what)
{
	snprintf(r->err, sizeof(r->err), "%s: %s: %s", name, what, strerror(errno));
	return (-1);
}

/* close(fd) keeping errno, for the error paths. */
static void
file_close_quietly(int fd)
{
	int	 saved = errno;

	close(fd);
	errno = saved;
}

/*
 * The replacement's steps, in the order that makes it atomic: the new contents go to a
 * temporary file in the same directory, with the mode and owner wanted, and reach the disk
 * (fsync) before the rename puts them in place in one step; then the directory is fsynced so
 * that the rename itself survives a crash. A process killed at any point leaves the old file
 * or the new one (and maybe the temporary file), never a mix. A failure before the rename
 * removes the temporary file. 0, or -1 with r->err set.
 */
static int
file_replace_steps(struct file_replace *r)
{
	struct stat	 st;
	size_t		 done = 0;
	ssize_t		 n;
	int		 fd;

	/* A temporary file of this name was left by a process of this pid that was killed. */
	if (unlink(r->tmp) == -1 && errno != ENOENT)
		return (file_replace_fail(r, r->tmp, "unlink"));
	if ((fd = open(r->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		return (file_replace_fail(r, r->tmp, "open"));
	if (fstat(fd, &st) == -1) {
		file_replace_fail(r, r->tmp, "fstat");
		goto fail;
	}
	if (r->chown && (st.st_uid != r->uid || st.st_gid != r->gid) && fchown(fd, r->uid, r->gid) == -1) {
		file_replace_fail(r, r->tmp, "fchown");
		goto fail;
	}
	if (fchmod(fd, r->mode) == -1) {
		file_replace_fail(r, r->tmp, "fchmod");
		goto fail;
	}
	while (done < r->len) {
		if ((n = write(fd, r->data + done, r->len - done)) == -1) {
			if (errno == EINTR)
				continue;
			file_replace_fail(r, r->tmp, "write");
			goto fail;
		}
		done += (size_t)n;
	}
	if (fsync(fd) == -1) {
		file_replace_fail(r, r->tmp, "fsync");
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		file_replace_fail(r, r->tmp, "close");
		goto fail;
	}
	fd = -1;
	if (rename(r->tmp, r->path) == -1) {
		file_replace_fail(r, r->tmp, "rename");
		goto fail;
	}
	if ((fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (file_replace_fail(r, r->dir, "open"));
	if (fsync(fd) == -1) {
		file_replace_fail(r, r->dir, "fsync");
		file_close_quietly(fd);
		return (-1);
	}
	if (close(fd) == -1)
		return (file_replace_fail(r, r->dir, "close"));
	return (0);
fail:
	if (fd != -1)
		file_close_quietly(fd);
	if (unlink(r->tmp) == -1 && errno != ENOENT)
		log_warn("%s: unlink %s", __func__, r->tmp);
	return (-1);
}

static void
file_replace_run(struct worker_job *job)
{
	struct file_replace	*r = (struct file_replace *)job;

	if (file_replace_steps(r) == 0)
		r->err[0] = '\0';
}

/* Pushes the answer: true, or nil and "what: reason". */
static int
file_replace_done(lua_State *L, struct waiter *w, short what)
{
	struct file_replace	*r = w->arg;

	(void)what;
	if (r->err[0] != '\0')
		return (luaha_fail(L, "%s", r->err));
	return (luaha_ok(L));
}

static void
file_replace_release(struct worker_job *job)
{
	struct file_replace	*r = (struct file_replace *)job;

	free(r->path);
	free(r->tmp);
	free(r->dir);
	free(r->data);
	free(r);
}

/* The replacement of path by data, copied, with dir and tmp made; NULL when out of memory. */
static struct file_replace *
file_replace_new(const char *path, const char *data, size_t len)
{
	struct file_replace	*r;
	const char		*slash = strrchr(path, '/');

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->path = strdup(path);
	if (slash == NULL)
		r->dir = strdup(".");
	else if (slash == path)
		r->dir = strdup("/");
	else
		r->dir = strndup(path, (size_t)(slash - path));
	if (asprintf(&r->tmp, "%s.tmp.%ld", path, (long)getpid()) == -1)
		r->tmp = NULL;
	r->data = malloc(len > 0 ? len : 1);
	if (r->path == NULL || r->dir == NULL || r->tmp == NULL || r->data == NULL) {
		file_replace_release(&r->job);
		return (NULL);
	}
	memcpy(r->data, data, len);
	r->len = len;
	snprintf(r->err, sizeof(r->err), "%s: replace: not done", path);
	return (r);
}

/*
 * replace(path, data [, mode [, uid, gid]]): makes data the contents of the file at path in
 * one step (file_replace_steps): true, or nil and "NAME: what: reason" (NAME the temporary
 * file PATH.tmp.PID or the directory), the file at path being then the old one, unless only
 * the directory's fsync failed. mode (default 0644) and uid and gid (default the process's)
 * are the new file's; a symbolic link at path is replaced, not followed. In a task the steps
 * run in the worker thread (worker.c), so a slow disk's fsync does not hold the loop; outside
 * a task, or when the worker's queue is full (password checks), at once.
 */
static int
file_replace(lua_State *L)
{
	const char		*path = luaL_checkstring(L, 1);
	size_t			 len;
	const char		*data = luaL_checklstring(L, 2, &len);
	lua_Integer		 mode = luaL_optinteger(L, 3, 0644);
	lua_Integer		 uid = 0, gid = 0;
	struct file_replace	*r;

	luaL_argcheck(L, mode >= 0 && mode <= 07777, 3, "must be permission bits (0 to 07777)");
	luaL_argcheck(L, *path != '\0', 1, "must not be empty");
	luaL_argcheck(L, lua_isnoneornil(L, 4) == lua_isnoneornil(L, 5), 4, "uid and gid go together");
	if (!lua_isnoneornil(L, 4)) {
		uid = luaL_checkinteger(L, 4);
		gid = luaL_checkinteger(L, 5);
		luaL_argcheck(L, uid >= 0 && uid < UINT32_MAX, 4, "not a user id");
		luaL_argcheck(L, gid >= 0 && gid < UINT32_MAX, 5, "not a group id");
	}
	if ((r = file_replace_new(path, data, len)) == NULL)
		return (luaha_fail(L, "%s: replace: out of memory", path));
	r->mode = (mode_t)mode;
	r->chown = !lua_isnoneornil(L, 4);
	r->uid = (uid_t)uid;
	r->gid = (gid_t)gid;
	r->job.run = file_replace_run;
	r->job.done = file_replace_done;
	r->job.release = file_replace_release;
	return (worker_run(L, &r->job));
}

/*
 * same(a, i, b, j, n): whether a:sub(i, i + n - 1) == b:sub(j, j + n - 1), ranges that lie wholly
 * inside their strings, without making either: the parse cache compares each block of a file read
 * again with the text it was read from, and two copies of every block were most of a reload's
 * garbage (first-touched memory is what a reload costs most in UML). A range outside its string is
 * false; n = 0 is true.
 */
static int
file_same(lua_State *L)
{
	size_t		 la, lb;
	const char	*a = luaL_checklstring(L, 1, &la);
	lua_Integer	 i = luaL_checkinteger(L, 2);
	const char	*b = luaL_checklstring(L, 3, &lb);
	lua_Integer	 j = luaL_checkinteger(L, 4);
	lua_Integer	 n = luaL_checkinteger(L, 5);

	luaL_argcheck(L, n >= 0, 5, "negative length");
	if (i < 1 || j < 1 || (lua_Unsigned)(i - 1) > la || (lua_Unsigned)(j - 1) > lb ||
	    (lua_Unsigned)n > la - (size_t)(i - 1) || (lua_Unsigned)n > lb - (size_t)(j - 1)) {
		lua_pushboolean(L, 0);
		return (1);
	}
	lua_pushboolean(L, memcmp(a + i - 1, b + j - 1, (size_t)n) == 0);
	return (1);
}

static const luaL_Reg file_funcs[] = {
	{ "read", file_read },
	{ "same", file_same },
	{ "realpath", file_realpath },
	{ "replace", file_replace },
	{ "stat", file_stat },
	{ NULL, NULL }
};

int
luaopen_luaha_core_file(lua_State *L)
{
	luaL_newlib(L, file_funcs);
	return (1);
}
