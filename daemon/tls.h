/* The TCP listener's TLS identity: this host's certificate and key, and the
 * CA whose client certificates identify peers and operators. Loaded at
 * start and again on SIGHUP; a set that does not load is refused whole. */
#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

typedef struct _TlsCreds TlsCreds;

/* Reads and checks @cert_path (PEM, the host's certificate first, then any
 * intermediates), @key_path (its PEM private key) and @ca_path (PEM CA
 * certificates; NULL: client certificates are not asked for). Refused: a
 * file that cannot be read or parsed, a key that is not the certificate's,
 * a certificate that has expired or is not yet valid. The message names
 * the key of migd.conf and the file. */
TlsCreds *tls_creds_load(const char *cert_path, const char *key_path, const char *ca_path,
                         GError **error);
void tls_creds_free(TlsCreds *creds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TlsCreds, tls_creds_free)

/* The CA certificates as PEM text, NULL without tls_ca. */
const char *tls_creds_ca_pem(const TlsCreds *creds);

/* The certificate the TLS handshakes of this process present from now on,
 * through tls_retrieve_cert(). @creds must outlive every session that used
 * it (GnuTLS keeps pointers to it): callers keep retired sets until their
 * server stops. Main loop only, as the handshakes are. */
void tls_serve(const TlsCreds *creds);

/* MHD_OPTION_HTTPS_CERT_CALLBACK's function: the set tls_serve() chose. */
int tls_retrieve_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                      gnutls_pcert_st **ret_pcert, unsigned int *ret_pcert_length,
                      gnutls_privkey_t *ret_key);

typedef enum {
    TLS_CLIENT_NONE,            /* no certificate was presented */
    TLS_CLIENT_VERIFIED,        /* signed by tls_ca, valid now, for client use */
    TLS_CLIENT_REFUSED,         /* presented, but not acceptable */
    TLS_CLIENT_LAST
} TlsClientState;

typedef struct {
    TlsClientState state;
    GStrv names;                /* VERIFIED: the subject's CN and DNS names */
    char *why;                  /* REFUSED: a sentence */
} TlsClient;

/* Checks the certificate the client of @session presented against the CA
 * of @creds (the set serving now). */
void tls_check_client(const TlsCreds *creds, gnutls_session_t session, TlsClient *ret);
void tls_client_clear(TlsClient *client);

/* Whether @client's certificate names @name (its CN or a DNS name, ASCII
 * case ignored). */
gboolean tls_client_names(const TlsClient *client, const char *name);
