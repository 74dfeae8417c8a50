/* auth.c: keyed message authentication and hashing from libsodium (luaha.core.auth), for heartbeats and passwords. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "luaha.h"

/* The key argument at idx: exactly crypto_auth_KEYBYTES bytes, or an error is raised. */
static const unsigned char *
auth_check_key(lua_State *L, int idx)
{
	size_t		 len;
	const char	*key = luaL_checklstring(L, idx, &len);

	if (len != crypto_auth_KEYBYTES)
		luaL_error(L, "auth: a key is %d bytes, not %d", (int)crypto_auth_KEYBYTES, (int)len);
	return ((const unsigned char *)key);
}

/* keygen(): a new random key. */
static int
auth_keygen(lua_State *L)
{
	unsigned char	 key[crypto_auth_KEYBYTES];

	crypto_auth_keygen(key);
	lua_pushlstring(L, (const char *)key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	return (1);
}

/* mac(message, key): the message's tag (HMAC-SHA-512-256), crypto_auth_BYTES bytes. */
static int
auth_mac(lua_State *L)
{
	size_t			 len;
	const char		*msg = luaL_checklstring(L, 1, &len);
	const unsigned char	*key = auth_check_key(L, 2);
	unsigned char		 tag[crypto_auth_BYTES];

	crypto_auth(tag, (const unsigned char *)msg, len, key);
	lua_pushlstring(L, (const char *)tag, sizeof(tag));
	return (1);
}

/* verify(tag, message, key): whether tag is the message's tag under key, compared in constant time. */
static int
auth_verify(lua_State *L)
{
	size_t			 taglen, len;
	const char		*tag = luaL_checklstring(L, 1, &taglen);
	const char		*msg = luaL_checklstring(L, 2, &len);
	const unsigned char	*key = auth_check_key(L, 3);

	lua_pushboolean(L, taglen == crypto_auth_BYTES &&
	    crypto_auth_verify((const unsigned char *)tag, (const unsigned char *)msg, len, key) == 0);
	return (1);
}

/*
 * hash_parts(L, st): feeds the strings of the array at index 1 to st, in order. A large
 * configuration is hashed in its parts: joining them first would touch megabytes of fresh
 * memory, which costs more than the hash where page faults are slow (UML).
 */
static void
auth_hash_parts(lua_State *L, crypto_generichash_state *st)
{
	lua_Integer	 i, n = luaL_len(L, 1);
	const char	*part;
	size_t		 len;

	for (i = 1; i <= n; i++) {
		if (lua_geti(L, 1, i) != LUA_TSTRING)
			luaL_error(L, "hash: item %d of the message is not a string", (int)i);
		part = lua_tolstring(L, -1, &len);
		crypto_generichash_update(st, (const unsigned char *)part, len);
		lua_pop(L, 1);
	}
}

/*
 * hash(message [, bytes]): BLAKE2b digest of 16 to 64 bytes (default 16), for digests of
 * configurations. message is a string, or an array of strings hashed as their concatenation.
 */
static int
auth_hash(lua_State *L)
{
	crypto_generichash_state	 st;
	size_t				 len;
	const char			*msg;
	lua_Integer			 n = luaL_optinteger(L, 2, 16);
	unsigned char			 out[crypto_generichash_BYTES_MAX];

	luaL_argcheck(L, n >= crypto_generichash_BYTES_MIN && n <= crypto_generichash_BYTES_MAX, 2,
	    "16 to 64 bytes");
	if (crypto_generichash_init(&st, NULL, 0, (size_t)n) != 0)
		return (luaL_error(L, "auth: hash failed"));
	if (lua_type(L, 1) == LUA_TTABLE)
		auth_hash_parts(L, &st);
	else {
		msg = luaL_checklstring(L, 1, &len);
		crypto_generichash_update(&st, (const unsigned char *)msg, len);
	}
	if (crypto_generichash_final(&st, out, (size_t)n) != 0)
		return (luaL_error(L, "auth: hash failed"));
	lua_pushlstring(L, (const char *)out, (size_t)n);
	return (1);
}

/* random(n): n random bytes, 1 to 256. */
static int
auth_random(lua_State *L)
{
	lua_Integer	 n = luaL_checkinteger(L, 1);
	unsigned char	 buf[256];

	luaL_argcheck(L, n >= 1 && n <= (lua_Integer)sizeof(buf), 1, "1 to 256 bytes");
	randombytes_buf(buf, (size_t)n);
	lua_pushlstring(L, (const char *)buf, (size_t)n);
	return (1);
}

/*
 * pwhash(password): a string to store for it (Argon2id, libsodium's interactive limits), as
 * crypto_pwhash_str makes; nil, "pwhash: out of memory" when the work area cannot be had.
 */
static int
auth_pwhash(lua_State *L)
{
	size_t		 len;
	const char	*pw = luaL_checklstring(L, 1, &len);
	char		 out[crypto_pwhash_STRBYTES];

	if (crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return (luaha_fail(L, "pwhash: out of memory"));
	lua_pushstring(L, out);
	return (1);
}

/* A verification for the worker thread: copies of its inputs, wiped when done. */
struct auth_verify_job {
	struct worker_job	 job;
	char			 stored[crypto_pwhash_STRBYTES];
	char			*pw;		/* malloc'd, len bytes */
	size_t			 len;
	int			 ok;		/* the answer, set by the thread */
};

static void
auth_verify_run(struct worker_job *job)
{
	struct auth_verify_job	*v = (struct auth_verify_job *)job;

	v->ok = crypto_pwhash_str_verify(v->stored, v->pw, v->len) == 0;
}

static int
auth_verify_done(lua_State *co, struct waiter *w, short what)
{
	struct auth_verify_job	*v = w->arg;

	(void)what;
	lua_pushboolean(co, v->ok);
	return (1);
}

static void
auth_verify_release(struct worker_job *job)
{
	struct auth_verify_job	*v = (struct auth_verify_job *)job;

	sodium_memzero(v->pw, v->len);
	free(v->pw);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

/*
 * pwhash_verify(stored, password): whether password is the one stored was
 * made from. In a task the hash runs in the worker thread (worker.c) while
 * the task waits, so the loop goes on; nil, "busy" when too many are running
 * or queued. Outside a task it runs at once and holds the caller.
 */
static int
auth_pwhash_verify(lua_State *L)
{
	const char		*stored = luaL_checkstring(L, 1);
	size_t			 len;
	const char		*pw = luaL_checklstring(L, 2, &len);
	char			 buf[crypto_pwhash_STRBYTES];
	struct auth_verify_job	*v;

	if (strlen(stored) >= sizeof(buf)) {
		lua_pushboolean(L, 0);
		return (1);
	}
	if (task_current(L) == NULL || !lua_isyieldable(L)) {
		strcpy(buf, stored);
		lua_pushboolean(L, crypto_pwhash_str_verify(buf, pw, len) == 0);
		return (1);
	}
	if ((v = calloc(1, sizeof(*v))) == NULL || (v->pw = malloc(len + 1)) == NULL) {
		free(v);
		return (luaha_fail(L, "pwhash_verify: out of memory"));
	}
	strcpy(v->stored, stored);
	memcpy(v->pw, pw, len);
	v->len = len;
	v->job.run = auth_verify_run;
	v->job.done = auth_verify_done;
	v->job.release = auth_verify_release;
	return (worker_wait(L, &v->job));
}

/*
 * equal(a, b): whether the strings a and b are the same, in a time that depends on
 * their length only (sodium_memcmp), for secrets a client guesses at, such as a
 * CSRF token. Strings of different lengths are unequal at once: the length of
 * a token is not its secret.
 */
static int
auth_equal(lua_State *L)
{
	size_t		 alen, blen;
	const char	*a = luaL_checklstring(L, 1, &alen);
	const char	*b = luaL_checklstring(L, 2, &blen);

	lua_pushboolean(L, alen == blen && sodium_memcmp(a, b, alen) == 0);
	return (1);
}

/*
 * base64_decode(s): the bytes that s encodes in standard base64 with its
 * padding (RFC 4648, section 4), or nil when s is not that, whole.
 * Linear in #s; the caller bounds it (an Authorization header: 1 KiB).
 */
static int
auth_base64_decode(lua_State *L)
{
	size_t		 len, binlen;
	const char	*s = luaL_checklstring(L, 1, &len), *end;
	luaL_Buffer	 b;
	unsigned char	*bin;

	bin = (unsigned char *)luaL_buffinitsize(L, &b, len / 4 * 3 + 1);
	if (sodium_base642bin(bin, len / 4 * 3 + 1, s, len, NULL, &binlen, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || end != s + len) {
		lua_pushnil(L);
		return (1);
	}
	luaL_pushresultsize(&b, binlen);
	return (1);
}

/*
 * hex(bytes): bytes as lowercase hexadecimal digits, two a byte
 * (sodium_bin2hex): digests and random tokens as text.
 */
static int
auth_hex(lua_State *L)
{
	size_t		 len;
	const char	*s = luaL_checklstring(L, 1, &len);
	luaL_Buffer	 b;
	char		*out;

	luaL_argcheck(L, len < ((size_t)-1) / 2, 1, "too long");
	out = luaL_buffinitsize(L, &b, len * 2 + 1);
	sodium_bin2hex(out, len * 2 + 1, (const unsigned char *)s, len);
	luaL_pushresultsize(&b, len * 2);
	return (1);
}

static const luaL_Reg auth_funcs[] = {
	{ "base64_decode", auth_base64_decode },
	{ "hex", auth_hex },
	{ "equal", auth_equal },
	{ "pwhash", auth_pwhash },
	{ "pwhash_verify", auth_pwhash_verify },
	{ "keygen", auth_keygen },
	{ "mac", auth_mac },
	{ "verify", auth_verify },
	{ "hash", auth_hash },
	{ "random", auth_random },
	{ NULL, NULL }
};

int
luaopen_luaha_core_auth(lua_State *L)
{
	if (sodium_init() < 0)
		return (luaL_error(L, "auth: libsodium cannot be initialised"));
	luaL_newlib(L, auth_funcs);
	lua_pushinteger(L, crypto_auth_KEYBYTES);
	lua_setfield(L, -2, "KEYBYTES");
	lua_pushinteger(L, crypto_auth_BYTES);
	lua_setfield(L, -2, "BYTES");
	return (1);
}
