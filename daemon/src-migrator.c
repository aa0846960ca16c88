/* The source side's object: one SrcRun per job, the workers that carry
 * libvirt calls off the loop, and the EngineOps table that hands each
 * operation to the file of its concern. Calls that may block for long run
 * in GTask workers and report back on the main loop; every outcome reaches
 * the job as an event through engine_feed(). */
#include <config.h>

#include <libvirt/virterror.h>

#include "src-migrator-priv.h"

void
migrator_work_free(gpointer data)
{
    SrcWork *w = data;

    g_free(w->live_xml);
    g_free(w->migratable_xml);
    virt_conn_unref(w->dest);
    virt_conn_unref(w->src);
    g_free(w->dirty_error);
    virTypedParamsFree(w->params, w->nparams);
    g_free(w->dest_uri);
    g_free(w->src_uri);
    g_free(w->domain);
    g_free(w->error);
    g_free(w);
}

SrcWork *
migrator_work_finished(GAsyncResult *result)
{
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result))))
        return NULL;
    return g_task_get_task_data(G_TASK(result));
}

SrcWork *
migrator_work_new(SrcRun *run)
{
    SrcWork *w = g_new0(SrcWork, 1);
    Virt *virt = run->m->virt;

    w->run = run;
    w->ops = virt_ops(virt);
    w->src = virt_conn(virt);
    w->src_uri = g_strdup(virt_uri(virt));
    w->dest_uri = g_strdup(run->dest_uri);
    w->domain = g_strdup(run->domain);
    return w;
}

gboolean
migrator_work_info(SrcWork *w, VirtDomainInfo *ret_info)
{
    g_autoptr(GError) error = NULL;

    if (!w->src) {
        w->error = g_strdup_printf("migd is not connected to libvirt at %s", w->src_uri);
        return FALSE;
    }
    if (w->ops->get_info(w->src, w->domain, ret_info, &error))
        return TRUE;
    w->job_ended = g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN);
    w->lost = g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_DISCONNECTED);
    w->error = w->job_ended ? g_strdup_printf("domain '%s' does not exist on this host", w->domain)
                            : g_strdup_printf("cannot ask libvirt about domain '%s' on this "
                                              "host: %s", w->domain, error->message);
    return FALSE;
}

void
migrator_work_start(SrcRun *run, SrcWork *w, GTaskThreadFunc thread, GAsyncReadyCallback done)
{
    g_autoptr(GTask) task = g_task_new(NULL, run->cancellable, done, NULL);

    g_task_set_task_data(task, w, migrator_work_free);
    g_task_run_in_thread(task, thread);
}

static void
run_free(gpointer data)
{
    SrcRun *run = data;

    g_cancellable_cancel(run->cancellable);
    g_clear_object(&run->cancellable);
    g_clear_handle_id(&run->poll_source, g_source_remove);
    g_clear_handle_id(&run->retry_source, g_source_remove);
    g_clear_pointer(&run->nics, nic_steps_free);
    if (run->dest) {
        virt_conn_ops(run->dest)->event_deregister(run->dest, run->dest_callback);
        virt_conn_unref(run->dest);
    }
    if (run->src) {
        virt_conn_ops(run->src)->event_deregister(run->src, run->src_callback);
        virt_conn_ops(run->src)->event_deregister(run->src, run->src_completed_callback);
        virt_conn_unref(run->src);
    }
    g_free(run->id);
    g_free(run->domain);
    g_free(run->dest_uri);
    g_free(run);
}

Migrator *
migrator_new(Virt *virt, const MigdConf *conf)
{
    Migrator *m = g_new0(Migrator, 1);

    m->virt = virt;
    m->conf = conf;
    m->poll_interval_ms = conf->poll_interval_ms;
    m->runs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, run_free);
    return m;
}

void
migrator_free(Migrator *m)
{
    if (!m)
        return;
    g_hash_table_unref(m->runs);
    nic_steps_releases_drop();
    g_free(m);
}

void
migrator_set_engine(Migrator *m, Engine *engine)
{
    m->engine = engine;
}

void
migrator_set_conf(Migrator *m, const MigdConf *conf)
{
    m->conf = conf;
    m->poll_interval_ms = conf->poll_interval_ms;
}

void
migrator_set_plugins(Migrator *m, PluginSet *plugins)
{
    m->plugins = plugins;
}

static gboolean
run_free_idle(gpointer data)
{
    run_free(data);
    return G_SOURCE_REMOVE;
}

SrcRun *
migrator_run(Migrator *m, Job *job)
{
    SrcRun *run = g_hash_table_lookup(m->runs, job->id);

    /* The job moved to another destination ("auto" took the next
     * candidate): the run for the old one goes, from the loop, since its
     * NIC steps may be the caller. Cancelled now, it answers nothing more. */
    if (run && g_strcmp0(run->dest_uri, job->dest.libvirt_uri) != 0) {
        g_cancellable_cancel(run->cancellable);
        (void)g_hash_table_steal(m->runs, job->id);
        g_idle_add(run_free_idle, run);
        run = NULL;
    }
    if (!run) {
        run = g_new0(SrcRun, 1);
        run->m = m;
        run->id = g_strdup(job->id);
        run->domain = g_strdup(job->domain);
        run->dest_uri = g_strdup(job->dest.libvirt_uri);
        run->dest_callback = -1;
        run->src_callback = -1;
        run->src_completed_callback = -1;
        run->cancellable = g_cancellable_new();
        run->nics = nic_steps_new(m->engine, m->virt, m->conf, job);
        nic_steps_set_plugins(run->nics, m->plugins);
        g_hash_table_insert(m->runs, run->id, run);
    }
    return run;
}

void
migrator_feed(Migrator *m, const char *id, JobEventKind kind, const char *reason,
              const char *message)
{
    JobEvent ev;

    engine_event_init(&ev, kind);
    ev.reason = reason;
    ev.message = message;
    engine_feed(m->engine, id, &ev);
}

void
migrator_note(Migrator *m, const char *id, const char *kind, const char *fmt, ...)
{
    g_autofree char *message = NULL;
    va_list ap;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    migrator_feed(m, id, JOB_EV_NOTE, kind, message);
}

/* --- the operations ------------------------------------------------------- */

static void
op_nic_step(gpointer ctx, Job *job)
{
    SrcRun *run = migrator_run(ctx, job);

    nic_steps_run(run->nics, job);
}

static void
op_switchover(gpointer ctx, Job *job)
{
    SrcRun *run = migrator_run(ctx, job);

    nic_steps_switchover(run->nics, job);
}

static void
op_finished(gpointer ctx, Job *job)
{
    Migrator *m = ctx;
    SrcRun *run = g_hash_table_lookup(m->runs, job->id);

    if (run)
        nic_steps_finish(run->nics);
    /* Drops the poll, the destination connection and any worker's result. */
    g_hash_table_remove(m->runs, job->id);
}

static const EngineOps ops = {
    .run_checks = src_checks_run,
    .nic_step = op_nic_step,
    .start_migration = src_migrate_start,
    .set_downtime = src_policy_set_downtime,
    .auto_converge = src_policy_auto_converge,
    .postcopy = src_policy_postcopy,
    .abort_migration = src_policy_abort,
    .switchover = op_switchover,
    .reconcile = src_reconcile_run,
    .watch_libvirt_job = src_reconcile_follow,
    .finished = op_finished,
};

const EngineOps *
migrator_ops(void)
{
    return &ops;
}
