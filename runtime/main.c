/* main.c: options, the Lua state, the main chunk run as a task, and the loop until nothing is left. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <lualib.h>

#include "luaha.h"

/*
 * The main task, in Lua so that every step may wait: the -e chunks, then the
 * script with its arguments, then the REPL when asked for. A process started
 * as a part of a daemon (part.c: "--part MODULE", its channel as fd 3) runs
 * only MODULE's main(): require(MODULE), or a file when MODULE is a path.
 */
static const char main_body[] =
	"local chunks, script, interactive, ctl, part = ...\n"
	"if part then\n"
	"  local m = part:find('/', 1, true) and dofile(part) or require(part)\n"
	"  return m.main()\n"
	"end\n"
	"if ctl then\n"
	"  local c = require('luaha.ctl')\n"
	"  c.wanted = ctl\n"
	"  local ok, err = c.listen(ctl)\n"
	"  if not ok then\n"
	"    io.stderr:write('luaha: ', err, '\\n')\n"
	"    require('luaha').exit(1)\n"
	"  end\n"
	"end\n"
	"for _, chunk in ipairs(chunks) do chunk() end\n"
	"if script then script(table.unpack(arg, 1, #arg)) end\n"
	"if interactive then require('luaha.repl').run() end\n";

static void
usage(FILE *f)
{
	fprintf(f, "usage: luaha [-hiv] [--syslog] [--log-facility facility] [--log-socket path]\n"
	    "             [--log-tag-idents] [--ctl path] [-L dir] [-e code]\n"
	    "             [script | policy [args ...]]\n"
	    "       luaha attach [name | path] [-e code]\n"
	    "       luaha ctl [name | path] command [args ...]\n"
	    "       luaha passwd [-f file] [--stdin] [user]\n"
	    "       luaha bgp-config [-c file]\n");
}

static void
version(void)
{
	printf("luaha %s (%s, libevent %s)\n", LUAHA_VERSION, LUA_RELEASE,
	    event_get_version());
}

/*
 * -L DIR, in the order given, goes before the directories of LUAHA_PATH, and
 * into LUAHA_PATH itself, so that the parts (this binary started again) and
 * embed.c's searcher find the same modules.
 */
static void
main_add_path(char **dirs, const char *dir)
{
	char	*s;

	if (asprintf(&s, "%s%s%s", *dirs ? *dirs : "", *dirs ? ":" : "", dir) == -1)
		fatal("asprintf");
	free(*dirs);
	*dirs = s;
}

static void
main_set_path(char *dirs)
{
	const char	*env = getenv("LUAHA_PATH");

	if (dirs == NULL)
		return;
	if (env != NULL && *env != '\0')
		main_add_path(&dirs, env);
	if (setenv("LUAHA_PATH", dirs, 1) == -1)
		fatal("setenv LUAHA_PATH");
	free(dirs);
}

/* The global arg, as the standalone lua sets it. */
static void
main_set_arg(lua_State *L, char **argv, int argc, int script)
{
	int	 i;

	lua_createtable(L, argc - script, script + 1);
	for (i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
}

/*
 * A router checks thousands of real servers at once: raise the descriptor
 * limit to at least MAIN_NOFILE (root may raise the hard limit too).
 */
#define MAIN_NOFILE	65536

static void
main_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	if (rl.rlim_max < MAIN_NOFILE) {
		struct rlimit want = { MAIN_NOFILE, MAIN_NOFILE };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
		log_debug("cannot raise the descriptor limit to %d, using %ld",
		    MAIN_NOFILE, (long)rl.rlim_max);
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

static void
main_load_error(lua_State *L)
{
	fprintf(stderr, "luaha: %s\n", lua_tostring(L, -1));
	exit(1);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ "syslog", no_argument, NULL, 'S' },
		{ "log-facility", required_argument, NULL, 'F' },
		{ "log-socket", required_argument, NULL, 'O' },
		{ "log-tag-idents", no_argument, NULL, 'T' },
		{ "ctl", required_argument, NULL, 'C' },
		{ "part", required_argument, NULL, 'P' },
		{ "path", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	lua_State	*L;
	int		 ch, interactive = 0, use_syslog = 0, nchunks = 0, code;
	char		**chunks, *dirs = NULL;
	const char	*ctl = NULL, *part = NULL;

	if ((chunks = calloc(argc, sizeof(char *))) == NULL)
		fatal("calloc");
	while ((ch = getopt_long(argc, argv, "+e:hiL:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			chunks[nchunks++] = optarg;
			break;
		case 'i':
			interactive = 1;
			break;
		case 'L':
			main_add_path(&dirs, optarg);
			break;
		case 'v':
			version();
			free(chunks);
			return (0);
		case 'S':
			use_syslog = 1;
			break;
		case 'F':
			if (log_set_facility(optarg) == -1) {
				fprintf(stderr, "luaha: --log-facility %s: not daemon or "
				    "local0 to local7\n", optarg);
				free(chunks);
				return (2);	/* a usage error */
			}
			break;
		case 'O':
			if (log_set_socket(optarg) == -1) {
				fprintf(stderr, "luaha: --log-socket %s: %s\n", optarg,
				    strerror(errno));
				free(chunks);
				return (1);
			}
			break;
		case 'T':
			log_set_tag_idents(1);
			break;
		case 'C':
			ctl = optarg;
			break;
		case 'P':
			part = optarg;
			break;
		case 'h':
			usage(stdout);
			free(chunks);
			return (0);
		default:
			usage(stderr);
			free(chunks);
			return (2);		/* usage: 2, as luaha ctl and the policies */
		}
	}
	main_set_path(dirs);
	if (optind == argc && nchunks == 0 && part == NULL)
		interactive = 1;

	log_init(use_syslog ? LOG_DEST_SYSLOG : LOG_DEST_STDERR, LOG_LEVEL_INFO);
	main_raise_nofile();
	if (part != NULL && part_set_parent(3) == -1)
		fatal("--part %s: descriptor 3 is not a part's channel", part);
	if (loop_init() == -1)
		fatalx("cannot create the event loop");
	if (signal_init() == -1)
		fatal("cannot install signal handlers");
	if ((L = luaL_newstate()) == NULL)
		fatalx("cannot create the Lua state");
	/* New threads copy the main thread's extra space: no task unless set. */
	*(void **)lua_getextraspace(L) = NULL;
	luaL_openlibs(L);
	libs_preload(L);
	luaL_requiref(L, "luaha.core.task", luaopen_luaha_core_task, 0);
	lua_pop(L, 1);		/* the main task below needs its metatable */
	embed_searchers(L);
	main_set_arg(L, argv, argc, optind < argc ? optind : 0);

	if (luaL_loadbuffer(L, main_body, sizeof(main_body) - 1, "=luaha") != LUA_OK)
		main_load_error(L);
	lua_createtable(L, nchunks, 0);
	for (ch = 0; ch < nchunks; ch++) {
		if (luaL_loadbuffer(L, chunks[ch], strlen(chunks[ch]),
		    "=(command line)") != LUA_OK)
			main_load_error(L);
		lua_rawseti(L, -2, ch + 1);
	}
	free(chunks);
	if (optind < argc && (strcmp(argv[optind], "attach") == 0 ||
	    strcmp(argv[optind], "ctl") == 0)) {
		/* The client commands: arg[0] says which. */
		if (luaL_loadstring(L, "return require('luaha.ctl').main(arg[0], ...)") != LUA_OK)
			main_load_error(L);
	} else if (optind < argc && strcmp(argv[optind], "passwd") == 0) {
		/* A command, not a policy: it runs once and waits for nothing (lua/luaha/passwd.lua). */
		if (luaL_loadstring(L, "return require('luaha.passwd').main(...)") != LUA_OK)
			main_load_error(L);
	} else if (optind < argc && strcmp(argv[optind], "bgp-config") == 0) {
		/* Likewise: prints BIRD's part of an anycast director (lua/luaha/bgpconfig.lua). */
		if (luaL_loadstring(L, "return require('luaha.bgpconfig').main(...)") != LUA_OK)
			main_load_error(L);
	} else if (optind < argc) {
		/* A shipped policy's name, else a file (- is the standard input). */
		if ((code = embed_script(L, argv[optind])) == -1)
			code = luaL_loadfile(L, strcmp(argv[optind], "-") == 0 ?
			    NULL : argv[optind]);
		if (code != LUA_OK)
			main_load_error(L);
	} else
		lua_pushnil(L);
	lua_pushboolean(L, interactive);
	if (ctl != NULL)
		lua_pushstring(L, ctl);
	else
		lua_pushnil(L);
	if (part != NULL)
		lua_pushstring(L, part);
	else
		lua_pushnil(L);
	task_spawn(L, 5, "main", TASK_FATAL);
	lua_pop(L, 1);

	code = loop_run();
	lua_close(L);
	signal_free();
	loop_free();
	return (code);
}
