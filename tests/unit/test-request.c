/* Tests of the POST /v1/migrations body validation. Each
 * tests/data/request/NAME.json is parsed and what migd says of it must equal
 * NAME.out: the error, or a summary of the accepted request.
 * MIGD_TEST_REGENERATE=1 rewrites the .out files from what migd says now. */
#include <config.h>

#include <string.h>

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

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_golden(DATA_DIR, ".json", "/request", test_request_golden);
    return g_test_run();
}
