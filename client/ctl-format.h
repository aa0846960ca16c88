/* Turning migd's JSON answers into text for people. Pure functions, no I/O:
 * everything here is covered by tests/unit/test-migctl.c. */
#pragma once

#include <glib.h>
#include <jansson.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_t, json_decref)

/* One "label: value" line of a report. */
typedef struct {
    const char *label;
    const char *value;          /* NULL: the line is left out */
} CtlRow;

/* Appends the rows with their values aligned in one column. */
void ctl_format_append_rows(GString *out, const CtlRow *rows, size_t n_rows);

/* Appends a help entry: @term indented, @text in a second column wrapped to
 * fit 80 columns. */
void ctl_format_append_entry(GString *out, const char *term, const char *text);

/* "12s", "5m 3s", "2h 0m 5s", "3d 4h 0m 1s". */
char *ctl_format_duration(guint64 seconds);

/* Appends a table: a header row and @n_rows rows of @n_columns cells each,
 * in columns two spaces apart. Cells are sanitized; NULL shows as '-'. */
void ctl_format_append_table(GString *out, const char *const *header,
                             size_t n_columns, const char *const *cells,
                             size_t n_rows);

/* An amount of data: "512 B", "1.5 KiB", "68 MiB", "12 GiB"; tenths below
 * 10, rounded down so that nothing looks done before it is. Negative (or
 * NaN): not known, "?". */
char *ctl_format_size(double bytes);

/* A rate of data, "532 MiB/s", or "?/s". */
char *ctl_format_rate(double bytes_per_second);

/* A time span given in milliseconds: "0.4 s", "12 s", "5m 3s". Negative:
 * not known, "?". */
char *ctl_format_span(double ms);

/* "57%" (rounded down, clamped to 0..100), or "?%". */
char *ctl_format_percent(double percent);

/* "[###########.........]" with @width cells between the brackets; all
 * dots when @percent is negative (not known). */
char *ctl_format_bar(double percent, size_t width);

/* @text made safe to print on a terminal as one line: invalid UTF-8 and
 * control characters (which could be escape sequences) are replaced. @len may
 * be -1 for a NUL-terminated @text. */
char *ctl_format_sanitize(const char *text, gssize len);

/* @json indented, ending with a newline. */
char *ctl_format_json(const json_t *json);

/* The one-line description of a non-2xx answer: "<message> (<code>, HTTP
 * <status>)" from migd's error envelope, or a description of what came back
 * instead when the body is not such an envelope. */
char *ctl_format_error_answer(long status, const char *body, size_t len);

/* The text of `migctl version`. Fails with CTL_ERROR_BAD_ANSWER when
 * @answer is not what GET /v1/version promises. */
char *ctl_format_version(json_t *answer, const char *client_version,
                         GError **error);

/* The text of `migctl health`. Fails with CTL_ERROR_BAD_ANSWER when @answer
 * is not what GET /v1/health promises. */
char *ctl_format_health(json_t *answer, GError **error);
