/* The libvirt implementation of the table, against libvirt's test driver
 * (test:///default: one running domain "test"; no hotplug, no jobs):
 * results, error codes and libvirt's own words, events on the loop. */
#include <config.h>

#include <string.h>

#include "virt.h"

typedef struct {
    const VirtOps *ops;
    VirtConn *conn;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->ops = virt_ops_libvirt();
    f->conn = f->ops->open(f->ops, "test:///default", &error);
    g_assert_no_error(error);
}

static void
teardown(Fixture *f, gconstpointer data)
{
    virt_conn_unref(f->conn);
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
    g_assert_error(error, VIRT_OPS_ERROR, VIRT_OPS_ERROR_NO_SUPPORT);
    g_assert_nonnull(strstr(error->message, "not supported"));
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

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virt_global_init();
    g_test_add("/virt-ops/info", Fixture, NULL, setup, test_info, teardown);
    g_test_add("/virt-ops/error-words", Fixture, NULL, setup, test_error_words, teardown);
    g_test_add("/virt-ops/list-running", Fixture, NULL, setup, test_list_running, teardown);
    g_test_add("/virt-ops/events", Fixture, NULL, setup, test_events, teardown);
    return g_test_run();
}
