/* Incoming migrations on this host: the destination side's API (its files
 * are dest-*.c). The per-host limit on incoming migrations, VF leases for
 * the guest's passthrough NICs, the replug as soon as the guest resumes
 * here, and the qemu hook's rewrite of the incoming XML. The source's migd
 * drives it through the peer endpoints (/v1/reservations). */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "conf.h"
#include "plugin-loader.h"
#include "virt.h"

typedef struct _Incoming Incoming;

Incoming *incoming_new(Virt *virt, const MigdConf *conf, GError **error);
void incoming_free(Incoming *in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Incoming, incoming_free)

/* After a reload: new limits, pools and timeouts for what comes next. */
void incoming_set_conf(Incoming *in, const MigdConf *conf);

/* Whether this host is being drained: the running drain's id, or NULL.
 * While it runs, reservations are refused (MIGD_ERROR_DRAINING) and
 * GET /v1/capacity says so, since a host that empties itself must not
 * fill again; the drain's own guests leave as before. */
typedef const char *(*IncomingDrainQuery)(gpointer data);
void incoming_set_drain_query(Incoming *in, IncomingDrainQuery query, gpointer data);

/* How a call that must look at libvirt first answers: @result (borrowed)
 * or @error, on the main loop. */
typedef void (*IncomingAnswer)(json_t *result, const GError *error, gpointer data);

/* POST /v1/reservations: takes an incoming slot and leases one VF per NIC.
 * Answers the reservation, or MIGD_ERROR_BUSY when the incoming limit is
 * reached (the source asks again; jobs are served in the order they first
 * asked), MIGD_ERROR_LIBVIRT_DISCONNECTED when the running domains cannot
 * be listed (what they use is unknown, so nothing is leased),
 * MIGD_ERROR_NO_FREE_VF, MIGD_ERROR_DRAINING while a drain empties this
 * host, or a bad request. A reservation for a domain
 * replaces one that an earlier job from the same source left. Reservations
 * are saved in <state_dir>/reservations.json and survive a restart. */
void incoming_reserve(Incoming *in, json_t *request, IncomingAnswer answer, gpointer data);

/* POST /v1/reservations/{id}/prepare: arms the replug for the guest's
 * resume here and renews the leases. */
json_t *incoming_prepare(Incoming *in, const char *id, GError **error);
/* The same with the request's body: {"states": [{"alias", "plugin",
 * "frame"}]}, the NICs' device states, each refused when its frame is
 * damaged or too large (MIGD_ERROR_INVALID_ARGUMENT), its plugin is not
 * loaded here (MIGD_ERROR_CONFLICT), or its plugin's check_state says no
 * (MIGD_ERROR_CONFLICT); accepted ones are kept with the reservation. */
void incoming_prepare_states(Incoming *in, const char *id, json_t *body, IncomingAnswer answer,
                             gpointer data);
/* The plugins that check and restore device states (borrowed; NULL: none). */
void incoming_set_plugins(Incoming *in, PluginSet *plugins);
gboolean incoming_renew(Incoming *in, const char *id, GError **error);

/* POST /v1/reservations/{id}/replug: @answer runs once the replug and its
 * verification have finished (at once if they already have, from the
 * saved record after a restart); a guest that runs here without its VF
 * gets it now. */
void incoming_replug(Incoming *in, const char *id, IncomingAnswer answer, gpointer data);

/* DELETE /v1/reservations/{id}: frees the slot and the leases. */
gboolean incoming_release(Incoming *in, const char *id, GError **error);

/* The pause strategy (dest-pause.c). The switchover, while the guest still
 * runs at the source: the paused NICs' device states are restored onto
 * the leased VFs (a refusal is a CONFLICT naming the NIC and the plugin's
 * words). The resume, once it arrived here paused: the guest runs, and
 * the paused NICs' plugins are called post_switchover; the answer is the
 * reservation with a "resume" object (resumed, resume_ms,
 * post_switchover_ms, post_switchover_error). */
void incoming_switchover(Incoming *in, const char *id, IncomingAnswer answer, gpointer data);
void incoming_resume(Incoming *in, const char *id, IncomingAnswer answer, gpointer data);

json_t *incoming_list(Incoming *in);

/* GET /v1/reservations/{id}: the reservation with its replug's state. */
json_t *incoming_get(Incoming *in, const char *id, GError **error);

/* GET /v1/vfs. */
void incoming_vfs(Incoming *in, IncomingAnswer answer, gpointer data);

/* GET /v1/capacity (dest-capacity.c): free incoming slots against
 * max_incoming, and each pool's total and free VFs (neither leased nor held
 * by a running guest), for a source choosing a destination. */
void incoming_capacity(Incoming *in, IncomingAnswer answer, gpointer data);

/* POST /v1/hooks/qemu: "migrate" returns the rewritten XML; "stopped" and
 * "release" free what the domain held. */
json_t *incoming_hook(Incoming *in, json_t *request, GError **error);
