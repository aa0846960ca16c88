/* migctl plugins: the vendor plugins migd loaded, the devices each claims
 * and what it vouches for, and the files it refused. */
#include <config.h>

#include "ctl-commands.h"
#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-plugins.h"

static const char *
claim_vouches(json_t *claim)
{
    if (json_is_string(json_object_get(claim, "error")))
        return json_string_value(json_object_get(claim, "error"));
    if (json_is_true(json_object_get(claim, "native")))
        return "native";
    if (json_is_true(json_object_get(claim, "pause")))
        return "pause";
    return "unplug";
}

/* One row per claimed device; a plugin that claims none gets one row. */
static void
plugin_rows(json_t *plugin, GPtrArray *cells, gsize *ret_rows)
{
    json_t *claims = json_object_get(plugin, "claims");
    const char *name = json_string_value(json_object_get(plugin, "name"));
    g_autofree char *version = g_strdup_printf("%s (ABI %s)",
                                               json_string_value(json_object_get(plugin, "version")),
                                               json_string_value(json_object_get(plugin, "abi")));
    size_t i;
    json_t *claim;

    if (json_array_size(claims) == 0) {
        g_ptr_array_add(cells, g_strdup(name));
        g_ptr_array_add(cells, g_strdup(version));
        g_ptr_array_add(cells, NULL);
        g_ptr_array_add(cells, NULL);
        g_ptr_array_add(cells, NULL);
        (*ret_rows)++;
        return;
    }
    json_array_foreach(claims, i, claim) {
        gboolean state = json_is_true(json_object_get(claim, "state"));

        g_ptr_array_add(cells, g_strdup(name));
        g_ptr_array_add(cells, g_strdup(version));
        g_ptr_array_add(cells, g_strdup_printf("%s %s",
                                               json_string_value(json_object_get(claim, "pool")),
                                               json_string_value(json_object_get(claim, "address"))));
        g_ptr_array_add(cells, g_strdup(state ? "yes" : "no"));
        g_ptr_array_add(cells, g_strdup(claim_vouches(claim)));
        (*ret_rows)++;
    }
}

static char *
ctl_plugins_format(json_t *answer, GError **error)
{
    static const char *const header[] = { "PLUGIN", "VERSION", "DEVICE", "STATE", "STRATEGY" };
    json_t *plugins = json_object_get(answer, "plugins");
    json_t *refused = json_object_get(answer, "refused");
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    GString *out = g_string_new(NULL);
    gsize rows = 0;
    size_t i;
    json_t *item;

    if (!json_is_array(plugins) || !json_is_array(refused)) {
        g_string_free(out, TRUE);
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                            "migd's answer to GET /v1/plugins has no 'plugins' and 'refused' "
                            "arrays. migd and migctl may come from different releases: compare "
                            "'migctl --version' with the migd package version.");
        return NULL;
    }
    json_array_foreach(plugins, i, item)
        plugin_rows(item, cells, &rows);
    if (rows)
        ctl_format_append_table(out, header, G_N_ELEMENTS(header),
                                (const char *const *)cells->pdata, rows);
    else
        g_string_append(out, "migd loaded no plugin ([plugins] dir in migd.conf).\n");
    if (json_is_string(json_object_get(answer, "not_probed")))
        g_string_append_printf(out, "devices not probed: %s\n",
                               json_string_value(json_object_get(answer, "not_probed")));
    json_array_foreach(refused, i, item) {
        g_string_append_printf(out, "not used: %s: %s\n",
                               json_string_value(json_object_get(item, "file")),
                               json_string_value(json_object_get(item, "reason")));
    }
    return g_string_free(out, FALSE);
}

gboolean
ctl_plugins_list(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    g_autoptr(json_t) answer = ctl_command_call(ctx, "GET", "/v1/plugins", NULL, error);

    return answer && ctl_command_show(ctx, answer, ctl_plugins_format, error);
}
