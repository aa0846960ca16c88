/* Text renderings of migd's migration jobs: the record of one (status), a
 * table of many (list), what migrate, cancel and force-complete say, and the
 * lines of a watch. Pure functions. In a record any member may be null or
 * missing and unknown ones are ignored; only a record without its id, domain
 * or state is refused, with CTL_ERROR_BAD_ANSWER. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define CTL_JOB_BAR_WIDTH 20

/* Checks that @record has the members every rendering needs. */
gboolean ctl_job_check(json_t *record, GError **error);

/* `migctl migrate`: the job was accepted, and how to follow it. */
char *ctl_job_format_accepted(json_t *record, GError **error);

/* The same without the hint, for migrate --wait, which follows it. */
char *ctl_job_format_accepted_waiting(json_t *record, GError **error);

/* `migctl cancel`. */
char *ctl_job_format_cancelling(json_t *record, GError **error);

/* `migctl force-complete`. */
char *ctl_job_format_forcing(json_t *record, GError **error);

/* `migctl status`: the whole record, timeline last. */
char *ctl_job_format_status(json_t *record, GError **error);

/* `migctl list`: one row per record of {"migrations": [...]}. */
char *ctl_job_format_list(json_t *answer, GError **error);

/* One entry of a timeline: "+0.877 s  policy   raised ...", no newline. */
char *ctl_job_timeline_line(json_t *entry);

/* The live line of a watch, e.g. "migrating   57% [#####.....]  532 MiB/s
 * 68 MiB left  ETA 0.4 s"; only the phase while @progress is NULL. */
char *ctl_job_progress_line(const char *state, json_t *progress);

/* How a finished job ended, in one line without a newline. This and the
 * two below take a @record that passed ctl_job_check(). */
char *ctl_job_outcome_line(json_t *record);

/* Whether the job of the final @record completed; FALSE also for a result
 * this migctl does not know. */
gboolean ctl_job_completed(json_t *record);

/* Why a finished job that did not complete is a failure of migctl's
 * command, for stderr. */
char *ctl_job_failure_message(json_t *record);
