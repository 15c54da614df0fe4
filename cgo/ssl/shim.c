//go:build (openssl && !boringssl) || (boringssl && !openssl)

#include "shim.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#ifdef OPENSSL_IS_BORINGSSL
#include <openssl/hmac.h>
#include <openssl/pool.h>
#else
#include <openssl/core_names.h>
#include <openssl/params.h>
#endif

/* Implemented in Go (callbacks.go). */
extern int gantryVerifyPeer(uintptr_t handle, uint8_t *chain, size_t len);
extern int gantrySelectCert(uintptr_t handle, char *name);

typedef struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
} ticket_key;

/* What an SSL_CTX needs in its callbacks; freed with the SSL_CTX. */
typedef struct ctx_data {
	uintptr_t handle; /* certificate selector, 0 when there is none */
	int ncerts;
	X509 **leaf;
	EVP_PKEY **key;
	STACK_OF(X509) **chain;
	unsigned char *alpn;
	size_t alpn_len;
	int nkeys;
	ticket_key *keys;
	/* SignedCertificateTimestampList per certificate, NULL for none;
	 * nscts entries (at most ncerts). */
	int nscts;
	unsigned char **sct;
	size_t *sct_len;
	/* OCSP staples, one slot per certificate (NULL: none); the arrays are
	 * made by the first gantry_ctx_set_ocsp, once every cert is added. */
	unsigned char **ocsp;
	size_t *ocsp_len;
	int nocsp; /* slots in ocsp and ocsp_len */
} ctx_data;

static int ctx_idx = -1;
static int conn_idx = -1;

static void ctx_data_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
                          int idx, long argl, void *argp)
{
	ctx_data *d = ptr;
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	if (d == NULL)
		return;
	for (int i = 0; i < d->ncerts; i++) {
		X509_free(d->leaf[i]);
		EVP_PKEY_free(d->key[i]);
		sk_X509_pop_free(d->chain[i], X509_free);
	}
	for (int i = 0; i < d->nocsp; i++)
		free(d->ocsp[i]);
	free(d->ocsp);
	free(d->ocsp_len);
	free(d->leaf);
	free(d->key);
	free(d->chain);
	free(d->alpn);
	if (d->keys != NULL)
		OPENSSL_cleanse(d->keys, sizeof(ticket_key) * (size_t)d->nkeys);
	free(d->keys);
	for (int i = 0; i < d->nscts; i++)
		free(d->sct[i]);
	free(d->sct);
	free(d->sct_len);
	free(d);
}

int gantry_init(void)
{
	ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_data_free);
	conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return ctx_idx >= 0 && conn_idx >= 0;
}

const char *gantry_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

int gantry_is_boringssl(void)
{
#ifdef OPENSSL_IS_BORINGSSL
	return 1;
#else
	return 0;
#endif
}

int gantry_api_version(void)
{
#ifdef BORINGSSL_API_VERSION
	return BORINGSSL_API_VERSION;
#else
	return 0;
#endif
}

void gantry_clear_errors(void) { ERR_clear_error(); }

int gantry_reason_no_certificate(void) { return SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE; }

/* Drains the thread's error queue into buf, joined by "; ". */
void gantry_errors(char *buf, size_t cap, int *reason)
{
	size_t used = 0;
	unsigned long e;
	if (reason != NULL)
		*reason = 0;
	if (cap > 0)
		buf[0] = 0;
	while ((e = ERR_get_error()) != 0) {
		if (reason != NULL && *reason == 0)
			*reason = ERR_GET_REASON(e);
		if (cap == 0 || used + 3 >= cap)
			continue;
		if (used > 0) {
			memcpy(buf + used, "; ", 2);
			used += 2;
			buf[used] = 0;
		}
		ERR_error_string_n(e, buf + used, cap - used);
		used += strlen(buf + used);
	}
}

static ctx_data *get_ctx_data(SSL_CTX *ctx) { return SSL_CTX_get_ex_data(ctx, ctx_idx); }

int gantry_probe_group(const char *name)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	int ok;
	if (ctx == NULL)
		return 0;
	ok = SSL_CTX_set1_curves_list(ctx, name) == 1;
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* ---- callbacks ---- */

/* Serialises DER certificates as 4-byte big-endian length + bytes each. */
typedef struct blob {
	uint8_t *p;
	size_t len, cap;
	int failed;
} blob;

static void blob_add(blob *b, const uint8_t *der, size_t len)
{
	if (b->failed)
		return;
	if (b->len + 4 + len > b->cap) {
		size_t ncap = (b->cap + 4 + len) * 2;
		uint8_t *np = realloc(b->p, ncap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	b->p[b->len++] = (uint8_t)(len >> 24);
	b->p[b->len++] = (uint8_t)(len >> 16);
	b->p[b->len++] = (uint8_t)(len >> 8);
	b->p[b->len++] = (uint8_t)len;
	memcpy(b->p + b->len, der, len);
	b->len += len;
}

#ifndef OPENSSL_IS_BORINGSSL
static void blob_add_x509(blob *b, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	if (n <= 0) {
		b->failed = 1;
		return;
	}
	blob_add(b, der, (size_t)n);
	OPENSSL_free(der);
}
#endif

static int verify_with_go(SSL *ssl, blob *b)
{
	gantry_conn *c = SSL_get_ex_data(ssl, conn_idx);
	int alert;
	if (c == NULL || b->failed) {
		free(b->p);
		return SSL_AD_INTERNAL_ERROR;
	}
	alert = gantryVerifyPeer(c->handle, b->p, b->len);
	free(b->p);
	return alert;
}

#ifdef OPENSSL_IS_BORINGSSL

static enum ssl_verify_result_t custom_verify(SSL *ssl, uint8_t *out_alert)
{
	const STACK_OF(CRYPTO_BUFFER) *certs = SSL_get0_peer_certificates(ssl);
	blob b = {0};
	int alert;
	for (size_t i = 0; certs != NULL && i < sk_CRYPTO_BUFFER_num(certs); i++) {
		const CRYPTO_BUFFER *cb = sk_CRYPTO_BUFFER_value(certs, i);
		blob_add(&b, CRYPTO_BUFFER_data(cb), CRYPTO_BUFFER_len(cb));
	}
	alert = verify_with_go(ssl, &b);
	if (alert == 0)
		return ssl_verify_ok;
	*out_alert = (uint8_t)alert;
	return ssl_verify_invalid;
}

#else

/* OpenSSL chooses the alert from the X509 error code; pick codes whose
 * alert is the one the Go verifier asked for. */
static int x509_error_for_alert(int alert)
{
	switch (alert) {
	case SSL_AD_UNKNOWN_CA:
		return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	case SSL_AD_CERTIFICATE_EXPIRED:
		return X509_V_ERR_CERT_HAS_EXPIRED;
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
		return X509_V_ERR_INVALID_PURPOSE;
	case SSL_AD_BAD_CERTIFICATE:
		return X509_V_ERR_CERT_REJECTED;
	case SSL_AD_CERTIFICATE_REVOKED:
		return X509_V_ERR_CERT_REVOKED;
	default:
		/* Not in OpenSSL's table: it falls through to certificate_unknown. */
		return X509_V_OK;
	}
}

static int cert_verify(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	STACK_OF(X509) *untrusted = X509_STORE_CTX_get0_untrusted(xs);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	blob b = {0};
	int alert;
	(void)arg;
	if (ssl == NULL)
		return 0;
	/* The untrusted stack is the peer's whole chain, leaf first; fall back
	 * to the leaf alone should a version ever pass it separately. */
	if (untrusted != NULL && sk_X509_num(untrusted) > 0) {
		for (int i = 0; i < sk_X509_num(untrusted); i++)
			blob_add_x509(&b, sk_X509_value(untrusted, i));
	} else if (leaf != NULL) {
		blob_add_x509(&b, leaf);
	}
	alert = verify_with_go(ssl, &b);
	if (alert == 0) {
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 1;
	}
	X509_STORE_CTX_set_error(xs, x509_error_for_alert(alert));
	return 0;
}

#endif

static int use_cert(SSL *ssl, ctx_data *d, int i)
{
	/* OpenSSL keeps one certificate per key type and would still pick the
	 * context's default by signature algorithm: drop it first. */
	SSL_certs_clear(ssl);
	if (SSL_use_certificate(ssl, d->leaf[i]) != 1)
		return 0;
	if (SSL_use_PrivateKey(ssl, d->key[i]) != 1)
		return 0;
	return SSL_set1_chain(ssl, d->chain[i]) == 1;
}

/* The SCTs served with certificate i. BoringSSL takes them per connection,
 * so they follow the certificate chosen; OpenSSL's custom extension (see
 * sct_ext_add) finds them from the certificate it sends. */
static int use_scts(SSL *ssl, ctx_data *d, int i)
{
#ifdef OPENSSL_IS_BORINGSSL
	if (i < d->nscts && d->sct[i] != NULL)
		return SSL_set_signed_cert_timestamp_list(ssl, d->sct[i], d->sct_len[i]) == 1;
#else
	(void)ssl; (void)d; (void)i;
#endif
	return 1;
}

/* Staples certificate i's OCSP response, if it has one. BoringSSL takes it
 * per connection here, once the certificate is chosen; OpenSSL asks for it
 * later, in ocsp_status_cb. */
static int ocsp_staple(SSL *ssl, ctx_data *d, int i)
{
#ifdef OPENSSL_IS_BORINGSSL
	if (i >= d->nocsp || d->ocsp[i] == NULL)
		return 1;
	return SSL_set_ocsp_response(ssl, d->ocsp[i], d->ocsp_len[i]);
#else
	(void)ssl; (void)d; (void)i;
	return 1;
#endif
}

/* Picks the certificate by SNI; Go decides which leaf matches the name. */
static int cert_cb(SSL *ssl, void *arg)
{
	ctx_data *d = get_ctx_data(SSL_get_SSL_CTX(ssl));
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int i;
	(void)arg;
	if (d == NULL || d->ncerts == 0)
		return 0;
	/* The context already carries the first certificate. */
	if (d->ncerts == 1 || name == NULL || d->handle == 0)
		return use_scts(ssl, d, 0) && ocsp_staple(ssl, d, 0);
	i = gantrySelectCert(d->handle, (char *)name);
	if (i < 0 || i >= d->ncerts)
		i = 0;
	return use_cert(ssl, d, i) && use_scts(ssl, d, i) && ocsp_staple(ssl, d, i);
}

#ifndef OPENSSL_IS_BORINGSSL
/* OpenSSL's server status callback, run for a client that asked for status
 * once the certificate is chosen: it finds that certificate among the
 * context's (cert_cb installed one of the same X509 objects) and hands
 * OpenSSL a copy of its staple, which OpenSSL frees. */
static int ocsp_status_cb(SSL *ssl, void *arg)
{
	ctx_data *d = get_ctx_data(SSL_get_SSL_CTX(ssl));
	X509 *cur = SSL_get_certificate(ssl);
	unsigned char *copy;
	(void)arg;
	if (d == NULL || d->ocsp == NULL || cur == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (int i = 0; i < d->ncerts && i < d->nocsp; i++) {
		if (d->leaf[i] != cur)
			continue;
		if (d->ocsp[i] == NULL)
			return SSL_TLSEXT_ERR_NOACK;
		copy = OPENSSL_memdup(d->ocsp[i], d->ocsp_len[i]);
		if (copy == NULL)
			return SSL_TLSEXT_ERR_NOACK;
		if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)d->ocsp_len[i]) != 1) {
			OPENSSL_free(copy);
			return SSL_TLSEXT_ERR_NOACK;
		}
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_NOACK;
}
#endif

/* Sets the OCSP response stapled with certificate i (DER, copied), after
 * every certificate is added. */
int gantry_ctx_set_ocsp(SSL_CTX *ctx, int i, const uint8_t *der, size_t len)
{
	ctx_data *d = get_ctx_data(ctx);
	unsigned char *copy;
	if (d == NULL || i < 0 || i >= d->ncerts || der == NULL || len == 0)
		return 0;
	if (d->ocsp != NULL && i >= d->nocsp)
		return 0; /* a certificate added after the first staple */
	if (d->ocsp == NULL) {
		d->ocsp = calloc((size_t)d->ncerts, sizeof *d->ocsp);
		d->ocsp_len = calloc((size_t)d->ncerts, sizeof *d->ocsp_len);
		if (d->ocsp == NULL || d->ocsp_len == NULL) {
			free(d->ocsp);
			free(d->ocsp_len);
			d->ocsp = NULL;
			d->ocsp_len = NULL;
			return 0;
		}
		d->nocsp = d->ncerts;
#ifndef OPENSSL_IS_BORINGSSL
		SSL_CTX_set_tlsext_status_cb(ctx, ocsp_status_cb);
#endif
	}
	copy = malloc(len);
	if (copy == NULL)
		return 0;
	memcpy(copy, der, len);
	free(d->ocsp[i]);
	d->ocsp[i] = copy;
	d->ocsp_len[i] = len;
	return 1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	ctx_data *d = get_ctx_data(SSL_get_SSL_CTX(ssl));
	unsigned char *sel = NULL;
	unsigned char sellen = 0;
	(void)arg;
	if (d == NULL || d->alpn_len == 0)
		return SSL_TLSEXT_ERR_NOACK;
	/* The first list is the preferred one: the server's. */
	if (SSL_select_next_proto(&sel, &sellen, d->alpn, (unsigned int)d->alpn_len,
	                          in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	*outlen = sellen;
	return SSL_TLSEXT_ERR_OK;
}

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	gantry_conn *c = SSL_get_ex_data(ssl, conn_idx);
	if (c == NULL)
		return 0;
	if (c->new_session != NULL)
		SSL_SESSION_free(c->new_session);
	c->new_session = sess;
	return 1; /* we keep the reference */
}

static ticket_key *find_key(ctx_data *d, const unsigned char *name, int *idx)
{
	for (int i = 0; i < d->nkeys; i++) {
		if (CRYPTO_memcmp(d->keys[i].name, name, 16) == 0) {
			*idx = i;
			return &d->keys[i];
		}
	}
	return NULL;
}

#ifdef OPENSSL_IS_BORINGSSL
static int ticket_cb(SSL *ssl, uint8_t *name, uint8_t *iv, EVP_CIPHER_CTX *ectx,
                     HMAC_CTX *hctx, int enc)
#else
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                     EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
#endif
{
	ctx_data *d = get_ctx_data(SSL_get_SSL_CTX(ssl));
	ticket_key *k;
	int idx = 0;
	if (d == NULL || d->nkeys == 0)
		return enc ? -1 : 0;
	if (enc) {
		k = &d->keys[0];
		memcpy(name, k->name, 16);
		if (RAND_bytes(iv, 16) != 1)
			return -1;
		if (EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
			return -1;
	} else {
		k = find_key(d, name, &idx);
		if (k == NULL)
			return 0; /* unknown key: full handshake */
		if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
			return -1;
	}
#ifdef OPENSSL_IS_BORINGSSL
	if (HMAC_Init_ex(hctx, k->hmac, sizeof k->hmac, EVP_sha256(), NULL) != 1)
		return -1;
#else
	{
		OSSL_PARAM params[2];
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_MAC_init(hctx, k->hmac, sizeof k->hmac, params) != 1)
			return -1;
	}
#endif
	/* A ticket under an older key is accepted and replaced. In TLS 1.3
	 * every resumption asks for a fresh ticket, as crypto/tls does: OpenSSL
	 * sends none otherwise, and its client will not offer a ticket twice. */
	if (!enc && (idx > 0 || SSL_version(ssl) == TLS1_3_VERSION))
		return 2;
	return 1;
}

/* ---- signed_certificate_timestamp (OpenSSL) ---- */

#ifndef OPENSSL_IS_BORINGSSL
#define SCT_EXT_TYPE 18 /* RFC 6962, 3.3.1 */
/* Not on resumption, as BoringSSL and crypto/tls servers: the session
 * carries what the full handshake had. */
#define SCT_EXT_CONTEXT (SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO | \
                         SSL_EXT_TLS1_3_CERTIFICATE | SSL_EXT_IGNORE_ON_RESUMPTION)

/* Client: an empty extension asks for SCTs. Server: the list of the leaf
 * being sent, if it has one; returning 0 sends nothing. */
static int sct_ext_add(SSL *ssl, unsigned int type, unsigned int context,
                       const unsigned char **out, size_t *outlen, X509 *x,
                       size_t chainidx, int *al, void *arg)
{
	ctx_data *d;
	X509 *leaf = x;
	(void)type; (void)al; (void)arg;
	*out = NULL;
	*outlen = 0;
	if (!SSL_is_server(ssl))
		return context == SSL_EXT_CLIENT_HELLO;
	if ((context & SSL_EXT_TLS1_3_CERTIFICATE) && chainidx != 0)
		return 0;
	if (leaf == NULL)
		leaf = SSL_get_certificate(ssl);
	d = get_ctx_data(SSL_get_SSL_CTX(ssl));
	if (d == NULL || leaf == NULL)
		return 0;
	for (int i = 0; i < d->nscts && i < d->ncerts; i++) {
		if (d->sct[i] != NULL && X509_cmp(d->leaf[i], leaf) == 0) {
			*out = d->sct[i];
			*outlen = d->sct_len[i];
			return 1;
		}
	}
	return 0;
}

/* Server: a client's request must be empty. Client: the server's list for
 * its leaf is kept for gantry_state_get; Go checks what it holds. */
static int sct_ext_parse(SSL *ssl, unsigned int type, unsigned int context,
                         const unsigned char *in, size_t inlen, X509 *x,
                         size_t chainidx, int *al, void *arg)
{
	gantry_conn *c;
	(void)type; (void)x; (void)arg;
	if (SSL_is_server(ssl)) {
		if (inlen != 0) {
			*al = SSL_AD_DECODE_ERROR;
			return 0;
		}
		return 1;
	}
	if ((context & SSL_EXT_TLS1_3_CERTIFICATE) && chainidx != 0)
		return 1;
	c = SSL_get_ex_data(ssl, conn_idx);
	if (c == NULL || inlen == 0)
		return 1;
	free(c->sct_ext);
	c->sct_ext_len = 0;
	c->sct_ext = malloc(inlen);
	if (c->sct_ext == NULL) {
		*al = SSL_AD_INTERNAL_ERROR;
		return 0;
	}
	memcpy(c->sct_ext, in, inlen);
	c->sct_ext_len = inlen;
	return 1;
}

static int add_sct_ext(SSL_CTX *ctx)
{
	return SSL_CTX_add_custom_ext(ctx, SCT_EXT_TYPE, SCT_EXT_CONTEXT, sct_ext_add, NULL,
	                              NULL, sct_ext_parse, NULL) == 1;
}
#endif

/* Sets the SignedCertificateTimestampList served with certificate i (as
 * added by gantry_ctx_add_cert), for clients that ask for SCTs. */
int gantry_ctx_set_cert_scts(SSL_CTX *ctx, int i, const uint8_t *list, size_t len)
{
	ctx_data *d = get_ctx_data(ctx);
	unsigned char *copy;
	if (d == NULL || i < 0 || i >= d->ncerts || len == 0)
		return 0;
	if (i >= d->nscts) {
		unsigned char **ns = realloc(d->sct, sizeof(unsigned char *) * (size_t)(i + 1));
		if (ns == NULL)
			return 0;
		d->sct = ns;
		size_t *nl = realloc(d->sct_len, sizeof(size_t) * (size_t)(i + 1));
		if (nl == NULL)
			return 0;
		d->sct_len = nl;
		for (int j = d->nscts; j <= i; j++) {
			d->sct[j] = NULL;
			d->sct_len[j] = 0;
		}
		d->nscts = i + 1;
	}
#ifndef OPENSSL_IS_BORINGSSL
	/* The extension is registered once, with the first list. */
	{
		int any = 0;
		for (int j = 0; j < d->nscts; j++)
			any |= d->sct[j] != NULL;
		if (!any && !add_sct_ext(ctx))
			return 0;
	}
#endif
	copy = malloc(len);
	if (copy == NULL)
		return 0;
	memcpy(copy, list, len);
	free(d->sct[i]);
	d->sct[i] = copy;
	d->sct_len[i] = len;
	return 1;
}

/* ---- SSL_CTX ---- */

SSL_CTX *gantry_ctx_new(int server, uintptr_t handle, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	ctx_data *d;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL) {
		gantry_errors(err, errlen, NULL);
		return NULL;
	}
	d = calloc(1, sizeof *d);
	if (d == NULL || SSL_CTX_set_ex_data(ctx, ctx_idx, d) != 1) {
		free(d);
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->handle = handle;
	/* An idle connection gives its record buffers back, as nginx has
	 * OpenSSL do: 41.9 -> 27.6 KiB per idle TLS 1.3 connection in
	 * `gantry bench --only idle`. BoringSSL always does (the flag is 0). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
#ifdef SSL_OP_NO_RENEGOTIATION
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#endif
	if (server) {
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
		/* Resumption is by ticket only, so that turning tickets off turns
		 * resumption off, and no server-side state grows. */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		/* Ask for a stapled OCSP response (and SCTs where the library can
		 * report them), as crypto/tls clients do, for ConnectionState. */
#ifdef OPENSSL_IS_BORINGSSL
		SSL_CTX_enable_ocsp_stapling(ctx);
		SSL_CTX_enable_signed_cert_timestamps(ctx);
#else
		SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp);
		/* OpenSSL has no client call that hands over the SCT extension
		 * short of its own CT validation; a custom extension asks for it
		 * and keeps it, as crypto/tls and BoringSSL clients do. */
		if (!add_sct_ext(ctx)) {
			gantry_errors(err, errlen, NULL);
			SSL_CTX_free(ctx);
			return NULL;
		}
#endif
	}
#ifndef OPENSSL_IS_BORINGSSL
	SSL_CTX_set_cert_verify_callback(ctx, cert_verify, NULL);
#endif
	return ctx;
}

void gantry_ctx_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }

int gantry_ctx_set_versions(SSL_CTX *ctx, int min, int max)
{
	return SSL_CTX_set_min_proto_version(ctx, (uint16_t)min) == 1 &&
	       SSL_CTX_set_max_proto_version(ctx, (uint16_t)max) == 1;
}

int gantry_ctx_set_ciphers(SSL_CTX *ctx, const char *tls12, const char *tls13)
{
	if (tls12 != NULL && tls12[0] != 0) {
#ifdef OPENSSL_IS_BORINGSSL
		if (SSL_CTX_set_strict_cipher_list(ctx, tls12) != 1)
			return 0;
#else
		if (SSL_CTX_set_cipher_list(ctx, tls12) != 1)
			return 0;
#endif
	}
#ifndef OPENSSL_IS_BORINGSSL
	if (tls13 != NULL && tls13[0] != 0 && SSL_CTX_set_ciphersuites(ctx, tls13) != 1)
		return 0;
#else
	(void)tls13; /* BoringSSL's TLS 1.3 suites are fixed. */
#endif
	return 1;
}

int gantry_ctx_set_groups(SSL_CTX *ctx, const char *groups)
{
	return SSL_CTX_set1_curves_list(ctx, groups) == 1;
}

/* chain is a blob (see blob_add) of DER certificates, leaf first; key is
 * PKCS #8 DER. The first certificate is also the context's default. */
int gantry_ctx_add_cert(SSL_CTX *ctx, const uint8_t *chain, size_t chain_len,
                        const uint8_t *key, size_t key_len)
{
	ctx_data *d = get_ctx_data(ctx);
	X509 *leaf = NULL;
	EVP_PKEY *pkey = NULL;
	STACK_OF(X509) *sk = NULL;
	const uint8_t *p;
	size_t off = 0;
	int n = d->ncerts;

	sk = sk_X509_new_null();
	if (sk == NULL)
		goto fail;
	while (off + 4 <= chain_len) {
		size_t len = ((size_t)chain[off] << 24) | ((size_t)chain[off + 1] << 16) |
		             ((size_t)chain[off + 2] << 8) | chain[off + 3];
		X509 *x;
		off += 4;
		if (len > chain_len - off)
			goto fail;
		p = chain + off;
		x = d2i_X509(NULL, &p, (long)len);
		if (x == NULL)
			goto fail;
		off += len;
		if (leaf == NULL) {
			leaf = x;
		} else if (!sk_X509_push(sk, x)) {
			X509_free(x);
			goto fail;
		}
	}
	if (leaf == NULL)
		goto fail;
	p = key;
	pkey = d2i_AutoPrivateKey(NULL, &p, (long)key_len);
	if (pkey == NULL)
		goto fail;

	{
		X509 **nl = realloc(d->leaf, sizeof(X509 *) * (size_t)(n + 1));
		if (nl == NULL)
			goto fail;
		d->leaf = nl;
		EVP_PKEY **nk = realloc(d->key, sizeof(EVP_PKEY *) * (size_t)(n + 1));
		if (nk == NULL)
			goto fail;
		d->key = nk;
		STACK_OF(X509) **nc = realloc(d->chain, sizeof(STACK_OF(X509) *) * (size_t)(n + 1));
		if (nc == NULL)
			goto fail;
		d->chain = nc;
	}
	if (n == 0) {
		if (SSL_CTX_use_certificate(ctx, leaf) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
		    SSL_CTX_set1_chain(ctx, sk) != 1)
			goto fail;
	}
	d->leaf[n] = leaf;
	d->key[n] = pkey;
	d->chain[n] = sk;
	d->ncerts = n + 1;
	return 1;
fail:
	X509_free(leaf);
	EVP_PKEY_free(pkey);
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

int gantry_ctx_set_alpn(SSL_CTX *ctx, int server, const uint8_t *wire, size_t len)
{
	ctx_data *d = get_ctx_data(ctx);
	if (!server)
		return SSL_CTX_set_alpn_protos(ctx, wire, (unsigned)len) == 0;
	free(d->alpn);
	d->alpn = malloc(len);
	if (d->alpn == NULL)
		return 0;
	memcpy(d->alpn, wire, len);
	d->alpn_len = len;
	return 1;
}

int gantry_ctx_set_sid_ctx(SSL_CTX *ctx, const uint8_t *id, size_t len)
{
	return SSL_CTX_set_session_id_context(ctx, id, (unsigned)len) == 1;
}

int gantry_ctx_set_verify(SSL_CTX *ctx, int mode)
{
	int m = SSL_VERIFY_NONE;
	if (mode == GANTRY_VERIFY_PEER)
		m = SSL_VERIFY_PEER;
	else if (mode == GANTRY_VERIFY_REQUIRE)
		m = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
#ifdef OPENSSL_IS_BORINGSSL
	SSL_CTX_set_custom_verify(ctx, m, m == SSL_VERIFY_NONE ? NULL : custom_verify);
#else
	SSL_CTX_set_verify(ctx, m, NULL);
#endif
	return 1;
}

int gantry_ctx_add_client_ca(SSL_CTX *ctx, const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	int ok;
	if (x == NULL)
		return 0;
	ok = SSL_CTX_add_client_CA(ctx, x) == 1;
	X509_free(x);
	return ok;
}

/* keys holds n entries of name(16) || aes(32) || hmac(32); n == 0 turns
 * tickets off. */
int gantry_ctx_set_tickets(SSL_CTX *ctx, const uint8_t *keys, int n)
{
	ctx_data *d = get_ctx_data(ctx);
	if (n == 0) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return 1;
	}
	d->keys = calloc((size_t)n, sizeof(ticket_key));
	if (d->keys == NULL)
		return 0;
	for (int i = 0; i < n; i++) {
		memcpy(d->keys[i].name, keys + i * 80, 16);
		memcpy(d->keys[i].aes, keys + i * 80 + 16, 32);
		memcpy(d->keys[i].hmac, keys + i * 80 + 48, 32);
	}
	d->nkeys = n;
	/* One TLS 1.3 ticket per handshake, as crypto/tls sends. OpenSSL's
	 * default of two costs a session copy, a PSK derivation, an ASN.1
	 * encoding and an encryption each: about a quarter of the server's CPU
	 * per full ECDSA handshake on OpenSSL 3.0, for a second ticket that our
	 * client cache (one session per name) and most others never use. */
	SSL_CTX_set_num_tickets(ctx, 1);
#ifdef OPENSSL_IS_BORINGSSL
	return SSL_CTX_set_tlsext_ticket_key_cb(ctx, ticket_cb) == 1;
#else
	return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) == 1;
#endif
}

void gantry_ctx_set_client_cache(SSL_CTX *ctx, int enabled)
{
	if (!enabled) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		return;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
}

/* ---- connections ---- */

gantry_conn *gantry_conn_new(SSL_CTX *ctx, int server, const char *sni,
                             SSL_SESSION *session, uintptr_t handle)
{
	gantry_conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	ERR_clear_error();
	c->handle = handle;
	c->ssl = SSL_new(ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		gantry_errors(c->err, sizeof c->err, &c->err_reason);
		if (c->err[0] == 0)
			snprintf(c->err, sizeof c->err, "out of memory");
		return c; /* Go reads err and frees */
	}
	/* An empty BIO means "come back later", never end of stream. */
	BIO_set_mem_eof_return(c->rbio, -1);
	BIO_set_mem_eof_return(c->wbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_ex_data(c->ssl, conn_idx, c);
	if (server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (sni != NULL && sni[0] != 0 && SSL_set_tlsext_host_name(c->ssl, sni) != 1)
			gantry_errors(c->err, sizeof c->err, &c->err_reason);
		if (session != NULL)
			SSL_set_session(c->ssl, session);
	}
	return c;
}

void gantry_conn_free(gantry_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_set_ex_data(c->ssl, conn_idx, NULL);
		SSL_free(c->ssl); /* frees both BIOs */
	} else {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
	}
	if (c->new_session != NULL)
		SSL_SESSION_free(c->new_session);
	free(c->sct_ext);
	free(c);
}

static int feed(gantry_conn *c, const uint8_t *in, size_t inlen)
{
	while (inlen > 0) {
		int chunk = inlen > (1 << 30) ? (1 << 30) : (int)inlen;
		int w = BIO_write(c->rbio, in, chunk);
		if (w <= 0) {
			snprintf(c->err, sizeof c->err, "memory BIO write failed");
			return 0;
		}
		in += w;
		inlen -= (size_t)w;
	}
	return 1;
}

void gantry_drain(gantry_conn *c, uint8_t *out, size_t outcap)
{
	size_t pending = BIO_ctrl_pending(c->wbio);
	size_t n = pending < outcap ? pending : outcap;
	c->out_len = 0;
	if (n > 0) {
		int r = BIO_read(c->wbio, out, (int)n);
		if (r > 0)
			c->out_len = (size_t)r;
	}
	c->out_more = BIO_ctrl_pending(c->wbio);
}

static void fail(gantry_conn *c, int sslerr)
{
	gantry_errors(c->err, sizeof c->err, &c->err_reason);
	if (c->err[0] == 0)
		snprintf(c->err, sizeof c->err, "SSL error %d", sslerr);
}

int gantry_handshake(gantry_conn *c, const uint8_t *in, size_t inlen,
                     uint8_t *out, size_t outcap)
{
	int r, st;
	c->err[0] = 0;
	c->err_reason = 0;
	if (!feed(c, in, inlen))
		return GANTRY_ERROR;
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		st = GANTRY_OK;
		/* A resumed TLS 1.2 session whose ticket the server renewed does not
		 * reach the new-session callback; cache it here. */
		if (!SSL_is_server(c->ssl) && c->new_session == NULL && SSL_session_reused(c->ssl) &&
		    SSL_version(c->ssl) <= TLS1_2_VERSION &&
		    (SSL_CTX_get_session_cache_mode(SSL_get_SSL_CTX(c->ssl)) & SSL_SESS_CACHE_CLIENT))
			c->new_session = SSL_get1_session(c->ssl);
	} else {
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			st = GANTRY_WANT_READ;
		} else {
			fail(c, e);
			st = GANTRY_ERROR;
		}
	}
	gantry_drain(c, out, outcap);
	return st;
}

/* Feeds in, then reads as much plaintext as fits in buf without waiting. */
int gantry_read(gantry_conn *c, const uint8_t *in, size_t inlen, uint8_t *buf, size_t buflen)
{
	size_t total = 0;
	int st = GANTRY_OK;
	c->n = 0;
	c->starved = 0;
	if (!feed(c, in, inlen))
		return GANTRY_ERROR;
	/* Once per call, not per SSL_read: a successful read leaves the queue
	   empty, and every failure below consumes or clears what it added. */
	ERR_clear_error();
	while (total < buflen) {
		size_t want = buflen - total;
		int r;
		r = SSL_read(c->ssl, buf + total, want > (1 << 30) ? (1 << 30) : (int)want);
		if (r > 0) {
			total += (size_t)r;
			continue;
		}
		{
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				st = GANTRY_WANT_READ;
			} else if (e == SSL_ERROR_ZERO_RETURN) {
				st = GANTRY_EOF;
			} else {
				if (total == 0)
					fail(c, e);
				else
					ERR_clear_error(); /* the next call reports it */
				st = GANTRY_ERROR;
			}
		}
		break;
	}
	c->n = total;
	c->out_more = BIO_ctrl_pending(c->wbio);
	/* Reported even with data: the next read then waits on the socket
	   first instead of crossing into the library only to learn this. */
	c->starved = st == GANTRY_WANT_READ;
	if (total > 0)
		return GANTRY_OK;
	return st;
}

int gantry_write(gantry_conn *c, const uint8_t *data, size_t len, uint8_t *out, size_t outcap)
{
	int r;
	c->n = 0;
	c->out_len = 0;
	if (len > (1 << 30))
		len = 1 << 30;
	ERR_clear_error();
	r = SSL_write(c->ssl, data, (int)len);
	if (r <= 0) {
		int e = SSL_get_error(c->ssl, r);
		fail(c, e);
		gantry_drain(c, out, outcap);
		return GANTRY_ERROR;
	}
	c->n = (size_t)r;
	gantry_drain(c, out, outcap);
	return GANTRY_OK;
}

int gantry_shutdown(gantry_conn *c, uint8_t *out, size_t outcap)
{
	int r;
	ERR_clear_error();
	r = SSL_shutdown(c->ssl);
	if (r < 0) {
		fail(c, SSL_get_error(c->ssl, r));
		gantry_drain(c, out, outcap);
		return GANTRY_ERROR;
	}
	gantry_drain(c, out, outcap);
	return GANTRY_OK;
}

static int curve_id(SSL *ssl)
{
#ifdef OPENSSL_IS_BORINGSSL
	return SSL_get_curve_id(ssl);
#else
	int nid = SSL_get_negotiated_group(ssl);
	switch (nid) {
	case NID_X25519:
		return 29;
	case NID_X448:
		return 30;
	case NID_X9_62_prime256v1:
		return 23;
	case NID_secp384r1:
		return 24;
	case NID_secp521r1:
		return 25;
	default:
		return 0;
	}
#endif
}

void gantry_state_get(gantry_conn *c, gantry_state *st)
{
	const SSL_CIPHER *cipher;
	memset(st, 0, sizeof *st);
	/* Before the handshake there is no state to report, and some of the
	   calls below dereference the negotiated session. */
	if (!SSL_is_init_finished(c->ssl))
		return;
	cipher = SSL_get_current_cipher(c->ssl);
	st->version = SSL_version(c->ssl);
	st->cipher = cipher != NULL ? SSL_CIPHER_get_protocol_id(cipher) : 0;
	st->resumed = SSL_session_reused(c->ssl);
	st->curve = curve_id(c->ssl);
	SSL_get0_alpn_selected(c->ssl, &st->alpn, &st->alpn_len);
	st->sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	if (SSL_is_server(c->ssl))
		return;
#ifdef OPENSSL_IS_BORINGSSL
	SSL_get0_ocsp_response(c->ssl, &st->ocsp, &st->ocsp_len);
	SSL_get0_signed_cert_timestamp_list(c->ssl, &st->scts, &st->scts_len);
#else
	{
		unsigned char *resp = NULL;
		long n = SSL_get_tlsext_status_ocsp_resp(c->ssl, &resp);
		if (n > 0 && resp != NULL) {
			st->ocsp = resp;
			st->ocsp_len = (size_t)n;
		}
	}
	st->scts = c->sct_ext;
	st->scts_len = c->sct_ext_len;
#endif
}

/* The peer's chain, leaf first, as a blob the caller frees with free(). */
uint8_t *gantry_peer_chain(gantry_conn *c, size_t *len)
{
	blob b = {0};
#ifdef OPENSSL_IS_BORINGSSL
	const STACK_OF(CRYPTO_BUFFER) *certs = SSL_get0_peer_certificates(c->ssl);
	for (size_t i = 0; certs != NULL && i < sk_CRYPTO_BUFFER_num(certs); i++) {
		const CRYPTO_BUFFER *cb = sk_CRYPTO_BUFFER_value(certs, i);
		blob_add(&b, CRYPTO_BUFFER_data(cb), CRYPTO_BUFFER_len(cb));
	}
#else
	STACK_OF(X509) *sk = SSL_get_peer_cert_chain(c->ssl);
	X509 *leaf = SSL_get0_peer_certificate(c->ssl);
	/* On a server the stack leaves the leaf out; on a client it has it. */
	if (leaf != NULL && SSL_is_server(c->ssl))
		blob_add_x509(&b, leaf);
	for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++)
		blob_add_x509(&b, sk_X509_value(sk, i));
	if (sk == NULL && leaf != NULL && !SSL_is_server(c->ssl))
		blob_add_x509(&b, leaf);
#endif
	if (b.failed) {
		free(b.p);
		*len = 0;
		return NULL;
	}
	*len = b.len;
	return b.p;
}

void gantry_session_free(SSL_SESSION *s) { SSL_SESSION_free(s); }

/* Bytes the C allocator has handed out and not got back: the leak test's
 * view of objects the Go heap and RSS noise cannot show. */
long long gantry_c_heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
}
