/* migd: the per-host daemon that live-migrates guests owning passthrough
 * NICs. This file starts it: options, configuration, sockets, libvirt, the
 * main loop, signals and a clean shutdown. */
#include <config.h>

#include <curl/curl.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "conf.h"
#include "failpoint.h"
#include "http.h"
#include "incoming.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "peer.h"
#include "plugin-loader.h"
#include "src-migrator.h"
#include "tls.h"
#include "virt.h"

typedef struct {
    GMainLoop *loop;
    char *config_path;
    MigdConf *conf;
    Virt *virt;
    Store *store;
    Migrator *migrator;
    Incoming *incoming;
    PluginSet *plugins;
    Engine *engine;
    gboolean jobs_loaded;
    Api *api;
    HttpServer *http;
    GPtrArray *listeners;
    gboolean ready;
    int exit_code;
} Migd;

static VirtOptions
migd_virt_options(const MigdConf *conf)
{
    VirtOptions options = {
        .keepalive_interval = conf->libvirt_keepalive_interval,
        .keepalive_count = conf->libvirt_keepalive_count,
        .reconnect_max = conf->libvirt_reconnect_max,
    };
    return options;
}

static void
migd_on_virt_state(Virt *virt, gboolean connected, gpointer data)
{
    Migd *migd = data;

    if (connected) {
        g_autoptr(GError) error = NULL;

        /* Jobs left by a previous migd are reconciled with libvirt, so
         * they are loaded once libvirt answers. */
        if (!migd->jobs_loaded) {
            migd->jobs_loaded = TRUE;
            if (!engine_load(migd->engine, &error))
                g_critical("Cannot load the migration records: %s", error->message);
        }
        notify_status("Serving the API; connected to %s.", virt_uri(virt));
        /* systemd should consider migd started only once it can migrate. */
        if (!migd->ready) {
            migd->ready = TRUE;
            notify_ready();
            g_message("migd %s is ready", PACKAGE_VERSION);
        }
    } else {
        notify_status("Serving the API; waiting for libvirt at %s: %s", virt_uri(virt),
                      virt_last_error(virt) ? virt_last_error(virt) : "connecting");
    }
}

static gboolean
migd_open_listeners(Migd *migd, GError **error)
{
    g_autoptr(Listener) tcp = NULL;

    migd->listeners = listen_from_systemd(error);
    if (!migd->listeners)
        return FALSE;
    if (migd->listeners->len > 0) {
        g_message("Using %u socket(s) passed by systemd; unix_socket and tcp_listen are not used",
                  migd->listeners->len);
        return TRUE;
    }
    if (migd->conf->unix_socket) {
        Listener *l = listen_unix(migd->conf->unix_socket, migd->conf->unix_socket_mode,
                                  migd->conf->unix_socket_group, error);

        if (!l)
            return FALSE;
        g_ptr_array_add(migd->listeners, l);
    }
    if (migd->conf->tcp_listen) {
        Listener *l = listen_tcp(migd->conf->tcp_listen, error);

        if (!l)
            return FALSE;
        g_ptr_array_add(migd->listeners, l);
    }
    if (migd->listeners->len == 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "%s sets neither unix_socket nor tcp_listen, so migd could not be reached",
                    migd->config_path);
        return FALSE;
    }
    return TRUE;
}

/* The TCP listener's certificate, key and CA that @conf names, in
 * @ret_creds (NULL without tls_cert); the peer client uses the same files. */
static gboolean
migd_load_tls(const MigdConf *conf, TlsCreds **ret_creds, GError **error)
{
    TlsCreds *creds = NULL;

    if (conf->tls_cert) {
        creds = tls_creds_load(conf->tls_cert, conf->tls_key, conf->tls_ca, error);
        if (!creds)
            return FALSE;
    }
    *ret_creds = creds;
    return TRUE;
}

static gboolean
migd_start_http(Migd *migd, GError **error)
{
    TlsCreds *creds = NULL;

    if (!migd_load_tls(migd->conf, &creds, error))
        return FALSE;
    migd->http = http_server_new(api_handle, migd->api);
    if (creds)
        http_server_set_tls(migd->http, creds);
    peer_set_tls(migd->conf->tls_ca, migd->conf->tls_cert, migd->conf->tls_key);
    http_server_set_gate(migd->http, api_gate);
    http_server_set_limits(migd->http, &(HttpLimits){ migd->conf->max_connections,
                                                      migd->conf->max_connections_per_address,
                                                      migd->conf->idle_timeout_s });
    for (guint i = 0; i < migd->listeners->len; i++) {
        Listener *l = g_ptr_array_index(migd->listeners, i);

        if (!http_server_add_listener(migd->http, l->fd, l->name, error))
            return FALSE;
        l->fd = -1;     /* libmicrohttpd closes it when it stops */
        g_message("Listening on %s", l->name);
    }
    return TRUE;
}

/* New handshakes use @creds (owned), and client certificates are checked
 * against its CA; whether the TCP listener speaks TLS at all, and asks for
 * client certificates, is fixed when it starts. */
static void
migd_reload_tls(Migd *migd, const MigdConf *fresh, TlsCreds *creds)
{
    gboolean had = http_server_has_tls(migd->http);

    if (had && creds) {
        http_server_set_tls(migd->http, creds);
        g_message("The TCP listener's certificate is reloaded; new connections get it");
        if (!migd->conf->tls_ca && fresh->tls_ca)
            g_warning("tls_ca was not set when migd started, so the TCP listener asks for no "
                      "client certificate until migd restarts");
        return;
    }
    if (had != (creds != NULL))
        g_warning("Turning TLS %s on the TCP listener takes effect when migd restarts",
                  creds ? "on" : "off");
    tls_creds_free(creds);
}

/* SIGHUP: a configuration that does not load is refused whole and the
 * running one kept, so a typo cannot take a working daemon down. */
static gboolean
migd_on_sighup(gpointer data)
{
    Migd *migd = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(MigdConf) fresh = NULL;
    TlsCreds *creds = NULL;
    VirtOptions options;

    notify_reloading();
    fresh = conf_load(migd->config_path, &error);
    if (!fresh || !migd_load_tls(fresh, &creds, &error)) {
        g_warning("Configuration reload refused, the running configuration is kept: %s",
                  error->message);
        notify_reload_done();
        return G_SOURCE_CONTINUE;
    }
    if (g_strcmp0(fresh->unix_socket, migd->conf->unix_socket) != 0 ||
        g_strcmp0(fresh->tcp_listen, migd->conf->tcp_listen) != 0 ||
        fresh->unix_socket_mode != migd->conf->unix_socket_mode ||
        g_strcmp0(fresh->unix_socket_group, migd->conf->unix_socket_group) != 0)
        g_warning("unix_socket, unix_socket_mode, unix_socket_group and tcp_listen changes "
                  "take effect when migd restarts; the sockets stay as they are");
    if (g_strcmp0(fresh->state_dir, migd->conf->state_dir) != 0)
        g_warning("state_dir changes take effect when migd restarts");
    migd_reload_tls(migd, fresh, creds);
    peer_set_tls(fresh->tls_ca, fresh->tls_cert, fresh->tls_key);
    log_set_level(fresh->log_level);
    options = migd_virt_options(fresh);
    virt_reconfigure(migd->virt, fresh->libvirt_uri, &options);
    migrator_set_conf(migd->migrator, fresh);
    engine_set_limits(migd->engine, &(EngineLimits){ fresh->max_outgoing, fresh->retention_hours });
    api_set_conf(migd->api, fresh);
    incoming_set_conf(migd->incoming, fresh);
    conf_free(migd->conf);
    migd->conf = g_steal_pointer(&fresh);
    g_message("Configuration reloaded from %s", migd->config_path);
    notify_reload_done();
    return G_SOURCE_CONTINUE;
}

static gboolean
migd_on_terminate(gpointer data)
{
    Migd *migd = data;

    g_message("Shutting down on a signal");
    notify_stopping();
    g_main_loop_quit(migd->loop);
    return G_SOURCE_CONTINUE;
}

static void
migd_cleanup(Migd *migd)
{
    notify_watchdog_stop();
    /* Streams watch the engine, and the engine's work calls libvirt. */
    g_clear_pointer(&migd->http, http_server_free);
    g_clear_pointer(&migd->listeners, g_ptr_array_unref);
    g_clear_pointer(&migd->api, api_free);
    g_clear_pointer(&migd->plugins, plugin_set_free);
    g_clear_pointer(&migd->engine, engine_free);
    g_clear_pointer(&migd->incoming, incoming_free);
    g_clear_pointer(&migd->migrator, migrator_free);
    g_clear_pointer(&migd->store, store_free);
    g_clear_pointer(&migd->virt, virt_free);
    g_clear_pointer(&migd->conf, conf_free);
    g_clear_pointer(&migd->loop, g_main_loop_unref);
    g_free(migd->config_path);
}

static int
migd_run(Migd *migd)
{
    g_autoptr(GError) error = NULL;
    VirtOptions options = migd_virt_options(migd->conf);
    guint watchdog_ms;

    migd->loop = g_main_loop_new(NULL, FALSE);
    virt_global_init();
    migd->virt = virt_new(migd->conf->libvirt_uri, &options, migd_on_virt_state, migd);
    migd->store = store_open(migd->conf->state_dir, &error);
    if (!migd->store) {
        g_critical("Cannot start: %s", error->message);
        return EXIT_FAILURE;
    }
    migd->incoming = incoming_new(migd->virt, migd->conf, &error);
    if (!migd->incoming) {
        g_critical("Cannot start: %s", error->message);
        return EXIT_FAILURE;
    }
    migd->migrator = migrator_new(migd->virt, migd->conf);
    migd->engine = engine_new(migd->store, migrator_ops(), migd->migrator,
                              &(EngineLimits){ migd->conf->max_outgoing,
                                               migd->conf->retention_hours });
    migrator_set_engine(migd->migrator, migd->engine);
    migrator_set_plugins(migd->migrator, migd->plugins);
    incoming_set_plugins(migd->incoming, migd->plugins);
    migd->api = api_new(migd->virt, migd->engine, migd->conf);
    api_set_incoming(migd->api, migd->incoming);
    api_set_plugins(migd->api, migd->plugins);
    if (!migd_open_listeners(migd, &error) || !migd_start_http(migd, &error)) {
        g_critical("Cannot start: %s", error->message);
        return EXIT_FAILURE;
    }
    (void)g_unix_signal_add(SIGTERM, migd_on_terminate, migd);
    (void)g_unix_signal_add(SIGINT, migd_on_terminate, migd);
    (void)g_unix_signal_add(SIGHUP, migd_on_sighup, migd);
    watchdog_ms = notify_watchdog_start();
    if (watchdog_ms)
        g_debug("Petting the systemd watchdog every %u ms", watchdog_ms);
    notify_status("Serving the API; connecting to %s.", migd->conf->libvirt_uri);
    virt_start(migd->virt);
    g_main_loop_run(migd->loop);
    return EXIT_SUCCESS;
}

int
main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean check_only = FALSE, show_version = FALSE, list_failpoints = FALSE;
    gboolean dump_conf_keys = FALSE;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
          "Read the configuration from PATH (default " CONF_DEFAULT_PATH ")", "PATH" },
        { "check-config", 'n', 0, G_OPTION_ARG_NONE, &check_only,
          "Check the configuration, print \"configuration OK\" or the problem, and exit", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &show_version, "Print the version and exit",
          NULL },
        { "list-failpoints", 0, 0, G_OPTION_ARG_NONE, &list_failpoints,
          "Print the failpoints MIGD_FAILPOINTS may arm (for fault tests) and exit", NULL },
        /* For the test that holds migd.conf(5) to the table of keys. */
        { "dump-conf-keys", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &dump_conf_keys,
          "Print every configuration key with its default and range, and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_autoptr(GError) error = NULL;
    Migd migd = { 0 };
    int rc;

    setlocale(LC_ALL, "");
    /* A write to a socket whose peer has gone (libvirtd closes a connection
     * that missed its keepalives while migd was stopped) must fail with
     * EPIPE, for libvirt to report the connection closed, instead of killing
     * migd without a word. */
    (void)signal(SIGPIPE, SIG_IGN);
    (void)curl_global_init(CURL_GLOBAL_DEFAULT);
    g_option_context_set_summary(context, "Live-migrates libvirt guests that own passthrough "
                                          "NICs; driven by its REST API and migctl.");
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        fprintf(stderr, "migd: %s; see migd --help\n", error->message);
        return 2;
    }
    if (show_version) {
        printf("migd %s\n", PACKAGE_VERSION);
        return EXIT_SUCCESS;
    }
    if (list_failpoints) {
        for (const char *const *name = failpoint_names(); *name; name++)
            printf("%s\n", *name);
        return EXIT_SUCCESS;
    }
    if (dump_conf_keys) {
        g_autofree char *keys = conf_describe_keys();

        fputs(keys, stdout);
        return EXIT_SUCCESS;
    }
    if (!failpoint_init(&error)) {
        fprintf(stderr, "migd: %s\n", error->message);
        return EXIT_FAILURE;
    }
    migd.config_path = g_strdup(config_path ? config_path : CONF_DEFAULT_PATH);
    migd.conf = conf_load(migd.config_path, &error);
    if (!migd.conf) {
        fprintf(stderr, "migd: %s\n", error->message);
        g_free(migd.config_path);
        return EXIT_FAILURE;
    }
    /* Plugins load once, at start (a reload keeps them): a file that is
     * refused says why on stderr, with -n too, and migd goes on. */
    log_init(migd.conf->log_level);
    if (check_only) {
        g_autoptr(TlsCreds) creds = NULL;

        if (!migd_load_tls(migd.conf, &creds, &error)) {
            fprintf(stderr, "migd: %s\n", error->message);
            migd_cleanup(&migd);
            return EXIT_FAILURE;
        }
        migd.plugins = plugin_set_load(migd.conf->plugin_dir, migd.conf->plugin_settings);
        printf("configuration OK\n");
        migd_cleanup(&migd);
        return EXIT_SUCCESS;
    }
    migd.plugins = plugin_set_load(migd.conf->plugin_dir, migd.conf->plugin_settings);
    rc = migd_run(&migd);
    migd_cleanup(&migd);
    return rc;
}
