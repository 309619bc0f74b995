/*
 * openapi.h - the OpenAPI document (docs/openapi.yaml) as JSON, embedded in
 * the binary at build time: the Makefile converts the YAML with
 * scripts/openapi-json.py and scripts/embed-ui.sh turns the JSON into
 * $(BUILD)/gen/openapi_doc.c, compiled into every build of latch.  One
 * entry, "openapi.json"; GET /openapi.json serves it (src/api/openapi.c).
 */
#ifndef LATCH_API_OPENAPI_H
#define LATCH_API_OPENAPI_H

#include "ui/ui_assets.h"   /* struct ui_asset: an embedded file */

extern const struct ui_asset openapi_assets[];
extern const size_t openapi_assets_count;

#endif
