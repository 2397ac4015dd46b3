import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.vigil/**', 'load/reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly',
        URL: 'readonly', Buffer: 'readonly', performance: 'readonly', structuredClone: 'readonly',
        MessageChannel: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', globalThis: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use `as const` objects, not enum.' }],
    },
  },
  {
    files: ['runtime/**/*.ts', 'actors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['ioredis', 'nats', '@nats-io/*', '@clickhouse/client', 'uWebSockets.js', 'chdb', 'prom-client'],
            message: 'runtime/ and actors/ import no client library; put it in adapters/<thing>/.' },
          { group: ['**/adapters/**'], message: 'runtime/ and actors/ may not import adapters/.' },
        ],
      }],
    },
  },
  {
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/adapters/**', '**/load/**'], message: 'actors/ imports runtime/ only.' },
        ],
      }],
    },
  },
);
