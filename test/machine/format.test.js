// One formatter for the project's JavaScript: Prettier, with the options in .prettierrc.json.
// `make format` rewrites the files; this test fails, naming them, when one is not formatted.
import { describe, it, expect } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";

const ROOT = join(import.meta.dirname, "../..");
// The tracked JavaScript; a file git does not know (a scratch script) is nobody else's business.
const files = execFileSync("git", ["ls-files", "*.js", "*.mjs"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter(Boolean);

describe("formatting", () => {
  it("finds the project's JavaScript and one Prettier configuration for it", async () => {
    expect(files.length).toBeGreaterThan(50);
    const options = await prettier.resolveConfig(join(ROOT, "host/cli.js"));
    expect(options).toEqual({ printWidth: 120 });
  });

  it("has every tracked JavaScript file formatted by Prettier (make format fixes it)", async () => {
    const unformatted = [];
    for (const f of files) {
      const path = join(ROOT, f);
      const options = await prettier.resolveConfig(path);
      if (!(await prettier.check(readFileSync(path, "utf8"), { ...options, filepath: path }))) unformatted.push(f);
    }
    expect(unformatted).toEqual([]);
  });
});
