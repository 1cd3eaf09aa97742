// The page of `framestamp serve`: choose audio and a question, POST them to /api/ask, draw the
// answer (waveform, frame intensities, decoded times as markers), play from a marker, download files.
// Server text is only ever set as textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const CURVE_COLOURS = ["#1f6feb", "#2f9e44", "#e8590c", "#9c36b5", "#0c8599", "#c2255c", "#5c940d", "#364fc7",
                       "#a61e4d", "#495057"];
const TICK_STEPS_S = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
const WAVE_BAND = [46, 128];   // canvas y range (CSS px) of the waveform
const CURVE_BAND = [140, 270]; // ... of the intensities; the time axis lies below
const MAX_LABELLED_MARKERS = 12; // more markers than this are labelled on hover only

let setup = null;     // what /api/setup offered
let answered = null;  // the last answer, redrawn on resize
let objectUrl = null; // the uploaded file, played by the audio element

async function start() {
  const response = await fetch("/api/setup");
  setup = await response.json();
  for (const name of setup.examples) $("example").append(new Option(name, name));
  fillCheckpoints();
  $("kind").addEventListener("change", () => { showKindFields(); fillCheckpoints(); });
  $("example").addEventListener("change", pickedExample);
  $("file").addEventListener("change", pickedFile);
  $("ask-form").addEventListener("submit", (event) => { event.preventDefault(); ask(); });
  $("player").addEventListener("play", followPlayhead);
  window.addEventListener("resize", () => answered && draw(answered));
  showKindFields();
}

function showKindFields() {
  for (const label of document.querySelectorAll("label[data-kind]")) {
    label.hidden = label.dataset.kind !== $("kind").value;
  }
}

function fillCheckpoints() {
  const select = $("checkpoint");
  const chosen = select.value;
  select.replaceChildren();
  if (setup.default_checkpoints) {
    select.append(new Option(`default (${setup.default_checkpoints[$("kind").value]})`, ""));
  }
  for (const name of setup.checkpoints) select.append(new Option(name, name));
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

function pickedExample() {
  $("file").value = "";
  const name = $("example").value;
  setPlayer(name ? `/api/examples/${encodeURIComponent(name)}` : "");
}

function pickedFile() {
  $("example").value = "";
  const file = $("file").files[0];
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = file ? URL.createObjectURL(file) : null;
  setPlayer(objectUrl || "");
}

function setPlayer(source) {
  $("player").src = source;
  $("result").hidden = true; // an answer belongs to the audio it was asked about
  answered = null;
}

function ask() {
  const file = $("file").files[0];
  const example = $("example").value;
  if (!file && !example) return showError("choose an example or upload an audio file");
  if (file && file.size > setup.max_upload_bytes) {
    return showError(`${file.name} is larger than the server's limit of ${setup.max_upload_bytes / 1e6} MB`);
  }
  const form = new FormData();
  for (const field of ["kind", "word", "occurrence", "transcript", "classes", "checkpoint"]) {
    form.append(field, $(field).value);
  }
  if (file) form.append("file", file, file.name); else form.append("example", example);
  send(form);
}

function send(form) {
  const request = new XMLHttpRequest();
  const started = performance.now();
  const job = newJobName();
  form.append("job", job);
  let uploaded = null; // share of the upload sent, until it is all there
  let windows = null; // {done, total} windows encoded, polled from the server while it answers
  const timer = setInterval(() => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    $("busy-text").textContent = uploaded !== null && uploaded < 1
      ? `uploading ${Math.round(uploaded * 100)} %` : answeringText(windows, seconds);
  }, 100);
  const poller = setInterval(async () => {
    if (uploaded !== null && uploaded < 1) return;
    try {
      const response = await fetch(`/api/progress/${job}`);
      if (response.ok) windows = await response.json();
    } catch (error) { /* the answer's own request reports a lost server */ }
  }, 400);
  const finish = () => {
    clearInterval(timer); clearInterval(poller);
    $("busy").hidden = true; $("ask").disabled = false;
  };
  request.open("POST", "/api/ask");
  request.responseType = "json";
  request.upload.onprogress = (event) => { if (event.lengthComputable) uploaded = event.loaded / event.total; };
  request.onload = () => {
    finish();
    if (request.status === 200 && request.response) return showAnswer(request.response);
    showError((request.response && request.response.error) || `the server answered with status ${request.status}`);
  };
  request.onerror = () => {
    finish();
    showError("the request failed: the server cannot be reached, or it refused the upload");
  };
  $("error").hidden = true;
  $("ask").disabled = true;
  $("busy-text").textContent = "answering…";
  $("busy").hidden = false;
  request.send(form);
}

function newJobName() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// "answering… 3.2 s", or with a long file "encoding window 4 of 12 (33 %)… 3.2 s"
function answeringText(windows, seconds) {
  if (!windows || !windows.total || windows.total < 2) return `answering… ${seconds} s`;
  const share = Math.round((100 * windows.done) / windows.total);
  return `encoding window ${Math.min(windows.done + 1, windows.total)} of ${windows.total} (${share} %)… ${seconds} s`;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function showAnswer(payload) {
  answered = payload;
  $("result").hidden = false;
  $("summary").textContent = summary(payload);
  $("warnings").replaceChildren(...payload.warnings.map((text) => element("li", `warning: ${text}`)));
  draw(payload);
  placeMarkers(payload);
  fillTable(payload);
  offerDownloads(payload);
}

function summary(payload) {
  const answer = payload.answer;
  const how = `checkpoint ${payload.checkpoint}, ${payload.method}; answered in ${payload.seconds.toFixed(2)} s`;
  if ("question" in answer) {
    const times = answer.times_s.map((t) => t.toFixed(3)).join(", ") || "-";
    const verdict = answer.present ? "present" : "not present (best guess)";
    const compare = answer.present ? "≥" : "<";
    return `${answer.question} ${times} s: ${verdict}, P(present) = ${answer.presence_probability.toFixed(3)} ` +
      `${compare} ${answer.presence_threshold.toFixed(2)}, Lambda = ${answer.count_estimate.toFixed(3)}. (${how})`;
  }
  return `${answer.spans.length} ${answer.task}; count estimate ${answer.count_estimate.toFixed(2)} over ` +
    `${answer.duration_s.toFixed(2)} s. (${how})`;
}

function draw(payload) {
  const canvas = $("canvas");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.clearRect(0, 0, width, height);
  const duration = payload.waveform.duration_s;
  const x = (seconds) => (seconds / duration) * width;
  drawWaveform(context, payload.waveform, x);
  drawCurves(context, payload.curves, x, width);
  drawTimeAxis(context, duration, x);
}

function drawWaveform(context, wave, x) {
  const [top, bottom] = WAVE_BAND;
  const middle = (top + bottom) / 2, half = (bottom - top) / 2;
  const peak = Math.max(1e-6, ...wave.high.map(Math.abs), ...wave.low.map(Math.abs));
  context.fillStyle = "#7a8591";
  wave.high.forEach((high, i) => {
    const y1 = middle - (high / peak) * half, y2 = middle - (wave.low[i] / peak) * half;
    context.fillRect(x(i * wave.step_s), y1, Math.max(1, x(wave.step_s)), Math.max(1, y2 - y1));
  });
  label(context, "waveform", 6, top + 10);
}

function drawCurves(context, curves, x, width) {
  const [top, bottom] = CURVE_BAND;
  const highest = Math.max(1e-9, ...curves.flatMap((curve) => curve.values));
  curves.forEach((curve, k) => {
    context.strokeStyle = CURVE_COLOURS[k % CURVE_COLOURS.length];
    context.lineWidth = 1.2;
    context.beginPath();
    curve.values.forEach((value, i) => {
      const px = x((i + 0.5) * curve.step_s), py = bottom - (value / highest) * (bottom - top);
      i ? context.lineTo(px, py) : context.moveTo(px, py);
    });
    context.stroke();
    if (curves.length > 1) {
      context.fillStyle = context.strokeStyle;
      context.font = "10px system-ui, sans-serif";
      context.textAlign = "right";
      context.fillText(curve.name, width - 6, top + 10 + 11 * k);
    }
  });
  label(context, `frame intensity (top: ${highest.toPrecision(3)} per frame)`, 6, top + 10);
}

function drawTimeAxis(context, duration, x) {
  const step = TICK_STEPS_S.find((s) => duration / s <= 12) || 3600;
  context.fillStyle = "#4a5561";
  context.font = "11px system-ui, sans-serif";
  context.textAlign = "center";
  for (let t = 0; t <= duration + 1e-9; t += step) {
    context.fillRect(x(t), CURVE_BAND[1], 1, 5);
    context.fillText(`${+t.toFixed(1)} s`, Math.min(Math.max(x(t), 14), context.canvas.clientWidth - 14),
                     CURVE_BAND[1] + 17);
  }
}

function label(context, text, px, py) {
  context.fillStyle = "#4a5561";
  context.font = "11px system-ui, sans-serif";
  context.textAlign = "left";
  context.fillText(text, px, py);
}

function placeMarkers(payload) {
  const duration = payload.waveform.duration_s;
  $("markers").classList.toggle("dense", payload.markers.length > MAX_LABELLED_MARKERS);
  $("markers").replaceChildren(...payload.markers.map((marker) => {
    const button = element("button", "");
    button.type = "button";
    button.className = marker.present === false ? "marker absent" : "marker";
    button.style.left = `${(100 * marker.start_s) / duration}%`;
    button.dataset.startS = marker.start_s;
    button.dataset.label = marker.label;
    const probability = marker.presence_probability === null ? "" : ` · P ${marker.presence_probability.toFixed(2)}`;
    button.title = `play from ${marker.start_s.toFixed(3)} s`;
    button.append(element("span", `${marker.label} ${marker.start_s.toFixed(3)} s${probability}`));
    button.addEventListener("click", () => playFrom(marker.start_s));
    return button;
  }));
}

function fillTable(payload) {
  const rows = payload.markers.map((marker) => {
    const play = element("button", "▶ play");
    play.type = "button";
    play.addEventListener("click", () => playFrom(marker.start_s));
    const cells = [marker.label, marker.start_s.toFixed(3), marker.end_s === null ? "-" : marker.end_s.toFixed(3),
                   marker.presence_probability === null ? "-" : marker.presence_probability.toFixed(3)];
    const row = element("tr", "");
    row.append(...cells.map((text) => element("td", text)), element("td", "", play));
    return row;
  });
  $("marker-table").tBodies[0].replaceChildren(...rows);
}

function offerDownloads(payload) {
  const buttons = Object.entries(payload.files).map(([format, file]) => {
    const button = element("button", format === "table" ? "text" : format.toUpperCase());
    button.type = "button";
    button.dataset.format = format;
    button.addEventListener("click", () => download(file.filename, file.text));
    return button;
  });
  $("downloads").replaceChildren("Download: ", ...buttons);
}

function download(filename, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function playFrom(seconds) {
  const player = $("player");
  player.currentTime = seconds;
  player.play().catch(() => {}); // the browser may refuse to play (no output device); the position is set
  movePlayhead();
}

function followPlayhead() {
  movePlayhead();
  if (!$("player").paused) requestAnimationFrame(followPlayhead);
}

function movePlayhead() {
  const playhead = $("playhead");
  if (!answered) return;
  playhead.style.display = "block";
  playhead.style.left = `${(100 * $("player").currentTime) / answered.waveform.duration_s}%`;
}

function element(tag, text, ...children) {
  const node = document.createElement(tag);
  node.textContent = text;
  node.append(...children);
  return node;
}

start();
