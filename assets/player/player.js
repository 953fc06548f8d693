// cnnviz step player: draws the panels of one convolution-arithmetic case and animates its steps in the
// browser. Everything it shows (numbers, highlights, colour levels, captions) comes from Python
// (cnnviz/player.py); this file only lays out, times and draws. Keys: space plays or pauses, the arrows
// step, Home and End jump.

const SPEEDS = [0.5, 1, 2, 4, 8];

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Button icons as SVG paths (24×24), so they never depend on a font having the glyph.
const ICONS = {
  first: "M6 6h2v12H6zm3.5 6 8.5 6V6z",
  back: "M15.4 7.4 14 6l-6 6 6 6 1.4-1.4-4.6-4.6z",
  play: "M8 5v14l11-7z",
  pause: "M6 19h4V5H6v14zm8-14v14h4V5h-4z",
  forward: "M10 6 8.6 7.4l4.6 4.6-4.6 4.6L10 18l6-6z",
  last: "M6 18l8.5-6L6 6v12zM16 6v12h2V6h-2z",
};
const SVG = "http://www.w3.org/2000/svg";

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "24");
  svg.setAttribute("height", "24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.appendChild(path);
  return svg;
}

// How far the page is scrolled above `node`: its scrolling ancestors' offsets, across shadow roots.
function scrolledBy(node) {
  let total = 0;
  for (let n = node; n; n = n.parentElement || (n.getRootNode && n.getRootNode().host)) total += n.scrollTop || 0;
  return total;
}

function button(label, title, onClick) {
  const b = el("button", "cnnviz-btn", label in ICONS ? undefined : label);
  if (label in ICONS) b.appendChild(icon(label));
  b.type = "button";
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", onClick);
  return b;
}

class Player {
  constructor(parent) {
    this.root = el("div", "cnnviz-player");
    this.root.tabIndex = 0;
    parent.appendChild(this.root);
    this.bar = el("div", "cnnviz-bar");
    this.first = button("first", "First step (Home)", () => this.go(0));
    this.back = button("back", "Step back (←)", () => this.go(this.index - 1));
    this.play = button("play", "Play or pause (space)", () => this.toggle());
    this.forward = button("forward", "Step forward (→)", () => this.go(this.index + 1));
    this.last = button("last", "Last step (End)", () => this.go(this.data.steps.length - 1));
    this.scrub = el("input", "cnnviz-scrub");
    this.scrub.type = "range";
    this.scrub.min = "0";
    this.scrub.setAttribute("aria-label", "Step");
    this.scrub.addEventListener("input", () => this.go(Number(this.scrub.value)));
    this.counter = el("span", "cnnviz-counter");
    this.speeds = el("span", "cnnviz-speeds");
    this.speedButtons = SPEEDS.map((s) => {
      const b = button(`${s}`, `${s} steps per second`, () => this.setSpeed(s));
      b.dataset.speed = String(s);
      this.speeds.appendChild(b);
      return b;
    });
    const speedLabel = el("span", "cnnviz-speed-label", "steps/s");
    this.bar.append(this.first, this.back, this.play, this.forward, this.last, this.scrub, this.counter,
      this.speeds, speedLabel);
    this.caption = el("div", "cnnviz-caption");
    this.caption.setAttribute("aria-live", "polite");
    this.stage = el("div", "cnnviz-stage");
    this.root.append(this.bar, this.caption, this.stage);
    this.index = 0;
    this.speed = 2;
    this.playing = false;
    this.frame = null;
    this.onKey = (event) => this.key(event);
    document.addEventListener("keydown", this.onKey);
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.root);
    this.onWindow = () => this.layout();  // a taller or shorter screen: presentation mode fits it again
    window.addEventListener("resize", this.onWindow);
    if (document.fonts) document.fonts.ready.then(() => this.layout(true));  // text above may grow with its font
  }

  load(data) {
    const first = !this.data;
    const fresh = first || this.data.id !== data.id;
    // the step the server names (a link's, or a followed teacher's) moved since the last data: go there
    const moved = !fresh && (this.data.start || 1) !== (data.start || 1);
    if (first) this.setSpeed(data.speed || 2);  // later reruns keep the speed chosen here
    this.data = data;
    this.present = Boolean(data.present);
    this.root.classList.toggle("cnnviz-present", this.present);
    this.scrub.max = String(data.steps.length - 1);
    if (fresh) {  // a new case starts at step 1; a link may name the step the page opens at
      this.pause();
      this.index = first ? Math.max(0, (data.start || 1) - 1) : 0;
      this.shownLayout = null;
    } else if (moved && this.index !== (data.start || 1) - 1) {
      this.pause();
      this.index = Math.max(0, (data.start || 1) - 1);
    }
    this.fitted = null;  // the stage is sized again for these data
    this.index = Math.min(this.index, data.steps.length - 1);
    this.show(this.index, true);
    this.layout();  // presentation mode: fitted to the screen again (done already if the panels were rebuilt)
  }

  key(event) {
    const target = event.target;
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(target.tagName))
        && !this.root.contains(target)) return;
    if (!this.root.isConnected) return;
    const moves = {ArrowRight: 1, ArrowLeft: -1};
    if (event.key === " " || event.code === "Space") this.toggle();
    else if (event.key in moves) this.go(this.index + moves[event.key]);
    else if (event.key === "Home") this.go(0);
    else if (event.key === "End") this.go(this.data.steps.length - 1);
    else return;
    event.preventDefault();
  }

  setSpeed(speed) {
    this.speed = speed;
    for (const b of this.speedButtons) b.classList.toggle("cnnviz-on", Number(b.dataset.speed) === speed);
    this.root.dataset.speed = String(speed);
    if (this.playing) this.startClock();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.start();
  }

  start() {
    if (this.index >= this.data.steps.length - 1) this.show(0);
    this.playing = true;
    this.play.replaceChildren(icon("pause"));
    this.root.dataset.playing = "true";
    this.startClock();
    const tick = () => {
      if (!this.playing) return;
      // The clock, not the frame count, decides the step: the speed holds however long a frame takes.
      const elapsed = Math.max(0, performance.now() - this.t0);
      const target = this.startIndex + Math.floor((elapsed / 1000) * this.speed);
      const last = this.data.steps.length - 1;
      if (target !== this.index) this.show(Math.min(target, last));
      if (target >= last) this.pause();
      else this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  startClock() {
    this.t0 = performance.now();
    this.startIndex = this.index;
  }

  pause() {
    this.playing = false;
    this.play.replaceChildren(icon("play"));
    this.root.dataset.playing = "false";
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    this.keepStepInLink();
  }

  go(index) {
    this.pause();
    this.show(Math.max(0, Math.min(index, this.data.steps.length - 1)));
  }

  // Cell texts and levels of every panel at step `index`: writes of earlier steps accumulate, except in
  // transient panels (products), which show only this step's.
  state(index) {
    const {panels, steps} = this.data;
    const text = panels.map((p) => p.text.slice());
    const level = panels.map((p) => p.level.slice());
    for (let i = 0; i <= index; i++) {
      for (const [pid, cell, value, lvl] of steps[i].set) {
        if (panels[pid].transient && i !== index) continue;
        text[pid][cell] = value;
        level[pid][cell] = lvl;
      }
    }
    return {text, level};
  }

  show(index, force = false) {
    if (!force && index === this.index && this.shownLayout !== null) return;
    const data = this.data;
    const step = data.steps[index];
    this.index = index;
    if (this.shownLayout !== step.oc) this.build(step.oc, this.present ? this.arranged || "rows" : "rows");
    const {text, level} = this.state(index);
    const marks = new Map();
    for (const [pid, cells] of step.red) for (const c of cells) marks.set(`${pid}:${c}`, "red");
    for (const [pid, cells] of step.orange) for (const c of cells) marks.set(`${pid}:${c}`, "orange");
    for (const [pid, cells] of this.cells) {
      const panel = data.panels[pid];
      const palette = data.palettes[panel.palette];
      const [darkFrom, darkTo] = data.dark[panel.palette];
      const grey = new Set(panel.grey);
      cells.forEach((cell, i) => {
        const lvl = level[pid][i];
        const isGrey = grey.has(i);
        cell.textContent = text[pid][i];
        cell.title = text[pid][i];
        cell.style.background = isGrey ? "" : lvl < 0 ? "transparent" : palette[lvl];
        const dark = !isGrey && lvl >= 0 && (panel.palette === "signed"
          ? Math.abs(lvl - (palette.length - 1) / 2) > palette.length * 0.3
          : lvl >= darkFrom && lvl < darkTo);
        cell.classList.toggle("cnnviz-dark", dark);
        cell.classList.toggle("cnnviz-grey", isGrey);
        const mark = marks.get(`${pid}:${i}`);
        cell.classList.toggle("cnnviz-red", mark === "red");
        cell.classList.toggle("cnnviz-orange", mark === "orange");
      });
    }
    this.scrub.value = String(index);
    this.counter.textContent = `Step ${index + 1} of ${data.steps.length}`;
    this.caption.textContent = step.caption;
    this.root.dataset.step = String(index + 1);
    this.root.dataset.steps = String(data.steps.length);
    if (!this.playing) {
      this.keepStepInLink();
      this.reportStep();
    }
  }

  // A teacher's player (data.report) tells the server the step it rests on, for the room's students; never while
  // playing (a rerun per frame), and each step once.
  reportStep() {
    if (!this.data || !this.data.report || !this.setStateValue) return;
    const step = this.index + 1;
    if (this.reported === step) return;
    this.reported = step;
    this.setStateValue("step", step);
  }

  // The page's address names the step shown (data.link: the parameter), so that a copied link opens there.
  // Only the address changes (no rerun); Streamlit sends the address with the next rerun it asks for.
  keepStepInLink() {
    if (!this.data || !this.data.link) return;
    try {
      const url = new URL(window.location.href);
      const value = String(this.index + 1);
      if (url.searchParams.get(this.data.link) === value) return;
      url.searchParams.set(this.data.link, value);
      window.history.replaceState(window.history.state, "", url);
    } catch (error) {  // an address that cannot be rewritten (a sandboxed frame): the link keeps its step
      console.debug("cnnviz player: the step stays out of the link", error);
    }
  }

  // The panels of output channel `oc`: in "rows", one row per input channel (its input, kernel and products;
  // the output ends the first row); in "columns" (presentation mode, several input channels), one column per
  // input channel, its input above its kernel and products, and the output after the columns.
  build(oc, arrangement = "rows", fit = true) {
    const data = this.data;
    this.stage.replaceChildren();
    this.cells = new Map();
    this.arranged = arrangement;
    this.stage.classList.toggle("cnnviz-columns", arrangement === "columns");
    const lines = [];
    if (arrangement === "columns") {
      const line = el("div", "cnnviz-row");
      const outputs = [];
      for (const row of data.layouts[oc]) {
        const column = el("div", "cnnviz-channel");
        const below = el("div", "cnnviz-row");
        const channel = / · in ch \d+/.exec(data.panels[row[0]].title);  // the input's title names the channel
        row.forEach((pid, n) => {
          if (data.panels[pid].kind === "output") outputs.push(pid);
          else if (n === 0) column.appendChild(this.panel(pid));
          else below.appendChild(this.panel(pid, channel && channel[0]));  // said once, over the column
        });
        column.appendChild(below);
        line.appendChild(column);
      }
      const last = el("div", "cnnviz-channel");
      for (const pid of outputs) last.appendChild(this.panel(pid));
      line.appendChild(last);
      lines.push(line);
    } else {
      for (const row of data.layouts[oc]) {
        const line = el("div", "cnnviz-row");
        for (const pid of row) line.appendChild(this.panel(pid));
        lines.push(line);
      }
    }
    this.stage.append(...lines);
    this.shownLayout = oc;
    if (fit) this.layout(true);
  }

  // One panel: its title (less `unsaid`, which the column's input says) and its grid of cells (kept in
  // this.cells for show()).
  panel(pid, unsaid = null) {
    const panel = this.data.panels[pid];
    const box = el("figure", `cnnviz-panel cnnviz-${panel.kind}`);
    box.dataset.kind = panel.kind;
    const title = el("figcaption", "cnnviz-title", unsaid ? panel.title.replace(unsaid, "") : panel.title);
    const grid = el("div", "cnnviz-grid");
    grid.style.gridTemplateColumns = `repeat(${panel.cols}, var(--cell))`;
    grid.style.gridTemplateRows = `repeat(${panel.rows}, var(--cell))`;
    const cells = [];
    for (let i = 0; i < panel.rows * panel.cols; i++) {
      const cell = el("div", "cnnviz-cell");
      grid.appendChild(cell);
      cells.push(cell);
    }
    if (panel.frame) {
      const [r, c, h, w] = panel.frame;
      const frame = el("div", "cnnviz-frame");
      const at = (n) => `calc(${n} * (var(--cell) + 2px))`;  // 2px: the grid's gap
      Object.assign(frame.style, {top: at(r), left: at(c), width: `calc(${at(w)} - 2px)`,
        height: `calc(${at(h)} - 2px)`});
      grid.appendChild(frame);
    }
    this.cells.set(pid, cells);
    box.append(title, grid);
    return box;
  }

  // One cell size for every panel, so a 3×3 kernel is drawn smaller than a 7×7 input: as large as lets each
  // row of panels fit the width, within limits; panels wrap onto more lines when a row cannot fit.
  layout(force = false) {
    if (!this.data || this.shownLayout === null) return;
    if (this.present) {
      this.fitToScreen(force);
      return;
    }
    const width = Math.max(this.root.clientWidth, 200);
    const gap = 24;
    const most = this.present ? 88 : 56;
    const least = this.present ? 36 : 30;
    let cell = most;
    for (const row of this.data.layouts[this.shownLayout]) {  // panels' gaps and their cells' 2px gaps
      const cols = row.reduce((n, pid) => n + this.data.panels[pid].cols, 0);
      const fixed = gap * (row.length - 1) + 2 * (cols - row.length) + 8;
      cell = Math.min(cell, Math.floor((width - fixed) / cols));
    }
    if (cell < least) {  // let the row wrap, and keep the widest panel within the width
      const widest = Math.max(...this.data.panels.map((p) => p.cols));
      cell = Math.min(most, Math.max(Math.floor((width - 8 - 2 * widest) / widest), 8));
    }
    this.setCell(cell);
  }

  setCell(cell) {
    const font = Math.min(this.present ? 30 : 24, Math.max(16, Math.floor(cell * 0.45)));
    this.root.style.setProperty("--cell", `${cell}px`);
    this.root.style.setProperty("--cell-font", `${font}px`);
    // Numbers are written at 16 px or more, or not at all (then on hover): cells under 30 px cannot hold them.
    this.root.classList.toggle("cnnviz-no-numbers", cell < 30);
    this.root.dataset.cell = String(cell);
  }

  // Presentation mode: the largest cells (88 px at most) at which every panel fits both the width and the screen
  // below the stage's top, so that a projector shows the whole step without scrolling. With several input
  // channels both arrangements are tried and the one with the larger cells kept. The caption keeps the height of
  // the longest one, so the panels never move from step to step.
  fitToScreen(force) {
    const screen = `${this.root.clientWidth}x${window.innerHeight}`;
    if (!force && this.fitted === screen) return;
    this.fitted = screen;
    this.reserveCaption();
    const options = this.data.layouts[this.shownLayout].length > 1 ? ["columns", "rows"] : ["rows"];
    let best = null;
    let rebuilt = false;
    for (const arrangement of options) {
      if (this.arranged !== arrangement) {
        this.build(this.shownLayout, arrangement, false);
        rebuilt = true;
      }
      const cell = this.largestFitting();
      if (!best || cell > best.cell) best = {arrangement, cell};
    }
    if (this.arranged !== best.arrangement) this.build(this.shownLayout, best.arrangement, false);
    this.setCell(best.cell);
    if (rebuilt) this.show(this.index, true);  // the rebuilt panels get this step's numbers
  }

  // The largest whole cell size in 8 … 88 px at which the stage fits (a binary search: smaller cells never fit less).
  largestFitting() {
    const room = {
      width: this.stage.clientWidth,
      height: window.innerHeight - (this.stage.getBoundingClientRect().top + scrolledBy(this.stage)) - 8,
    };
    const fits = () => this.stage.scrollWidth <= room.width + 0.5 && this.stage.scrollHeight <= room.height;
    let low = 8;
    let high = 88;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      this.setCell(mid);
      if (fits()) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  reserveCaption() {
    const shown = this.caption.textContent;
    const longest = this.data.steps.reduce((a, s) => (s.caption.length > a.length ? s.caption : a), "");
    this.caption.style.minHeight = "";
    this.caption.textContent = longest;
    this.caption.style.minHeight = `${this.caption.getBoundingClientRect().height}px`;
    this.caption.textContent = shown;
  }

  destroy() {
    this.pause();
    document.removeEventListener("keydown", this.onKey);
    window.removeEventListener("resize", this.onWindow);
    this.resize.disconnect();
    this.root.remove();
  }
}

const players = new WeakMap();

export default function (component) {
  const {data, parentElement, setStateValue} = component;
  let player = players.get(parentElement);
  if (!player) {
    player = new Player(parentElement);
    players.set(parentElement, player);
  }
  player.setStateValue = setStateValue;
  player.load(data);
  // Streamlit calls the function again when the data change (same player, new case or speed) and keeps only
  // the latest cleanup for unmounting; an earlier call's cleanup must not tear down the live player.
  const generation = (player.generation = (player.generation || 0) + 1);
  return () => {
    if (player.generation !== generation) return;
    players.delete(parentElement);
    player.destroy();
  };
}
