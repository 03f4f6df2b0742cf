// A response schema: every schema has a type; every property also an
// x-ms-summary (or title) and a description, down through properties and
// items. Spectral has resolved most $refs already (one definition is then
// one object wherever it is used), but leaves circular ones in place, so
// those are looked up here. Each object is walked once, which also ends
// cycles; only the label checks repeat per property.
const TYPES = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'file'];
// Only a guard for the JS stack: a long chain of $refs is legitimate (medley's
// lint counts depth per definition), and `seen` already ends cycles.
const MAX_DEPTH = 5000;

const text = (v) => typeof v === 'string' && v.trim() !== '';

function walk(s, path, isProp, depth, seen, out, root) {
  if (s !== null && typeof s === 'object' && typeof s.$ref === 'string') {
    const m = /^#\/definitions\/(.+)$/.exec(s.$ref);
    const defs = (root && root.definitions) || {};
    s = m && Object.prototype.hasOwnProperty.call(defs, m[1]) ? defs[m[1]] : undefined;
    if (s === undefined) {
      out.push({ message: '$ref does not name an entry of #/definitions', path });
      return;
    }
  }
  if (s === null || typeof s !== 'object') {
    out.push({ message: 'a schema must be an object', path });
    return;
  }
  if (isProp && !text(s['x-ms-summary']) && !text(s.title)) {
    out.push({ message: 'property has no x-ms-summary (or title)', path });
  }
  if (isProp && !text(s.description)) out.push({ message: 'property has no description', path });
  if (seen.has(s)) return;
  seen.add(s);
  if (depth > MAX_DEPTH) {
    out.push({ message: `schema nested deeper than ${MAX_DEPTH} levels`, path });
    return;
  }
  if (!TYPES.includes(s.type)) out.push({ message: `${isProp ? 'property' : 'schema'} has no valid type`, path });
  if (s.properties && typeof s.properties === 'object') {
    for (const [k, v] of Object.entries(s.properties)) {
      walk(v, [...path, 'properties', k], true, depth + 1, seen, out, root);
    }
  }
  if (s.type === 'array') {
    if (s.items === undefined) out.push({ message: 'an array schema needs items', path });
    else walk(s.items, [...path, 'items'], false, depth + 1, seen, out, root);
  }
}

export default (schema, _options, context) => {
  const out = [];
  walk(schema, [...context.path], false, 0, new Set(), out, context.document.data);
  return out;
};
