/* Which peer a request over TLS speaks for, held against its client
 * certificate: a host's certificate acts for that host only, so hosta
 * cannot reserve, prepare or release as hostb. The bearer token, shared by
 * every host, cannot tell hosts apart and is not checked here. */
#include <config.h>

#include <string.h>

#include "api-priv.h"

/* The [peer.NAME] the certificate belongs to: the first whose cert_name it
 * carries. */
static const MigdPeer *
identity_holder(const MigdConf *conf, const TlsClient *cert)
{
    for (guint i = 0; i < conf->peers->len; i++) {
        const MigdPeer *peer = g_ptr_array_index(conf->peers, i);

        if (peer->cert_name && tls_client_names(cert, peer->cert_name))
            return peer;
    }
    return NULL;
}

/* Whether two URLs are the same but for trailing slashes. */
static gboolean
identity_same_url(const char *a, const char *b)
{
    gsize la = strlen(a), lb = strlen(b);

    while (la > 0 && a[la - 1] == '/')
        la--;
    while (lb > 0 && b[lb - 1] == '/')
        lb--;
    return la == lb && g_ascii_strncasecmp(a, b, la) == 0;
}

/* The peer a reservation's source names: the one at @source_url, else the
 * one called @source. */
static const MigdPeer *
identity_claimed(const MigdConf *conf, const char *source, const char *source_url)
{
    for (guint i = 0; source_url && i < conf->peers->len; i++) {
        const MigdPeer *peer = g_ptr_array_index(conf->peers, i);

        if (peer->migd_url && identity_same_url(peer->migd_url, source_url))
            return peer;
    }
    return source ? conf_find_peer(conf, source) : NULL;
}

static char *
identity_names(const TlsClient *cert)
{
    if (!cert->names || !cert->names[0])
        return g_strdup("no host name");
    return g_strjoinv(", ", cert->names);
}

/* Refuses, or not, @what (a phrase naming the request's claim). */
static gboolean
identity_judge(Api *api, const ApiRequest *req, const char *source, const char *source_url,
               const char *what, HttpResponse *resp)
{
    const TlsClient *cert = req->http->cert;
    const MigdPeer *claimed = identity_claimed(api->conf, source, source_url);
    const MigdPeer *holder = identity_holder(api->conf, cert);
    g_autofree char *names = identity_names(cert);

    if (claimed && claimed->cert_name && !tls_client_names(cert, claimed->cert_name)) {
        api_set_error(resp, MIGD_ERROR_FORBIDDEN,
                      "%s %s was refused: %s comes from peer '%s', whose certificate must name "
                      "%s ([peer.%s] cert_name), but the client certificate names %s; one "
                      "host's certificate cannot act for another host", req->http->method,
                      req->http->path, what, claimed->name, claimed->cert_name, claimed->name,
                      names);
        return FALSE;
    }
    /* A source on a wildcard tcp_listen sends no URL, and its host name
     * need not be a peer's: its certificate is all that says who it is. */
    if (!claimed && !source_url)
        return TRUE;
    if (holder && holder != claimed) {
        api_set_error(resp, MIGD_ERROR_FORBIDDEN,
                      "%s %s was refused: the client certificate is the one of peer '%s' "
                      "([peer.%s] cert_name = %s), but %s does not come from it; one host's "
                      "certificate cannot act for another host", req->http->method, req->http->path,
                      holder->name, holder->name, holder->cert_name, what);
        return FALSE;
    }
    return TRUE;
}

gboolean
api_identity_check(Api *api, ApiClaim claim, const ApiRequest *req, HttpResponse *resp)
{
    const TlsClient *cert = req->http->cert;
    g_autoptr(json_t) stored = NULL;
    g_autofree char *what = NULL;
    const char *source = NULL, *source_url = NULL;
    json_t *from;

    if (claim == API_CLAIM_NONE || !cert || cert->state != TLS_CLIENT_VERIFIED)
        return TRUE;
    if (claim == API_CLAIM_BODY) {
        from = req->json;
    } else {
        /* An unknown id is the handler's 404. */
        stored = api->incoming ? incoming_get(api->incoming, req->id, NULL) : NULL;
        from = stored;
    }
    if (!json_is_object(from))
        return TRUE;
    source = json_string_value(json_object_get(from, "source"));
    source_url = json_string_value(json_object_get(from, "source_url"));
    what = claim == API_CLAIM_BODY
               ? g_strdup_printf("the reservation request (source '%s', source_url %s)",
                                 source ? source : "", source_url ? source_url : "none")
               : g_strdup_printf("reservation %s (source '%s', source_url %s)", req->id,
                                 source ? source : "", source_url ? source_url : "none");
    return identity_judge(api, req, source, source_url, what, resp);
}
