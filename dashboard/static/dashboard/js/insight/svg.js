// SVG elements for the charts: el() of ui.js, in the SVG namespace.

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false || child === "") continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Outcome -> bar colour, the badge colours of dashboard.css.
export const OUTCOME_COLOURS = {
  completed: "#1c7c3c", failed: "#b3261e", running: "#1f5fbf", interrupted: "#9a6200",
};

// Width to draw at: the container's, so text stays readable on a phone (no scaled viewBox).
export function widthOf(container, fallback = 640) {
  return Math.max(280, Math.floor(container.clientWidth || fallback));
}
