// Lint rules kept small: the type checker does most of the work. These catch
// the mistakes tsc lets through (floating promises, unused code, `enum`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use `as const` objects (STYLE.md §5).' }],
    },
  },
  // src/ talks to the speaker through bgp/index.ts only (STYLE.md "Mend"):
  // everything else in bgp/ is the engine's own and may change shape. The one
  // other entry, bgp/config-values.ts, is the values the config parser checks
  // against, without the engine's code behind them (decision 0050).
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)bgp/(?!(index|config-values)\\.js$).+', message: 'src/ imports bgp/ only through bgp/index.ts (or bgp/config-values.ts for config values).' }] },
      ],
    },
  },
  // The tiny .mjs entry shims are outside the TypeScript project.
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: { process: 'readonly' } } },
  // The CommonJS `routes` bin (src/bin/routes.cjs, decision 0046) loads its bundle with require().
  {
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { sourceType: 'commonjs', globals: { process: 'readonly', require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
