/* libvirt's behaviour that the fake models, written once as checks that run
 * through any VirtOps: against the fake in test-fake-virt, and against the
 * real libvirt in the lab (tests/tools/virt-facts, tests/lab/test-virt-facts).
 * A difference between the two is a bug in the fake (or a new libvirt). */
#pragma once

#include "virt-ops.h"

typedef struct {
    const char *name;           /* "detach/unknown-alias", ... */
    gboolean ok;
    char *observed;             /* what happened, in words */
} VirtFact;

void virt_fact_free(VirtFact *fact);

/* Runs every check on the running @domain of @conn, whose device @alias is
 * unplugged and plugged back once (the guest must acknowledge both within
 * 5 s); returns the results (VirtFact*, owning). The checks block, so they
 * run in a thread while this runs the default main context for the events.
 * @unreachable_uri is a libvirt URI where nothing listens. */
GPtrArray *virt_facts_run(VirtConn *conn, const char *domain, const char *alias,
                          const char *unreachable_uri);

/* Migrates @domain from @conn (which @self_uri reaches from the
 * destination) to @dest_uri and checks the events, where the guest ends up
 * and the completed statistics; then starts a migration back that must
 * still run after a few seconds (the fake: scripted to hold; libvirt: a
 * 1 MiB/s cap), refuses post-copy and aborts it. The guest ends on
 * @dest_uri. */
GPtrArray *virt_facts_run_migration(VirtConn *conn, const char *domain, const char *self_uri,
                                    const char *dest_uri);
