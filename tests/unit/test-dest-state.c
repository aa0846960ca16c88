/* The destination's side of the NICs' device state (daemon/dest-state.c)
 * with the "stateful" fixture plugin: the prepare's frames are refused when
 * damaged, too large or for a plugin this host lacks, before any plugin
 * sees them; accepted ones are checked, kept across a restart, restored
 * onto the leased VF once it is plugged in, and undone when the job fails. */
#include <config.h>

#include <string.h>

#include "dest-priv.h"
#include "error.h"
#include "plugin-call.h"
#include "plugin-frame.h"
#include "test-dest.h"
#include "testutil.h"

#define NIC0_UNPLUG "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"}]"
#define NIC0_NATIVE                                                                            \
    "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\",\"strategy\":"     \
    "\"native\"}]"

static void
reserve(TdFixture *f, const char *strategy, const char *nics)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) r = td_reserve(f, "job-1", "labvm", strategy, nics, &error);

    g_assert_no_error(error);
}

static json_t *
nic_state(TdFixture *f)
{
    g_autoptr(json_t) r = incoming_get(f->in, "job-1", NULL);

    return json_incref(json_array_get(
        json_object_get(json_array_get(json_object_get(r, "nics"), 0), "states"), 0));
}

static void
add_guest(TdFixture *f, const char *nic)
{
    g_autofree char *xml = td_domain_xml("labvm", (const char *const[]){ nic, NULL });

    fake_virt_add_domain(f->fv, TD_SOURCE_URI, "labvm", xml, VIR_DOMAIN_RUNNING);
}

/* Checked before the answer, kept across a restart, restored onto the VF
 * once it is plugged in and before the guest is asked; nothing undone. */
static void
test_checked_kept_restored(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) prepared = NULL;
    g_autoptr(json_t) state = NULL;
    g_autoptr(json_t) after = NULL;
    g_autoptr(json_t) replug = NULL;

    reserve(f, "unplug", NIC0_UNPLUG);
    prepared = td_prepare_saved(f, "job-1", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(prepared, "replug"),
                                                      "state")), ==, "armed");
    g_assert_cmpuint(td_calls(f, "check_state ua-vf0 destination"), ==, 1);
    state = nic_state(f);
    g_assert_cmpstr(json_string_value(json_object_get(state, "plugin")), ==, "stateful");
    g_assert_cmpint(json_integer_value(json_object_get(state, "bytes")), ==, 15);
    g_assert_cmpint(json_integer_value(json_object_get(state, "check_ms")), >=, 0);
    g_assert_false(json_is_true(json_object_get(state, "restored")));

    td_restart(f);
    g_clear_pointer(&state, json_decref);
    state = nic_state(f);
    g_assert_cmpstr(json_string_value(json_object_get(state, "plugin")), ==, "stateful");

    add_guest(f, NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination"), ==, 1);
    replug = td_replug(f, "job-1", &error);
    g_assert_no_error(error);
    after = json_incref(json_array_get(
        json_object_get(json_array_get(json_object_get(replug, "nics"), 0), "states"), 0));
    g_assert_true(json_is_true(json_object_get(after, "restored")));
    g_assert_cmpint(json_integer_value(json_object_get(after, "restore_ms")), >=, 0);
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    g_assert_cmpuint(td_calls(f, "abort *"), ==, 0);
}

/* A native NIC came with the guest: its state is restored before the verify. */
static void
test_native_restored(TdFixture *f, gconstpointer data)
{
    td_reserve_prepared(f, "native", NIC0_NATIVE);
    add_guest(f, "ua-vf0=avf0");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination"), ==, 1);
    g_assert_cmpuint(td_calls(f, "post_switchover ua-vf0 destination"), ==, 1);
}

/* A native NIC's plugin that doubts the device after the switchover: the
 * replug ends (the device moved with the guest; nothing to undo) and its
 * detail says the plugin's words. */
static void
test_native_post_failed(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) r = NULL;
    const char *detail;

    td_reserve_prepared(f, "native", NIC0_NATIVE);
    add_guest(f, "ua-vf0=avf0");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    r = incoming_get(f->in, "job-1", NULL);
    detail = json_string_value(json_object_get(json_object_get(r, "replug"), "detail"));
    g_assert_nonnull(strstr(detail, "after the switchover (post_switchover) plugin stateful for "
                                    "ua-vf0: "));
    g_assert_nonnull(strstr(detail, "post_switchover of ua-vf0 fails"));
    g_assert_cmpuint(td_calls(f, "abort *"), ==, 0);
}

/* Asserts that @body is refused with @code and a message matching @pattern,
 * before any plugin saw it, and that nothing was armed or kept. */
static void
assert_refused(TdFixture *f, json_t *body, MigdErrorCode code, const char *pattern)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) result = td_prepare(f, "job-1", body, &error);
    g_autoptr(json_t) state = NULL;

    g_assert_null(result);
    g_assert_error(error, MIGD_ERROR, (gint)code);
    if (!g_pattern_match_simple(pattern, error->message))
        g_error("'%s' does not match '%s'", error->message, pattern);
    g_assert_cmpuint(td_calls(f, "*"), ==, 0);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
    state = nic_state(f);
    g_assert_null(state);
}

static void
test_refusals(TdFixture *f, gconstpointer data)
{
    g_autofree char *good = td_state_frame("stateful", "ua-vf0", "state of ua-vf0");
    g_autofree char *damaged = g_strdup(good);
    g_autofree char *large = NULL;
    g_autofree char *foreign = td_state_frame("nosuch", "ua-vf0", "state of ua-vf0");
    g_autofree char *big = g_strnfill(100, 'x');
    g_autoptr(json_t) b1 = NULL, b2 = NULL, b3 = NULL, b4 = NULL, b5 = NULL;

    reserve(f, "unplug", NIC0_UNPLUG);
    /* One bit changed in the state (the base64 of byte 40 on). */
    damaged[60] = damaged[60] == 'A' ? 'B' : 'A';
    b1 = td_states_body("ua-vf0", "stateful", damaged);
    assert_refused(f, b1, MIGD_ERROR_INVALID_ARGUMENT,
                   "the device state of NIC ua-vf0 from plugin stateful is refused: *checksum "
                   "does not match*");
    large = td_state_frame("stateful", "ua-vf0", big);
    b2 = td_states_body("ua-vf0", "stateful", large);
    assert_refused(f, b2, MIGD_ERROR_INVALID_ARGUMENT,
                   "the device state of NIC ua-vf0 from plugin stateful is refused: *its state "
                   "is 100 bytes, over the limit of 64 ([plugins] max_state_bytes)*");
    b3 = td_states_body("ua-vf0", "nosuch", foreign);
    assert_refused(f, b3, MIGD_ERROR_CONFLICT,
                   "the device state of NIC ua-vf0 is refused: this host has no plugin nosuch "
                   "(loaded: stateful)*");
    b4 = td_states_body("ua-vf9", "stateful", good);
    assert_refused(f, b4, MIGD_ERROR_INVALID_ARGUMENT,
                   "states[0] is for NIC ua-vf9, which the reservation job-1 does not have");
    b5 = json_pack("{s:[{s:s}]}", "states", "alias", "ua-vf0");
    assert_refused(f, b5, MIGD_ERROR_INVALID_ARGUMENT, "states[0] of the prepare is not valid*");
}

/* The plugin was called abort; the source's rollback then releases the
 * reservation, which calls no second abort. */
static void
assert_aborted_once(TdFixture *f)
{
    while (td_calls(f, "abort ua-vf0 destination") == 0)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    (void)g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(td_calls(f, "abort *"), ==, 1);
}

/* The plugin refuses the state (or overruns call_timeout_s): the prepare
 * fails with @message, which names the NIC and the plugin, and nothing is
 * armed or kept. */
static void
assert_check_refused(TdFixture *f, const char *message)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) result = NULL;
    g_autoptr(json_t) state = NULL;

    reserve(f, "unplug", NIC0_UNPLUG);
    result = td_prepare_saved(f, "job-1", &error);
    g_assert_null(result);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_cmpstr(error->message, ==, message);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
    state = nic_state(f);
    g_assert_null(state);
}

/* ... and the plugin undoes what it did. */
static void
test_check_refused(TdFixture *f, gconstpointer data)
{
    assert_check_refused(f, "the destination refuses the device state of NIC ua-vf0: plugin "
                            "stateful: check_state failed: check_state of ua-vf0 fails: fail_at "
                            "= check_state is set (Input/output error)");
    assert_aborted_once(f);
}

static void
test_check_timeout(TdFixture *f, gconstpointer data)
{
    assert_check_refused(f, "the destination refuses the device state of NIC ua-vf0: plugin "
                            "stateful: check_state did not answer within its timeout ([plugins] "
                            "call_timeout_s)");
}

/* The restore fails after the VF is plugged: the replug fails loudly,
 * naming the NIC and the plugin's words, and the plugin undoes it. */
static void
test_restore_failed(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) replug = NULL;
    const char *detail;

    td_reserve_prepared(f, "unplug", NIC0_UNPLUG);
    add_guest(f, NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "failed"));
    replug = td_replug(f, "job-1", &error);
    g_assert_no_error(error);
    detail = json_string_value(json_object_get(json_object_get(replug, "replug"), "detail"));
    g_assert_true(g_pattern_match_simple("the device state of ua-vf0 was not restored onto the "
                                         "VF tvf0: plugin stateful: restore_state failed: "
                                         "restore_state of ua-vf0 fails: fail_at = "
                                         "restore_state is set*", detail));
    assert_aborted_once(f);
}

/* Each VF gets its state as soon as it is plugged, before the next is:
 * the first restore fails, so the second NIC is not plugged at all. */
static void
test_restore_before_next_plug(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = td_two_states_body("ua-vf0", "stateful", "ua-vf1", "stateful");
    g_autoptr(json_t) prepared = NULL;

    reserve(f, "unplug",
            "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"lab\"},"
            "{\"alias\":\"ua-vf1\",\"mac\":\"52:54:00:00:00:02\",\"pool\":\"lab\"}]");
    prepared = td_prepare(f, "job-1", body, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(td_calls(f, "check_state ua-vf? destination"), ==, 2);
    add_guest(f, NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "failed"));
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 1);
    g_assert_cmpuint(td_calls(f, "restore_state *"), ==, 1);
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination"), ==, 1);
    /* Every plugin that checked a state here undoes, the unplugged ones too. */
    while (td_calls(f, "abort *") < 2)
        (void)g_main_context_iteration(NULL, TRUE);
}

/* The source undoes the job after the prepare: the release calls abort. */
static void
test_released_aborts(TdFixture *f, gconstpointer data)
{
    td_reserve_prepared(f, "unplug", NIC0_UNPLUG);
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    while (td_calls(f, "abort ua-vf0 destination") == 0)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "gone");
}

/* --- strategy auto ----------------------------------------------------------------- */

static json_t *
choose_body(const char *vouches, gboolean unplug)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = g_strdup_printf("{\"choose\":[{\"alias\":\"ua-vf0\",\"vouches\":"
                                            "%s,\"unplug\":%s}]}",
                                            vouches, unplug ? "true" : "false");
    json_t *body = json_loads(text, 0, NULL);

    g_assert_nonnull(body);
    return body;
}

static json_t *
nic0(json_t *reservation)
{
    return json_array_get(json_object_get(reservation, "nics"), 0);
}

/* The source's plugin vouches for @vouches; this host's fixture for what
 * its settings say: the prepare's answer gives the NIC @strategy with a
 * reason matching @pattern, kept across a restart. */
static void
assert_chosen(TdFixture *f, const char *vouches, const char *strategy, const char *pattern)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = choose_body(vouches, TRUE);
    g_autoptr(json_t) prepared = NULL;
    g_autoptr(json_t) after = NULL;
    const char *chosen;

    reserve(f, "unplug", NIC0_UNPLUG);
    prepared = td_prepare(f, "job-1", body, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(json_string_value(json_object_get(nic0(prepared), "strategy")), ==, strategy);
    g_assert_cmpstr(json_string_value(json_object_get(prepared, "strategy")), ==, strategy);
    chosen = json_string_value(json_object_get(nic0(prepared), "chosen"));
    if (!chosen || !g_pattern_match_simple(pattern, chosen))
        g_error("'%s' does not match '%s'", chosen, pattern);
    g_assert_cmpuint(td_calls(f, "probe ua-vf0 destination"), ==, 1);
    td_restart(f);
    after = incoming_get(f->in, "job-1", NULL);
    g_assert_cmpstr(json_string_value(json_object_get(nic0(after), "strategy")), ==, strategy);
    g_assert_cmpstr(json_string_value(json_object_get(nic0(after), "chosen")), ==, chosen);
}

/* A case of strategy auto here: this host's plugins' @settings, what the
 * source's vouch for, and the strategy and reason the choice gives. */
typedef struct {
    const char *path;
    const char *settings;
    const char *vouches;
    const char *strategy;
    const char *chosen;
} ChoiceCase;

static const ChoiceCase choice_cases[] = {
    { "/dest/auto/pause", "", "[\"native\",\"pause\"]", "pause",
      "the plugins of both hosts vouch that it can stay attached while migd pauses the guest "
      "at switchover (plugin stateful here vouches for pause)" },
    { "/dest/auto/native", "vouch = native pause\n", "[\"native\",\"pause\"]", "native",
      "the plugins of both hosts vouch that it can stay attached and migrate inside QEMU "
      "(plugin stateful here vouches for native and pause)" },
    { "/dest/auto/unplug", "", "[\"native\"]", "unplug",
      "the source's plugins vouch for native and plugin stateful here vouches for pause, so it "
      "cannot stay attached" },
    /* stateful here vouches for nothing, stateful2 (no state) for native:
     * together they vouch native. */
    { "/dest/two/auto-union", "vouch = none\n[plugin.stateful2]\nstate = no\nvouch = native\n",
      "[\"native\"]", "native",
      "the plugins of both hosts vouch that it can stay attached and migrate inside QEMU "
      "(plugin stateful, plugin stateful2 here vouch together for native)" },
    /* ... and a plugin here that denies native outweighs the other's vouch. */
    { "/dest/two/auto-denied", "vouch = native\n[plugin.stateful2]\nvouch = none\ndeny = native\n",
      "[\"native\"]", "unplug",
      "the source's plugins vouch for native and plugin stateful, plugin stateful2 here vouch "
      "together for nothing, so it cannot stay attached" },
};

static void
setup_choice(TdFixture *f, gconstpointer data)
{
    td_setup(f, ((const ChoiceCase *)data)->settings);
}

static void
test_choice(TdFixture *f, gconstpointer data)
{
    const ChoiceCase *c = data;

    assert_chosen(f, c->vouches, c->strategy, c->chosen);
}

/* No standby on the source and no strategy both plugins vouch for: 409,
 * the NIC's strategy as it was, nothing armed. */
static void
test_auto_nothing_left(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = choose_body("[\"native\"]", FALSE);
    g_autoptr(json_t) prepared = NULL;
    g_autoptr(json_t) after = NULL;

    reserve(f, "pause", NIC0_UNPLUG);
    prepared = td_prepare(f, "job-1", body, &error);
    g_assert_null(prepared);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_cmpstr(error->message, ==,
                    "strategy auto: NIC ua-vf0 has no standby on the source, so it cannot be "
                    "unplugged, and it cannot stay attached either: the source's plugins vouch "
                    "for native and plugin stateful here vouches for pause; nothing was changed");
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
    after = incoming_get(f->in, "job-1", NULL);
    g_assert_cmpstr(json_string_value(json_object_get(nic0(after), "strategy")), ==, "pause");
    g_assert_true(json_is_null(json_object_get(nic0(after), "chosen")));
}

/* A choice that is not valid is refused before any plugin is asked. */
static void
test_auto_refusals(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) b1 = choose_body("[\"teleport\"]", TRUE);
    g_autoptr(json_t) b2 = json_pack("{s:[{s:s,s:[],s:b}]}", "choose", "alias", "ua-vf9",
                                     "vouches", "unplug", 1);
    g_autoptr(json_t) b3 = json_pack("{s:[{s:s,s:[],s:b},{s:s,s:[],s:b}]}", "choose", "alias",
                                     "ua-vf0", "vouches", "unplug", 1, "alias", "ua-vf0",
                                     "vouches", "unplug", 1);
    g_autoptr(json_t) b4 = json_pack("{s:{}}", "choose");

    reserve(f, "unplug", NIC0_UNPLUG);
    assert_refused(f, b1, MIGD_ERROR_INVALID_ARGUMENT,
                   "choose[0].vouches[0] is not native or pause");
    assert_refused(f, b2, MIGD_ERROR_INVALID_ARGUMENT,
                   "choose[0] is for NIC ua-vf9, which the reservation job-1 does not have");
    assert_refused(f, b3, MIGD_ERROR_INVALID_ARGUMENT,
                   "choose[1] asks a second time about NIC ua-vf0");
    assert_refused(f, b4, MIGD_ERROR_INVALID_ARGUMENT,
                   "the prepare's body is not valid: 'choose' must be an array");
}

/* --- the sriov pool ------------------------------------------------------------------ */

#define SR_NIC(strategy)                                                                     \
    "[{\"alias\":\"ua-vf0\",\"mac\":\"52:54:00:00:00:01\",\"pool\":\"sr\",\"strategy\":\""    \
    strategy "\"}]"

/* Asserts that the plugin's calls on the leased VF (VF 1 of ens2f0, the
 * first free one), told what sriov-vfcfg reaches it by, and the guest's
 * attaches and detaches here were @steps, in order, and nothing else. */
static void
assert_sriov_steps(TdFixture *f, const char *const *steps)
{
    g_autofree char *log = td_calls_log(f);

    while (plugin_call_in_flight() > 0)
        (void)g_main_context_iteration(NULL, TRUE);
    test_assert_calls(log, "ua-vf0", "destination pci=" TD_SR_VF1 " pf=" TD_SR_PF " vf=1 "
                      "pf_netdev=ens2f0 domain=labvm job=job-1", steps);
}

/* Unplug: checked at the prepare, before its answer lets the source
 * unplug anything; once the guest is here, the leased VF gets the state
 * before it is plugged into the guest. */
static void
test_sriov_unplug(TdFixture *f, gconstpointer data)
{
    td_reserve_prepared(f, "unplug", SR_NIC("unplug"));
    assert_sriov_steps(f, (const char *const[]){ "check_state", NULL });
    add_guest(f, NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
    assert_sriov_steps(f, (const char *const[]){ "check_state", "restore_state", "virt attach",
                                                 NULL });
    g_assert_true(incoming_release(f->in, "job-1", NULL));
}

/* The source undoes the job after the prepare: abort, nothing plugged. */
static void
test_sriov_released(TdFixture *f, gconstpointer data)
{
    td_reserve_prepared(f, "unplug", SR_NIC("unplug"));
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    assert_sriov_steps(f, (const char *const[]){ "check_state", "abort", NULL });
}

/* The restore fails: the VF is not given to the guest with settings that
 * did not stick, and the plugin undoes what it did. */
static void
test_sriov_restore_failed(TdFixture *f, gconstpointer data)
{
    td_reserve_prepared(f, "unplug", SR_NIC("unplug"));
    add_guest(f, NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "failed"));
    assert_sriov_steps(f, (const char *const[]){ "check_state", "restore_state", "abort",
                                                 NULL });
    g_assert_false(fake_virt_has_device(f->fv, FAKE_VIRT_LOCAL, "labvm", "ua-vf0"));
}

/* The first attach fails: the VF, which has its state already, is plugged
 * at the second attempt without a second restore; nothing is undone. */
static void
test_sriov_attach_retried(TdFixture *f, gconstpointer data)
{
    td_reserve_prepared(f, "unplug", SR_NIC("unplug"));
    add_guest(f, NULL);
    fake_virt_fail_next(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH, VIRT_OPS_ERROR_FAILED,
                        "internal error: unable to execute QEMU command 'device_add'");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    assert_sriov_steps(f, (const char *const[]){ "check_state", "restore_state", "virt attach",
                                                 "virt attach", NULL });
}

/* The check refuses: the prepare fails, nothing is armed or plugged, and
 * the plugin is called abort. */
static void
test_sriov_check_refused(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) result = NULL;

    reserve(f, "unplug", SR_NIC("unplug"));
    result = td_prepare_saved(f, "job-1", &error);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
    assert_sriov_steps(f, (const char *const[]){ "check_state", "abort", NULL });
    g_assert_cmpuint(fake_virt_calls(f->fv, FAKE_VIRT_LOCAL, FAKE_OP_ATTACH), ==, 0);
}

/* Native: the guest arrives with the leased VF attached (QEMU migrated
 * it); its state is checked at the prepare and restored once the guest
 * is here, then its plugin is called post_switchover, before the verify;
 * nothing is plugged or unplugged. */
static void
test_sriov_native(TdFixture *f, gconstpointer data)
{
    static const char xml[] =
        "<domain type='kvm'><name>labvm</name><devices><interface type='hostdev' "
        "managed='yes'><mac address='52:54:00:00:00:01'/><source><address type='pci' "
        "domain='0x0000' bus='0x5e' slot='0x02' function='0x1'/></source>"
        "<alias name='ua-vf0'/></interface></devices></domain>";

    td_reserve_prepared(f, "native", SR_NIC("native"));
    assert_sriov_steps(f, (const char *const[]){ "check_state", NULL });
    fake_virt_add_domain(f->fv, TD_SOURCE_URI, "labvm", xml, VIR_DOMAIN_RUNNING);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    assert_sriov_steps(f, (const char *const[]){ "check_state", "restore_state",
                                                 "post_switchover", NULL });
    g_assert_true(incoming_release(f->in, "job-1", NULL));
}

/* --- more than one plugin per NIC ------------------------------------------------- */

/* stateful and stateful2 both here (stateful loads first). */
#define TWO "[plugin.stateful2]\n"

/* ua-vf0's states from @second and stateful, in that order (the source
 * may send them in any). */
static json_t *
two_states_body(const char *second)
{
    return td_two_states_body("ua-vf0", second, "ua-vf0", "stateful");
}

static char *
td_log(TdFixture *f)
{
    g_autofree char *path = td_calls_log(f);
    char *text = NULL;

    while (plugin_call_in_flight() > 0)
        (void)g_main_context_iteration(NULL, TRUE);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("");
    return text;
}

/* Both plugins were called abort, once each. */
static void
assert_both_aborted(TdFixture *f)
{
    while (td_calls(f, "abort *") < 2)
        (void)g_main_context_iteration(NULL, TRUE);
    g_assert_cmpuint(td_calls(f, "abort ua-vf0 destination"), ==, 1);
    g_assert_cmpuint(td_calls(f, "abort ua-vf0 destination by stateful2"), ==, 1);
}

/* Each plugin checks its own state, in this host's loading order; both
 * are kept across a restart, restored in that order when the guest comes
 * with the device (native), then each is called post_switchover. */
static void
test_two_native(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = two_states_body("stateful2");
    g_autoptr(json_t) prepared = NULL;
    g_autoptr(json_t) after = NULL;
    g_autofree char *log = NULL;
    json_t *states;

    reserve(f, "native", NIC0_NATIVE);
    prepared = td_prepare(f, "job-1", body, &error);
    g_assert_no_error(error);
    states = json_object_get(nic0(prepared), "states");
    test_assert_names(states, "plugin", (const char *const[]){ "stateful", "stateful2", NULL });
    g_assert_cmpint(json_integer_value(json_object_get(json_array_get(states, 1), "check_ms")),
                    >=, 0);
    td_restart(f);
    after = incoming_get(f->in, "job-1", NULL);
    test_assert_names(json_object_get(nic0(after), "states"), "plugin",
                      (const char *const[]){ "stateful", "stateful2", NULL });
    add_guest(f, "ua-vf0=avf0");
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "done"));
    log = td_log(f);
    g_assert_cmpstr(log, ==,
                    "check_state ua-vf0 destination\n"
                    "check_state ua-vf0 destination by stateful2\n"
                    "restore_state ua-vf0 destination\n"
                    "restore_state ua-vf0 destination by stateful2\n"
                    "post_switchover ua-vf0 destination\n"
                    "post_switchover ua-vf0 destination by stateful2\n");
    g_assert_true(incoming_release(f->in, "job-1", NULL));
}

/* The second plugin refuses its state: the prepare fails naming it,
 * nothing is armed or kept, and both plugins that checked undo. */
static void
test_two_check_refused(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = two_states_body("stateful2");
    g_autoptr(json_t) result = NULL;
    g_autoptr(json_t) state = NULL;

    reserve(f, "unplug", NIC0_UNPLUG);
    result = td_prepare(f, "job-1", body, &error);
    g_assert_null(result);
    g_assert_error(error, MIGD_ERROR, MIGD_ERROR_CONFLICT);
    g_assert_true(g_pattern_match_simple("the destination refuses the device state of NIC "
                                         "ua-vf0: plugin stateful2: check_state failed: *",
                                         error->message));
    g_assert_cmpstr(td_replug_state(f, "job-1"), ==, "idle");
    state = nic_state(f);
    g_assert_null(state);
    assert_both_aborted(f);
}

/* One of the NIC's plugins is not here: refused before any plugin is
 * called; so is a second state from one plugin for one NIC. */
static void
test_two_refusals(TdFixture *f, gconstpointer data)
{
    g_autoptr(json_t) missing = two_states_body("nosuch");
    g_autoptr(json_t) twice = two_states_body("stateful");

    reserve(f, "unplug", NIC0_UNPLUG);
    assert_refused(f, missing, MIGD_ERROR_CONFLICT,
                   "the device state of NIC ua-vf0 is refused: this host has no plugin nosuch "
                   "(loaded: stateful, stateful2)*");
    assert_refused(f, twice, MIGD_ERROR_INVALID_ARGUMENT,
                   "states[1] is a second device state from plugin stateful for NIC ua-vf0");
}

/* The second plugin's restore fails: the VF is not plugged, and both
 * plugins undo (the first restored its state). */
static void
test_two_restore_failed(TdFixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(json_t) body = two_states_body("stateful2");
    g_autoptr(json_t) prepared = NULL;

    reserve(f, "unplug", NIC0_UNPLUG);
    prepared = td_prepare(f, "job-1", body, &error);
    g_assert_no_error(error);
    add_guest(f, NULL);
    td_migrate_in(f, "labvm");
    g_assert_true(td_wait_state(f, "job-1", "failed"));
    g_assert_cmpuint(td_calls(f, "restore_state ua-vf0 destination"), ==, 1);
    assert_both_aborted(f);
    g_assert_true(incoming_release(f->in, "job-1", NULL));
    (void)g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(td_calls(f, "abort *"), ==, 2);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_log_capture();
#define add(path, settings, fn) g_test_add(path, TdFixture, settings, td_setup, fn, td_teardown)
    add("/dest/state/checked-kept-restored", "", test_checked_kept_restored);
    add("/dest/state/native-restored", "", test_native_restored);
    add("/dest/state/native-post-failed", "fail_at = post_switchover\n", test_native_post_failed);
    add("/dest/state/refusals", "", test_refusals);
    add("/dest/state/check-refused", "fail_at = check_state\n", test_check_refused);
    add("/dest/state/check-timeout", "hang_at = check_state\n", test_check_timeout);
    add("/dest/state/restore-failed", "fail_at = restore_state\n", test_restore_failed);
    add("/dest/state/restore-before-next-plug", "fail_at = restore_state\n",
        test_restore_before_next_plug);
    add("/dest/state/released-aborts", "", test_released_aborts);
    for (gsize i = 0; i < G_N_ELEMENTS(choice_cases); i++)
        g_test_add(choice_cases[i].path, TdFixture, &choice_cases[i], setup_choice, test_choice,
                   td_teardown);
    add("/dest/auto/nothing-left", "", test_auto_nothing_left);
    add("/dest/auto/refusals", "", test_auto_refusals);
    add("/dest/two/native-in-order", TWO, test_two_native);
    add("/dest/two/check-refused", TWO "fail_at = check_state\n", test_two_check_refused);
    add("/dest/two/refusals", TWO, test_two_refusals);
    add("/dest/two/restore-failed", TWO "fail_at = restore_state\n", test_two_restore_failed);
#define add_sriov(path, settings, fn)                                                          \
    g_test_add(path, TdFixture, settings, td_setup_sriov, fn, td_teardown)
    add_sriov("/dest/sriov/unplug", "", test_sriov_unplug);
    add_sriov("/dest/sriov/released", "", test_sriov_released);
    add_sriov("/dest/sriov/restore-failed", "fail_at = restore_state\n",
              test_sriov_restore_failed);
    add_sriov("/dest/sriov/attach-retried", "", test_sriov_attach_retried);
    add_sriov("/dest/sriov/check-refused", "fail_at = check_state\n", test_sriov_check_refused);
    add_sriov("/dest/sriov/native", "", test_sriov_native);
#undef add_sriov
#undef add
    return g_test_run();
}
