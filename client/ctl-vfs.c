/* migctl vfs: the host's VFs and who holds them. */
#include <config.h>

#include "ctl-commands.h"
#include "ctl-error.h"
#include "ctl-format.h"
#include "ctl-vfs.h"

/* One member of a VF as a cell; NULL shows as '-'. */
static char *
vf_cell(json_t *vf, const char *member)
{
    json_t *value = json_object_get(vf, member);

    if (json_is_string(value))
        return g_strdup(json_string_value(value));
    if (json_is_integer(value))
        return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(value));
    return NULL;
}

static char *
ctl_vfs_format(json_t *answer, GError **error)
{
    static const char *const header[] = { "POOL", "VF", "STATE", "DOMAIN", "JOB", "EXPIRES" };
    static const char *const members[] = { "pool", "address", "state", "domain", "job",
                                           "expires_at" };
    json_t *vfs = json_object_get(answer, "vfs");
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    GString *out;
    size_t i;
    json_t *vf;

    if (!json_is_array(vfs)) {
        g_set_error_literal(error, CTL_ERROR, CTL_ERROR_BAD_ANSWER,
                            "migd's answer to GET /v1/vfs has no 'vfs' array. migd and migctl "
                            "may come from different releases: compare 'migctl --version' with "
                            "the migd package version.");
        return NULL;
    }
    if (json_array_size(vfs) == 0)
        return g_strdup("migd has no VF pools on this host ([pool.NAME] in migd.conf).\n");
    json_array_foreach(vfs, i, vf) {
        for (gsize m = 0; m < G_N_ELEMENTS(members); m++)
            g_ptr_array_add(cells, vf_cell(vf, members[m]));
    }
    out = g_string_new(NULL);
    ctl_format_append_table(out, header, G_N_ELEMENTS(header),
                            (const char *const *)cells->pdata, json_array_size(vfs));
    return g_string_free(out, FALSE);
}

gboolean
ctl_vfs_list(CtlContext *ctx, const CtlArgs *args, GError **error)
{
    g_autoptr(json_t) answer = ctl_command_call(ctx, "GET", "/v1/vfs", NULL, error);

    return answer && ctl_command_show(ctx, answer, ctl_vfs_format, error);
}
