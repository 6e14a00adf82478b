// vitest's settings for `make test`. QEMU tests boot a machine under TCG, which takes seconds on a
// busy 2-core machine: a test or hook gets two minutes before it counts as hung (a real hang is
// caught sooner by each boot's own timeout in test/qemu/helpers.js).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 120000,
    hookTimeout: 300000,
  },
});
