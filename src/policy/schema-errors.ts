import type { ErrorObject } from "ajv";
import { inputError, type ProofError } from "../errors.js";
import { locate, type ParsedYaml, pathLabel, pointerSegments } from "./yaml.js";

/**
 * Turns the first ajv error into one readable message located in the YAML source: unknown keys
 * point at the key, everything else at the offending value.
 */
export function schemaError(
  parsed: ParsedYaml,
  errors: readonly ErrorObject[] | null | undefined,
  what: string,
): ProofError {
  const err = errors?.[0];
  if (!err)
    return inputError(`${what}.schema`, `${parsed.file} is not a valid ${what}`, { file: parsed.file });
  const path = pointerSegments(err.instancePath);
  const where = pathLabel(path);
  const params = err.params as Record<string, unknown>;
  if (err.propertyName !== undefined) {
    // A `propertyNames` sub-schema failed: the key is the culprit, not the map it is in.
    return inputError(
      `${what}.invalid_key`,
      `invalid key '${err.propertyName}' in ${where}: ${err.message ?? "is invalid"}`,
      locate(parsed, path, err.propertyName),
    );
  }
  switch (err.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      return inputError(`${what}.unknown_key`, `unknown key '${key}' in ${where}`, locate(parsed, path, key));
    }
    case "required":
      return inputError(
        `${what}.missing_key`,
        `missing required key '${String(params.missingProperty)}' in ${where}`,
        locate(parsed, path),
      );
    case "enum":
      return inputError(
        `${what}.invalid_value`,
        `${where} must be one of: ${(params.allowedValues as unknown[]).join(", ")}`,
        locate(parsed, path),
      );
    case "const":
      return inputError(
        `${what}.invalid_value`,
        `${where} must be '${String(params.allowedValue)}'`,
        locate(parsed, path),
      );
    case "type": {
      const actual = jsonType(valueAt(parsed.value, path));
      return inputError(
        `${what}.wrong_type`,
        `${where} must be ${String(params.type).replace(",", " or ")}, not ${actual}`,
        locate(parsed, path),
      );
    }
    case "pattern":
      return inputError(
        `${what}.invalid_value`,
        `${where} must match ${String(params.pattern)}`,
        locate(parsed, path),
      );
    case "propertyNames":
      return inputError(
        `${what}.invalid_key`,
        `invalid key '${String(params.propertyName)}' in ${where}`,
        locate(parsed, path, String(params.propertyName)),
      );
    default:
      return inputError(`${what}.schema`, `${where} ${err.message ?? "is invalid"}`, locate(parsed, path));
  }
}

/** The value at a path of segments, `undefined` where the path leads nowhere. */
function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** The JSON Schema type name of a parsed value, as ajv's `type` messages name the expected one. */
function jsonType(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}
