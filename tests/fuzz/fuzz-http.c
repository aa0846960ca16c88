/* Whole HTTP/1.1 requests through the real server: each input is written,
 * as raw bytes, to an HttpServer that serves migd's API (its gate and
 * handler, over libvirt's test driver, an Incoming and an engine whose
 * operations do nothing), on its unix socket, or over TCP on 127.0.0.1
 * (where a credential is asked for) when the input starts with '@'. What
 * comes back must be well-formed HTTP whose every JSON error is migd's
 * envelope. http.c is included to see when the server has let every
 * request go. */
#include <config.h>

#include <glib/gstdio.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "fuzz.h"
/* MHD's logger hands http.c a format to expand, which clang's -Wformat=2
 * does not take from a callback; gcc, which gates the code, does. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#include "http.c"
#include "testutil.h"
#pragma clang diagnostic pop

/* A request still being handled after this long is a hang. */
#define FUZZ_HTTP_DEADLINE_S 5

/* What "Authorization: Bearer" takes over TCP. */
#define FUZZ_HTTP_TOKEN "fuzz-token-0123456789"

typedef struct {
    Virt *virt;
    MigdConf *conf;
    Store *store;
    Engine *engine;
    Incoming *incoming;
    Api *api;
    HttpServer *server;
    HttpListener *unix_listener;
    HttpListener *tcp_listener;
    char *socket_path;
    struct sockaddr_in tcp_addr;
} FuzzServer;

static FuzzServer fs;

static void fuzz_op_job(gpointer ctx, Job *job) { }
static void fuzz_op_downtime(gpointer ctx, Job *job, guint ms) { }

/* Jobs wait in their first state: the API's side is what is fuzzed. */
static const EngineOps fuzz_ops = {
    .run_checks = fuzz_op_job,
    .nic_step = fuzz_op_job,
    .start_migration = fuzz_op_job,
    .set_downtime = fuzz_op_downtime,
    .auto_converge = fuzz_op_job,
    .postcopy = fuzz_op_job,
    .abort_migration = fuzz_op_job,
    .reconcile = fuzz_op_job,
    .watch_libvirt_job = fuzz_op_job,
    .finished = fuzz_op_job,
    .switchover = fuzz_op_job,
};

static void
fuzz_on_virt_state(Virt *virt, gboolean connected, gpointer data)
{
    *(gboolean *)data = TRUE;
}

static int
fuzz_tcp_listen(struct sockaddr_in *ret_addr)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
    *ret_addr = addr;
    return fd;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    VirtOptions options = { .keepalive_interval = 0, .keepalive_count = 1, .reconnect_max = 60 };
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *text = NULL;
    g_autofree char *token_file = NULL;
    gboolean settled = FALSE;

    fuzz_init();
    virt_global_init();
    dir = g_dir_make_tmp("fuzz-http-XXXXXX", &error);
    g_assert_no_error(error);
    token_file = g_build_filename(dir, "peer.token", NULL);
    g_assert_true(g_file_set_contents_full(token_file, FUZZ_HTTP_TOKEN, -1,
                                           G_FILE_SET_CONTENTS_NONE, 0600, &error));
    text = g_strdup_printf("[daemon]\nlibvirt_uri = test:///default\nstate_dir = %s/state\n"
                           "peer_token_file = %s\n", dir, token_file);
    fs.conf = conf_load_data("fuzz.conf", text, &error);
    g_assert_no_error(error);
    g_assert_cmpint(g_mkdir_with_parents(fs.conf->state_dir, 0700), ==, 0);
    fs.virt = virt_new(fs.conf->libvirt_uri, &options, fuzz_on_virt_state, &settled);
    virt_start(fs.virt);
    while (!settled)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_true(virt_is_connected(fs.virt));
    fs.store = store_open(fs.conf->state_dir, &error);
    g_assert_no_error(error);
    fs.engine = engine_new(fs.store, &fuzz_ops, NULL, &(EngineLimits){ 2, 1 });
    fs.incoming = incoming_new(fs.virt, fs.conf, &error);
    g_assert_no_error(error);
    fs.api = api_new(fs.virt, fs.engine, fs.conf);
    api_set_incoming(fs.api, fs.incoming);
    /* As migd's main.c wires them. */
    fs.server = http_server_new(api_handle, fs.api);
    http_server_set_gate(fs.server, api_gate);
    fs.socket_path = g_build_filename(dir, "migd.sock", NULL);
    g_assert_true(http_server_add_listener(fs.server, test_unix_listen(fs.socket_path), "fuzz",
                                           &error));
    g_assert_no_error(error);
    g_assert_true(http_server_add_listener(fs.server, fuzz_tcp_listen(&fs.tcp_addr), "fuzz TCP",
                                           &error));
    g_assert_no_error(error);
    fs.unix_listener = g_ptr_array_index(fs.server->listeners, 0);
    fs.tcp_listener = g_ptr_array_index(fs.server->listeners, 1);
    return 0;
}

/* ---- the client ---- */

typedef struct {
    int fd;
    HttpListener *listener;
    const uint8_t *data;
    size_t size;
    size_t sent;
    gboolean eof;           /* the server closed (or reset) the connection */
    gboolean closing;       /* an answer said it would */
    GByteArray *got;
} FuzzClient;

static void
fuzz_client_pump(FuzzClient *c)
{
    char buf[16 * 1024];
    ssize_t n;

    while (c->sent < c->size && !c->eof) {
        n = send(c->fd, c->data + c->sent, c->size - c->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) {
            /* The server closed early: what it answered is still to read. */
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                c->sent = c->size;
            break;
        }
        c->sent += (size_t)n;
    }
    while (!c->eof) {
        n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            g_byte_array_append(c->got, (const guint8 *)buf, (guint)n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            c->eof = TRUE;
        break;
    }
}

static gboolean
fuzz_client_on_io(int fd, GIOCondition condition, gpointer data)
{
    fuzz_client_pump(data);
    return G_SOURCE_CONTINUE;
}

/* Whether @fd is the server's end of @c's TCP connection. */
static gboolean
fuzz_is_server_end(const FuzzClient *c, int fd)
{
    struct sockaddr_in mine, peer, its_local, its_peer;
    socklen_t len = sizeof(mine);

    if (getsockname(c->fd, (struct sockaddr *)&mine, &len) < 0 ||
        (len = sizeof(peer), getpeername(c->fd, (struct sockaddr *)&peer, &len)) < 0 ||
        (len = sizeof(its_local), getsockname(fd, (struct sockaddr *)&its_local, &len)) < 0 ||
        len != sizeof(its_local) || its_local.sin_family != AF_INET ||
        (len = sizeof(its_peer), getpeername(fd, (struct sockaddr *)&its_peer, &len)) < 0)
        return FALSE;
    return its_local.sin_port == peer.sin_port && its_peer.sin_port == mine.sin_port &&
           its_local.sin_addr.s_addr == peer.sin_addr.s_addr &&
           its_peer.sin_addr.s_addr == mine.sin_addr.s_addr;
}

/* Bytes that the server has not read yet of what came over TCP: what its
 * end holds, found among this process's descriptors; -1 before it accepted. */
static int
fuzz_tcp_unread(const FuzzClient *c)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;
    int unread;

    while (dir && (name = g_dir_read_name(dir))) {
        int fd = atoi(name);

        if (fd != c->fd && fuzz_is_server_end(c, fd))
            return ioctl(fd, SIOCINQ, &unread) == 0 ? unread : -1;
    }
    return -1;
}

/* Whether the server has read every byte the client sent. On a unix
 * socket, what the client's end holds is what the server has not read. */
static gboolean
fuzz_client_all_read(const FuzzClient *c)
{
    int unread = 0;

    if (c->sent < c->size)
        return FALSE;
    if (c->listener == fs.tcp_listener)
        return fuzz_tcp_unread(c) == 0;
    return ioctl(c->fd, SIOCOUTQ, &unread) == 0 && unread == 0;
}

/* Whether the server waits for nothing but the client: every request is
 * answered and let go, or is a stream, or waits for more bytes. */
static gboolean
fuzz_server_idle(const FuzzClient *c)
{
    gboolean streaming = FALSE;

    if (g_main_context_pending(NULL))
        return FALSE;
    for (GList *link = c->listener->exchanges.head; link; link = link->next) {
        HttpExchange *ex = link->data;

        if (ex->state == HTTP_EXCHANGE_STREAMING)
            streaming = TRUE;
        else if (ex->state != HTTP_EXCHANGE_RECEIVING)
            return FALSE;
    }
    /* MHD reads nothing more while it streams. */
    return streaming || fuzz_client_all_read(c);
}

static gboolean
fuzz_on_deadline(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Runs the main loop until the server answered @c and waits for it (or,
 * once @c has hung up, let its connection go); a hang past the deadline
 * aborts, so that libFuzzer keeps the input. */
static void
fuzz_run_until(FuzzClient *c, const char *what)
{
    gboolean expired = FALSE;
    guint deadline = g_timeout_add_seconds(FUZZ_HTTP_DEADLINE_S, fuzz_on_deadline, &expired);

    for (;;) {
        if (c->fd >= 0) {
            fuzz_client_pump(c);
            if (c->eof || (!c->closing && fuzz_server_idle(c)))
                break;
        } else if (http_listener_connections(c->listener) == 0 &&
                   !g_main_context_pending(NULL)) {
            break;
        }
        if (expired)
            g_error("fuzz-http: %s took more than %d s", what, FUZZ_HTTP_DEADLINE_S);
        (void)g_main_context_iteration(NULL, TRUE);
    }
    if (!expired)
        g_source_remove(deadline);
}

/* ---- what came back ---- */

/* The value of header @name in @head (the lines after the status line),
 * or NULL. */
static char *
fuzz_header(const char *head, const char *name)
{
    g_auto(GStrv) lines = g_strsplit(head, "\r\n", -1);

    for (guint i = 1; lines[i]; i++) {
        const char *colon = strchr(lines[i], ':');

        if (colon && (gsize)(colon - lines[i]) == strlen(name) &&
            g_ascii_strncasecmp(lines[i], name, strlen(name)) == 0)
            return g_strdup(g_strstrip((char *)colon + 1));
    }
    return NULL;
}

/* A chunked body from @p (@len bytes): its length in the stream, or 0 when
 * incomplete; the data in @body. Aborts on a malformed chunk. */
static gsize
fuzz_dechunk(const char *p, gsize len, GString *body)
{
    gsize at = 0;

    for (;;) {
        const char *eol = g_strstr_len(p + at, (gssize)(len - at), "\r\n");
        guint64 size;
        char *end;

        if (!eol)
            return 0;
        size = g_ascii_strtoull(p + at, &end, 16);
        g_assert_true(end > p + at && (end == eol || *end == ';'));
        at = (gsize)(eol - p) + 2;
        if (size == 0) {
            /* No trailers from migd. */
            if (len - at < 2)
                return 0;
            g_assert_true(memcmp(p + at, "\r\n", 2) == 0);
            return at + 2;
        }
        if (len - at < size + 2)
            return 0;
        g_string_append_len(body, p + at, (gssize)size);
        g_assert_true(memcmp(p + at + size, "\r\n", 2) == 0);
        at += size + 2;
    }
}

/* The answer's body holds what migd promises: JSON where it says so, and
 * every JSON error the envelope {"error":{"code","message"}}. */
static void
fuzz_check_body(guint status, const char *type, const GString *body)
{
    g_autoptr(json_t) json = NULL;
    const char *code = NULL, *message = NULL;
    json_error_t jerr;

    if (!type || !g_str_has_prefix(type, "application/json")) {
        if (status >= 400)
            g_error("fuzz-http: a %u answer that is not migd's JSON envelope "
                    "(Content-Type %s): %.200s", status, type ? type : "none", body->str);
        return;
    }
    g_assert_true(g_utf8_validate(body->str, (gssize)body->len, NULL));
    json = json_loadb(body->str, body->len, 0, &jerr);
    if (!json)
        g_error("fuzz-http: a %u answer's JSON does not parse (%s): %.200s", status, jerr.text,
                body->str);
    if (status < 400)
        return;
    if (json_unpack(json, "{s:{s:s,s:s}}", "error", "code", &code, "message", &message) != 0)
        g_error("fuzz-http: a %u answer is not the error envelope: %.200s", status, body->str);
    g_assert_cmpstr(code, !=, "");
    g_assert_cmpstr(message, !=, "");
    if (status >= 500 && g_str_equal(code, "internal_error"))
        g_error("fuzz-http: a request got 500 internal_error: %s", message);
}

/* Checks one answer at @p (@len bytes): its length, or 0 while it is still
 * coming (a stream, or a server that has more to send). */
static gsize
fuzz_check_answer(const char *p, gsize len, gboolean eof)
{
    const char *end = g_strstr_len(p, (gssize)len, "\r\n\r\n");
    g_autofree char *head = NULL;
    g_autofree char *type = NULL;
    g_autofree char *length = NULL;
    g_autofree char *chunked = NULL;
    g_autoptr(GString) body = g_string_new(NULL);
    gsize at, n = 0;
    guint status;

    if (!end) {
        g_assert_true(g_str_has_prefix(p, "HTTP/1.") || len < strlen("HTTP/1.1"));
        return 0;
    }
    head = g_strndup(p, (gsize)(end - p));
    at = (gsize)(end - p) + 4;
    if (!g_regex_match_simple("^HTTP/1\\.[01] [1-5][0-9][0-9] [^\\r\\n]*(\\r\\n[!#$%&'*+.^_`|~"
                              "0-9A-Za-z-]+:[^\\r\\n]*)*$", head, 0, 0))
        g_error("fuzz-http: a malformed answer head: %.300s", head);
    status = (guint)g_ascii_strtoull(head + strlen("HTTP/1.1 "), NULL, 10);
    if (status < 200 || status == 204 || status == 304)
        return at;
    type = fuzz_header(head, "Content-Type");
    length = fuzz_header(head, "Content-Length");
    chunked = fuzz_header(head, "Transfer-Encoding");
    if (length) {
        n = (gsize)g_ascii_strtoull(length, NULL, 10);
        /* A HEAD's answer has the length of a body it does not send. */
        if (len - at < n && (len == at || g_str_has_prefix(p + at, "HTTP/1.")))
            return at;
        if (len - at < n)
            return 0;
        g_string_append_len(body, p + at, (gssize)n);
    } else if (chunked) {
        g_assert_cmpstr(chunked, ==, "chunked");
        n = fuzz_dechunk(p + at, len - at, body);
        if (n == 0)
            return 0;
    } else {
        /* Until the end: an HTTP/1.0 client's stream. */
        if (!eof)
            return 0;
        n = len - at;
        g_string_append_len(body, p + at, (gssize)n);
    }
    if (!type && status >= 400) {
        /* libmicrohttpd's own refusal (0.9.75 has its HTML compiled in and
         * no hook to replace it): it ends the connection. What follows is
         * not judged: for a Content-Length that is not a number, 0.9.75
         * writes the refusal's head twice, the first without its body. */
        g_autofree char *connection = fuzz_header(head, "Connection");

        if (!g_regex_match_simple("^HTTP/1\\.1 (400|413|414|431|500|501|505) ", head, 0, 0))
            g_error("fuzz-http: libmicrohttpd answered %.300s", head);
        if (!connection || g_ascii_strcasecmp(connection, "close") != 0 || !eof)
            g_error("fuzz-http: libmicrohttpd's refusal %.300s did not close the connection",
                    head);
        return len;
    }
    /* What RFC 9110 asks of these. */
    if (status == 405 || status == 401) {
        g_autofree char *what = fuzz_header(head, status == 405 ? "Allow" : "WWW-Authenticate");

        if (!what || !*what)
            g_error("fuzz-http: a %u without %s: %.300s", status,
                    status == 405 ? "Allow" : "WWW-Authenticate", head);
    }
    fuzz_check_body(status, type, body);
    return at + n;
}

static void
fuzz_check_answers(const GByteArray *got, gboolean eof)
{
    const char *p = (const char *)got->data;
    gsize len = got->len;

    while (len > 0) {
        gsize n;

        if (!g_str_has_prefix(p, "HTTP/1.") && len >= strlen("HTTP/1."))
            g_error("fuzz-http: bytes that are not an answer: %.200s", p);
        n = fuzz_check_answer(p, len, eof);
        if (n == 0 && eof) {
            g_autofree char *text = g_strescape(p, NULL);

            g_error("fuzz-http: the server closed the connection in the middle of an answer: "
                    "%.600s", text);
        }
        if (n == 0)
            return;
        p += n;
        len -= n;
    }
}

/* Whether an answer in @got said "Connection: close"; raw CRLFs are in
 * heads only, as JSON escapes them. */
static gboolean
fuzz_says_close(const GByteArray *got)
{
    g_autofree char *lower = NULL;

    if (got->len == 0)
        return FALSE;
    lower = g_ascii_strdown((const char *)got->data, got->len);
    return strstr(lower, "\r\nconnection: close\r\n") != NULL;
}

/* A connected socket to the unix socket, or with @tcp to 127.0.0.1. */
static int
fuzz_connect(gboolean tcp)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    if (tcp) {
        g_assert_cmpint(connect(fd, (struct sockaddr *)&fs.tcp_addr, sizeof(fs.tcp_addr)), ==, 0);
    } else {
        strcpy(addr.sun_path, fs.socket_path);
        g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    }
    g_assert_true(g_unix_set_fd_nonblocking(fd, TRUE, NULL));
    return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gboolean tcp = size > 0 && data[0] == '@';
    FuzzClient c = { .data = data + tcp, .size = size - tcp, .got = g_byte_array_new() };
    guint watch;

    c.listener = tcp ? fs.tcp_listener : fs.unix_listener;
    c.fd = fuzz_connect(tcp);
    /* Writes are pumped between iterations: the server reading wakes us. */
    watch = g_unix_fd_add(c.fd, G_IO_IN | G_IO_HUP | G_IO_ERR, fuzz_client_on_io, &c);
    fuzz_run_until(&c, "answering the requests");
    c.closing = fuzz_says_close(c.got);
    if (c.closing)
        fuzz_run_until(&c, "closing the connection after Connection: close");
    g_source_remove(watch);
    fuzz_client_pump(&c);
    /* A NUL ends the string the checks see; answers hold none. */
    g_byte_array_append(c.got, (const guint8 *)"", 1);
    g_byte_array_set_size(c.got, c.got->len - 1);
    fuzz_check_answers(c.got, c.eof);
    g_assert_cmpint(close(c.fd), ==, 0);
    c.fd = -1;
    /* The next input starts on a server with no request of this one. */
    fuzz_run_until(&c, "letting the connection go");
    g_byte_array_unref(c.got);
    return 0;
}
