/**
 * A small builder for DynamoDB condition and update expressions.
 *
 * Conditions are values with a name in the code (`const claimable = …`) so every conditional write
 * reads as the rule it enforces. Attribute names are always aliased (`#status`), which sidesteps
 * DynamoDB's reserved words.
 */

export interface Condition {
  readonly expression: string;
  readonly names: readonly string[];
  readonly values: Readonly<Record<string, unknown>>;
}

/** A condition over `names` (aliased as `#name`) and `values` (placeholders as `:key`). */
export function condition(
  expression: string,
  names: readonly string[],
  values: Record<string, unknown> = {},
): Condition {
  return { expression, names, values };
}

export function and(...parts: Condition[]): Condition {
  return {
    expression: parts.map((p) => `(${p.expression})`).join(' AND '),
    names: parts.flatMap((p) => p.names),
    values: Object.assign({}, ...parts.map((p) => p.values)),
  };
}

export function or(...parts: Condition[]): Condition {
  return {
    expression: parts.map((p) => `(${p.expression})`).join(' OR '),
    names: parts.flatMap((p) => p.names),
    values: Object.assign({}, ...parts.map((p) => p.values)),
  };
}

/** Attributes of `T` that hold numbers (any attribute of an untyped record). */
type NumberKeys<T> = string extends keyof T
  ? string
  : { [K in keyof T]-?: NonNullable<T[K]> extends number ? K : never }[keyof T] & string;

/** Attributes of `T` that hold lists (any attribute of an untyped record). */
type ListKeys<T> = string extends keyof T
  ? string
  : { [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] ? K : never }[keyof T] & string;

/** An update of an item of type `T`: the compiler checks each attribute it names and sets. */
export interface Change<T = Record<string, unknown>> {
  /** Attributes to set; `undefined` values are removed instead. */
  readonly set?: { readonly [K in keyof T]?: T[K] | undefined };
  readonly remove?: readonly (keyof T & string)[];
  /** Attributes to increment by the given amount (`#a = #a + :n`); an absent one counts as 0. */
  readonly add?: { readonly [K in NumberKeys<T>]?: number };
  /** Attributes set from another attribute plus a value (`#a = #b + :n`), so no read is needed first. */
  readonly plus?: { readonly [K in NumberKeys<T>]?: readonly [source: NumberKeys<T>, amount: number] };
  /** Attributes set only when absent (`if_not_exists`): an upsert keeps what the old item had. */
  readonly keep?: { readonly [K in keyof T]?: T[K] };
  /** Lists to extend (`list_append`), created when absent, so no read is needed first. */
  readonly append?: { readonly [K in ListKeys<T>]?: readonly unknown[] };
}

export interface BuiltExpression {
  UpdateExpression?: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/** Builds the expression parts of an `UpdateItem` (or just a condition when `change` is omitted). */
export function build<T>(when: Condition | undefined, change?: Change<T>): BuiltExpression {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const alias = (name: string) => {
    names[`#${name}`] = name;
    return `#${name}`;
  };
  const sets: string[] = [];
  const removes = new Set<string>(change?.remove ?? []);
  for (const [name, value] of Object.entries<unknown>(change?.set ?? {})) {
    if (value === undefined) {
      removes.add(name);
      continue;
    }
    values[`:set_${name}`] = value;
    sets.push(`${alias(name)} = :set_${name}`);
  }
  for (const [name, amount] of Object.entries<number | undefined>(change?.add ?? {})) {
    if (amount === undefined) continue;
    values[`:add_${name}`] = amount;
    values[':zero'] = 0;
    sets.push(`${alias(name)} = if_not_exists(${alias(name)}, :zero) + :add_${name}`);
  }
  for (const [name, plus] of Object.entries<readonly [string, number] | undefined>(change?.plus ?? {})) {
    if (!plus) continue;
    const [source, amount] = plus;
    values[`:plus_${name}`] = amount;
    sets.push(`${alias(name)} = ${alias(source)} + :plus_${name}`);
  }
  for (const [name, value] of Object.entries<unknown>(change?.keep ?? {})) {
    values[`:keep_${name}`] = value;
    sets.push(`${alias(name)} = if_not_exists(${alias(name)}, :keep_${name})`);
  }
  for (const [name, items] of Object.entries<readonly unknown[] | undefined>(change?.append ?? {})) {
    if (items === undefined) continue;
    values[`:append_${name}`] = items;
    values[':empty_list'] = [];
    sets.push(`${alias(name)} = list_append(if_not_exists(${alias(name)}, :empty_list), :append_${name})`);
  }
  const clauses: string[] = [];
  if (sets.length) clauses.push(`SET ${sets.join(', ')}`);
  if (removes.size) clauses.push(`REMOVE ${[...removes].map(alias).join(', ')}`);

  if (when) {
    for (const name of when.names) alias(name);
    Object.assign(values, when.values);
  }
  return {
    ...(clauses.length ? { UpdateExpression: clauses.join(' ') } : {}),
    ...(when ? { ConditionExpression: when.expression } : {}),
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}

/** `build` for an `UpdateItem`, whose update expression is never empty. */
export function buildUpdate<T>(
  when: Condition | undefined,
  change: Change<T>,
): BuiltExpression & { UpdateExpression: string } {
  const built = build(when, change);
  if (!built.UpdateExpression) throw new Error('an update must change at least one attribute');
  return { ...built, UpdateExpression: built.UpdateExpression };
}
