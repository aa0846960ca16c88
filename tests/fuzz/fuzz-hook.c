/* migd-hook's input: the domain XML libvirt writes on its stdin (read from
 * a file put there, as libvirt's pipe would be), turned into the body it
 * sends, and migd's answer, from which it takes the rewritten XML or the
 * error it reports. The input is the XML, then optionally a NUL byte and
 * the answer. migd-hook.c is compiled in whole (its main renamed) so the
 * harness calls the very functions the hook runs. */
#define _GNU_SOURCE         /* memfd_create */
#define main migd_hook_main
#include "../../client/migd-hook.c"
#undef main

#include <sys/mman.h>

#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

/* Puts @len bytes of @data on stdin. */
static void
fuzz_stdin(const uint8_t *data, size_t len)
{
    int fd = memfd_create("fuzz-hook-stdin", 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
    g_assert_cmpint(lseek(fd, 0, SEEK_SET), ==, 0);
    g_assert_cmpint(dup2(fd, STDIN_FILENO), ==, STDIN_FILENO);
    close(fd);
}

/* What the hook sends for @xml must carry it unchanged. */
static void
fuzz_body(const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *body = hook_request_body("fuzz", "migrate", "begin", xml, &error);
    json_t *sent;
    const char *sent_xml = NULL;

    if (!body) {
        g_assert_nonnull(error);
        return;
    }
    sent = json_loads(body, 0, NULL);
    g_assert_nonnull(sent);
    g_assert_cmpint(json_unpack(sent, "{s:s}", "xml", &sent_xml), ==, 0);
    g_assert_cmpstr(sent_xml, ==, xml);
    json_decref(sent);
}

static void
fuzz_answer(const uint8_t *data, size_t len)
{
    g_autofree char *text = g_strndup((const char *)data, len);
    CtlResponse response = { .status = 200, .body = text, .len = len };
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = hook_answer_xml(&response, &error);
    g_autofree char *why = ctl_format_error_answer(409, text, len);

    g_assert_true((xml && xml[0] != '\0') || error);
    g_assert_nonnull(why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t xml_len = nul ? (size_t)(nul - data) : size;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;

    fuzz_stdin(data, xml_len);
    xml = hook_read_stdin(&error);
    if (xml)
        fuzz_body(xml);
    else
        g_assert_nonnull(error);
    if (nul)
        fuzz_answer(nul + 1, size - xml_len - 1);
    return 0;
}
