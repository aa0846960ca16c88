/* Failpoints: named places where migd can be made to die on purpose, so
 * that the lab's fault tests (tests/lab/test-faults) can check what a
 * restarted migd does with a job it left half done. They are armed only by
 * the MIGD_FAILPOINTS environment variable (a comma-separated list of names
 * from the table in failpoint.c); without it failpoint() costs one branch. */
#pragma once

#include <glib.h>

/* Reads MIGD_FAILPOINTS once. FALSE, with a sentence naming the unknown
 * point, when it names a point that is not in the table: a test must not
 * believe it armed a point that does not exist. */
gboolean failpoint_init(GError **error);

/* Dies at once (SIGKILL to itself, as a crash would) when @name is armed.
 * @name must be in the table; a name that is not is a bug and aborts. */
void failpoint(const char *name);

/* The table, NULL-terminated, for `migd --list-failpoints` and the docs. */
const char *const *failpoint_names(void);
