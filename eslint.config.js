// Lint rules: the typed rules a supervisor needs (a dropped promise loses a child), plus
// "the pure core cannot do I/O" for the core folders (docs/engineering.md, "Code shape"), as an allow
// list of what a core may import.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * What a pure core (any `core/` folder) may import a value from: an allow list, so that a new
 * I/O module (`node:timers`, a client library) is refused without anyone listing it. Allowed:
 * the core's own folder and other `core/` folders, and the shared package's pure entry points
 * (shared/package.json `exports`: the job model, plist reading, wire messages, errors, signing,
 * the reconcile vocabulary and retry queue,
 * the metrics catalog). Type-only imports may come from anywhere: a type does no I/O.
 */
const coreImportAllowList = [
  String.raw`^\./`,
  String.raw`^(\.\./)+([\w.-]+/)*core/`,
  String.raw`^@launchfleet/shared(/(job|plist|messages|signing|errors|metrics|reconcile))?$`,
];
const coreImportRefused = `^(?!${coreImportAllowList.map((r) => `(?:${r.slice(1)})`).join('|')})`;

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/build/**',
      'node_modules/**',
      '**/*.d.ts',
      'coverage/**',
      'controller/src/gen/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'describe', property: 'only', message: 'no focused tests' },
        { object: 'it', property: 'only', message: 'no focused tests' },
        { object: 'test', property: 'only', message: 'no focused tests' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@launchfleet/*/src/*'], message: 'import a sibling package through its exports' },
          ],
        },
      ],
    },
  },
  {
    // The test-only entry points resolve only under the `launchfleet-testing` condition
    // (scripts/run-tests.mjs): the code that ships never imports them.
    files: ['shared/src/**/*.ts', 'node-agent/src/**/*.ts', 'controller/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@launchfleet/*/src/*'], message: 'import a sibling package through its exports' },
            {
              group: ['@launchfleet/*/testing'],
              message:
                'test fakes are for tests: the `./testing` entry points resolve only under the launchfleet-testing condition',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/src/**/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@launchfleet/shared',
              importNames: ['systemClock', 'systemScheduler', 'lintFile'],
              message: 'the real clock, timers and file reads are effects: the core is given them',
            },
          ],
          patterns: [
            {
              regex: coreImportRefused,
              allowTypeImports: true,
              message:
                'the pure core does no I/O: import values only from core/ folders and the pure parts of @launchfleet/shared (eslint.config.js), and ask for an effect',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'a timer is an effect' },
        { name: 'setInterval', message: 'a timer is an effect' },
        { name: 'setImmediate', message: 'a timer is an effect' },
        { name: 'queueMicrotask', message: 'scheduling is an effect' },
        { name: 'process', message: 'the core reads no process state' },
        { name: 'globalThis', message: 'the core reaches no global state' },
        { name: 'global', message: 'the core reaches no global state' },
        { name: 'fetch', message: 'the core does no I/O' },
        { name: 'performance', message: 'time comes from the injected clock' },
        { name: 'crypto', message: 'randomness is injected' },
        { name: 'require', message: 'the core imports only what eslint.config.js allows' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'time comes from the injected clock' },
        { object: 'Math', property: 'random', message: 'randomness is injected' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'time comes from the injected clock: new Date(ms) with a given time only',
        },
        { selector: 'ImportExpression', message: 'the core imports statically, from its allow list' },
      ],
    },
  },
  {
    // The agent loads only what it uses: shared's index also loads the plist writer (the `plist`
    // package with xmldom and xmlbuilder: 1.5 MB of heap, ~7 MB resident when loaded alone), which
    // the agent never calls (test/bench/RESULTS.md, "Where the memory goes").
    files: ['node-agent/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'node-agent/src/testing/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@launchfleet/shared',
              allowTypeImports: true,
              message:
                "import the module by subpath (e.g. '@launchfleet/shared/errors'): the index loads the plist writer",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false },
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  {
    // The web console's one browser script (controller/assets/): browser globals, no Node ones.
    files: ['controller/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        EventSource: 'readonly',
        DOMParser: 'readonly',
        Intl: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
);
