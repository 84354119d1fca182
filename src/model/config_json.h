/* tr_config <-> JSON (cJSON), shared by checkpoints, presets and run folders. Internal. */
#ifndef TINYR1_CONFIG_JSON_H
#define TINYR1_CONFIG_JSON_H

#include <cJSON.h>

#include "tinyr1/model.h"

cJSON *tr_config_to_json(const tr_config *cfg);
/* Reads the fields present in obj over *cfg (absent fields keep their value; with
 * require_all, an absent field is an error). `where` names the source in messages.
 * Unknown fields are refused (a typo must not be silently ignored). */
int tr_config_from_json(const cJSON *obj, tr_config *cfg, int require_all, const char *where,
                        tr_err *err);

#endif
