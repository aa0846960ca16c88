/* The source side of a migration: the engine's operations carried out with
 * libvirt on the host the guest leaves. The object and its EngineOps are in
 * src-migrator.c; each concern has its own src-*.c file (src-migrator-priv.h
 * lists them). */
#pragma once

#include "conf.h"
#include "engine.h"
#include "plugin-loader.h"
#include "virt.h"

typedef struct _Migrator Migrator;

/* @conf is borrowed; migrator_set_conf() replaces it after a reload. */
Migrator *migrator_new(Virt *virt, const MigdConf *conf);
void migrator_free(Migrator *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Migrator, migrator_free)

/* The engine the results are fed to; set once, before the first job. */
void migrator_set_engine(Migrator *m, Engine *engine);
void migrator_set_conf(Migrator *m, const MigdConf *conf);
/* The plugins that carry the NICs' device state (borrowed; NULL: none). */
void migrator_set_plugins(Migrator *m, PluginSet *plugins);

/* The operations, for engine_new() with the Migrator as context. */
const EngineOps *migrator_ops(void);
