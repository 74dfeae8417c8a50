/* procself.c: this process's CPU time, memory, descriptors and start time (luaha.daemon.process_stats), for /metrics. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/resource.h>
#include <sys/time.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "luaha.h"

/* The boot time, in seconds since the epoch: /proc/stat's btime. -1 when unreadable. */
static long long
procself_boot_time(void)
{
	FILE		*f;
	char		 line[256];
	long long	 btime = -1;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	return (btime);
}

/*
 * The start time in clock ticks after boot and the resident pages, from
 * /proc/self/stat (fields 22 and 24, after the command name, which may hold
 * spaces and parentheses: the last ')' ends it). -1 when unreadable.
 */
static int
procself_stat(unsigned long long *start, long *rss)
{
	FILE	*f;
	char	 buf[1024], *p;
	size_t	 n;

	if ((f = fopen("/proc/self/stat", "re")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* state(3) ... starttime(22) vsize(23) rss(24) */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
	    "%*d %*d %*d %*d %llu %*u %ld", start, rss) != 2)
		return (-1);
	return (0);
}

/* The number of open descriptors: the entries of /proc/self/fd, less the one reading it. -1 when unreadable. */
static int
procself_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);
}

/*
 * process_stats(): { cpu_seconds, resident_bytes, open_fds, max_fds,
 * start_time } of this process, all threads; a field that cannot be read
 * is absent. A few system calls and three small reads of /proc: tens of µs.
 */
static int
procself_process_stats(lua_State *L)
{
	struct rusage		 ru;
	struct rlimit		 rl;
	unsigned long long	 start;
	long long		 boot;
	long			 rss, ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	int			 fds;

	lua_createtable(L, 0, 5);
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		lua_pushnumber(L, ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
		lua_setfield(L, -2, "cpu_seconds");
	}
	if (procself_stat(&start, &rss) == 0) {
		if (page > 0) {
			lua_pushinteger(L, (lua_Integer)rss * page);
			lua_setfield(L, -2, "resident_bytes");
		}
		if (ticks > 0 && (boot = procself_boot_time()) != -1) {
			lua_pushnumber(L, (lua_Number)boot + (lua_Number)start / ticks);
			lua_setfield(L, -2, "start_time");
		}
	}
	if ((fds = procself_fds()) != -1) {
		lua_pushinteger(L, fds);
		lua_setfield(L, -2, "open_fds");
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		lua_pushinteger(L, (lua_Integer)rl.rlim_cur);
		lua_setfield(L, -2, "max_fds");
	}
	return (1);
}

static const luaL_Reg procself_funcs[] = {
	{ "process_stats", procself_process_stats },
	{ NULL, NULL }
};

int
luaopen_luaha_core_procself(lua_State *L)
{
	luaL_newlib(L, procself_funcs);
	return (1);
}
