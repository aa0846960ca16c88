/* The engine's operations carried out with libvirt: checks, the p2p live
 * migration in a worker, progress from job statistics, the destination's
 * report that the guest resumed, policy actions, abort, and reconciling jobs
 * left by a previous migd. */
#pragma once

#include "conf.h"
#include "engine.h"
#include "virt.h"

typedef struct _Migrator Migrator;

/* @conf is borrowed; migrator_set_conf() replaces it after a reload. */
Migrator *migrator_new(Virt *virt, const MigdConf *conf);
void migrator_free(Migrator *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Migrator, migrator_free)

/* The engine the results are fed to; set once, before the first job. */
void migrator_set_engine(Migrator *m, Engine *engine);
void migrator_set_conf(Migrator *m, const MigdConf *conf);

/* The operations, for engine_new() with the Migrator as context. */
const EngineOps *migrator_ops(void);
