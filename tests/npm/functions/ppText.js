// Power Platform's string rules for info.title, info.description and an
// operation's summary (Microsoft Learn: connector string guidance and
// certification submission). options.kind picks the field; each problem
// becomes one spectral result. Written independently of medley's C lint.

const PRODUCTS = ['Power Apps', 'PowerApps', 'Power Automate', 'Microsoft Flow', 'Logic Apps',
  'Power Platform', 'Power BI', 'Power Pages', 'Power Virtual Agents', 'Copilot Studio',
  'Dataverse', 'Dynamics 365', 'Microsoft'];
const TITLE_WORDS = ['API', 'APIs', 'Connector', 'Connectors', ...PRODUCTS];
const DESCRIPTION_WORDS = ['API', 'APIs', ...PRODUCTS];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const wordIn = (text, words) =>
  words.find((w) => new RegExp(`(^|[^A-Za-z0-9])${escape(w)}($|[^A-Za-z0-9])`, 'i').test(text));
// Characters, not UTF-16 units: "É" counts once, as in Power Platform.
const length = (s) => [...s].length;
const endsWell = (s) => /[\p{L}\p{N}]$/u.test(s);

function title(s) {
  const out = [];
  if (length(s) > 30) out.push(`title has ${length(s)} characters; at most 30`);
  const w = wordIn(s, TITLE_WORDS);
  if (w) out.push(`title contains "${w}"`);
  // ')' for Microsoft's own "Name (Independent Publisher)" titles.
  if (!endsWell(s) && !s.endsWith(')')) out.push('title must end with a letter or digit');
  return out;
}

function description(s) {
  const out = [];
  const n = length(s);
  if (n < 30 || n > 500) out.push(`description has ${n} characters; it needs 30 to 500`);
  const w = wordIn(s, DESCRIPTION_WORDS);
  if (w) out.push(`description contains "${w}"`);
  return out;
}

function summary(s) {
  const out = [];
  if (length(s) > 80) out.push(`summary has ${length(s)} characters; at most 80`);
  const bad = s.match(/[/\\<>*%&?]/);
  if (bad) out.push(`summary contains '${bad[0]}'`);
  if (!endsWell(s)) out.push('summary must not end with punctuation or space');
  if (/^[a-z]/.test(s)) out.push('summary must be in sentence case (starts with a capital)');
  return out;
}

const CHECKS = { title, description, summary };

export default (input, options) => {
  if (typeof input !== 'string' || input.trim() === '') {
    return [{ message: `${options.kind} must be a non-empty string` }];
  }
  return CHECKS[options.kind](input).map((message) => ({ message }));
};
