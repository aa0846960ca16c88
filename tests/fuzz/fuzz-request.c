/* The body of POST /v1/migrations as the API takes it: parsed as api.c
 * parses every body, validated by request.c, and its destination resolved
 * by api-destination.c against peers and with URI destinations allowed. */
#include <config.h>

#include <string.h>

#include "api-priv.h"
#include "fuzz.h"
#include "jsonutil.h"
#include "request.h"

static const char conf_text[] =
    "[daemon]\ntcp_listen = 10.200.0.1:7480\n"
    "[migration]\nallow_uri_destinations = true\n"
    "[peer.A]\nlibvirt_uri = qemu+tcp://10.200.0.1/system\nmigd_url = http://10.200.0.1:7480\n"
    "[peer.B]\nlibvirt_uri = qemu+tcp://10.200.0.2/system\nmigd_url = http://10.200.0.2:7480/\n"
    "[peer.local]\nlibvirt_uri = qemu:///system\n";

static MigdConf *conf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) error = NULL;

    fuzz_init();
    conf = conf_load_data("fuzz.conf", conf_text, &error);
    g_assert_no_error(error);
    return 0;
}

/* A destination alone, as tests/data/request/destination/NAME.dest holds. */
static void
fuzz_destination(const char *destination)
{
    JobDestination dest = { NULL, NULL, NULL };
    g_autoptr(GError) error = NULL;

    if (api_destination_resolve(conf, destination, &dest, &error)) {
        g_assert_nonnull(dest.libvirt_uri);
        g_free(dest.name);
        g_free(dest.libvirt_uri);
        g_free(dest.migd_url);
    } else {
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
        g_assert_null(dest.name);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(json_t) body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    g_auto(MigrationRequest) req = { 0 };
    g_autoptr(GError) error = NULL;

    if (!body) {
        g_autofree char *text = fuzz_text(data, size);

        fuzz_destination(g_strchomp(text));
        return 0;
    }
    if (!migration_request_parse(body, &conf->policy, &req, &error)) {
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
        g_assert_null(req.domain);
        return 0;
    }
    g_assert_nonnull(req.domain);
    g_assert_nonnull(req.destination);
    fuzz_destination(req.destination);
    return 0;
}
