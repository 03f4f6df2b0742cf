// Document-wide Power Platform rules: x-ms-connector-metadata with
// Website, Privacy policy and Categories; one security definition of a
// shape custom connectors support.
const CATEGORIES = ['AI', 'Business Management', 'Business Intelligence', 'Collaboration', 'Commerce',
  'Communication', 'Content and Files', 'Finance', 'Data', 'Human Resources', 'Internet of Things',
  'IT Operations', 'Lifestyle and Entertainment', 'Marketing', 'Productivity', 'Sales and CRM',
  'Security', 'Social Media', 'Website'];

function metadata(doc) {
  const md = doc['x-ms-connector-metadata'];
  const path = ['x-ms-connector-metadata'];
  if (!Array.isArray(md)) return [{ message: 'x-ms-connector-metadata is missing', path }];
  const value = (name) => {
    const e = md.find((x) => x && x.propertyName === name);
    return e && typeof e.propertyValue === 'string' ? e.propertyValue.trim() : '';
  };
  const out = [];
  for (const name of ['Website', 'Privacy policy']) {
    if (!/^https?:\/\/\S+$/.test(value(name))) out.push({ message: `${name} must be a URL`, path });
  }
  const cats = value('Categories');
  if (!cats) out.push({ message: 'Categories is missing', path });
  for (const c of cats ? cats.split(';').map((x) => x.trim()) : []) {
    if (!CATEGORIES.includes(c)) out.push({ message: `unknown category "${c}"`, path });
  }
  return out;
}

function security(doc) {
  const defs = doc.securityDefinitions;
  if (defs === undefined) return [];
  const path = ['securityDefinitions'];
  if (defs === null || typeof defs !== 'object') return [{ message: 'securityDefinitions must be an object', path }];
  const out = [];
  const names = Object.keys(defs);
  if (names.length > 1) out.push({ message: 'a custom connector has one security definition', path });
  for (const n of names) {
    const d = defs[n] || {};
    const p = [...path, n];
    if (d.type === 'apiKey' && !['header', 'query'].includes(d.in)) out.push({ message: 'apiKey must be in header or query', path: p });
    else if (d.type === 'oauth2' && d.flow !== 'accessCode') out.push({ message: 'oauth2 must use the accessCode flow', path: p });
    else if (!['apiKey', 'basic', 'oauth2'].includes(d.type)) out.push({ message: 'type must be basic, apiKey or oauth2', path: p });
  }
  return out;
}

export default (doc, options) => (options.part === 'metadata' ? metadata(doc) : security(doc));
