/* migctl's global options: where migd is, how long to wait for it, and how to
 * print its answers. Parsing is pure (the environment is passed in) so the
 * unit tests can cover every spelling. */
#pragma once

#include <glib.h>

#define CTL_DEFAULT_SOCKET "/run/migd/migd.sock"
#define CTL_DEFAULT_TIMEOUT_SECONDS 30
#define CTL_MAX_TIMEOUT_SECONDS 86400

typedef enum {
    CTL_OUTPUT_TEXT,            /* for people */
    CTL_OUTPUT_JSON,            /* migd's JSON, for scripts */
    CTL_OUTPUT_LAST
} CtlOutput;

typedef enum {
    CTL_TARGET_SOCKET,          /* a local unix socket */
    CTL_TARGET_URL,             /* http:// or https:// over TCP */
    CTL_TARGET_LAST
} CtlTargetKind;

typedef struct {
    CtlTargetKind kind;
    char *address;              /* socket path, or base URL without final '/' */
    const char *origin;         /* "--socket", "MIGCTL_URL", "default", ... */
    /* For https://: the CA that signs migd's certificate (NULL: the
     * system's CAs), and the client certificate and key migctl presents
     * (NULL: none). PEM files. */
    char *cacert;
    char *cert;
    char *key;
} CtlTarget;

typedef struct {
    const char *socket_path;    /* --socket, borrowed from argv, or NULL */
    const char *url;            /* --url, borrowed from argv, or NULL */
    const char *cacert;         /* --cacert, --cert, --key: borrowed, or NULL */
    const char *cert;
    const char *key;
    guint timeout_seconds;
    CtlOutput output;
    gboolean help;
    gboolean version;
    /* The command and its arguments, without the global options given after
     * it; the strings are borrowed from argv. argc 0 if none. */
    int command_argc;
    char **command_argv;
    GPtrArray *command_args;    /* owns command_argv's array */
} CtlOptions;

/* Parse the global options, before or after the command (as kubectl and git
 * take them); what remains after the command is the command's. Fails with
 * CTL_ERROR_USAGE. */
CtlOptions *ctl_options_parse(int argc, char **argv, GError **error);

void ctl_options_free(CtlOptions *options);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlOptions, ctl_options_free)

/* Where migd is: --socket or --url, else $MIGCTL_URL or $MIGCTL_SOCKET
 * (@env_url, @env_socket: NULL or "" when unset), else the default socket.
 * Separate from parsing so that --help works whatever the environment says.
 * Fails with CTL_ERROR_USAGE. */
CtlTarget *ctl_target_resolve(const CtlOptions *options,
                              const char *env_url, const char *env_socket,
                              GError **error);

/* The TLS files of @target: --cacert, --cert and --key, else $MIGCTL_CACERT,
 * $MIGCTL_CERT and $MIGCTL_KEY (NULL or "" when unset). A certificate and
 * its key go together: one without the other fails with CTL_ERROR_USAGE. */
gboolean ctl_target_resolve_tls(CtlTarget *target, const CtlOptions *options,
                                const char *env_cacert, const char *env_cert,
                                const char *env_key, GError **error);

void ctl_target_free(CtlTarget *target);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtlTarget, ctl_target_free)

/* The "Options" section of --help, one aligned line per option. */
void ctl_options_append_help(GString *out);

const char *ctl_output_to_string(CtlOutput output);

/* Fails without touching @ret_output for a name that is not an output. */
gboolean ctl_output_from_string(const char *name, CtlOutput *ret_output);
