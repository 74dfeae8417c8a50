/* ipvslua.c: services and destinations between Lua and C: tables checked into structs, structs pushed as normalize's tables, both said in messages. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "luaha.h"
#include "ipvs.h"

static const char *const ipvs_op_verbs[] = {
	"add service", "edit service", "delete service",
	"add destination", "edit destination", "delete destination"
};

/* The index in names of the string at idx; raises naming what it is otherwise. */
int
ipvs_name_index(lua_State *L, int idx, const char *const names[], const char *what)
{
	const char	*s = lua_tostring(L, idx);
	int		 i;

	for (i = 0; s != NULL && names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return (i);
	return (luaL_error(L, "ipvs: unknown %s \"%s\"", what, s != NULL ? s :
	    luaL_typename(L, idx)));
}

/* Reads an address string into a 16-byte nf_inet_addr; returns the family or 0. */
static int
ipvs_parse_addr(const char *s, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return (AF_INET);
	if (inet_pton(AF_INET6, s, addr) == 1)
		return (AF_INET6);
	return (0);
}

/* "192.0.2.10:80", "[2001:db8::10]:80": an address and port in messages and keys. */
void
ipvs_format_addr(int af, const uint8_t addr[16], uint16_t port, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];

	inet_ntop(af, addr, a, sizeof(a));
	snprintf(buf, len, af == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* The integer at idx, the value of field; def if it is nil. */
static lua_Integer
ipvs_value_int(lua_State *L, int idx, const char *field, lua_Integer def,
    lua_Integer min, lua_Integer max)
{
	lua_Integer	 v;
	int		 isnum;

	if (lua_isnil(L, idx))
		return (def);
	v = lua_tointegerx(L, idx, &isnum);
	if (!isnum || v < min || v > max)
		luaL_error(L, "ipvs: %s must be an integer from %I to %I",
		    field, min, max);
	return (v);
}

/* The integer in field of the table at idx, from min to max; def if it is nil. */
lua_Integer
ipvs_field_int(lua_State *L, int idx, const char *field, lua_Integer def,
    lua_Integer min, lua_Integer max)
{
	lua_Integer	 v;

	lua_getfield(L, idx, field);
	v = ipvs_value_int(L, -1, field, def, min, max);
	lua_pop(L, 1);
	return (v);
}

/* The string in field of the table at idx, NULL if it is nil; raises on another type. */
const char *
ipvs_field_string(lua_State *L, int idx, const char *field)
{
	const char	*s;

	if (lua_getfield(L, idx, field) == LUA_TNIL) {
		lua_pop(L, 1);
		return (NULL);
	}
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "ipvs: %s must be a string", field);
	s = lua_tostring(L, -1);
	lua_pop(L, 1);		/* the table still holds it */
	return (s);
}

/* The fields a service or destination may have: its settings, and what services() adds. */
static const char *const ipvs_service_keys[] = {
	"protocol", "address", "port", "fwmark", "family", "scheduler",
	"persistent", "netmask", "flags", "pe", "dests", "key", "stats", NULL
};
static const char *const ipvs_dest_keys[] = {
	"address", "port", "weight", "forward", "u_threshold", "l_threshold",
	"key", "active_conns", "inactive_conns", "persist_conns", "stats", NULL
};
#define IPVS_DEST_FIELDS	6	/* the first of ipvs_dest_keys are its settings */

/* Raises on a misspelt field: a typo must not silently become a default. */
static void
ipvs_check_keys(lua_State *L, int idx, const char *const valid[], const char *what)
{
	const char	*key;
	int		 i;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		for (i = 0; key != NULL && valid[i] != NULL; i++)
			if (strcmp(valid[i], key) == 0)
				break;
		if (key == NULL || valid[i] == NULL)
			luaL_error(L, "ipvs: unknown %s field '%s'", what,
			    key != NULL ? key : luaL_typename(L, -1));
	}
}

static const struct {
	const char	*name;
	uint32_t	 flag;
} ipvs_flag_names[] = {
	{ "ops", IP_VS_SVC_F_ONEPACKET },
	{ "sh-fallback", IP_VS_SVC_F_SCHED_SH_FALLBACK },
	{ "sh-port", IP_VS_SVC_F_SCHED_SH_PORT },
	{ "mh-fallback", IP_VS_SVC_F_SCHED1 },	/* the kernel's MH_FALLBACK */
	{ "mh-port", IP_VS_SVC_F_SCHED2 },	/* the kernel's MH_PORT */
	{ "flag-1", IP_VS_SVC_F_SCHED1 },
	{ "flag-2", IP_VS_SVC_F_SCHED2 },
	{ "flag-3", IP_VS_SVC_F_SCHED3 },
	{ NULL, 0 }
};

/*
 * Reads the service table at idx: {protocol=, address=, port=} or
 * {fwmark=, family=}, and scheduler=, persistent=, netmask=, flags=, pe=.
 * Bad fields are programmer errors and raise.
 */
void
ipvs_check_service(lua_State *L, int idx, struct ipvs_svc *s)
{
	static const char *const protos[] = { "tcp", "udp", "sctp", NULL };
	static const int proto_nums[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	const char	*addr, *proto, *family, *sched, *pe, *mask;
	int		 i, j;

	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	ipvs_check_keys(L, idx, ipvs_service_keys, "service");
	memset(s, 0, sizeof(*s));
	s->fwmark = (uint32_t)ipvs_field_int(L, idx, "fwmark", 0, 0, UINT32_MAX);
	addr = ipvs_field_string(L, idx, "address");
	if (s->fwmark != 0) {
		if (addr != NULL)
			luaL_error(L, "ipvs: a service has an fwmark or an address, not both");
		family = ipvs_field_string(L, idx, "family");
		if (family == NULL || strcmp(family, "inet") == 0)
			s->af = AF_INET;
		else if (strcmp(family, "inet6") == 0)
			s->af = AF_INET6;
		else
			luaL_error(L, "ipvs: unknown family \"%s\" (inet, inet6)", family);
	} else {
		if (addr == NULL)
			luaL_error(L, "ipvs: a service needs an address or an fwmark");
		if ((s->af = ipvs_parse_addr(addr, s->addr)) == 0)
			luaL_error(L, "ipvs: \"%s\" is not an IPv4 or IPv6 address", addr);
		proto = ipvs_field_string(L, idx, "protocol");
		for (i = 0; protos[i] != NULL; i++)
			if (strcmp(protos[i], proto != NULL ? proto : "tcp") == 0)
				break;
		if (protos[i] == NULL)
			luaL_error(L, "ipvs: unknown protocol \"%s\" (tcp, udp, sctp)", proto);
		s->protocol = proto_nums[i];
		s->port = (uint16_t)ipvs_field_int(L, idx, "port", 0, 0, 65535);
	}
	sched = ipvs_field_string(L, idx, "scheduler");
	if (sched == NULL)
		sched = "wlc";
	if (strlen(sched) == 0 || strlen(sched) >= sizeof(s->sched))
		luaL_error(L, "ipvs: bad scheduler name \"%s\"", sched);
	strcpy(s->sched, sched);
	if ((pe = ipvs_field_string(L, idx, "pe")) != NULL) {
		if (strlen(pe) >= sizeof(s->pe))
			luaL_error(L, "ipvs: bad persistence engine \"%s\"", pe);
		strcpy(s->pe, pe);
	}
	if (lua_getfield(L, idx, "persistent") == LUA_TBOOLEAN)
		s->timeout = lua_toboolean(L, -1) ? 300 : 0;
	else if (!lua_isnil(L, -1))
		s->timeout = (uint32_t)ipvs_field_int(L, idx, "persistent", 0, 0,
		    UINT32_MAX);
	lua_pop(L, 1);
	if (s->timeout > 0)
		s->flags |= IP_VS_SVC_F_PERSISTENT;
	s->netmask = s->af == AF_INET6 ? 128 : 0xffffffff;
	if (lua_getfield(L, idx, "netmask") != LUA_TNIL) {
		if (s->af == AF_INET && (mask = lua_tostring(L, -1)) != NULL &&
		    lua_type(L, -1) == LUA_TSTRING) {
			if (inet_pton(AF_INET, mask, &s->netmask) != 1)
				luaL_error(L, "ipvs: bad netmask \"%s\"", mask);
		} else if (s->af == AF_INET6 && lua_isinteger(L, -1) &&
		    lua_tointeger(L, -1) >= 1 && lua_tointeger(L, -1) <= 128)
			s->netmask = (uint32_t)lua_tointeger(L, -1);
		else
			luaL_error(L, "ipvs: netmask must be a dotted IPv4 mask, "
			    "or a prefix length for IPv6");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, idx, "flags") != LUA_TNIL) {
		if (!lua_istable(L, -1))
			luaL_error(L, "ipvs: flags must be an array of names");
		for (i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
			const char *f = lua_tostring(L, -1);

			for (j = 0; f != NULL && ipvs_flag_names[j].name != NULL; j++)
				if (strcmp(ipvs_flag_names[j].name, f) == 0)
					break;
			if (f == NULL || ipvs_flag_names[j].name == NULL)
				luaL_error(L, "ipvs: unknown service flag \"%s\" "
				    "(ops, sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3)",
				    f != NULL ? f : "?");
			s->flags |= ipvs_flag_names[j].flag;
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/*
 * Reads the destination table at idx: {address=, port=, weight=, forward=,
 * u_threshold=, l_threshold=}; port defaults to the service's.
 */
void
ipvs_check_dest(lua_State *L, int idx, const struct ipvs_svc *s, struct ipvs_dest *d)
{
	static const char *const fwds[] = {
		"dr", "gate", "route", "nat", "masq", "tun", "ipip", "local", NULL
	};
	static const uint32_t fwd_flags[] = {
		IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_DROUTE, IP_VS_CONN_F_DROUTE,
		IP_VS_CONN_F_MASQ, IP_VS_CONN_F_MASQ, IP_VS_CONN_F_TUNNEL,
		IP_VS_CONN_F_TUNNEL, IP_VS_CONN_F_LOCALNODE
	};
	const char	*addr, *fwd, *key;
	int		 i, top;

	/*
	 * One walk over the fields, each setting kept on the stack, rather
	 * than a lookup per setting: an apply reads tens of thousands. The
	 * checks then go in the order of the fields' documentation.
	 */
	idx = lua_absindex(L, idx);
	luaL_checktype(L, idx, LUA_TTABLE);
	top = lua_gettop(L);
	luaL_checkstack(L, IPVS_DEST_FIELDS + 3, NULL);
	lua_settop(L, top + IPVS_DEST_FIELDS);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		for (i = 0; key != NULL && ipvs_dest_keys[i] != NULL; i++)
			if (key[0] == ipvs_dest_keys[i][0] &&
			    strcmp(ipvs_dest_keys[i], key) == 0)
				break;
		if (key == NULL || ipvs_dest_keys[i] == NULL)
			luaL_error(L, "ipvs: unknown destination field '%s'",
			    key != NULL ? key : luaL_typename(L, -2));
		if (i < IPVS_DEST_FIELDS)
			lua_copy(L, -1, top + 1 + i);
		lua_pop(L, 1);
	}
	memset(d, 0, sizeof(*d));
	if (lua_isnil(L, top + 1))
		luaL_error(L, "ipvs: a destination needs an address");
	if (lua_type(L, top + 1) != LUA_TSTRING)
		luaL_error(L, "ipvs: address must be a string");
	addr = lua_tostring(L, top + 1);
	if ((d->af = ipvs_parse_addr(addr, d->addr)) == 0)
		luaL_error(L, "ipvs: \"%s\" is not an IPv4 or IPv6 address", addr);
	d->port = (uint16_t)ipvs_value_int(L, top + 2, "port", s->port, 0, 65535);
	d->weight = (int32_t)ipvs_value_int(L, top + 3, "weight", 1, 0, INT32_MAX);
	d->u_thresh = (uint32_t)ipvs_value_int(L, top + 5, "u_threshold", 0, 0,
	    UINT32_MAX);
	d->l_thresh = (uint32_t)ipvs_value_int(L, top + 6, "l_threshold", 0, 0,
	    UINT32_MAX);
	if (!lua_isnil(L, top + 4) && lua_type(L, top + 4) != LUA_TSTRING)
		luaL_error(L, "ipvs: forward must be a string");
	fwd = lua_isnil(L, top + 4) ? "dr" : lua_tostring(L, top + 4);
	for (i = 0; fwds[i] != NULL; i++)
		if (strcmp(fwds[i], fwd) == 0)
			break;
	if (fwds[i] == NULL)
		luaL_error(L, "ipvs: unknown forward method \"%s\" (dr, gate, route, "
		    "nat, masq, tun, ipip, local)", fwd);
	lua_settop(L, top);
	d->fwd = fwd_flags[i];
}

/* "TCP 192.0.2.10:80", "UDP [2001:db8::53]:53", "FWM 10 IPv6": a service in messages. */
void
ipvs_svc_desc(const struct ipvs_svc *s, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN + 8];

	if (s->fwmark != 0) {
		snprintf(buf, len, "FWM %u%s", s->fwmark, s->af == AF_INET6 ? " IPv6" : "");
		return;
	}
	ipvs_format_addr(s->af, s->addr, s->port, a, sizeof(a));
	snprintf(buf, len, "%s %s", s->protocol == IPPROTO_TCP ? "TCP" :
	    s->protocol == IPPROTO_UDP ? "UDP" : "SCTP", a);
}

/* "add destination TCP 192.0.2.10:80 -> 198.51.100.11:80": what an operation does. */
void
ipvs_op_what(enum ipvs_op op, const struct ipvs_svc *s, const struct ipvs_dest *d,
    char *buf, size_t len)
{
	char	 sd[96], dd[INET6_ADDRSTRLEN + 8];

	ipvs_svc_desc(s, sd, sizeof(sd));
	if (op >= OP_ADD_DEST) {
		ipvs_format_addr(d->af, d->addr, d->port, dd, sizeof(dd));
		snprintf(buf, len, "%s %s -> %s", ipvs_op_verbs[op], sd, dd);
	} else
		snprintf(buf, len, "%s %s", ipvs_op_verbs[op], sd);
}

/* Sets field of the table on top of the stack. */
void
ipvs_set_int(lua_State *L, const char *field, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, field);
}

void
ipvs_set_string(lua_State *L, const char *field, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, field);
}

/*
 * Pushes the canonical table of a service: the same for what the kernel
 * reports and for a normalized desired one, so that apply compares like
 * with like. key identifies the service.
 */
void
ipvs_push_service(lua_State *L, const struct ipvs_svc *s)
{
	static const char *const sh_names[] = { "sh-fallback", "sh-port" };
	static const char *const mh_names[] = { "mh-fallback", "mh-port" };
	char		 a[INET6_ADDRSTRLEN];
	int		 i, nflags = 0;

	lua_createtable(L, 0, 12);
	ipvs_set_string(L, "family", s->af == AF_INET6 ? "inet6" : "inet");
	if (s->fwmark != 0) {
		ipvs_set_int(L, "fwmark", s->fwmark);
		lua_pushfstring(L, "fwm:%d:%s", (int)s->fwmark,
		    s->af == AF_INET6 ? "inet6" : "inet");
	} else {
		ipvs_set_string(L, "protocol", s->protocol == IPPROTO_TCP ? "tcp" :
		    s->protocol == IPPROTO_UDP ? "udp" : "sctp");
		inet_ntop(s->af, s->addr, a, sizeof(a));
		ipvs_set_string(L, "address", a);
		ipvs_set_int(L, "port", s->port);
		lua_pushfstring(L, s->af == AF_INET6 ? "%s:[%s]:%d" : "%s:%s:%d",
		    s->protocol == IPPROTO_TCP ? "tcp" : s->protocol == IPPROTO_UDP ?
		    "udp" : "sctp", a, (int)s->port);
	}
	lua_setfield(L, -2, "key");
	ipvs_set_string(L, "scheduler", s->sched);
	if (s->pe[0] != '\0')
		ipvs_set_string(L, "pe", s->pe);
	if (s->flags & IP_VS_SVC_F_PERSISTENT) {
		ipvs_set_int(L, "persistent", s->timeout);
		if (s->af == AF_INET6)
			ipvs_set_int(L, "netmask", s->netmask);
		else {
			inet_ntop(AF_INET, &s->netmask, a, sizeof(a));
			ipvs_set_string(L, "netmask", a);
		}
	}
	lua_newtable(L);
	for (i = 0; ipvs_flag_names[i].name != NULL; i++) {
		if (!(s->flags & ipvs_flag_names[i].flag) || (i >= 1 && i <= 4))
			continue;	/* sh-*, mh-* are flag-1, flag-2 said for sh, mh */
		if (i >= 5 && i <= 6 && strcmp(s->sched, "sh") == 0)
			lua_pushstring(L, sh_names[i - 5]);
		else if (i >= 5 && i <= 6 && strcmp(s->sched, "mh") == 0)
			lua_pushstring(L, mh_names[i - 5]);
		else
			lua_pushstring(L, ipvs_flag_names[i].name);
		lua_rawseti(L, -2, ++nflags);
	}
	lua_setfield(L, -2, "flags");
}

/* Likewise for a destination: its settings and its key, "192.0.2.11:80". */
void
ipvs_push_dest(lua_State *L, const struct ipvs_dest *d)
{
	static const char *const fwd_names[] = { "nat", "local", "tun", "dr" };
	char	 a[INET6_ADDRSTRLEN];

	lua_createtable(L, 0, 12);
	inet_ntop(d->af, d->addr, a, sizeof(a));
	ipvs_set_string(L, "address", a);
	ipvs_set_int(L, "port", d->port);
	lua_pushfstring(L, d->af == AF_INET6 ? "[%s]:%d" : "%s:%d", a, (int)d->port);
	lua_setfield(L, -2, "key");
	ipvs_set_string(L, "forward", fwd_names[d->fwd & IP_VS_CONN_F_FWD_MASK]);
	ipvs_set_int(L, "weight", d->weight);
	ipvs_set_int(L, "u_threshold", d->u_thresh);
	ipvs_set_int(L, "l_threshold", d->l_thresh);
}
