/* Where POST /v1/migrations may send a guest. migd opens the destination's
 * libvirt itself, as root, and some libvirt URIs run a command (ext, ssh's
 * netcat=), open a local socket or file (socket=, keyfile=, test:///FILE) or
 * turn off TLS checks (no_verify=): so a destination is a [peer.NAME] of
 * migd.conf, or, only when [migration] allow_uri_destinations is on, a URI of
 * another host's libvirtd that is taken apart and rebuilt from parts that
 * can do none of that. */
#include <config.h>

#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "api-priv.h"

/* The remote driver's transports to another host's libvirtd that need no
 * parameter: TCP (SASL), TLS (certificates checked) and the ssh binary. */
static const char *const uri_schemes[] = { "qemu+tcp", "qemu+tls", "qemu+ssh", NULL };

#define HOST_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-"
#define IPV6_CHARS "0123456789abcdefABCDEF:."
#define USER_CHARS HOST_CHARS "_"

static gboolean
api_destination_refuse(GError **error, const char *destination, const char *why)
{
    g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                "destination '%s' is refused: %s; name the host in a [peer.NAME] of migd.conf "
                "and ask for it by NAME", destination, why);
    return FALSE;
}

/* Whether @s is made of @chars only and starts with a letter or digit: no
 * percent-escape, no '-' that ssh would read as an option. */
static gboolean
api_destination_word(const char *s, const char *chars)
{
    return s && g_ascii_isalnum(s[0]) && strspn(s, chars) == strlen(s);
}

static gboolean
api_destination_host_ok(const char *host)
{
    if (host && strchr(host, ':'))
        return strspn(host, IPV6_CHARS) == strlen(host);
    return api_destination_word(host, HOST_CHARS);
}

/* Names this host without asking anyone: a loopback name or address, or
 * the address this migd listens on. */
static gboolean
api_destination_host_is_loopback(const MigdConf *conf, const char *host)
{
    g_autofree char *listen_host = NULL;
    guint16 port;

    if (g_ascii_strcasecmp(host, "localhost") == 0 || g_str_has_prefix(host, "127.") ||
        strcmp(host, "::1") == 0)
        return TRUE;
    return conf->tcp_listen &&
           conf_parse_host_port(conf->tcp_listen, &listen_host, &port, NULL) &&
           g_ascii_strcasecmp(host, listen_host) == 0;
}

/* The first parameter of @query, for the message. */
static char *
api_destination_first_param(const char *query)
{
    g_autofree char *first = g_strndup(query, strcspn(query, "&;"));

    first[strcspn(first, "=")] = '\0';
    return g_uri_unescape_string(first, NULL);
}

/* Checks @uri part by part and returns it rebuilt from those parts only, so
 * that libvirt's URI parser sees nothing this one did not. */
static char *
api_destination_check_uri(const MigdConf *conf, const char *uri, GError **error)
{
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
    const char *userinfo, *host, *query;

    if (!parsed) {
        api_destination_refuse(error, uri, "it is not a valid URI");
        return NULL;
    }
    if (!g_strv_contains(uri_schemes, g_uri_get_scheme(parsed))) {
        api_destination_refuse(error, uri,
                               "migd opens only qemu+tcp, qemu+tls and qemu+ssh URIs of another "
                               "host's libvirt");
        return NULL;
    }
    query = g_uri_get_query(parsed);
    if (query) {
        g_autofree char *param = api_destination_first_param(query);
        g_autofree char *why = g_strdup_printf(
            "it carries %s%s%s, and migd passes no parameter to libvirt (they can run "
            "commands, open files or sockets on this host, or turn off certificate checks)",
            param[0] ? "the parameter '" : "a query ('?')", param, param[0] ? "'" : "");

        api_destination_refuse(error, uri, why);
        return NULL;
    }
    userinfo = g_uri_get_userinfo(parsed);
    host = g_uri_get_host(parsed);
    if (g_uri_get_fragment(parsed) || (userinfo && !api_destination_word(userinfo, USER_CHARS)) ||
        !api_destination_host_ok(host) || g_strcmp0(g_uri_get_path(parsed), "/system") != 0) {
        api_destination_refuse(error, uri,
                               "migd accepts only TRANSPORT://[USER@]HOST[:PORT]/system with a "
                               "plain host name or address and a user name without password");
        return NULL;
    }
    if (api_destination_host_is_loopback(conf, host)) {
        api_destination_refuse(error, uri, "it names this host, and a guest is migrated to "
                                           "another one");
        return NULL;
    }
    return g_uri_join(G_URI_FLAGS_NONE, g_uri_get_scheme(parsed), userinfo, host,
                      g_uri_get_port(parsed), "/system", NULL, NULL);
}

/* Whether @peer's migd_url is this migd's own address ([daemon] tcp_listen). */
static gboolean
api_destination_peer_is_self(const MigdConf *conf, const MigdPeer *peer)
{
    g_autoptr(GUri) url = peer->migd_url ? g_uri_parse(peer->migd_url, G_URI_FLAGS_NONE, NULL)
                                         : NULL;
    g_autofree char *listen_host = NULL;
    guint16 listen_port;
    int port;

    if (!url || !conf->tcp_listen ||
        !conf_parse_host_port(conf->tcp_listen, &listen_host, &listen_port, NULL))
        return FALSE;
    port = g_uri_get_port(url);
    if (port < 0)
        port = strcmp(g_uri_get_scheme(url), "https") == 0 ? 443 : 80;
    return port == listen_port && g_ascii_strcasecmp(g_uri_get_host(url), listen_host) == 0;
}

static char *
api_destination_peer_names(const MigdConf *conf)
{
    g_autoptr(GString) known = g_string_new(NULL);

    for (guint i = 0; i < conf->peers->len; i++)
        g_string_append_printf(known, "%s%s", known->len ? ", " : "",
                               ((MigdPeer *)g_ptr_array_index(conf->peers, i))->name);
    return known->len ? g_string_free(g_steal_pointer(&known), FALSE) : g_strdup("none");
}

gboolean
api_destination_resolve(const MigdConf *conf, const char *destination, JobDestination *ret,
                        GError **error)
{
    const MigdPeer *peer = conf_find_peer(conf, destination);
    g_autofree char *known = NULL;
    char *uri;

    if (peer && api_destination_peer_is_self(conf, peer)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "destination '%s' is this host: [peer.%s] migd_url %s is this migd's own "
                    "address (tcp_listen = %s); migrate the guest to another host",
                    destination, destination, peer->migd_url, conf->tcp_listen);
        return FALSE;
    }
    if (peer && g_strcmp0(peer->libvirt_uri, conf->libvirt_uri) == 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "destination '%s' is this host: [peer.%s] libvirt_uri %s is the libvirt "
                    "this migd manages ([daemon] libvirt_uri); migrate the guest to another host",
                    destination, destination, peer->libvirt_uri);
        return FALSE;
    }
    if (peer) {
        ret->name = g_strdup(peer->name);
        ret->libvirt_uri = g_strdup(peer->libvirt_uri);
        ret->migd_url = g_strdup(peer->migd_url);
        return TRUE;
    }
    known = api_destination_peer_names(conf);
    if (!strstr(destination, ":/") || !conf->allow_uri_destinations) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "destination '%s' is not a peer of migd.conf ([peer.NAME]); known peers: "
                    "%s%s", destination, known,
                    conf->allow_uri_destinations ? ", or a qemu+tcp, qemu+tls or qemu+ssh URI"
                    : " (a libvirt URI is accepted only with [migration] "
                      "allow_uri_destinations = true)");
        return FALSE;
    }
    uri = api_destination_check_uri(conf, destination, error);
    if (!uri)
        return FALSE;
    ret->name = NULL;
    ret->libvirt_uri = uri;
    ret->migd_url = NULL;
    return TRUE;
}

char *
api_destination_host_uuid(const char *capabilities)
{
    xmlDoc *doc = xmlReadMemory(capabilities, (int)strlen(capabilities), "capabilities.xml",
                                NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlXPathContext *ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObject *obj = ctx ? xmlXPathEvalExpression(
        (const xmlChar *)"string(/capabilities/host/uuid)", ctx) : NULL;
    char *uuid = NULL;

    if (obj && obj->stringval && obj->stringval[0])
        uuid = g_strstrip(g_strdup((const char *)obj->stringval));
    if (uuid && !uuid[0])
        g_clear_pointer(&uuid, g_free);
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return uuid;
}

GPtrArray *
api_destination_peers(const MigdConf *conf, const char *const *names, GError **error)
{
    g_autoptr(GPtrArray) peers = g_ptr_array_new();

    for (guint i = 0; names && names[i]; i++) {
        JobDestination dest = { 0 };

        if (!conf_find_peer(conf, names[i])) {
            g_autofree char *known = api_destination_peer_names(conf);

            g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                        "'%s' is not a peer of migd.conf ([peer.NAME]); known peers: %s",
                        names[i], known);
            return NULL;
        }
        if (!api_destination_resolve(conf, names[i], &dest, error))
            return NULL;
        g_free(dest.name);
        g_free(dest.libvirt_uri);
        g_free(dest.migd_url);
        if (!g_ptr_array_find(peers, conf_find_peer(conf, names[i]), NULL))
            g_ptr_array_add(peers, (gpointer)conf_find_peer(conf, names[i]));
    }
    if (names && names[0])
        return g_steal_pointer(&peers);
    /* Every peer that is another host. */
    for (guint i = 0; i < conf->peers->len; i++) {
        const MigdPeer *peer = g_ptr_array_index(conf->peers, i);

        if (!api_destination_peer_is_self(conf, peer) &&
            g_strcmp0(peer->libvirt_uri, conf->libvirt_uri) != 0)
            g_ptr_array_add(peers, (gpointer)peer);
    }
    return g_steal_pointer(&peers);
}
