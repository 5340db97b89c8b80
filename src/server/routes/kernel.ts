// `bpftime serve --kernel`: the admin API over the kernel event provider, on
// the same paths, with the same request bodies and, where the operation is
// the same, the same response shapes as over a region; each answer is what
// `bpftime … --kernel --json` prints. Served: load an object, list and
// unload programs; list maps, show one, page, look up, update and delete
// entries (the same routes as a region's, on a MapHandle over the pin);
// attach (uprobe, uretprobe), list, detach and replace links; the snapshot.
// Not served (a region's alone): instances, pins, events, run statistics,
// test runs, map freeze/pop/peek/delete, /metrics: 404 as unknown routes,
// and /docs lists what is.
import { Elysia, t } from "elysia";
import {
  attachKernel,
  detachKernel,
  kernelSnapshot,
  loadKernelObjectBytes,
  openKernelMapHandle,
  replaceKernel,
  unloadKernel,
} from "../../ops/index.ts";
import { toJsonValue } from "../../json.ts";
import { jsonBody, parseObjectBody, type ObjectUpload } from "../body.ts";
import * as S from "../schemas.ts";
import { errors, secured } from "./context.ts";
import { mapEntryRoutes } from "./maps.ts";
import { objectUploadDoc } from "./programs.ts";

const tags = (tag: string) => [tag, "kernel"];

function kernelProgramRoutes() {
  return new Elysia({ prefix: "/v1/programs" })
    .post(
      "",
      ({ body, query, set }) => {
        const up = body as ObjectUpload;
        const loaded = loadKernelObjectBytes(up.bytes, query.name ?? up.filename);
        set.status = 201;
        return loaded;
      },
      {
        parse: parseObjectBody,
        query: t.Object({
          name: t.Optional(
            t.String({
              description:
                "the object's file name; the kernel object is pinned under it without .bpf.o",
            }),
          ),
        }),
        response: { 201: S.KernelLoadedSchema, ...errors, 409: S.ErrorSchema, 413: S.ErrorSchema },
        detail: {
          tags: tags("programs"),
          summary: "load an ELF object into the kernel, pinned (bpftime load --kernel)",
          security: secured,
          requestBody: objectUploadDoc,
        },
      },
    )
    .get("", () => kernelSnapshot().programs, {
      response: { 200: t.Array(S.KernelProgramSchema), ...errors },
      detail: { tags: tags("programs"), summary: "list pinned kernel programs (list --kernel)" },
    })
    .delete("/:id", ({ params }) => unloadKernel(params.id), {
      params: S.IdParam,
      response: { 200: S.KernelUnloadedSchema, ...errors, 409: S.ErrorSchema },
      detail: {
        tags: tags("programs"),
        summary: "unload a kernel program no link uses (bpftime unload --kernel; 409 while linked)",
        security: secured,
      },
    });
}

function kernelMapRoutes() {
  return new Elysia({ prefix: "/v1/maps" })
    .get("", () => kernelSnapshot().maps, {
      response: { 200: t.Array(S.KernelMapSchema), ...errors },
      detail: { tags: tags("maps"), summary: "list pinned kernel maps (map list --kernel)" },
    })
    .use(mapEntryRoutes((ref, fn) => fn(openKernelMapHandle(ref))));
}

function kernelLinkRoutes() {
  return new Elysia()
    .post(
      "/v1/links",
      ({ body, set }) => {
        const res = attachKernel(
          S.refText(body.program),
          body.type,
          body.arg,
          BigInt(body.cookie ?? 0),
        );
        set.status = 201;
        return toJsonValue(res); // the 64-bit cookie as `attach --kernel --json` prints it
      },
      {
        parse: jsonBody,
        body: S.KernelAttachBody,
        response: { 201: S.KernelAttachedSchema, ...errors, 409: S.ErrorSchema },
        detail: {
          tags: tags("links"),
          summary: "attach a kernel program to a uprobe or uretprobe (bpftime attach --kernel)",
          security: secured,
        },
      },
    )
    .get("/v1/links", () => kernelSnapshot().links, {
      response: { 200: t.Array(S.KernelLinkSchema), ...errors },
      detail: { tags: tags("links"), summary: "list pinned kernel links (list --kernel)" },
    })
    .delete("/v1/links/:id", ({ params }) => detachKernel(params.id), {
      params: t.Object({ id: t.String({ description: "kernel link id" }) }),
      response: { 200: S.KernelDetachedSchema, ...errors },
      detail: {
        tags: tags("links"),
        summary: "detach a kernel link (bpftime detach --kernel)",
        security: secured,
      },
    })
    .patch(
      "/v1/links/:id",
      ({ params, body }) => replaceKernel(params.id, S.refText(body.program)),
      {
        parse: jsonBody,
        params: t.Object({ id: t.String({ description: "kernel link id" }) }),
        body: S.ReplaceBody,
        response: { 200: S.KernelReplacedSchema, ...errors },
        detail: {
          tags: tags("links"),
          summary: "another program on a link's probe (bpftime replace --kernel)",
          description:
            "The kernel cannot swap a uprobe link's program: the new program is attached at " +
            "the same probe with the same cookie, then the old link is detached. No hit is " +
            "missed; one in between may run both. The answer's linkId is the new link's.",
          security: secured,
        },
      },
    )
    .get("/v1/snapshot", () => kernelSnapshot(), {
      response: { 200: S.KernelSnapshotSchema, ...errors },
      detail: {
        tags: tags("region"),
        summary: "every pinned object at once (list --kernel --json)",
      },
    });
}

/** Every route `bpftime serve --kernel` serves. */
export function kernelRoutes() {
  return new Elysia().use(kernelProgramRoutes()).use(kernelMapRoutes()).use(kernelLinkRoutes());
}
