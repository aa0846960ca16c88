/* What the destination side's unit tests (test-dest-*.c) share: a migd's
 * Incoming on the fake hypervisor and the fake peer, with an emulated pool
 * of two VFs (tvf0, tvf1), and ways to wait for its answers. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "conf.h"
#include "fake-peer.h"
#include "fake-virt.h"
#include "incoming.h"
#include "plugin-loader.h"

/* The source host's libvirt and migd, a [peer.A] of the destination. */
#define TD_SOURCE_URI "qemu+tcp://a/system"
#define TD_SOURCE_URL "http://a:7480"

/* td_setup_sriov()'s PF and its VFs 1 and 2. */
#define TD_SR_PF "0000:5e:00.0"
#define TD_SR_VF1 "0000:5e:02.1"
#define TD_SR_VF2 "0000:5e:02.2"

typedef struct {
    char *dir;
    FakeVirt *fv;
    FakePeer *fp;
    Virt *virt;
    MigdConf *conf;
    Incoming *in;
    PluginSet *plugins;     /* NULL: none loaded */
} TdFixture;

/* With @data (a string), the fixture plugin "stateful" is loaded with
 * [plugins] call_timeout_s = 1, max_state_bytes = 64, [plugin.stateful]
 * log = td_calls_log() and the settings in @data ("fail_at = ...\n"). */
void td_setup(TdFixture *f, gconstpointer data);
/* The same with the plugin as kind = vf (it handles the VFs of sriov pools,
 * as sriov-vfcfg does) and [pool.sr], an sriov pool with native = true of
 * VFs 1 and 2 of the PF TD_SR_PF (netdev ens2f0) in a sysfs tree of the
 * test's; fake-virt's journal of detaches and attaches goes to the
 * plugin's log, in order with its calls. */
void td_setup_sriov(TdFixture *f, gconstpointer data);
/* The same with the plugin as kind = vdpa (as the vdpa plugin) and
 * [pool.vn], a vdpa pool of the vDPA devices vdpa0 (/dev/vhost-vdpa-0) and
 * vdpa1 (/dev/vhost-vdpa-3) in a sysfs tree of the test's, which also has
 * stray (/dev/vhost-vdpa-5) in no pool. */
void td_setup_vdpa(TdFixture *f, gconstpointer data);
void td_teardown(TdFixture *f, gconstpointer data);
/* A new Incoming over the same state directory, as after a kill -9. */
void td_restart(TdFixture *f);
/* The calls the stateful plugin got, one line each ("check_state ua-vf0
 * destination"), and how many lines match the glob @pattern. */
char *td_calls_log(TdFixture *f);
guint td_calls(TdFixture *f, const char *pattern);

/* The guest's live XML with the emulated NICs ALIAS=TAP of @nics ("ua-vf0=tvf0"). */
char *td_domain_xml(const char *name, const char *const *nics);

/* POST /v1/reservations: the reservation, or NULL with @error. */
json_t *td_reserve(TdFixture *f, const char *job, const char *domain, const char *strategy,
                   const char *nics_json, GError **error);
/* The same from a source that says its migd is @source_url. */
json_t *td_reserve_from(TdFixture *f, const char *source_url, const char *job,
                        const char *domain, const char *strategy, const char *nics_json,
                        GError **error);
/* GET /v1/vfs, waited for. */
json_t *td_vfs(TdFixture *f, GError **error);
/* POST /v1/reservations/{id}/prepare with @body (NULL: none), waited for. */
json_t *td_prepare(TdFixture *f, const char *job, json_t *body, GError **error);
/* POST /v1/reservations/{id}/replug, waited for. */
json_t *td_replug(TdFixture *f, const char *job, GError **error);
/* The frame a source's migd sends for @alias: @state from @plugin (state
 * version 3), and a prepare's body carrying it. */
char *td_state_frame(const char *plugin, const char *alias, const char *state);
json_t *td_states_body(const char *alias, const char *plugin, const char *frame);
/* A prepare's body with two saved states ("state of ALIAS"), in this
 * order: @alias0's from @plugin0, @alias1's from @plugin1. */
json_t *td_two_states_body(const char *alias0, const char *plugin0, const char *alias1,
                           const char *plugin1);
/* Prepares @job with the stateful plugin's saved state of ua-vf0. */
json_t *td_prepare_saved(TdFixture *f, const char *job, GError **error);
/* Reserves job-1 for labvm with @nics, prepared with that state (both
 * must succeed). */
void td_reserve_prepared(TdFixture *f, const char *strategy, const char *nics);
/* POST /v1/reservations/{id}/switchover and /resume (the pause
 * strategy), waited for. */
json_t *td_switchover(TdFixture *f, const char *job, GError **error);
json_t *td_resume(TdFixture *f, const char *job, GError **error);
/* GET /v1/reservations/{id}'s replug.state, or "gone". */
const char *td_replug_state(TdFixture *f, const char *job);
/* Runs the loop until @job's replug state is @state (or 5 s pass). */
gboolean td_wait_state(TdFixture *f, const char *job, const char *state);

/* The guest migrates from the source host to this one (the fake delivers
 * the resumed event here). */
void td_migrate_in(TdFixture *f, const char *domain);
/* The same with more migrate flags (VIR_MIGRATE_PAUSED: it arrives paused). */
void td_migrate_in_flags(TdFixture *f, const char *domain, unsigned int flags);
