/* The engine's jobs, by id and in list order, with their records' text. A
 * finished record does not change, and serialising one costs more than
 * sending it: with 10,000 records, lookups by scanning and a record made
 * anew for each GET were most of the time a request took. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "job-table.h"

struct _JobTable {
    GPtrArray *jobs;            /* Job*, owned, in list order */
    GHashTable *by_id;          /* job->id (borrowed) -> Job* */
    GHashTable *texts;          /* job->id (borrowed) -> its record's text, malloc()ed */
};

JobTable *
job_table_new(void)
{
    JobTable *table = g_new0(JobTable, 1);

    table->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)job_free);
    table->by_id = g_hash_table_new(g_str_hash, g_str_equal);
    table->texts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
    return table;
}

void
job_table_free(JobTable *table)
{
    if (!table)
        return;
    /* The hash tables borrow the jobs' ids: they go first. */
    g_hash_table_unref(table->texts);
    g_hash_table_unref(table->by_id);
    g_ptr_array_unref(table->jobs);
    g_free(table);
}

JobKey
job_table_key(const Job *job)
{
    return (JobKey){ .created_ms = job->created_at_us / 1000, .id = job->id };
}

static int
job_key_compare(const JobKey *a, const JobKey *b)
{
    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms ? -1 : 1;
    return strcmp(a->id, b->id);
}

guint
job_table_index_after(const JobTable *table, const JobKey *key)
{
    guint lo = 0, hi = table->jobs->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        JobKey at = job_table_key(g_ptr_array_index(table->jobs, mid));

        if (job_key_compare(&at, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void
job_table_add(JobTable *table, Job *job)
{
    JobKey key = job_table_key(job);

    g_return_if_fail(!g_hash_table_contains(table->by_id, job->id));
    /* A new job is the newest but for a clock stepped back: at the end. */
    g_ptr_array_insert(table->jobs, (gint)job_table_index_after(table, &key), job);
    g_hash_table_insert(table->by_id, job->id, job);
}

void
job_table_remove_index(JobTable *table, guint index)
{
    Job *job = g_ptr_array_index(table->jobs, index);

    (void)g_hash_table_remove(table->texts, job->id);
    (void)g_hash_table_remove(table->by_id, job->id);
    g_ptr_array_remove_index(table->jobs, index);
}

guint
job_table_size(const JobTable *table)
{
    return table->jobs->len;
}

Job *
job_table_index(const JobTable *table, guint index)
{
    return g_ptr_array_index(table->jobs, index);
}

Job *
job_table_lookup(const JobTable *table, const char *id)
{
    return id ? g_hash_table_lookup(table->by_id, id) : NULL;
}

void
job_table_changed(JobTable *table, const Job *job)
{
    (void)g_hash_table_remove(table->texts, job->id);
}

const char *
job_table_text(JobTable *table, const Job *job)
{
    char *text = g_hash_table_lookup(table->texts, job->id);
    json_t *record;

    if (text)
        return text;
    record = job_to_json(job);
    text = json_dumps(record, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(record);
    if (!text)
        return "{}";
    g_hash_table_insert(table->texts, job->id, text);
    return text;
}
