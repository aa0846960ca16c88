/* A domain's live XML as the source reads it from libvirt (and the
 * destination's hook from libvirt): its passthrough NICs found, and each
 * one's element read, removed and replaced as unplugging, replugging and
 * the hook do. The input is the domain XML, then optionally a NUL byte and
 * the device element to plug in (else each NIC's own element is used). */
#include <config.h>

#include "domxml.h"
#include "error.h"
#include "fuzz.h"
#include "jsonutil.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* Every device is in a pool, as on a host whose pools cover them all: the
 * standby and rewrite paths run for each. */
static const char *
fuzz_lookup(DomNicKind kind, const char *address, const char *model, char **ret_device,
            gpointer data)
{
    if (kind == DOM_NIC_VDPA && address && ret_device)
        *ret_device = g_path_get_basename(address);
    return address ? "fuzz" : NULL;
}

static void
fuzz_rewrite(const char *xml, const DomNic *nic, const char *device)
{
    const char *aliases[] = { nic->alias, NULL };
    g_autoptr(GError) error = NULL;
    g_autofree char *element = domxml_device_xml(xml, nic->alias, &error);
    g_autofree char *removed = NULL;
    g_autofree char *replaced = NULL;

    if (!element)
        g_error("domxml_find_nics found '%s' but domxml_device_xml cannot: %s", nic->alias,
                error->message);
    removed = domxml_remove_devices(xml, aliases, &error);
    if (!removed)
        g_error("domxml_find_nics found '%s' but domxml_remove_devices cannot: %s",
                nic->alias, error->message);
    replaced = domxml_replace_device(xml, nic->alias, device ? device : element, &error);
    g_assert_true(replaced || error);
    g_clear_error(&error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *rest;
    size_t rest_len;
    g_autofree char *xml = fuzz_split(data, size, &rest, &rest_len);
    g_autofree char *device = rest_len ? fuzz_text(rest, rest_len) : NULL;
    const char *unknown[] = { "fuzz-no-such-alias", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) nics = domxml_find_nics(xml, fuzz_lookup, NULL, &error);
    g_autoptr(json_t) described = NULL;
    g_autofree char *none = NULL;

    if (!nics) {
        g_assert_nonnull(error);
        return 0;
    }
    described = domxml_nics_to_json(nics);
    g_assert_cmpuint(json_array_size(described), ==, nics->len);
    for (guint i = 0; i < nics->len; i++) {
        const DomNic *nic = g_ptr_array_index(nics, i);

        if (nic->alias)
            fuzz_rewrite(xml, nic, device);
    }
    none = domxml_remove_devices(xml, unknown, &error);
    g_assert_null(none);
    g_assert_nonnull(error);
    return 0;
}
