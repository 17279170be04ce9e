/**
 * SARIF regions found by worker threads at the end of a `--jobs` run (src/api/pool-regions.ts):
 * which files go out and in what order, that every thread's answers are those one thread gives,
 * and that a worker's failure fails the run instead of leaving results without regions. The
 * workers here are small threads that do what the region worker does; the built worker itself is
 * run by test/e2e/pool-order.test.ts, whose runs compare SARIF byte for byte.
 */
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import {
  claimFiles,
  type RegionJob,
  type RegionTask,
  regionFiles,
  startRegionJob,
} from "../../src/api/pool-regions.js";
import {
  RegionFinder,
  type RegionRequest,
  regionLookup,
  regionsInText,
  regionsOfFiles,
  resolveRegions,
  type SourceRegion,
} from "../../src/report/regions.js";

const texts = new Map([
  ["a.json", '{\n  "messages": [\n    {"role": "user"},\n    {"tool_calls": [{"id": "x"}]}\n  ]\n}\n'],
  ["b.json", '{"messages": [{"role": "user"}, {"role": "tool", "content": "hi"}]}'],
  ["c.jsonl", '{"messages": [{"x": 1}]}\n{"messages": [{"y": 2}, {"z": 3}]}\n'],
]);
const event = (file: string, at: string): Extract<RegionRequest, { kind: "event" }> => ({
  kind: "event",
  file,
  at,
  seq: 0,
});
const requests: RegionRequest[] = [
  event("a.json", "messages[1].tool_calls[0]"),
  event("b.json", "messages[1]"),
  event("a.json", "messages[0]"),
  event("c.jsonl", "lines[1].messages[1]"),
  { kind: "file", file: "c.jsonl" },
  event("gone.json", "messages[0]"),
];
const sizes = new Map([...texts].map(([file, text]) => [file, text.length]));
const readText = async (file: string) => texts.get(file);

describe("regionFiles", () => {
  it("keeps the chosen files, largest first, each with its requests in the order asked", () => {
    const files = regionFiles(requests, new Map([...sizes, ["gone.json", 10]]));
    expect(files.map((f) => f.file)).toEqual(["a.json", "b.json", "c.jsonl", "gone.json"]);
    expect(files[0]?.requests).toEqual([requests[0], requests[2]]);
    expect(files[2]?.requests).toEqual([requests[3], requests[4]]);
  });

  it("leaves out a file not chosen, and keeps the order asked among files of one size", () => {
    const files = regionFiles(
      requests,
      new Map([
        ["b.json", 5],
        ["a.json", 5],
        ["c.jsonl", 9],
      ]),
    );
    // c.jsonl is asked last but is the largest; a.json and b.json keep the order asked.
    expect(files.map((f) => [f.file, f.size])).toEqual([
      ["c.jsonl", 9],
      ["a.json", 5],
      ["b.json", 5],
    ]);
  });
});

describe("claimFiles", () => {
  it("gives each file to one claimant, in order, however the claims interleave", () => {
    const files = ["a", "b", "c", "d", "e"];
    const next = new Int32Array(new SharedArrayBuffer(4));
    const one = claimFiles(files, next);
    const two = claimFiles(files, next);
    const got = [one.next().value, two.next().value, two.next().value, one.next().value];
    expect(got).toEqual(["a", "b", "c", "d"]);
    expect([...two]).toEqual(["e"]);
    expect([...one]).toEqual([]);
  });
});

describe("regionsOfFiles", () => {
  it("gives the answers resolveRegions gives, and none for a file it cannot read", async () => {
    const found = new Map<string, SourceRegion>();
    await regionsOfFiles(regionFiles(requests, new Map([...sizes, ["gone.json", 1]])), readText, (k, r) =>
      found.set(k, r),
    );
    // Four events and the whole of c.jsonl; nothing of the file that cannot be read.
    expect(found.size).toBe(5);
    const lookup = regionLookup(found);
    const expected = await resolveRegions(requests, readText);
    const finder = new RegionFinder(texts);
    for (const r of requests) {
      if (r.kind === "event") {
        expect(lookup.ofEvent(r)).toEqual(expected.ofEvent(r));
        expect(lookup.ofEvent(r)).toEqual(finder.ofEvent(r));
      }
    }
    expect(lookup.ofFile("c.jsonl")).toEqual(finder.ofFile("c.jsonl"));
    expect(lookup.ofEvent(event("b.json", "messages[1]"))).toBeDefined();
    expect(lookup.ofEvent(event("gone.json", "messages[0]"))).toBeUndefined();
  });
});

describe("startRegionJob", () => {
  let job: RegionJob | undefined;
  afterEach(async () => {
    await job?.close();
    job = undefined;
  });

  /** Reads texts, noting which files this thread read. */
  const reading = (read: string[]) => async (file: string) => {
    read.push(file);
    return texts.get(file);
  };

  it("shares the files between the workers and this thread, each file to one, answering as one thread does", async () => {
    const given: string[] = [];
    const read: string[] = [];
    const files = regionFiles(requests, new Map([...sizes, ["gone.json", 1]]));
    job = startRegionJob(files, reading(read), 2, (task) => {
      const w = regionThread(task);
      w.on("message", (m: { claimed?: string[] }) => given.push(...(m.claimed ?? [])));
      return w;
    });
    const lookup = await job.finish();
    const expected = await resolveRegions(requests, readText);
    for (const r of requests) {
      if (r.kind === "event") expect(lookup.ofEvent(r)).toEqual(expected.ofEvent(r));
      if (r.kind === "file") expect(lookup.ofFile(r.file)).toEqual(expected.ofFile(r.file));
    }
    expect(lookup.ofFile("c.jsonl")).toBeDefined();
    expect(lookup.ofEvent(event("a.json", "messages[0]"))).toBeDefined();
    // Each file was claimed by exactly one thread, whichever came first.
    expect([...given, ...read].sort()).toEqual(files.map((f) => f.file).sort());
  });

  it("with no worker, finds every region in this thread", async () => {
    const read: string[] = [];
    job = startRegionJob(regionFiles(requests, sizes), reading(read), 0, regionThread);
    const lookup = await job.finish();
    expect(read).toEqual(["a.json", "b.json", "c.jsonl"]);
    expect(lookup.ofFile("c.jsonl")).toEqual(new RegionFinder(texts).ofFile("c.jsonl"));
  });

  it("fails with the error a worker sends", async () => {
    job = startRegionJob(regionFiles(requests, sizes), readText, 1, (task) => regionThread(task, "error"));
    await expect(job.finish()).rejects.toThrow("disk on fire");
  });

  it("fails when a worker stops before it answers", async () => {
    job = startRegionJob(regionFiles(requests, sizes), readText, 1, (task) => regionThread(task, "exit"));
    await expect(job.finish()).rejects.toThrow(/stopped before it answered \(exit 3\)/);
  });

  it("with nothing to find, starts no worker", async () => {
    let started = 0;
    job = startRegionJob([], readText, 2, (task) => {
      started++;
      return regionThread(task);
    });
    const lookup = await job.finish();
    expect(lookup.ofFile("a.json")).toBeUndefined();
    expect(started).toBe(0);
  });
});

/** [file, its [request key, region] pairs as one thread finds them] for every file of the texts. */
function answersByFile(): [string, [string, SourceRegion][]][] {
  return [...texts.keys()].map((file) => [
    file,
    regionsInText(
      file,
      texts.get(file) as string,
      requests.filter((r) => r.file === file),
    ),
  ]);
}

/**
 * A thread that does what src/api/regions-worker.ts does, from precomputed answers: it claims
 * files of its task from the shared counter, says which (for the test), and answers for them as
 * one thread does, in one message. `error` answers with an error, `exit` ends the thread instead.
 */
function regionThread(task: RegionTask, mode: "answer" | "error" | "exit" = "answer"): Worker {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const { task, mode } = workerData;
    const answers = new Map(workerData.answers);
    if (mode === "exit") process.exit(3);
    if (mode === "error") {
      parentPort.postMessage({ regionsError: { message: "disk on fire", errno: "EIO" } });
    } else {
      const { files, next } = task;
      const found = [];
      const claimed = [];
      for (let i = Atomics.add(next, 0, 1); i < files.length; i = Atomics.add(next, 0, 1)) {
        claimed.push(files[i].file);
        for (const pair of answers.get(files[i].file) ?? []) found.push(pair);
      }
      parentPort.postMessage({ claimed });
      parentPort.postMessage({ regions: found });
    }`;
  return new Worker(code, { eval: true, workerData: { task, mode, answers: answersByFile() } });
}
