// A parameter as makers see it: a label (x-ms-summary), a description, a
// known x-ms-visibility, and a type (a schema for a body parameter).
const VISIBILITY = ['important', 'advanced', 'internal'];
const TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'file'];

export default (p, _options, context) => {
  if (p === null || typeof p !== 'object') return [{ message: 'a parameter must be an object' }];
  const out = [];
  const text = (v) => typeof v === 'string' && v.trim() !== '';
  if (!text(p['x-ms-summary'])) out.push({ message: 'parameter has no x-ms-summary', path: ['x-ms-summary'] });
  if (!text(p.description)) out.push({ message: 'parameter has no description', path: ['description'] });
  if (p['x-ms-visibility'] !== undefined && !VISIBILITY.includes(p['x-ms-visibility'])) {
    out.push({ message: 'x-ms-visibility must be important, advanced or internal', path: ['x-ms-visibility'] });
  }
  if (p.in === 'body' ? !p.schema : !TYPES.includes(p.type)) {
    out.push({ message: 'parameter has no valid type', path: [] });
  }
  return out.map((r) => ({ ...r, path: [...context.path, ...r.path] }));
};
