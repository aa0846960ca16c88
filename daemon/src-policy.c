/* The policy's actions carried out on the source domain (max downtime,
 * post-copy, auto-converge) and the abort. Each call runs in a worker:
 * during a migration libvirt may hold it until a job lock frees, and the
 * loop must not wait. A failure is noted in the job's timeline. */
#include <config.h>

#include "src-migrator-priv.h"

typedef gboolean (*SourceCallFunc)(const VirtOps *ops, VirtConn *conn, const char *domain,
                                   guint value, GError **error);

typedef struct {
    Migrator *m;
    char *id;
    char *domain;
    const char *what;
    SourceCallFunc call;
    guint value;
    const VirtOps *ops;
    VirtConn *conn;
    char *error;
} SourceCall;

static void
source_call_free(gpointer data)
{
    SourceCall *c = data;

    virt_conn_unref(c->conn);
    g_free(c->id);
    g_free(c->domain);
    g_free(c->error);
    g_free(c);
}

static void
source_call_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    SourceCall *c = data;
    g_autoptr(GError) error = NULL;

    if (!c->call(c->ops, c->conn, c->domain, c->value, &error))
        c->error = g_strdup(error->message);
}

static void
source_call_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    SourceCall *c = g_task_get_task_data(G_TASK(result));

    if (c->error)
        migrator_note(c->m, c->id, "warning", "could not %s: %s", c->what, c->error);
}

static void
on_source(Migrator *m, Job *job, const char *what, SourceCallFunc call, guint value)
{
    VirtConn *conn = virt_conn(m->virt);
    g_autoptr(GTask) task = NULL;
    SourceCall *c;

    if (!conn) {
        migrator_note(m, job->id, "warning", "could not %s: migd is not connected to libvirt",
                      what);
        return;
    }
    c = g_new0(SourceCall, 1);
    c->m = m;
    c->id = g_strdup(job->id);
    c->domain = g_strdup(job->domain);
    c->what = what;
    c->call = call;
    c->value = value;
    c->ops = virt_ops(m->virt);
    c->conn = conn;
    task = g_task_new(NULL, NULL, source_call_done, NULL);
    g_task_set_task_data(task, c, source_call_free);
    g_task_run_in_thread(task, source_call_thread);
}

static gboolean
call_set_downtime(const VirtOps *ops, VirtConn *conn, const char *domain, guint value,
                  GError **error)
{
    return ops->set_max_downtime(conn, domain, value, error);
}

static gboolean
call_postcopy(const VirtOps *ops, VirtConn *conn, const char *domain, guint value,
              GError **error)
{
    return ops->start_postcopy(conn, domain, error);
}

static gboolean
call_abort(const VirtOps *ops, VirtConn *conn, const char *domain, guint value, GError **error)
{
    return ops->abort_job(conn, domain, error);
}

void
src_policy_set_downtime(gpointer migrator, Job *job, guint downtime_ms)
{
    on_source(migrator, job, "set the max downtime", call_set_downtime, downtime_ms);
}

void
src_policy_auto_converge(gpointer migrator, Job *job)
{
    /* The migration was started with auto-converge (the job only lets the
     * policy choose this step then): QEMU's throttling is already on and
     * ramps up by itself; the step gives it time before the next one. */
    migrator_note(migrator, job->id, "info", "QEMU's auto-converge throttling is on since the "
                  "start; the policy gives it time to slow the guest down before its next step");
}

void
src_policy_postcopy(gpointer migrator, Job *job)
{
    on_source(migrator, job, "switch to post-copy", call_postcopy, 0);
}

void
src_policy_abort(gpointer migrator, Job *job)
{
    on_source(migrator, job, "abort the migration", call_abort, 0);
}
