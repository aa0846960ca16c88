/* migd-plugin-check's devices: "NAME:KEY=VALUE,..." on the command line,
 * read into the PluginDevice migd would hand the plugin. */
#pragma once

#include <glib.h>

#include "plugin-call.h"

typedef struct {
    char *name;
    PluginDevice *dev;
    gboolean side_given;        /* side= was in the spec */
} CheckDevice;

/* Reads @spec ("dst:kind=vf,pf-netdev=eth1,vf=0,side=destination").
 * Keys: kind (vf, vdpa, emulated), side (source, destination), pci, pf,
 * pf-netdev, vf, netdev, mac, vlan, pool, domain, alias, job. Unset strings
 * are NULL and numbers -1, as in migd; alias defaults to the name, kind to
 * vf, side to destination (migd-plugin-check makes it source for a device
 * it saves). NULL with a sentence in @error naming the key that is wrong. */
CheckDevice *check_device_parse(const char *spec, GError **error);
void check_device_free(CheckDevice *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CheckDevice, check_device_free)

const char *check_device_kind_to_string(guint kind);
const char *check_device_side_to_string(guint side);
