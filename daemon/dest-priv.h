/* What the destination side's files (dest-*.c) share: a reservation, what
 * the source's migd holds on this host for one job, and the Incoming object
 * that owns them. Only dest-*.c include it. */
#pragma once

#include <gio/gio.h>
#include <jansson.h>
#include <libvirt/libvirt.h>

#include "hotplug.h"
#include "incoming.h"
#include "jsonutil.h"
#include "lease.h"
#include "nic-types.h"
#include "plugin-call.h"
#include "plugin-loader.h"
#include "pool.h"
#include "virt-ops.h"

/* Where a reservation's replug is; the names are the API's (replug.state). */
typedef enum {
    REPLUG_IDLE,        /* reserved, not prepared yet */
    REPLUG_ARMED,       /* replugs as soon as the guest resumes here */
    REPLUG_PLUGGING,    /* the guest resumed here; plugging the unplugged NICs */
    REPLUG_VERIFYING,   /* plugged; asking the guest */
    REPLUG_DONE,
    REPLUG_FAILED,
    REPLUG_STATE_LAST
} ReplugState;

const char *dest_replug_state_to_string(ReplugState state);
int dest_replug_state_from_string(const char *name);   /* -1 when unknown */

/* One plugin's device state of a NIC from the source (dest-state.c),
 * checked by that plugin here and kept as the frame came (base64). */
typedef struct {
    char *plugin;
    char *frame;
    gint64 bytes, check_ms, restore_ms;     /* -1: not measured */
    gboolean restored;
    gboolean aborted;
} ResState;

typedef struct {
    char *alias;
    char *mac;
    guint vlan;
    char *pool;
    char *address;      /* the leased VF */
    char *driver;       /* what the guest's driver for it is called, when known */
    char *device_xml;   /* what is plugged */
    NicStrategy strategy;   /* UNPLUG: dropped from the XML and replugged; NATIVE: rewritten */
    char *chosen;       /* strategy auto: why this host's plugins chose it; NULL: not asked */
    gboolean present;   /* in the guest's live XML here, at the last look */
    /* Its device states from the source (ResState*), one per plugin, in
     * this host's loading order; @restored once every one is. */
    GPtrArray *states;
    gboolean restored;
} ResNic;

typedef struct {
    Incoming *in;
    char *id;           /* the source's job id */
    char *domain;
    char *source;       /* the source host's name, as it says */
    char *source_url;   /* its migd, when it said; asked only when it is a [peer.NAME] */
    NicStrategy strategy;   /* the job's */
    GPtrArray *nics;    /* ResNic* */
    ReplugState state;
    gint64 created_us;  /* wall clock */
    gint64 expires_us;  /* wall clock */
    gint64 armed_us;    /* wall clock, when prepared */

    /* The replug, durable: */
    gint64 resumed_wall_us;     /* when the guest resumed here */
    gint64 plugged_us, verified_us; /* wall clock; 0: not yet */
    guint attempt;              /* attempts on the NIC being plugged */
    guint attempts;             /* in all */
    gint64 replug_ms, verify_ms;
    gint64 guest_outage_ms;     /* -1: the guest has no probe */
    gboolean ok;
    GString *detail;

    /* ... and what lives only in this migd: */
    gint64 resumed_us;  /* monotonic, when the guest resumed here; 0 after a restart */
    guint nic_index;    /* the NIC being plugged */
    guint retry_source;
    Hotplug *hp;
    GCancellable *cancellable;
    gboolean running;   /* this migd is plugging or verifying (not one before a restart) */
    gboolean asking;    /* the source is being asked about the job */
    gboolean restoring; /* plugins restore the device states (dest-state.c) */
    gint64 asked_us;    /* wall clock, when it was last asked */
    char *detail_verify;        /* what the verification said, until the probe answers */
    GPtrArray *answers; /* ResAnswer*: replug calls waiting for the outcome */
    /* The pause strategy (dest-pause.c): the switchover or resume calls
     * waiting for their outcome (ResAnswer*), and where they are, in this
     * migd's life. */
    GPtrArray *pause_answers;
    gboolean pause_switching;   /* the switchover's states are being restored */
    gboolean pause_switched;    /* ... and are */
    gboolean pause_resuming, pause_resumed;
    gint64 pause_resume_ms, pause_post_ms;
    char *pause_post_error;
    char *post_switchover_error;    /* native NICs' plugins after the switchover */
} Reservation;

typedef struct {
    IncomingAnswer answer;
    gpointer data;
} ResAnswer;

typedef struct {
    char *id;
    gint64 asked_us;    /* monotonic */
} Waiter;

struct _Incoming {
    Virt *virt;
    GCancellable *cancellable;  /* cancelled when migd stops */
    const MigdConf *conf;
    PoolSet *pools;
    PluginSet *plugins;         /* borrowed; NULL: none loaded */
    IncomingDrainQuery draining; /* NULL: this host never drains */
    gpointer draining_data;
    LeaseTable *leases;
    char *path;                 /* <state_dir>/reservations.json */
    GHashTable *reservations;   /* id -> Reservation */
    GQueue waiting;             /* Waiter*, in the order they first asked */
    guint expire_source;
    guint events_source;
    guint looks;                /* looks at guests under way (tests wait for them) */
    gboolean ask_after_start;   /* the reservations a previous migd left are asked about */
    /* One lifecycle registration on the current connection, for every
     * armed reservation, dispatched by the domain's name. */
    VirtConn *events_conn;
    virConnectPtr events_raw;   /* the connection it wraps, to notice a new one */
    int lifecycle_cb;
};

/* dest-reservations.c */
/* The id of the drain that empties this host now, or NULL. */
const char *dest_draining(Incoming *in);
json_t *dest_res_to_json(const Reservation *r);
Reservation *dest_lookup(Incoming *in, const char *id, GError **error);
/* The reservation for @domain whose replug is armed, in progress or
 * prepared (not done), else any for it; NULL when none. */
Reservation *dest_find_domain(Incoming *in, const char *domain);
/* What the expiry timer does every few seconds (tests call it): releases
 * or asks about reservations past their TTL, asks about armed ones whose
 * guest is overdue, and, once after a start, about every one. */
void dest_tick(Incoming *in);
/* Renews @r's TTL and its leases, saved; FALSE with @error when it cannot. */
gboolean dest_renew(Incoming *in, Reservation *r, GError **error);
/* Drops @r with its leases, saying @why in the log (a sentence). */
void dest_release(Incoming *in, Reservation *r, const char *why);

/* dest-pause.c: the resume's outcome for the answer ("resume"); and
 * libvirt's SUSPENDED/PAUSED event for @domain, which resumes a guest that
 * arrived paused after its switchover. */
json_t *dest_pause_to_json(const Reservation *r);
void dest_pause_on_suspended(Incoming *in, const char *domain);

/* dest-state.c: what the plugins are told of @n on this host. */
PluginDevice *dest_state_device(Incoming *in, const Reservation *r, const ResNic *n);

/* dest-store.c */
Reservation *dest_res_new(Incoming *in, const char *id, const char *domain, const char *source);
void dest_res_free(gpointer data);
json_t *dest_res_to_record(const Reservation *r);
Reservation *dest_res_from_record(Incoming *in, json_t *record, char **ret_why);
/* Writes every reservation to <state_dir>/reservations.json. */
gboolean dest_save(Incoming *in, GError **error);
/* The same where what happened cannot be undone: a failure is logged. */
void dest_save_or_warn(Incoming *in);
/* Reads the file back at start (a corrupt one is set aside, with a warning). */
gboolean dest_load(Incoming *in, GError **error);

/* dest-state.c: the device states that came with the prepare. */
/* Decodes the prepare's "states" and has each one's plugin check it, then
 * keeps them with @r and arms it (incoming_prepare); @answer gets the
 * reservation, or an error that names the NIC, the plugin and why. */
void dest_state_prepare(Incoming *in, Reservation *r, json_t *body, IncomingAnswer answer,
                        gpointer data);
/* Restores @only's states onto its leased VF, or with @only NULL each
 * NIC's that are not restored yet, plugin after plugin in loading order;
 * @done gets NULL, or why one failed (every plugin that checked or
 * restored a state of the reservation was called abort). */
typedef void (*DestRestored)(Reservation *r, const char *why);
void dest_state_restore(Reservation *r, ResNic *only, DestRestored done);
/* Every restored native NIC's plugins are called post_switchover (the
 * guest runs here with the device QEMU moved); a failure is logged and
 * kept in r->post_switchover_error, and @done is called with NULL. */
void dest_state_post_switchover(Reservation *r, DestRestored done);
/* The plugins' post_switchover calls for @r's NICs of @strategy: the next
 * state from (*nic, *state) on (both moved onto it) whose NIC is restored
 * and whose plugin is loaded here (*ret_plugin); NULL when none is left. */
ResState *dest_state_next_post(Reservation *r, NicStrategy strategy, guint *nic, guint *state,
                               Plugin **ret_plugin);
/* "plugin a for ua-vf0: what it said" appended to @errors, and logged. */
void dest_state_post_failed(Reservation *r, GString *errors, const ResState *st,
                            const ResNic *n, const char *error);
/* Calls abort on every plugin that checked or restored a state of @r and
 * was not called abort yet: the job failed or was undone. */
void dest_state_abort(Reservation *r);
/* The NIC's "states" in the API's JSON and in the record; and back (from
 * "states", or the one "state" of a record written before several plugins
 * per NIC). */
json_t *dest_state_to_json(const ResNic *n);
json_t *dest_state_to_record(const ResNic *n);
gboolean dest_state_from_record(ResNic *n, json_t *states, json_t *state, char **ret_why);
/* Drops @n's states (makes its list when it has none). */
void dest_state_clear(ResNic *n);
/* Whether @n has a state not restored yet. */
gboolean dest_state_pending(const ResNic *n);

/* dest-replug.c */
void dest_res_disarm(Reservation *r);
void dest_res_answer_all(Reservation *r, const GError *error);
/* Keeps the lifecycle registration on libvirt's current connection; after a
 * restart or a reconnect, looks at every guest whose replug is armed or
 * under way (it may have resumed meanwhile). */
void dest_events_ensure(Incoming *in);
void dest_events_stop(Incoming *in);

/* dest-source.c: asks the source's migd about @r's job when its source_url
 * is one of this host's [peer.NAME] migd_url; releases @r when the job is
 * final there or unknown. @at_expiry: @r's TTL has passed, so it is
 * released too when the source cannot be asked, and renewed when the job
 * still runs. */
void dest_ask_source(Incoming *in, Reservation *r, gboolean at_expiry);
gboolean dest_source_trusted(Incoming *in, const char *source_url);

/* dest-scan.c: reads what the running domains use, then calls @scanned on
 * the loop with @in_use (address -> domain); if migd shuts down meanwhile,
 * @answer gets the error instead. */
typedef void (*DestScanned)(Incoming *in, GHashTable *in_use, gpointer data);
void dest_scan(Incoming *in, DestScanned scanned, IncomingAnswer answer, gpointer data);

/* A deferred call's answer and its request, across a scan. */
typedef struct {
    IncomingAnswer answer;
    gpointer data;
    json_t *request;
} DestCall;

DestCall *dest_call_new(IncomingAnswer answer, gpointer data, json_t *request);
void dest_call_finish(DestCall *call, json_t *result, const GError *error);
/* An IncomingAnswer that finishes the DestCall in @data. */
void dest_call_failed(json_t *result, const GError *error, gpointer data);
