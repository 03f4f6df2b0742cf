// One operation: operationId in PascalCase, a description that is not the
// summary again, a 2xx response with a schema (makers get typed fields)
// and a default response with a description but no schema.
export default (op, _options, context) => {
  if (op === null || typeof op !== 'object') return [{ message: 'an operation must be an object' }];
  const out = [];
  if (typeof op.operationId !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(op.operationId)) {
    out.push({ message: 'operationId must be PascalCase (e.g. GetHomeFeed)', path: ['operationId'] });
  }
  const norm = (s) => String(s).replace(/[.\s]+$/, '').toLowerCase();
  if (typeof op.description !== 'string' || op.description.trim() === '') {
    out.push({ message: 'operation has no description', path: ['description'] });
  } else if (typeof op.summary === 'string' && norm(op.description) === norm(op.summary)) {
    out.push({ message: 'description repeats the summary', path: ['description'] });
  }
  const responses = op.responses && typeof op.responses === 'object' ? op.responses : {};
  const codes = Object.keys(responses).filter((c) => /^2([0-9]{2}|xx)$/i.test(c));
  const code = codes.includes('200') ? '200' : codes[0];
  if (code === undefined) {
    out.push({ message: 'no 200 (2xx) response', path: ['responses'] });
  } else if (code !== '204' && !(responses[code] && responses[code].schema)) {
    out.push({ message: `the ${code} response has no schema`, path: ['responses', code] });
  }
  if (responses.default && responses.default.schema !== undefined) {
    out.push({ message: 'the default response must not have a schema', path: ['responses', 'default', 'schema'] });
  }
  // Result paths are absolute in spectral: prefix the operation's own.
  return out.map((r) => ({ ...r, path: [...context.path, ...r.path] }));
};
