// The web demo's page (plain browser JavaScript, no build step). It uploads the image once
// (POST /api/images: the server encodes it per model and keys it by the hash of its bytes), then
// sends each prompt with that id (POST /api/predict) and draws every model's mask over the image.
// Coordinates sent to the server are in the image's own pixels. The image and mask canvases hold
// the image's pixels (huge images at most MAX_CANVAS px wide or high) and are scaled by CSS to fit
// the panel; the prompt canvas has the displayed size in device pixels, so strokes stay sharp.

const MAX_CANVAS = 2048;
const MASK_ALPHA = 110;
const MASK_COLOURS = { base: [30, 120, 255], lora: [255, 110, 0] };
const OTHER_COLOUR = [160, 60, 220];
const BOX_COLOUR = '#00d000';
const POINT_COLOURS = { 1: '#00d000', 0: '#ff2828' };
// A press that moves less than this (CSS px) is a click (a point), not a drag (a box).
const CLICK_SLOP = 4;

const $ = (selector) => document.querySelector(selector);

const state = {
  info: null,
  file: null,
  /** Promise of the upload's { id, width, height } (rejects with the server's error). */
  upload: null,
  width: 0,
  height: 0,
  /** Image pixels -> image and mask canvas pixels. */
  scale: 1,
  bitmap: null,
  box: null,
  points: [],
  drag: null,
  /** Bumped on every new image: answers about an older one are dropped. */
  generation: 0,
};

/** model name -> { root, image, mask, prompt, iou } */
const panels = new Map();

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, url, body, contentType) {
  let res;
  try {
    res = await fetch(url, { method, body, headers: contentType ? { 'Content-Type': contentType } : {} });
  } catch (err) {
    throw new ApiError(`Cannot reach the server (${err.message}). Is sam-lora serve still running?`, 0, 'network');
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    // Not JSON: the status says what happened.
  }
  if (!res.ok) throw new ApiError(json && json.error ? json.error : `The server answered ${res.status} ${res.statusText}`, res.status, json && json.code);
  return json;
}

// ---------------------------------------------------------------------------------------------
// Messages

function showError(message) {
  const el = $('#error');
  el.textContent = message;
  el.hidden = false;
}

function hideError() {
  $('#error').hidden = true;
}

function setStatus(text) {
  $('#status').textContent = text;
}

const megabytes = (n) => `${(n / (1 << 20)).toFixed(1)} MB`;

// ---------------------------------------------------------------------------------------------
// Panels

function modelTitle(m) {
  if (!m.lora) return 'Base SAM (untuned)';
  return `LoRA: ${m.lora.split(/[\\/]/).slice(-2).join('/')}`;
}

function createPanels(info) {
  const main = $('#panels');
  const template = $('#panel-template');
  main.style.setProperty('--columns', String(info.models.length));
  for (const m of info.models) {
    const root = template.content.firstElementChild.cloneNode(true);
    root.dataset.model = m.name;
    root.querySelector('.title').textContent = modelTitle(m);
    const panel = {
      root,
      image: root.querySelector('canvas.image'),
      mask: root.querySelector('canvas.mask'),
      prompt: root.querySelector('canvas.prompt'),
      iou: root.querySelector('.iou'),
    };
    panel.mask.dataset.model = m.name;
    bindPointer(panel);
    panels.set(m.name, panel);
    main.append(root);
  }
}

function setPanelsState(value) {
  for (const p of panels.values()) p.root.dataset.state = value;
}

function clearMasks() {
  for (const p of panels.values()) {
    p.mask.getContext('2d').clearRect(0, 0, p.mask.width, p.mask.height);
    p.iou.textContent = '';
  }
}

// ---------------------------------------------------------------------------------------------
// The image

async function loadFile(file) {
  if (!file || !state.info) return;
  hideError();
  const limit = state.info.limits.maxUploadBytes;
  if (file.size === 0) return showError(`${file.name} is empty (0 bytes).`);
  if (file.size > limit) return showError(`${file.name} is ${megabytes(file.size)}: the server accepts images up to ${megabytes(limit)}.`);

  const generation = ++state.generation;
  state.file = file;
  state.box = null;
  state.points = [];
  state.width = 0;
  $('#clear').disabled = true;
  clearMasks();
  setStatus(`Uploading ${file.name} and encoding it…`);
  const upload = uploadFile(file);
  state.upload = upload;
  // Nothing else waits on it yet; errors are reported below.
  upload.catch(() => undefined);

  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    // Not displayable here: the server's verdict below says whether it is an image at all.
  }
  if (generation !== state.generation) return;
  if (bitmap) showImage(bitmap);
  else setPanelsState('empty');

  try {
    const info = await upload;
    if (generation !== state.generation) return;
    if (!bitmap) {
      return showError(`${file.name} is a ${info.width} x ${info.height} image the server can read, but this browser cannot display it (TIFF?). Convert it to PNG or JPEG.`);
    }
    if (info.width !== state.width || info.height !== state.height) {
      state.width = 0; // no prompting: its coordinates would be wrong
      return showError(`The browser shows ${file.name} as ${state.width} x ${state.height} px but the server decoded ${info.width} x ${info.height} px; the prompt coordinates would not match.`);
    }
    setStatus(`${file.name}: ${info.width} x ${info.height} px, ${info.encoded ? 'encoded' : 'already encoded'}. Drag a box or click points.`);
  } catch (err) {
    if (generation !== state.generation) return;
    setPanelsState('empty');
    state.width = 0;
    setStatus('');
    showError(err.message);
  }
}

async function uploadFile(file) {
  return api('POST', '/api/images', file, 'application/octet-stream');
}

function showImage(bitmap) {
  if (state.bitmap) state.bitmap.close();
  state.bitmap = bitmap;
  state.width = bitmap.width;
  state.height = bitmap.height;
  state.scale = Math.min(1, MAX_CANVAS / Math.max(bitmap.width, bitmap.height));
  const cw = Math.max(1, Math.round(bitmap.width * state.scale));
  const ch = Math.max(1, Math.round(bitmap.height * state.scale));
  for (const p of panels.values()) {
    for (const c of [p.image, p.mask]) {
      c.width = cw;
      c.height = ch;
    }
    p.image.getContext('2d').drawImage(bitmap, 0, 0, cw, ch);
  }
  setPanelsState('ready');
  layoutStages();
}

/** Fits each panel's stage to the panel's width and 72 % of the window's height, aspect kept. */
function layoutStages() {
  if (!state.width) return;
  const dpr = window.devicePixelRatio || 1;
  for (const p of panels.values()) {
    const stage = p.prompt.parentElement;
    const style = window.getComputedStyle(p.root);
    const available = p.root.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const s = Math.min(available / state.width, (0.72 * window.innerHeight) / state.height);
    const w = Math.max(1, Math.floor(state.width * s));
    const h = Math.max(1, Math.floor(state.height * s));
    stage.style.width = `${w}px`;
    stage.style.height = `${h}px`;
    p.prompt.width = Math.round(w * dpr);
    p.prompt.height = Math.round(h * dpr);
  }
  drawPrompts();
}

// ---------------------------------------------------------------------------------------------
// The prompt

/** The pointer position in image pixels, clamped to the image. */
function imagePoint(panel, event) {
  const r = panel.prompt.getBoundingClientRect();
  const x = ((event.clientX - r.left) / r.width) * state.width;
  const y = ((event.clientY - r.top) / r.height) * state.height;
  return { x: Math.min(state.width, Math.max(0, x)), y: Math.min(state.height, Math.max(0, y)) };
}

function bindPointer(panel) {
  const canvas = panel.prompt;
  canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !state.width) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    const p = imagePoint(panel, e);
    state.drag = { x0: p.x, y0: p.y, x1: p.x, y1: p.y, cx: e.clientX, cy: e.clientY, moved: false, negative: e.shiftKey };
  });
  canvas.addEventListener('pointermove', (e) => {
    const d = state.drag;
    if (!d) return;
    const p = imagePoint(panel, e);
    d.x1 = p.x;
    d.y1 = p.y;
    d.moved ||= Math.hypot(e.clientX - d.cx, e.clientY - d.cy) > CLICK_SLOP;
    drawPrompts();
  });
  canvas.addEventListener('pointerup', () => {
    const d = state.drag;
    if (!d) return;
    state.drag = null;
    if (d.moved) {
      state.box = [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)].map(Math.round);
    } else {
      state.points.push({ x: Math.round(d.x0), y: Math.round(d.y0), label: d.negative ? 0 : 1 });
    }
    promptChanged();
  });
  canvas.addEventListener('pointercancel', () => {
    state.drag = null;
    drawPrompts();
  });
  canvas.addEventListener('contextmenu', (e) => {
    e.preventDefault();
    if (!state.width) return;
    const p = imagePoint(panel, e);
    state.points.push({ x: Math.round(p.x), y: Math.round(p.y), label: 0 });
    promptChanged();
  });
}

function hasPrompt() {
  return state.box !== null || state.points.length > 0;
}

function promptChanged() {
  $('#clear').disabled = !hasPrompt();
  drawPrompts();
  requestPredict();
}

function drawPrompts() {
  const dpr = window.devicePixelRatio || 1;
  for (const p of panels.values()) {
    const c = p.prompt;
    const ctx = c.getContext('2d');
    ctx.clearRect(0, 0, c.width, c.height);
    if (!state.width) continue;
    // Image pixels -> prompt-canvas pixels; strokes are in device pixels.
    const k = c.width / state.width;
    const rect = (b, dashed) => {
      const args = [b[0] * k, b[1] * k, (b[2] - b[0]) * k, (b[3] - b[1]) * k];
      ctx.setLineDash(dashed ? [6 * dpr, 4 * dpr] : []);
      ctx.lineWidth = 4 * dpr;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.6)';
      ctx.strokeRect(...args);
      ctx.lineWidth = 2 * dpr;
      ctx.strokeStyle = BOX_COLOUR;
      ctx.strokeRect(...args);
    };
    if (state.box) rect(state.box, false);
    const d = state.drag;
    if (d && d.moved) rect([Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)], true);
    ctx.setLineDash([]);
    for (const pt of state.points) {
      ctx.beginPath();
      ctx.arc(pt.x * k, pt.y * k, 6 * dpr, 0, 2 * Math.PI);
      ctx.fillStyle = POINT_COLOURS[pt.label];
      ctx.fill();
      ctx.lineWidth = 2 * dpr;
      ctx.strokeStyle = '#000';
      ctx.stroke();
    }
  }
}

function clearPrompt() {
  state.box = null;
  state.points = [];
  promptChanged();
}

// ---------------------------------------------------------------------------------------------
// Predictions: one request at a time; prompts drawn meanwhile are merged into the next one.

let running = null;
let dirty = false;

function requestPredict() {
  dirty = true;
  running ??= predictLoop().finally(() => {
    running = null;
  });
}

async function predictLoop() {
  while (dirty) {
    dirty = false;
    const generation = state.generation;
    const prompt = { box: state.box, points: state.points.slice() };
    if (!prompt.box && prompt.points.length === 0) {
      clearMasks();
      setPanelsState(state.width ? 'ready' : 'empty');
      continue;
    }
    setPanelsState('busy');
    try {
      const answer = await predict(prompt);
      if (dirty || generation !== state.generation) continue;
      await showResults(answer);
      hideError();
    } catch (err) {
      if (dirty || generation !== state.generation) continue;
      setPanelsState('error');
      showError(err.message);
    }
  }
}

async function predict(prompt) {
  const body = (id) => JSON.stringify({ image: id, ...(prompt.box ? { box: prompt.box } : {}), points: prompt.points });
  const { id } = await state.upload;
  try {
    return await api('POST', '/api/predict', body(id), 'application/json');
  } catch (err) {
    if (err.code !== 'unknown_image') throw err;
    // The server dropped (or restarted without) the image: send it again, once.
    state.upload = uploadFile(state.file);
    const again = await state.upload;
    return api('POST', '/api/predict', body(again.id), 'application/json');
  }
}

async function showResults(answer) {
  const masks = await Promise.all(answer.results.map((r) => loadImage(r.mask)));
  answer.results.forEach((r, i) => {
    const p = panels.get(r.model);
    if (!p) return;
    paintMask(p.mask, masks[i], MASK_COLOURS[r.model] ?? OTHER_COLOUR);
    p.iou.textContent = `predicted IoU ${r.iou.toFixed(3)} · ${r.area.toLocaleString()} px`;
    p.root.dataset.state = 'done';
  });
  const times = answer.results.map((r) => `${r.model} ${Math.round(r.ms)} ms`).join(' · ');
  setStatus(`${answer.image.width} x ${answer.image.height} px · ${answer.image.encoded ? 'encoded now · ' : ''}${times}`);
}

function loadImage(url) {
  const img = new Image();
  img.src = url;
  return img.decode().then(() => img);
}

/** The 0/255 mask as a translucent fill with an opaque outline, in the model's colour. */
function paintMask(canvas, maskImage, colour) {
  const { width: w, height: h } = canvas;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.clearRect(0, 0, w, h);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(maskImage, 0, 0, w, h);
  const pixels = ctx.getImageData(0, 0, w, h);
  const d = pixels.data;
  const on = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) on[i] = d[4 * i] > 127 ? 1 : 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const j = 4 * i;
      if (!on[i]) {
        d[j + 3] = 0;
        continue;
      }
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || !on[i - 1] || !on[i + 1] || !on[i - w] || !on[i + w];
      d[j] = colour[0];
      d[j + 1] = colour[1];
      d[j + 2] = colour[2];
      d[j + 3] = edge ? 255 : MASK_ALPHA;
    }
  }
  ctx.putImageData(pixels, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Start

function describeInfo(info) {
  const lora = info.models.find((m) => m.lora);
  const parts = [info.variant, info.weights, info.device];
  if (lora && lora.spec) parts.push(`LoRA rank ${lora.spec.rank} on ${lora.spec.targets.join(', ') || 'the decoder'}`);
  if (lora && lora.decoder) parts.push('trained decoder');
  return parts.join(' · ');
}

function bindPage() {
  $('#file').addEventListener('change', (e) => {
    loadFile(e.target.files[0]);
    // Choosing the same file again must fire change again.
    e.target.value = '';
  });
  $('#clear').addEventListener('click', clearPrompt);
  let depth = 0;
  window.addEventListener('dragenter', (e) => {
    e.preventDefault();
    depth++;
    document.body.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) document.body.classList.remove('dragging');
  });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove('dragging');
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) loadFile(file);
  });
  window.addEventListener('resize', layoutStages);
}

async function start() {
  bindPage();
  try {
    state.info = await api('GET', '/api/info');
  } catch (err) {
    $('#model-info').textContent = '';
    return showError(`Cannot load the model description: ${err.message}`);
  }
  $('#model-info').textContent = describeInfo(state.info);
  if (!state.info.models.some((m) => m.lora)) {
    const note = $('#note');
    const flag = document.createElement('code');
    flag.textContent = '--lora';
    note.replaceChildren('No LoRA loaded (sam-lora serve was started without ', flag, '): only the base model is shown.');
    note.hidden = false;
  }
  createPanels(state.info);
  document.body.dataset.ready = 'true';
}

start();
