// Validates an OpenAPI document file (the served /openapi.json, saved by
// t/http_contract.pl) with @apidevtools/swagger-parser: the structure
// against the OpenAPI 3.1 schema, and every $ref resolves.  Exit 0 when valid.
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
if (file === undefined) {
    console.error("usage: validate-document <openapi.json>");
    process.exit(2);
}
SwaggerParser.validate(file)
    .then((api) => {
        console.log(`valid: ${api.info.title} ${api.info.version}`);
        process.exit(0);
    })
    .catch((e: unknown) => {
        console.error(`invalid: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(1);
    });
