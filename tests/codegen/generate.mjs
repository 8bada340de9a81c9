// GraphQL Code Generator's TypeScript types (plugins typescript and typescript-operations) for a
// schema and a file of operations, as a storefront's build would make them, with each custom scalar
// typed as the text its @specifiedBy specification describes. A scalar without one, or with one not
// listed here, fails the run: with `strictScalars` nothing falls back to `any` or `unknown`.
//
//   node generate.mjs SCHEMA.graphql OPERATIONS.graphql OUT_DIR
//
// Writes OUT_DIR/schema.ts (plugin typescript: every type of the schema) and OUT_DIR/operations.ts
// (plugin typescript-operations, on its own as its version 6 is meant to be used: the operations'
// results and variables, with the enums and inputs they use). Prints the scalar mapping, as JSON.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { codegen } from "@graphql-codegen/core";
import * as typescript from "@graphql-codegen/typescript";
import * as typescriptOperations from "@graphql-codegen/typescript-operations";
import { buildSchema, isScalarType, isSpecifiedScalarType, parse } from "graphql";

// Each specification's text form in TypeScript. All are strings on the wire: a date-time, a day and
// an exact decimal are kept as their text, which a Date or a number would change.
const SPECIFICATIONS = {
  "https://www.rfc-editor.org/rfc/rfc3339#section-5.6": "string",
  "https://scalars.graphql.org/andimarek/local-date.html": "string",
  "https://www.w3.org/TR/xmlschema11-2/#decimal": "string",
  // An upload is no text: a browser client (apollo-upload-client) puts a File or Blob in the variable.
  "https://github.com/jaydenseric/graphql-multipart-request-spec": "File | Blob",
};

const [schemaPath, operationsPath, outDir] = process.argv.slice(2);
const sdl = readFileSync(schemaPath, "utf8");
const schema = buildSchema(sdl);

const scalars = {};
for (const type of Object.values(schema.getTypeMap())) {
  if (!isScalarType(type) || isSpecifiedScalarType(type)) continue;
  const typeScript = SPECIFICATIONS[type.specifiedByURL];
  if (typeScript === undefined) {
    throw new Error(`scalar ${type.name}: no TypeScript type for @specifiedBy(url: ${JSON.stringify(type.specifiedByURL)})`);
  }
  scalars[type.name] = typeScript;
}

const documents = [{ location: operationsPath, document: parse(readFileSync(operationsPath, "utf8")) }];
const config = { strictScalars: true, scalars };
const outputs = {
  "schema.ts": { plugins: [{ typescript: {} }], pluginMap: { typescript }, documents: [] },
  "operations.ts": { plugins: [{ typescriptOperations: {} }], pluginMap: { typescriptOperations }, documents },
};
for (const [file, options] of Object.entries(outputs)) {
  const path = join(outDir, file);
  writeFileSync(path, await codegen({ filename: path, schema: parse(sdl), schemaAst: schema, config, ...options }));
}
process.stdout.write(JSON.stringify(scalars));
