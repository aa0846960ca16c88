/* Job records on disk: <state_dir>/jobs/<id>.json, each replaced by writing a
 * temporary file, flushing it, renaming it over the record and flushing the
 * directory, so that a crash leaves the old record or the new one. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "store.h"

#define STORE_ID_LEN 36
#define STORE_ID_CHARS "0123456789abcdef-"
#define STORE_RECORD_SUFFIX ".json"
#define STORE_CORRUPT_SUFFIX ".corrupt"

struct _Store {
    char *dir;
};

/* Only what g_uuid_string_random() makes: no '/' or '.', so no id can name a
 * file outside the directory, and no id can be mistaken for a temp file. */
static gboolean
store_id_is_valid(const char *id)
{
    return id && strlen(id) == STORE_ID_LEN && strspn(id, STORE_ID_CHARS) == STORE_ID_LEN;
}

static gboolean
store_check_id(const char *id, GError **error)
{
    if (!store_id_is_valid(id)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "'%s' is not a job id; job ids are lower-case UUIDs such as "
                    "1b4e28ba-2fa1-41d2-883f-0016d3cca427", id ? id : "");
        return FALSE;
    }
    return TRUE;
}

/* <id>.json, as opposed to temp files, set-aside corrupt records and
 * whatever else an operator left in the directory. */
static gboolean
store_name_is_record(const char *name)
{
    return strlen(name) == STORE_ID_LEN + strlen(STORE_RECORD_SUFFIX) &&
           strspn(name, STORE_ID_CHARS) == STORE_ID_LEN &&
           g_str_has_suffix(name, STORE_RECORD_SUFFIX);
}

static char *
store_record_path(Store *store, const char *id)
{
    return g_strdup_printf("%s/%s" STORE_RECORD_SUFFIX, store->dir, id);
}

/* The g_mkstemp() template of the file that store_write_json() writes
 * @path's next content to before renaming it into place. */
static char *
store_temp_template(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *name = g_path_get_basename(path);

    return g_strdup_printf("%s/" STORE_TEMP_PREFIX "%s-XXXXXX", dir, name);
}

/* A new, renamed or removed entry is durable only once its directory is. */
static gboolean
store_sync_dir(const char *dir, GError **error)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = 0;

    if (fd < 0 || fsync(fd) < 0)
        err = errno;
    if (fd >= 0)
        (void)close(fd);
    if (err != 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot flush the directory %s to disk: %s", dir, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

Store *
store_open(const char *state_dir, GError **error)
{
    g_autofree char *dir = g_build_filename(state_dir, "jobs", NULL);
    Store *store;
    int err;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "cannot create the job directory %s: %s; migd records every migration "
                    "there before acting, so check state_dir in migd.conf", dir, g_strerror(err));
        return NULL;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG,
                    "the job directory %s is not writable: %s; migd records every migration "
                    "there before acting, so check its owner, its mode and the file system",
                    dir, g_strerror(err));
        return NULL;
    }
    /* The jobs directory itself may have just been created. */
    if (!store_sync_dir(state_dir, error))
        return NULL;
    store = g_new0(Store, 1);
    store->dir = g_steal_pointer(&dir);
    return store;
}

void
store_free(Store *store)
{
    if (!store)
        return;
    g_free(store->dir);
    g_free(store);
}

const char *
store_dir(Store *store)
{
    return store->dir;
}

/* What store_save() writes must come back from store_load_all(). */
static gboolean
store_check_record(const char *id, json_t *record, GError **error)
{
    if (!json_is_object(record) ||
        g_strcmp0(json_string_value(json_object_get(record, "id")), id) != 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT,
                    "refusing to save job %s: its record must be a JSON object whose \"id\" "
                    "member is that id, or it would not load back", id);
        return FALSE;
    }
    return TRUE;
}

/* Creates a file from @tmpl (updated to its name), writes @text and flushes
 * it to disk. Returns 0, or an errno value with no file left behind. */
static int
store_write_temp(char *tmpl, const char *text)
{
    size_t left = strlen(text);
    int fd = g_mkstemp_full(tmpl, O_WRONLY | O_CLOEXEC, 0600);
    int err = 0;

    if (fd < 0)
        return errno;
    while (left > 0) {
        ssize_t written = write(fd, text, left);

        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0) {
            err = errno;
            break;
        }
        text += written;
        left -= (size_t)written;
    }
    if (err == 0 && fsync(fd) < 0)
        err = errno;
    if (close(fd) < 0 && err == 0)
        err = errno;
    if (err != 0)
        (void)unlink(tmpl);
    return err;
}

gboolean
store_write_json(const char *path, json_t *value, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *tmp = NULL;
    g_autofree char *text = NULL;
    char *dumped;
    int err;

    dumped = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!dumped) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot write %s: jansson could not serialise what belongs in it", path);
        return FALSE;
    }
    text = g_strconcat(dumped, "\n", NULL);
    free(dumped);

    tmp = store_temp_template(path);
    err = store_write_temp(tmp, text);
    if (err == 0 && rename(tmp, path) < 0) {
        err = errno;
        (void)unlink(tmp);
    }
    if (err != 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot write %s: %s", path,
                    g_strerror(err));
        return FALSE;
    }
    return store_sync_dir(dir, error);
}

gboolean
store_save(Store *store, const char *id, json_t *record, GError **error)
{
    g_autofree char *path = NULL;

    if (!store_check_id(id, error) || !store_check_record(id, record, error))
        return FALSE;
    path = store_record_path(store, id);
    return store_write_json(path, record, error);
}

gboolean
store_remove(Store *store, const char *id, GError **error)
{
    g_autofree char *path = NULL;
    int err;

    if (!store_check_id(id, error))
        return FALSE;
    path = store_record_path(store, id);
    if (unlink(path) < 0) {
        err = errno;
        if (err == ENOENT)
            return TRUE;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot remove %s: %s", path,
                    g_strerror(err));
        return FALSE;
    }
    return store_sync_dir(store->dir, error);
}

static int
store_compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's entries, sorted so that problems come in a stable order. */
static GPtrArray *
store_list(Store *store, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    DIR *dir = opendir(store->dir);
    struct dirent *entry;
    int err;

    if (!dir) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot read the job directory %s: %s", store->dir, g_strerror(err));
        return NULL;
    }
    for (;;) {
        errno = 0;
        entry = readdir(dir);
        if (!entry)
            break;
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            g_ptr_array_add(names, g_strdup(entry->d_name));
    }
    err = errno;
    (void)closedir(dir);
    if (err != 0) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot read the job directory %s: %s", store->dir, g_strerror(err));
        return NULL;
    }
    g_ptr_array_sort(names, store_compare_names);
    return g_steal_pointer(&names);
}

/* A temp file outlived the store_save() that made it: the record it was to
 * replace, if any, is still whole. Failing to delete it is harmless, since it
 * is never read, but worth a word. */
static void
store_delete_temp(Store *store, const char *name, GPtrArray *problems)
{
    g_autofree char *path = g_build_filename(store->dir, name, NULL);
    int err;

    if (unlink(path) == 0) {
        g_debug("Deleted %s, left by a save that did not finish.", path);
        return;
    }
    err = errno;
    g_ptr_array_add(problems, g_strdup_printf(
        "cannot delete %s, left by a save that did not finish: %s; it is never read, "
        "so delete it by hand when convenient", path, g_strerror(err)));
}

/* Why the text of @name is not a record of the job it names, or NULL. */
static char *
store_check_loaded(const char *name, const char *text, gsize len, json_t **ret_record)
{
    json_error_t jerr;
    json_t *record = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *id;
    char *why = NULL;

    if (!record)
        return g_strdup_printf("is not valid JSON (line %d: %s)", jerr.line, jerr.text);
    id = json_string_value(json_object_get(record, "id"));
    if (!json_is_object(record))
        why = g_strdup("is not a JSON object");
    else if (!id)
        why = g_strdup("has no \"id\" string member");
    else if (strlen(id) != STORE_ID_LEN || strncmp(id, name, STORE_ID_LEN) != 0)
        why = g_strdup_printf("says it is the record of job '%s', not of the job it is named for",
                              id);
    if (why)
        json_decref(record);
    else
        *ret_record = record;
    return why;
}

/* Hands the record in @name to @take, or renames a corrupt one to
 * <name>.corrupt, keeping it for a person to read, and says so in @problems.
 * Fails only when the file cannot be read or renamed. */
static gboolean
store_load_one(Store *store, const char *name, StoreTake take, gpointer data,
               GPtrArray *problems, GError **error)
{
    g_autofree char *path = g_build_filename(store->dir, name, NULL);
    g_autofree char *aside = NULL;
    g_autofree char *text = NULL;
    g_autofree char *why = NULL;
    g_autoptr(GError) local = NULL;
    json_t *record = NULL;
    gsize len;
    int err;

    if (!g_file_get_contents(path, &text, &len, &local)) {
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL, "cannot read a job record: %s",
                    local->message);
        return FALSE;
    }
    why = store_check_loaded(name, text, len, &record);
    if (!why) {
        take(record, data);
        return TRUE;
    }
    /* Not flushed to disk: should the rename be lost, the next start finds
     * the same file and does the same again. */
    aside = g_strconcat(path, STORE_CORRUPT_SUFFIX, NULL);
    if (rename(path, aside) < 0) {
        err = errno;
        g_set_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL,
                    "cannot rename the corrupt job record %s to %s: %s", path, aside,
                    g_strerror(err));
        return FALSE;
    }
    g_ptr_array_add(problems, g_strdup_printf(
        "%s %s; it was renamed to %s and migd no longer tracks that job, so read the file "
        "to find the guest it was migrating and check that guest by hand", path, why, aside));
    return TRUE;
}

static const char *
store_record_string(json_t *record, const char *member)
{
    const char *value = json_string_value(json_object_get(record, member));

    return value ? value : "";
}

static int
store_compare_records(gconstpointer a, gconstpointer b)
{
    json_t *ra = *(json_t *const *)a;
    json_t *rb = *(json_t *const *)b;
    int order = strcmp(store_record_string(ra, "created_at"), store_record_string(rb, "created_at"));

    return order != 0 ? order : strcmp(store_record_string(ra, "id"), store_record_string(rb, "id"));
}

static void
store_record_unref(gpointer record)
{
    json_decref(record);
}

gboolean
store_load_each(Store *store, StoreTake take, gpointer data, GPtrArray **ret_problems,
                GError **error)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) names = store_list(store, error);

    if (!names)
        return FALSE;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);

        if (g_str_has_prefix(name, STORE_TEMP_PREFIX))
            store_delete_temp(store, name, problems);
        else if (!store_name_is_record(name))
            g_debug("%s/%s is not a job record; migd leaves it alone.", store->dir, name);
        else if (!store_load_one(store, name, take, data, problems, error))
            return FALSE;
    }
    if (ret_problems)
        *ret_problems = g_steal_pointer(&problems);
    return TRUE;
}

static void
store_take_into(json_t *record, gpointer data)
{
    g_ptr_array_add(data, record);
}

GPtrArray *
store_load_all(Store *store, GPtrArray **ret_problems, GError **error)
{
    g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func(store_record_unref);

    if (!store_load_each(store, store_take_into, records, ret_problems, error))
        return NULL;
    g_ptr_array_sort(records, store_compare_records);
    return g_steal_pointer(&records);
}
