// Small DOM and formatting helpers shared by the dashboard pages.

// el("td", {class: "num", dataset: {label: "Retries"}}, "2"): attributes, then text or child nodes.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false || child === "") continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Inline markdown of a task description (`code`, **bold**, *emphasis*) as DOM nodes; the text is
// never parsed as HTML, so nothing in it can reach the page as markup.
const INLINE = /(`+)([\s\S]+?)\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|(?<![\w*])\*(?=[^\s*])([^*]*?[^\s*])\*(?![\w*])/g;

export function inlineMarkdown(text) {
  const source = String(text ?? "");
  const nodes = [];
  let last = 0;
  for (const match of source.matchAll(INLINE)) {
    nodes.push(source.slice(last, match.index));
    if (match[1]) nodes.push(el("code", {}, match[2]));
    else if (match[3]) nodes.push(el("strong", {}, ...inlineMarkdown(match[3])));
    else nodes.push(el("em", {}, match[4]));
    last = match.index + match[0].length;
  }
  nodes.push(source.slice(last));
  return nodes.filter((node) => node !== "");
}

export function badge(text, kind = text) {
  return el("span", { class: `badge ${kind}` }, String(text).replace("_", " "));
}

export function setProgress(bar, percent) {
  const value = Math.max(0, Math.min(100, Number(percent) || 0));
  bar.querySelector("span").style.width = `${value}%`;
  bar.setAttribute("aria-valuenow", String(value));
}

export function progressBar(percent, label) {
  const bar = el("div", { class: "bar", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100 },
    el("span"));
  setProgress(bar, percent);
  return bar;
}

export function percent(value) {
  return `${Math.round((Number(value) || 0) * 10) / 10}%`;
}

// "3 s", "4 min 5 s", "2 h 10 min": durations a person reads at a glance.
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function secondsSince(iso, now = Date.now()) {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? null : (now - then) / 1000;
}

export function ago(iso) {
  const seconds = secondsSince(iso);
  return seconds === null ? "never" : `${duration(seconds)} ago`;
}

// Local wall-clock time; the date too when it is not today.
export function clockTime(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const sameDay = when.toDateString() === new Date().toDateString();
  return sameDay ? when.toLocaleTimeString() : when.toLocaleString();
}
