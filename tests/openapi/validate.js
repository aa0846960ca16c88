// Checks every answer the API tests recorded (tests/api/lib.sh, one JSON
// line each: script, method, path, status, content_type, body) against the
// OpenAPI description: the path and method are described, the status is one
// of the operation's, the content type one of the status's, and a JSON body
// matches its schema. Prints one line a mismatch and, last, what it checked.
// Usage: node validate.js OPENAPI.json RECORDS.jsonl...
'use strict';

const fs = require('fs');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const [docPath, ...recordPaths] = process.argv.slice(2);
const doc = JSON.parse(fs.readFileSync(docPath, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

const pointer = (...parts) =>
    '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

// Each path template as a regular expression; literal paths first, so that
// /v1/reservations is not taken for /v1/reservations/{id}.
const templates = Object.keys(doc.paths).map((template) => ({
    template,
    regex: new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\{[^}]+\}/g, '[^/]+') + '$'),
}));

const validators = new Map();
function validatorFor(ref) {
    if (!validators.has(ref))
        validators.set(ref, ajv.compile({ $ref: 'openapi.json' + ref }));
    return validators.get(ref);
}

// The response object, and its pointer, that describes @record, or a reason
// why none does.
function describedResponse(record) {
    const path = record.path.split('?')[0];
    const found = templates.find((t) => t.regex.test(path));
    const method = record.method.toLowerCase();

    if (!found) {
        if (record.status === 404)
            return { where: 'no such endpoint', base: ['components', 'responses', 'NotFound'] };
        return { error: `${record.method} ${path} ${record.status}: the path is not described` };
    }
    const operation = doc.paths[found.template][method];
    if (!operation) {
        if (record.status === 405)
            return { where: `${record.method} ${found.template}`,
                     base: ['components', 'responses', 'MethodNotAllowed'] };
        return { error: `${record.method} ${found.template} ${record.status}: the method is not described` };
    }
    const where = `${record.method} ${found.template} ${record.status}`;
    let response = operation.responses[String(record.status)];
    if (!response)
        return { error: `${where}: the status is not described` };
    let base = ['paths', found.template, method, 'responses', String(record.status)];
    if (response.$ref) {
        base = response.$ref.slice(2).split('/');
    }
    return { where, base };
}

function resolve(base) {
    return base.reduce((node, key) => node[key], doc);
}

let checked = 0;
const failures = [];
const used = new Set();
for (const file of recordPaths) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line)
            continue;
        const record = JSON.parse(line);
        const found = describedResponse(record);
        checked++;
        if (found.error) {
            failures.push(`${record.script}: ${found.error}`);
            continue;
        }
        used.add(found.where.replace(/ \d+$/, ''));
        const content = resolve(found.base).content || {};
        if (!content[record.content_type]) {
            failures.push(`${record.script}: ${found.where}: content type '${record.content_type}' ` +
                          `is not described (${Object.keys(content).join(', ') || 'none'})`);
            continue;
        }
        if (record.content_type !== 'application/json')
            continue;
        let body;
        try {
            body = JSON.parse(record.body);
        } catch (e) {
            failures.push(`${record.script}: ${found.where}: the body is not JSON: ${e.message}`);
            continue;
        }
        const validate = validatorFor(pointer(...found.base, 'content', 'application/json', 'schema'));
        if (!validate(body)) {
            for (const e of validate.errors)
                failures.push(`${record.script}: ${found.where}: ${e.schemaPath} ` +
                              `at '${e.instancePath || '/'}' ${e.message}`);
        }
    }
}

for (const f of failures)
    console.log(f);
const operations = Object.entries(doc.paths).flatMap(([template, item]) =>
    Object.keys(item).filter((k) => k !== 'parameters').map((m) => `${m.toUpperCase()} ${template}`));
const unused = operations.filter((o) => !used.has(o));
console.log(`checked ${checked} answers, ${failures.length} mismatches; ` +
            `operations no test reached: ${unused.join(', ') || 'none'}`);
process.exit(failures.length || checked === 0 ? 1 : 0);
