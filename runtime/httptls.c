/* httptls.c: TLS for the HTTP server: OpenSSL loaded when first asked for, the certificate and key checked and loaded at listen, an OpenSSL bufferevent per connection. */
/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "luaha.h"
#include "http.h"

#define HTTPTLS_MAX_FILE	(1024 * 1024)	/* bytes of a PEM file: a certificate chain is a few KiB */
#define HTTPTLS_SESSIONS	1024		/* sessions kept for resumption; OpenSSL's default is 20480 */
#define HTTPTLS_LIBRARY		"libevent_openssl-2.1.so.7"	/* needs libssl.so.3 and libcrypto.so.3 */

/*
 * OpenSSL is loaded when TLS is first asked for (dynlib.c says why); these
 * are the functions used, with the types of their declarations.
 */
#define HTTPTLS_FUNCTIONS(F)						\
	F(ERR_clear_error) F(ERR_peek_error) F(ERR_peek_last_error)	\
	F(ERR_reason_error_string) F(TLS_server_method) F(SSL_CTX_new)	\
	F(SSL_CTX_free) F(SSL_CTX_ctrl) F(SSL_CTX_set_options)		\
	F(SSL_CTX_set_default_passwd_cb)				\
	F(SSL_CTX_use_certificate_chain_file)				\
	F(SSL_CTX_use_PrivateKey_file) F(SSL_CTX_check_private_key)	\
	F(SSL_new) F(SSL_free) F(bufferevent_openssl_socket_new)	\
	F(bufferevent_openssl_set_allow_dirty_shutdown)
#define HTTPTLS_SLOT(name)	&ossl.name,

static struct {
	HTTPTLS_FUNCTIONS(DYNLIB_POINTER)
} ossl;
static int	ossl_loaded;

/* Loads OpenSSL and its libevent glue, once: 0, or -1 with why in err. */
static int
httptls_load(char *err, size_t errlen)
{
	static const char *const	 names[] = { HTTPTLS_FUNCTIONS(DYNLIB_NAME) };
	void *const			 slots[] = { HTTPTLS_FUNCTIONS(HTTPTLS_SLOT) };
	char				 why[256];

	if (ossl_loaded)
		return (0);
	if (dynlib_load(HTTPTLS_LIBRARY, names, slots, sizeof(names) / sizeof(names[0]),
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "tls: %s (the packages libevent-openssl-2.1-7 and libssl3)", why);
		return (-1);
	}
	ossl_loaded = 1;
	return (0);
}

/*
 * Whether path names a regular file of at most HTTPTLS_MAX_FILE bytes that
 * we can open: OpenSSL's own messages for a missing file are its error
 * codes, not errno, and it would read a FIFO or a device until it ends.
 * 0, or -1 with why written to err.
 */
static int
httptls_readable(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		close(fd);
		return (-1);
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		return (-1);
	}
	if (st.st_size > HTTPTLS_MAX_FILE) {
		snprintf(err, errlen, "%s %s: larger than %d bytes", what, path, HTTPTLS_MAX_FILE);
		return (-1);
	}
	return (0);
}

/* Writes "what path: problem (OpenSSL's reason)" to err, and empties OpenSSL's error queue for the next caller. */
static void
httptls_ssl_error(const char *what, const char *path, const char *problem, char *err, size_t errlen)
{
	unsigned long	 e = ossl.ERR_peek_error();	/* the first: the cause, where the last is its caller's "PEM lib" */
	const char	*reason = e != 0 ? ossl.ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s %s: %s (%s)", what, path, problem, reason != NULL ? reason : "no reason given");
	ossl.ERR_clear_error();
}

/* A key with a passphrase is refused: OpenSSL's default would prompt on the terminal. */
static int
httptls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return (-1);
}

/*
 * The server's TLS context for this certificate chain and key (PEM files,
 * the key without a passphrase), or NULL with why in err: a file that
 * cannot be read, is no PEM, or a key that is not the certificate's.
 * TLS 1.2 and later; no renegotiation, which would let a client make us
 * do the private-key operation again and again on one connection. Reads
 * two small files: called at listen, never for a request.
 */
SSL_CTX *
httptls_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if (httptls_readable("certificate", cert, err, errlen) == -1 ||
	    httptls_readable("key", key, err, errlen) == -1 ||
	    httptls_load(err, errlen) == -1)
		return (NULL);
	ossl.ERR_clear_error();
	if ((ctx = ossl.SSL_CTX_new(ossl.TLS_server_method())) == NULL) {
		httptls_ssl_error("tls", "context", "cannot be made", err, errlen);
		return (NULL);
	}
	if (ossl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL) != 1) {
		httptls_ssl_error("tls", "context", "cannot be limited to TLS 1.2 and later", err, errlen);
		goto fail;
	}
	ossl.SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	ossl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_SIZE, HTTPTLS_SESSIONS, NULL);
	ossl.SSL_CTX_set_default_passwd_cb(ctx, httptls_no_passphrase);
	if (ossl.SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		httptls_ssl_error("certificate", cert, "not a PEM certificate", err, errlen);
		goto fail;
	}
	/* Loading the key compares it with the certificate already; SSL_CTX_check_private_key again to be sure. */
	if (ossl.SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ossl.ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
		httptls_ssl_error("key", key, "not a PEM private key without a passphrase", err, errlen);
		goto fail;
	}
	if (ossl.ERR_peek_error() != 0 || ossl.SSL_CTX_check_private_key(ctx) != 1) {
		ossl.ERR_clear_error();
		snprintf(err, errlen, "key %s is not the key of certificate %s", key, cert);
		goto fail;
	}
	return (ctx);
fail:
	ossl.SSL_CTX_free(ctx);
	return (NULL);
}

/* Frees a context of httptls_new; NULL (a plain listener's, OpenSSL perhaps not loaded) is nothing. */
void
httptls_free(SSL_CTX *ctx)
{
	if (ctx != NULL)
		ossl.SSL_CTX_free(ctx);
}

/*
 * A connection's bufferevent, TLS on the descriptor evhttp gives it next
 * (bufferevent_setfd), the handshake as the server; NULL when out of
 * memory. The SSL object is the bufferevent's: freed with it. A client that
 * goes without TLS's close_notify is no error worth a log line: browsers
 * and curl close so. The handshake's time counts in the connection's
 * deadline (http.c's sweep), so a client that stalls it is closed.
 *
 * Holding the loop: a handshake is done in a few steps, each run when the
 * client's flight arrives. Measured on the 2-core development machine, a
 * handshake and one request cost the listener's process 2 ms of CPU in all
 * with an ECDSA P-256 key, 2.5 ms with RSA-2048 and 7 ms with RSA-4096
 * (plain HTTP: 0.6 ms); the key's signature alone is 0.02, 0.3 and 4.3 ms
 * (openssl speed). No step holds the loop longer than that. It runs in the
 * process the listener is in: the work part, never where the heartbeat
 * runs (4 clients handshaking as fast as they could, 144 a second, left the
 * partner's longest heartbeat gap at 0.108 s for keepalive 0.1).
 */
struct bufferevent *
httptls_bev(SSL_CTX *ctx, struct event_base *base)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = ossl.SSL_new(ctx)) == NULL) {
		ossl.ERR_clear_error();
		return (NULL);
	}
	bev = ossl.bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		ossl.SSL_free(ssl);
		return (NULL);
	}
	ossl.bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return (bev);
}

/*
 * The option tls = { cert = PATH, key = PATH } of listen at idx, loaded:
 * NULL without it, or NULL and why in err when the files are no usable
 * pair. Raises on a malformed option.
 */
SSL_CTX *
httptls_opt(lua_State *L, int idx, char *err, size_t errlen)
{
	const char	*cert, *key;

	err[0] = '\0';
	if (!lua_istable(L, idx))
		return (NULL);
	if (lua_getfield(L, idx, "tls") == LUA_TNIL) {
		lua_pop(L, 1);
		return (NULL);
	}
	luaL_argcheck(L, lua_istable(L, -1), idx, "option 'tls' must be a table {cert = PATH, key = PATH}");
	lua_getfield(L, -1, "cert");
	lua_getfield(L, -2, "key");
	cert = lua_tostring(L, -2);
	key = lua_tostring(L, -1);
	luaL_argcheck(L, cert != NULL && key != NULL, idx, "option 'tls' needs the paths cert and key");
	lua_pop(L, 3);
	return (httptls_new(cert, key, err, errlen));
}

/*
 * check_tls(cert, key): true when the two PEM files make a usable pair, as
 * listen would load them; nil and "certificate PATH: <reason>", "key PATH:
 * <reason>" or "key PATH is not the key of certificate PATH" otherwise.
 */
int
httptls_check(lua_State *L)
{
	const char	*cert = luaL_checkstring(L, 1), *key = luaL_checkstring(L, 2);
	SSL_CTX		*ctx;
	char		 err[512];

	if ((ctx = httptls_new(cert, key, err, sizeof(err))) == NULL)
		return (luaha_fail(L, "%s", err));
	ossl.SSL_CTX_free(ctx);
	lua_pushboolean(L, 1);
	return (1);
}
