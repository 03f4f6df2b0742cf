// A summary in Title Case ("Get Home Feed") instead of sentence case.
// Words of up to three letters are left out, as Title Case keeps "of",
// "for", "the" low; only a warning, since proper nouns are capitalised too.
export default (input) => {
  if (typeof input !== 'string') return [];
  const words = input.split(/\s+/).slice(1).filter((w) => w.length > 3);
  if (words.length >= 2 && words.every((w) => /^[A-Z]/.test(w))) {
    return [{ message: 'summary looks like Title Case; use sentence case' }];
  }
  return [];
};
