/* The state directory's whole-file tables, read back at start: temp files
 * of an unfinished save are deleted, a corrupt table is set aside. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "state-file.h"
#include "store.h"

#define STATE_FILE_CORRUPT_SUFFIX ".corrupt"

void
state_file_delete_temps(const char *dir_path, const char *name)
{
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    g_autofree char *prefix = g_strconcat(STORE_TEMP_PREFIX, name, "-", NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir))) {
        g_autofree char *path = NULL;

        if (!g_str_has_prefix(entry, prefix))
            continue;
        path = g_build_filename(dir_path, entry, NULL);
        if (unlink(path) == 0)
            g_debug("Deleted %s, left by a save of %s that did not finish.", path, name);
        else
            g_debug("Cannot delete %s, left by a save of %s that did not finish: %s; it is "
                    "never read.", path, name, g_strerror(errno));
    }
}

gboolean
state_file_set_aside(const char *path, const char *why, const char *consequence,
                     GError **error)
{
    g_autofree char *aside = g_strconcat(path, STATE_FILE_CORRUPT_SUFFIX, NULL);
    int err;

    if (rename(path, aside) < 0) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG, "cannot rename the corrupt file %s "
                    "to %s: %s", path, aside, g_strerror(err));
        return FALSE;
    }
    log_structured(G_LOG_LEVEL_WARNING, LOG_FIELDS("MIGD_FILE", path),
                   "%s %s; it was renamed to %s and %s", path, why, aside, consequence);
    return TRUE;
}
