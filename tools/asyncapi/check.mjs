// Checks AsyncAPI documents with the real AsyncAPI tools, as a Go, Python or TypeScript team
// would read them:
//   1. @asyncapi/parser parses each document: any diagnostic of severity error fails it, the
//      warnings are printed;
//   2. every message example validates against its message's payload (and headers), every
//      schema example against its schema, and every `x-invalid-examples` instance is rejected
//      by its schema (Ajv, draft-07 with formats: the schema format the documents declare);
//   3. @asyncapi/modelina generates TypeScript models from each document and `tsc --noEmit
//      --strict` type-checks them.
//
// Usage: node check.mjs <document.json|directory>...   (exit 0 only when every check passed)

import { readFileSync, readdirSync, statSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { TypeScriptGenerator, AsyncAPIInputProcessor } from '@asyncapi/modelina';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

function documents(args) {
  const out = [];
  for (const arg of args) {
    if (statSync(arg).isDirectory()) {
      for (const name of readdirSync(arg).sort()) {
        if (name.endsWith('.json')) out.push(join(arg, name));
      }
    } else {
      out.push(arg);
    }
  }
  return out;
}

const severityName = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning', [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };

async function parse(file, text) {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const at = d.path.length ? `#/${d.path.join('/')}` : '#';
    const line = d.range ? `:${d.range.start.line + 1}:${d.range.start.character + 1}` : '';
    console.log(`  parser ${severityName[d.severity] ?? d.severity} ${d.code}: ${d.message} (${file}${line} ${at})`);
  }
  const problems = errors.map((d) => `parser error ${d.code}: ${d.message} at #/${d.path.join('/')}`);
  if (!document && problems.length === 0) problems.push('the parser returned no document');
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning).length;
  return { document, problems, warnings };
}

function ajvFor(raw) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // References are `#/components/schemas/...` from the document's root; only `components` is
  // taken (the root's own `id` is AsyncAPI's, not a schema id).
  ajv.addSchema({ components: raw.components ?? {} }, 'doc');
  return ajv;
}

const pointer = (...tokens) => tokens.map((t) => String(t).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

function checkExamples(raw) {
  const ajv = ajvFor(raw);
  const problems = [];
  let checked = 0;
  const validator = (path) => ajv.getSchema(`doc#/${path}`);
  const explain = (v) => ajv.errorsText(v.errors, { separator: '; ' });
  for (const [id, message] of Object.entries(raw.components?.messages ?? {})) {
    const payload = message.payload?.schemaFormat ? 'payload/schema' : 'payload';
    const headers = message.headers?.schemaFormat ? 'headers/schema' : 'headers';
    const examples = message.examples ?? [];
    if (examples.length === 0) problems.push(`message ${id} has no example`);
    examples.forEach((example, i) => {
      const name = example.name ?? i;
      if (example.payload !== undefined) {
        const v = validator(pointer('components', 'messages', id) + '/' + payload);
        checked++;
        if (!v(example.payload)) problems.push(`message ${id} example ${name}: payload does not validate: ${explain(v)}`);
      }
      if (example.headers !== undefined && message.headers) {
        const v = validator(pointer('components', 'messages', id) + '/' + headers);
        checked++;
        if (!v(example.headers)) problems.push(`message ${id} example ${name}: headers do not validate: ${explain(v)}`);
      }
    });
  }
  for (const [name, schema] of Object.entries(raw.components?.schemas ?? {})) {
    const at = pointer('components', 'schemas', name);
    (schema.examples ?? []).forEach((example, i) => {
      const v = validator(at);
      checked++;
      if (!v(example)) problems.push(`schema ${name} example ${i}: does not validate: ${explain(v)}`);
    });
    (schema['x-invalid-examples'] ?? []).forEach((invalid, i) => {
      const v = validator(at);
      checked++;
      if (v(invalid.instance)) problems.push(`schema ${name} x-invalid-examples/${i} (${invalid.description}): accepted, but the catalog rejects it`);
    });
  }
  return { problems, checked };
}

// Modelina's newest AsyncAPI 3 version is 3.0.0 (it yields a single `any` for 3.1.0): it gets
// the document with that version number. Modelina parses it again itself, so the document is
// checked as a valid 3.0.0 document too.
function forModelina(raw) {
  const supported = AsyncAPIInputProcessor.supportedVersions;
  if (supported.includes(raw.asyncapi)) return { input: raw, note: '' };
  const major = String(raw.asyncapi).split('.')[0];
  const newest = supported.filter((v) => v.startsWith(`${major}.`)).sort().pop();
  if (!newest) return { input: raw, note: '' };
  return { input: { ...raw, asyncapi: newest }, note: ` (given as ${newest}, Modelina's newest)` };
}

async function checkModels(file, raw) {
  const generator = new TypeScriptGenerator({ modelType: 'interface' });
  const { input, note } = forModelina(raw);
  const problems = [];
  let models;
  try {
    models = await generator.generate(input);
  } catch (e) {
    problems.push(`Modelina failed${note}: ${e.message}${e.diagnostics ? ' ' + JSON.stringify(e.diagnostics.filter((d) => d.severity === 0)) : ''}`);
    return { problems, count: 0, note };
  }
  if (models.some((m) => /^type \w+ = any;$/.test(m.result.trim()))) {
    problems.push(`Modelina understood nothing${note}: ${models.map((m) => m.result).join(' | ')}`);
  }
  if (models.length === 0) problems.push('Modelina generated no model');
  const dir = mkdtempSync(join(tmpdir(), `asyncapi-models-${basename(file, '.json')}-`));
  try {
    const source = models.map((m) => `export ${m.result}`).join('\n\n') + '\n';
    writeFileSync(join(dir, 'models.ts'), source);
    // No ambient @types: the models alone must type-check.
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'es2022', types: [] }, files: ['models.ts'] }));
    const tsc = require.resolve('typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '--project', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    if (run.status !== 0) {
      problems.push(`tsc --noEmit --strict failed on the ${models.length} Modelina models (${join(dir, 'models.ts')} kept):\n${run.stdout}${run.stderr}`);
      return { problems, count: models.length, note };
    }
  } catch (e) {
    problems.push(`writing or type-checking the models failed: ${e}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return { problems, count: models.length, note };
}

const files = documents(process.argv.slice(2));
if (files.length === 0) {
  console.error(`usage: node ${join(here, 'check.mjs')} <document.json|directory>...`);
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  console.log(`${file}:`);
  const text = readFileSync(file, 'utf8');
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    console.log(`  FAIL not JSON: ${e.message}`);
    failed++;
    continue;
  }
  const parsed = await parse(file, text);
  const examples = checkExamples(raw);
  const models = parsed.document ? await checkModels(file, raw) : { problems: ['no models: the document did not parse'], count: 0 };
  const problems = [...parsed.problems, ...examples.problems, ...models.problems];
  console.log(`  parser: ${parsed.problems.length} errors, ${parsed.warnings} warnings; examples: ${examples.checked} checked; modelina${models.note ?? ''}: ${models.count} models, tsc ${models.problems.length ? 'failed' : 'passed'}`);
  for (const p of problems) console.log(`  FAIL ${p}`);
  if (problems.length) failed++;
}
console.log(failed ? `${failed} of ${files.length} documents failed` : `all ${files.length} documents passed`);
process.exit(failed ? 1 : 0);
