/**
 * fast-check arbitraries for bad HTTP input: request bodies, query strings, path segments and
 * headers, as compact descriptions that render to the exact text sent on the wire.
 *
 * Values are descriptions rather than rendered text so that a shrunk counterexample stays
 * readable: `{ nested: '[', depth: 9000 }` instead of 18,000 brackets.
 */
import fc from 'fast-check';

// ---------------------------------------------------------------------------------------------
// Characters and strings
// ---------------------------------------------------------------------------------------------

/** Characters that trip parsers and storage: NUL and controls, lone surrogates, BOM, separators, astral, URL syntax. */
const AWKWARD_CHARS = [
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u00e9',
  '\u200b',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ufffd',
  '\uffff',
  '\u{1f642}',
  '\u{10ffff}',
  '"',
  '\\',
  '/',
  '%',
  '#',
  '?',
  '&',
  '=',
  '+',
  '.',
  '~',
  ' ',
];

const awkwardChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...AWKWARD_CHARS) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

const awkwardString = (constraints: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: awkwardChar, maxLength: 12, ...constraints });

/**
 * Whether a string holds a lone surrogate: it has no UTF-8 encoding, so it cannot be put in a URL,
 * and the API refuses it as a name.
 */
export const hasLoneSurrogate = (s: string): boolean => /[\ud800-\udfff]/u.test(s);

/** Percent-encodes every byte of the UTF-8 encoding except unreserved characters; never throws. */
export function percentEncode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON fragments
// ---------------------------------------------------------------------------------------------

/** A piece of JSON text, valid or not. Objects keep their entries in order, duplicate keys included. */
export type Fragment =
  | { readonly value: fc.JsonValue }
  | { readonly raw: string }
  | { readonly nested: '[' | '{' | 'on_success'; readonly depth: number }
  | { readonly long: string; readonly times: number }
  | { readonly object: readonly Entry[] }
  | { readonly array: readonly Fragment[] };

export type Entry = readonly [key: string, value: Fragment];

/** Opening, innermost and closing text of each kind of nesting. */
const NESTING = {
  '[': ['[', '', ']'],
  '{': ['{"a":', '0', '}'],
  on_success: ['{"payload":0,"on_success":', '{"payload":0}', '}'],
} as const;

function renderFragment(f: Fragment): string {
  if ('value' in f) return JSON.stringify(f.value) ?? 'null';
  if ('raw' in f) return f.raw;
  if ('long' in f) return JSON.stringify(f.long.repeat(f.times));
  if ('object' in f)
    return `{${f.object.map(([k, v]) => `${JSON.stringify(k)}:${renderFragment(v)}`).join(',')}}`;
  if ('array' in f) return `[${f.array.map(renderFragment).join(',')}]`;
  const [open, leaf, close] = NESTING[f.nested];
  return `${open.repeat(f.depth)}${leaf}${close.repeat(f.depth)}`;
}

const value = (v: fc.JsonValue): Fragment => ({ value: v });

/** Any JSON value, with awkward strings in keys and values. */
const jsonValue = (maxDepth = 3): fc.Arbitrary<fc.JsonValue> =>
  fc.jsonValue({ maxDepth, stringUnit: awkwardChar });

/** Numbers at and past the limits the API checks, and number literals JSON.parse reads oddly. */
const edgeNumber: fc.Arbitrary<Fragment> = fc.oneof(
  fc
    .constantFrom(
      0,
      1,
      -1,
      0.5,
      -1.5,
      99,
      100,
      101,
      999,
      1000,
      1001,
      32_767,
      32_768,
      43_200,
      43_201,
      86_400,
      604_801,
      31_536_001,
      2 ** 31 - 1,
      2 ** 31,
      -(2 ** 31),
      -(2 ** 31) - 1,
      2 ** 53,
      2 ** 53 + 2,
      1e21,
      1e300,
      -1e300,
      Number.MIN_VALUE,
    )
    .map(value),
  fc
    .constantFrom(
      '1e400',
      '-1e400',
      '-0',
      '1.0',
      '1E2',
      '4.9e-325',
      '123456789012345678901234567890',
      '9007199254740993',
    )
    .map((raw): Fragment => ({ raw })),
  fc.integer().map(value),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(value),
);

/** Strings a field might misread: dates at and past `Date`'s range, numerals, enum look-alikes. */
const edgeString: fc.Arbitrary<Fragment> = fc
  .constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1.5',
    '1e3',
    '30',
    'NaN',
    'null',
    'true',
    '2026-01-01',
    '2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00',
    '2026-02-30T00:00:00Z',
    '1970-01-01T00:00:00+25:00',
    '9999-12-31T23:59:59.999Z',
    '0000-01-01T00:00:00Z',
    '+275760-09-13T00:00:00Z',
    '-271821-04-20T00:00:00Z',
    '8640000000000',
    '8640000000001',
    '99999999999999999999',
    `1${'0'.repeat(400)}`,
    'next tuesday',
    'exponential',
    'fixed',
    'linear',
    'SHELL',
    'shell',
    'full',
    'pending',
    'scheduled',
    'replace',
    'ignore',
    '00000000-0000-4000-8000-000000000000',
  )
  .map(value);

/** Long strings around the limits: 1,024-byte names, the 64 KiB error, the 256 KiB payload budget. */
const longString: fc.Arbitrary<Fragment> = fc.record({
  long: fc.constantFrom('x', '\u00e9', '\u{1f642}', '\u0000'),
  times: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 65_536, 65_537) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 300_000 }) },
  ),
});

/**
 * Nesting past what recursive code survives: JSON.parse does not recurse, but JSON.stringify and
 * recursive schemas do (a few thousand levels overflow the stack).
 */
const deepNesting: fc.Arbitrary<Fragment> = fc.record({
  nested: fc.constantFrom('[' as const, '{' as const, 'on_success' as const),
  depth: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 500, max: 20_000 })),
});

/** Objects with a key written twice: JSON.parse keeps the last. */
const duplicateKeys: fc.Arbitrary<Fragment> = fc
  .tuple(
    fc.constantFrom('id', 'queue', 'payload', 'timeout', 'error', 'limit', 'a'),
    fc.jsonValue(),
    fc.jsonValue(),
  )
  .map(
    ([key, first, second]): Fragment => ({
      object: [
        [key, value(first)],
        [key, value(second)],
      ],
    }),
  );

/** A wrong value for one field: every JSON type, edge numbers and strings, long strings, deep nesting. */
const wrongValue: fc.Arbitrary<Fragment> = fc.oneof(
  fc.constantFrom<fc.JsonValue>(null, true, false, '', [], {}, [null], { '': null }).map(value),
  edgeNumber,
  edgeString,
  awkwardString({ maxLength: 8 }).map(value),
  jsonValue(2).map(value),
  longString,
  deepNesting,
  duplicateKeys,
);

/**
 * Date-times a lenient parser reads: at and past the ends of `Date`'s range (±8.64e15 ms), unix
 * seconds as numerals (relay-rs v1 reads `"1767225600"`), offsets that do not exist.
 */
const edgeDate: fc.Arbitrary<Fragment> = fc.oneof(
  fc
    .constantFrom(
      '8639999999999',
      '8640000000000',
      '8640000000001',
      '9999999999999',
      '99999999999999999999',
      `1${'0'.repeat(400)}`,
      '0',
      '0.5',
      ' 1 ',
      '+275760-09-13T00:00:00.000Z',
      '+275760-09-13T00:00:00.001Z',
      '-271821-04-20T00:00:00.000Z',
      '-271821-04-19T23:59:59.999Z',
      '9999-12-31T23:59:59.999Z',
      '2026-01-01T00:00:00+99:00',
      '2026-13-01T00:00:00Z',
      'Tue, 01 Jan 2030 00:00:00 GMT',
    )
    .map(value),
  edgeString,
  edgeNumber,
);

/** Names (queues, ids, keys, messages): empty, awkward, and long around the byte limits. */
const nameLike: fc.Arbitrary<Fragment> = fc.oneof(
  longString,
  awkwardString({ maxLength: 8 }).map(value),
  edgeString,
);

/** A backoff with some fields wrong. */
const backoffLike: fc.Arbitrary<Fragment> = fc
  .array(
    fc.tuple(
      fc.constantFrom('strategy', 'base_seconds', 'max_seconds', 'jitter', 'x'),
      fc.oneof(edgeNumber, edgeString),
    ),
    { maxLength: 4 },
  )
  .map((object): Fragment => ({ object }));

/** A child job (`on_success`) with one field wrong, or a chain of them thousands deep. */
const childLike: fc.Arbitrary<Fragment> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        'payload',
        'queue',
        'type',
        'timeout',
        'max_retries',
        'backoff',
        'priority',
        'on_failure',
        'id',
      ),
      wrongValue,
    )
    .map(
      ([field, v]): Fragment => ({
        object: [
          ['payload', value(0)],
          [field, v],
        ],
      }),
    ),
  fc
    .oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 500, max: 5_000 }))
    .map((depth): Fragment => ({ nested: 'on_success', depth })),
);

/** Wrong values that matter to each field, beside wrong values of any kind. */
const FIELD_VALUES: Readonly<Record<string, fc.Arbitrary<Fragment>>> = {
  id: nameLike,
  queue: nameLike,
  idempotency_key: nameLike,
  run_id: nameLike,
  error: nameLike,
  timeout: edgeNumber,
  max_retries: edgeNumber,
  priority: edgeNumber,
  delay: edgeNumber,
  limit: edgeNumber,
  run_at: edgeDate,
  payload: fc.oneof(deepNesting, longString),
  state: fc.oneof(deepNesting, longString),
  backoff: backoffLike,
  type: edgeString,
  on_success: childLike,
  on_failure: childLike,
};

const wrongValueFor = (field: string): fc.Arbitrary<Fragment> => {
  const specific = FIELD_VALUES[field];
  return specific
    ? fc.oneof({ weight: 2, arbitrary: specific }, { weight: 1, arbitrary: wrongValue })
    : wrongValue;
};

/** Any JSON value as a whole body. */
const anyJson: fc.Arbitrary<Fragment> = fc.oneof(
  { weight: 3, arbitrary: jsonValue().map(value) },
  { weight: 1, arbitrary: wrongValue },
  { weight: 1, arbitrary: fc.array(wrongValue, { maxLength: 4 }).map((array): Fragment => ({ array })) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.tuple(awkwardString({ maxLength: 6 }), wrongValue), { maxLength: 4 })
      .map((object): Fragment => ({ object })),
  },
);

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/** A request body: a JSON fragment, a JSON fragment cut short, or text that only looks like JSON. */
export type BodySpec =
  | { readonly json: Fragment }
  | { readonly truncated: Fragment; readonly keep: number }
  | { readonly text: string };

export function renderBody(body: BodySpec): string {
  if ('text' in body) return body.text;
  const text = renderFragment('json' in body ? body.json : body.truncated);
  return 'json' in body ? text : text.slice(0, body.keep % Math.max(1, text.length));
}

/** Near-JSON: what a sloppy client or a proxy might send. */
const NEAR_JSON = [
  '',
  ' ',
  '\n',
  '{',
  '[',
  '"',
  '{"a":1,}',
  '[1,,2]',
  "{'a':1}",
  '{a:1}',
  'NaN',
  'Infinity',
  'undefined',
  '\ufeff{}',
  '{"a":1}garbage',
  '{"a":1}{"b":2}',
  '/* comment */ {}',
  '1 2',
  '"unterminated',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":"\\ud800"}',
  '0x10',
  '01',
  '.5',
  '+1',
  '-',
  'nul',
  'tru',
  'id=x&queue=q',
];

const nearJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NEAR_JSON),
  fc.string({ unit: awkwardChar, maxLength: 40 }),
);

export const anyBody = (valid: fc.Arbitrary<Fragment>): fc.Arbitrary<BodySpec> =>
  fc.oneof(
    { weight: 3, arbitrary: anyJson.map((json): BodySpec => ({ json })) },
    { weight: 1, arbitrary: fc.record({ truncated: fc.oneof(valid, anyJson), keep: fc.nat() }) },
    { weight: 2, arbitrary: nearJson.map((text): BodySpec => ({ text })) },
  );

// ---------------------------------------------------------------------------------------------
// Valid bodies, and one-field mutations of them
// ---------------------------------------------------------------------------------------------

/**
 * Names the generators draw from: ones that exist, so requests reach the store. Ids are sometimes
 * new awkward strings; queues are only these, since every queue makes `GET /v1/queues` slower.
 */
export interface Pools {
  readonly queues: readonly string[];
  readonly ids: readonly string[];
  readonly runIds: readonly string[];
}

const from = (known: readonly string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: awkwardString({ minLength: 1, maxLength: 10 }) },
  );

const someJson = jsonValue(2);
const iso = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

/** Entries of an object, leaving out the fields the generator chose to omit. */
function entries(fields: Record<string, fc.JsonValue | undefined>): Fragment {
  return {
    object: Object.entries(fields)
      .filter((e): e is [string, fc.JsonValue] => e[1] !== undefined)
      .map(([k, v]) => [k, value(v)]),
  };
}

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** The body kinds routes read, with the fields each one knows. */
const BODY_FIELDS = {
  'v1-job': ['id', 'queue', 'timeout', 'max_retries', 'payload', 'state', 'run_at'],
  'v1-batch': ['id', 'queue', 'timeout', 'max_retries', 'payload', 'state', 'run_at'],
  'v2-batch': ['queue', 'id', 'timeout', 'max_retries', 'payload', 'state', 'run_at'],
  'v2-requeue': ['queue', 'id', 'timeout', 'max_retries', 'payload', 'state', 'run_at'],
  'native-job': [
    'queue',
    'id',
    'payload',
    'state',
    'timeout',
    'max_retries',
    'priority',
    'run_at',
    'delay',
    'idempotency_key',
    'backoff',
    'type',
    'on_success',
    'on_failure',
  ],
  'managed-job': [
    'queue',
    'id',
    'payload',
    'state',
    'timeout',
    'max_retries',
    'priority',
    'run_at',
    'delay',
    'idempotency_key',
    'backoff',
    'type',
    'on_success',
    'on_failure',
  ],
  fail: ['error', 'run_id', 'retry'],
  'requeue-all': ['limit'],
  state: [],
} as const satisfies Record<string, readonly string[]>;

export type BodyKind = keyof typeof BODY_FIELDS;

const v1Job = (pools: Pools) =>
  fc
    .record({
      id: from(pools.ids),
      queue: fc.constantFrom(...pools.queues),
      timeout: fc.integer({ min: -5, max: 43_200 }),
      max_retries: optional(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      payload: someJson,
      state: optional(someJson),
      run_at: optional(
        fc.oneof(iso, fc.integer({ min: 0, max: 4_000_000_000 }).map(String), fc.constant(null)),
      ),
    })
    .map(entries);

const v2Job = (pools: Pools) =>
  fc
    .record({
      queue: fc.constantFrom(...pools.queues),
      id: from(pools.ids),
      timeout: fc.integer({ min: 0, max: 43_200 }),
      max_retries: optional(fc.oneof(fc.integer({ min: 0, max: 32_767 }), fc.constant(null))),
      payload: someJson,
      state: optional(someJson),
      run_at: optional(fc.oneof(iso, fc.constant(null))),
    })
    .map(entries);

const backoff: fc.Arbitrary<fc.JsonValue> = fc.oneof(
  fc.constantFrom('exponential', 'fixed'),
  fc
    .record(
      {
        strategy: fc.constantFrom('exponential', 'fixed'),
        base_seconds: fc.integer({ min: 1, max: 60 }),
        max_seconds: fc.integer({ min: 60, max: 3_600 }),
        jitter: fc.constantFrom('full', 'equal', 'decorrelated', 'none'),
      },
      { requiredKeys: [] },
    )
    .map((b) => ({ ...b })),
);

const nativeJob = (pools: Pools) =>
  fc
    .record({
      queue: optional(fc.constantFrom(...pools.queues)),
      id: optional(from(pools.ids)),
      payload: someJson,
      state: optional(someJson),
      timeout: optional(fc.integer({ min: 1, max: 43_200 })),
      max_retries: optional(fc.oneof(fc.integer({ min: -3, max: 10 }), fc.constant(null))),
      priority: optional(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      when: optional(
        fc.oneof(
          iso.map((run_at) => ({ run_at })),
          fc.integer({ min: 0, max: 365 * 86_400 }).map((delay) => ({ delay })),
        ),
      ),
      idempotency_key: optional(awkwardString({ minLength: 1, maxLength: 16 })),
      backoff: optional(backoff),
      on_success: optional(fc.record({ payload: someJson })),
    })
    .map(({ when, ...job }) => entries({ ...job, ...when }));

/** A command payload: nothing runs it in these tests, so it only has to be valid. */
const command: fc.Arbitrary<fc.JsonValue> = fc
  .record(
    {
      command: fc.constantFrom('true', 'echo', '/bin/sh'),
      args: fc.array(
        awkwardString({ maxLength: 12 }).filter((a) => !a.includes('\0')),
        { maxLength: 3 },
      ),
      timeout: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.constantFrom('30s', '5m', '1h30m')),
      runtime: fc.constantFrom('lambda', 'fargate'),
    },
    { requiredKeys: ['command'] },
  )
  .filter((c) => !(c.runtime === 'lambda' && c.timeout === '1h30m'))
  .map((c) => ({ ...c }));

const managedJob = (pools: Pools) =>
  fc
    .record({
      queue: optional(fc.constantFrom(...pools.queues)),
      id: optional(from(pools.ids)),
      payload: command,
      timeout: optional(fc.integer({ min: 1, max: 43_200 })),
      max_retries: optional(fc.oneof(fc.integer({ min: -3, max: 10 }), fc.constant(null))),
      priority: optional(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      backoff: optional(backoff),
      on_success: optional(fc.record({ payload: someJson })),
    })
    .map(entries);

/** A valid body for each kind, naming jobs from the pools. */
export function validBody(kind: BodyKind, pools: Pools): fc.Arbitrary<Fragment> {
  const batch = (job: fc.Arbitrary<Fragment>, maxLength: number) =>
    fc.array(job, { maxLength }).map((array): Fragment => ({ array }));
  switch (kind) {
    case 'v1-job':
      return v1Job(pools);
    case 'v1-batch':
      return batch(v1Job(pools), 4);
    case 'v2-batch':
    case 'v2-requeue':
      return batch(v2Job(pools), 4);
    case 'native-job':
      return nativeJob(pools);
    case 'managed-job':
      return managedJob(pools);
    case 'fail':
      return fc
        .record({
          error: awkwardString({ maxLength: 40 }),
          run_id: optional(fc.constantFrom(...pools.runIds)),
          retry: optional(fc.boolean()),
        })
        .map(entries);
    case 'requeue-all':
      return fc.record({ limit: optional(fc.integer({ min: 1, max: 1_000 })) }).map(entries);
    case 'state':
      return fc.oneof(someJson.map(value), fc.constant<Fragment>({ raw: '' }));
  }
}

/** A valid body of each kind, naming one new job in `queue`: what known cases change. */
export function exampleBody(kind: BodyKind, queue: string, id: string): Fragment {
  const job = (fields: Record<string, fc.JsonValue>) => entries({ queue, id, ...fields });
  switch (kind) {
    case 'v1-job':
      return job({ timeout: 30, payload: { n: 1 } });
    case 'v1-batch':
      return { array: [job({ timeout: 30, payload: { n: 1 } })] };
    case 'v2-batch':
    case 'v2-requeue':
      return { array: [job({ timeout: 30, max_retries: 3, payload: { n: 1 } })] };
    case 'native-job':
      return job({ payload: { n: 1 } });
    case 'managed-job':
      return job({ payload: { command: 'echo', args: ['hi'] } });
    case 'fail':
      return entries({ error: 'boom' });
    case 'requeue-all':
      return entries({ limit: 10 });
    case 'state':
      return value({ step: 1 });
  }
}

/** Whole bodies that once broke the API, for every route that reads a body. */
export const KNOWN_BODIES: readonly { readonly what: string; readonly body: BodySpec }[] = [
  { what: 'a body nested 10,000 deep', body: { json: { nested: '[', depth: 10_000 } } },
  {
    what: 'a body holding a chain of 1,000 on_success jobs',
    body: { json: { nested: 'on_success', depth: 1_000 } },
  },
];

/**
 * One-field changes that once broke the API, for each kind of body that has the field, with the
 * status they must get where it is not simply "not a 5xx".
 */
export function knownMutations(
  kind: BodyKind,
): { readonly what: string; readonly mutation: Mutation; readonly status?: number }[] {
  const fields: readonly string[] = BODY_FIELDS[kind];
  const cases: [field: string, what: string, value: Fragment, status?: number][] = [
    // A lone surrogate has no UTF-8 encoding: stored, it would collide with U+FFFD (422, README).
    ['queue', 'a queue holding a lone surrogate', value('\ud800'), 422],
    ['id', 'an id holding a lone surrogate', value('a\udc00'), 422],
    ['idempotency_key', 'an idempotency key holding a lone surrogate', value('\ud800'), 422],
    ['payload', 'a payload nested 10,000 deep', { nested: '[', depth: 10_000 }],
    ['state', 'a state nested 10,000 deep', { nested: '{', depth: 10_000 }],
    ['on_success', 'an on_success chain 1,000 deep', { nested: 'on_success', depth: 1_000 }],
    ['on_failure', 'an on_failure chain 1,000 deep', { nested: 'on_success', depth: 1_000 }],
  ];
  if (kind.startsWith('v1')) {
    // relay-rs v1 reads a numeral as unix seconds.
    cases.push(['run_at', "a run_at in unix seconds past the end of Date's range", value('8640000000001')]);
    cases.push(['run_at', 'a run_at in unix seconds of 401 digits', value(`1${'0'.repeat(400)}`)]);
  }
  return cases
    .filter(([field]) => fields.includes(field))
    .map(([field, what, v, status]) => ({
      what,
      status,
      mutation: { job: 0, field, change: 'set', value: v },
    }));
}

/** One change to one field of a valid body (of one job, in a batch). */
export interface Mutation {
  readonly job: number;
  readonly field: string;
  readonly change: 'set' | 'drop' | 'set-then-valid' | 'valid-then-set';
  readonly value: Fragment;
}

export const mutation = (kind: BodyKind): fc.Arbitrary<Mutation> =>
  fc.constantFrom<string>(...BODY_FIELDS[kind], 'persist_data', '').chain((field) =>
    fc.record({
      job: fc.nat(),
      field: fc.constant(field),
      change: fc.constantFrom('set', 'set', 'drop', 'set-then-valid', 'valid-then-set'),
      value: wrongValueFor(field),
    }),
  );

/**
 * Applies a mutation. In a batch it changes one job; a body that is not an object becomes the
 * wrong value itself. `set-then-valid` writes the key twice with the valid value last, which
 * JSON.parse keeps; `valid-then-set` writes the wrong value last.
 */
export function mutate(body: Fragment, m: Mutation): Fragment {
  if ('array' in body) {
    if (!body.array.length) return { array: [m.value] };
    const at = m.job % body.array.length;
    return { array: body.array.map((job, i) => (i === at ? mutate(job, m) : job)) };
  }
  if (!('object' in body)) return m.value;
  const fields = body.object;
  const at = fields.findIndex(([k]) => k === m.field);
  const original = fields[at];
  const wrong: Entry = [m.field, m.value];
  switch (m.change) {
    case 'drop':
      return { object: fields.filter((_, i) => i !== at) };
    case 'set':
      return { object: at === -1 ? [...fields, wrong] : fields.map((f, i) => (i === at ? wrong : f)) };
    case 'set-then-valid':
      return { object: original ? [...fields.slice(0, at), wrong, ...fields.slice(at)] : [...fields, wrong] };
    case 'valid-then-set':
      return { object: [...fields, wrong] };
  }
}

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

/** Name/value pairs (percent-encoded when rendered, repeats allowed) and raw text appended as is. */
export interface QuerySpec {
  readonly pairs: readonly (readonly [string, string])[];
  readonly raw: string;
}

export function renderQuery(q: QuerySpec): string {
  const parts = [
    ...q.pairs.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`),
    ...(q.raw ? [q.raw] : []),
  ];
  return parts.length ? `?${parts.join('&')}` : '';
}

const numeral = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '-1',
    '10',
    '100',
    '101',
    '1000',
    '1001',
    '1.5',
    '1e2',
    '1e400',
    'NaN',
    'Infinity',
    '0x10',
    '00',
    ' 1',
    '1 ',
    '+1',
    '\u0661',
    '9007199254740993',
    '9'.repeat(400),
    '',
  ),
  fc.integer().map(String),
  fc.double().map(String),
);

/** A cursor as the API writes them (base64url of a boundary key). */
export const cursorOf = (boundary: string): string => Buffer.from(boundary, 'utf8').toString('base64url');

/** Cursors that decode cleanly but hold no boundary the API wrote: short, malformed, overlong. */
const cursorLike: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: awkwardChar, minLength: 1, maxLength: 20 }),
    fc.constantFrom('q', 'foo#bar', 'run#1', 'run#-1', '#1', 'x'.repeat(1_100), `${'r'.repeat(1_100)}#1`),
  )
  .map(cursorOf);

/** Query values: numerals of every kind, enum look-alikes, cursors, awkward and overlong text. */
export const queryValue: fc.Arbitrary<string> = fc.oneof(
  numeral,
  fc.constantFrom('pending', 'scheduled', 'dead', 'done', 'ignore', 'replace', 'unique', 'IGNORE', 'q', 'x'),
  fc.constantFrom('AA', 'cQ==', '_-_-', '%', '///', 'x'.repeat(1_010), 'x'.repeat(2_000)),
  cursorLike,
  awkwardString({ maxLength: 20 }),
);

/** Raw text for the query string: malformed escapes, empty pairs, separators. */
const rawQuery = fc.constantFrom(
  '',
  '',
  '',
  '&',
  '&&',
  '=',
  '==',
  '%',
  '%ZZ',
  '%00',
  '%ED%A0%80',
  '%FF',
  // Values whose escapes are not UTF-8: read lossily they would name a queue of U+FFFD.
  'queue=%ED%A0%80',
  'job_id=%FF',
  'limit=%C0%AF',
  'a[]=1',
  ';',
  '+=+',
  'num_jobs',
  'limit',
);

/** Pairs named mostly after the route's own parameters, then other routes' ones, then anything. */
export const anyQuery = (own: readonly string[], others: readonly string[]): fc.Arbitrary<QuerySpec> =>
  fc.record({
    pairs: fc.array(
      fc.tuple(
        fc.oneof(
          { weight: own.length ? 3 : 0, arbitrary: fc.constantFrom(...own, 'unknown') },
          { weight: 1, arbitrary: fc.constantFrom(...others, 'unknown') },
          { weight: 1, arbitrary: awkwardString({ maxLength: 8 }) },
        ),
        queryValue,
      ),
      { maxLength: 4 },
    ),
    raw: rawQuery,
  });

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/** A path segment: `value` is percent-encoded when rendered, `raw` is sent as is. */
export type Segment = { readonly value: string } | { readonly raw: string };

/** Segments that are hard to route: dot segments, encoded slashes, malformed or overlong escapes. */
const RAW_SEGMENTS = [
  '',
  '.',
  '..',
  '%2E%2E',
  '%',
  '%Z',
  '%ZZ',
  '%2F',
  'a%2Fb',
  '%00',
  '%25',
  '%ED%A0%80',
  '%C0%AF',
  '%F0%9F%98',
  '%FF',
  "'",
  '*',
  ';',
  '@',
  ':',
  '$',
  '(x)',
];

export const segment = (known: readonly string[]): fc.Arbitrary<Segment> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known).map((value): Segment => ({ value })) },
    {
      weight: 2,
      arbitrary: awkwardString({ minLength: 1, maxLength: 12 })
        .filter((s) => !hasLoneSurrogate(s))
        .map((value): Segment => ({ value })),
    },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw): Segment => ({ raw })) },
    {
      weight: 1,
      // 1,000 to 1,100 bytes of UTF-8, around the 1,024-byte limit on names.
      arbitrary: fc
        .tuple(fc.constantFrom('x', '\u00e9', '\u{1f642}'), fc.integer({ min: 1_000, max: 1_100 }))
        .map(([c, bytes]): Segment => ({ value: c.repeat(Math.ceil(bytes / Buffer.byteLength(c))) })),
    },
  );

/** How a path is bent after its parameters are filled in. */
export const PATH_TWISTS = [
  'none',
  'trailing-slash',
  'double-slash',
  'dot-segment',
  'dot-dot-segment',
  'upper-case',
  'encoded-literal',
] as const;
export type PathTwist = (typeof PATH_TWISTS)[number];

export const renderSegment = (s: Segment): string => ('raw' in s ? s.raw : percentEncode(s.value));

/** Fills a route template and applies a twist. */
export function renderPath(
  template: string,
  params: Readonly<Record<string, Segment>>,
  twist: PathTwist,
): string {
  const pieces = template
    .split('/')
    .slice(1)
    .map((piece) => {
      const name = /^\{(\w+)\}$/.exec(piece)?.[1];
      if (name === undefined) return { literal: true, text: piece };
      const param = params[name];
      return { literal: false, text: param ? renderSegment(param) : 'x' };
    });
  const join = (ps: { text: string }[]) => `/${ps.map((p) => p.text).join('/')}`;
  switch (twist) {
    case 'none':
      return join(pieces);
    case 'trailing-slash':
      return `${join(pieces)}/`;
    case 'double-slash':
      return join(pieces).replace(/\/(?=[^/]*$)/, '//');
    case 'dot-segment':
      return join([pieces[0] ?? { text: '' }, { text: '.' }, ...pieces.slice(1)]);
    case 'dot-dot-segment':
      return join([pieces[0] ?? { text: '' }, { text: 'x' }, { text: '..' }, ...pieces.slice(1)]);
    case 'upper-case':
      return join(pieces.map((p) => (p.literal ? { text: p.text.toUpperCase() } : p)));
    case 'encoded-literal':
      return join(
        pieces.map((p, i) =>
          i === 0 && p.text ? { text: `${forceEncode(p.text[0] ?? '')}${p.text.slice(1)}` } : p,
        ),
      );
  }
}

/** Percent-encodes an ASCII character that needs no encoding (`v` → `%76`). */
function forceEncode(c: string): string {
  return `%${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

/** Content types a client might send for JSON, and ones that are not JSON at all. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      ' application/json ',
      'application/json;',
      'application/json; charset=latin1',
      'application/vnd.api+json',
      'application/problem+json',
      'application/+json',
      'application/jsonx',
      'application/json-seq',
      'text/json',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
      ';',
      'json',
    ),
  },
);

/** Header values node accepts: tab, visible ASCII and Latin-1. */
const headerChar = fc
  .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09))
  .map((c) => String.fromCharCode(c));

const HEADER_NAMES = [
  'accept',
  'accept-encoding',
  'accept-charset',
  'authorization',
  'content-encoding',
  'content-language',
  'cookie',
  'if-match',
  'origin',
  'range',
  'referer',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-http-method-override',
  'x-amz-date',
  'x-amzn-trace-id',
  'x-request-id',
];

/**
 * Extra headers, with repeats, and at most one long value: node's server refuses more than 16 KiB
 * of headers (431) before any handler runs, so values stay well under that.
 */
export const anyHeaders: fc.Arbitrary<readonly (readonly [string, string])[]> = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.stringMatching(/^x-[a-z0-9-]{1,16}$/)),
        fc.oneof(
          fc.string({ unit: headerChar, maxLength: 60 }),
          fc.constantFrom('gzip', 'DELETE', 'bytes=0-1', 'Bearer x', 'application/json', '*/*', 'utf-8'),
        ),
      ),
      { maxLength: 6 },
    ),
    fc.option(
      fc.tuple(
        fc.constantFrom('x-long', 'cookie', 'user-agent', 'authorization'),
        fc.integer({ min: 1_000, max: 8_000 }),
      ),
      { nil: undefined },
    ),
  )
  .map(([headers, long]) => (long ? [...headers, [long[0], 'h'.repeat(long[1])] as const] : headers));
