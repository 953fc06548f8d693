// cnnviz maps: the network overview's clickable feature maps. Two kinds, both drawn from data Python sends
// (pictures as PNG data URLs, titles as plain text, never HTML):
//  - "columns": one column per stage, its maps stacked; a click on a map reports {column, map};
//  - "map": one map enlarged; a click on a cell reports {row, col}. The chosen cell is framed.
// Pictures are drawn pixelated (each activation a crisp square), at least `cell` px wide.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function columns(root, data, report) {
  const wrap = el("div", "cnnviz-columns");
  data.columns.forEach((column, ci) => {
    const box = el("div", "cnnviz-column");
    const title = el("div", "cnnviz-title", column.title);
    title.title = column.name;  // the full layer name on hover where the title is shortened
    box.appendChild(title);
    box.appendChild(el("div", "cnnviz-sub", column.subtitle));
    column.maps.forEach((map, mi) => {
      const b = el("button", "cnnviz-map");
      b.type = "button";
      b.title = map.label;
      b.setAttribute("aria-label", map.label);
      b.dataset.column = String(ci);
      b.dataset.map = String(mi);
      if (data.selected && data.selected[0] === ci && data.selected[1] === mi) b.classList.add("cnnviz-selected");
      const img = el("img");
      img.src = map.src;
      img.alt = map.label;
      img.style.width = `${data.cell}px`;
      img.style.height = `${Math.round((data.cell * map.rows) / map.cols)}px`;
      b.appendChild(img);
      b.addEventListener("click", () => report({column: ci, map: mi}));
      box.appendChild(b);
    });
    wrap.appendChild(box);
  });
  root.appendChild(wrap);
}

function single(root, data, report) {
  const box = el("div", "cnnviz-big");
  box.style.width = `${data.width}px`;
  const img = el("img");
  img.src = data.src;
  img.alt = data.label;
  box.appendChild(img);
  const mark = el("div", "cnnviz-mark");
  const place = (row, col) => {
    mark.style.left = `${(100 * col) / data.cols}%`;
    mark.style.top = `${(100 * row) / data.rows}%`;
    mark.style.width = `${100 / data.cols}%`;
    mark.style.height = `${100 / data.rows}%`;
  };
  if (data.selected) place(data.selected[0], data.selected[1]);
  else mark.style.display = "none";
  box.appendChild(mark);
  const at = (event) => {
    const r = img.getBoundingClientRect();
    const col = Math.min(data.cols - 1, Math.max(0, Math.floor(((event.clientX - r.left) / r.width) * data.cols)));
    const row = Math.min(data.rows - 1, Math.max(0, Math.floor(((event.clientY - r.top) / r.height) * data.rows)));
    return [row, col];
  };
  img.addEventListener("mousemove", (event) => {
    const [row, col] = at(event);
    const value = data.values ? ` = ${data.values[row * data.cols + col]}` : "";
    img.title = `row ${row}, column ${col}${value}`;
  });
  img.addEventListener("click", (event) => {
    const [row, col] = at(event);
    place(row, col);
    mark.style.display = "";
    report({row, col});
  });
  root.appendChild(box);
}

const roots = new WeakMap();

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let root = roots.get(parentElement);  // one root per mount, beside the style sheet Streamlit put there
  if (!root) {
    root = el("div", "cnnviz-maps");
    parentElement.appendChild(root);
    roots.set(parentElement, root);
  }
  root.replaceChildren();
  root.dataset.kind = data.kind;
  const report = (value) => setTriggerValue("picked", value);
  if (data.kind === "columns") columns(root, data, report);
  else single(root, data, report);
  const generation = (root.generation = (root.generation || 0) + 1);
  return () => {
    if (root.generation !== generation) return;  // a later call's render is live
    roots.delete(parentElement);
    root.remove();
  };
}
