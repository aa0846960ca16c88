/* Device specs for migd-plugin-check (see check-device.h). */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "check-device.h"

static const char *const kind_names[] = { NULL, "vf", "vdpa", "emulated" };
static const char *const side_names[] = { NULL, "source", "destination" };

static guint
name_index(const char *const *names, gsize n, const char *word)
{
    for (gsize i = 1; i < n; i++) {
        if (strcmp(names[i], word) == 0)
            return (guint)i;
    }
    return 0;
}

const char *
check_device_kind_to_string(guint kind)
{
    return kind < G_N_ELEMENTS(kind_names) && kind_names[kind] ? kind_names[kind] : "unknown";
}

const char *
check_device_side_to_string(guint side)
{
    return side < G_N_ELEMENTS(side_names) && side_names[side] ? side_names[side] : "unknown";
}

void
check_device_free(CheckDevice *d)
{
    if (!d)
        return;
    g_free(d->name);
    plugin_device_free(d->dev);
    g_free(d);
}

static gboolean
parse_int(const char *value, gint64 max, int *ret)
{
    gint64 v;
    char *end = NULL;

    errno = 0;
    v = g_ascii_strtoll(value, &end, 10);
    if (errno || !*value || *end || v < 0 || v > max)
        return FALSE;
    *ret = (int)v;
    return TRUE;
}

/* The string member @key names, or NULL. */
static char **
string_member(PluginDevice *dev, const char *key)
{
    const struct { const char *key; gsize offset; } members[] = {
        { "pci", G_STRUCT_OFFSET(PluginDevice, pci_address) },
        { "pf", G_STRUCT_OFFSET(PluginDevice, pf_address) },
        { "pf-netdev", G_STRUCT_OFFSET(PluginDevice, pf_netdev) },
        { "netdev", G_STRUCT_OFFSET(PluginDevice, netdev) },
        { "mac", G_STRUCT_OFFSET(PluginDevice, mac) },
        { "pool", G_STRUCT_OFFSET(PluginDevice, pool) },
        { "domain", G_STRUCT_OFFSET(PluginDevice, domain) },
        { "alias", G_STRUCT_OFFSET(PluginDevice, alias) },
        { "job", G_STRUCT_OFFSET(PluginDevice, job) },
    };

    for (gsize i = 0; i < G_N_ELEMENTS(members); i++) {
        if (strcmp(members[i].key, key) == 0)
            return G_STRUCT_MEMBER_P(dev, members[i].offset);
    }
    return NULL;
}

static gboolean
device_set(CheckDevice *d, const char *key, const char *value, GError **error)
{
    char **member = string_member(d->dev, key);
    gboolean ok = TRUE;

    if (member) {
        g_free(*member);
        *member = g_strdup(value);
    } else if (strcmp(key, "kind") == 0)
        ok = (d->dev->kind = name_index(kind_names, G_N_ELEMENTS(kind_names), value)) != 0;
    else if (strcmp(key, "side") == 0)
        ok = d->side_given =
            (d->dev->side = name_index(side_names, G_N_ELEMENTS(side_names), value)) != 0;
    else if (strcmp(key, "vf") == 0)
        ok = parse_int(value, G_MAXINT32, &d->dev->vf_index);
    else if (strcmp(key, "vlan") == 0)
        ok = parse_int(value, 4095, &d->dev->vlan);
    else {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s': '%s' is not a device key (kind, side, pci, pf, pf-netdev, "
                    "vf, netdev, mac, vlan, pool, domain, alias, job).", d->name, key);
        return FALSE;
    }
    if (!ok)
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Device '%s': '%s' is not a valid %s (kind: vf, vdpa or emulated; side: "
                    "source or destination; vf: a VF index; vlan: 0-4095).", d->name, value, key);
    return ok;
}

CheckDevice *
check_device_parse(const char *spec, GError **error)
{
    g_autoptr(CheckDevice) d = g_new0(CheckDevice, 1);
    const char *colon = strchr(spec, ':');
    g_auto(GStrv) pairs = NULL;

    d->name = g_strndup(spec, colon ? (gsize)(colon - spec) : strlen(spec));
    if (!*d->name) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "The device '%s' has no name: write NAME:KEY=VALUE,...", spec);
        return NULL;
    }
    d->dev = g_new0(PluginDevice, 1);
    *d->dev = (PluginDevice){ .kind = MIGD_DEVICE_VF, .side = MIGD_SIDE_DESTINATION,
                              .vf_index = -1, .vlan = -1 };
    pairs = g_strsplit(colon ? colon + 1 : "", ",", -1);
    for (guint i = 0; pairs[i]; i++) {
        char *eq = strchr(pairs[i], '=');

        if (!*pairs[i])
            continue;
        if (!eq) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Device '%s': '%s' is not KEY=VALUE.", d->name, pairs[i]);
            return NULL;
        }
        *eq = '\0';
        if (!device_set(d, pairs[i], eq + 1, error))
            return NULL;
    }
    if (!d->dev->alias)
        d->dev->alias = g_strdup(d->name);
    return g_steal_pointer(&d);
}
