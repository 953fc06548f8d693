// cnnviz drawing canvas: draw with the mouse, a finger or a pen; Undo and Clear. Each stroke is kept as its
// brush size, colour and points (canvas pixels) and sent to Python as the component's "strokes" state when it
// ends; Python draws the image the model sees from them (cnnviz/data/drawing.py), so no picture is ever
// decoded from the browser. Brush size, colour, background and the strokes so far come from Python.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class Canvas {
  constructor(parent) {
    this.root = el("div", "cnnviz-canvas");
    this.canvas = el("canvas");
    this.canvas.setAttribute("aria-label", "Drawing canvas: draw with the mouse, a finger or a pen");
    this.canvas.style.touchAction = "none";
    this.ctx = this.canvas.getContext("2d");
    const bar = el("div", "cnnviz-canvas-bar");
    this.undo = el("button", "cnnviz-canvas-btn", "Undo");
    this.clear = el("button", "cnnviz-canvas-btn", "Clear");
    for (const b of [this.undo, this.clear]) b.type = "button";
    bar.append(this.undo, this.clear);
    this.root.append(this.canvas, bar);
    parent.appendChild(this.root);
    this.strokes = null;
    this.current = null;
    this.canvas.addEventListener("pointerdown", (e) => this.start(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const name of ["pointerup", "pointercancel", "pointerleave"]) this.canvas.addEventListener(name, () => this.end());
    this.undo.addEventListener("click", () => { this.strokes.pop(); this.redraw(); this.send(); });
    this.clear.addEventListener("click", () => { this.strokes = []; this.redraw(); this.send(); });
  }

  load(data, send) {
    this.data = data;
    this.sendState = send;
    if (this.canvas.width !== data.size) {
      this.canvas.width = data.size;
      this.canvas.height = data.size;
    }
    if (this.strokes === null || data.reset) this.strokes = (data.strokes || []).map((s) => ({...s, points: s.points.slice()}));
    this.redraw();
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    const scale = this.data.size / r.width;
    const clamp = (v) => Math.round(Math.min(this.data.size, Math.max(0, v)) * 10) / 10;
    return [clamp((e.clientX - r.left) * scale), clamp((e.clientY - r.top) * scale)];
  }

  start(e) {
    if (this.strokes.length >= this.data.max_strokes) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.current = {size: this.data.brush, colour: this.data.colour, points: [this.point(e)]};
    this.strokes.push(this.current);
    this.redraw();
  }

  move(e) {
    if (!this.current) return;
    const [x, y] = this.point(e);
    const last = this.current.points[this.current.points.length - 1];
    if (Math.hypot(x - last[0], y - last[1]) < 1 || this.current.points.length >= this.data.max_points) return;
    this.current.points.push([x, y]);
    this.redraw();
  }

  end() {
    if (!this.current) return;
    this.current = null;
    this.send();
  }

  send() {
    this.sendState("strokes", this.strokes);
  }

  redraw() {
    const {ctx, data} = this;
    ctx.fillStyle = data.background;
    ctx.fillRect(0, 0, data.size, data.size);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of this.strokes) {
      ctx.strokeStyle = s.colour;
      ctx.fillStyle = s.colour;
      ctx.lineWidth = s.size;
      if (s.points.length === 1) {
        ctx.beginPath();
        ctx.arc(s.points[0][0], s.points[0][1], s.size / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(s.points[0][0], s.points[0][1]);
      for (const [x, y] of s.points.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
    this.undo.disabled = this.strokes.length === 0;
    this.clear.disabled = this.strokes.length === 0;
    this.root.dataset.strokes = String(this.strokes.length);
  }
}

const canvases = new WeakMap();

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  let canvas = canvases.get(parentElement);
  if (!canvas) {
    canvas = new Canvas(parentElement);
    canvases.set(parentElement, canvas);
  }
  canvas.load(data, setStateValue);
  const generation = (canvas.generation = (canvas.generation || 0) + 1);
  return () => {
    if (canvas.generation !== generation) return;
    canvases.delete(parentElement);
    canvas.root.remove();
  };
}
