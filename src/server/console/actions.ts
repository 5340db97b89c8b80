// The changes the console makes, each one API call behind the token: load an
// object (file upload), attach, detach, replace, unload, statistics on/off.
// Every outcome is one line in the page's status line; the tables follow on
// the next poll, asked for at once.
import { call, seg, token, type Link, type Loaded, type MapInfo, type Program } from "./api.ts";
import { announce, byId } from "./dom.ts";
import type { TableActions } from "./tables.ts";

export interface ActionHooks {
  /** Poll again now. */
  refresh(): void;
  showMap(m: MapInfo): void;
  followMap(m: MapInfo): void;
}

/** Runs a change with the token, saying what happened (or why not). */
async function change(what: string, fn: () => Promise<string>, hooks: ActionHooks) {
  if (!token()) {
    announce(`${what} needs the API token: enter it above.`, "error");
    byId("token").focus();
    return;
  }
  try {
    announce(await fn());
  } catch (e) {
    announce(`${what}: ${(e as Error).message}`, "error");
  }
  hooks.refresh();
}

export function wireActions(hooks: ActionHooks): TableActions {
  const statsButton = byId<HTMLButtonElement>("stats-toggle");

  byId("load-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>("object-file");
    const file = input.files?.[0];
    if (!file) return announce("Loading: choose an object file (.o) first.", "error");
    void change(
      `Loading ${file.name}`,
      async () => {
        const body = new FormData();
        body.append("file", file, file.name);
        const query = new URLSearchParams();
        // As `bpftime load --reuse-maps / --pin-maps`: a new version keeps the live state.
        if (byId<HTMLInputElement>("reuse-maps").checked) query.set("reuseMaps", "true");
        if (byId<HTMLInputElement>("pin-maps").checked) query.set("pinMaps", "true");
        const r = await call<Loaded>("POST", `/v1/programs?${query}`, body);
        input.value = "";
        const programs = r.programs.map((p) => `${p.name} (${p.id})`).join(", ") || "none";
        const maps =
          r.maps.map((m) => `${m.name} (${m.id}${m.reused ? ", reused" : ""})`).join(", ") ||
          "none";
        return `Loaded ${r.file}: programs ${programs}; maps ${maps}.`;
      },
      hooks,
    );
  });

  byId("attach-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = (id: string) => byId<HTMLInputElement | HTMLSelectElement>(id).value.trim();
    const program = value("attach-program");
    if (!program) return announce("Attaching: load a program first.", "error");
    const body: Record<string, unknown> = { program, type: value("attach-type") };
    if (value("attach-arg")) body.arg = value("attach-arg");
    if (value("attach-cookie")) body.cookie = value("attach-cookie");
    void change(
      "Attaching",
      async () => {
        const r = await call<{ linkId: number; targetType: string; arg: string }>(
          "POST",
          "/v1/links",
          body,
        );
        return `Attached: link ${r.linkId} runs program ${program} at ${r.targetType} ${r.arg}.`;
      },
      hooks,
    );
  });

  statsButton.addEventListener("click", () => {
    const on = statsButton.dataset.enabled !== "true";
    void change(
      on ? "Turning statistics on" : "Turning statistics off",
      async () => {
        await call("POST", "/v1/region/stats", { enabled: on });
        return `Run statistics are ${on ? "on" : "off"}.`;
      },
      hooks,
    );
  });

  return {
    unload: (p: Program) =>
      void change(
        `Unloading ${p.name}`,
        async () => {
          await call("DELETE", `/v1/programs/${p.id}`);
          return `Unloaded program ${p.name} (${p.id}).`;
        },
        hooks,
      ),
    detach: (l: Link) =>
      void change(
        `Detaching link ${l.id}`,
        async () => {
          const r = await call<{ targetRemoved: boolean }>("DELETE", `/v1/links/${l.id}`);
          return `Detached link ${l.id}${r.targetRemoved ? " (its target is gone too)" : ""}.`;
        },
        hooks,
      ),
    replace: (l: Link, programId: string) =>
      void change(
        `Replacing the program of link ${l.id}`,
        async () => {
          const r = await call<{ oldProgId: number; newProgId: number }>(
            "PATCH",
            `/v1/links/${seg(l.id)}`,
            { program: programId },
          );
          return `Link ${l.id} now runs program ${r.newProgId} (was ${r.oldProgId}).`;
        },
        hooks,
      ),
    showMap: hooks.showMap,
    followMap: hooks.followMap,
  };
}

/** The statistics switch as the region reports it. */
export function showStats(enabled: boolean): void {
  byId("stats-state").textContent = enabled ? "on" : "off";
  const b = byId<HTMLButtonElement>("stats-toggle");
  b.dataset.enabled = String(enabled);
  b.textContent = enabled ? "Turn statistics off" : "Turn statistics on";
}
