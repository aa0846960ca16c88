/* The source side's insides, shared by its files and their tests: the
 * Migrator, what it holds for one job (SrcRun), the Work a worker thread
 * carries, and each concern's entry points:
 *   src-migrator.c  the object, its runs, workers, the EngineOps table
 *   src-checks.c    the checks before anything is touched
 *   src-migrate.c   the migrate call and its parameters
 *   src-stats.c     job statistics: polling, iteration and completion events
 *   src-resume.c    the destination's report that the guest resumed there
 *   src-policy.c    the policy's actions on the source domain, abort
 *   src-reconcile.c jobs left by a previous migd */
#pragma once

#include <gio/gio.h>

#include "src-nics.h"
#include "src-migrator.h"

struct _Migrator {
    Virt *virt;
    Engine *engine;
    const MigdConf *conf;
    guint poll_interval_ms;
    GHashTable *runs;           /* job id -> SrcRun */
    PluginSet *plugins;         /* borrowed; NULL: none loaded */
};

/* What migd holds for one job while it runs. */
typedef struct {
    Migrator *m;
    char *id;
    char *domain;
    char *dest_uri;
    VirtConn *dest;             /* the destination's libvirtd, for its events */
    int dest_callback;
    VirtConn *src;              /* this host's, for the source's events */
    int src_callback;
    int src_completed_callback;
    gboolean have_event_figures;
    JobFigures event_figures;   /* from the source's JOB_COMPLETED event */
    guint poll_source;
    gboolean polling;           /* a sample is being read */
    gboolean resample;          /* a pass began meanwhile: sample again once it is read */
    gboolean sampled;           /* a sample has been read */
    gboolean migrate_call;      /* the migrate call was made by this migd */
    /* Following a libvirt migration job that no migrate call of this migd
     * waits for (left by a previous migd, or its call lost the connection):
     * its end is found by the stats samples, and where the guest is then
     * stands in for the call's outcome. */
    gboolean following;
    guint retry_source;         /* asks the destination again where the guest is */
    guint reconcile_attempts;
    NicSteps *nics;
    GCancellable *cancellable;  /* cancelled when the run goes away */
} SrcRun;

/* A worker's input and result, handed back to the loop. */
typedef struct {
    SrcRun *run;                /* borrowed; valid unless cancelled */
    const VirtOps *ops;
    VirtConn *src;              /* this host's libvirt; NULL while disconnected */
    char *src_uri;
    char *dest_uri;
    char *domain;
    char *live_xml;             /* the guest's, for the NIC steps' checks */
    char *migratable_xml;
    virTypedParameterPtr params;
    int nparams;
    int maxparams;
    unsigned int flags;
    guint downtime_ms;
    VirtConn *dest;             /* opened by the worker */
    guint bandwidth_mibps;      /* for the dirty-rate prediction; 0: none */
    gint64 dirty_mibps;         /* measured; -1: not measured */
    char *dirty_error;
    gboolean ok;
    gboolean lost;              /* the call failed because the connection is gone */
    gboolean dest_running;
    gboolean source_running;
    gboolean source_job_active;
    gboolean job_ended;         /* libvirt's job on the source is over */
    guint64 guest_memory;       /* bytes */
    char *error;
    JobFigures figures;
    gboolean have_figures;
    PolicySample sample;
} SrcWork;

/* src-migrator.c */
SrcRun *migrator_run(Migrator *m, Job *job);
void migrator_feed(Migrator *m, const char *id, JobEventKind kind, const char *reason,
                   const char *message);
void migrator_note(Migrator *m, const char *id, const char *kind, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* Work for @run, about its domain and destination, with a reference to
 * this host's libvirt connection (none while disconnected). */
SrcWork *migrator_work_new(SrcRun *run);
/* In a worker: the source domain's state, or FALSE with @w->error set to a
 * sentence (and @w->job_ended when the domain is gone from this host). */
gboolean migrator_work_info(SrcWork *w, VirtDomainInfo *ret_info);

void migrator_work_free(gpointer data);
/* Runs @thread on @w in a worker; @done gets it back on the loop, unless
 * the run went away meanwhile (its cancellable says so). */
void migrator_work_start(SrcRun *run, SrcWork *w, GTaskThreadFunc thread,
                         GAsyncReadyCallback done);
/* In a done callback: the worker's SrcWork, or NULL when its run went away
 * meanwhile and nothing of it may be touched. */
SrcWork *migrator_work_finished(GAsyncResult *result);

/* The operations below have EngineOps' signatures, with the Migrator as
 * their context. */

/* src-checks.c */
void src_checks_run(gpointer migrator, Job *job);

/* src-migrate.c */
void src_migrate_start(gpointer migrator, Job *job);

/* src-stats.c */
/* libvirt's completed job statistics on the destination: what
 * `virsh domjobinfo --completed` shows there. */
gboolean src_stats_completed_figures(SrcWork *w, JobFigures *ret_figures);
/* Samples on every memory pass and keeps libvirt's JOB_COMPLETED figures. */
void src_stats_watch_events(SrcRun *run);
/* Samples every poll interval (a pause job's at most every
 * JOB_PAUSE_POLL_MS) until src_stats_stop_polling(). */
void src_stats_start_polling(SrcRun *run, const Job *job);
void src_stats_stop_polling(SrcRun *run);

/* src-resume.c */
/* Watches the destination for the guest's resume (DEST_RESUMED). */
void src_resume_watch(SrcRun *run);

/* src-policy.c */
void src_policy_set_downtime(gpointer migrator, Job *job, guint downtime_ms);
void src_policy_auto_converge(gpointer migrator, Job *job);
void src_policy_postcopy(gpointer migrator, Job *job);
void src_policy_abort(gpointer migrator, Job *job);

/* src-reconcile.c */
void src_reconcile_run(gpointer migrator, Job *job);
/* WATCH_LIBVIRT_JOB: follows libvirt's migration job as if this migd had
 * started it (stats for the policy, the destination's resume), until it
 * ends. */
void src_reconcile_follow(gpointer migrator, Job *job);
/* libvirt's job that @run follows has ended: where the guest is now is fed
 * as the migrate call's outcome. */
void src_reconcile_job_ended(SrcRun *run);
