/*
 * openapi.h — the OpenAPI document built into the program (openapi.json,
 * and the envelope's JSON Schema from schemas/core/), generated into
 * openapi_data.c at build time.
 */
#ifndef CS_HTTP_OPENAPI_H
#define CS_HTTP_OPENAPI_H

extern const char cs_openapi_json[];
extern const char cs_envelope_schema_json[];

#endif
