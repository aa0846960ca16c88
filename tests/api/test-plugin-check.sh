#!/bin/bash
# migd-plugin-check on the fixture plugins: it loads a plugin as migd does,
# runs the steps of a migration on the devices named (or the default ones),
# reports each call, the state and the errors as JSON, stops at a failed
# call but runs the aborts after it, and refuses a bad plugin or command
# line with exit 2 before calling anything.
. "$(dirname "$0")/lib.sh"
: "${PLUGIN_FIXTURES:?run through make check, or set PLUGIN_FIXTURES to tests/unit/plugins in the build}"
: "${MIGD_PLUGIN_CHECK:?run through make check, or set MIGD_PLUGIN_CHECK to the binary}"

src=src:kind=emulated,alias=ua-vf0,netdev=tap-a
dst=dst:kind=emulated,alias=ua-vf0,netdev=tap-b

# pc ARGS...: runs migd-plugin-check; its JSON in OUT, stderr in ERR, status in RC.
pc() {
    RC=0
    "$MIGD_PLUGIN_CHECK" "$@" >"$T/out" 2>"$T/err" || RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
}

pc -d "$src" -d "$dst" -s log="$T/calls" "$PLUGIN_FIXTURES/stateful.so"
check "without steps it runs a migration's calls on the two devices and exits 0" [ "$RC" = 0 ]
check "... probe and save on the first, probe, check and restore on the second" \
    json_is "$OUT" '[.steps[] | .step + " " + .device + " " + .side] | join(",")' \
    "probe src source,save_state src source,probe dst destination,check_state dst destination,restore_state dst destination"
check "... the plugin got those calls, in that order, with the device's side" \
    [ "$(tr '\n' ,  <"$T/calls")" = "probe ua-vf0 source,save_state ua-vf0 source,probe ua-vf0 destination,check_state ua-vf0 destination,restore_state ua-vf0 destination," ]
check "... it names the plugin, its version, file and ABI" \
    json_is "$OUT" '.plugin | "\(.name) \(.version) \(.abi) \(.file)"' \
    "stateful 0.1 1.1 $PLUGIN_FIXTURES/stateful.so"
check "... probe's flags and state version are reported" \
    json_is "$OUT" '.steps[0] | "\(.flags | join(",")) \(.state_version)"' "handles,state,pause 3"
check "... and the state saved, as text and base64, with its version and size" \
    json_is "$OUT" '.steps[1] | "\(.state_text)|\(.state_base64 | @base64d)|\(.state_version)|\(.state_bytes)"' \
    "state of ua-vf0|state of ua-vf0|3|15"
check "... every step is ok and so is the run" json_is "$OUT" '[.steps[].ok] + [.ok] | all' true
check "... stderr says what it did, a line a step" \
    grep -q "^migd-plugin-check: save_state src: ok, 15 bytes of state, version 3$" "$T/err"

pc -d "$src" -d "$dst" -s fail_at=check_state "$PLUGIN_FIXTURES/stateful.so" \
    probe src save src check dst restore dst abort dst abort src
check "a failed call makes it exit 1" [ "$RC" = 1 ]
check "... the failure says which call failed, the plugin's sentence and the errno" \
    json_is "$OUT" '.steps[2] | "\(.ok) \(.errno) \(.rc) \(.error)"' \
    "false EIO -5 plugin stateful: check_state failed: check_state of ua-vf0 fails: fail_at = check_state is set (Input/output error)"
check "... the steps after it are skipped, but the aborts run" \
    json_is "$OUT" '[.steps[3:][] | "\(.step):\(.skipped // "ran")"] | join(",")' \
    "restore_state:an earlier step failed,abort:ran,abort:ran"
check "... and the run is not ok" json_is "$OUT" .ok false

pc -k -d "$src" -d "$dst" -s fail_at=check_state "$PLUGIN_FIXTURES/stateful.so" \
    save src check dst restore dst
check "with --keep-going the steps after a failure run too" \
    json_is "$OUT" '[.steps[] | .ok] | map(tostring) | join(",")' "true,false,true"

printf 'state of ua-vf0' >"$T/state"
pc -d "$dst" "$PLUGIN_FIXTURES/stateful.so" probe dst load "$T/state" restore dst
check "load FILE carries a state for restore, in the version the probe gave" \
    json_is "$OUT" '[.steps[] | "\(.step) \(.ok) \(.state_version // "-")"] | join(",")' \
    "probe true 3,load true 3,restore_state true -"
printf 'some other state' >"$T/other"
pc -d "$dst" "$PLUGIN_FIXTURES/stateful.so" load "$T/other" restore dst
check "... and a restore the plugin refuses fails with its reason" \
    json_is "$OUT" '.steps[1].error' \
    "plugin stateful: restore_state failed: the state for ua-vf0 is not the one saved for it (Invalid argument)"
pc -d "$dst" "$PLUGIN_FIXTURES/stateful.so" load "$T/missing" restore dst
check "... a state file that cannot be read fails the load, and skips the restore" \
    json_is "$OUT" '[.steps[] | .skipped // .error] | join("|")' \
    "Failed to open file “$T/missing”: No such file or directory|an earlier step failed"

pc -m 8 -d "$src" "$PLUGIN_FIXTURES/stateful.so" save src
check "--max-state is the buffer save_state gets, as [plugins] max_state_bytes is" \
    json_is "$OUT" '.steps[0] | "\(.ok) \(.errno)"' "false ENOSPC"
pc -m 8 -d "$dst" "$PLUGIN_FIXTURES/stateful.so" load "$T/state" check dst
check "... and a state over it is refused by migd's frame, as the destination refuses it" \
    json_is "$OUT" '.steps[0] | "\(.ok) \(.error)"' \
    "false The device state frame is refused: its state is 15 bytes, over the limit of 8 ([plugins] max_state_bytes)."

pc -d "$src" -d "$dst" "$PLUGIN_FIXTURES/stateful.so" save src write "$T/saved" \
    run "test \"\$(cat $T/saved)\" = 'state of ua-vf0'" run "exit 3"
check "write FILE writes the state; run COMMAND runs between calls, and its failure counts" \
    json_is "$OUT" '[.steps[] | "\(.step) \(.ok)"] | join(",")' "save_state true,write true,run true,run false"
check "... with its exit status" json_is "$OUT" '.steps[3] | "\(.exit) \(.error)"' "3 'exit 3' exited with 3."

pc -d "$src" "$PLUGIN_FIXTURES/stateful.so" check src
check "check before any save or load fails, saying so" \
    json_is "$OUT" '.steps[0] | "\(.ok) \(.skipped)"' "false no state was saved or loaded before it"
check "... and exits 1" [ "$RC" = 1 ]

pc -d "$src" -s log="$T/calls2" "$PLUGIN_FIXTURES/stateful.so" probe src save nosuch
check "a step naming an unknown device is refused with exit 2" [ "$RC" = 2 ]
check "... naming the device, and nothing is called" \
    [ "$ERR" = "migd-plugin-check: Plugin stateful 0.1 loaded from $PLUGIN_FIXTURES/stateful.so (ABI 1.1)
migd-plugin-check: 'save nosuch': no device is named 'nosuch' (give it with -d nosuch:KEY=VALUE,...)." -a ! -e "$T/calls2" ]
pc -d "$src" "$PLUGIN_FIXTURES/stateful.so" probe src frobnicate src
check "an unknown step is refused with exit 2, listing the steps" \
    [ "$RC" = 2 -a "$(tail -n1 "$T/err")" = "migd-plugin-check: 'frobnicate' is not a step (probe, save, check, restore, pre, post, abort DEVICE; load, write FILE; run COMMAND)." ]
pc -d "src:kind=pci" "$PLUGIN_FIXTURES/stateful.so"
check "a bad device key value is refused with exit 2, naming it" \
    [ "$RC" = 2 -a "$ERR" = "migd-plugin-check: Device 'src': 'pci' is not a valid kind (kind: vf, vdpa or emulated; side: source or destination; vf: a VF index; vlan: 0-4095)." ]
pc -d "src:colour=red" "$PLUGIN_FIXTURES/stateful.so"
check "... and so is an unknown key" \
    [ "$RC" = 2 -a "$ERR" = "migd-plugin-check: Device 'src': 'colour' is not a device key (kind, side, pci, pf, pf-netdev, vf, netdev, mac, vlan, pool, domain, alias, job)." ]
pc "$PLUGIN_FIXTURES/stateful.so" -d a:kind=vf -d a:kind=vf
check "... and two devices of one name" [ "$RC" = 2 -a "$ERR" = "migd-plugin-check: Two devices are named 'a'." ]
pc
check "no plugin at all is refused with exit 2 and the usage" \
    [ "$RC" = 2 -a "$ERR" = "migd-plugin-check: No plugin given: migd-plugin-check [OPTION]... PLUGIN.so [STEP]..." ]

pc -d "$src" "$PLUGIN_FIXTURES/wrong-major.so"
check "a plugin migd would refuse exits 2" [ "$RC" = 2 ]
check "... with migd's reason in the JSON and on stderr" \
    json_is "$OUT" '"\(.plugin) \(.refused.reason) \(.ok)"' \
    "null it was built for plugin ABI 2.0, and this migd speaks 1.x false"
check "... (stderr)" grep -q "^migd-plugin-check: Plugin $PLUGIN_FIXTURES/wrong-major.so is not used: it was built for plugin ABI 2.0" "$T/err"
pc -d "$src" "$PLUGIN_FIXTURES/init-fails.so"
check "... as is one whose init fails" \
    json_is "$OUT" .refused.reason "its init failed: the fixture refuses to start (Operation not permitted)"

pc -t 1 -d "$src" "$PLUGIN_FIXTURES/stateful.so" -s hang_at=probe probe src
check "a call past --timeout fails as migd's would, with ETIMEDOUT" \
    json_is "$OUT" '.steps[0] | "\(.errno) \(.error)"' \
    "ETIMEDOUT plugin stateful: probe did not answer within its timeout ([plugins] call_timeout_s)"

tap_finish
