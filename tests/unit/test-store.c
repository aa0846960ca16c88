/* Tests of the job record store, each in a fresh state directory. store.c is
 * included to name temp files exactly as store_save() does, so that a crash
 * between writing one and renaming it can be staged. */
#include <config.h>

#include <sys/stat.h>

#include "store.c"

/* Here rather than from a daemon header, which store.c does not include. */
#include "jsonutil.h"
#include "testutil.h"

#define ID_A "00000000-0000-4000-8000-00000000000a"
#define ID_B "00000000-0000-4000-8000-00000000000b"
#define ID_C "00000000-0000-4000-8000-00000000000c"
#define ID_D "00000000-0000-4000-8000-00000000000d"

typedef struct {
    char *state_dir;
    char *jobs;
    Store *store;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    f->state_dir = g_dir_make_tmp("migd-test-store-XXXXXX", &error);
    g_assert_no_error(error);
    f->jobs = g_build_filename(f->state_dir, "jobs", NULL);
    f->store = store_open(f->state_dir, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->store);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
    store_free(f->store);
    test_remove_tree(f->state_dir);
    g_free(f->jobs);
    g_free(f->state_dir);
}

static json_t *
make_record(const char *id, const char *created_at)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "id", id, "state", "migrating",
                     "created_at", created_at, "domain", "name", "guest-1");
}

/* The entries of @dir, sorted and joined by spaces: what `ls -A` shows. */
static char *
listing(const char *dir)
{
    g_autoptr(GDir) handle = g_dir_open(dir, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    g_assert_nonnull(handle);
    while ((name = g_dir_read_name(handle)))
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, store_compare_names);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static char *
job_path(Fixture *f, const char *name)
{
    return g_build_filename(f->jobs, name, NULL);
}

static void
write_file(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_file_set_contents(path, text, -1, &error);
    g_assert_no_error(error);
}

static void
save_ok(Fixture *f, const char *id, const char *created_at)
{
    g_autoptr(json_t) record = make_record(id, created_at);
    g_autoptr(GError) error = NULL;

    g_assert_true(store_save(f->store, id, record, &error));
    g_assert_no_error(error);
}

/* Loads, expecting success; @ret_problems may be NULL to expect none. */
static GPtrArray *
load_ok(Fixture *f, GPtrArray **ret_problems)
{
    g_autoptr(GPtrArray) problems = NULL;
    g_autoptr(GError) error = NULL;
    GPtrArray *records = store_load_all(f->store, &problems, &error);

    g_assert_no_error(error);
    g_assert_nonnull(records);
    g_assert_nonnull(problems);
    if (ret_problems)
        *ret_problems = g_steal_pointer(&problems);
    else
        g_assert_cmpuint(problems->len, ==, 0);
    return records;
}

static void
test_store_open_creates_private_dir(Fixture *f, gconstpointer data)
{
    struct stat st;

    g_assert_cmpstr(store_dir(f->store), ==, f->jobs);
    g_assert_cmpint(stat(f->jobs, &st), ==, 0);
    g_assert_true(S_ISDIR(st.st_mode));
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
}

static void
test_store_open_existing(Fixture *f, gconstpointer data)
{
    g_autoptr(Store) again = NULL;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;

    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    again = store_open(f->state_dir, &error);
    g_assert_no_error(error);
    records = store_load_all(again, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(records->len, ==, 1);
}

static void
test_store_open_under_a_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(Store) store = store_open("/etc/passwd/x", &error);

    g_assert_null(store);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, "/etc/passwd/x/jobs"));
    g_assert_nonnull(strstr(error->message, g_strerror(ENOTDIR)));
}

static void
test_store_open_jobs_is_a_file(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(Store) store = NULL;

    test_remove_tree(f->jobs);
    write_file(f->jobs, "not a directory\n");
    store = store_open(f->state_dir, &error);
    g_assert_null(store);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFIG);
    g_assert_nonnull(strstr(error->message, f->jobs));
}

static void
test_store_save_load(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) a = make_record(ID_A, "2024-05-01T10:00:00Z");
    g_autoptr(json_t) b = make_record(ID_B, "2024-05-01T11:00:00Z");
    g_autoptr(GPtrArray) records = NULL;
    g_autofree char *files = NULL;

    save_ok(f, ID_B, "2024-05-01T11:00:00Z");
    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    records = load_ok(f, NULL);
    g_assert_cmpuint(records->len, ==, 2);
    g_assert_true(json_equal(g_ptr_array_index(records, 0), a));
    g_assert_true(json_equal(g_ptr_array_index(records, 1), b));
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, ID_A ".json " ID_B ".json");
}

static void
test_store_save_replaces(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) record = make_record(ID_A, "2024-05-01T10:00:00Z");
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *files = NULL;

    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    json_object_set_new(record, "state", json_string("completed"));
    g_assert_true(store_save(f->store, ID_A, record, &error));
    g_assert_no_error(error);
    records = load_ok(f, NULL);
    g_assert_cmpuint(records->len, ==, 1);
    g_assert_true(json_equal(g_ptr_array_index(records, 0), record));
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, ID_A ".json");
}

/* An operator reads these files: members in the order migd set them, indented,
 * ending in a newline. */
static void
test_store_file_is_readable(Fixture *f, gconstpointer data)
{
    g_autofree char *path = job_path(f, ID_A ".json");
    g_autofree char *text = NULL;

    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==,
                    "{\n"
                    "  \"id\": \"" ID_A "\",\n"
                    "  \"state\": \"migrating\",\n"
                    "  \"created_at\": \"2024-05-01T10:00:00Z\",\n"
                    "  \"domain\": {\n"
                    "    \"name\": \"guest-1\"\n"
                    "  }\n"
                    "}\n");
}

static void
test_store_remove(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *files = NULL;

    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    save_ok(f, ID_B, "2024-05-01T11:00:00Z");
    g_assert_true(store_remove(f->store, ID_A, &error));
    g_assert_no_error(error);
    records = load_ok(f, NULL);
    g_assert_cmpuint(records->len, ==, 1);
    g_assert_cmpstr(store_record_string(g_ptr_array_index(records, 0), "id"), ==, ID_B);
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, ID_B ".json");
}

static void
test_store_remove_missing(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(store_remove(f->store, ID_A, &error));
    g_assert_no_error(error);
}

static const char *const bad_ids[] = {
    "",
    "../x",
    "00000000-0000-4000-8000-00000000000A",         /* upper case */
    "00000000-0000-4000-8000-00000000000a0",        /* 37 characters */
    "00000000-0000-4000-8000-00000000000",          /* 35 characters */
    "../../../../../../../../tmp/00000000",         /* 36, escaping */
    "00000000-0000-4000-8000-0000000000/a",
    "00000000-0000-4000-8000-00000000000a.json",
    "00000000-0000-4000-8000-00000000000 ",
};

static void
test_store_bad_ids_refused(Fixture *f, gconstpointer data)
{
    g_autofree char *files = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS(bad_ids); i++) {
        g_autoptr(json_t) record = make_record(bad_ids[i], "2024-05-01T10:00:00Z");
        g_autoptr(GError) save_error = NULL;
        g_autoptr(GError) remove_error = NULL;

        g_test_message("id '%s'", bad_ids[i]);
        g_assert_false(store_save(f->store, bad_ids[i], record, &save_error));
        g_assert_error(save_error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(save_error->message, "lower-case UUID"));
        g_assert_false(store_remove(f->store, bad_ids[i], &remove_error));
        g_assert_error(remove_error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    }
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, "");
    g_assert_false(g_file_test("/tmp/00000000.json", G_FILE_TEST_EXISTS));
}

/* A record that would not load back under its own name is refused. */
static void
test_store_record_id_must_match(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) other = make_record(ID_B, "2024-05-01T10:00:00Z");
    g_autoptr(json_t) array = json_array();
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) array_error = NULL;
    g_autofree char *files = NULL;

    g_assert_false(store_save(f->store, ID_A, other, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, ID_A));
    g_assert_false(store_save(f->store, ID_A, array, &array_error));
    g_assert_error(array_error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, "");
}

/* The failure a person on call sees names the file and the system error. */
static void
test_store_save_error_names_file(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) record = make_record(ID_A, "2024-05-01T10:00:00Z");
    g_autoptr(GError) error = NULL;
    g_autofree char *expected = NULL;

    test_remove_tree(f->jobs);
    g_assert_false(store_save(f->store, ID_A, record, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    expected = g_strdup_printf("cannot write %s/%s.json: %s", f->jobs, ID_A, g_strerror(ENOENT));
    g_assert_cmpstr(error->message, ==, expected);
}

static void
test_store_load_error_leaves_problems(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) sentinel = g_ptr_array_new();
    GPtrArray *problems = sentinel;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;

    test_remove_tree(f->jobs);
    records = store_load_all(f->store, &problems, &error);
    g_assert_null(records);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    g_assert_nonnull(strstr(error->message, f->jobs));
    g_assert_true(problems == sentinel);
}

typedef struct {
    const char *name;
    const char *text;       /* what lies in ID_C.json */
    const char *why;        /* what the problem must say */
} CorruptCase;

static const CorruptCase corrupt_cases[] = {
    { "truncated", "{\n  \"id\": \"" ID_C "\",\n  \"state\": \"migr", "is not valid JSON" },
    { "empty", "", "is not valid JSON" },
    { "duplicate-member", "{\"id\": \"" ID_C "\", \"id\": \"" ID_C "\"}", "is not valid JSON" },
    { "array", "[\"" ID_C "\"]\n", "is not a JSON object" },
    { "no-id", "{\"state\": \"pending\"}\n", "has no \"id\"" },
    { "numeric-id", "{\"id\": 12}\n", "has no \"id\"" },
    { "other-id", "{\"id\": \"" ID_A "\", \"state\": \"pending\"}\n", "'" ID_A "'" },
};

/* A bad record is set aside whole for a person to read and reported once; the
 * good records still load. */
static void
test_store_corrupt(Fixture *f, gconstpointer data)
{
    const CorruptCase *c = data;
    g_autofree char *path = job_path(f, ID_C ".json");
    g_autofree char *aside = g_strconcat(path, ".corrupt", NULL);
    g_autofree char *kept = NULL;
    g_autofree char *files = NULL;
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GPtrArray) again = NULL;
    g_autoptr(GPtrArray) problems = NULL;
    const char *problem;

    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    save_ok(f, ID_B, "2024-05-01T11:00:00Z");
    write_file(path, c->text);
    records = load_ok(f, &problems);
    g_assert_cmpuint(records->len, ==, 2);
    g_assert_cmpstr(store_record_string(g_ptr_array_index(records, 0), "id"), ==, ID_A);
    g_assert_cmpstr(store_record_string(g_ptr_array_index(records, 1), "id"), ==, ID_B);
    g_assert_cmpuint(problems->len, ==, 1);
    problem = g_ptr_array_index(problems, 0);
    g_test_message("problem: %s", problem);
    g_assert_true(g_str_has_prefix(problem, path));
    g_assert_nonnull(strstr(problem, c->why));
    g_assert_nonnull(strstr(problem, aside));

    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, ID_A ".json " ID_B ".json " ID_C ".json.corrupt");
    g_assert_true(g_file_get_contents(aside, &kept, NULL, NULL));
    g_assert_cmpstr(kept, ==, c->text);

    again = load_ok(f, NULL);
    g_assert_cmpuint(again->len, ==, 2);
}

/* What is not named <id>.json is not migd's to judge: an operator's copy, a
 * record set aside earlier. */
static void
test_store_other_files_left_alone(Fixture *f, gconstpointer data)
{
    g_autofree char *copy = job_path(f, "backup.json");
    g_autofree char *notes = job_path(f, "README");
    g_autofree char *aside = job_path(f, ID_B ".json.corrupt");
    g_autoptr(GPtrArray) records = NULL;
    g_autofree char *files = NULL;

    save_ok(f, ID_A, "2024-05-01T10:00:00Z");
    write_file(copy, "{\"id\": \"" ID_A "\"}\n");
    write_file(notes, "notes\n");
    write_file(aside, "{\"id\"");
    records = load_ok(f, NULL);
    g_assert_cmpuint(records->len, ==, 1);
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, ID_A ".json " ID_B ".json.corrupt README backup.json");
}

/* Writes @text to a temp file named as store_save() names them, as if migd
 * died after writing it and before renaming it over the record. */
static void
stage_crash_before_rename(Fixture *f, const char *id, const char *text)
{
    g_autofree char *path = store_record_path(f->store, id);
    g_autofree char *tmp = store_temp_template(path);
    int fd = g_mkstemp(tmp);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
    g_assert_cmpint(close(fd), ==, 0);
}

static void
test_store_crash_before_rename(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) old = make_record(ID_A, "2024-05-01T10:00:00Z");
    g_autoptr(json_t) new = make_record(ID_A, "2024-05-01T10:00:00Z");
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *whole = NULL;
    g_autofree char *files = NULL;

    g_assert_true(store_save(f->store, ID_A, old, &error));
    g_assert_no_error(error);
    json_object_set_new(new, "state", json_string("completed"));
    whole = json_dumps(new, JSON_INDENT(2));
    /* A half-written new record, a whole one, and one for a job never saved. */
    stage_crash_before_rename(f, ID_A, "{\n  \"id\": \"" ID_A "\",\n  \"sta");
    stage_crash_before_rename(f, ID_A, whole);
    stage_crash_before_rename(f, ID_D, "{");

    records = load_ok(f, NULL);
    g_assert_cmpuint(records->len, ==, 1);
    g_assert_true(json_equal(g_ptr_array_index(records, 0), old));
    files = listing(f->jobs);
    g_assert_cmpstr(files, ==, ID_A ".json");
}

/* The writer under store_save() serves other files too (the lease table):
 * same format, nothing left beside the file, errors that name it. */
static void
test_store_write_json_any_file(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->state_dir, "other.json", NULL);
    g_autofree char *missing = g_build_filename(f->state_dir, "no-such-dir", "x.json", NULL);
    g_autoptr(json_t) value = json_pack("{s:i,s:[]}", "version", 1, "items");
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *files = NULL;
    g_autofree char *expected = NULL;

    g_assert_true(store_write_json(path, value, &error));
    g_assert_no_error(error);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "{\n  \"version\": 1,\n  \"items\": []\n}\n");
    files = listing(f->state_dir);
    g_assert_cmpstr(files, ==, "jobs other.json");
    g_assert_false(store_write_json(missing, value, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INTERNAL);
    expected = g_strdup_printf("cannot write %s: %s", missing, g_strerror(ENOENT));
    g_assert_cmpstr(error->message, ==, expected);
}

/* Oldest first whatever the file names; ties by id; no created_at first. */
static void
test_store_sorted_by_creation(Fixture *f, gconstpointer data)
{
    g_autoptr(json_t) undated = json_pack("{s:s}", "id", ID_C);
    g_autoptr(GPtrArray) records = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GString) order = g_string_new(NULL);

    save_ok(f, ID_A, "2024-05-02T09:00:00Z");
    save_ok(f, ID_D, "2024-05-01T10:00:00Z");
    save_ok(f, ID_B, "2024-05-01T10:00:00Z");
    g_assert_true(store_save(f->store, ID_C, undated, &error));
    g_assert_no_error(error);
    records = load_ok(f, NULL);
    for (guint i = 0; i < records->len; i++)
        g_string_append_printf(order, "%s ", store_record_string(g_ptr_array_index(records, i), "id"));
    g_assert_cmpstr(order->str, ==, ID_C " " ID_B " " ID_D " " ID_A " ");
}

static void
add(const char *path, gconstpointer data,
    void (*func)(Fixture *, gconstpointer))
{
    g_test_add(path, Fixture, data, fixture_set_up, func, fixture_tear_down);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/store/open/creates-private-dir", NULL, test_store_open_creates_private_dir);
    add("/store/open/existing", NULL, test_store_open_existing);
    g_test_add_func("/store/open/under-a-file", test_store_open_under_a_file);
    add("/store/open/jobs-is-a-file", NULL, test_store_open_jobs_is_a_file);
    add("/store/save/load", NULL, test_store_save_load);
    add("/store/save/replaces", NULL, test_store_save_replaces);
    add("/store/save/file-is-readable", NULL, test_store_file_is_readable);
    add("/store/save/bad-ids-refused", NULL, test_store_bad_ids_refused);
    add("/store/save/record-id-must-match", NULL, test_store_record_id_must_match);
    add("/store/save/error-names-file", NULL, test_store_save_error_names_file);
    add("/store/remove/existing", NULL, test_store_remove);
    add("/store/remove/missing", NULL, test_store_remove_missing);
    add("/store/load/error-leaves-problems", NULL, test_store_load_error_leaves_problems);
    for (gsize i = 0; i < G_N_ELEMENTS(corrupt_cases); i++) {
        g_autofree char *path = g_strdup_printf("/store/load/corrupt/%s", corrupt_cases[i].name);

        add(path, &corrupt_cases[i], test_store_corrupt);
    }
    add("/store/load/other-files-left-alone", NULL, test_store_other_files_left_alone);
    add("/store/load/crash-before-rename", NULL, test_store_crash_before_rename);
    add("/store/load/sorted-by-creation", NULL, test_store_sorted_by_creation);
    add("/store/write-json/any-file", NULL, test_store_write_json_any_file);
    return g_test_run();
}
