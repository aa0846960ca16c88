/* migd plugin ABI: how a vendor plugin carries a passthrough NIC's device
 * state across a live migration, and vouches for what the device can do.
 *
 * A plugin is a shared object in migd's plugin directory ([plugins] dir in
 * migd.conf, by default $(libdir)/migd/plugins). It exports one symbol,
 * MIGD_PLUGIN_ENTRY_SYMBOL, a function that returns a pointer to a constant
 * table (struct migd_plugin). migd checks the table before it calls
 * anything:
 *
 *   - abi_major must equal MIGD_PLUGIN_ABI_MAJOR: a different major is
 *     refused, with one log line naming the file.
 *   - abi_minor grows only by appending members to the table (and to the
 *     structures below that carry a size); migd reads only the members that
 *     `size` covers, so a plugin built against an older minor keeps working,
 *     and a newer plugin's extra members are ignored by an older migd.
 *   - size must cover at least every member of minor 0 (through `abort`).
 *
 * Everything here is plain C: no GLib, no migd internals. Strings are UTF-8
 * and NUL-terminated; pointers migd passes in are valid for the call only.
 *
 * Errors: every callback that can fail returns 0 on success or a negative
 * errno value (-EINVAL, -ENODEV, -ETIMEDOUT, ...), and writes a sentence
 * that says what failed and why into `err` (at most `errlen` bytes, NUL
 * included; migd always passes a buffer of MIGD_PLUGIN_ERRLEN bytes). migd
 * logs the sentence with the plugin's name and shows it in the job's
 * timeline and reason, so write it for the person on call: name the device
 * and the setting ("VF 3 of enp59s0f0: the kernel refused max_tx_rate 10000:
 * Invalid argument").
 *
 * Threads and time: migd calls init/fini and probe from its start-up and
 * from workers, and every other callback from a worker thread, never from
 * its main loop, one call at a time per plugin, with a per-call timeout
 * ([plugins] call_timeout_s, default 10 s). A call that overruns fails the
 * job's step; migd cannot stop the thread, so a plugin must not hold locks
 * across calls that a later call needs. A callback may block on the kernel
 * (netlink, ioctl, sysfs) but not on migd, libvirt or the guest.
 *
 * Every plugin that claims a device takes part in its job (see probe()'s
 * answer below), and each step below calls them one after the other, in
 * loading order (the plugin files' names, as migd loads them): on the
 * source every plugin that claims the device, on the destination the
 * plugins whose states came, in that host's loading order.
 *
 * The life of a device's state in a job:
 *
 *   source                                  destination
 *   probe()           which plugins, what they vouch for together
 *   save_state()      one frame per plugin that carries state ->
 *                                           check_state()  before the source
 *                                                          touches anything
 *   [unplug, or pre_switchover() for pause]
 *                      ... migration ...
 *                                           restore_state() before the guest
 *                                                          uses the device
 *                                           post_switchover() (pause, native)
 *   abort() on both hosts, for every plugin called in the job, when the job
 *   fails or is cancelled after that plugin did anything: a refusal by one
 *   plugin (save_state, check_state, restore_state, pre_switchover) undoes
 *   the job for all of them, and each one called is called abort.
 *
 * abort() must undo what this plugin did for the job on that host and
 * nothing else: on the destination, put back the VF's settings as they were
 * before restore_state(); on the source, resume what pre_switchover()
 * quiesced. It is called at most once per device and job, also when the
 * plugin's earlier call failed or timed out, and must be safe when there is
 * nothing to undo.
 *
 * VFIO devices: opening /dev/vfio/N resets the device (a function-level
 * reset), so a plugin must never open a VFIO device that a guest owns (the
 * device's `domain` is set and it is not the destination's leased VF before
 * the guest arrives). Use what sysfs and the kernel's netlink families say
 * instead, or a probe result kept from before the guest started.
 *
 * A minimal plugin:
 *
 *   #include <migd/plugin.h>
 *
 *   static int my_probe(void *ctx, const struct migd_device *dev,
 *                       struct migd_probe *ret, char *err, size_t errlen)
 *   {
 *       if (dev->kind != MIGD_DEVICE_VF)
 *           return 0;                  // not ours: ret->flags stays 0
 *       ret->flags = MIGD_PROBE_HANDLES | MIGD_PROBE_STATE;
 *       ret->state_version = 1;
 *       return 0;
 *   }
 *   static const struct migd_plugin table = {
 *       .abi_major = MIGD_PLUGIN_ABI_MAJOR, .abi_minor = MIGD_PLUGIN_ABI_MINOR,
 *       .size = sizeof(struct migd_plugin), .name = "my-plugin", .version = "1.0",
 *       .probe = my_probe, ...
 *   };
 *   MIGD_PLUGIN_EXPORT const struct migd_plugin *MIGD_PLUGIN_ENTRY_SYMBOL(void)
 *   {
 *       return &table;
 *   }
 *
 * Build it with `cc -shared -fPIC $(pkg-config --cflags migd-plugin)`. The
 * guide is docs/plugins.md (installed with migd's documentation);
 * tests/plugin-example/ in migd's source is a working example. */
#ifndef MIGD_PLUGIN_H
#define MIGD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIGD_PLUGIN_ABI_MAJOR 1
/* 1: struct migd_probe's stop_copy_bytes. */
#define MIGD_PLUGIN_ABI_MINOR 1

/* The exported entry point's name, as a symbol and as a string. */
#define MIGD_PLUGIN_ENTRY_SYMBOL migd_plugin_entry
#define MIGD_PLUGIN_ENTRY_NAME "migd_plugin_entry"
#define MIGD_PLUGIN_EXPORT __attribute__((visibility("default")))

/* The size of the error buffer migd passes to every callback. */
#define MIGD_PLUGIN_ERRLEN 512

enum migd_device_kind {
    MIGD_DEVICE_VF = 1,         /* an SR-IOV virtual function */
    MIGD_DEVICE_VDPA = 2,       /* a vDPA device (/dev/vhost-vdpa-N), named in netdev */
    MIGD_DEVICE_EMULATED = 3,   /* an emulated NIC standing in for a VF (migd's lab) */
};

/* Which side of the migration a call is made on. */
enum migd_side {
    MIGD_SIDE_SOURCE = 1,
    MIGD_SIDE_DESTINATION = 2,
};

/* A device as migd sees it. `size` is sizeof(struct migd_device) as migd
 * was built; members past it do not exist for this call. Unknown strings
 * are NULL, unknown numbers -1. */
struct migd_device {
    uint32_t size;
    uint32_t kind;              /* enum migd_device_kind */
    uint32_t side;              /* enum migd_side */
    const char *pci_address;    /* "0000:3b:02.1": the VF's (or device's) host address */
    const char *pf_address;     /* its PF's host address, for a VF */
    const char *pf_netdev;      /* its PF's netdev ("enp59s0f0"), for a VF */
    int32_t vf_index;           /* its index on the PF, for a VF */
    const char *netdev;         /* the device's own netdev on the host, if bound to a net driver;
                                 * a vDPA device's vdpa name ("vdpa0", as vdpa dev show prints it) */
    const char *mac;            /* the guest's MAC for this NIC, "52:54:00:..." */
    int32_t vlan;               /* the VLAN the domain XML gives it, 0-4095 */
    const char *pool;           /* the migd pool the device belongs to */
    const char *domain;         /* the guest that owns or will own it, or NULL when none */
    const char *alias;          /* the device's alias in the domain XML ("ua-vf0") */
    const char *job;            /* the migration job's ID, or NULL outside a job */
};

/* probe()'s answer.
 *
 * More than one plugin may claim a device (sriov-vfcfg carries a VF's
 * settings on the PF, vfio-mig vouches for the VFIO device's migration):
 * migd asks every loaded plugin, and every one that claims the device
 * takes part in the job. What the device is vouched for is the union of
 * its plugins' vouches (a plugin that knows nothing of a capability does
 * not object to it) less the union of their denials: a plugin that knows
 * the device cannot stay attached in some way (the device lacks VFIO
 * migration, its PF's firmware loses the VF's state when QEMU stops it)
 * sets the matching MIGD_PROBE_DENY_* bit, and no other plugin's vouch
 * outweighs it. (The DENY bits came with ABI 1.1; a migd of 1.0 asked
 * only the first plugin that claimed a device.) */
#define MIGD_PROBE_HANDLES (1u << 0)    /* this plugin handles the device */
#define MIGD_PROBE_STATE   (1u << 1)    /* it carries state (save/check/restore) */
#define MIGD_PROBE_NATIVE  (1u << 2)    /* the device can stay attached: QEMU migrates it */
#define MIGD_PROBE_PAUSE   (1u << 3)    /* it can stay attached if migd pauses it at switchover */
#define MIGD_PROBE_DENY_NATIVE (1u << 4)    /* it must not stay attached for QEMU to migrate */
#define MIGD_PROBE_DENY_PAUSE  (1u << 5)    /* it must not stay attached through migd's pause */

struct migd_probe {
    uint32_t size;              /* sizeof(struct migd_probe) as migd was built */
    uint32_t flags;             /* MIGD_PROBE_*; 0: not this plugin's device */
    uint32_t state_version;     /* the version of the state save_state() writes */
    char detail[256];           /* optional: why it vouches or not, for the job record */
    /* ABI 1.0 ends here. Write a later member only when `size` covers it
     * (MIGD_PROBE_COVERS): an older migd passes a smaller structure. migd
     * reads it only from a plugin whose abi_minor has it, and zeroes the
     * structure before the call. */

    /* 1.1: for a device that stays attached (native), how many bytes QEMU
     * sends for it at stop-and-copy, on top of the guest's memory (VFIO:
     * VFIO_DEVICE_FEATURE_MIG_DATA_SIZE's stop_copy_length); 0: none or
     * unknown. migd adds it to what is left when it predicts the downtime. */
    uint64_t stop_copy_bytes;
};

/* Whether @probe (a struct migd_probe *) as migd passed it has @member. */
#define MIGD_PROBE_COVERS(probe, member)                                                      \
    ((probe)->size >= offsetof(struct migd_probe, member) + sizeof((probe)->member))

/* A [plugin.NAME] setting from migd.conf. */
struct migd_setting {
    const char *key;
    const char *value;
};

struct migd_plugin {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size;              /* sizeof(struct migd_plugin) as the plugin was built */
    const char *name;           /* [a-z0-9-]+, unique among loaded plugins */
    const char *version;        /* the plugin's own version */

    /* Once, when migd loads the plugin: its settings, `count` of them.
     * *ret_ctx is passed to every later call. A failure means migd does not
     * use the plugin (it says why and starts anyway). May be NULL. */
    int (*init)(const struct migd_setting *settings, size_t count, void **ret_ctx,
                char *err, size_t errlen);
    /* Once, when migd unloads it (shutdown). May be NULL. */
    void (*fini)(void *ctx);

    /* Does the plugin handle @dev, and what can it do for it? Leave
     * ret->flags 0 for a device that is not the plugin's. Must not change
     * the device. Required. */
    int (*probe)(void *ctx, const struct migd_device *dev, struct migd_probe *ret,
                 char *err, size_t errlen);

    /* Source: writes the device's state into buf (cap bytes: [plugins]
     * max_state_bytes), sets *ret_len and *ret_version. Must not change the
     * device. May be NULL when probe never sets MIGD_PROBE_STATE. */
    int (*save_state)(void *ctx, const struct migd_device *dev, uint8_t *buf, size_t cap,
                      size_t *ret_len, uint32_t *ret_version, char *err, size_t errlen);
    /* Destination, before the source touches anything: can this host load
     * the state onto @dev (the leased VF)? Must not change anything; a
     * refusal fails the job with nothing touched. */
    int (*check_state)(void *ctx, const struct migd_device *dev, const uint8_t *blob,
                       size_t len, uint32_t version, char *err, size_t errlen);
    /* Destination, before the guest uses @dev: applies the state and reads
     * it back; fails naming the setting that did not stick. */
    int (*restore_state)(void *ctx, const struct migd_device *dev, const uint8_t *blob,
                         size_t len, uint32_t version, char *err, size_t errlen);

    /* Source, pause strategy: quiesce the device right before migd suspends
     * the guest for stop-and-copy. May be NULL. */
    int (*pre_switchover)(void *ctx, const struct migd_device *dev, char *err, size_t errlen);
    /* Destination, pause and native: after the guest resumed here, check
     * the device works. May be NULL. */
    int (*post_switchover)(void *ctx, const struct migd_device *dev, char *err, size_t errlen);

    /* Both: undo what this plugin did for @dev in this job on this host
     * (see the opening comment). May be NULL when the plugin changes nothing. */
    int (*abort)(void *ctx, const struct migd_device *dev, char *err, size_t errlen);
    /* ABI 1.0 ends here; later minors append members below. */
};

typedef const struct migd_plugin *(*migd_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* MIGD_PLUGIN_H */
