/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "cdp/config.h"

/* `cdpd --probe`: one shot, no daemon. Resolves and prints what cdpd would
 * work with; returns the process exit status (0, or 1 with a one-line reason
 * on stderr). */
int probe_run(const Config *config, bool json);
