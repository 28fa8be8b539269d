// The latent explorer page: controls -> API URLs -> images.
//
// Each image has its own channel that keeps at most one request in flight and,
// when that request returns, asks only for the latest wanted URL: dragging a
// slider sends as fast as the server answers, never faster, and always ends on
// the slider's final value.
"use strict";

const SEED_LIMIT = 2147483648; // seeds are integers in [0, 2^31)
const DIGIT_CSS_SIZE = 384; // about the large digit's size in CSS pixels
const STRIP_TILE_CSS = 56; // about a strip tile's size in CSS pixels: a finger's width

const state = { category: 0, c1: 0, c2: 0, seed: 0, sweep: "c1" };
let info = null;
let statusIsError = false;

const $ = (id) => document.getElementById(id);
const pixelRatio = () => Math.max(1, Math.min(4, Math.round(window.devicePixelRatio || 1)));
const fmt = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);

// The large digit is drawn at a whole number of CSS pixels per image pixel (392 for
// 28x28 images, 384 for 64x64), fills its frame, and the browser doubles it on a
// 2x screen without smoothing; a narrow window shrinks the frame.
const digitScale = () => Math.max(1, Math.min(16, Math.round(DIGIT_CSS_SIZE / info.image_size)));
// The strips' tiles at a whole number of CSS pixels per image pixel too (2 for 28x28
// images, 1 for 64x64), within the server's limit of 8 image pixels per grid pixel.
const stripZoom = () =>
  Math.max(1, Math.min(Math.floor(8 / pixelRatio()), Math.round(STRIP_TILE_CSS / info.image_size)));
const stripScale = () => pixelRatio() * stripZoom();

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
  statusIsError = Boolean(isError);
}

// ---- one image, one request in flight, latest wins -------------------------------

const channels = [];

function updateBusy() {
  const busy = channels.some((c) => c.busy || c.wanted !== c.shown);
  document.documentElement.dataset.busy = busy ? "1" : "0";
}

// An image the server cannot give (an error, or no server) greys out the one shown.
class ImageChannel {
  constructor(img, { fill = false } = {}) {
    this.img = img;
    this.fill = fill; // true: CSS sizes the image; false: one image pixel per CSS pixel
    this.wanted = null;
    this.shown = null;
    this.busy = false;
    this.objectUrl = null;
    channels.push(this);
  }

  request(url) {
    this.wanted = url;
    this.img.dataset.wanted = url;
    if (!this.busy) this.pump();
    updateBusy();
  }

  async pump() {
    this.busy = true;
    updateBusy();
    while (this.wanted !== this.shown) {
      const url = this.wanted;
      try {
        const response = await fetch(url);
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          setStatus(body.error || `the server answered ${response.status}`, true);
          this.img.classList.add("stale");
        } else {
          const objectUrl = URL.createObjectURL(await response.blob());
          const next = new Image();
          next.src = objectUrl;
          await next.decode();
          this.img.src = objectUrl;
          if (!this.fill) {
            this.img.width = next.naturalWidth / pixelRatio();
            this.img.height = next.naturalHeight / pixelRatio();
          }
          this.img.classList.remove("stale");
          if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
          this.objectUrl = objectUrl;
          if (statusIsError && !channels.some((c) => c.img.classList.contains("stale"))) {
            setStatus("", false);
          }
        }
      } catch (err) {
        setStatus(`cannot reach the server (${err.message}); the greyed images are out of date`, true);
        this.img.classList.add("stale");
      }
      this.shown = url;
      this.img.dataset.shown = url;
    }
    this.busy = false;
    updateBusy();
  }
}

// ---- URLs ---------------------------------------------------------------------------

function query(params) {
  return new URLSearchParams(params).toString();
}

function codeParams() {
  return { category: state.category, c1: fmt(state.c1), c2: fmt(state.c2), seed: state.seed };
}

function digitUrl() {
  return `/api/generate?${query({ ...codeParams(), scale: digitScale() })}`;
}

function categoryGridUrl() {
  return `/api/grid?${query({ vary: "category", ...codeParams(), scale: stripScale() })}`;
}

function sweepGridUrl() {
  const steps = sweepSteps();
  return `/api/grid?${query({ vary: state.sweep, ...codeParams(), steps, scale: stripScale() })}`;
}

function sweepSteps() {
  return info.parameters.grid.steps.default;
}

function sweepValues() {
  const [lo, hi] = info.slider_range;
  const n = sweepSteps();
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

// ---- strips: geometry, labels, marks ------------------------------------------------

// Tile i of a one-row grid, in CSS pixels (the grid is requested at the pixel ratio
// times the strip's zoom).
function tileBox(i) {
  const pad = info.grid_padding * stripZoom();
  const size = info.image_size * stripZoom();
  return { left: pad + i * (size + pad), width: size };
}

// A one-row grid of n tiles, in CSS pixels: set on the image before it arrives, so that
// the page does not move when it does.
function sizeStrip(img, n) {
  const pad = info.grid_padding * stripZoom();
  img.width = n * (info.image_size * stripZoom() + pad) + pad;
  img.height = info.image_size * stripZoom() + 2 * pad;
}

function placeBox(el, i) {
  const box = tileBox(i);
  el.style.left = `${box.left}px`;
  el.style.width = `${box.width}px`;
}

// The frame around tile i: the tile and its padding.
function placeFrame(el, i) {
  const box = tileBox(i);
  const pad = info.grid_padding * stripZoom();
  el.style.left = `${box.left - pad}px`;
  el.style.width = `${box.width + 2 * pad}px`;
  el.style.height = `${box.width + 2 * pad}px`;
}

function tileAt(event, count) {
  const x = event.offsetX / stripZoom();
  const pitch = info.image_size + info.grid_padding;
  const i = Math.floor((x - info.grid_padding / 2) / pitch);
  return Math.max(0, Math.min(count - 1, i));
}

function buildStripLabels() {
  const catLabels = document.querySelector("#category-strip .labels");
  catLabels.replaceChildren();
  info.order.forEach((code, i) => {
    const span = document.createElement("span");
    span.textContent = info.labels[code];
    span.title = `code ${code}`;
    placeBox(span, i);
    catLabels.append(span);
  });
  const sweepLabels = document.querySelector("#sweep-strip .labels");
  sweepLabels.replaceChildren();
  const [tlo, thi] = info.training_range;
  sweepValues().forEach((v, i) => {
    const span = document.createElement("span");
    span.textContent = v.toFixed(1).replace("-0.0", "0.0");
    span.classList.toggle("outside", v < tlo - 1e-9 || v > thi + 1e-9);
    placeBox(span, i);
    sweepLabels.append(span);
  });
  // The bracket under the tiles whose value lies in the training range.
  const inside = sweepValues()
    .map((v, i) => [v, i])
    .filter(([v]) => v >= tlo - 1e-9 && v <= thi + 1e-9)
    .map(([, i]) => i);
  const bracket = document.createElement("div");
  bracket.className = "bracket";
  const first = tileBox(inside[0]);
  const last = tileBox(inside[inside.length - 1]);
  bracket.style.left = `${first.left}px`;
  bracket.style.width = `${last.left + last.width - first.left}px`;
  const text = document.createElement("span");
  text.textContent = "training range";
  bracket.append(text);
  sweepLabels.append(bracket);
}

function updateMarks() {
  const catMarks = document.querySelector("#category-strip .marks");
  catMarks.replaceChildren();
  const sel = document.createElement("div");
  sel.className = "selected";
  placeFrame(sel, info.order.indexOf(state.category));
  catMarks.append(sel);

  const sweepMarks = document.querySelector("#sweep-strip .marks");
  sweepMarks.replaceChildren();
  const values = sweepValues();
  const value = state[state.sweep];
  let nearest = 0;
  values.forEach((v, i) => {
    if (Math.abs(v - value) < Math.abs(values[nearest] - value)) nearest = i;
  });
  const near = document.createElement("div");
  near.className = "selected";
  placeFrame(near, nearest);
  sweepMarks.append(near);
  // A pointer at the slider's exact value, between the first and last tile centres.
  const firstBox = tileBox(0);
  const lastBox = tileBox(values.length - 1);
  const c0 = firstBox.left + firstBox.width / 2;
  const c1 = lastBox.left + lastBox.width / 2;
  const [lo, hi] = info.slider_range;
  const pointer = document.createElement("div");
  pointer.className = "pointer";
  pointer.style.left = `${c0 + ((value - lo) / (hi - lo)) * (c1 - c0)}px`;
  pointer.style.top = `${lastBox.width + 2 * info.grid_padding * stripZoom() + 2}px`;
  sweepMarks.append(pointer);
}

// ---- controls -----------------------------------------------------------------------

function buildCategoryButtons() {
  const box = $("categories");
  box.replaceChildren();
  const mapped = Array.isArray(info.category_to_digit);
  info.order.forEach((i) => {
    const label = info.labels[i];
    const name = info.class_names ? info.class_names[i] : null;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.category = String(i);
    button.title = mapped ? `code ${i}, matched to ${matchedTo(i)}` : `code ${i}`;
    const big = document.createElement("span");
    big.className = "big";
    big.textContent = label;
    const small = document.createElement("span");
    small.className = "small";
    small.textContent = name ?? (mapped ? `code ${i}` : "code");
    button.append(big, small);
    button.addEventListener("click", () => {
      state.category = i;
      refresh();
    });
    box.append(button);
  });
  $("strip-hint").textContent =
    `click ${info.noun === "digit" ? "a digit" : "an image"} to select its code`;
  $("label-source").textContent = mapped
    ? `labelled by the ${info.noun} each code was matched to`
    : "no evaluation yet: labelled by code index";
}

// "digit 7", or "class 9 (Ankle boot)" where the classes have names.
function matchedTo(code) {
  const name = info.class_names ? ` (${info.class_names[code]})` : "";
  return `${info.noun} ${info.labels[code]}${name}`;
}

function buildTicks() {
  const [lo, hi] = info.slider_range;
  const [tlo, thi] = info.training_range;
  for (const slider of document.querySelectorAll(".slider")) {
    const band = slider.querySelector(".band");
    band.style.left = `${((tlo - lo) / (hi - lo)) * 100}%`;
    band.style.width = `${((thi - tlo) / (hi - lo)) * 100}%`;
    band.title = `training range [${tlo}, ${thi}]`;
    const zero = slider.querySelector(".zero");
    zero.style.left = `${((0 - lo) / (hi - lo)) * 100}%`;
    const ticks = slider.querySelector(".ticks");
    ticks.replaceChildren();
    for (let v = Math.ceil(lo); v <= Math.floor(hi); v += 1) {
      const span = document.createElement("span");
      span.textContent = String(v);
      span.style.setProperty("--at", String((v - lo) / (hi - lo)));
      span.classList.toggle("inside", v >= tlo && v <= thi);
      ticks.append(span);
    }
    const input = slider.querySelector("input");
    input.min = String(lo);
    input.max = String(hi);
  }
}

function readHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const k = info.code.num_categories;
  const [lo, hi] = info.slider_range;
  const int = (name, max) => {
    const v = Number(params.get(name));
    return params.has(name) && Number.isInteger(v) && v >= 0 && v < max ? v : null;
  };
  const num = (name) => {
    const v = Number(params.get(name));
    return params.has(name) && Number.isFinite(v) && v >= lo && v <= hi ? v : null;
  };
  state.category = int("category", k) ?? state.category;
  state.seed = int("seed", SEED_LIMIT) ?? state.seed;
  state.c1 = num("c1") ?? state.c1;
  state.c2 = num("c2") ?? state.c2;
  if (params.get("sweep") === "c1" || params.get("sweep") === "c2") state.sweep = params.get("sweep");
}

function writeHash() {
  const hash = query({ ...codeParams(), sweep: state.sweep });
  history.replaceState(null, "", `#${hash}`);
}

function syncControls() {
  for (const button of $("categories").querySelectorAll("button")) {
    const pressed = Number(button.dataset.category) === state.category;
    button.setAttribute("aria-pressed", String(pressed));
    button.tabIndex = pressed ? 0 : -1; // Tab stops once in the group; arrows move within
  }
  for (const axis of ["c1", "c2"]) {
    const input = $(axis);
    if (Number(input.value) !== state[axis]) input.value = String(state[axis]);
    $(`${axis}-value`).textContent = fmt(state[axis]);
    input.closest(".slider").classList.toggle("swept", state.sweep === axis);
  }
  if (document.activeElement !== $("seed")) $("seed").value = String(state.seed);
  for (const button of document.querySelectorAll("[data-sweep]")) {
    button.setAttribute("aria-pressed", String(button.dataset.sweep === state.sweep));
  }
  $("sweep-name").textContent = state.sweep;
  const mapped = Array.isArray(info.category_to_digit);
  const what = mapped
    ? `code ${state.category} \u2192 ${matchedTo(state.category)}`
    : `code ${state.category}`;
  $("caption").textContent =
    `${what} \u00b7 c1 ${fmt(state.c1)} \u00b7 c2 ${fmt(state.c2)} \u00b7 seed ${state.seed}`;
}

let digitChannel;
let categoryChannel;
let sweepChannel;

function refresh() {
  syncControls();
  updateMarks();
  writeHash();
  digitChannel.request(digitUrl());
  categoryChannel.request(categoryGridUrl());
  sweepChannel.request(sweepGridUrl());
}

// The arrow keys move the categorical code along the buttons (Home, End: the ends), and
// the focus with it, as in any group of which one is chosen.
function onCategoryKey(event) {
  const n = info.order.length;
  const at = info.order.indexOf(state.category);
  const moves = { ArrowLeft: at - 1, ArrowUp: at - 1, ArrowRight: at + 1, ArrowDown: at + 1 };
  const next = { ...moves, Home: 0, End: n - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  state.category = info.order[(next + n) % n];
  refresh();
  $("categories").querySelector(`[data-category="${state.category}"]`).focus();
}

function wireControls() {
  $("categories").addEventListener("keydown", onCategoryKey);
  for (const axis of ["c1", "c2"]) {
    const input = $(axis);
    const onMove = () => {
      state[axis] = Number(input.value);
      state.sweep = axis;
      refresh();
    };
    input.addEventListener("input", onMove);
    input.addEventListener("change", onMove);
  }
  const seed = $("seed");
  seed.addEventListener("input", () => {
    const text = seed.value.trim();
    const v = Number(text);
    const ok = /^[0-9]+$/.test(text) && v < SEED_LIMIT;
    seed.classList.toggle("invalid", !ok);
    $("seed-error").textContent = ok
      ? ""
      : `the seed must be an integer in [0, ${SEED_LIMIT - 1}]; the digits show seed ${state.seed}`;
    if (!ok) return;
    state.seed = v;
    refresh();
  });
  seed.addEventListener("blur", () => {
    seed.classList.remove("invalid");
    $("seed-error").textContent = "";
    seed.value = String(state.seed);
  });
  $("new-noise").addEventListener("click", () => {
    state.seed = Math.floor(Math.random() * SEED_LIMIT);
    $("seed").classList.remove("invalid");
    $("seed-error").textContent = "";
    refresh();
  });
  for (const button of document.querySelectorAll("[data-sweep]")) {
    button.addEventListener("click", () => {
      state.sweep = button.dataset.sweep;
      refresh();
    });
  }
  $("category-grid").addEventListener("click", (event) => {
    state.category = info.order[tileAt(event, info.code.num_categories)];
    refresh();
  });
  $("sweep-grid").addEventListener("click", (event) => {
    const values = sweepValues();
    state[state.sweep] = values[tileAt(event, values.length)];
    refresh();
  });
}

async function start() {
  document.documentElement.dataset.busy = "1";
  try {
    const response = await fetch("/api/info");
    info = await response.json();
  } catch (err) {
    setStatus(`cannot reach the server (${err.message})`, true);
    return;
  }
  const code = info.code;
  $("meta").textContent =
    `${info.preset} \u00b7 step ${info.step} \u00b7 ${info.image_size}\u00d7${info.image_size} \u00b7 ` +
    `z: ${code.noise_dim} noise values \u00b7 ${code.num_categories} categories \u00b7 ` +
    `${code.num_continuous} continuous codes`;
  readHash();
  buildCategoryButtons();
  buildTicks();
  buildStripLabels();
  $("digit-frame").style.setProperty("--digit-size", `${digitScale() * info.image_size}px`);
  digitChannel = new ImageChannel($("digit"), { fill: true });
  categoryChannel = new ImageChannel($("category-grid"));
  sweepChannel = new ImageChannel($("sweep-grid"));
  sizeStrip($("category-grid"), code.num_categories);
  sizeStrip($("sweep-grid"), sweepSteps());
  wireControls();
  window.addEventListener("hashchange", () => {
    readHash();
    refresh();
  });
  refresh();
}

start();
