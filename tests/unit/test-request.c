/* Tests of the POST /v1/migrations body validation. Each
 * tests/data/request/NAME.json is parsed and what migd says of it must equal
 * NAME.out: the error, or a summary of the accepted request. Each
 * tests/data/request/destination/NAME.dest holds a destination, resolved
 * with and without [migration] allow_uri_destinations into NAME.out.
 * MIGD_TEST_REGENERATE=1 rewrites the .out files from what migd says now. */
#include <config.h>

#include <string.h>

#include "api-priv.h"
#include "error.h"
#include "request.h"
#include "testutil.h"

#define DATA_DIR SRCDIR "/data/request"

static char *
summarize(const MigrationRequest *r)
{
    g_autofree char *compression = g_strjoinv(",", r->options.compression);
    g_autoptr(GString) steps = g_string_new(NULL);

    for (guint i = 0; i < r->policy.n_downtime_steps; i++)
        g_string_append_printf(steps, "%s%u", i ? "," : "", r->policy.downtime_steps_ms[i]);
    return g_strdup_printf("OK domain=%s destination=%s strategy=%s bandwidth=%u parallel=%u "
                           "compression=%s postcopy=%d auto_converge=%d persistent=%d "
                           "undefine_source=%d max_downtime=%u steps=%s stall=%u "
                           "allow_auto_converge=%d allow_postcopy=%d per_gib=%u progress=%u\n",
                           r->domain, r->destination, r->strategy, r->options.bandwidth_mibps,
                           r->options.parallel_connections, compression, r->options.postcopy,
                           r->options.auto_converge, r->options.persistent,
                           r->options.undefine_source, r->policy.max_downtime_ms, steps->str,
                           r->policy.stall_iterations, r->policy.allow_auto_converge,
                           r->policy.allow_postcopy, r->policy.completion_timeout_per_gib_s,
                           r->policy.progress_timeout_s);
}

static void
test_request_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *json_path = g_strdup_printf("%s/%s.json", DATA_DIR, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out", DATA_DIR, name);
    g_autofree char *actual = NULL;
    g_auto(MigrationRequest) req = { 0 };
    g_autoptr(GError) error = NULL;
    PolicyConfig defaults;
    json_error_t jerr;
    json_t *body = json_load_file(json_path, 0, &jerr);

    g_assert_nonnull(body);
    policy_config_init_defaults(&defaults);
    if (migration_request_parse(body, &defaults, &req, &error)) {
        actual = summarize(&req);
    } else {
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
        g_assert_null(req.domain);
        actual = g_strdup_printf("%s\n", error->message);
    }
    json_decref(body);
    test_assert_golden(out_path, actual);
}

/* Host A (this one, on qemu:///system, listening on 10.200.0.1) with peers
 * A, B and local (a second name for this host's own libvirt). */
static const char destination_conf[] =
    "[daemon]\n"
    "tcp_listen = 10.200.0.1:7480\n"
    "[migration]\n"
    "allow_uri_destinations = %s\n"
    "[peer.A]\n"
    "libvirt_uri = qemu+tcp://10.200.0.1/system\n"
    "migd_url = http://10.200.0.1:7480\n"
    "[peer.B]\n"
    "libvirt_uri = qemu+tcp://10.200.0.2/system\n"
    "migd_url = http://10.200.0.2:7480/\n"
    "[peer.local]\n"
    "libvirt_uri = qemu:///system\n";

static char *
resolve_destination(const char *destination, gboolean allow_uris)
{
    g_autofree char *text = g_strdup_printf(destination_conf, allow_uris ? "true" : "false");
    g_autoptr(MigdConf) conf = conf_load_data("test.conf", text, NULL);
    JobDestination dest = { (char *)"untouched", NULL, NULL, NULL };
    g_autoptr(GError) error = NULL;
    char *said;

    g_assert_nonnull(conf);
    if (!api_destination_resolve(conf, destination, &dest, &error)) {
        g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
        g_assert_cmpstr(dest.name, ==, "untouched");
        return g_strdup(error->message);
    }
    said = g_strdup_printf("OK name=%s libvirt_uri=%s migd_url=%s", dest.name, dest.libvirt_uri,
                           dest.migd_url);
    g_free(dest.name);
    g_free(dest.libvirt_uri);
    g_free(dest.migd_url);
    return said;
}

static void
test_destination_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *dest_path = g_strdup_printf("%s/destination/%s.dest", DATA_DIR, name);
    g_autofree char *out_path = g_strdup_printf("%s/destination/%s.out", DATA_DIR, name);
    g_autofree char *destination = NULL;
    g_autofree char *allowed = NULL;
    g_autofree char *by_default = NULL;
    g_autofree char *actual = NULL;

    g_assert_true(g_file_get_contents(dest_path, &destination, NULL, NULL));
    g_strchomp(destination);
    allowed = resolve_destination(destination, TRUE);
    by_default = resolve_destination(destination, FALSE);
    actual = g_strdup_printf("allow_uri_destinations = true: %s\nby default: %s\n", allowed,
                             by_default);
    test_assert_golden(out_path, actual);
}

static void
test_host_uuid(void)
{
    g_autofree char *uuid = api_destination_host_uuid(
        "<capabilities><host><uuid>6d696764-6c61-4200-8000-00000000000a</uuid>"
        "<cpu><arch>x86_64</arch></cpu></host><guest/></capabilities>");
    g_autofree char *none = api_destination_host_uuid(
        "<capabilities><host><cpu><arch>i686</arch></cpu></host></capabilities>");
    g_autofree char *bad = api_destination_host_uuid("not XML at all");

    g_assert_cmpstr(uuid, ==, "6d696764-6c61-4200-8000-00000000000a");
    g_assert_null(none);
    g_assert_null(bad);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_golden(DATA_DIR, ".json", "/request", test_request_golden);
    test_add_golden(DATA_DIR "/destination", ".dest", "/destination", test_destination_golden);
    g_test_add_func("/destination/host-uuid", test_host_uuid);
    return g_test_run();
}
