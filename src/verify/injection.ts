import { compilePattern, type Pattern } from "../expr/re2.js";
import { INJECTION_DETECTOR } from "../policy/injection-version.js";

export { INJECTION_DETECTOR };

/**
 * One rule of the injection detector: RE2 patterns (any one matching fires the rule) and why the
 * rule exists. docs/policy.md ("Injected content") documents every rule; a change to any pattern
 * must change {@link INJECTION_DETECTOR}.
 */
export interface InjectionRule {
  id: string;
  patterns: readonly string[];
}

/** Words that name an AI model or agent, and nothing a person is usually called. */
const AI = String.raw`(?:ai|a\.i\.|llm|llms|large language models?|language models?|chat\s?bots?|gpt(?:-?\d[\w.-]*)?|chatgpt|gemini|copilot|(?:ai|virtual|digital|autonomous)\s+(?:assistants?|agents?|models?|systems?)|ai\s+model\s+developed\s+by\s+\w+)`;
/** The same, and the generic names an agent is given (`assistant`, `agent`, `model`, `bot`). */
const AGENT = `(?:${AI}|assistants?|agents?|models?|bots?|claude|llama|mistral)`;
/**
 * What a system prompt or a user calls what the agent was told to do. `i\w?nstruct` takes the
 * misspelling "iunstructions" of a well-known template, never "construction" or "structure".
 */
const ORDERS = String.raw`(?:\w*instr\w*|i\w?nstruct\w*|prompts?|directions?|directives?|rules|guidelines|commands|orders|guidance|programming|constraints|safeguards|policies)`;
const EARLIER =
  "(?:previous|prior|earlier|above|preceding|former|original|initial|old|existing|current|system|given|other|default)";

/**
 * The rules, in the order evidence lists them. Every pattern is matched case-insensitively and
 * with `^`/`$` at line boundaries, within one paragraph of one text (see detectInjection).
 */
export const INJECTION_RULES: readonly InjectionRule[] = [
  {
    // Overriding the agent's instructions is what an injection is for; a person writing to a
    // person says "my previous email", never "all previous instructions" or "your instructions".
    id: "override",
    patterns: [
      String.raw`\b(?:ignore|disregard|forget|override|bypass|neglect)\s+(?:(?:all|any|every)\s+(?:of\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+|prior\s+|previous\s+)?|your\s+|the\s+(?:above|system|prior)\s+)(?:${EARLIER}\s+)*${ORDERS}\b`,
      String.raw`\b(?:ignore|disregard|forget|override|bypass)\s+(?:${EARLIER}\s+)+${ORDERS}\b`,
      String.raw`\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:above|before\s+this|you\s+(?:were|have\s+been)\s+told)\b`,
      String.raw`\b(?:ignore|disregard)\s+(?:all\s+)?(?:of\s+)?(?:the\s+)?above\s+and\s+(?:instead|now)\b`,
      String.raw`\b(?:do\s+not|don't|stop)\s+(?:follow|obey)(?:ing)?\s+(?:the\s+user'?s?|your)\s+(?:${EARLIER}\s+)*${ORDERS}\b`,
      String.raw`\byour\s+(?:new|real|actual|true|updated|revised)\s+(?:instructions|directives|objective|mission|system\s+prompt|orders)\b`,
      String.raw`\byour\s+(?:new\s+|only\s+|real\s+)?task\s+(?:is\s+now|now\s+is|has\s+changed)\b`,
      String.raw`\b(?:these|this|the\s+following)\s+(?:instructions?|message|directives?)\s+(?:take|takes|has|have)\s+(?:priority|precedence)\b`,
      String.raw`\b(?:these|this|the\s+following)\s+(?:instructions?|directives?)\s+(?:supersede|override|replace)s?\b`,
      String.raw`\b(?:developer|jailbreak|dan|god|unrestricted|debug|admin)\s+mode\s+(?:is\s+)?(?:enabled|activated|on|unlocked)\b`,
    ],
  },
  {
    // Text addressed to the reader as an AI: people are not called "AI model" or "GPT-4". The
    // vocative forms ("to you, X", "Dear X", "if you are an AI") are what separate a message to
    // the agent from text that merely mentions AI.
    id: "agent_address",
    patterns: [
      String.raw`\bto\s+you\s*,\s*(?:the\s+|an?\s+|our\s+|my\s+)?${AGENT}\b`,
      String.raw`(?:^|[.!?:;]\s*)(?:dear|hey|hi|hello|attention|attn|note\s+to|message\s+to|instructions?\s+(?:to|for))[\s,:]+(?:the\s+|an?\s+|any\s+|all\s+)?${AI}\b`,
      String.raw`\b(?:message|note|instructions?|request|reminder)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:ai|llm|language\s+model|chat\s?bot|(?:ai\s+)?(?:assistant|agent))s?\s*(?:[:,.!]|reading|processing)`,
      String.raw`\bif\s+you\s+(?:are|'re)\s+(?:an?\s+)?(?:ai|llm|language\s+model|large\s+language\s+model|chat\s?bot|bot|automated\s+\w+|(?:ai|virtual)\s+(?:assistant|agent))\b`,
      String.raw`\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:helpful\s+|ai\s+|large\s+)+(?:language\s+model|assistant|agent|model)\b`,
      String.raw`\b${AI}\s+(?:reading|processing|summari[sz]ing|parsing|reviewing|seeing)\s+(?:this|these)\b`,
      String.raw`\b(?:ai|llm|language\s+model)s?\s*(?:agents?|assistants?|models?|crawlers?)?\s+(?:must|should|are\s+(?:required|instructed)\s+to|need\s+to)\s+(?:now\s+|immediately\s+|also\s+)?(?:ignore|send|forward|transfer|say|tell|reply|respond|visit|click|call|execute|run|delete|email|post|invite|share)\b`,
      String.raw`\bwhen\s+(?:you\s+)?(?:are\s+)?summari[sz](?:e|ing)\s+(?:this|the\s+(?:above|following))\b`,
      String.raw`\b(?:do\s+not|don't)\s+summari[sz]e\s+(?:this|the\s+(?:above|following))\b`,
      String.raw`\bthe\s+(?:ai|assistant|model|chat\s?bot|llm)\s+(?:must|should|needs\s+to|has\s+to)\s+(?:now|immediately|also|first)\s+`,
      String.raw`\bas\s+an?\s+(?:ai|llm|(?:ai\s+)?(?:large\s+)?language\s+model)(?:\s+(?:assistant|model|agent))?\s*,\s*you\b`,
      String.raw`(?:^|[.!?]\s+)(?:ai|assistant|ai\s+assistant|ai\s+agent|chat\s?bot)\s*[,:]\s*(?:please\s+)?(?:ignore|send|forward|transfer|delete|email|post|share|invite|visit|open|click|call|reply|respond|tell|say|book|reserve|create|update|change)\b`,
      String.raw`<!--[^>]{0,200}?\b(?:ai|llm|assistant|agent|model|gpt|claude|gemini)s?\b`,
    ],
  },
  {
    // A precondition or detour inside the agent's task ("before you can solve the task", "then
    // return to your original task"): only an agent has a task that a stranger's text can refer
    // to. A person's deadline talks about the meeting or the form, not "the task I gave you".
    id: "task_hijack",
    patterns: [
      String.raw`\bbefore\s+(?:you\s+(?:can\s+|could\s+|may\s+)?)?(?:solv|complet|continu|proceed|finish|answer|respond|repl|fulfil|execut|address)\w*\s+(?:with\s+|to\s+|on\s+)?(?:the\s+user'?s?|your|my|the\s+(?:original|initial|current|actual))\s+(?:\w+\s+)?(?:task|request|query|question|instructions?|prompt|goal|objective)s?\b`,
      String.raw`\bbefore\s+you\s+(?:can\s+)?(?:solve|complete|finish|continue|answer)\s+the\s+(?:task|request|query|question)\s+(?:that|which|i|you)\b`,
      String.raw`\b(?:task|request|instructions?|question|query)\s+(?:that\s+)?(?:i|the\s+user|your\s+user|they)\s+(?:gave|assigned|asked|sent|provided|issued)\s+(?:you|to\s+you)\s+(?:in\s+the\s+beginning|at\s+the\s+(?:start|beginning)|originally|initially|before|first)\b`,
      String.raw`\b(?:solve|complete|continue(?:\s+with)?|resume|return\s+to|go\s+back\s+to|proceed\s+with|finish|get\s+back\s+to)\s+(?:the|your)\s+(?:original|initial|actual|real|main|primary|previous|user'?s?)\s+(?:task|request|query|instructions?|objective|goal|assignment)\b`,
      String.raw`\binstead\s+of\s+(?:doing\s+|following\s+|completing\s+|solving\s+)?(?:the|your)\s+(?:original\s+|initial\s+|current\s+|user'?s?\s+)(?:task|request|instructions?)\b`,
      String.raw`\bdo\s+the\s+following\s+(?:\w+\s+)?(?:first|immediately|right\s+now)\b`,
    ],
  },
  {
    // Hiding the action from the user is never asked of a person reading their own mail; it is
    // asked of an agent acting for someone else. ("the user's" is left out: "never reveal the
    // user's password" is ordinary advice.)
    id: "concealment",
    patterns: [
      String.raw`\b(?:do\s+not|don't|never|no\s+need\s+to)\s+(?:tell|inform|notify|alert|mention\s+(?:this|it|anything)\s+to|let|ask|consult|confirm\s+with|check\s+with|bother)\s+(?:(?:this|it|that|anything)\s+(?:to\s+)?)?(?:the\s+user|your\s+user|the\s+human|the\s+operator)(?:\s|[.,;:!?)]|$)`,
      String.raw`\b(?:the\s+user|your\s+user)\s+(?:must|should|need|needs|will)\s+(?:not|never)\s+(?:know|see|find\s+out|be\s+told|notice)\b`,
    ],
  },
  {
    // Chat-template tokens and fake turns or headers: text that pretends to be the system, the
    // developer or the user so that the model takes data for a message of the conversation.
    id: "role_marker",
    patterns: [
      String.raw`<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\|>`,
      String.raw`\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>`,
      "</?(?:system|system[_-]?prompt|system[_-]?message|sys)>",
      String.raw`\b(?:system|developer|admin)[ _-]?(?:message|prompt|instructions?|override|command)\s*[:)\]]`,
      String.raw`(?:^|\n)\s*(?:#{1,6}|\[|\(|\*\*)\s*(?:system|developer|assistant)(?:[ _-]?(?:message|prompt|instructions?|override|note))?\s*(?:\]|\)|:|\*\*)`,
      String.raw`(?:^|\n)\s*human\s*:`,
      String.raw`(?:^|\n)\s*(?-i:SYSTEM|ASSISTANT|DEVELOPER)\s*:`,
      String.raw`(?:^|\n)\s*system\s*:\s*(?:you\b|ignore\b|from\s+now\b|new\s+(?:rules?|instructions?)\b|the\s+user\b)`,
      String.raw`(?:^|\n)\s*(?:assistant|ai)\s*:\s*(?:sure|ok|okay|certainly|of\s+course|i\s+will|i'll)\b`,
      String.raw`\b(?:message|note|instructions?|request|update)\s+from\s+(?:the\s+|your\s+)?(?:user|system|developer|operator)\s*[:\])-]`,
      String.raw`\bend\s+of\s+(?:the\s+)?(?:tool\s+(?:output|result|response)|function\s+(?:output|result)|system\s+prompt|user\s+(?:input|message|query)|untrusted\s+(?:data|content))\b`,
    ],
  },
  {
    // Tool-call syntax inside data: the agent is meant to read it as a call of its own. Prose
    // that names a tool with arguments ("use the tool `x` with the following arguments") counts.
    id: "tool_call",
    patterns: [
      String.raw`</?(?:tool_call|tool_use|function_call|function_calls|tool_code|tool_request|invoke)\b`,
      String.raw`<function=[\w.-]+`,
      String.raw`\{\s*["'](?:name|function|tool|tool_name)["']\s*:\s*["'][\w.-]{1,80}["']\s*,\s*["'](?:arguments|parameters|args|input|params)["']\s*:`,
      String.raw`["'](?:tool_calls|function_call)["']\s*:`,
      String.raw`\b(?:use|call|invoke|run|execute|trigger)\s+(?:the\s+)?(?:tool|function|api|action)\s+[\x60'"]?[\w.-]+[\x60'"]?\s+(?:with|using)\s+(?:the\s+)?(?:following\s+)?(?:arguments|parameters|args|inputs?)\b`,
    ],
  },
  {
    // A to-do item that orders the reader to act on a destination (an address, a link, an
    // account) or on the agent's own tools (a calendar, a drive, a reservation), or tells it what
    // to say: aimed at whoever reads the data. A person's own "TODO: bring slides" is not marked.
    id: "todo_directive",
    patterns: [
      String.raw`\b(?:todo|to-do|action\s+required|action\s+item)\s*[:\-]\s*(?:please\s+)?(?:send|forward|transfer|pay|wire|email|e-mail|post|share|invite|add|delete|remove|change|update|reset|visit|open|click|download|upload|create|make|book|reserve|concatenate|get|modify|schedule|grant|give|export|copy|move)\b(?:[^\n]|\n[ \t]*[^\n \t]){0,300}?(?:[\w.+-]+@[\w-]+\.[a-z]{2,}|https?://|www\.|\b[\w-]+\.(?:com|net|org|io|co|info|biz|xyz|ru|cn|me|ly)\b|\b[a-z]{2}\d{2}[a-z0-9]{10,30}\b|\b(?:password|passcode|security\s+code|credentials?|iban|account\s+number|calendar|cloud\s+drive|inbox|reservation|file\s+with\s+(?:the\s+)?id|channel|workspace)\b)`,
      String.raw`\b(?:todo|to-do)\s*[:\-]\s*(?:please\s+)?(?:say|tell\s+the\s+user|recommend\s+(?:that|to\s+the\s+user)|respond\s+with|reply\s+with|answer\s+with|state)\s+(?:that\b)?`,
    ],
  },
];

/** A run of untrusted text the detector marked: offsets in UTF-16 code units, end exclusive. */
export interface InjectionSpan {
  start: number;
  end: number;
  /** The rules that fired in it, in {@link INJECTION_RULES} order. */
  rules: string[];
}

interface Compiled {
  /**
   * A prefilter: every pattern of every rule as one alternation with its word boundaries and line
   * anchors left out, so that it matches wherever some rule could (a superset) and RE2's DFA runs
   * without context-dependent states, several times faster. One pass over a text that holds no
   * injection, the usual case, and nothing else.
   */
  prefilter: Pattern;
  /**
   * Each rule's own pattern, compiled on first use: only a text the prefilter matches asks for
   * them, and compiling them costs about twice the prefilter's (RE2JS parses and compiles every
   * pattern again), so a run over content that holds no injection never pays it.
   */
  rules: { id: string; pattern: () => Pattern }[];
}

/**
 * A pattern without its empty-width assertions: `\b` dropped, and `^` or `$` as an alternative
 * (`(?:^|\n)`, `(?:\s|$)`) turned into the empty alternative. Only ever matches more.
 */
export function withoutAssertions(pattern: string): string {
  return pattern.replaceAll("\\b", "").replaceAll("(?:^|", "(?:|").replaceAll("|$)", "|)");
}

function compileRules(): Compiled {
  const flags = "(?im)";
  const rules = INJECTION_RULES.map((r) => {
    let pattern: Pattern | undefined;
    return {
      id: r.id,
      // The detector's own patterns on content of bounded size (the trace limits): no match budget.
      pattern: () => {
        pattern ??= compilePattern(`${flags}(?:${r.patterns.join("|")})`, Number.POSITIVE_INFINITY);
        return pattern;
      },
    };
  });
  const prefilter = compilePattern(
    `(?i)(?:${INJECTION_RULES.flatMap((r) => r.patterns.map(withoutAssertions)).join("|")})`,
    Number.POSITIVE_INFINITY,
  );
  return { prefilter, rules };
}

let compiled: Compiled | undefined;

/**
 * Paragraphs of a text: maximal runs of lines that are not blank, as [start, end) offsets. A
 * line ends at a newline or at the two characters `\n`: text that went through a
 * Python `repr` or a JSON encoder on its way into a tool result keeps its line breaks so.
 */
function paragraphs(text: string): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  let end = 0;
  let lineStart = 0;
  let blank = true;
  const endLine = (lineEnd: number, next: number): void => {
    if (!blank) {
      if (start === -1) start = lineStart;
      end = lineEnd;
    } else if (start !== -1) {
      out.push([start, end]);
      start = -1;
    }
    lineStart = next;
    blank = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) endLine(i, i + 1);
    else if (c === 0x5c /* \ */ && text.charCodeAt(i + 1) === 0x6e /* n */) {
      endLine(i, i + 2);
      i++;
    } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) blank = false;
  }
  endLine(text.length, text.length);
  if (start !== -1) out.push([start, end]);
  return out;
}

function isNameChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_-]/.test(c);
}

/**
 * The tag block around `at`: an opening tag `<NAME>` (or `<NAME attrs>`) before it whose closing
 * `</NAME>` comes after it, as [start, end) of the whole block. Injections are often wrapped in
 * such a block (`<INFORMATION>…</INFORMATION>`); the block, not the rest of the text, is then
 * what the attacker wrote. Looks at most 16 tags back.
 */
function enclosingBlock(text: string, at: number): [number, number] | undefined {
  let i = at + 1;
  for (let tries = 0; tries < 16; tries++) {
    i = text.lastIndexOf("<", i - 1);
    if (i === -1) return undefined;
    let j = i + 1;
    if (!/[A-Za-z]/.test(text[j] ?? "")) continue;
    while (isNameChar(text[j])) j++;
    const name = text.slice(i + 1, j);
    const close = text.indexOf(">", j);
    if (close === -1 || close >= at + 1_000) continue;
    const end = text.indexOf(`</${name}>`, at);
    if (end !== -1) return [i, end + name.length + 3];
  }
  return undefined;
}

/**
 * Line breaks as serialisers write them, read as plain whitespace of the same length so that
 * every offset stays that of the original text:
 * - the two characters `\n` of text that went through a Python `repr` or a JSON encoder, which
 *   would glue words together ("\nIgnore"), become a space and a newline;
 * - a YAML double-quoted scalar folded over lines (a backslash at the end of a line, then the
 *   indentation and an optional `\ ` escape, as PyYAML writes long strings) becomes spaces
 *   around the newline, so that words on either side of the fold are read as one sentence.
 * A single line break inside a paragraph (hard-wrapped text) is crossed by the rules themselves.
 */
function unescapedBreaks(original: string): string {
  let text = original.includes("\\n") ? original.replaceAll("\\n", " \n") : original;
  if (text.includes("\\\n")) {
    text = text.replace(
      /\\\n([ \t]*)(\\ )?/g,
      (_m, indent: string, escaped?: string) => ` \n${indent}${escaped ? "  " : ""}`,
    );
  }
  return text;
}

/**
 * Marks the spans of `text` that carry instructions addressed to the agent (docs/policy.md,
 * "Injected content"). Deterministic, RE2 only, linear in the text: one pass of all rules as one
 * alternation, and only when it matches, one pass per paragraph to place the span and one per
 * rule on the paragraphs that matched to name the rules.
 *
 * A span starts at the paragraph where a rule first fires and runs to the end of the text, since
 * an attacker's text goes on after its first sign and the detector cannot tell where it stops;
 * when that paragraph is inside a tag block (`<X>…</X>`) the span is the block. A rule that fires
 * on the whole text but on no single paragraph (a fake turn spread over paragraphs) marks the
 * whole text.
 * @returns spans sorted by start, not overlapping; empty for text without injection.
 */
export function detectInjection(original: string): InjectionSpan[] {
  compiled ??= compileRules();
  const c = compiled;
  if (original.length < 8) return [];
  const text = unescapedBreaks(original);
  if (!c.prefilter.test(text)) return [];
  const firing = (s: string) =>
    c.prefilter.test(s) ? c.rules.filter((r) => r.pattern().test(s)).map((r) => r.id) : [];
  const spans: InjectionSpan[] = [];
  let current: InjectionSpan | undefined;
  for (const [start, end] of paragraphs(text)) {
    const ids = firing(text.slice(start, end));
    if (current && start < current.end) {
      // Inside the open span: only add the names of rules that fire here too.
      for (const id of ids) if (!current.rules.includes(id)) current.rules.push(id);
      continue;
    }
    if (ids.length === 0) continue;
    const block = enclosingBlock(text, start);
    current = block
      ? { start: Math.min(block[0], start), end: Math.max(block[1], end), rules: ids }
      : { start, end: text.length, rules: ids };
    spans.push(current);
  }
  if (spans.length === 0) {
    const ids = c.rules.filter((r) => r.pattern().test(text)).map((r) => r.id);
    if (ids.length > 0) spans.push({ start: 0, end: text.length, rules: ids });
  }
  const order = new Map(INJECTION_RULES.map((r, i) => [r.id, i]));
  for (const s of spans) s.rules.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  return spans;
}
