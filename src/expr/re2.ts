import { RE2JS } from "@bufbuild/re2";

/**
 * Most code units of a pattern's source, checked before RE2 compiles it: compiling costs time and
 * memory in proportion to the program, which a counted repeat (`x{1000}`) makes far larger than
 * the source, so the source is bounded first and the program after (MAX_PATTERN_INSTRUCTIONS).
 */
export const MAX_PATTERN_LENGTH = 10_000;

/**
 * Most instructions of a compiled pattern's RE2 program (`\S` is 3, `(?i)\byes\b` 7, `a{1000}`
 * 1,002). RE2 itself bounds programs by memory (8 MiB by default); RE2JS, pure JavaScript,
 * steps an instruction about ten times slower, hence a smaller bound.
 */
export const MAX_PATTERN_INSTRUCTIONS = 10_000;

/**
 * Most work of one match: program instructions times code units of the input (2^26). RE2's DFA
 * and its NFA fallback both cost at most a constant times that product; at the slowest measured
 * (about 25 million units a second, a DFA that keeps exploding) the budget is a few seconds, and
 * the usual patterns run far below it. `(?i)\byes\b` may scan about 9.5 million characters.
 */
export const MAX_MATCH_WORK = 2 ** 26;

/** A pattern over {@link MAX_PATTERN_LENGTH} or {@link MAX_PATTERN_INSTRUCTIONS}. */
export class PatternTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternTooLargeError";
  }
}

/** A match whose work (instructions times input length) is over the pattern's budget: not run. */
export class PatternBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternBudgetError";
  }
}

/** A compiled user pattern: linear-time matching, so no pattern can hang the gate. */
export interface Pattern {
  readonly source: string;
  /** Instructions of the RE2 program: the work of one input character. */
  readonly instructions: number;
  /**
   * Whether the pattern occurs in `text`.
   * @throws PatternBudgetError when instructions times `text.length` is over the budget.
   */
  test(text: string): boolean;
}

/** The start of a pattern for messages: patterns come from the policy, but may be long. */
function shortSource(source: string): string {
  return source.length > 40 ? `${source.slice(0, 40)}…` : source;
}

/**
 * Compiles a user-supplied regular expression with RE2 syntax (the RE2JS engine of
 * `@bufbuild/re2`, the one `@bufbuild/cel` uses). Never JavaScript RegExp: RE2 has no
 * backtracking, so matching time is linear in the input, and every match is refused beforehand
 * when the program's size times the input's length is over `maxWork`.
 * @param maxWork budget of one match in instructions times code units (default MAX_MATCH_WORK);
 *   Infinity for patterns made by proof itself whose input is bounded otherwise.
 * @throws PatternTooLargeError over MAX_PATTERN_LENGTH or MAX_PATTERN_INSTRUCTIONS; Error with
 *   RE2's own message (e.g. "missing closing )") when the pattern is invalid.
 */
export function compilePattern(source: string, maxWork: number = MAX_MATCH_WORK): Pattern {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new PatternTooLargeError(
      `pattern is ${source.length} characters long, over the limit of ${MAX_PATTERN_LENGTH}`,
    );
  }
  const re = new RE2JS(source);
  const instructions = re.re2().prog.numInst();
  if (instructions > MAX_PATTERN_INSTRUCTIONS) {
    throw new PatternTooLargeError(
      `pattern compiles to ${instructions} RE2 instructions, over the limit of ${MAX_PATTERN_INSTRUCTIONS}`,
    );
  }
  const required = prefilterOf(re);
  return {
    source,
    instructions,
    test(text: string): boolean {
      const work = instructions * text.length;
      if (work > maxWork) {
        throw new PatternBudgetError(
          `pattern '${shortSource(source)}' (${instructions} instructions) on ${text.length} characters ` +
            `is ${work} units of work, over the match budget of ${maxWork}: not run`,
        );
      }
      if (required && !required(text)) return false;
      return re.test(text);
    },
  };
}

/**
 * The prefilter {@link compilePattern} puts in front of a pattern (see {@link requiredRun}), or
 * undefined when it has none: exported for tests, which check that it never refuses a text RE2
 * matches.
 */
export function prefilterOf(re: RE2JS): ((text: string) => boolean) | undefined {
  return requiredRun(re.re2().prog as unknown as Prog);
}

/** The parts of RE2JS's compiled program that {@link requiredRun} reads (not exported as types). */
interface Inst {
  op: number;
  out: number;
  arg: number;
  matchRune(rune: number): boolean;
}
interface Prog {
  start: number;
  inst: Inst[];
}

/** Largest program analysed for a prefilter: the analysis is quadratic in its size. */
const MAX_PREFILTER_INSTRUCTIONS = 256;
/** Longest run of required code points a prefilter checks. */
const MAX_RUN = 8;

/**
 * A prefilter from RE2's own program: the longest run of consecutive character instructions
 * that every match passes through (`(?i)\byes\b` gives y, e, s, each case-folded as RE2 folds
 * it), as a test that is false only for a text that holds no such run of code points, which
 * therefore cannot match. RE2JS prefilters plain literals itself but leaves case-folded ones out,
 * and its DFA costs far more per character than this scan. Each instruction decides membership
 * with its own `matchRune`, so case folding and classes are RE2's.
 * @returns undefined when the program has no such run worth testing (a lone broad class such as
 *   `\S`), is too large to analyse, or is not shaped as expected.
 */
function requiredRun(prog: Prog): ((text: string) => boolean) | undefined {
  const insts = prog.inst;
  const kind = (insts[0] as { constructor?: Record<string, unknown> } | undefined)?.constructor;
  const op = (name: string): number | undefined =>
    typeof kind?.[name] === "number" ? (kind[name] as number) : undefined;
  const [ALT, ALT_MATCH, CAPTURE, EMPTY_WIDTH, NOP, MATCH, FAIL, RUNE, RUNE1] = [
    "ALT",
    "ALT_MATCH",
    "CAPTURE",
    "EMPTY_WIDTH",
    "NOP",
    "MATCH",
    "FAIL",
    "RUNE",
    "RUNE1",
  ].map(op);
  if ([ALT, ALT_MATCH, CAPTURE, EMPTY_WIDTH, NOP, MATCH, FAIL, RUNE, RUNE1].includes(undefined))
    return undefined;
  if (insts.length > MAX_PREFILTER_INSTRUCTIONS) return undefined;
  const isRune = (i: Inst) => i.op === RUNE || i.op === RUNE1;
  const next = (pc: number): number[] => {
    const i = insts[pc] as Inst;
    if (i.op === ALT || i.op === ALT_MATCH) return [i.out, i.arg];
    if (i.op === MATCH || i.op === FAIL) return [];
    return [i.out];
  };
  // Whether some path from the start reaches MATCH without passing instruction `skip`.
  const matchesWithout = (skip: number): boolean => {
    const seen = new Uint8Array(insts.length);
    const stack = [prog.start];
    while (stack.length > 0) {
      const pc = stack.pop() as number;
      if (pc === skip || pc < 0 || pc >= insts.length || seen[pc] === 1) continue;
      seen[pc] = 1;
      if ((insts[pc] as Inst).op === MATCH) return true;
      stack.push(...next(pc));
    }
    return false;
  };
  // The next character instruction after `pc` on the only path from it, if there is one.
  const following = (pc: number): number | undefined => {
    let at = (insts[pc] as Inst).out;
    for (let steps = 0; steps < insts.length; steps++) {
      const i = insts[at];
      if (!i) return undefined;
      if (isRune(i)) return at;
      if (i.op !== NOP && i.op !== CAPTURE && i.op !== EMPTY_WIDTH) return undefined;
      at = i.out;
    }
    return undefined;
  };
  let best: number[] = [];
  for (const [pc, i] of insts.entries()) {
    if (!isRune(i) || matchesWithout(pc)) continue;
    // Every match passes `pc`, and from it the path to the next character instructions does not
    // branch: those are required too, right after it.
    const run = [pc];
    for (let n = following(pc); n !== undefined && run.length < MAX_RUN; n = following(n)) run.push(n);
    if (run.length > best.length) best = run;
  }
  if (best.length === 0) return undefined;
  const members = best.map((pc) => {
    const i = insts[pc] as Inst;
    const ascii = new Uint8Array(128);
    for (let c = 0; c < 128; c++) ascii[c] = i.matchRune(c) ? 1 : 0;
    return { ascii, inst: i };
  });
  // A single broad class (`\S`, `.`) lets nearly every text through: not worth a pass.
  const first = members[0] as (typeof members)[number];
  if (best.length === 1 && first.ascii.reduce((a, b) => a + b, 0) > 16) return undefined;
  const has = (m: (typeof members)[number], cp: number) =>
    cp < 128 ? m.ascii[cp] === 1 : m.inst.matchRune(cp);
  return (text) => {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 128 && first.ascii[c] === 0) continue;
      let at = i;
      let all = true;
      for (const m of members) {
        const cp = text.codePointAt(at);
        if (cp === undefined || !has(m, cp)) {
          all = false;
          break;
        }
        at += cp > 0xffff ? 2 : 1;
      }
      if (all) return true;
    }
    return false;
  };
}

/** Escapes RE2 metacharacters so a literal string matches itself. */
export function quoteMeta(literal: string): string {
  return literal.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/**
 * Constructs of other regular expression dialects (PCRE, JavaScript, Java) that RE2 refuses
 * because they cannot run in linear time, with the sign that starts each.
 */
const UNSUPPORTED: readonly { test: RegExp; name: string }[] = [
  { test: /^\(\?=/, name: "lookahead '(?=...)'" },
  { test: /^\(\?!/, name: "negative lookahead '(?!...)'" },
  { test: /^\(\?<=/, name: "lookbehind '(?<=...)'" },
  { test: /^\(\?<!/, name: "negative lookbehind '(?<!...)'" },
  { test: /^\(\?>/, name: "atomic group '(?>...)'" },
  { test: /^\(\?\(/, name: "conditional '(?(...)...)'" },
  { test: /^\(\?(?:R|[+-]?\d)\)/, name: "recursion '(?R)'" },
  { test: /^\\[1-9]/, name: "backreference '\\1'" },
  { test: /^\\k[<{']/, name: "named backreference '\\k<name>'" },
  { test: /^\\g[{<'\d-]/, name: "backreference '\\g{...}'" },
  { test: /^[*+?}]\+/, name: "possessive quantifier ('*+', '++', '?+', '{n}+')" },
  { test: /^\\[GZ]/, name: "anchor '\\G' or '\\Z'" },
];

/**
 * Names the first construct of `source` that RE2 does not support (lookaround, backreferences,
 * atomic groups, possessive quantifiers, recursion, conditionals), for the hint of an invalid
 * pattern; escaped characters and character classes are skipped, so `\(?=` and `[(?=]` are not
 * taken for one. Only a guess from the text: call it once RE2 has refused the pattern.
 * @returns a hint such as "RE2 has no lookahead '(?=...)': ...", or undefined when none is found.
 */
export function unsupportedSyntaxHint(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const rest = source.slice(i, i + 8);
    if (!inClass) {
      const found = UNSUPPORTED.find((u) => u.test.test(rest));
      if (found !== undefined) {
        return (
          `RE2 has no ${found.name}: it matches in linear time, so it leaves out what needs ` +
          "backtracking; match without it (several matchers on one argument, or a CEL condition)"
        );
      }
    }
    if (c === "\\") i++;
    else if (c === "[" && !inClass) {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal member, not the end of the class.
      if (source[i + 1] === "^") i++;
      if (source[i + 1] === "]") i++;
    } else if (c === "]" && inClass) inClass = false;
  }
  return undefined;
}
