// Checks one response the TAP test received with curl against the served
// document (the same checker the client's run uses).
//   check-response <openapi.json> <METHOD> <url> <status> <content-type> <body file>
import { readFileSync } from "node:fs";
import { ContractChecker } from "./checker";

const [documentFile, method, url, status, contentType, bodyFile] = process.argv.slice(2);
if (bodyFile === undefined || documentFile === undefined || method === undefined || url === undefined || status === undefined) {
    console.error("usage: check-response <openapi.json> <METHOD> <url> <status> <content-type> <body file>");
    process.exit(2);
}
const checker = new ContractChecker(JSON.parse(readFileSync(documentFile, "utf8")) as { [key: string]: never });
const problems = checker.check({
    method,
    url: new URL(url),
    status: Number(status),
    contentType: contentType === undefined || contentType === "" ? null : contentType,
    body: readFileSync(bodyFile, "utf8"),
});
for (const p of problems) console.log(p);
process.exit(problems.length === 0 ? 0 : 1);
