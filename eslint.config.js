import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Layers are checked here, not hoped for: engines never see the CLI or reports,
// the model engine never sees the docker engine, reports never run engines.
const layer = (files, forbidden, message) => ({
  files,
  rules: {
    "no-restricted-imports": ["error", { patterns: forbidden.map((group) => ({ group: [group], message })) }],
  },
});

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "out/", "captures/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  { files: ["bin/**/*.js", "ci/**/*.js", "ci/**/*.mjs"], languageOptions: { globals: { process: "readonly", console: "readonly" } } },
  layer(["src/engines/**"], ["**/cli/**", "**/report/**", "**/tune/**", "**/compare/**"], "engines/ must not depend on cli/, report/, tune/ or compare/"),
  layer(["src/tune/**", "src/compare/**"], ["**/cli/**", "**/report/**"], "tune/ and compare/ run engines and measure; the CLI and reports sit on them"),
  layer(["src/engines/model/**"], ["**/engines/docker/**"], "the model engine must not depend on the docker engine"),
  layer(["src/report/**"], ["**/engines/**", "**/cli/**"], "report/ reads verdicts; it never runs an engine"),
  layer(
    ["src/capture/**", "src/sip/**", "src/net/**", "src/verdict/**", "src/scenario/**", "src/firewall/**", "src/traffic/**"],
    ["**/cli/**", "**/engines/**", "**/report/**"],
    "core layers must not depend on engines, cli or report",
  ),
);
