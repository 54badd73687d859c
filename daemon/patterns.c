/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "pattern.h"

/* Every pattern cdpd runs. Cloud DI lives in the manager itself: it is what
 * reads the tags every other pattern is driven by. */
extern const PatternOps ha_pattern_ops;

const PatternOps *const pattern_table[] = {
        &ha_pattern_ops,
        NULL,
};
