/* What migd counts for GET /metrics (Prometheus text format): the counters
 * and histograms that events move (migrations, peer requests, plugin
 * calls), kept for the life of the process. Gauges of the current state
 * (jobs by state, VFs, reservations, libvirt) are read at each scrape by
 * api-metrics.c and written with metrics_write_gauge(). Callable from any
 * thread. */
#pragma once

#include <glib.h>

/* A job left the queue for its checks; @strategy is the one asked for. */
void metrics_migration_started(const char *strategy);

/* A job ended: @result is completed, failed or cancelled; @strategy the
 * one the checks chose (none when they did not run). Each figure is in
 * milliseconds, negative when unknown (then not observed). */
void metrics_migration_finished(const char *result, const char *strategy, gint64 duration_ms,
                                gint64 downtime_ms, gint64 no_vf_window_ms, gint64 paused_ms);

/* A call to a peer migd at @peer (its base URL) ended with HTTP @status
 * (0: no answer). */
void metrics_peer_request(const char *peer, guint status);

/* A plugin callback ended: @result is ok, error or timeout. */
void metrics_plugin_call(const char *plugin, const char *call, const char *result);

/* Appends every counter and histogram, with its HELP and TYPE lines. */
void metrics_write_counters(GString *out);

/* Appends one gauge sample; @labels is NULL or a NULL-terminated list of
 * name, value pairs. HELP and TYPE come with the first sample of @name
 * (@help NULL on the next ones). */
void metrics_write_gauge(GString *out, const char *name, const char *help,
                         const char *const *labels, double value);

/* Forgets everything counted (unit tests). */
void metrics_reset(void);
