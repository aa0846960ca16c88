/* The names of NIC strategies and states, as the job record spells them. */
#include <config.h>

#include <glib.h>

#include "nic-types.h"

static const char *const strategy_names[NIC_STRATEGY_LAST] = {
    "none", "unplug", "native", "pause", "mixed",
};

static const char *const state_names[NIC_STATE_LAST] = {
    "attached", "unplugged", "replugged", "restored", "lost",
};

static int
name_index(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++) {
        if (g_strcmp0(names[i], name) == 0)
            return i;
    }
    return -1;
}

const char *
nic_strategy_to_string(NicStrategy strategy)
{
    return (unsigned int)strategy < NIC_STRATEGY_LAST ? strategy_names[strategy] : "none";
}

int
nic_strategy_from_string(const char *name)
{
    return name_index(strategy_names, NIC_STRATEGY_LAST, name);
}

gboolean
nic_strategy_stays(NicStrategy strategy)
{
    return strategy == NIC_STRATEGY_NATIVE || strategy == NIC_STRATEGY_PAUSE;
}

const char *
nic_state_to_string(NicState state)
{
    return (unsigned int)state < NIC_STATE_LAST ? state_names[state] : "attached";
}

int
nic_state_from_string(const char *name)
{
    return name_index(state_names, NIC_STATE_LAST, name);
}
