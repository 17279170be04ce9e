/**
 * Where in a trace file an event is: its `at` address (docs/traces.md) mapped back to line and
 * column, for SARIF `region`s. Pure: the file texts are given. Each file is parsed at most once,
 * and only when a result that is emitted points into it.
 */
import {
  findNodeAtLocation,
  type JSONVisitor,
  type Node,
  parseTree,
  type Segment,
  visit,
} from "jsonc-parser";

/**
 * A SARIF region (SARIF §3.30): 1-based lines, 1-based columns counted in UTF-16 code units (the
 * run's `columnKind` is `utf16CodeUnits`, SARIF's default); the end column is one past the last
 * character. UTF-16 columns are an offset difference, so locating a result costs O(log lines)
 * whatever the length of its line (a minified trace is one long line).
 */
export interface SourceRegion {
  startLine: number;
  startColumn: number;
  endLine: number;
  endColumn: number;
}

/**
 * An event address as a JSON path: `messages[4].tool_calls[0]` is `["messages", 4, "tool_calls",
 * 0]`. `undefined` when the address is not of that shape (keys are identifiers).
 */
export function parseAddress(at: string): Segment[] | undefined {
  const path: Segment[] = [];
  const token = /\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]/y;
  let i = 0;
  while (i < at.length) {
    token.lastIndex = i;
    const m = token.exec(at);
    if (!m) return undefined;
    path.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
    i = token.lastIndex;
  }
  return path;
}

/** Where a value is in a text: UTF-16 offset and length, as jsonc-parser's `Node` has them. */
interface Span {
  offset: number;
  length: number;
}

/** The requested paths as a tree: a segment's child, and whether a path ends here. */
interface PathTrie {
  children: Map<Segment, PathTrie>;
  /** The key ({@link pathKey}) of the path that ends at this node, if one does. */
  ends: string | undefined;
}

/** A container being read by {@link locatePaths}. */
interface Frame {
  /** Requested paths below it; undefined for one whose members are skipped. */
  trie: PathTrie | undefined;
  array: boolean;
  /** Values seen so far (an array's next index). */
  count: number;
  /** An object's key whose value comes next (a key without a value is followed by another). */
  key: string | undefined;
  /** An object's keys already matched: a later duplicate is not what `findNodeAtLocation` finds. */
  matched: Set<string> | undefined;
  /** The span of the container itself, when a path ends at it (its length set at its end). */
  span: Span | undefined;
}

const pathKey = (path: readonly Segment[]): string => JSON.stringify(path);

/**
 * The span of the value at each of some JSON paths of a text, in one pass: exactly the node
 * jsonc-parser's `findNodeAtLocation(parseTree(text, [], { disallowComments: true }), path)`
 * gives (even when the text has errors, whose recovery is the parser's either way), without
 * building the tree: `visit` skips the members of every container that no path goes into.
 * @returns path key ({@link pathKey}) -> span, for the paths that lead to a value.
 */
function locatePaths(text: string, paths: readonly Segment[][]): Map<string, Span> {
  const root: PathTrie = { children: new Map(), ends: undefined };
  for (const path of paths) {
    let node = root;
    for (const segment of path) {
      let child = node.children.get(segment);
      if (!child) {
        child = { children: new Map(), ends: undefined };
        node.children.set(segment, child);
      }
      node = child;
    }
    node.ends = pathKey(path);
  }
  const found = new Map<string, Span>();
  // Paths whose value is not found and complete yet: at none, the rest of the text cannot change
  // the answers (a value's span is final at its end, and later duplicates of a key do not count).
  let open = new Set(paths.map(pathKey)).size;
  // parseTree's artificial root: an array whose first value is the document.
  const stack: Frame[] = [
    {
      trie: { children: new Map([[0, root]]), ends: undefined },
      array: true,
      count: 0,
      key: undefined,
      matched: undefined,
      span: undefined,
    },
  ];
  /** The requested paths below the value that starts now in the innermost container. */
  const valueTrie = (): PathTrie | undefined => {
    const f = stack[stack.length - 1] as Frame;
    if (f.array) return f.trie?.children.get(f.count++);
    const key = f.key;
    f.key = undefined;
    // The parser reads an object's values only after their key: a key is always pending here.
    if (key === undefined || !f.trie || f.matched?.has(key)) return undefined;
    const trie = f.trie.children.get(key);
    if (trie) {
      f.matched ??= new Set();
      f.matched.add(key);
    }
    return trie;
  };
  const begin = (array: boolean, offset: number): boolean => {
    const trie = valueTrie();
    let span: Span | undefined;
    if (trie?.ends !== undefined) {
      span = { offset, length: -1 };
      found.set(trie.ends, span);
    }
    const inside = trie !== undefined && trie.children.size > 0;
    stack.push({
      trie: inside ? trie : undefined,
      array,
      count: 0,
      key: undefined,
      matched: undefined,
      span,
    });
    return inside;
  };
  const end = (offset: number, length: number): void => {
    const f = stack.pop() as Frame;
    if (f.span) {
      f.span.length = offset + length - f.span.offset;
      if (--open === 0) throw DONE;
    }
  };
  const visitor: JSONVisitor = {
    onObjectBegin: (offset) => begin(false, offset),
    onArrayBegin: (offset) => begin(true, offset),
    onObjectEnd: end,
    onArrayEnd: end,
    onObjectProperty: (name) => {
      (stack[stack.length - 1] as Frame).key = name;
    },
    onLiteralValue: (_value, offset, length) => {
      const trie = valueTrie();
      if (trie?.ends === undefined) return;
      found.set(trie.ends, { offset, length });
      if (--open === 0) throw DONE;
    },
  };
  try {
    visit(text, visitor, { disallowComments: true });
  } catch (err) {
    if (err !== DONE) throw err;
  }
  return found;
}

/** Thrown from {@link locatePaths}'s visitor to stop reading once every path is answered. */
const DONE = Symbol("done");

/** A file's text with the offsets of its line starts, computed on first use. */
class SourceText {
  private starts: number[] | undefined;
  private tree: Node | undefined | null = null;
  private nonBlank: number[] | undefined;
  /** Spans of the paths asked for ahead ({@link locate}), by path key; missing: no such value. */
  private located: { keys: Set<string>; spans: Map<string, Span> } | undefined;

  constructor(readonly text: string) {}

  /** Offsets (UTF-16) at which each line starts; line 1 at 0. */
  lineStarts(): number[] {
    if (!this.starts) {
      const starts = [0];
      for (let i = this.text.indexOf("\n"); i !== -1; i = this.text.indexOf("\n", i + 1)) starts.push(i + 1);
      this.starts = starts;
    }
    return this.starts;
  }

  /** The text of a 1-based line, without its line break (and CR). */
  line(n: number): string | undefined {
    const starts = this.lineStarts();
    const start = starts[n - 1];
    if (start === undefined) return undefined;
    const end = starts[n] === undefined ? this.text.length : (starts[n] as number) - 1;
    const text = this.text.slice(start, end);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  }

  /**
   * 1-based numbers of the lines that are not blank (not all whitespace as `trim` counts it),
   * found once, without a copy of any line: a search for the next code unit that is not
   * whitespace (`\S` is exactly what `trim` keeps) answers for every line up to it.
   */
  nonBlankLines(): number[] {
    if (!this.nonBlank) {
      const found: number[] = [];
      const starts = this.lineStarts();
      const visible = /\S/g;
      let next = -1;
      for (let n = 1; n <= starts.length; n++) {
        const start = starts[n - 1] as number;
        if (next < start) {
          visible.lastIndex = start;
          next = visible.exec(this.text)?.index ?? this.text.length;
        }
        // The line with its line break, which is whitespace either way.
        if (next < (starts[n] ?? this.text.length)) found.push(n);
      }
      this.nonBlank = found;
    }
    return this.nonBlank;
  }

  /** The whole document's syntax tree (jsonc-parser), parsed once; undefined when it has none. */
  document(): Node | undefined {
    if (this.tree === null) this.tree = parseTree(this.text, [], { disallowComments: true });
    return this.tree;
  }

  /**
   * Finds the values at some JSON paths of the document in one pass, without its syntax tree:
   * {@link spanAt} then answers them. Called at most once, before the paths are asked for.
   */
  locate(paths: readonly Segment[][]): void {
    this.located = { keys: new Set(paths.map(pathKey)), spans: locatePaths(this.text, paths) };
  }

  /** The span of the value at a JSON path of the document (undefined: there is none). */
  spanAt(path: Segment[]): Span | undefined {
    const key = pathKey(path);
    if (this.located?.keys.has(key)) return this.located.spans.get(key);
    const root = this.document();
    return root ? findNodeAtLocation(root, path) : undefined;
  }

  /** 1-based line and UTF-16 column of a UTF-16 offset. */
  position(offset: number): { line: number; column: number } {
    const starts = this.lineStarts();
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] as number) + 1 };
  }
}

/** The region of a node of a tree parsed from `text` at `base` (an offset into the file). */
function nodeRegion(source: SourceText, node: Span, base: number): SourceRegion {
  const start = source.position(base + node.offset);
  const end = source.position(base + node.offset + node.length);
  return { startLine: start.line, startColumn: start.column, endLine: end.line, endColumn: end.column };
}

/** The region of a whole line (1-based), or undefined when there is no such line. */
function lineRegion(source: SourceText, n: number): SourceRegion | undefined {
  const text = source.line(n);
  if (text === undefined) return undefined;
  return { startLine: n, startColumn: 1, endLine: n, endColumn: text.length + 1 };
}

/** An address into a JSON Lines file: `lines[N]` (0-based) and a path inside that line. */
const LINE_ADDRESS = /^lines\[(\d+)\]/;
/** A file whose events are found by position unless their addresses name a line. */
const PROOF_FILE = /\.jsonl$/i;

/** The path of an event's value in its file's whole document; undefined when it is not found so. */
function documentPath(e: EventRef): Segment[] | undefined {
  if (LINE_ADDRESS.test(e.at) || PROOF_FILE.test(e.file)) return undefined;
  return parseAddress(e.at);
}

/** What locates an event: its file, its address, and (for `proof` traces) its seq. */
export interface EventRef {
  file: string;
  at: string;
  seq: number;
}

/**
 * Maps event addresses to regions of the files whose text it holds (file as the report names it
 * -> text). A file it does not hold, or an address it cannot resolve, has no region.
 *
 * - A `.json` document: `at` is a JSON path from its root, resolved with jsonc-parser.
 * - A JSON Lines file of documents or MCP messages: `at` starts with `lines[N]` (0-based line
 *   index); the rest is a path inside that line's document.
 * - A `proof` trace (a `.jsonl` file whose addresses do not start with `lines[`; header first): `at` names the event's place in its original
 *   source, so the event is found by position instead: event `seq` is the `seq + 2`-th non-blank
 *   line, accepted only when that line's `seq` and `at` are the event's (a file of several traces
 *   resolves only its first).
 */
export class RegionFinder {
  private readonly sources = new Map<string, SourceText>();

  constructor(texts: ReadonlyMap<string, string>) {
    for (const [file, text] of texts) this.sources.set(file, new SourceText(text));
  }

  /** The whole of a file, from line 1 to its last line, if the file is held. */
  ofFile(file: string): SourceRegion | undefined {
    const source = this.sources.get(file);
    if (!source) return undefined;
    const last = source.lineStarts().length;
    const text = source.line(last) as string;
    return { startLine: 1, startColumn: 1, endLine: last, endColumn: text.length + 1 };
  }

  /** The region of the value at a JSON path of a file's document, if the file is held. */
  ofPath(file: string, path: Segment[]): SourceRegion | undefined {
    const source = this.sources.get(file);
    const node = source?.spanAt(path);
    return source && node ? nodeRegion(source, node, 0) : undefined;
  }

  /**
   * Finds the values of a file's document that these requests ask for in one pass instead of
   * parsing the whole document into a tree (the answers are the same): for a file of many
   * requests, or a large one, whose values are few.
   */
  locate(file: string, requests: readonly RegionRequest[]): void {
    const source = this.sources.get(file);
    if (!source) return;
    const paths: Segment[][] = [];
    for (const r of requests) {
      const path = r.kind === "path" ? r.path : r.kind === "event" ? documentPath(r) : undefined;
      if (path) paths.push(path);
    }
    if (paths.length > 0) source.locate(paths);
  }

  /** The region of an event, or undefined when it cannot be located. */
  ofEvent(e: EventRef): SourceRegion | undefined {
    const source = this.sources.get(e.file);
    if (!source) return undefined;
    const lines = LINE_ADDRESS.exec(e.at);
    // A JSON Lines file whose addresses do not start with a line is a `proof` trace.
    if (!lines && PROOF_FILE.test(e.file)) return this.proofEvent(source, e);
    if (lines) {
      const n = Number(lines[1]) + 1;
      const path = parseAddress(e.at.slice(lines[0].length));
      const text = source.line(n);
      if (!path || text === undefined) return undefined;
      if (path.length === 0) return lineRegion(source, n);
      const root = parseTree(text, [], { disallowComments: true });
      const node = root ? findNodeAtLocation(root, path) : undefined;
      return node ? nodeRegion(source, node, source.lineStarts()[n - 1] as number) : undefined;
    }
    const path = parseAddress(e.at);
    return path ? this.ofPath(e.file, path) : undefined;
  }

  private proofEvent(source: SourceText, e: EventRef): SourceRegion | undefined {
    // The non-blank lines are indexed once per file, not scanned again for every result.
    const n = source.nonBlankLines()[e.seq + 1];
    if (n === undefined) return undefined;
    const root = parseTree(source.line(n) as string, [], { disallowComments: true });
    const seq = root ? findNodeAtLocation(root, ["seq"])?.value : undefined;
    const at = root ? findNodeAtLocation(root, ["at"])?.value : undefined;
    return seq === e.seq && at === e.at ? lineRegion(source, n) : undefined;
  }
}

/** What SARIF asks of regions: {@link RegionFinder}, or the answers {@link resolveRegions} found. */
export interface RegionLookup {
  ofFile(file: string): SourceRegion | undefined;
  ofPath(file: string, path: Segment[]): SourceRegion | undefined;
  ofEvent(e: EventRef): SourceRegion | undefined;
}

/** One question a SARIF result will ask of its file: the whole file, a JSON path, or an event. */
export type RegionRequest =
  | { kind: "file"; file: string }
  | { kind: "path"; file: string; path: Segment[] }
  | ({ kind: "event" } & EventRef);

function requestKey(r: RegionRequest): string {
  if (r.kind === "file") return `f\u0000${r.file}`;
  if (r.kind === "path") return `p\u0000${r.file}\u0000${JSON.stringify(r.path)}`;
  return `e\u0000${r.file}\u0000${r.seq}\u0000${r.at}`;
}

/** Region requests grouped by the file they ask of, files in the order first asked. */
export function requestsByFile(requests: Iterable<RegionRequest>): Map<string, RegionRequest[]> {
  const byFile = new Map<string, RegionRequest[]>();
  for (const r of requests) {
    const list = byFile.get(r.file);
    if (list) list.push(r);
    else byFile.set(r.file, [r]);
  }
  return byFile;
}

/**
 * The regions that requests of one file ask for, found in its text: [request key, region] pairs,
 * one per distinct request that has a region (a request without one is left out). The text is
 * parsed once for all of them; a thread that holds the text (or a worker thread that read it)
 * answers alike.
 */
export function regionsInText(
  file: string,
  text: string,
  requests: readonly RegionRequest[],
): [key: string, region: SourceRegion][] {
  const finder = new RegionFinder(new Map([[file, text]]));
  finder.locate(file, requests);
  const found = new Map<string, SourceRegion>();
  for (const r of requests) {
    const key = requestKey(r);
    if (found.has(key)) continue;
    const region =
      r.kind === "file"
        ? finder.ofFile(file)
        : r.kind === "path"
          ? finder.ofPath(file, r.path)
          : finder.ofEvent({ file, at: r.at, seq: r.seq });
    if (region) found.set(key, region);
  }
  return [...found];
}

/**
 * A {@link RegionLookup} over answers found by {@link regionsInText} (request key -> region): a
 * question no answer holds has no region.
 */
export function regionLookup(found: ReadonlyMap<string, SourceRegion>): RegionLookup {
  const get = (r: RegionRequest) => found.get(requestKey(r));
  return {
    ofFile: (file) => get({ kind: "file", file }),
    ofPath: (file, path) => get({ kind: "path", file, path }),
    ofEvent: (e) => get({ kind: "event", ...e }),
  };
}

/**
 * Finds the regions of files' requests, reading one file at a time: each file's text is asked for
 * once, parsed, its requests answered, and dropped before the next file. A file whose text is
 * undefined (left out by a budget, or unreadable) has no region. Every thread that takes part in
 * finding regions (src/api/pool-regions.ts) does its share through this.
 * @param found receives each [request key, region] pair
 * @throws what `text` throws
 */
export async function regionsOfFiles(
  files: Iterable<{ file: string; requests: readonly RegionRequest[] }>,
  text: (file: string) => Promise<string | undefined>,
  found: (key: string, region: SourceRegion) => void,
): Promise<void> {
  for (const { file, requests } of files) {
    const content = await text(file);
    if (content === undefined) continue;
    for (const [key, region] of regionsInText(file, content, requests)) found(key, region);
  }
}

/**
 * Answers region requests one file at a time ({@link regionsOfFiles}), so memory holds one file's
 * text and syntax tree at a time plus the answers (four numbers each), however many files results
 * point into. The answers are those a {@link RegionFinder} over every text gives.
 * @param text the text of a file as the report names it, or undefined when it has none (left
 *   out by a budget, unreadable): its requests then have no region.
 */
export async function resolveRegions(
  requests: Iterable<RegionRequest>,
  text: (file: string) => Promise<string | undefined>,
): Promise<RegionLookup> {
  const found = new Map<string, SourceRegion>();
  const files = [...requestsByFile(requests)].map(([file, list]) => ({ file, requests: list }));
  await regionsOfFiles(files, text, (key, region) => found.set(key, region));
  return regionLookup(found);
}
