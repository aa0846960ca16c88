#!/bin/bash
# vfio-mig on a sysfs tree built here, with no VFIO device and no /dev/vfio
# (dev = a directory that does not exist): a device a guest owns on the
# source is answered from sysfs and the answer kept in the cache, never
# opened; QEMU's P2P rule over the devices of a job; a kept answer from
# another boot or driver is not used; bad input is refused, naming it. The
# kernel's own answers are tests/kbed/test-vfio-mig's.
. "$(dirname "$0")/lib.sh"
: "${MIGD_PLUGIN_CHECK:?run through make check, or set MIGD_PLUGIN_CHECK to the binary}"
plugin=$(dirname "$MIGD_PLUGIN_CHECK")/../plugins/vfio-mig/vfio-mig.so
sys=$T/sys
cache=$T/cache
boot=$(cat /proc/sys/kernel/random/boot_id)
u1=83b8f4f2-509f-382f-3c1e-e6bfe0fa1001

# pcidev ADDR VENDOR DEVICE DRIVER [GROUP]: a PCI function in the tree.
pcidev() {
    local d=$sys/bus/pci/devices/$1
    mkdir -p "$d" "$sys/bus/pci/drivers/$4"
    echo "0x$2" >"$d/vendor"
    echo "0x$3" >"$d/device"
    ln -s "../../drivers/$4" "$d/driver"
    if [[ -n ${5:-} ]]; then
        mkdir -p "$sys/kernel/iommu_groups/$5"
        ln -s "../../../../kernel/iommu_groups/$5" "$d/iommu_group"
    fi
}
pcidev 0000:00:05.0 1af4 1000 vfio-pci 5
pcidev 0000:00:06.0 15b3 101e mlx5_vfio_pci 6
pcidev 0000:00:07.0 15b3 101e mlx5_vfio_pci 7
pcidev 0000:00:08.0 8086 154c iavf
mkdir -p "$sys/bus/mdev/devices/$u1" "$sys/devices/mtty/mdev_supported_types/mtty-2" \
    "$sys/bus/mdev/drivers/mtty"
ln -s "../../../devices/mtty/mdev_supported_types/mtty-2" "$sys/bus/mdev/devices/$u1/mdev_type"
ln -s ../../drivers/mtty "$sys/bus/mdev/devices/$u1/driver"

# kept DEVICE DRIVER TYPE MIGRATION [BOOT]: an answer in the cache.
kept() {
    mkdir -p "$cache"
    printf 'vfio-mig 1\ndevice %s\ndriver %s\ntype %s\nboot %s\nmigration %s\ndma_logging yes\nstop_copy 4096\n' \
        "$1" "$2" "$3" "${5:-$boot}" "$4" >"$cache/$1"
}
kept 0000:00:06.0 mlx5_vfio_pci "pci 15b3:101e" 0x7
kept 0000:00:07.0 mlx5_vfio_pci "pci 15b3:101e" 0x1

pc() {
    RC=0
    "$MIGD_PLUGIN_CHECK" -s sysfs="$sys" -s dev="$T/no-dev" -s cache_dir="$cache" "$@" \
        >"$T/out" 2>"$T/err" || RC=$?
    OUT=$(cat "$T/out")
}
owned() { echo "$1:pci=$2,domain=vm1,side=source,job=${3:-j1}"; }

pc -d "$(owned a 0000:00:06.0)" "$plugin" probe a save a
check "a device its guest owns, with an answer kept in this boot: vouched for, not opened" \
    json_is "$OUT" '.steps[0] | "\(.ok) \(.flags | join(","))"' "true handles,state,native"
check "... saying where the answer comes from" json_is "$OUT" '.steps[0].detail' \
    "0000:00:06.0 (driver mlx5_vfio_pci) migrates in QEMU: STOP_COPY, P2P, PRE_COPY, dirty page logging; stop-copy size 4096 bytes (vm1 owns it: the answer kept in $cache/0000:00:06.0)"
check "... and the state is that answer" json_is "$OUT" '.steps[1].state_text' "$(cat "$cache/0000:00:06.0")"
check "... and the probe gives its stop-copy size as a number (ABI 1.1), for migd's downtime prediction" \
    json_is "$OUT" '.steps[0].stop_copy_bytes' 4096

pc -d "$(owned a 0000:00:06.0)" -d "$(owned b 0000:00:07.0)" "$plugin" probe a probe b
check "a second device of the job without P2P is not vouched for" \
    json_is "$OUT" '[.steps[] | .flags | join(",")] | join(" ")' "handles,state,native handles,state"
check "... QEMU's rule, naming it" json_is "$OUT" '.steps[1].detail' \
    "0000:00:07.0 would be VFIO device 2 of this guest to stay attached, and 0000:00:07.0 does not support P2P: QEMU migrates more than one VFIO device only when all do (vm1 owns it: the answer kept in $cache/0000:00:07.0)"
pc -d "$(owned a 0000:00:06.0 j1)" -d "$(owned b 0000:00:07.0 j2)" "$plugin" probe a probe b
check "... alone in its job, it is" \
    json_is "$OUT" '[.steps[] | .flags | join(",")] | join(" ")' "handles,state,native handles,state,native"

pc -d "$(owned a 0000:00:05.0)" "$plugin" probe a
check "vfio-pci that a guest owns: not vouched for, from sysfs" json_is "$OUT" '.steps[0].detail' \
    "0000:00:05.0 is bound to vfio-pci, which has no VFIO migration (only vendor variant drivers have it), so it cannot stay attached (read from sysfs: a guest owns it)"

kept 0000:00:06.0 mlx5_vfio_pci "pci 15b3:101e" 0x7 00000000-0000-0000-0000-000000000000
pc -d "$(owned a 0000:00:06.0)" "$plugin" probe a
check "an answer kept before a reboot is not used" \
    json_is "$OUT" '.steps[0] | "\(.flags | join(",")) \(.detail)"' \
    "handles,state 0000:00:06.0 (driver mlx5_vfio_pci) is in a guest's use, and opening it would reset it; no answer kept from before the guest started is usable (the answer kept for 0000:00:06.0 is from before the host's last boot)"
kept 0000:00:06.0 vfio-pci "pci 15b3:101e" 0x7
pc -d "$(owned a 0000:00:06.0)" "$plugin" probe a
check "... nor one another driver gave" json_is "$OUT" '.steps[0].detail | split("usable (")[1]' \
    "the answer kept for 0000:00:06.0 was given by driver vfio-pci, and mlx5_vfio_pci is bound now)"
rm "$cache/0000:00:06.0"
pc -d "$(owned a 0000:00:06.0)" "$plugin" probe a save a
check "... and none kept: not vouched for, saying so" json_is "$OUT" '.steps[0].detail | split("usable (")[1]' \
    "none is kept in $cache/0000:00:06.0)"
check "... its state says it was not asked" json_is "$OUT" '.steps[1].state_text | split("\n")[5]' \
    "migration unasked"

pc -d "d:pci=0000:00:06.0,domain=vm1,job=j1" "$plugin" probe d
check "the destination's leased device is opened (here: no /dev/vfio to open)" \
    json_is "$OUT" '.steps[0] | "\(.errno) \(.error)"' \
    "ENOENT plugin vfio-mig: probe failed: 0000:00:06.0: cannot open its VFIO group $T/no-dev/vfio/6: No such file or directory (No such file or directory)"
pc -d "d:pci=$u1" "$plugin" probe d
check "... and so is an mdev no guest owns, through its group: $u1 has none here" \
    json_is "$OUT" '.steps[0].error' \
    "plugin vfio-mig: probe failed: $u1 (driver mtty) has no IOMMU group, so VFIO cannot open it (No such device)"
pc -d "d:pci=0000:00:08.0" -d "e:kind=emulated,netdev=tap0" "$plugin" probe d probe e
check "a VF a host driver has, and a device without a PCI address, are not its" \
    json_is "$OUT" '[.steps[] | "\(.ok):\(.flags | length)"] | join(" ")' "true:0 true:0"

kept 0000:00:06.0 mlx5_vfio_pci "pci 15b3:101e" 0x7
pc -d "$(owned a 0000:00:06.0)" -d "d:pci=0000:00:07.0,domain=vm1,job=j1" "$plugin" save a check d
check "check_state with no vouch of its own here: nothing to check, ok" [ "$RC" = 0 ]
printf 'vfio-mig 1\ndevice x\ndriver d\n' >"$T/short"
pc -d "d:pci=0000:00:07.0" "$plugin" load "$T/short" check d
check "a damaged state is refused, naming what is missing" json_is "$OUT" '.steps[1].error' \
    "plugin vfio-mig: check_state failed: d: the state ends before its 'type' line (Invalid argument)"
pc -d "a:pci=../../../etc" "$plugin" probe a
check "a device name that leaves sysfs is refused" json_is "$OUT" '.steps[0].error' \
    "plugin vfio-mig: probe failed: '../../../etc' is not a PCI address or an mdev UUID (Invalid argument)"
pc -s cache_dir=relative "$plugin"
check "a relative cache_dir keeps the plugin from loading, saying why" \
    json_is "$OUT" '"\(.ok) \(.refused.reason)"' \
    "false its init failed: [plugin.vfio-mig] cache_dir = relative is not a setting it knows (cache_dir, sysfs, dev: absolute paths) (Invalid argument)"

tap_finish
