// Reads node:test TAP output and returns one line per failed test: its name, where it is, and
// the first lines of its error. run-tests.mjs prints these after each tier and the matrix repeats
// them at the very end, because a CI log is often read from its tail only.

const maxErrorChars = 400;

/**
 * @param {string} tap the TAP text
 * @returns {string[]} `<name> (<file:line>): <error>` for each failed test (suites whose only
 *   failure is a failed subtest are left out: the subtest has its own line)
 */
export function tapFailures(tap) {
  const lines = tap.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i] ?? '');
    if (!m) continue;
    const indent = (m[1] ?? '').length;
    const name = m[2] ?? '';
    // The YAML block follows at indent + 2, between '---' and '...'.
    const pad = ' '.repeat(indent + 2);
    if ((lines[i + 1] ?? '') !== `${pad}---`) {
      out.push(name);
      continue;
    }
    const fields = new Map();
    let j = i + 2;
    for (; j < lines.length && lines[j] !== `${pad}...`; j++) {
      const f = new RegExp(`^${pad}(\\w+): (.*)$`).exec(lines[j] ?? '');
      if (!f) continue;
      let value = f[2] ?? '';
      if (value === '|-' || value === '|' || value === '>-') {
        const block = [];
        for (let k = j + 1; k < lines.length && (lines[k] ?? '').startsWith(`${pad}  `); k++)
          block.push((lines[k] ?? '').slice(pad.length + 2));
        value = block.join(' ').replace(/\s+/g, ' ').trim();
      } else value = value.replace(/^'(.*)'$/, '$1');
      fields.set(f[1], value);
    }
    i = j;
    if (fields.get('failureType') === 'subtestsFailed') continue;
    const where = (fields.get('location') ?? '').replace(/^.*\/(?:dist|src)\//, '');
    const error = (fields.get('error') ?? '').slice(0, maxErrorChars);
    out.push(`${name}${where ? ` (${where})` : ''}: ${error}`);
  }
  return out;
}
