// A small rule set, run on every CI run (`npm run lint`): mistakes the compiler lets through, not layout (tsc and
// review keep that). Syntax-only rules, so the whole tree lints in seconds without a type-checked program.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', '.dist-dev/', 'node_modules/', 'data/', 'test/fixtures/'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-throw-literal': 'error',
      'no-self-compare': 'error',
      'no-unreachable': 'error',
      'no-fallthrough': 'error',
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_$', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Benchmarks and tests report with console.log, and reach into untyped JSON and private state; the product writes
    // through its logger or the CLI's output, and types what it reads.
    files: ['bench/**/*.ts', 'test/**/*.ts', 'scripts/**'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
)
