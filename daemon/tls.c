/* Loading the TCP listener's certificate, key and CA, serving them to the
 * handshakes, and checking the certificates clients present. */
#include <config.h>

#include <gnutls/x509.h>
#include <string.h>

#include "error.h"
#include "tls.h"

/* A chain longer than this is not one a host of ours presents. */
#define TLS_MAX_CHAIN 8

struct _TlsCreds {
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned int chain_len;
    gnutls_privkey_t key;
    gnutls_x509_trust_list_t trust;     /* NULL without tls_ca */
    char *ca_pem;
};

static const TlsCreds *tls_current;

void
tls_creds_free(TlsCreds *creds)
{
    if (!creds)
        return;
    if (tls_current == creds)
        tls_current = NULL;
    for (unsigned int i = 0; i < creds->chain_len; i++)
        gnutls_pcert_deinit(&creds->chain[i]);
    if (creds->key)
        gnutls_privkey_deinit(creds->key);
    if (creds->trust)
        gnutls_x509_trust_list_deinit(creds->trust, 1);
    g_free(creds->ca_pem);
    g_free(creds);
}

static gboolean
tls_read(const char *key, const char *path, char **ret_text, gsize *ret_len, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (g_file_get_contents(path, ret_text, ret_len, &local))
        return TRUE;
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s %s cannot be read: %s", key, path,
                local->message);
    return FALSE;
}

static gboolean
tls_fail(GError **error, const char *key, const char *path, const char *what, int rc)
{
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "%s %s %s (GnuTLS: %s)", key, path, what,
                gnutls_strerror(rc));
    return FALSE;
}

/* Refuses a certificate that cannot serve now: a client would refuse it. */
static gboolean
tls_check_dates(const gnutls_pcert_st *pcert, const char *path, GError **error)
{
    gnutls_x509_crt_t crt;
    time_t now = time(NULL), from, until;
    g_autoptr(GDateTime) when = NULL;
    g_autofree char *text = NULL;

    if (gnutls_pcert_export_x509((gnutls_pcert_st *)pcert, &crt) < 0)
        return TRUE;
    from = gnutls_x509_crt_get_activation_time(crt);
    until = gnutls_x509_crt_get_expiration_time(crt);
    gnutls_x509_crt_deinit(crt);
    if (now >= from && now <= until)
        return TRUE;
    when = g_date_time_new_from_unix_utc(now < from ? from : until);
    text = g_date_time_format_iso8601(when);
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "tls_cert %s %s %s; give it a current "
                "certificate", path, now < from ? "is not valid before" : "expired on", text);
    return FALSE;
}

static gboolean
tls_load_chain(TlsCreds *creds, const char *path, GError **error)
{
    g_autofree char *pem = NULL;
    gnutls_datum_t data;
    gsize len;
    int rc;

    if (!tls_read("tls_cert", path, &pem, &len, error))
        return FALSE;
    data = (gnutls_datum_t){ (unsigned char *)pem, (unsigned int)len };
    creds->chain_len = TLS_MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(creds->chain, &creds->chain_len, &data,
                                           GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        creds->chain_len = 0;
        return tls_fail(error, "tls_cert", path, "is not a PEM certificate chain", rc);
    }
    return tls_check_dates(&creds->chain[0], path, error);
}

/* The key ID of @key's public half, to compare with the certificate's. */
static gboolean
tls_key_matches(gnutls_privkey_t key, gnutls_pubkey_t cert_key)
{
    unsigned char a[64], b[64];
    size_t la = sizeof(a), lb = sizeof(b);
    gnutls_pubkey_t pub;
    gboolean same;

    if (gnutls_pubkey_init(&pub) < 0)
        return FALSE;
    same = gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
           gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &la) == 0 &&
           gnutls_pubkey_get_key_id(cert_key, GNUTLS_KEYID_USE_SHA256, b, &lb) == 0 &&
           la == lb && memcmp(a, b, la) == 0;
    gnutls_pubkey_deinit(pub);
    return same;
}

static gboolean
tls_load_key(TlsCreds *creds, const char *path, const char *cert_path, GError **error)
{
    g_autofree char *pem = NULL;
    gnutls_datum_t data;
    gsize len;
    int rc;

    if (!tls_read("tls_key", path, &pem, &len, error))
        return FALSE;
    data = (gnutls_datum_t){ (unsigned char *)pem, (unsigned int)len };
    rc = gnutls_privkey_init(&creds->key);
    if (rc == 0)
        rc = gnutls_privkey_import_x509_raw(creds->key, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
    /* The key's bytes are not left in a freed buffer. */
    memset(pem, 0, len);
    if (rc < 0)
        return tls_fail(error, "tls_key", path, "is not an unencrypted PEM private key", rc);
    if (!tls_key_matches(creds->key, creds->chain[0].pubkey)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "tls_key %s is not the key of the certificate in tls_cert %s", path,
                    cert_path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
tls_load_ca(TlsCreds *creds, const char *path, GError **error)
{
    gnutls_datum_t data;
    gsize len;
    int rc;

    if (!tls_read("tls_ca", path, &creds->ca_pem, &len, error))
        return FALSE;
    data = (gnutls_datum_t){ (unsigned char *)creds->ca_pem, (unsigned int)len };
    rc = gnutls_x509_trust_list_init(&creds->trust, 0);
    if (rc == 0)
        rc = gnutls_x509_trust_list_add_trust_mem(creds->trust, &data, NULL,
                                                  GNUTLS_X509_FMT_PEM, 0, 0);
    if (rc < 0)
        return tls_fail(error, "tls_ca", path, "is not a list of PEM CA certificates", rc);
    if (rc == 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "tls_ca %s holds no PEM certificate", path);
        return FALSE;
    }
    return TRUE;
}

TlsCreds *
tls_creds_load(const char *cert_path, const char *key_path, const char *ca_path, GError **error)
{
    g_autoptr(TlsCreds) creds = g_new0(TlsCreds, 1);

    if (!tls_load_chain(creds, cert_path, error) ||
        !tls_load_key(creds, key_path, cert_path, error) ||
        (ca_path && !tls_load_ca(creds, ca_path, error)))
        return NULL;
    return g_steal_pointer(&creds);
}

const char *
tls_creds_ca_pem(const TlsCreds *creds)
{
    return creds->ca_pem;
}

void
tls_serve(const TlsCreds *creds)
{
    tls_current = creds;
}

int
tls_retrieve_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                  const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                  gnutls_pcert_st **ret_pcert, unsigned int *ret_pcert_length,
                  gnutls_privkey_t *ret_key)
{
    if (!tls_current)
        return -1;
    *ret_pcert = (gnutls_pcert_st *)tls_current->chain;
    *ret_pcert_length = tls_current->chain_len;
    *ret_key = tls_current->key;
    return 0;
}

void
tls_client_clear(TlsClient *client)
{
    g_clear_pointer(&client->names, g_strfreev);
    g_clear_pointer(&client->why, g_free);
    client->state = TLS_CLIENT_NONE;
}

/* The subject's common name and DNS names. */
static GStrv
tls_crt_names(gnutls_x509_crt_t crt)
{
    GPtrArray *names = g_ptr_array_new();
    char buf[256];
    size_t size = sizeof(buf);

    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) == 0)
        g_ptr_array_add(names, g_strndup(buf, size));
    for (unsigned int i = 0;; i++) {
        int type;

        size = sizeof(buf);
        type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        /* The CN is usually a DNS name too: each name once. */
        if (type == GNUTLS_SAN_DNSNAME &&
            !g_ptr_array_find_with_equal_func(names, buf, g_str_equal, NULL))
            g_ptr_array_add(names, g_strndup(buf, size));
    }
    g_ptr_array_add(names, NULL);
    return (GStrv)g_ptr_array_free(names, FALSE);
}

static void
tls_refuse(TlsClient *ret, const char *why)
{
    ret->state = TLS_CLIENT_REFUSED;
    ret->why = g_strdup(why);
}

/* Verifies @chain (the client's own certificate first) against @trust, for
 * a TLS client's use. */
static void
tls_verify_chain(gnutls_x509_trust_list_t trust, gnutls_x509_crt_t *chain, unsigned int n,
                 TlsClient *ret)
{
    gnutls_typed_vdata_st purpose = {
        .type = GNUTLS_DT_KEY_PURPOSE_OID,
        .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
    };
    unsigned int status = 0;
    gnutls_datum_t text = { NULL, 0 };
    g_autofree char *why = NULL;

    if (gnutls_x509_trust_list_verify_crt2(trust, chain, n, &purpose, 1, 0, &status, NULL) < 0)
        status = GNUTLS_CERT_INVALID;
    if (status == 0) {
        ret->state = TLS_CLIENT_VERIFIED;
        ret->names = tls_crt_names(chain[0]);
        return;
    }
    (void)gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
    why = g_strdup_printf("the client certificate does not verify against tls_ca: %s",
                          text.data ? g_strstrip((char *)text.data) : "no reason given");
    gnutls_free(text.data);
    tls_refuse(ret, why);
}

void
tls_check_client(const TlsCreds *creds, gnutls_session_t session, TlsClient *ret)
{
    gnutls_x509_crt_t chain[TLS_MAX_CHAIN];
    const gnutls_datum_t *raw;
    unsigned int n = 0, imported = 0;

    *ret = (TlsClient){ TLS_CLIENT_NONE, NULL, NULL };
    if (!session || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return;
    raw = gnutls_certificate_get_peers(session, &n);
    if (!raw || n == 0)
        return;
    if (!creds || !creds->trust) {
        tls_refuse(ret, "migd.conf sets no tls_ca, so no client certificate can be verified");
        return;
    }
    if (n > TLS_MAX_CHAIN) {
        tls_refuse(ret, "the client certificate chain is longer than migd accepts");
        return;
    }
    for (; imported < n; imported++) {
        if (gnutls_x509_crt_init(&chain[imported]) < 0)
            break;
        if (gnutls_x509_crt_import(chain[imported], &raw[imported], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(chain[imported]);
            break;
        }
    }
    if (imported == n)
        tls_verify_chain(creds->trust, chain, n, ret);
    else
        tls_refuse(ret, "the client certificate cannot be parsed");
    for (unsigned int i = 0; i < imported; i++)
        gnutls_x509_crt_deinit(chain[i]);
}

gboolean
tls_client_names(const TlsClient *client, const char *name)
{
    for (guint i = 0; client->names && client->names[i]; i++) {
        if (g_ascii_strcasecmp(client->names[i], name) == 0)
            return TRUE;
    }
    return FALSE;
}
