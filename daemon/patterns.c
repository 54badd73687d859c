/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "pattern.h"

/* Every pattern cdpd runs. Cloud DI lives in the manager itself: it is what
 * reads the tags every other pattern is driven by. */
extern const PatternOps snapshot_pattern_ops;
extern const PatternOps ha_pattern_ops;
extern const PatternOps bastion_pattern_ops;
extern const PatternOps check_pattern_ops;

/* check last: it asks every other pattern's policy what to prove. */
const PatternOps *const pattern_table[] = {
        &snapshot_pattern_ops,
        &ha_pattern_ops,
        &bastion_pattern_ops,
        &check_pattern_ops,
        NULL,
};
