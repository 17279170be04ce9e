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
    case "type":
      return inputError(
        `${what}.wrong_type`,
        `${where} must be ${String(params.type).replace(",", " or ")}`,
        locate(parsed, path),
      );
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
