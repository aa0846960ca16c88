/* The seam between migd's steps and libvirt: a small table with one
 * operation per libvirt call the source's and destination's steps make,
 * implemented over libvirt (virt-ops.c) and, for unit tests, by an
 * in-memory hypervisor that behaves as libvirt 9.0 does as measured in the
 * lab (tests/unit/fake-virt.h).
 *
 * How to use it:
 * - The table comes from the Virt you already hold: `virt_ops(virt)`; a new
 *   reference to the local connection from `virt_conn(virt)` (NULL while
 *   disconnected). Another host's libvirt (the destination) is opened with
 *   `ops->open(ops, uri, &error)`. Drop a connection with virt_conn_unref().
 * - Domains are named by name. Every call blocks as libvirt's do, so call
 *   them in a worker (GTask), never on the main loop; event registration is
 *   the exception (it may be called on the loop, and events are delivered on
 *   the GLib main loop).
 * - A failure returns FALSE (or NULL, or -1) and sets a GError in
 *   VIRT_OPS_ERROR whose message is libvirt's and whose code says what the
 *   caller may need to tell apart (no such domain, not valid now, lost
 *   connection, ...). Outputs named ret_ are untouched on failure.
 *
 * Example (a worker detaching a NIC; the unit test drives the same code):
 *
 *     // on the loop: take a reference for the worker, drop it in the done callback
 *     VirtConn *conn = virt_conn(virt);      // NULL: not connected, say so
 *     // in the worker:
 *     const VirtOps *ops = virt_conn_ops(conn);        // or virt_ops(virt)
 *     g_autoptr(GError) error = NULL;
 *     if (!ops->detach_alias(conn, "labvm", "ua-vf0", &error))
 *         ... error->message: "internal error: no device found with alias ua-vf0"
 *     // events: ops->event_register(conn, "labvm", VIRT_EVENT_DEVICE_REMOVED, cb, data,
 *     //                             NULL, &error) on the loop; cb runs on the loop.
 *
 *     // in a unit test (libtestutil.a has the fake; see tests/unit/fake-virt.h):
 *     g_autoptr(FakeVirt) fv = fake_virt_new();        // host FAKE_VIRT_LOCAL
 *     fake_virt_add_host(fv, "qemu+tcp://10.200.0.2/system");   // a destination
 *     fake_virt_add_domain(fv, FAKE_VIRT_LOCAL, "labvm", xml, VIR_DOMAIN_RUNNING);
 *     fake_virt_script_unplug(fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0", FAKE_UNPLUG_NEVER);
 *     g_autoptr(Virt) virt = fake_virt_new_virt(fv);   // connected; virt_ops() is the fake
 *     ... start the step; fake_virt_flush(fv) delivers what is queued;
 *     fake_virt_remove_device(fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0") answers late;
 *     g_assert_false(fake_virt_has_device(fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#define VIRT_OPS_ERROR (virt_ops_error_quark())

/* What a caller can tell apart; the message always is libvirt's own. */
typedef enum {
    VIRT_OPS_ERROR_FAILED,              /* anything else */
    VIRT_OPS_ERROR_NO_DOMAIN,           /* VIR_ERR_NO_DOMAIN: no such domain on that host */
    VIRT_OPS_ERROR_OPERATION_INVALID,   /* VIR_ERR_OPERATION_INVALID: not now (not running, no job) */
    VIRT_OPS_ERROR_NO_SUPPORT,          /* VIR_ERR_NO_SUPPORT: the driver cannot do it */
    VIRT_OPS_ERROR_DISCONNECTED,        /* the connection is gone: reopen it */
    VIRT_OPS_ERROR_ABORTED,             /* VIR_ERR_OPERATION_ABORTED: a job was cancelled */
    VIRT_OPS_ERROR_CONFIG,              /* VIR_ERR_CONFIG_UNSUPPORTED, XML errors: e.g. an alias in use */
    VIRT_OPS_ERROR_TIMEOUT,             /* VIR_ERR_OPERATION_TIMEOUT: e.g. a job lock not freed */
    VIRT_OPS_ERROR_LAST
} VirtOpsErrorCode;

GQuark virt_ops_error_quark(void);

typedef struct _VirtOps VirtOps;
typedef struct _VirtConn VirtConn;

/* A connection; opaque to callers. Implementations embed it first. */
struct _VirtConn {
    const VirtOps *ops;
    gint refs;
};

VirtConn *virt_conn_ref(VirtConn *conn);
void virt_conn_unref(VirtConn *conn);           /* NULL-safe */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VirtConn, virt_conn_unref)

/* libvirt's QEMU driver's bandwidth "cap" when none is set, and its
 * largest (INT64_MAX bytes/s in MiB/s; virsh migrate-getspeed, 9.0). */
#define VIRT_SPEED_UNCAPPED_MIBPS 8796093022207ULL

typedef struct {
    int state;                  /* virDomainState: VIR_DOMAIN_RUNNING, ... */
    int reason;                 /* the state's reason (virDomainRunningReason, ...) */
    guint64 max_memory_kib;
    gboolean persistent;
} VirtDomainInfo;

/* A job's statistics (virDomainGetJobStats). Fields libvirt did not report are 0. */
typedef struct {
    int type;                   /* virDomainJobType: VIR_DOMAIN_JOB_NONE when no job */
    guint64 data_total, data_processed, data_remaining;
    guint64 memory_bps, dirty_rate_pps, page_size, iteration;
    guint64 downtime_ms, setup_time_ms, time_elapsed_ms;
} VirtJobStats;

/* A running domain and its live XML (list_running). */
typedef struct {
    char *name;
    char *xml;
} VirtDomainXml;

void virt_domain_xml_free(VirtDomainXml *d);

typedef enum {
    VIRT_EVENT_LIFECYCLE,               /* event, detail: virDomainEventType and its detail */
    VIRT_EVENT_DEVICE_REMOVED,          /* alias */
    VIRT_EVENT_DEVICE_REMOVAL_FAILED,   /* alias */
    VIRT_EVENT_DEVICE_ADDED,            /* alias */
    VIRT_EVENT_MIGRATION_ITERATION,     /* iteration */
    VIRT_EVENT_JOB_COMPLETED,           /* stats */
    VIRT_EVENT_LAST
} VirtEventKind;

const char *virt_event_kind_to_string(VirtEventKind kind);

/* One event; everything borrowed for the callback. */
typedef struct {
    VirtEventKind kind;
    const char *domain;
    int event, detail;
    const char *alias;
    int iteration;
    const VirtJobStats *stats;
} VirtEvent;

typedef void (*VirtEventFunc)(const VirtEvent *event, gpointer data);

/* Flags of get_xml are libvirt's VIR_DOMAIN_XML_* (SECURE, INACTIVE,
 * MIGRATABLE); flags of migrate are VIR_MIGRATE_*, and its params are
 * libvirt's typed parameters (VIR_MIGRATE_PARAM_*). */
struct _VirtOps {
    const char *name;           /* "libvirt", "fake" */
    gpointer data;              /* the implementation's */

    /* A new connection to @uri (the destination's libvirt). */
    VirtConn *(*open)(const VirtOps *ops, const char *uri, GError **error);
    /* The connection @conn of a Virt as a VirtConn (virt.c uses it). */
    VirtConn *(*wrap)(const VirtOps *ops, virConnectPtr conn, const char *uri);
    void (*free)(VirtConn *conn);       /* by virt_conn_unref() */

    /* Also the lookup: a domain that does not exist is VIRT_OPS_ERROR_NO_DOMAIN. */
    gboolean (*get_info)(VirtConn *conn, const char *domain, VirtDomainInfo *ret_info,
                         GError **error);
    char *(*get_xml)(VirtConn *conn, const char *domain, guint flags, GError **error);
    /* Every running domain (VirtDomainXml*, owning) with its live XML. */
    GPtrArray *(*list_running)(VirtConn *conn, GError **error);

    /* Live only. A detach returns once QEMU was asked; DEVICE_REMOVED says
     * the guest let go (or never comes). An attach's alias must be unused. */
    gboolean (*detach_alias)(VirtConn *conn, const char *domain, const char *alias,
                             GError **error);
    gboolean (*attach)(VirtConn *conn, const char *domain, const char *device_xml,
                       GError **error);

    /* @domain NULL: every domain. Returns an id >= 0, or -1 with @error set.
     * @notify frees @data once the registration is gone (not on failure). */
    int (*event_register)(VirtConn *conn, const char *domain, VirtEventKind kind,
                          VirtEventFunc cb, gpointer data, GDestroyNotify notify,
                          GError **error);
    void (*event_deregister)(VirtConn *conn, int id);

    /* The current job, or with @completed the last completed one (kept for
     * the next reader). No job is type VIR_DOMAIN_JOB_NONE, not an error. */
    gboolean (*job_stats)(VirtConn *conn, const char *domain, gboolean completed,
                          VirtJobStats *ret_stats, GError **error);
    /* Peer-to-peer: returns when the migration ended. */
    gboolean (*migrate)(VirtConn *conn, const char *domain, const char *dest_uri,
                        virTypedParameterPtr params, int nparams, guint flags, GError **error);
    gboolean (*abort_job)(VirtConn *conn, const char *domain, GError **error);
    gboolean (*set_max_downtime)(VirtConn *conn, const char *domain, guint64 downtime_ms,
                                 GError **error);
    /* The outgoing migration's bandwidth cap, in MiB/s (at most
     * VIRT_SPEED_UNCAPPED_MIBPS): a pause job holds its migration back
     * with it while migd makes the switchover (src-nic-pause.c). */
    gboolean (*set_max_speed)(VirtConn *conn, const char *domain, guint64 mibps, GError **error);
    gboolean (*start_postcopy)(VirtConn *conn, const char *domain, GError **error);
    gboolean (*suspend)(VirtConn *conn, const char *domain, GError **error);
    gboolean (*resume)(VirtConn *conn, const char *domain, GError **error);

    /* QEMU samples the guest's dirtied pages for @seconds; get_dirty_rate
     * says whether it is measured yet and the rate in MiB/s. */
    gboolean (*start_dirty_rate)(VirtConn *conn, const char *domain, int seconds,
                                 GError **error);
    gboolean (*get_dirty_rate)(VirtConn *conn, const char *domain, gboolean *ret_measured,
                               gint64 *ret_mibps, GError **error);
};

/* The implementation over libvirt. */
const VirtOps *virt_ops_libvirt(void);

/* The operations of @conn. */
const VirtOps *virt_conn_ops(VirtConn *conn);
