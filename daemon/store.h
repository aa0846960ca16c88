/* Durable job records: one JSON file per migration job in <state_dir>/jobs,
 * written before each side effect starts so that a restarted migd knows what
 * it may have done. */
#pragma once

#include <glib.h>
#include <jansson.h>

typedef struct _Store Store;

/* Opens <state_dir>/jobs, creating it (and missing parents) with mode 0700.
 * Fails with MIGD_ERROR_CONFIG, naming the directory and the system error,
 * when it cannot be created or is not writable. */
Store *store_open(const char *state_dir, GError **error);

void store_free(Store *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Store, store_free)

/* The jobs directory, for messages. */
const char *store_dir(Store *store);

/* Writes @record as <id>.json, atomically and durably: a crash at any point
 * leaves the old record or the new one, never a torn file. @id must be a
 * lower-case UUID and @record an object whose "id" member is @id, so that
 * what is saved always loads (MIGD_ERROR_INVALID_ARGUMENT otherwise). On any
 * other failure (MIGD_ERROR_INTERNAL) the caller must not start the side
 * effect: the new record may or may not have reached the disk. */
gboolean store_save(Store *store, const char *id, json_t *record, GError **error);

/* Removes <id>.json; removing a record that is not there succeeds. */
gboolean store_remove(Store *store, const char *id, GError **error);

/* Replaces the file @path with @value as indented JSON, atomically and
 * durably: the text goes to a temp file in the same directory (named
 * STORE_TEMP_PREFIX, @path's name, '-' and a random suffix), which is
 * flushed, renamed over @path, and the directory flushed; a crash at any
 * point leaves the old file or the new one. Fails with MIGD_ERROR_INTERNAL,
 * naming @path and the system error, leaving no temp file behind. */
gboolean store_write_json(const char *path, json_t *value, GError **error);

/* Hidden and not ending in .json: neither a loader nor an operator's
 * "ls *.json" can take a half-written file for the real one. */
#define STORE_TEMP_PREFIX ".tmp-"

/* Takes one loaded record, a new reference. */
typedef void (*StoreTake)(json_t *record, gpointer data);

/* Loads the records one by one, as store_load_all() says but in no given
 * order, handing each to @take as it is read: a start with many records
 * never holds them all parsed at once. When it fails, @take may have had
 * some of them. */
gboolean store_load_each(Store *store, StoreTake take, gpointer data, GPtrArray **ret_problems,
                         GError **error);

/* Loads every record, sorted by its "created_at" string member (ISO 8601
 * UTC, so string order is time order; records without one come first), then
 * by id. A record that does not parse, is not an object, or whose "id"
 * member is not its file name is renamed to <name>.corrupt and described in
 * @ret_problems (sentences for the log; pass NULL to drop them) instead of
 * failing. Temporary files left by a crash inside store_save() are deleted.
 * Fails (MIGD_ERROR_INTERNAL) only when the directory or a record cannot be
 * read or renamed: migd must not start believing a job it cannot read does
 * not exist. Returns an array of json_t * that owns its records. */
GPtrArray *store_load_all(Store *store, GPtrArray **ret_problems, GError **error);
