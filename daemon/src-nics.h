/* The source's side of a job's passthrough NICs: classifying them and
 * choosing the strategy during the checks, then the NIC steps of the job
 * (reserve and prepare on the destination's migd, unplug here, ask for the
 * replug there, verify) and the rollback. Outcomes reach the job as
 * STEP_DONE / STEP_FAILED events that carry the job's "nics" record.
 * One file per step: src-nic-{classify,reserve,unplug,migrate,replug,
 * rollback}.c, the destination's migd in src-nic-peer.c, and src-nics.c
 * for the object and its record. */
#pragma once

#include <libvirt/libvirt.h>

#include "conf.h"
#include "engine.h"
#include "plugin-loader.h"
#include "virt.h"

typedef struct _NicSteps NicSteps;

/* For @job; when @job has a "nics" record (after a restart), the NICs, the
 * saved device XML and the reservation are rebuilt from it, so that
 * nic_steps_run() finishes or undoes the step of the job's state:
 * rolling-back restores here what the live XML lacks and releases the
 * destination's reservation; replugging and verifying ask the destination
 * whether it replugged, and ask it to if not. */
NicSteps *nic_steps_new(Engine *engine, Virt *virt, const MigdConf *conf, const Job *job);
void nic_steps_free(NicSteps *ns);
/* The plugins that carry the NICs' device state (borrowed; NULL: none). */
void nic_steps_set_plugins(NicSteps *ns, PluginSet *plugins);

/* In a worker, during the checks: the guest's live XML and its migratable
 * form, which nic_steps_classify_xml() needs. FALSE with @error (libvirt's
 * words) when they cannot be read. */
gboolean nic_steps_read_xml(VirtConn *conn, const char *domain, char **ret_live,
                            char **ret_migratable, GError **error);

/* On the loop, during the checks: finds the guest's passthrough NICs in its
 * live XML and chooses the strategy. FALSE with @ret_refusal when the job
 * must not start (nothing has been touched). No libvirt call. */
gboolean nic_steps_classify_xml(NicSteps *ns, const MigdConf *conf, const char *live_xml,
                                const char *migratable_xml, const Job *job,
                                gboolean *ret_postcopy_forbidden, char **ret_refusal,
                                char **ret_summary);


/* The "nics" record as it is now (new reference). */
json_t *nic_steps_to_json(NicSteps *ns);

/* Carries out the NIC step of @job's state. */
void nic_steps_run(NicSteps *ns, Job *job);

/* Adds what the migrate call needs: the destination XML of natively
 * migrating NICs, and the persistent definition that names the
 * destination's VFs (made when the unplug step ended; no libvirt call, so
 * @dom is not used). */
void nic_steps_migrate_params(NicSteps *ns, virDomainPtr dom, const Job *job,
                              virTypedParameterPtr *params, int *nparams, int *maxparams);

/* The source saw the guest resume on the destination. Nothing is measured
 * from it any more (the no-VF window ends at the replug's answer). */
void nic_steps_dest_resumed(NicSteps *ns);

/* Pause strategy (src-nic-pause.c): the destination restores the paused
 * NICs' state onto its VFs, their plugins quiesce them here
 * (pre_switchover), and the guest is suspended here; the job hears
 * SWITCHOVER_DONE or SWITCHOVER_FAILED (with nothing left paused). */
void nic_steps_switchover(NicSteps *ns, Job *job);

/* The job is over: stops renewing and releases the destination's
 * reservation (retried for a while; the outcome goes to the log). */
void nic_steps_finish(NicSteps *ns);

/* How many of those releases are still asking the destination. */
guint nic_steps_releases_pending(void);

/* At shutdown: those releases stop asking, each with a warning that names
 * the job and when its leases end at the latest. */
void nic_steps_releases_drop(void);
