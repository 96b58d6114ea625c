import { defineConfig } from 'vitest/config';

// The SDK warns once per process on Node 20 (supported until 2027); globalSetup runs here, not in a worker.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The JSON report feeds .ci/run's plain "N passed, N failed" summary.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    globalSetup: ['test/support/global-setup.ts'],
    // Emulator-backed tests run real parallel I/O; give slow CI machines room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Tests provoke failures on purpose; their JSON logs would bury the report.
      RELAY_LOG_LEVEL: 'silent',
    },
  },
});
