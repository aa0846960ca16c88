/* The libvirt implementation of the table, against libvirt's test driver
 * (test:///default: one running domain "test"; no hotplug, no jobs):
 * results, error codes and libvirt's own words, events on the loop. */
#include <config.h>

#include <string.h>

#include "virt.h"

typedef struct {
    const VirtOps *ops;
    virConnectPtr lv;           /* what the wrapper holds (virt.c's way) */
    VirtConn *conn;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->ops = virt_ops_libvirt();
    f->lv = virConnectOpen("test:///default");
    g_assert_nonnull(f->lv);
    f->conn = f->ops->wrap(f->ops, f->lv, "test:///default");
    g_assert_no_error(error);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    virt_conn_unref(f->conn);
    (void)virConnectClose(f->lv);
}

static void
test_info(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    VirtDomainInfo info = { 0 };

    g_assert_true(f->ops->get_info(f->conn, "test", &info, &error));
    g_assert_no_error(error);
    g_assert_cmpint(info.state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpuint(info.max_memory_kib, >, 0);
    g_assert_true(info.persistent);
    info.state = 42;
    g_assert_false(f->ops->get_info(f->conn, "nosuch", &info, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_DOMAIN);
    g_assert_cmpint(info.state, ==, 42);
}

/* An error libvirt has no code of ours for keeps its words (they were once
 * read after libvirt had reset them). */
static void
test_error_words(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_null(f->ops->get_xml(f->conn, "test", 1u << 30, &error));
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "unsupported flags (0x40000000)"));
    g_clear_error(&error);
    g_assert_false(f->ops->detach_alias(f->conn, "test", "net0", &error));
    /* libvirt 9.0's test driver cannot detach; 11.3's can, and looks for
     * the alias, which its guest does not have. */
    if (g_error_matches(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_SUPPORT)) {
        g_assert_nonnull(strstr(error->message, "not supported"));
    } else {
        g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_FAILED);
        g_assert_nonnull(strstr(error->message, "no device found with alias net0"));
    }
}

static void
test_list_running(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) running = f->ops->list_running(f->conn, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(running->len, ==, 1);
    g_assert_cmpstr(((VirtDomainXml *)running->pdata[0])->name, ==, "test");
    g_assert_nonnull(strstr(((VirtDomainXml *)running->pdata[0])->xml, "<name>test</name>"));
}

static void
on_lifecycle(const VirtEvent *ev, gpointer data)
{
    GPtrArray *seen = data;

    g_ptr_array_add(seen, g_strdup_printf("%s %d/%d", ev->domain, ev->event, ev->detail));
}

/* Events arrive on the loop, translated; the notify runs once deregistered. */
static void
test_events(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *expected = g_strdup_printf("test %d/%d", VIR_DOMAIN_EVENT_SUSPENDED,
                                                VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
    int id = f->ops->event_register(f->conn, "test", VIRT_EVENT_LIFECYCLE, on_lifecycle,
                                    g_ptr_array_ref(seen), (GDestroyNotify)g_ptr_array_unref,
                                    &error);

    g_assert_no_error(error);
    g_assert_cmpint(id, >=, 0);
    g_assert_true(f->ops->suspend(f->conn, "test", &error));
    while (seen->len == 0)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, expected);
    g_assert_true(f->ops->resume(f->conn, "test", &error));
    /* The test driver's words, not QEMU's ("internal error: domain 'test' not paused"). */
    g_assert_false(f->ops->resume(f->conn, "test", &error));
    g_assert_nonnull(strstr(error->message, "not paused"));
    f->ops->event_deregister(f->conn, id);
    g_assert_cmpint(f->ops->event_register(f->conn, "nosuch", VIRT_EVENT_LIFECYCLE, on_lifecycle,
                                           NULL, NULL, NULL), ==, -1);
}

/* libvirt refuses a second registration of one callback ("event callback
 * already tracked"); the table shares one, so two watches of one event on
 * one connection (two jobs on one host) both hear it, through two wrappers
 * of the connection, and one that is gone hears nothing more. */
static void
test_events_shared(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) two = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
    VirtConn *again = f->ops->wrap(f->ops, f->lv, "test:///default");
    int ids[3];

    ids[0] = f->ops->event_register(f->conn, NULL, VIRT_EVENT_LIFECYCLE, on_lifecycle,
                                    g_ptr_array_ref(one), (GDestroyNotify)g_ptr_array_unref,
                                    &error);
    g_assert_no_error(error);
    ids[1] = f->ops->event_register(again, "test", VIRT_EVENT_LIFECYCLE, on_lifecycle,
                                    g_ptr_array_ref(two), (GDestroyNotify)g_ptr_array_unref,
                                    &error);
    g_assert_no_error(error);
    ids[2] = f->ops->event_register(again, NULL, VIRT_EVENT_LIFECYCLE, on_lifecycle,
                                    g_ptr_array_ref(gone), (GDestroyNotify)g_ptr_array_unref,
                                    &error);
    g_assert_no_error(error);
    g_assert_cmpint(ids[0], !=, ids[1]);
    f->ops->event_deregister(again, ids[2]);
    g_assert_true(f->ops->suspend(f->conn, "test", &error));
    while (one->len == 0 || two->len == 0)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_true(f->ops->resume(f->conn, "test", &error));
    while (one->len < 2 || two->len < 2)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(gone->len, ==, 0);
    g_assert_cmpstr(g_ptr_array_index(one, 0), ==, g_ptr_array_index(two, 0));
    f->ops->event_deregister(f->conn, ids[0]);
    f->ops->event_deregister(again, ids[1]);
    virt_conn_unref(again);
}

static void
on_nothing(const VirtEvent *ev, gpointer data)
{
}

/* The last watch of a kind goes and a new one comes (a replug's next
 * attempt): libvirt's registration is dropped and made again. */
static void
test_events_again(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < 3; i++) {
        int id = f->ops->event_register(f->conn, NULL, VIRT_EVENT_DEVICE_ADDED, on_nothing, NULL,
                                        NULL, &error);

        g_assert_no_error(error);
        g_assert_cmpint(id, >=, 0);
        f->ops->event_deregister(f->conn, id);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virt_global_init();
    g_test_add("/virt-ops/info", Fixture, NULL, setup, test_info, teardown);
    g_test_add("/virt-ops/error-words", Fixture, NULL, setup, test_error_words, teardown);
    g_test_add("/virt-ops/list-running", Fixture, NULL, setup, test_list_running, teardown);
    g_test_add("/virt-ops/events", Fixture, NULL, setup, test_events, teardown);
    g_test_add("/virt-ops/events-again", Fixture, NULL, setup, test_events_again, teardown);
    g_test_add("/virt-ops/events-shared", Fixture, NULL, setup, test_events_shared, teardown);
    return g_test_run();
}
