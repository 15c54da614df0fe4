/*
 * Gantry's C shim over OpenSSL 3 or BoringSSL. One source, compiled against
 * either library; OPENSSL_IS_BORINGSSL marks the few differences.
 *
 * Memory rules: C never keeps a Go pointer. Buffers handed in by Go are used
 * only for the duration of the call. Callbacks into Go carry a
 * runtime/cgo.Handle (an integer), never a pointer.
 */
#ifndef GANTRY_SHIM_H
#define GANTRY_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

/* Status codes of the connection calls. */
enum {
	GANTRY_OK = 1,         /* the operation finished */
	GANTRY_WANT_READ = 2,  /* more bytes from the peer are needed */
	GANTRY_EOF = 3,        /* the peer sent close_notify */
	GANTRY_ERROR = -1,     /* fatal; see gantry_conn.err */
	GANTRY_CLOSED = -2,    /* the write side is shut */
};

/* Verify modes for gantry_ctx_set_verify. */
enum {
	GANTRY_VERIFY_NONE = 0,
	GANTRY_VERIFY_PEER = 1,
	GANTRY_VERIFY_REQUIRE = 2,
};

#define GANTRY_ERR_LEN 1024

/*
 * One TLS connection: the SSL object with its two memory BIOs. Results of a
 * call are left in the struct, so Go reads them without extra crossings or
 * pointers to Go memory.
 */
typedef struct gantry_conn {
	SSL *ssl;
	BIO *rbio; /* bytes from the peer, fed by Go */
	BIO *wbio; /* bytes for the peer, drained by Go */
	uintptr_t handle; /* runtime/cgo.Handle for the verify callback */
	SSL_SESSION *new_session; /* a client session to cache; Go takes it */
	size_t n; /* plaintext bytes read or written by the last call */
	size_t out_len; /* bytes drained into the caller's output buffer */
	size_t out_more; /* bytes still waiting in wbio */
	int starved; /* gantry_read: the library consumed all input and wants more */
	int err_reason; /* reason code of the first library error */
	char err[GANTRY_ERR_LEN];
	/* OpenSSL client: the server's signed_certificate_timestamp extension
	 * (a SignedCertificateTimestampList), copied by the custom extension's
	 * parse callback; BoringSSL keeps its own. */
	unsigned char *sct_ext;
	size_t sct_ext_len;
} gantry_conn;

typedef struct gantry_state {
	int version;
	int cipher;
	int resumed;
	int curve;
	const unsigned char *alpn;
	unsigned alpn_len;
	const char *sni;
	const unsigned char *ocsp;
	size_t ocsp_len;
	const unsigned char *scts; /* a SignedCertificateTimestampList */
	size_t scts_len;
} gantry_state;

int gantry_init(void);
const char *gantry_version(void);
int gantry_is_boringssl(void);
int gantry_probe_group(const char *name);
int gantry_reason_no_certificate(void);
int gantry_api_version(void);
void gantry_clear_errors(void);
void gantry_errors(char *buf, size_t cap, int *reason);

SSL_CTX *gantry_ctx_new(int server, uintptr_t handle, char *err, size_t errlen);
void gantry_ctx_free(SSL_CTX *ctx);
int gantry_ctx_set_versions(SSL_CTX *ctx, int min, int max);
int gantry_ctx_set_ciphers(SSL_CTX *ctx, const char *tls12, const char *tls13);
int gantry_ctx_set_groups(SSL_CTX *ctx, const char *groups);
int gantry_ctx_add_cert(SSL_CTX *ctx, const uint8_t *chain, size_t chain_len,
                        const uint8_t *key, size_t key_len);
int gantry_ctx_set_alpn(SSL_CTX *ctx, int server, const uint8_t *wire, size_t len);
int gantry_ctx_set_verify(SSL_CTX *ctx, int mode);
int gantry_ctx_set_sid_ctx(SSL_CTX *ctx, const uint8_t *id, size_t len);
int gantry_ctx_add_client_ca(SSL_CTX *ctx, const uint8_t *der, size_t len);
int gantry_ctx_set_tickets(SSL_CTX *ctx, const uint8_t *keys, int n);
void gantry_ctx_set_client_cache(SSL_CTX *ctx, int enabled);
int gantry_ctx_set_cert_scts(SSL_CTX *ctx, int i, const uint8_t *list, size_t len);
int gantry_ctx_set_ocsp(SSL_CTX *ctx, int i, const uint8_t *der, size_t len);

gantry_conn *gantry_conn_new(SSL_CTX *ctx, int server, const char *sni,
                             SSL_SESSION *session, uintptr_t handle);
void gantry_conn_free(gantry_conn *c);
int gantry_handshake(gantry_conn *c, const uint8_t *in, size_t inlen,
                     uint8_t *out, size_t outcap);
int gantry_read(gantry_conn *c, const uint8_t *in, size_t inlen,
                uint8_t *buf, size_t buflen);
int gantry_write(gantry_conn *c, const uint8_t *data, size_t len,
                 uint8_t *out, size_t outcap);
void gantry_drain(gantry_conn *c, uint8_t *out, size_t outcap);
int gantry_shutdown(gantry_conn *c, uint8_t *out, size_t outcap);
void gantry_state_get(gantry_conn *c, gantry_state *st);
uint8_t *gantry_peer_chain(gantry_conn *c, size_t *len);
void gantry_session_free(SSL_SESSION *s);
long long gantry_c_heap_in_use(void);

#endif
