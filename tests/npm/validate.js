#!/usr/bin/env node
// Independent validators for Power Platform connector packages exported by
// medley (`medley connector export`), pinned in package-lock.json:
//
//   1. @apidevtools/swagger-parser: apiDefinition.swagger.json is valid
//      Swagger 2.0 (its JSON schema, $refs, duplicate parameters...);
//   2. @stoplight/spectral-cli with .spectral.yaml: spectral's OpenAPI 2.0
//      rules plus Power Platform's rules (functions/*.js);
//   3. package checks spectral cannot do on one file: apiProperties.json
//      (iconBrandColor, connectionParameters matching securityDefinitions)
//      and icon.png being a PNG.
//
// None of this shares code with medley's C lint: a second, separate
// implementation of the same published rules.
//
//   node validate.js [--json] DIR [DIR...]
//
// Prints, per DIR, one line per validator and one per problem; with --json
// prints one JSON report instead ({DIR: {ok, swaggerParser, spectral,
// package}}). Exit status: 0 when every package passes (spectral warnings
// are allowed), 1 when one fails, 2 on bad usage.
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const SwaggerParser = require('@apidevtools/swagger-parser');

const HERE = __dirname;
const RULESET = path.join(HERE, '.spectral.yaml');
const MAX_FILE = 4 << 20; // same cap as medley's lint: a hostile package is refused, not read
const SEVERITY = ['error', 'warning', 'info', 'hint'];

function readJson(file, problems, rule) {
  let text;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_FILE) throw new Error(`larger than ${MAX_FILE} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    problems.push({ path: path.basename(file), rule, message: `cannot read: ${e.message}` });
    return null;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    problems.push({ path: path.basename(file), rule, message: `invalid JSON: ${e.message}` });
    return null;
  }
}

async function swaggerParser(file) {
  try {
    await SwaggerParser.validate(file);
    return { ok: true, message: 'valid Swagger 2.0' };
  } catch (e) {
    return { ok: false, message: String(e.message || e).split('\n').slice(0, 8).join(' | ') };
  }
}

// securityDefinitions (one, or none) against connectionParameters.
function securityMatch(sw, props, problems) {
  const defs = Object.values((sw && sw.securityDefinitions) || {});
  const cps = (props.properties && props.properties.connectionParameters) || {};
  const list = Object.values(cps).filter((p) => p && typeof p === 'object');
  const at = 'apiProperties.json#properties.connectionParameters';
  const fail = (message) => problems.push({ path: at, rule: 'pkg-security-match', message });
  if (defs.length === 0) {
    if (Object.keys(cps).length) fail('securityDefinitions is empty, so connectionParameters must be too');
    return;
  }
  const d = defs[0] || {};
  if (d.type === 'apiKey' && !list.some((p) => p.type === 'securestring')) {
    fail('apiKey security needs a securestring connection parameter');
  } else if (d.type === 'basic' && !(cps.username && cps.password && cps.password.type === 'securestring')) {
    fail('basic security needs username and a securestring password');
  } else if (d.type === 'oauth2' && !list.some((p) => p.type === 'oauthSetting' &&
             p.oAuthSettings && p.oAuthSettings.identityProvider === 'aad')) {
    fail('oauth2 security needs an oauthSetting with identityProvider aad');
  }
}

function packageChecks(dir) {
  const problems = [];
  const sw = readJson(path.join(dir, 'apiDefinition.swagger.json'), [], 'pkg-file');
  const props = readJson(path.join(dir, 'apiProperties.json'), problems, 'pkg-file');
  if (props) {
    const p = props.properties;
    if (!p || typeof p !== 'object') {
      problems.push({ path: 'apiProperties.json#properties', rule: 'pkg-properties', message: 'properties is missing' });
    } else {
      if (!/^#[0-9a-fA-F]{6}$/.test(p.iconBrandColor || '')) {
        problems.push({ path: 'apiProperties.json#properties.iconBrandColor', rule: 'pkg-icon-brand-color',
          message: 'iconBrandColor must be #rrggbb' });
      }
      if (sw) securityMatch(sw, props, problems);
    }
  }
  try {
    const fd = fs.openSync(path.join(dir, 'icon.png'), 'r');
    const head = Buffer.alloc(16);
    const n = fs.readSync(fd, head, 0, 16, 0);
    fs.closeSync(fd);
    const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    if (n < 16 || !head.subarray(0, 8).equals(sig) || head.toString('latin1', 12, 16) !== 'IHDR') {
      problems.push({ path: 'icon.png', rule: 'pkg-icon', message: 'not a PNG image' });
    }
  } catch (e) {
    problems.push({ path: 'icon.png', rule: 'pkg-icon', message: `cannot read: ${e.message}` });
  }
  return { ok: problems.length === 0, problems };
}

// One spectral run over every package: its startup dominates the cost.
function spectral(files) {
  const cli = require.resolve('@stoplight/spectral-cli/dist/index.js');
  const r = spawnSync(process.execPath, [cli, 'lint', '-r', RULESET, '-f', 'json', '-q', ...files],
    { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120000 });
  let results;
  try {
    results = JSON.parse(r.stdout);
  } catch (e) {
    const why = (r.error && r.error.message) || r.stderr || r.stdout || `exit ${r.status}`;
    return { failed: `spectral did not run: ${String(why).trim().slice(0, 500)}` };
  }
  const byFile = new Map(files.map((f) => [path.resolve(f), []]));
  for (const x of results) {
    const list = byFile.get(path.resolve(x.source || ''));
    if (list) list.push(x);
  }
  return { byFile };
}

function spectralReport(results) {
  const findings = results.map((x) => ({
    path: (x.path || []).join('.') || '(document)',
    rule: x.code,
    severity: SEVERITY[x.severity] || String(x.severity),
    message: x.message,
  }));
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { ok: errors === 0, errors, warnings: findings.length - errors, findings };
}

async function main(argv) {
  const json = argv.includes('--json');
  const dirs = argv.filter((a) => a !== '--json');
  if (dirs.length === 0 || dirs.some((d) => d.startsWith('-'))) {
    process.stderr.write('usage: node validate.js [--json] DIR [DIR...]\n');
    return 2;
  }
  const files = dirs.map((d) => path.resolve(d, 'apiDefinition.swagger.json'));
  const spec = spectral(files.filter((f) => fs.existsSync(f)));
  const report = {};
  for (let i = 0; i < dirs.length; i++) {
    const sp = await swaggerParser(files[i]);
    const st = spec.failed ? { ok: false, errors: 1, warnings: 0, findings: [{ path: '(run)', rule: 'spectral',
      severity: 'error', message: spec.failed }] } : spectralReport(spec.byFile.get(files[i]) || []);
    const pkg = packageChecks(dirs[i]);
    report[dirs[i]] = { ok: sp.ok && st.ok && pkg.ok, swaggerParser: sp, spectral: st, package: pkg };
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const [dir, r] of Object.entries(report)) {
      const out = [`${dir}: swagger-parser: ${r.swaggerParser.ok ? 'ok' : 'error'}: ${r.swaggerParser.message}`,
        `${dir}: spectral: ${r.spectral.errors} errors, ${r.spectral.warnings} warnings`];
      for (const f of r.spectral.findings) out.push(`  ${f.path}: ${f.rule}: ${f.severity}: ${f.message}`);
      out.push(`${dir}: package: ${r.package.ok ? 'ok' : `${r.package.problems.length} errors`}`);
      for (const f of r.package.problems) out.push(`  ${f.path}: ${f.rule}: error: ${f.message}`);
      out.push(`${dir}: ${r.ok ? 'PASS' : 'FAIL'}`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
  }
  return Object.values(report).every((r) => r.ok) ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`validate.js: ${e.stack || e}\n`); process.exitCode = 1; });
