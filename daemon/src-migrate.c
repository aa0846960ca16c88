/* The source's migrate call: its flags and parameters from the job, the
 * p2p live migration in a worker, and its outcome fed to the job as
 * MIGRATE_RETURNED (with libvirt's figures) or MIGRATE_FAILED. */
#include <config.h>

#include <libvirt/virterror.h>

#include "src-migrator-priv.h"

static void
migrate_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SrcWork *w = data;
    g_autoptr(GError) error = NULL;

    if (!w->src) {
        w->error = g_strdup_printf("migd is not connected to libvirt at %s", w->src_uri);
        return;
    }
    /* libvirt takes the max downtime before a migration starts; during
     * its setup phase the call would wait for the job lock instead. */
    if (!w->ops->set_max_downtime(w->src, w->domain, w->downtime_ms, &error)) {
        w->lost = g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_DISCONNECTED);
        w->error = g_strdup_printf("cannot set the max downtime to %u ms: %s", w->downtime_ms,
                                   error->message);
        return;
    }
    w->ok = w->ops->migrate(w->src, w->domain, w->dest_uri, w->params, w->nparams, w->flags,
                            &error);
    if (!w->ok) {
        w->lost = g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_DISCONNECTED);
        w->error = g_strdup(error->message);
        return;
    }
    w->dest = w->ops->open(w->ops, w->dest_uri, NULL);
    w->have_figures = src_stats_completed_figures(w, &w->figures);
}

static void
migrate_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SrcWork *w = migrator_work_finished(result);
    SrcRun *run;
    JobEvent ev;

    if (!w)
        return;
    run = w->run;
    if (!w->ok && w->lost) {
        migrator_note(run->m, run->id, "warning", "the migrate call lost migd's connection to "
                      "libvirt (%s); libvirtd carries a peer-to-peer migration on by itself, so "
                      "migd follows its job once it has reconnected", w->error);
        run->following = TRUE;
        return;
    }
    src_stats_stop_polling(run);
    engine_event_init(&ev, w->ok ? JOB_EV_MIGRATE_RETURNED : JOB_EV_MIGRATE_FAILED);
    ev.reason = w->error;
    ev.figures = w->have_figures ? &w->figures : NULL;
    if (w->ok && !w->have_figures && run->have_event_figures) {
        migrator_note(run->m, run->id, "warning", "the destination's completed statistics could "
                      "not be read; the figures are those of libvirt's JOB_COMPLETED event here");
        ev.figures = &run->event_figures;
    }
    engine_feed(run->m->engine, run->id, &ev);
}

static void
migrate_params(const Job *job, SrcWork *w)
{
    int *max = &w->maxparams;

    w->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    if (job->options.persistent)
        w->flags |= VIR_MIGRATE_PERSIST_DEST;
    if (job->options.undefine_source)
        w->flags |= VIR_MIGRATE_UNDEFINE_SOURCE;
    if (job->options.auto_converge)
        w->flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (job->policy.allow_postcopy && !job->postcopy_forbidden)
        w->flags |= VIR_MIGRATE_POSTCOPY;
    /* The destination's migd restores the paused NICs' state and resumes
     * the guest there (src-nic-pause.c). */
    if (job_pauses(job))
        w->flags |= VIR_MIGRATE_PAUSED;
    if (job->options.bandwidth_mibps > 0)
        (void)virTypedParamsAddULLong(&w->params, &w->nparams, max, VIR_MIGRATE_PARAM_BANDWIDTH,
                                      job->options.bandwidth_mibps);
    if (job->options.parallel_connections > 0) {
        w->flags |= VIR_MIGRATE_PARALLEL;
        (void)virTypedParamsAddInt(&w->params, &w->nparams, max,
                                   VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                   (int)job->options.parallel_connections);
    }
    for (guint i = 0; job->options.compression && job->options.compression[i]; i++) {
        w->flags |= VIR_MIGRATE_COMPRESSED;
        (void)virTypedParamsAddString(&w->params, &w->nparams, max,
                                      VIR_MIGRATE_PARAM_COMPRESSION, job->options.compression[i]);
    }
}

void
src_migrate_start(gpointer migrator, Job *job)
{
    SrcRun *run = migrator_run(migrator, job);
    SrcWork *w = migrator_work_new(run);

    src_resume_watch(run);
    src_stats_watch_events(run);
    migrate_params(job, w);
    nic_steps_migrate_params(run->nics, NULL, job, &w->params, &w->nparams, &w->maxparams);
    /* A pause job's switchover is migd's to make (job.c): QEMU must not
     * make it on its own first. */
    w->downtime_ms =
        job_pauses(job) ? JOB_PAUSE_QEMU_DOWNTIME_MS : job->policy.max_downtime_ms;
    run->migrate_call = TRUE;
    migrator_work_start(run, w, migrate_thread, migrate_done);
    src_stats_start_polling(run, job);
}
