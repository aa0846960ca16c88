/* The destination's answers as the source's NIC steps take them: the
 * reservation's leased VFs, the prepare's choices and plugin figures, the
 * replug's outcome, the switchover's and the resume's. The steps are the
 * real ones (src-nic-*.c), for a guest with a VF and its standby on the
 * unit tests' fake hypervisor, and the answer comes through the PeerOps table, parsed as peer.c parses what
 * libcurl got. Afterwards the job's "nics" record is written and read back,
 * as a restart would, so the strings taken from the peer go through both.
 *
 * An input is a line "STEP STATUS" (STEP: reserve, prepare, replug,
 * replug-after-restart, switchover or resume; STATUS: the HTTP status, 0 for no
 * answer), then the body as the peer sent it. */
#include <config.h>

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "fake-virt.h"
#include "fuzz.h"
#include "jsonutil.h"
#include "peer.h"
#include "src-nic-priv.h"

static const char guest_xml[] =
    "<domain type='qemu'><name>labvm</name><memory unit='KiB'>262144</memory><devices>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<model type='virtio'/><teaming type='persistent'/><alias name='ua-standby0'/></interface>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/>"
    "<target dev='avf0'/><model type='vmxnet3'/>"
    "<teaming type='transient' persistent='ua-standby0'/><alias name='ua-vf0'/></interface>\n"
    "  <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br1'/>"
    "<target dev='anat0'/><model type='e1000'/><alias name='ua-nat0'/></interface>\n"
    "</devices></domain>";

static const char conf_text[] =
    "[daemon]\ntcp_listen = 10.200.0.1:7480\n"
    "[nic]\nverify = none\nunplug_timeout_s = 1\nreplug_timeout_s = 1\nlease_ttl_s = 30\n"
    "[pool.lab]\ntype = emulated\nmodel = vmxnet3\nbridge = br0\nslots = avf0, avf1\n"
    "[pool.nat]\ntype = emulated\nmodel = e1000\nbridge = br1\nslots = anat0\nnative = true\n";

typedef struct {
    guint status;
    const char *body;
    size_t len;
    gboolean answered;          /* later calls find nobody listening */
    guint calls;
} FuzzPeer;

static MigdConf *conf;
static Engine *engine;
static FakeVirt *fake_virt;
static Virt *virt;
static FuzzPeer peer;

typedef struct {
    PeerReply reply;
    gpointer data;
    GCancellable *cancellable;
    guint status;
    json_t *body;
} FuzzCall;

/* On the loop, as peer.c answers. */
static gboolean
fuzz_peer_deliver(gpointer data)
{
    FuzzCall *c = data;

    if (!g_cancellable_is_cancelled(c->cancellable))
        c->reply(c->status, c->body, c->status ? NULL : "Couldn't connect to server", c->data);
    g_object_unref(c->cancellable);
    json_decref(c->body);
    g_free(c);
    return G_SOURCE_REMOVE;
}

static void
fuzz_peer_call(const PeerOps *ops, const char *base_url, const char *token, const char *method,
               const char *path, json_t *body, guint timeout_ms, GCancellable *cancellable,
               PeerReply reply, gpointer data)
{
    FuzzCall *c = g_new0(FuzzCall, 1);

    peer.calls++;
    c->reply = reply;
    c->data = data;
    c->cancellable = cancellable ? g_object_ref(cancellable) : g_cancellable_new();
    if (!peer.answered) {
        peer.answered = TRUE;
        c->status = peer.status;
        if (peer.status && peer.len > 0)
            c->body = json_loadb(peer.body, peer.len, 0, NULL);
    }
    g_idle_add(fuzz_peer_deliver, c);
}

static const PeerOps fuzz_peer_ops = { "fuzz", NULL, fuzz_peer_call };

static void op_job(gpointer ctx, Job *job) { }
static void op_ms(gpointer ctx, Job *job, guint ms) { }

static const EngineOps engine_ops = {
    .run_checks = op_job,
    .nic_step = op_job,
    .start_migration = op_job,
    .set_downtime = op_ms,
    .auto_converge = op_job,
    .postcopy = op_job,
    .abort_migration = op_job,
    .reconcile = op_job,
    .watch_libvirt_job = op_job,
    .finished = op_job,
    .switchover = op_job,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("fuzz-peer-answers-XXXXXX", &error);
    EngineLimits limits = { 2, 24 };
    Store *store;

    fuzz_init();
    g_assert_no_error(error);
    conf = conf_load_data("fuzz.conf", conf_text, &error);
    g_assert_no_error(error);
    /* No job is in it: the steps' events reach an engine that has no such
     * job, so only the steps' own handling of the answer runs. */
    store = store_open(dir, &error);
    g_assert_no_error(error);
    engine = engine_new(store, &engine_ops, NULL, &limits);
    (void)g_rmdir(dir);
    peer_set_ops(&fuzz_peer_ops);
    fake_virt = fake_virt_new();
    virt = fake_virt_new_virt(fake_virt);
    fake_virt_add_domain(fake_virt, FAKE_VIRT_LOCAL, "labvm", guest_xml, VIR_DOMAIN_RUNNING);
    return 0;
}

static Job *
fuzz_job(const char *strategy, json_t *nics)
{
    JobDestination dest = { (char *)"B", (char *)"qemu+tcp://10.200.0.2/system",
                            (char *)"http://10.200.0.2:7480" };
    JobOptions options = { 0 };
    Job *job = job_new("fuzz-job", "labvm", &dest, strategy, &options, &conf->policy, NULL,
                       g_get_real_time(), g_get_monotonic_time() / 1000);

    job->nics = nics ? json_incref(nics) : NULL;
    return job;
}

static NicSteps *
fuzz_steps(Job *job)
{
    NicSteps *ns = nic_steps_new(engine, virt, conf, job);
    g_autofree char *refusal = NULL;
    g_autofree char *summary = NULL;
    gboolean postcopy_forbidden;

    ns->retry_every_ms = ns->busy_every_ms = 1;
    ns->retry_for_ms = ns->busy_for_ms = 0;
    if (!job->nics && !nic_steps_classify_xml(ns, conf, guest_xml, guest_xml, job,
                                              &postcopy_forbidden, &refusal, &summary))
        g_error("the fuzzer's guest is refused: %s", refusal);
    return ns;
}

static void
fuzz_settle(void)
{
    while (g_main_context_pending(NULL))
        g_main_context_iteration(NULL, FALSE);
}

static gboolean
fuzz_timed_out(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* A switchover asks the peer only after its hold, a libvirt call in a
 * worker: the loop waits for the peer's call (5 s at most). */
static void
fuzz_wait_peer(void)
{
    gboolean timed_out = FALSE;
    guint timeout = g_timeout_add_seconds(5, fuzz_timed_out, &timed_out);

    while (!peer.calls && !timed_out)
        g_main_context_iteration(NULL, TRUE);
    if (!timed_out)
        g_source_remove(timeout);
}

/* The record of @ns, read back as after a restart, and written again. */
static void
fuzz_restart(NicSteps *ns, const char *strategy)
{
    g_autoptr(json_t) record = nic_steps_to_json(ns);
    g_autoptr(Job) job = fuzz_job(strategy, record);
    NicSteps *again = fuzz_steps(job);
    g_autoptr(json_t) reread = nic_steps_to_json(again);

    g_assert_nonnull(reread);
    nic_steps_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *eol = memchr(data, '\n', size);
    g_autofree char *head = eol ? g_strndup((const char *)data, eol - data) : NULL;
    char step[32];
    const char *strategy;
    guint status;
    g_autoptr(Job) job = NULL;
    NicSteps *ns;

    if (!head || sscanf(head, "%31s %u", step, &status) != 2 || status > 999)
        return 0;
    strategy = g_str_equal(step, "switchover") || g_str_equal(step, "resume") ? "pause" : "auto";
    peer = (FuzzPeer){ status, (const char *)eol + 1, size - (size_t)(eol + 1 - data) };
    job = fuzz_job(strategy, NULL);
    ns = fuzz_steps(job);
    if (g_str_equal(step, "reserve"))
        nic_reserve(ns);
    else if (g_str_equal(step, "prepare"))
        nic_prepare(ns);
    else if (g_str_equal(step, "replug"))
        nic_replug(ns);
    else if (g_str_equal(step, "replug-after-restart")) {
        ns->rebuilt = TRUE;
        nic_replug(ns);
    } else if (g_str_equal(step, "switchover")) {
        nic_steps_switchover(ns, job);
        fuzz_wait_peer();
    } else if (g_str_equal(step, "resume"))
        nic_pause_resume_there(ns);
    else {
        nic_steps_free(ns);
        return 0;
    }
    fuzz_settle();
    g_assert_cmpuint(peer.calls, >, 0);
    fuzz_restart(ns, strategy);
    nic_steps_free(ns);
    fuzz_settle();
    return 0;
}
