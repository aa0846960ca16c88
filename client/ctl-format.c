/* Text renderings of migd's answers, and the layout helpers behind them and
 * behind --help. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "ctl-error.h"
#include "ctl-format.h"

#define ENTRY_INDENT 2
#define ENTRY_TEXT_COLUMN 26
#define ENTRY_WIDTH 79
#define SNIPPET_CHARS 60

void
ctl_format_append_rows(GString *out, const CtlRow *rows, size_t n_rows)
{
    size_t width = 0;

    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i].value)
            width = MAX(width, strlen(rows[i].label));
    }
    for (size_t i = 0; i < n_rows; i++) {
        g_autofree char *clean = NULL;

        if (!rows[i].value)
            continue;
        clean = ctl_format_sanitize(rows[i].value, -1);
        g_string_append_printf(out, "%s:%*s%s\n", rows[i].label,
                               (int)(width - strlen(rows[i].label) + 2), "",
                               clean);
    }
}

void
ctl_format_append_entry(GString *out, const char *term, const char *text)
{
    g_auto(GStrv) words = g_strsplit(text, " ", -1);
    size_t column;

    g_string_append_printf(out, "%*s%s", ENTRY_INDENT, "", term);
    column = ENTRY_INDENT + strlen(term);
    /* A term too wide for its column gets the text on a line of its own. */
    if (column + 2 > ENTRY_TEXT_COLUMN) {
        g_string_append_c(out, '\n');
        column = 0;
    }
    g_string_append_printf(out, "%*s", (int)(ENTRY_TEXT_COLUMN - column), "");
    column = ENTRY_TEXT_COLUMN;

    for (size_t i = 0; words[i]; i++) {
        size_t len = strlen(words[i]);

        if (len == 0)
            continue;
        if (column > ENTRY_TEXT_COLUMN) {
            if (column + 1 + len > ENTRY_WIDTH) {
                g_string_append_printf(out, "\n%*s", ENTRY_TEXT_COLUMN, "");
                column = ENTRY_TEXT_COLUMN;
            } else {
                g_string_append_c(out, ' ');
                column++;
            }
        }
        g_string_append(out, words[i]);
        column += len;
    }
    g_string_append_c(out, '\n');
}

char *
ctl_format_duration(guint64 seconds)
{
    guint64 days = seconds / 86400;
    guint64 hours = seconds / 3600 % 24;
    guint64 minutes = seconds / 60 % 60;
    guint64 secs = seconds % 60;

    if (days > 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT "d %" G_GUINT64_FORMAT "h %"
                               G_GUINT64_FORMAT "m %" G_GUINT64_FORMAT "s",
                               days, hours, minutes, secs);
    if (hours > 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT "h %" G_GUINT64_FORMAT "m %"
                               G_GUINT64_FORMAT "s", hours, minutes, secs);
    if (minutes > 0)
        return g_strdup_printf("%" G_GUINT64_FORMAT "m %" G_GUINT64_FORMAT "s",
                               minutes, secs);
    return g_strdup_printf("%" G_GUINT64_FORMAT "s", secs);
}

void
ctl_format_append_table(GString *out, const char *const *header,
                         size_t n_columns, const char *const *cells,
                         size_t n_rows)
{
    g_autoptr(GPtrArray) clean = g_ptr_array_new_with_free_func(g_free);
    g_autofree size_t *widths = g_new0(size_t, n_columns);

    for (size_t i = 0; i < (n_rows + 1) * n_columns; i++) {
        const char *cell = i < n_columns ? header[i] : cells[i - n_columns];
        char *text = ctl_format_sanitize(cell ? cell : "-", -1);

        widths[i % n_columns] = MAX(widths[i % n_columns],
                                    (size_t)g_utf8_strlen(text, -1));
        g_ptr_array_add(clean, text);
    }
    for (size_t i = 0; i < clean->len; i++) {
        const char *text = g_ptr_array_index(clean, i);
        size_t column = i % n_columns;

        g_string_append(out, text);
        if (column + 1 == n_columns)
            g_string_append_c(out, '\n');
        else
            g_string_append_printf(out, "%*s", (int)(widths[column] + 2 -
                                   g_utf8_strlen(text, -1)), "");
    }
}

static gboolean
format_is_known(double value)
{
    /* Also false for NaN; the bound keeps conversions to integers defined. */
    return value >= 0 && value < 1e18;
}

char *
ctl_format_size(double bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB" };
    size_t unit = 0;
    double value = bytes;
    guint64 tenths;

    if (!format_is_known(bytes))
        return g_strdup("?");
    while (value >= 1024 && unit + 1 < G_N_ELEMENTS(units)) {
        value /= 1024;
        unit++;
    }
    tenths = (guint64)(value * 10);
    if (unit == 0 || tenths >= 100)
        return g_strdup_printf("%" G_GUINT64_FORMAT " %s", tenths / 10,
                               units[unit]);
    return g_strdup_printf("%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT " %s",
                           tenths / 10, tenths % 10, units[unit]);
}

char *
ctl_format_rate(double bytes_per_second)
{
    g_autofree char *size = ctl_format_size(bytes_per_second);

    return g_strconcat(size, "/s", NULL);
}

char *
ctl_format_span(double ms)
{
    guint64 tenths;

    if (!format_is_known(ms))
        return g_strdup("?");
    tenths = (guint64)(ms / 100 + 0.5);
    if (tenths < 100)
        return g_strdup_printf("%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT " s",
                               tenths / 10, tenths % 10);
    if (tenths < 595)
        return g_strdup_printf("%" G_GUINT64_FORMAT " s", (tenths + 5) / 10);
    return ctl_format_duration((tenths + 5) / 10);
}

char *
ctl_format_percent(double percent)
{
    if (!format_is_known(percent))
        return g_strdup("?%");
    return g_strdup_printf("%u%%", (guint)MIN(percent, 100.0));
}

char *
ctl_format_bar(double percent, size_t width)
{
    size_t filled = 0;
    GString *bar = g_string_sized_new(width + 2);

    if (format_is_known(percent))
        filled = (size_t)(MIN(percent, 100.0) * width / 100);
    g_string_append_c(bar, '[');
    for (size_t i = 0; i < width; i++)
        g_string_append_c(bar, i < filled ? '#' : '.');
    g_string_append_c(bar, ']');
    return g_string_free(bar, FALSE);
}

char *
ctl_format_sanitize(const char *text, gssize len)
{
    g_autofree char *valid = g_utf8_make_valid(text, len);
    GString *out = g_string_sized_new(strlen(valid));

    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (c == '\n' || c == '\r' || c == '\t')
            g_string_append_c(out, ' ');
        else if (g_unichar_iscntrl(c))
            g_string_append_c(out, '?');
        else
            g_string_append_unichar(out, c);
    }
    return g_string_free(out, FALSE);
}

char *
ctl_format_json(const json_t *json)
{
    char *dumped = json_dumps(json, JSON_INDENT(2));
    char *text;

    /* json_dumps() fails only when out of memory, which GLib aborts on. */
    if (!dumped)
        g_error("Out of memory while formatting JSON.");
    text = g_strconcat(dumped, "\n", NULL);
    free(dumped);
    return text;
}

/* The start of a body that is not what migd should have sent, quoted, for a
 * message: enough to recognise an HTML error page or a foreign service. */
static char *
format_snippet(const char *body, size_t len)
{
    g_autofree char *clean = ctl_format_sanitize(body, (gssize)len);
    g_autofree char *stripped = g_strdup(g_strstrip(clean));

    if (g_utf8_strlen(stripped, -1) <= SNIPPET_CHARS)
        return g_strdup_printf("'%s'", stripped);
    *g_utf8_offset_to_pointer(stripped, SNIPPET_CHARS) = '\0';
    return g_strdup_printf("'%s...'", stripped);
}

char *
ctl_format_error_answer(long status, const char *body, size_t len)
{
    g_autoptr(json_t) json = NULL;
    const char *code = NULL;
    const char *message = NULL;
    g_autofree char *snippet = NULL;

    if (len > 0)
        json = json_loadb(body, len, 0, NULL);
    if (json &&
        json_unpack(json, "{s:{s:s, s:s}}", "error",
                    "code", &code, "message", &message) == 0) {
        g_autofree char *clean_message = ctl_format_sanitize(message, -1);
        g_autofree char *clean_code = ctl_format_sanitize(code, -1);

        return g_strdup_printf("%s (%s, HTTP %ld)",
                               clean_message, clean_code, status);
    }

    if (len == 0)
        return g_strdup_printf("migd answered HTTP %ld with an empty body "
                               "instead of an error description. Check that "
                               "the socket or URL is migd's, and see "
                               "'journalctl -u migd' on its host.", status);
    snippet = format_snippet(body, len);
    return g_strdup_printf("migd answered HTTP %ld without the usual error "
                           "description; the body begins %s. Check that the "
                           "socket or URL is migd's, and see 'journalctl -u "
                           "migd' on its host.", status, snippet);
}

static void
format_set_bad_answer(GError **error, const char *path,
                      const json_error_t *json_error)
{
    g_set_error(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                "migd's answer to %s is not in the form migctl expects (%s). "
                "migd and migctl may come from different releases: compare "
                "'migctl --version' with the migd package version.",
                path, json_error->text);
}

/* The value of an optional string member that may also be null; NULL for
 * both. Anything else is a malformed answer. */
static gboolean
format_nullable_string(json_t *value, const char *name, const char *path,
                       const char **ret_string, GError **error)
{
    json_error_t json_error;

    if (!value || json_is_null(value)) {
        *ret_string = NULL;
        return TRUE;
    }
    if (!json_is_string(value)) {
        g_snprintf(json_error.text, sizeof(json_error.text),
                   "'%s' is neither a string nor null", name);
        format_set_bad_answer(error, path, &json_error);
        return FALSE;
    }
    *ret_string = json_string_value(value);
    return TRUE;
}

char *
ctl_format_version(json_t *answer, const char *client_version, GError **error)
{
    static const char path[] = "GET /v1/version";
    json_error_t json_error;
    const char *version;
    const char *api;
    const char *library;
    json_t *hypervisor_json = NULL;
    const char *hypervisor;
    g_autofree char *hypervisor_text = NULL;
    g_autofree char *line = NULL;
    g_autofree char *clean = NULL;

    if (json_unpack_ex(answer, &json_error, 0, "{s:s, s:s, s:{s:s, s?o}}",
                       "version", &version, "api", &api,
                       "libvirt", "library", &library,
                       "hypervisor", &hypervisor_json) < 0) {
        format_set_bad_answer(error, path, &json_error);
        return NULL;
    }
    if (!format_nullable_string(hypervisor_json, "libvirt.hypervisor", path,
                                &hypervisor, error))
        return NULL;

    if (hypervisor)
        hypervisor_text = g_strdup_printf("hypervisor %s", hypervisor);
    else
        hypervisor_text = g_strdup("hypervisor not known while libvirt is "
                                   "disconnected");
    line = g_strdup_printf("migd %s (API %s), libvirt %s, %s",
                           version, api, library, hypervisor_text);
    clean = ctl_format_sanitize(line, -1);
    return g_strdup_printf("%s\nmigctl %s\n", clean, client_version);
}

/* The state of migd's libvirt connection, in one line. */
static char *
format_health_libvirt(const char *uri, gboolean connected, const char *since,
                      json_int_t attempts)
{
    GString *line = g_string_new(connected ? "connected to " :
                                             "disconnected from ");

    g_string_append(line, uri);
    if (since)
        g_string_append_printf(line, " since %s", since);
    if (!connected && attempts > 0)
        g_string_append_printf(line, ", %" JSON_INTEGER_FORMAT
                               " reconnect attempt%s so far",
                               attempts, attempts == 1 ? "" : "s");
    return g_string_free(line, FALSE);
}

char *
ctl_format_health(json_t *answer, GError **error)
{
    static const char path[] = "GET /v1/health";
    json_error_t json_error;
    const char *status;
    json_int_t uptime;
    const char *uri;
    int connected;
    json_t *since_json = NULL;
    json_t *last_error_json = NULL;
    json_t *hypervisor_json = NULL;
    json_int_t attempts = 0;
    const char *since;
    const char *last_error;
    const char *hypervisor;
    g_autofree char *libvirt = NULL;
    g_autofree char *uptime_text = NULL;
    GString *out;

    if (json_unpack_ex(answer, &json_error, 0,
                       "{s:s, s:I, s:{s:s, s:b, s?o, s?o, s?I, s?o}}",
                       "status", &status, "uptime_seconds", &uptime,
                       "libvirt", "uri", &uri, "connected", &connected,
                       "since", &since_json, "last_error", &last_error_json,
                       "reconnect_attempts", &attempts,
                       "hypervisor", &hypervisor_json) < 0) {
        format_set_bad_answer(error, path, &json_error);
        return NULL;
    }
    if (!format_nullable_string(since_json, "libvirt.since", path,
                                &since, error) ||
        !format_nullable_string(last_error_json, "libvirt.last_error", path,
                                &last_error, error) ||
        !format_nullable_string(hypervisor_json, "libvirt.hypervisor", path,
                                &hypervisor, error))
        return NULL;

    libvirt = format_health_libvirt(uri, connected, since, attempts);
    uptime_text = ctl_format_duration(uptime > 0 ? (guint64)uptime : 0);

    const CtlRow rows[] = {
        { "status", status },
        { "libvirt", libvirt },
        { "last error", last_error },
        { "hypervisor", hypervisor },
        { "uptime", uptime_text },
    };
    out = g_string_new(NULL);
    ctl_format_append_rows(out, rows, G_N_ELEMENTS(rows));
    return g_string_free(out, FALSE);
}
