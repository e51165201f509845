// Checks a response the tests received against the served OpenAPI
// document: the operation (method + path template) must be documented, the
// status code must be one of its responses, the media type one of that
// response's, and a JSON body must validate (ajv, JSON Schema 2020-12 as
// OpenAPI 3.1 uses) against that response's schema.  Schemas are reached
// by JSON pointer into the document itself, so every $ref (to components,
// or inside a registered payload schema with its own $id) resolves as
// JSON Schema defines it.
import Ajv2020, { ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DOCUMENT_ID = "urn:candystore:served-openapi";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

function isObject(v: Json | undefined): v is JsonObject {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

// RFC 6901
function pointerToken(s: string): string {
    return s.replace(/~/g, "~0").replace(/\//g, "~1");
}

function mediaTypeEssence(contentType: string): string {
    return (contentType.split(";")[0] ?? "").trim().toLowerCase();
}

function isJsonMediaType(essence: string): boolean {
    return essence === "application/json" || essence.endsWith("+json");
}

interface Template {
    path: string;
    pattern: RegExp;
    literalLength: number;
}

export interface ResponseToCheck {
    method: string;
    url: URL;
    status: number;
    contentType: string | null;
    body: string;
}

export class ContractChecker {
    private readonly ajv: Ajv2020;
    private readonly validators = new Map<string, ValidateFunction>();
    private readonly templates: Template[];
    checked = 0;

    constructor(private readonly document: JsonObject) {
        this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
        addFormats(this.ajv);
        this.ajv.addSchema(document, DOCUMENT_ID);
        const paths = document["paths"];
        this.templates = Object.keys(isObject(paths) ? paths : {}).map((path) => ({
            path,
            pattern: new RegExp(
                "^" + path.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^/]+") + "$",
            ),
            literalLength: path.replace(/\{[^}]+\}/g, "").length,
        }));
    }

    /** The path template of the document that a request path matches (the most literal one). */
    template(pathname: string): string | null {
        const matches = this.templates.filter((t) => t.pattern.test(pathname));
        matches.sort((a, b) => b.literalLength - a.literalLength);
        return matches[0]?.path ?? null;
    }

    /** Resolves a local $ref ("#/components/...") of the document, with the pointer it resolved to. */
    private resolve(node: Json | undefined, pointer: string): { node: Json | undefined; pointer: string } {
        for (let hops = 0; isObject(node) && typeof node["$ref"] === "string" && hops < 10; hops++) {
            const ref = node["$ref"];
            if (!ref.startsWith("#/")) break;
            pointer = ref.slice(1);
            let target: Json | undefined = this.document;
            for (const raw of ref.slice(2).split("/")) {
                const token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
                target = isObject(target) ? target[token] : Array.isArray(target) ? target[Number(token)] : undefined;
            }
            node = target;
        }
        return { node, pointer };
    }

    private validator(pointer: string): ValidateFunction {
        let v = this.validators.get(pointer);
        if (v === undefined) {
            v = this.ajv.compile({ $ref: DOCUMENT_ID + "#" + pointer });
            this.validators.set(pointer, v);
        }
        return v;
    }

    /** Validates a value against a component schema (e.g. each SSE event's data). */
    checkValue(pointer: string, value: unknown): string[] {
        const v = this.validator(pointer);
        this.checked++;
        return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}`);
    }

    /** Everything wrong with a response, as far as the document says; [] when it conforms. */
    check(r: ResponseToCheck): string[] {
        const method = r.method.toLowerCase();
        const template = this.template(r.url.pathname);
        if (template === null) return [`${r.url.pathname} matches no path of the document`];
        const paths = this.document["paths"];
        const pathItem = isObject(paths) ? paths[template] : undefined;
        const operation = isObject(pathItem) && METHODS.includes(method) ? pathItem[method] : undefined;
        if (!isObject(operation)) return [`${r.method} ${template} is not documented`];
        const responses = operation["responses"];
        if (!isObject(responses)) return [`${r.method} ${template} documents no responses`];

        const statusKey = [String(r.status), `${Math.floor(r.status / 100)}XX`, "default"].find(
            (k) => responses[k] !== undefined,
        );
        if (statusKey === undefined)
            return [`${r.method} ${template} does not document status ${r.status} (documented: ${Object.keys(responses).join(", ")})`];
        const base = `/paths/${pointerToken(template)}/${method}/responses/${pointerToken(statusKey)}`;
        const { node: response, pointer: responsePointer } = this.resolve(responses[statusKey], base);
        if (!isObject(response)) return [`${r.method} ${template} ${statusKey}: the response object does not resolve`];

        this.checked++;
        const content = response["content"];
        if (!isObject(content) || Object.keys(content).length === 0) {
            return r.body.length === 0 ? [] : [`${r.method} ${template} ${r.status}: documented without content, got ${r.body.length} bytes`];
        }
        if (r.contentType === null) return [`${r.method} ${template} ${r.status}: no Content-Type`];
        const essence = mediaTypeEssence(r.contentType);
        const mediaKey =
            Object.keys(content).find((k) => k.toLowerCase() === r.contentType!.toLowerCase()) ??
            Object.keys(content).find((k) => mediaTypeEssence(k) === essence);
        if (mediaKey === undefined)
            return [`${r.method} ${template} ${r.status}: Content-Type ${r.contentType} is not one of ${Object.keys(content).join(", ")}`];
        const media = content[mediaKey];
        if (!isJsonMediaType(essence) || !isObject(media) || media["schema"] === undefined) return [];

        let body: Json;
        try {
            body = JSON.parse(r.body) as Json;
        } catch (e) {
            return [`${r.method} ${template} ${r.status}: the body is not JSON (${(e as Error).message})`];
        }
        const v = this.validator(`${responsePointer}/content/${pointerToken(mediaKey)}/schema`);
        if (v(body)) return [];
        return (v.errors ?? []).map(
            (e) => `${r.method} ${r.url.pathname} ${r.status}: ${e.instancePath || "/"} ${e.message ?? e.keyword} (${e.schemaPath})`,
        );
    }
}
