/* The destination's look at its running domains: which pool devices they
 * use, read in a worker, for GET /v1/vfs and before a VF is leased. */
#include <config.h>

#include "dest-priv.h"
#include "domxml.h"
#include "error.h"

/* The running domains' live XML is read in a worker: libvirt holds a
 * domain while its qemu hook runs, and the hook asks this migd, so the loop
 * must never wait for one. What the XML says is worked out on the loop. */
typedef struct {
    Incoming *in;
    VirtConn *conn;
    GPtrArray *domains;         /* VirtDomainXml*: the running domains and their live XML */
    DestScanned scanned;
    IncomingAnswer answer;      /* for a shutdown in between */
    gpointer data;
    char *error;                /* why the domains could not be listed or read */
} IncomingScan;

static void
incoming_scan_free(gpointer p)
{
    IncomingScan *scan = p;

    virt_conn_unref(scan->conn);
    if (scan->domains)
        g_ptr_array_unref(scan->domains);
    g_free(scan->error);
    g_free(scan);
}

static void
incoming_scan_thread(GTask *task, gpointer source, gpointer p, GCancellable *cancellable)
{
    IncomingScan *scan = p;
    g_autoptr(GError) error = NULL;

    scan->domains = virt_conn_ops(scan->conn)->list_running(scan->conn, &error);
    if (!scan->domains)
        scan->error = g_strdup_printf("cannot list the running domains: %s", error->message);
}

static void
incoming_scan_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
    IncomingScan *scan = g_task_get_task_data(G_TASK(result));
    g_autoptr(GHashTable) in_use = NULL;
    Incoming *in = scan->in;

    /* Let go of libvirt here: the worker may drop the task a little later. */
    g_clear_pointer(&scan->conn, virt_conn_unref);
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(result)))) {
        g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_SHUTTING_DOWN,
                                              "migd is shutting down; ask again once it is back");

        scan->answer(NULL, error, scan->data);
        return;
    }
    if (scan->error) {
        /* Without the list nothing can be known to be free: no lease. */
        g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                                              "migd on this host %s, so it cannot tell which "
                                              "VFs are in use", scan->error);

        scan->answer(NULL, error, scan->data);
        return;
    }
    /* address -> domain: every pool device that a domain here uses. */
    in_use = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < scan->domains->len; i++) {
        const VirtDomainXml *d = g_ptr_array_index(scan->domains, i);
        g_autoptr(GPtrArray) nics = domxml_find_nics(d->xml, pool_set_lookup, in->pools,
                                                      NULL);

        for (guint j = 0; nics && j < nics->len; j++) {
            const DomNic *nic = g_ptr_array_index(nics, j);

            if (nic->pool && nic->address)
                g_hash_table_replace(in_use, g_strdup(nic->address),
                                     g_strdup(d->name));
        }
    }
    scan->scanned(in, in_use, scan->data);
}

/* Reads what the running domains use, then calls @scanned on the loop; if
 * migd shuts down meanwhile, @answer gets the error instead. */
void
dest_scan(Incoming *in, DestScanned scanned, IncomingAnswer answer, gpointer data)
{
    VirtConn *conn = virt_conn(in->virt);
    g_autoptr(GTask) task = NULL;
    IncomingScan *scan;

    if (!conn) {
        /* Without libvirt nothing can be known to be in use; say so. */
        g_autoptr(GError) error = g_error_new(MIGD_ERROR, MIGD_ERROR_LIBVIRT_DISCONNECTED,
                                              "migd is not connected to libvirt at %s, so it "
                                              "cannot tell which VFs are in use",
                                              virt_uri(in->virt));

        answer(NULL, error, data);
        return;
    }
    scan = g_new0(IncomingScan, 1);
    scan->in = in;
    scan->conn = conn;
    scan->scanned = scanned;
    scan->answer = answer;
    scan->data = data;
    task = g_task_new(NULL, in->cancellable, incoming_scan_done, NULL);
    g_task_set_task_data(task, scan, incoming_scan_free);
    g_task_run_in_thread(task, incoming_scan_thread);
}

DestCall *
dest_call_new(IncomingAnswer answer, gpointer data, json_t *request)
{
    DestCall *call = g_new0(DestCall, 1);

    call->answer = answer;
    call->data = data;
    call->request = request ? json_incref(request) : NULL;
    return call;
}

void
dest_call_finish(DestCall *call, json_t *result, const GError *error)
{
    call->answer(result, error, call->data);
    json_decref(call->request);
    g_free(call);
}

/* After a shutdown cut a scan short: the caller still gets its answer. */
void
dest_call_failed(json_t *result, const GError *error, gpointer data)
{
    dest_call_finish(data, result, error);
}

static void
incoming_vfs_scanned(Incoming *in, GHashTable *in_use, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) vfs = pool_set_vfs(in->pools, &error);
    g_autoptr(json_t) result = vfs ? lease_vfs_to_json(in->leases, vfs, in_use) : NULL;

    dest_call_finish(data, result, error);
}

void
incoming_vfs(Incoming *in, IncomingAnswer answer, gpointer data)
{
    dest_scan(in, incoming_vfs_scanned, dest_call_failed,
                  dest_call_new(answer, data, NULL));
}
