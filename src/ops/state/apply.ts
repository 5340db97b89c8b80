// `bpftime apply FILE` and PUT /v1/state: converge a region to a state file.
// The plan is computed first (a dry run stops there); then objects are loaded
// or replaced, and links, pins and entries are planned again against what the
// region now holds (exact ids, maps a new version took over) and made. The
// first failure stops the apply: what was done stays (every change is whole:
// a load that fails stores nothing), the error says what was applied and
// where it stopped, and the next apply carries on from there.
import { BpftimeError } from "../../errors.ts";
import { ERRNO, NativeError, Region, regionName } from "../../native/index.ts";
import { currentState, type CurrentState } from "./current.ts";
import type { DesiredState } from "./desired.ts";
import {
  changeLine,
  planObjectPrune,
  planObjects,
  planRest,
  type Change,
  type Step,
} from "./plan.ts";

export interface ApplyOptions {
  /** Compute and return the plan, change nothing. */
  dryRun?: boolean;
  /** Also remove the objects (with their links) and map pins the file does not mention. */
  prune?: boolean;
}

export interface ApplyResult {
  region: string;
  dryRun: boolean;
  /** What was changed (or, in a dry run, would be), in order; empty when the region matches. */
  changes: Change[];
  /** What the region holds that the file does not mention and was kept (`prune` removes it). */
  leftAlone: string[];
}

const empty: CurrentState = { objects: [], links: [], pins: new Map(), mapRefs: new Map() };

function strip(s: Step): Change {
  return { action: s.action, kind: s.kind, name: s.name, detail: s.detail };
}

/** Converges region `name` (default $BPFTIME_SHM or bpftime) to `d`; see the file comment. */
export function applyState(
  name: string | undefined,
  d: DesiredState,
  o: ApplyOptions = {},
): ApplyResult {
  const region = regionName(name);
  const prune = o.prune ?? false;
  if (o.dryRun) {
    let r: Region | undefined;
    try {
      r = Region.open(region);
    } catch (e) {
      if (!(e instanceof NativeError && e.errno === ERRNO("ENOENT"))) throw e;
    }
    try {
      const cur = r ? currentState(r) : empty;
      const pending = new Set<string>();
      const objects = planObjects(region, d, cur, pending);
      const pruned = planObjectPrune(d, cur, prune);
      const rest = planRest(r, d, cur, pending, prune);
      return {
        region,
        dryRun: true,
        changes: [...objects, ...rest.steps, ...pruned.steps].map(strip),
        leftAlone: [...pruned.leftAlone, ...rest.leftAlone],
      };
    } finally {
      r?.close();
    }
  }
  const r = Region.openOrCreate(region);
  const done: Step[] = [];
  /** The error of a failure after `done`: what was applied, where it stopped, what to do. */
  const stopped = (where: string, e: BpftimeError) => {
    const applied = done.length
      ? `${done.length} change${done.length > 1 ? "s were" : " was"} applied before it (${done.map(changeLine).join("; ")})`
      : "nothing was changed before it";
    return new BpftimeError(
      e.code,
      `apply stopped at ${where}: ${e.message}; ${applied}; fix the cause and apply again: it carries on from what the region holds`,
      { applied: done.map(strip) },
    );
  };
  const run = (steps: Step[]) => {
    for (const s of steps) {
      try {
        s.run(r);
      } catch (e) {
        throw e instanceof BpftimeError ? stopped(`"${changeLine(s)}"`, e) : e;
      }
      done.push(s);
    }
  };
  const plan = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw e instanceof BpftimeError && done.length
        ? stopped("planning the links, pins and entries", e)
        : e;
    }
  };
  try {
    const before = currentState(r);
    const pruned = planObjectPrune(d, before, prune);
    const pending = new Set<string>();
    const objects = planObjects(region, d, before, pending);
    // the whole plan once before changing anything: the targets, pins and
    // entries of objects already loaded are checked now
    planRest(r, d, before, pending, prune);
    run(objects);
    const rest = plan(() => planRest(r, d, currentState(r), new Set(), prune));
    run(rest.steps);
    run(pruned.steps);
    return {
      region,
      dryRun: false,
      changes: done.map(strip),
      leftAlone: [...pruned.leftAlone, ...rest.leftAlone],
    };
  } finally {
    r.close();
  }
}
