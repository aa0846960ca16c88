/* virt-facts URI DOMAIN ALIAS [SELF_URI DEST_URI]: runs the checks of
 * tests/unit/virt-facts.c against the real libvirt at URI (in the lab: a
 * running guest whose device ALIAS the guest acknowledges), then, with
 * SELF_URI (URI as the destination reaches it) and DEST_URI, the migration
 * checks; prints TAP. The same checks pass against
 * the fake in test-fake-virt; a failure here means the fake lies. */
#include <config.h>

#include <stdio.h>

#include "virt-facts.h"
#include "virt.h"

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) facts = NULL;
    g_autoptr(VirtConn) conn = NULL;
    guint failed = 0;

    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: %s URI DOMAIN ALIAS [SELF_URI DEST_URI]\n", argv[0]);
        return 2;
    }
    virt_global_init();
    conn = virt_ops_libvirt()->open(virt_ops_libvirt(), argv[1], &error);
    if (!conn) {
        fprintf(stderr, "cannot connect to %s: %s\n", argv[1], error->message);
        return 1;
    }
    facts = virt_facts_run(conn, argv[2], argv[3], "qemu+tcp://127.0.0.1:1/system");
    if (argc == 6) {
        g_autoptr(GPtrArray) more = virt_facts_run_migration(conn, argv[2], argv[4], argv[5]);

        g_ptr_array_extend_and_steal(facts, g_steal_pointer(&more));
    }
    printf("1..%u\n", facts->len);
    for (guint i = 0; i < facts->len; i++) {
        VirtFact *fact = g_ptr_array_index(facts, i);

        printf("%s %u - %s: %s\n", fact->ok ? "ok" : "not ok", i + 1, fact->name, fact->observed);
        failed += !fact->ok;
    }
    return failed ? 1 : 0;
}
