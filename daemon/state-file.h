/* What the files in the state directory that migd rewrites whole
 * (leases.json, reservations.json) share when they are read at start. */
#pragma once

#include <glib.h>

/* Deletes in @dir what a store_write_json() of @name that did not finish
 * left behind; the file it was to replace is still whole. */
void state_file_delete_temps(const char *dir, const char *name);

/* Sets the corrupt file @path aside as @path.corrupt for a person to read,
 * and logs a warning that says what is wrong with it (@why, "is not valid
 * JSON ...") and what that means (@consequence, a sentence). Fails with
 * MIGD_ERROR_CONFIG when it cannot be renamed. */
gboolean state_file_set_aside(const char *path, const char *why, const char *consequence,
                              GError **error);
