#!/bin/bash
# Plugins in a running migd: what it loads and refuses at start (with one
# log line each, and the same from migd -n), and GET /v1/plugins and
# `migctl plugins`: each plugin, its file, version and ABI, the pool devices
# it claims and what it vouches for, and the refused files with why.
. "$(dirname "$0")/lib.sh"
: "${PLUGIN_FIXTURES:?run through make check, or set PLUGIN_FIXTURES to tests/unit/plugins in the build}"

mkdir -p "$T/plugins"
for p in good twin wrong-major; do
    ln -s "$PLUGIN_FIXTURES/$p.so" "$T/plugins/$p.so"
done
# libvirt's test driver with one running guest that holds the pool's tap-a.
cat >"$T/node.xml" <<XML
<node>
  <domain type='test'>
    <name>holder</name>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <devices>
      <interface type='bridge'>
        <mac address='52:54:00:00:00:01'/><source bridge='labbr0'/><target dev='tap-a'/>
        <model type='vmxnet3'/><alias name='ua-vf0'/>
      </interface>
    </devices>
  </domain>
</node>
XML
write_conf "$T/migd.conf"
sed -i "s|^libvirt_uri = .*|libvirt_uri = test://$T/node.xml|" "$T/migd.conf"
cat >>"$T/migd.conf" <<CONF

[plugins]
dir = $T/plugins

[plugin.good]
greeting = hi there

[pool.lab]
type = emulated
bridge = labbr0
slots = tap-a, tap-b
CONF

"$MIGD" -n --config "$T/migd.conf" >"$T/n.out" 2>"$T/n.err"; rc=$?
check "migd -n with a refused plugin still says the configuration is OK" \
    [ $rc -eq 0 -a "$(cat "$T/n.out")" = "configuration OK" ]
check "... and says on stderr which file is refused and why" \
    grep -q "Plugin $T/plugins/wrong-major.so is not used: it was built for plugin ABI 2.0, and this migd speaks 1.x" "$T/n.err"

start_migd "$T/migd.conf" || { tap_finish; }
check "migd starts with a refused plugin, logging one line for it" \
    [ "$(grep -c "Plugin $T/plugins/twin.so is not used: an earlier file already is plugin 'good'" "$T/migd.log")" -eq 1 ]

api GET /v1/plugins
check "GET /v1/plugins answers 200" [ "$STATUS" = 200 ]
check "... listing the one plugin that loaded, with its version, ABI and file" \
    json_is "$BODY" '[.plugins[] | "\(.name) \(.version) \(.abi) \(.file)"] | join(",")' \
    "good 0.1 1.1 $T/plugins/good.so"
check "... the pool devices it claims, in pool order" \
    json_is "$BODY" '[.plugins[0].claims[] | "\(.pool)/\(.address)"] | join(",")' "lab/tap-a,lab/tap-b"
check "... what it vouches for each (state, pause, not native) and its state version" \
    json_is "$BODY" '.plugins[0].claims[0] | "\(.state) \(.pause) \(.native) \(.state_version)"' \
    "true true false 3"
check "... with the plugin's own detail, which shows its [plugin.good] settings reached it" \
    json_is "$BODY" '.plugins[0].claims[1].detail' "greeting=hi there alias=- domain=- side=destination"
check "... the device a running guest holds is described with that guest (so no plugin opens it)" \
    json_is "$BODY" '.plugins[0].claims[0].detail' "greeting=hi there alias=- domain=holder side=source"
check "... and the refused files with their reasons" \
    json_is "$BODY" '[.refused[] | .file | split("/") | last] | join(",")' "twin.so,wrong-major.so"

"$MIGCTL" --socket "$T/migd.sock" plugins >"$T/ctl.out" 2>&1; rc=$?
check "migctl plugins exits 0" [ $rc -eq 0 ]
check "... with a row per claimed device: plugin, version, device, state, strategy" \
    grep -Eq '^good +0\.1 \(ABI 1\.1\) +lab tap-a +yes +pause *$' "$T/ctl.out"
check "... and a line per refused file with its reason" \
    grep -q "^not used: $T/plugins/wrong-major.so: it was built for plugin ABI 2.0" "$T/ctl.out"

"$MIGCTL" --socket "$T/migd.sock" -o json plugins >"$T/ctl.json" 2>&1
check "migctl -o json plugins prints migd's answer as is" \
    json_is "$(cat "$T/ctl.json")" '.plugins[0].name' good

# Without libvirt, which VFs the guests hold is unknown: the plugins are
# listed, no device is probed, and the answer says why.
sed -i "s|^libvirt_uri = .*|libvirt_uri = test:///no/such/file.xml|" "$T/migd.conf"
check "migd reloads onto a libvirt it cannot reach" reload
api GET /v1/plugins
check "GET /v1/plugins still answers 200 with the plugin, and no claims" \
    json_is "$BODY" '"\(.plugins[0].name) \(.plugins[0].claims | length)"' "good 0"
check "... and says why no device was probed" \
    json_is "$BODY" '.not_probed | test("^which VFs this host.s guests hold is unknown \\(.*\\), so no device was probed$")' true
"$MIGCTL" --socket "$T/migd.sock" plugins >"$T/ctl.out" 2>&1
check "migctl plugins says so too" grep -q "^devices not probed: which VFs" "$T/ctl.out"

stop_migd

# Two plugins that claim the same devices (as sriov-vfcfg and vfio-mig a
# VF): each is asked on its own and lists its claims, denials included.
mkdir -p "$T/plugins2"
for p in stateful stateful2; do
    ln -s "$PLUGIN_FIXTURES/$p.so" "$T/plugins2/$p.so"
done
sed -i -e "s|^libvirt_uri = .*|libvirt_uri = test://$T/node.xml|" -e "s|^dir = $T/plugins\$|dir = $T/plugins2|" \
    -e "s|^\[plugin.good\]|[plugin.stateful2]\nvouch = native\ndeny = pause\nstate = no\n[plugin.good]|" \
    "$T/migd.conf"
start_migd "$T/migd.conf" || { tap_finish; }
api GET /v1/plugins
check "with two plugins that claim the same devices, both list them" \
    json_is "$BODY" '[.plugins[] | "\(.name):" + ([.claims[].address] | join("+"))] | join(",")' \
    "stateful:tap-a+tap-b,stateful2:tap-a+tap-b"
check "... each with what it vouches for and denies" \
    json_is "$BODY" '[.plugins[] | .claims[0] | "\(.state) \(.native) \(.pause) \(.deny_native) \(.deny_pause)"] | join(",")' \
    "true false true false false,false true false false true"
stop_migd
tap_finish
