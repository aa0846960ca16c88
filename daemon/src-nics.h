/* The source's side of a job's passthrough NICs: classifying them and
 * choosing the strategy during the checks, then the NIC steps of the job
 * (reserve and prepare on the destination's migd, unplug here, ask for the
 * replug there, verify) and the rollback. Outcomes reach the job as
 * STEP_DONE / STEP_FAILED events that carry the job's "nics" record.
 * One file per step: src-nic-{classify,reserve,unplug,replug,rollback,
 * migrate}.c, and src-nics.c for the object and its record. */
#pragma once

#include <libvirt/libvirt.h>

#include "conf.h"
#include "engine.h"
#include "virt.h"

typedef struct _NicSteps NicSteps;

NicSteps *nic_steps_new(Engine *engine, Virt *virt, const MigdConf *conf, const Job *job);
void nic_steps_free(NicSteps *ns);

/* On the loop, during the checks: finds the guest's passthrough NICs in
 * @dom's live XML and chooses the strategy. FALSE with @ret_refusal when
 * the job must not start (nothing has been touched). */
gboolean nic_steps_classify(NicSteps *ns, const MigdConf *conf, virDomainPtr dom, const Job *job,
                            gboolean *ret_postcopy_forbidden, char **ret_refusal,
                            char **ret_summary);

/* The "nics" record as it is now (new reference). */
json_t *nic_steps_to_json(NicSteps *ns);

/* Carries out the NIC step of @job's state. */
void nic_steps_run(NicSteps *ns, Job *job);

/* Adds what the migrate call needs: the destination XML of natively
 * migrating NICs, and the persistent definition that names the
 * destination's VFs. */
void nic_steps_migrate_params(NicSteps *ns, virDomainPtr dom, const Job *job,
                              virTypedParameterPtr *params, int *nparams, int *maxparams);

/* The source saw the guest resume on the destination. */
void nic_steps_dest_resumed(NicSteps *ns);

/* The job is over: stops renewing and frees the destination's reservation. */
void nic_steps_finish(NicSteps *ns);
