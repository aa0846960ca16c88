/* The counters and histograms of GET /metrics, and the text they are
 * written as (Prometheus' exposition format; promtool checks the whole
 * page in tests/api/test-metrics.sh). */
#include <config.h>

#include <string.h>

#include "metrics.h"

static char *
page(void)
{
    GString *out = g_string_new(NULL);

    metrics_write_counters(out);
    return g_string_free(out, FALSE);
}

static void
assert_line(const char *text, const char *line)
{
    g_autofree char *needle = g_strdup_printf("\n%s\n", line);
    g_autofree char *framed = g_strdup_printf("\n%s", text);

    if (!strstr(framed, needle))
        g_error("no line '%s' in:\n%s", line, text);
}

static void
test_empty(void)
{
    g_autofree char *text = NULL;

    metrics_reset();
    text = page();
    assert_line(text, "# TYPE migd_migrations_finished_total counter");
    assert_line(text, "# TYPE migd_migration_no_vf_window_seconds histogram");
    g_assert_null(strstr(text, "migd_migrations_finished_total{"));
}

static void
test_finished(void)
{
    g_autofree char *text = NULL;

    metrics_reset();
    metrics_migration_started("auto");
    metrics_migration_finished("completed", "unplug", 12000, 40, 3200, -1);
    metrics_migration_finished("completed", "unplug", 8000, 120, 900, -1);
    metrics_migration_finished("failed", NULL, 500, -1, -1, -1);
    text = page();
    assert_line(text, "migd_migrations_started_total{strategy=\"auto\"} 1");
    assert_line(text, "migd_migrations_finished_total{result=\"completed\",strategy=\"unplug\"} 2");
    assert_line(text, "migd_migrations_finished_total{result=\"failed\",strategy=\"none\"} 1");
    /* Cumulative buckets, in seconds; unknown figures are not observed. */
    assert_line(text, "migd_migration_downtime_seconds_bucket{le=\"0.025\"} 0");
    assert_line(text, "migd_migration_downtime_seconds_bucket{le=\"0.05\"} 1");
    assert_line(text, "migd_migration_downtime_seconds_bucket{le=\"0.25\"} 2");
    assert_line(text, "migd_migration_downtime_seconds_bucket{le=\"+Inf\"} 2");
    assert_line(text, "migd_migration_downtime_seconds_count 2");
    assert_line(text, "migd_migration_downtime_seconds_sum 0.16");
    assert_line(text, "migd_migration_no_vf_window_seconds_bucket{le=\"1\"} 1");
    assert_line(text, "migd_migration_no_vf_window_seconds_bucket{le=\"5\"} 2");
    assert_line(text, "migd_migration_duration_seconds_bucket{result=\"failed\",le=\"1\"} 1");
    assert_line(text, "migd_migration_duration_seconds_count{result=\"completed\"} 2");
    assert_line(text, "migd_migration_paused_seconds_count 0");
}

static void
test_peers_and_plugins(void)
{
    g_autofree char *text = NULL;

    metrics_reset();
    metrics_peer_request("http://10.200.0.2:7480", 201);
    metrics_peer_request("http://10.200.0.2:7480", 201);
    metrics_peer_request("http://10.200.0.2:7480", 0);
    metrics_plugin_call("lab-tap", "save_state", "ok");
    metrics_plugin_call("lab-tap", "check_state", "timeout");
    text = page();
    assert_line(text, "migd_peer_requests_total{peer=\"http://10.200.0.2:7480\",status=\"201\"} 2");
    assert_line(text, "migd_peer_requests_total{peer=\"http://10.200.0.2:7480\",status=\"0\"} 1");
    assert_line(text, "migd_plugin_calls_total{plugin=\"lab-tap\",call=\"check_state\","
                      "result=\"timeout\"} 1");
}

/* A label value from a peer or a plugin cannot break the page. */
static void
test_escaping(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    metrics_write_gauge(out, "migd_x", "A gauge.",
                        (const char *const[]){ "pool", "a\"b\\c\nd", NULL }, 3);
    g_assert_cmpstr(out->str, ==, "# HELP migd_x A gauge.\n# TYPE migd_x gauge\n"
                                  "migd_x{pool=\"a\\\"b\\\\c\\nd\"} 3\n");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/metrics/empty", test_empty);
    g_test_add_func("/metrics/finished", test_finished);
    g_test_add_func("/metrics/peers-and-plugins", test_peers_and_plugins);
    g_test_add_func("/metrics/escaping", test_escaping);
    return g_test_run();
}
