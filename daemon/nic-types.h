/* The words the NIC steps and the job machine share: each NIC's strategy
 * and state. They travel as enums between files and become strings only in
 * the job record (the README's "nics" object names them). */
#pragma once

#include <glib.h>

typedef enum {
    NIC_STRATEGY_NONE,      /* job-wide only: no NIC, or strategy none asked for */
    NIC_STRATEGY_UNPLUG,    /* unplugged here, a leased VF plugged in there */
    NIC_STRATEGY_NATIVE,    /* stays attached; QEMU migrates it */
    NIC_STRATEGY_PAUSE,     /* stays attached; migd pauses the guest at switchover */
    NIC_STRATEGY_MIXED,     /* job-wide only: some NICs of each */
    NIC_STRATEGY_LAST
} NicStrategy;

typedef enum {
    NIC_ATTACHED,
    NIC_UNPLUGGED,
    NIC_REPLUGGED,      /* on the destination */
    NIC_RESTORED,       /* plugged back in here by a rollback */
    NIC_LOST,           /* unplugged here, and plugging it back failed */
    NIC_STATE_LAST
} NicState;

const char *nic_strategy_to_string(NicStrategy strategy);
int nic_strategy_from_string(const char *name);     /* -1 when unknown */
/* Whether a NIC of @strategy stays attached through the migration (native
 * or pause), so the destination's XML names its leased VF. */
gboolean nic_strategy_stays(NicStrategy strategy);
const char *nic_state_to_string(NicState state);
int nic_state_from_string(const char *name);        /* -1 when unknown */
