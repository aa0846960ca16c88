/* Tests of the domain XML module. Each tests/data/domxml/NAME.xml is read
 * for its passthrough NICs and the result (or the error) must equal
 * NAME.json. Each tests/data/domxml/rewrite/NAME.xml is rewritten as the
 * first line of NAME.args says and must equal NAME.out:
 *   remove ALIAS...         domxml_remove_devices
 *   replace ALIAS FILE      domxml_replace_device, FILE relative to rewrite/
 *   device ALIAS            domxml_device_xml
 * MIGD_TEST_REGENERATE=1 rewrites the .json and .out files. */
#include <config.h>

#include <string.h>

#include "domxml.h"
#include "error.h"
#include "jsonutil.h"
#include "testutil.h"

#define DATA_DIR SRCDIR "/data/domxml"
#define REWRITE_DIR DATA_DIR "/rewrite"

/* The pools of the golden cases: pf0 and pf1 own VFs by PCI address, the
 * lab pool owns the vmxnet3 stand-ins on taps avf0 and avf1, the vnic pool
 * the vDPA devices vdpa0 and vdpa1 on /dev/vhost-vdpa-0 and -1; the host
 * also has vDPA device stray, in no pool, on /dev/vhost-vdpa-5. */
static const char *
test_lookup(DomNicKind kind, const char *address, const char *model, char **ret_device,
            gpointer data)
{
    static const struct { const char *first, *last, *pool; } ranges[] = {
        { "0000:3b:02.0", "0000:3b:02.7", "pf0" },
        { "0000:5e:00.2", "0000:5e:00.3", "pf1" },
    };

    g_assert_nonnull(address);
    if (kind == DOM_NIC_VDPA) {
        static const char *const nodes[][2] = {
            { "/dev/vhost-vdpa-0", "vdpa0" }, { "/dev/vhost-vdpa-1", "vdpa1" },
            { "/dev/vhost-vdpa-5", "stray" },
        };

        g_assert_nonnull(ret_device);
        for (guint i = 0; i < G_N_ELEMENTS(nodes); i++) {
            if (strcmp(address, nodes[i][0]) == 0) {
                *ret_device = g_strdup(nodes[i][1]);
                return i < 2 ? "vnic" : NULL;
            }
        }
        return NULL;
    }
    g_assert_null(ret_device);
    if (kind == DOM_NIC_EMULATED) {
        gboolean lab = (strcmp(address, "avf0") == 0 || strcmp(address, "avf1") == 0) &&
                       g_strcmp0(model, "vmxnet3") == 0;

        return lab ? "lab" : NULL;
    }
    g_assert_null(model);
    for (guint i = 0; i < G_N_ELEMENTS(ranges); i++) {
        if (strcmp(address, ranges[i].first) >= 0 && strcmp(address, ranges[i].last) <= 0)
            return ranges[i].pool;
    }
    return NULL;
}

static char *
read_data(const char *path)
{
    char *text = NULL;
    g_autoptr(GError) error = NULL;

    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    return text;
}

static char *
dump_json(json_t *json)
{
    g_autofree char *text = json_dumps(json, JSON_INDENT(2));

    return g_strconcat(text, "\n", NULL);
}

/* What the golden file holds for an error. */
static char *
error_json(const GError *error)
{
    g_autoptr(json_t) json = NULL;

    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    json = json_pack("{s:s}", "error", error->message);
    return dump_json(json);
}

/* Each NIC's xml is its device as domxml_device_xml() finds it by alias. */
static void
check_device_xml(const char *xml, const GPtrArray *nics)
{
    for (guint i = 0; i < nics->len; i++) {
        const DomNic *nic = g_ptr_array_index(nics, i);
        g_autoptr(GError) error = NULL;
        g_autofree char *dev = domxml_device_xml(xml, nic->alias, &error);

        g_assert_no_error(error);
        g_assert_cmpstr(dev, ==, nic->xml);
    }
}

static void
test_find_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", DATA_DIR, name);
    g_autofree char *json_path = g_strdup_printf("%s/%s.json", DATA_DIR, name);
    g_autofree char *xml = read_data(xml_path);
    g_autofree char *actual = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) nics = domxml_find_nics(xml, test_lookup, NULL, &error);

    if (nics) {
        g_autoptr(json_t) json = domxml_nics_to_json(nics);

        g_assert_no_error(error);
        check_device_xml(xml, nics);
        actual = dump_json(json);
    } else {
        actual = error_json(error);
    }
    test_assert_golden(json_path, actual);
}

/* Runs the rewrite that @args names on @xml: the new XML or the error. */
static char *
run_rewrite(const char *xml, const char *args)
{
    g_autofree char *line = g_strndup(args, strcspn(args, "\n"));
    g_auto(GStrv) argv = g_strsplit(line, " ", -1);
    guint argc = g_strv_length(argv);
    g_autoptr(GError) error = NULL;
    g_autofree char *device = NULL;
    char *out = NULL;

    if (argc >= 2 && strcmp(argv[0], "remove") == 0) {
        out = domxml_remove_devices(xml, (const char *const *)argv + 1, &error);
    } else if (argc == 3 && strcmp(argv[0], "replace") == 0) {
        g_autofree char *path = g_strdup_printf("%s/%s", REWRITE_DIR, argv[2]);

        device = read_data(path);
        out = domxml_replace_device(xml, argv[1], device, &error);
    } else if (argc == 2 && strcmp(argv[0], "device") == 0) {
        out = domxml_device_xml(xml, argv[1], &error);
        if (out) {
            char *with_newline = g_strconcat(out, "\n", NULL);

            g_free(out);
            out = with_newline;
        }
    } else {
        g_error("'%s' is not a rewrite: say remove ALIAS..., replace ALIAS FILE or device ALIAS.",
                line);
    }
    g_assert_true((out == NULL) != (error == NULL));
    if (out)
        return out;
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    return g_strdup_printf("%s\n", error->message);
}

static void
test_rewrite_golden(gconstpointer data)
{
    const char *name = data;
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", REWRITE_DIR, name);
    g_autofree char *args_path = g_strdup_printf("%s/%s.args", REWRITE_DIR, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out", REWRITE_DIR, name);
    g_autofree char *xml = read_data(xml_path);
    g_autofree char *args = read_data(args_path);
    g_autofree char *actual = run_rewrite(xml, args);

    test_assert_golden(out_path, actual);
}

static void
test_kind_names(void)
{
    g_assert_cmpstr(dom_nic_kind_to_string(DOM_NIC_HOSTDEV_INTERFACE), ==, "hostdev-interface");
    g_assert_cmpstr(dom_nic_kind_to_string(DOM_NIC_PCI_HOSTDEV), ==, "pci-hostdev");
    g_assert_cmpstr(dom_nic_kind_to_string(DOM_NIC_EMULATED), ==, "emulated");
    g_assert_cmpstr(dom_nic_kind_to_string(DOM_NIC_VDPA), ==, "vdpa");
    g_assert_cmpstr(dom_nic_kind_to_string(DOM_NIC_KIND_LAST), ==, "unknown");
    dom_nic_free(NULL);
}

/* Without a lookup every passthrough NIC is in no pool and no emulated NIC
 * is one of ours. */
static void
test_no_lookup(void)
{
    g_autofree char *xml = read_data(DATA_DIR "/lab-guest.xml");
    g_autofree char *odd = read_data(DATA_DIR "/odd-valid.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) lab = domxml_find_nics(xml, NULL, NULL, &error);
    g_autoptr(GPtrArray) nics = NULL;

    g_assert_no_error(error);
    g_assert_cmpuint(lab->len, ==, 0);
    nics = domxml_find_nics(odd, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(nics->len, ==, 3);
    for (guint i = 0; i < nics->len; i++)
        g_assert_null(((DomNic *)g_ptr_array_index(nics, i))->pool);
}

/* A failed removal of several aliases names the missing one. */
static void
test_remove_some_missing(void)
{
    g_autofree char *xml = read_data(DATA_DIR "/several-vfs.xml");
    const char *const aliases[] = { "ua-vf0", "ua-vf7", NULL };
    const char *const twice[] = { "ua-vf0", "ua-vf0", NULL };
    g_autoptr(GError) error = NULL;
    g_autofree char *out = domxml_remove_devices(xml, aliases, &error);

    g_assert_null(out);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "'ua-vf7'"));
    g_clear_error(&error);
    g_assert_null(domxml_remove_devices(xml, twice, &error));
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_INVALID_ARGUMENT);
}

/* What the rewrites produce is a domain again, with the NICs one expects. */
static void
test_rewrite_round_trip(void)
{
    g_autofree char *xml = read_data(DATA_DIR "/several-vfs.xml");
    const char *const aliases[] = { "ua-vf1", NULL };
    g_autoptr(GError) error = NULL;
    g_autofree char *removed = domxml_remove_devices(xml, aliases, &error);
    g_autofree char *replaced = NULL;
    g_autoptr(GPtrArray) nics = NULL;
    const DomNic *nic;

    g_assert_no_error(error);
    replaced = domxml_replace_device(removed, "ua-vf2",
                                     "<interface type='hostdev' managed='yes'>"
                                     "<mac address='52:54:00:31:00:03'/>"
                                     "<source><address type='pci' domain='0x0000' bus='0x5e' "
                                     "slot='0x00' function='0x3'/></source>"
                                     "</interface>", &error);
    g_assert_no_error(error);
    nics = domxml_find_nics(replaced, test_lookup, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(nics->len, ==, 2);
    nic = g_ptr_array_index(nics, 1);
    g_assert_cmpstr(nic->alias, ==, "ua-vf2");
    g_assert_cmpstr(nic->address, ==, "0000:5e:00.3");
    g_assert_cmpstr(nic->pool, ==, "pf1");
    g_assert_cmpstr(nic->standby_alias, ==, "ua-sb2");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_add_golden(DATA_DIR, ".xml", "/domxml/find", test_find_golden);
    test_add_golden(REWRITE_DIR, ".xml", "/domxml/rewrite", test_rewrite_golden);
    g_test_add_func("/domxml/kind-names", test_kind_names);
    g_test_add_func("/domxml/no-lookup", test_no_lookup);
    g_test_add_func("/domxml/remove-some-missing", test_remove_some_missing);
    g_test_add_func("/domxml/rewrite-round-trip", test_rewrite_round_trip);
    return g_test_run();
}
