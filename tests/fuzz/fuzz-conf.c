/* migd.conf as conf_load reads it: the text, then the listener address
 * split as main.c splits it. */
#include <config.h>

#include "conf.h"
#include "error.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_text(data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(MigdConf) conf = conf_load_data("fuzz.conf", text, &error);
    g_autofree char *host = NULL;
    guint16 port = 0;

    if (!conf) {
        g_assert_nonnull(error);
        g_assert_nonnull(error->message);
        return 0;
    }
    g_assert_no_error(error);
    if (conf->tcp_listen && !conf_parse_host_port(conf->tcp_listen, &host, &port, &error))
        g_error("the loader took tcp_listen = '%s', which the listener refuses: %s",
                conf->tcp_listen, error->message);
    for (guint i = 0; i < conf->peers->len; i++) {
        const MigdPeer *peer = g_ptr_array_index(conf->peers, i);

        g_assert_true(conf_find_peer(conf, peer->name) != NULL);
    }
    return 0;
}
