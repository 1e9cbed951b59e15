// Validates pass.json files with passkit-generator's Joi schemas: an implementation of Apple's
// pass.json rules that owes nothing to Tessera's code.
//
//   node validate_pass.mjs <pass.json>...
//
// Prints "<file>: <path>: <problem>" for every problem and exits 1 if there is any, else prints
// "valid" and exits 0. Stricter than passkit-generator itself, which strips unknown keys and
// fills the top-level identifiers from its own options: here unknown keys are errors, and
// Apple's required top-level keys and exactly one pass style must be present.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// passkit-generator's export map only exposes PKPass and PassType; its schemas (PassProps and
// friends, the ones PKPass validates pass.json with) are loaded from their file.
const schemasFile = join(here, "node_modules", "passkit-generator", "lib", "esm", "schemas", "index.js");
const { PassProps } = await import(pathToFileURL(schemasFile).href);

const REQUIRED = ["formatVersion", "passTypeIdentifier", "serialNumber", "teamIdentifier", "organizationName", "description"];
const STYLES = ["boardingPass", "coupon", "eventTicket", "generic", "storeCard", "posterGeneric"];
const schema = PassProps.fork(REQUIRED, (key) => key.required()).xor(...STYLES);

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate_pass.mjs <pass.json>...");
  process.exit(2);
}
const problems = [];
for (const file of files) {
  const { error } = schema.validate(JSON.parse(readFileSync(file, "utf8")), {
    abortEarly: false,
    allowUnknown: false,
    convert: false,
  });
  for (const detail of error ? error.details : []) {
    problems.push(`${file}: ${detail.path.join(".") || "(top)"}: ${detail.message}`);
  }
}
if (problems.length > 0) {
  console.log(problems.join("\n"));
  process.exit(1);
}
console.log("valid");
