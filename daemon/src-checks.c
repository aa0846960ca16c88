/* The source's checks before anything is touched: the guest runs here, the
 * destination's libvirt answers and has no such guest running, the NICs can
 * be handled, and (with a bandwidth cap) the guest can converge. */
#include <config.h>

#include <libvirt/virterror.h>

#include "src-migrator-priv.h"

/* Measures how fast the guest dirties its memory (QEMU samples pages for
 * @seconds). libvirt reports the result only through domain stats, so the
 * worker asks until it is measured. */
static gboolean
measure_dirty_rate(SrcWork *w, int seconds)
{
    virDomainPtr dom = virDomainLookupByName(w->src, w->domain);
    virDomainPtr doms[] = { dom, NULL };
    gint64 deadline = g_get_monotonic_time() + (seconds + 3) * G_USEC_PER_SEC;
    gboolean measured = FALSE;

    if (!dom || virDomainStartDirtyRateCalc(dom, seconds, 0) < 0) {
        w->dirty_error = g_strdup(virGetLastErrorMessage());
        if (dom)
            (void)virDomainFree(dom);
        return FALSE;
    }
    g_usleep(seconds * G_USEC_PER_SEC);
    while (!measured && g_get_monotonic_time() < deadline) {
        virDomainStatsRecordPtr *records = NULL;
        int status = 0;
        long long mibps = 0;

        if (virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &records, 0) == 1 &&
            virTypedParamsGetInt(records[0]->params, records[0]->nparams,
                                 "dirtyrate.calc_status", &status) == 1 && status == 2 &&
            virTypedParamsGetLLong(records[0]->params, records[0]->nparams,
                                   "dirtyrate.megabytes_per_second", &mibps) == 1) {
            w->dirty_mibps = mibps;
            measured = TRUE;
        }
        virDomainStatsRecordListFree(records);
        if (!measured)
            g_usleep(100 * 1000);
    }
    if (!measured && !w->dirty_error)
        w->dirty_error = g_strdup("QEMU did not finish measuring in time");
    (void)virDomainFree(dom);
    return measured;
}

static void
checks_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;
    virDomainPtr ddom;

    /* Measuring takes a second, so only when a bandwidth cap makes a
     * prediction possible. */
    w->dirty_mibps = -1;
    if (w->bandwidth_mibps > 0 && w->src)
        (void)measure_dirty_rate(w, 1);

    w->dest = virConnectOpen(w->dest_uri);
    if (!w->dest) {
        w->error = g_strdup_printf("cannot reach the destination's libvirt at %s: %s",
                                   w->dest_uri, virGetLastErrorMessage());
        return;
    }
    ddom = virDomainLookupByName(w->dest, w->domain);
    if (ddom) {
        int state = 0;

        w->dest_running = virDomainGetState(ddom, &state, NULL, 0) == 0 &&
                          state != VIR_DOMAIN_SHUTOFF;
        (void)virDomainFree(ddom);
    }
    w->ok = TRUE;
}

/* Whether the guest can converge within the job's policy, from the dirty
 * rate measured against the bandwidth cap; refuses with the figures. */
static gboolean
predict(SrcRun *run, SrcWork *w, char **ret_refusal, char **ret_note)
{
    Job *job = engine_lookup(run->m->engine, run->id);
    g_autofree char *reason = NULL;
    PolicyConfig effective;

    if (!job)
        return TRUE;
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
                       (guint64)w->bandwidth_mibps << 20, job->postcopy_forbidden, &reason)) {
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
    virDomainInfo info;
    virDomainPtr dom;
    Job *job;

    if (!w)
        return;
    run = w->run;
    if (!w->ok) {
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, w->error, NULL);
        return;
    }
    if (w->dest_running) {
        reason = g_strdup_printf("domain '%s' already runs on the destination %s", w->domain,
                                 w->dest_uri);
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    dom = migrator_lookup_source(run->m, w->domain, &reason);
    if (!dom || virDomainGetInfo(dom, &info) < 0 || info.state != VIR_DOMAIN_RUNNING) {
        if (!reason)
            reason = g_strdup_printf("domain '%s' is not running on this host", w->domain);
        if (dom)
            (void)virDomainFree(dom);
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    job = engine_lookup(run->m->engine, run->id);
    if (job && !nic_steps_classify(run->nics, run->m->conf, dom, job, &postcopy_forbidden,
                                   &reason, &nic_summary)) {
        (void)virDomainFree(dom);
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    (void)virDomainFree(dom);
    if (job)
        job->postcopy_forbidden = postcopy_forbidden;   /* the prediction weighs it */
    if (!predict(run, w, &reason, &prediction)) {
        migrator_feed(run->m, run->id, JOB_EV_CHECKS_FAILED, reason, NULL);
        return;
    }
    run->dest = g_steal_pointer(&w->dest);
    message = g_strdup_printf("%s runs here with %lu MiB of memory; the destination's libvirt "
                              "answers at %s; %s; %s", w->domain, info.maxMem / 1024,
                              run->dest_uri, prediction, nic_summary ? nic_summary : "");
    nics = nic_steps_to_json(run->nics);
    engine_event_init(&ev, JOB_EV_CHECKS_PASSED);
    ev.guest_memory = (guint64)info.maxMem * 1024;
    ev.postcopy_forbidden = postcopy_forbidden;
    ev.message = message;
    ev.nics = nics;
    engine_feed(run->m->engine, run->id, &ev);
}

void
src_checks_run(gpointer migrator, Job *job)
{
    Migrator *m = migrator;
    SrcRun *run = migrator_run(m, job);
    SrcWork *w = migrator_work_new(run, job);

    w->bandwidth_mibps = job->options.bandwidth_mibps;
    w->src = virt_connection(m->virt);
    if (w->src)
        (void)virConnectRef(w->src);
    migrator_work_start(run, w, checks_thread, checks_done);
}
