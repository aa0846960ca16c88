/* The engine's jobs: owned, found by id at once, kept in list order
 * (created, to the millisecond, then id: the order of the store and of
 * GET /v1/migrations), each with its record's text kept until the job
 * changes, so that reading a record does not serialise it again. */
#pragma once

#include <glib.h>

#include "job.h"

typedef struct _JobTable JobTable;

JobTable *job_table_new(void);
void job_table_free(JobTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(JobTable, job_table_free)

/* Takes @job, whose id no job of @table has, and puts it in list order. */
void job_table_add(JobTable *table, Job *job);

/* Frees the job at @index. */
void job_table_remove_index(JobTable *table, guint index);

guint job_table_size(const JobTable *table);
Job *job_table_index(const JobTable *table, guint index);
Job *job_table_lookup(const JobTable *table, const char *id);

/* Where a job stands in list order; job_table_key() is @job's. */
typedef struct {
    gint64 created_ms;
    const char *id;
} JobKey;

JobKey job_table_key(const Job *job);

/* The index of the first job that comes after @key in list order (the
 * size when none does); @key need not be a job's that still exists. */
guint job_table_index_after(const JobTable *table, const JobKey *key);

/* The caller is about to change @job (an event runs through it): its
 * cached text goes. */
void job_table_changed(JobTable *table, const Job *job);

/* @job's record (job_to_json()) as compact ASCII JSON, without a newline;
 * valid until job_table_changed() or the job's removal. */
const char *job_table_text(JobTable *table, const Job *job);
