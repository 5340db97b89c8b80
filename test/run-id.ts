// One id per test run. Every region, temporary directory and pin a test
// creates carries it in its name, so the end-of-run sweep (test/setup.ts)
// removes only what this run made — never a region, pin or directory of a
// user or of another run on the same machine. Set in the environment so the
// test data builders under src/ (which cannot import test/) use it too.
const id =
  (process.env.BPFTIME_TEST_RUN ??= `t${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`);

export const RUN_ID: string = id;

/** `<run id>-<what>`: a name this run owns (region, pin directory, file). */
export const runName = (what: string): string => `${RUN_ID}-${what}`;

/** True when a /dev/shm or /tmp entry was made by this run (`bpftime-<run id>…`). */
export const ownedByRun = (entry: string, run: string = RUN_ID): boolean =>
  entry.startsWith(`bpftime-${run}-`);
