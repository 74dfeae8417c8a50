/* signal.c: luaha.on_signal (handlers run as tasks) and the default clean stop on INT and TERM. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <string.h>

#include <event2/event.h>

#include "luaha.h"

static const struct {
	const char	*name;
	int		 signo;
} signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "TERM", SIGTERM },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { NULL, 0 }
};

struct handler {
	struct event	*ev;		/* NULL once cancelled */
	lua_State	*L;		/* the main thread */
	int		 self_ref;	/* anchors the handler while installed */
	int		 signo;
};

/* Handlers installed per signal; INT and TERM stop the program while none is. */
static int		 signal_handlers[NSIG];
static struct event	*signal_default_ev[2];

static void
signal_default_cb(evutil_socket_t signo, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (signal_handlers[signo] > 0)
		return;
	log_info("got SIG%s, stopping", signo == SIGINT ? "INT" : "TERM");
	loop_exit(0);
}

/* Installs the default INT and TERM handlers and ignores SIGPIPE (errors come back as EPIPE). */
int
signal_init(void)
{
	int	 i, signos[2] = { SIGINT, SIGTERM };

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return (-1);
	for (i = 0; i < 2; i++) {
		signal_default_ev[i] = evsignal_new(loop_base(), signos[i],
		    signal_default_cb, NULL);
		if (signal_default_ev[i] == NULL ||
		    evsignal_add(signal_default_ev[i], NULL) == -1)
			return (-1);
	}
	return (0);
}

/* Frees the default handlers, before the loop goes. */
void
signal_free(void)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		if (signal_default_ev[i] != NULL)
			event_free(signal_default_ev[i]);
		signal_default_ev[i] = NULL;
	}
}

static void
signal_cb(evutil_socket_t signo, short what, void *arg)
{
	struct handler	*h = arg;
	lua_State	*L = h->L;

	(void)what;
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->self_ref);
	lua_getiuservalue(L, -1, 1);
	lua_remove(L, -2);
	lua_pushstring(L, strsignal((int)signo));
	task_spawn(L, 1, NULL, 0);
	lua_pop(L, 1);
}

static void
signal_remove(struct handler *h)
{
	if (h->ev == NULL)
		return;
	event_free(h->ev);
	h->ev = NULL;
	signal_handlers[h->signo]--;
	luaL_unref(h->L, LUA_REGISTRYINDEX, h->self_ref);
	h->self_ref = LUA_NOREF;
	loop_unref();
}

/* on_signal(name, fn): runs fn(description) as a task at each delivery; returns a handle. */
static int
signal_on(lua_State *L)
{
	const char	*name = luaL_checkstring(L, 1);
	struct handler	*h;
	int		 i;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	for (i = 0; signal_names[i].name != NULL; i++)
		if (strcmp(signal_names[i].name, name) == 0)
			break;
	if (signal_names[i].name == NULL)
		return (luaL_argerror(L, 1, "not one of HUP, INT, TERM, USR1, USR2"));
	h = lua_newuserdatauv(L, sizeof(*h), 1);
	memset(h, 0, sizeof(*h));
	h->self_ref = LUA_NOREF;
	luaL_setmetatable(L, "luaha.signal");
	lua_pushvalue(L, 2);
	lua_setiuservalue(L, -2, 1);
	h->L = loop_main_thread(L);
	h->signo = signal_names[i].signo;
	h->ev = evsignal_new(loop_base(), h->signo, signal_cb, h);
	if (h->ev == NULL || evsignal_add(h->ev, NULL) == -1) {
		if (h->ev != NULL)
			event_free(h->ev);
		h->ev = NULL;
		return (luaL_error(L, "cannot watch SIG%s", name));
	}
	signal_handlers[h->signo]++;
	lua_pushvalue(L, -1);
	h->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	loop_ref();
	return (1);
}

static int
signal_cancel(lua_State *L)
{
	struct handler	*h = luaL_checkudata(L, 1, "luaha.signal");

	lua_pushboolean(L, h->ev != NULL);
	signal_remove(h);
	return (1);
}

static int
signal_gc(lua_State *L)
{
	signal_remove(luaL_checkudata(L, 1, "luaha.signal"));
	return (0);
}

static int
signal_tostring(lua_State *L)
{
	struct handler	*h = luaL_checkudata(L, 1, "luaha.signal");

	lua_pushfstring(L, "signal handler for %s (%s)", strsignal(h->signo),
	    h->ev != NULL ? "installed" : "cancelled");
	return (1);
}

static const luaL_Reg signal_funcs[] = {
	{ "on_signal", signal_on },
	{ NULL, NULL }
};

static const luaL_Reg signal_methods[] = {
	{ "cancel", signal_cancel },
	{ "close", signal_cancel },
	{ NULL, NULL }
};

static const luaL_Reg signal_meta[] = {
	{ "__gc", signal_gc },
	{ "__close", signal_gc },
	{ "__tostring", signal_tostring },
	{ NULL, NULL }
};

int
luaopen_luaha_core_signal(lua_State *L)
{
	luaL_newmetatable(L, "luaha.signal");
	luaL_setfuncs(L, signal_meta, 0);
	luaL_newlib(L, signal_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newlib(L, signal_funcs);
	return (1);
}
