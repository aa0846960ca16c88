/* The source's checks before anything is touched: the guest runs here, the
 * destination's libvirt answers and has no such guest running, the NICs can
 * be handled, and (with a bandwidth cap) the guest can converge. libvirt is
 * asked in a worker; the verdict is the loop's. */
#include <config.h>

#include <libvirt/virterror.h>

#include "src-migrator-priv.h"

/* Measures how fast the guest dirties its memory (QEMU samples pages for
 * @seconds). libvirt reports the result only through domain stats, so the
 * worker asks until it is measured. */
static gboolean
measure_dirty_rate(SrcWork *w, int seconds)
{
    gint64 deadline = g_get_monotonic_time() + (seconds + 3) * G_USEC_PER_SEC;
    g_autoptr(GError) error = NULL;
    gboolean measured = FALSE;

    if (!w->ops->start_dirty_rate(w->src, w->domain, seconds, &error)) {
        w->dirty_error = g_strdup(error->message);
        return FALSE;
    }
    g_usleep(seconds * G_USEC_PER_SEC);
    while (!measured && g_get_monotonic_time() < deadline) {
        if (!w->ops->get_dirty_rate(w->src, w->domain, &measured, &w->dirty_mibps, &error)) {
            w->dirty_error = g_strdup(error->message);
            return FALSE;
        }
        if (!measured)
            g_usleep(100 * 1000);
    }
    if (!measured) {
        w->dirty_mibps = -1;
        w->dirty_error = g_strdup("QEMU did not finish measuring in time");
    }
    return measured;
}

/* The guest here: it runs, and how much memory it has. */
static gboolean
check_source(SrcWork *w)
{
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info;

    if (!migrator_work_info(w, &info))
        return FALSE;
    if (info.state != VIR_DOMAIN_RUNNING) {
        w->error = g_strdup_printf("domain '%s' is not running on this host", w->domain);
        return FALSE;
    }
    w->guest_memory = info.max_memory_kib * 1024;
    if (!nic_steps_read_xml(w->src, w->domain, &w->live_xml, &w->migratable_xml, &error)) {
        w->error = g_strdup_printf("cannot read %s's devices: %s", w->domain, error->message);
        return FALSE;
    }
    return TRUE;
}

/* The destination: its libvirt answers, and the guest does not run there. */
static gboolean
check_destination(SrcWork *w)
{
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info;

    w->dest = w->ops->open(w->ops, w->dest_uri, &error);
    if (!w->dest) {
        w->error = g_strdup_printf("cannot reach the destination's libvirt at %s: %s",
                                   w->dest_uri, error->message);
        return FALSE;
    }
    w->dest_running = w->ops->get_info(w->dest, w->domain, &info, NULL) &&
                      info.state != VIR_DOMAIN_SHUTOFF;
    if (w->dest_running)
        w->error = g_strdup_printf("domain '%s' already runs on the destination %s", w->domain,
                                   w->dest_uri);
    return !w->dest_running;
}

static void
checks_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;

    /* Measuring takes a second, so only when a bandwidth cap makes a
     * prediction possible. */
    w->dirty_mibps = -1;
    if (w->bandwidth_mibps > 0 && w->src)
        (void)measure_dirty_rate(w, 1);
    w->ok = check_destination(w) && check_source(w);
}

/* Whether the guest can converge within the job's policy, from the dirty
 * rate measured against the bandwidth cap; refuses with the figures. */
static gboolean
predict(const Job *job, SrcWork *w, gboolean postcopy_forbidden, char **ret_refusal,
        char **ret_note)
{
    g_autofree char *reason = NULL;
    PolicyConfig effective;

    if (w->dirty_mibps < 0) {
        *ret_note = w->bandwidth_mibps > 0
                        ? g_strdup_printf("its dirty rate could not be measured (%s), so "
                                          "convergence is not predicted", w->dirty_error)
                        : g_strdup("convergence is predicted only with a bandwidth cap");
        return TRUE;
    }
    effective = job->policy;
    effective.allow_auto_converge &= job->options.auto_converge;
    if (policy_predict(&effective, (guint64)w->dirty_mibps << 20,
                       (guint64)w->bandwidth_mibps << 20, postcopy_forbidden, &reason)) {
        *ret_note = g_strdup_printf("it dirties %" G_GINT64_FORMAT " MiB/s: %s", w->dirty_mibps,
                                    reason ? reason : "it can converge");
        return TRUE;
    }
    *ret_refusal = g_strdup_printf("%s cannot converge within the policy, so nothing was "
                                   "started: %s", w->domain, reason);
    return FALSE;
}

static void
checks_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SrcWork *w = migrator_work_finished(result);
    SrcRun *run;
    JobEvent ev;
    g_autofree char *reason = NULL;
    g_autofree char *message = NULL;
    g_autofree char *prediction = NULL;
    g_autofree char *nic_summary = NULL;
    g_autoptr(json_t) nics = NULL;
    gboolean postcopy_forbidden = FALSE;
    Job *job;

    if (!w)
        return;
    run = w->run;
    job = engine_lookup(run->m->engine, run->id);
    if (!w->ok || !job) {
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, w->error, NULL);
        return;
    }
    if (!nic_steps_classify_xml(run->nics, run->m->conf, w->live_xml, w->migratable_xml, job,
                                &postcopy_forbidden, &reason, &nic_summary) ||
        !predict(job, w, postcopy_forbidden, &reason, &prediction)) {
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    run->dest = g_steal_pointer(&w->dest);
    message = g_strdup_printf("%s runs here with %" G_GUINT64_FORMAT " MiB of memory; the "
                              "destination's libvirt answers at %s; %s; %s", w->domain,
                              w->guest_memory >> 20, run->dest_uri, prediction,
                              nic_summary ? nic_summary : "");
    nics = nic_steps_to_json(run->nics);
    engine_event_init(&ev, JOB_EV_CHECKS_PASSED);
    ev.guest_memory = w->guest_memory;
    ev.postcopy_forbidden = postcopy_forbidden;
    ev.message = message;
    ev.nics = nics;
    engine_feed(run->m->engine, run->id, &ev);
}

void
src_checks_run(gpointer migrator, Job *job)
{
    SrcRun *run = migrator_run(migrator, job);
    SrcWork *w = migrator_work_new(run);

    w->bandwidth_mibps = job->options.bandwidth_mibps;
    migrator_work_start(run, w, checks_thread, checks_done);
}
