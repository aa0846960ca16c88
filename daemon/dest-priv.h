/* What the destination side's files (dest-*.c) share: a reservation, what
 * the source's migd holds on this host for one job, and the Incoming object
 * that owns them. Only dest-*.c include it. */
#pragma once

#include <gio/gio.h>
#include <jansson.h>
#include <libvirt/libvirt.h>

#include "hotplug.h"
#include "incoming.h"
#include "lease.h"
#include "jsonutil.h"
#include "pool.h"

typedef enum {
    RES_RESERVED,
    RES_ARMED,          /* replugs as soon as the guest resumes here */
    RES_REPLUGGING,
    RES_DONE,
} ResState;

typedef struct {
    char *alias;
    char *mac;
    guint vlan;
    char *pool;
    char *address;      /* the leased VF */
    char *driver;       /* what the guest's driver for it is called, when known */
    char *device_xml;   /* what is plugged */
} ResNic;

typedef struct {
    Incoming *in;
    char *id;           /* the source's job id */
    char *domain;
    char *source;
    char *strategy;     /* unplug, native or none */
    GPtrArray *nics;    /* ResNic* */
    ResState state;
    gint64 expires_us;  /* wall clock */

    int lifecycle_cb;
    virConnectPtr conn;
    gint64 resumed_us;  /* monotonic, when the guest resumed here */
    guint nic_index;    /* the NIC being plugged */
    guint attempt;
    guint retry_source;
    Hotplug *hp;
    GCancellable *cancellable;
    gint64 replug_ms, verify_ms;
    gint64 guest_outage_ms;     /* -1: the guest has no probe */
    char *detail_verify;        /* what the verification said, until the probe answers */
    gboolean ok;
    GString *detail;
    GPtrArray *answers; /* ResAnswer*: replug calls waiting for the outcome */
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
    LeaseTable *leases;
    GHashTable *reservations;   /* id -> Reservation */
    GQueue waiting;             /* Waiter*, in the order they first asked */
    guint expire_source;
};

/* dest-reservations.c */
void dest_res_free(gpointer data);
json_t *dest_res_to_json(const Reservation *r);
Reservation *dest_lookup(Incoming *in, const char *id, GError **error);
Reservation *dest_find_domain(Incoming *in, const char *domain);

/* dest-replug.c */
void dest_res_disarm(Reservation *r);
void dest_res_answer_all(Reservation *r, const GError *error);

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
