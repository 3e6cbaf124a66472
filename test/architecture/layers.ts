/**
 * The layer map of src/: the one place it is written down (docs/architecture.md shows it and
 * test/architecture/layers.test.ts enforces it). A module may import from its own unit and
 * from units of lower rank; units of the same rank are peers and must not import each other.
 * A unit is a folder under src/ or a top-level file.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts"],
  ["internal", "endpoint.ts", "diagnostics.ts"],
  ["codec"],
  ["connection"],
  ["pool", "server"],
  ["rpc", "redis"],
  ["index.ts", "metrics"],
  ["cli"],
];
