// Building the page from data. Everything the region holds (names, map
// values, URLs in ringbuf records) is untrusted text: it only ever enters the
// page as text nodes and attribute values, never as markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined>;

function fill(el: Element, attrs: Attrs, children: Child[]): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "object" ? c : String(c));
  }
}

/** An HTML element with attributes and children (text or nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  fill(el, attrs, children);
  return el;
}

/** An SVG element (charts, bars). */
export function s(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  fill(el, attrs, children);
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** A button that runs `onClick`; `label` is its accessible name when the text alone is ambiguous. */
export function button(text: string, onClick: () => void, label?: string, key?: string) {
  const b = h("button", { type: "button", "aria-label": label, "data-key": key }, text);
  b.addEventListener("click", onClick);
  return b;
}

/**
 * Replaces `container`'s children, unless they show the same data as last
 * time (`signature`): live refresh must not move the keyboard focus or reset
 * a choice being made. When it does replace them, the element that had the
 * focus (by its data-key) gets it back.
 */
export function replaceIfChanged(container: HTMLElement, signature: string, build: () => Node[]) {
  if (container.dataset.signature === signature) return;
  container.dataset.signature = signature;
  const focused = document.activeElement as HTMLElement | null;
  const key = focused && container.contains(focused) ? focused.dataset.key : undefined;
  container.replaceChildren(...build());
  if (key) container.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

/** A table with a caption and column headers; rows of cells (text or nodes). */
export function table(caption: string, columns: string[], rows: Child[][], empty: string) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
    ),
  );
}

/** Shows the outcome of an action in the page's status line (errors as alerts). */
export function announce(text: string, kind: "ok" | "error" = "ok"): void {
  const el = byId("message");
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.className = kind;
  el.textContent = kind === "error" ? `Error: ${text}` : text;
}
