// `--config-yaml` is merged over the `-c` file the way Envoy does it: both are parsed into a
// Bootstrap message and `bootstrap.MergeFrom(config_yaml)` runs (source/server/options_impl.cc,
// `InstanceUtil::loadBootstrapConfig`). Protobuf MergeFrom semantics on plain proto3-JSON objects:
//   - scalars (and strings) in the overlay replace the base value;
//   - messages merge field by field, recursively;
//   - repeated fields concatenate (base first, then overlay);
//   - a google.protobuf.Any (`{"@type": ...}`) is replaced whole: its `value` is bytes, and bytes
//     fields are replaced by MergeFrom, so a typed_config never blends two filter configs.
// Without the schema, map fields (metadata, typed_per_filter_config) merge key by key like
// messages, which matches MergeFrom for every map whose values are scalars or Structs.
// A field may be spelled snake_case in one source and lowerCamelCase in the other: they are the
// same field, so the overlay replaces/merges the base's spelling.

import { camelName, isObject } from '../util/proto-json';

function snakeName(name: string): string {
  return name.replace(/[A-Z]/g, (ch) => '_' + ch.toLowerCase());
}

/** The key under which `base` already holds the field `key` (either spelling), or `key`. */
function existingKey(base: Record<string, unknown>, key: string): string {
  if (Object.prototype.hasOwnProperty.call(base, key)) return key;
  const camel = camelName(key);
  if (camel !== key && Object.prototype.hasOwnProperty.call(base, camel)) return camel;
  const snake = snakeName(key);
  if (snake !== key && Object.prototype.hasOwnProperty.call(base, snake)) return snake;
  return key;
}

/** A new object: `overlay` merged into `base` with protobuf MergeFrom semantics. Inputs are not mutated. */
export function mergeFrom(base: unknown, overlay: unknown): unknown {
  if (overlay === undefined || overlay === null) return clone(base);
  if (Array.isArray(overlay)) {
    return Array.isArray(base) ? [...base.map(clone), ...overlay.map(clone)] : overlay.map(clone);
  }
  if (isObject(overlay)) {
    if (!isObject(base) || '@type' in overlay) return clone(overlay);
    const out: Record<string, unknown> = clone(base) as Record<string, unknown>;
    for (const key of Object.keys(overlay)) {
      const target = existingKey(out, key);
      const merged = mergeFrom(out[target], overlay[key]);
      if (target !== key) delete out[target];
      out[key] = merged;
    }
    return out;
  }
  return overlay;
}

function clone(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clone);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) out[key] = clone(v[key]);
    return out;
  }
  return v;
}
