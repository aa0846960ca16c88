/* An in-memory hypervisor behind the VirtOps table (daemon/virt-ops.h) for
 * unit tests: hosts (by URI) with domains (name, state, live XML with
 * aliased devices), scriptable per test, that behaves as libvirt 9.0 does as
 * measured in the lab (tests/lab/README.md, "Facts for passthrough NICs";
 * ../shared/DESIGN.md section 8). tests/unit/test-fake-virt.c asserts each
 * of those facts: do not make the fake kinder than libvirt.
 *
 * - Calls are blocking and thread-safe, as libvirt's: run them in workers.
 *   Events are queued and delivered on the default GLib main context, in
 *   order; fake_virt_flush() runs the loop until none is left.
 * - Detach by alias returns at once; by default DEVICE_REMOVED follows on
 *   the loop and the device leaves the live XML then. Scripts: the event
 *   before the call returns, never (a guest with no OS: the device stays),
 *   or DEVICE_REMOVAL_FAILED. A second detach of a pending alias succeeds
 *   silently; an unknown alias fails as libvirt does.
 * - Attach with an alias in use fails with "non unique alias detected";
 *   else the device joins the live XML and DEVICE_ADDED follows.
 * - A migration moves the domain to the host of the destination URI (it
 *   must be a fake host): there it runs (resumed event), here it is gone
 *   (or shut off, when persistent and not undefined). It can be scripted to
 *   fail or to be held until the test ends it or the caller aborts it.
 * - A host can drop: every call on its open connections fails with
 *   VIRT_OPS_ERROR_DISCONNECTED and their events stop; opening fails until
 *   it is restored.
 * What tests/lab/test-virt-facts checks against libvirt 9.0 in the lab (the
 * same checks pass here, in test-fake-virt) is marked "measured" in
 * fake-virt.c; what is marked "assumed" is libvirt's wording or behaviour
 * as its source has it, not seen in the lab. */
#pragma once

#include "virt-ops.h"
#include "virt.h"

/* The host the Virt of fake_virt_new_virt() is connected to. */
#define FAKE_VIRT_LOCAL "test:///default"

typedef struct _FakeVirt FakeVirt;

/* A fake with one host, FAKE_VIRT_LOCAL. */
FakeVirt *fake_virt_new(void);
/* Frees @fv; every connection, Virt and worker using it must be gone. */
void fake_virt_free(FakeVirt *fv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeVirt, fake_virt_free)

const VirtOps *fake_virt_ops(FakeVirt *fv);

/* A Virt connected to FAKE_VIRT_LOCAL (libvirt's test driver keeps it
 * "connected"), whose virt_ops() are @fv's. Runs the loop until connected. */
Virt *fake_virt_new_virt(FakeVirt *fv);

void fake_virt_add_host(FakeVirt *fv, const char *uri);

/* A domain on host @uri with live XML @xml (its devices carry <alias>),
 * state @state (VIR_DOMAIN_RUNNING, ...); transient, 128 MiB. */
void fake_virt_add_domain(FakeVirt *fv, const char *uri, const char *name, const char *xml,
                          int state);
void fake_virt_set_persistent(FakeVirt *fv, const char *uri, const char *name,
                              const char *inactive_xml);

/* The domain's state, or -1 when it does not exist on @uri. */
int fake_virt_domain_state(FakeVirt *fv, const char *uri, const char *name);
/* Its live XML (new string), or NULL. */
char *fake_virt_domain_xml(FakeVirt *fv, const char *uri, const char *name);
/* Whether its live XML has a device with @alias. */
gboolean fake_virt_has_device(FakeVirt *fv, const char *uri, const char *name,
                              const char *alias);

typedef enum {
    FAKE_UNPLUG_REMOVED,        /* default: DEVICE_REMOVED on the loop after the call returned */
    FAKE_UNPLUG_REMOVED_EARLY,  /* DEVICE_REMOVED delivered before the detach call returns */
    FAKE_UNPLUG_NEVER,          /* no event, the device stays (a guest with no OS) */
    FAKE_UNPLUG_FAILED,         /* DEVICE_REMOVAL_FAILED, the device stays */
} FakeUnplug;

/* How the guest answers detaches of @alias from now on. */
void fake_virt_script_unplug(FakeVirt *fv, const char *uri, const char *domain,
                             const char *alias, FakeUnplug how);
/* The guest answers a detach scripted FAKE_UNPLUG_REMOVED after @ms on the
 * loop (measured: ~300 ms) instead of at the next idle. */
void fake_virt_set_unplug_delay(FakeVirt *fv, guint ms);

/* The guest lets go of @alias now: it leaves the live XML and DEVICE_REMOVED
 * is queued (for a detach scripted NEVER that the test ends by hand). */
void fake_virt_remove_device(FakeVirt *fv, const char *uri, const char *domain,
                             const char *alias);

/* The operations, to count calls and to make one fail. */
typedef enum {
    FAKE_OP_OPEN, FAKE_OP_GET_INFO, FAKE_OP_GET_XML, FAKE_OP_LIST_RUNNING,
    FAKE_OP_DETACH_ALIAS, FAKE_OP_ATTACH, FAKE_OP_EVENT_REGISTER, FAKE_OP_JOB_STATS,
    FAKE_OP_MIGRATE, FAKE_OP_ABORT_JOB, FAKE_OP_SET_MAX_DOWNTIME, FAKE_OP_START_POSTCOPY,
    FAKE_OP_SUSPEND, FAKE_OP_RESUME, FAKE_OP_START_DIRTY_RATE, FAKE_OP_GET_DIRTY_RATE,
    FAKE_OP_SET_MAX_SPEED,
    FAKE_OP_LAST
} FakeOp;

/* From now on each detach and attach call, on any host, appends a line to
 * the file @path ("virt detach ua-vf0 on test:///default"), as it is made:
 * a test that also has a plugin log there sees the order of both. */
void fake_virt_set_journal(FakeVirt *fv, const char *path);

/* The next @op on host @uri fails with @code and libvirt's @message. */
void fake_virt_fail_next(FakeVirt *fv, const char *uri, FakeOp op, VirtOpsErrorCode code,
                         const char *message);
/* How many times @op was called on host @uri (failures included). */
guint fake_virt_calls(FakeVirt *fv, const char *uri, FakeOp op);

typedef enum {
    FAKE_MIGRATE_COMPLETE,      /* default: the guest moves, the call returns 0 */
    FAKE_MIGRATE_FAIL,          /* the call fails, the guest stays running here */
    FAKE_MIGRATE_HOLD,          /* the job runs until fake_virt_end_migration() or an abort */
    FAKE_MIGRATE_HOLD_ONCE,     /* the next one is held; those after it complete */
} FakeMigrate;

/* How the next migrations of @domain from @uri go (also before @domain
 * is there); @stats (may be NULL) is what job_stats reports while it runs
 * and, completed, at the end. */
void fake_virt_script_migration(FakeVirt *fv, const char *uri, const char *domain,
                                FakeMigrate how, const VirtJobStats *stats, const char *error);
/* Ends a held migration: @ok moves the guest, else it fails with @error. */
void fake_virt_end_migration(FakeVirt *fv, const char *uri, const char *domain, gboolean ok,
                             const char *error);
/* A new memory pass of the held migration: stats.iteration and the event. */
void fake_virt_migration_iteration(FakeVirt *fv, const char *uri, const char *domain,
                                   int iteration);
/* Whether a migrate call of @domain is in progress on @uri. */
gboolean fake_virt_migrating(FakeVirt *fv, const char *uri, const char *domain);

/* What the last migrate call of @domain asked for (strings owned by @fv). */
typedef struct {
    const char *dest_uri;
    guint flags;
    const char *dest_xml;       /* VIR_MIGRATE_PARAM_DEST_XML, or NULL */
    const char *persist_xml;    /* VIR_MIGRATE_PARAM_PERSIST_XML, or NULL */
    guint64 bandwidth_mibps;
    guint64 max_downtime_ms;    /* last set_max_downtime */
    guint64 max_speed_mibps;    /* the cap now: the migrate call's, then set_max_speed's */
    guint speed_changes;        /* set_max_speed calls during the migration */
    guint64 speed_at_suspend;   /* the cap when suspend was last called */
    gboolean postcopy_started;
} FakeMigrateCall;

gboolean fake_virt_last_migration(FakeVirt *fv, const char *uri, const char *domain,
                                  FakeMigrateCall *ret_call);

/* The same, for its bandwidth cap and the suspend (max_speed_mibps,
 * speed_changes, speed_at_suspend) also without a migrate call: libvirt
 * takes a cap set outside a migration for the next one. */
gboolean fake_virt_speed(FakeVirt *fv, const char *uri, const char *domain,
                         FakeMigrateCall *ret_call);

/* QEMU's measured dirty rate for @domain (default: none, never measured). */
void fake_virt_set_dirty_rate(FakeVirt *fv, const char *uri, const char *domain,
                              gint64 mibps);

/* libvirtd of @uri goes away / comes back. While it is away, virt_conn() of
 * the Virt of fake_virt_new_virt() returns NULL (virt_is_connected() does
 * not follow: Virt's own state is libvirt's test driver's). */
void fake_virt_drop(FakeVirt *fv, const char *uri);
void fake_virt_restore(FakeVirt *fv, const char *uri);

/* Runs the default main context until no event is queued or delayed. */
void fake_virt_flush(FakeVirt *fv);
