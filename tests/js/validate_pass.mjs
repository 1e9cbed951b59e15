// Validates a pass.json with passkit-generator's Joi schemas (an implementation independent of
// Tessera's). Usage: node validate_pass.mjs <pass.json>; prints every problem, exits 1 on any.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// The schemas are not in the package's export map: load them by file.
const schemas = await import(join(here, "node_modules/passkit-generator/lib/esm/schemas/index.js"));

const pass = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { error } = schemas.PassProps.validate(pass, { abortEarly: false, allowUnknown: false });
const problems = error ? error.details.map((detail) => `${detail.path.join(".")}: ${detail.message}`) : [];
if (problems.length) {
  console.log(problems.join("\n"));
  process.exit(1);
}
console.log("valid");
